"""``python -m flap.training <command>``: prepare-data, train, synthetic, experiment, evaluate (``--help`` on each).

Multi-GPU: ``accelerate launch --num_processes 2 -m flap.training train --config configs/train_stage1.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys

from flap.training.config import STAGES


def _prepare(args) -> int:
    from flap.training.prepare import PrepareConfig, prepare_dataset

    config = PrepareConfig(resolution=args.resolution, fps=args.fps, min_seconds=args.min_seconds, frames=args.frames,
                           audio_encoder=args.audio_encoder, max_seconds=args.max_seconds, test_share=args.test_share)
    summary = prepare_dataset(args.videos, args.out, config, progress=not args.quiet)
    print(summary.text())
    return 0 if summary.kept else 1


def _train(args) -> int:
    from flap.training.config import TrainConfig, apply_override
    from flap.training.loop import train

    overrides = list(args.set or [])
    for flag, key in ((args.stage, "stage"), (args.data, "data.root"), (args.output, "run.output_dir"),
                      (args.init_from, "model.init_from"), (args.max_steps, "run.max_steps"),
                      (args.max_seconds, "run.max_seconds")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    if args.config:
        config = TrainConfig.from_yaml(args.config, overrides)
    else:
        data: dict = {}
        for item in overrides:
            apply_override(data, item)
        config = TrainConfig.from_dict(data)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    result = train(config)
    print(json.dumps({"steps": result.steps, "final_loss": result.final_loss, "export_dir": str(result.export_dir),
                      "stopped_by": result.stopped_by}))
    return 0


def _synthetic(args) -> int:
    from flap.training import synthetic

    if args.action == "cache":
        info = synthetic.build_cache(args.out, size=args.size)
        print(json.dumps(info, indent=1))
    else:
        spec = synthetic.SyntheticSpec(resolution=args.resolution, clips_per_identity=args.clips_per_identity,
                                       frames_per_clip=args.frames_per_clip, heldout_per_identity=args.heldout_per_identity,
                                       seed=args.seed)
        names = [n for n in (args.identities or "").split(",") if n] or None
        manifest = synthetic.render_dataset(args.cache, args.out, spec, workers=args.workers, identities=names)
        print(f"{len(manifest.clips)} clips written to {args.out}")
    return 0


def _experiment(args) -> int:
    from flap.training.experiment import ExperimentSpec, run_experiment

    spec = ExperimentSpec.smoke() if args.smoke else ExperimentSpec()
    if args.budget_s is not None:
        spec.budget_s = args.budget_s
    if args.stage_shares:
        spec.stage_shares = tuple(float(v) for v in args.stage_shares.split(","))
    result = run_experiment(args.cache, args.out, spec, work_dir=args.work)
    print(json.dumps(result, indent=1, default=str))
    return 0


def _decoupling(args) -> int:
    from flap.training.decoupling import DecouplingSpec, run_decoupling

    spec = DecouplingSpec.smoke() if args.smoke else DecouplingSpec()
    if args.budget_s is not None:
        spec.budget_s = args.budget_s
    if args.resolution is not None:
        spec.resolution = args.resolution
    if args.steps is not None:
        spec.steps_per_model = args.steps
    spec.sample_untrained = not args.skip_untrained
    result = run_decoupling(args.cache, args.out, spec, work_dir=args.work)
    print(json.dumps(result, indent=1, default=str))
    return 0


def _evaluate_decoupling(args) -> int:
    from flap.training.decoupling import evaluate_decoupling

    print(evaluate_decoupling(args.results, docs=None if args.no_docs else args.docs))
    return 0


def _evaluate(args) -> int:
    from flap.training.evaluation import evaluate_results

    report = evaluate_results(args.results, docs=None if args.no_docs else args.docs)
    print(report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flap.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare-data", help="talking videos -> training set (crops, motion, audio, manifest)")
    p.add_argument("videos", help="folder of videos (searched recursively)")
    p.add_argument("out", help="training-set folder to write")
    p.add_argument("--resolution", type=int, default=512)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--min-seconds", type=float, default=2.0, help="shorter clips are skipped")
    p.add_argument("--max-seconds", type=float, default=None, help="longer clips are cut to this")
    p.add_argument("--frames", choices=("jpg", "npy"), default="jpg", help="frame storage")
    p.add_argument("--audio-encoder", default=None, help="also cache this wav2vec2's features (hub id or folder)")
    p.add_argument("--test-share", type=float, default=0.0, help="share of clips marked split=test (held out)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_prepare)

    p = sub.add_parser("train", help="run one training stage (1, 2, 3, audio; or 'all': everything at once, the ablation)")
    p.add_argument("--config", help="YAML config (configs/*.yaml)")
    p.add_argument("--stage", choices=STAGES)
    p.add_argument("--data", help="training-set folder (data.root)")
    p.add_argument("--output", help="run folder (run.output_dir)")
    p.add_argument("--init-from", help="start from this saved pipeline (model.init_from)")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-seconds", type=float)
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override any config field (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.set_defaults(func=_train)

    p = sub.add_parser("synthetic", help="synthetic talking-head set rendered by the embedded engine")
    p.add_argument("action", choices=("cache", "render"),
                   help="cache: analyse the portraits here (needs MediaPipe); render: frames from a cache (no MediaPipe)")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", default=".gpucache/issue6", help="render: the cache folder")
    p.add_argument("--size", type=int, default=256, help="cache: side of the rendered crop")
    p.add_argument("--resolution", type=int, default=64, help="render: side of the stored frames")
    p.add_argument("--clips-per-identity", type=int, default=12)
    p.add_argument("--frames-per-clip", type=int, default=100)
    p.add_argument("--heldout-per-identity", type=int, default=1)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--identities", default=None, help="render: comma-separated subset of the cached identities")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_synthetic)

    p = sub.add_parser("experiment", help="the controllability experiment: render, train 3 stages, sample held-out motions")
    p.add_argument("--cache", default=".gpucache/issue6")
    p.add_argument("--out", required=True, help="results folder (npz frames + results.json)")
    p.add_argument("--work", default=None, help="scratch folder for data and runs (default: <out>/../issue6_work)")
    p.add_argument("--budget-s", type=float, default=None, help="wall-clock budget of the whole experiment")
    p.add_argument("--stage-shares", default=None, help="shares of the training time for stages 1,2,3, e.g. 0.3,0.55,0.15")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: the same code path on a CPU")
    p.set_defaults(func=_experiment)

    p = sub.add_parser("decoupling", help="the decoupling ablation: progressive vs all-at-once training, cross-talk probes")
    p.add_argument("--cache", default=".gpucache/issue6")
    p.add_argument("--out", required=True, help="results folder (JPEG frames in .npz + results.json)")
    p.add_argument("--work", default=None, help="scratch folder for data and runs")
    p.add_argument("--budget-s", type=float, default=None, help="wall-clock budget of the whole experiment")
    p.add_argument("--resolution", type=int, default=None, help="frame side in pixels (default 96)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps per model (default 400; 0 = split the time)")
    p.add_argument("--skip-untrained", action="store_true", help="do not sample the untrained model (reuse a file)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: the same code path on a CPU")
    p.set_defaults(func=_decoupling)

    p = sub.add_parser("evaluate-decoupling", help="track the decoupling experiment's frames (needs MediaPipe)")
    p.add_argument("--results", required=True)
    p.add_argument("--docs", default="docs/training.md", help="write the tables into this file's decoupling section")
    p.add_argument("--no-docs", action="store_true")
    p.set_defaults(func=_evaluate_decoupling)

    p = sub.add_parser("evaluate", help="measure head pose and mouth opening on an experiment's frames (needs MediaPipe)")
    p.add_argument("--results", required=True)
    p.add_argument("--docs", default="docs/training.md", help="write the table into this file's results section")
    p.add_argument("--no-docs", action="store_true")
    p.set_defaults(func=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
