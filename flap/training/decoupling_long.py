"""The decoupling ablation (issue 14) as a run longer than one device command.

``flap.training.decoupling.run_decoupling`` does everything in one process within one command (under ten
minutes: a few hundred steps per model, too few for faces the tracker finds).  Here the same experiment is split
into steps that a device script starts in the background and checks on across several commands of one warm
machine:

    prepare   render the set, write heldout.npz / ground_truth.npz (to OUT) and the untrained weights (to WORK)
    train     one model (progressive: stages 1, 2, 3 by time shares; all_at_once: stage "all") until a wall-clock
              deadline, the whole set resident on the GPU (flap.training.resident); the EMA weights are exported
              to WORK/<model>/latest every few minutes and to WORK/<model>/final at the end
    sample    one export -> OUT/<name>.npz (frames as JPEG, as run_decoupling writes them)
    results   OUT/results.json from the runs, in the layout ``evaluate_decoupling`` reads

Both models get the same deadline and run at the same time in two processes on the one GPU.

    python -m flap.training.decoupling_long prepare --cache .gpucache/issue6 --work W --out OUT [--smoke]
    python -m flap.training.decoupling_long train --work W --model progressive --until EPOCH_SECONDS
    python -m flap.training.decoupling_long sample --work W --export W/progressive/final --out OUT/progressive.npz
    python -m flap.training.decoupling_long results --work W --out OUT
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from flap.training.decoupling import DecouplingSpec, save_frames
from flap.training.experiment import _device_name, render_set, save_untrained, stage_config

MODELS = ("progressive", "all_at_once")


def _spec(work: Path) -> DecouplingSpec:
    data = json.loads((work / "spec.json").read_text())
    data["stage_shares"] = tuple(data["stage_shares"])
    data["new_identities"] = tuple(data["new_identities"])
    return DecouplingSpec(**data)


def prepare(cache: str | Path, work: str | Path, out: str | Path, spec: DecouplingSpec) -> dict:
    t0 = time.perf_counter()
    work, out = Path(work), Path(out)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_set(cache, work / "data", out, spec, spec.new_identities, spec.clips_per_new_identity,
                          crosstalk_probes=True)
    save_frames(out / "ground_truth.npz", rendered.heldout.frames, spec.jpeg_quality)
    save_untrained(spec, work / "untrained")
    (work / "spec.json").write_text(json.dumps(asdict(spec)))
    info = {"synthetic": asdict(rendered.synth), "dataset": rendered.dataset_info(),
            "prepare_seconds": round(time.perf_counter() - t0, 1)}
    (work / "prepare.json").write_text(json.dumps(info, default=str))
    return info


def train_model(work: str | Path, model: str, until: float, export_every_s: float = 240.0) -> dict:
    """One model to the deadline ``until`` (time.time() seconds).  Progressive: the time left split over stages
    1, 2, 3 by ``stage_shares``, each stage from the previous one's EMA weights; all at once: one stage."""
    import torch

    from flap.engines.diffusion.pipeline import FLAPPipeline
    from flap.training.manifest import Manifest
    from flap.training.resident import ResidentClips, export_ema, train_stage

    work = Path(work)
    spec = _spec(work)
    folder = work / model
    folder.mkdir(parents=True, exist_ok=True)
    log_file = (folder / "train.log").open("a")

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    start = time.time()
    data_root = work / "data"
    clips = Manifest.load(data_root).select("train")
    data = ResidentClips(data_root, clips, device, seed=spec.seed + (1 if model == "progressive" else 2))
    pipe = FLAPPipeline.from_pretrained(work / "untrained").to(device)
    log(f"[{model}] {len(clips)} clips, {len(data.frames)} frames resident on {device} in {time.time() - start:.1f} s; "
        f"deadline in {until - time.time():.0f} s")
    stages = (1, 2, 3) if model == "progressive" else ("all",)
    shares = list(spec.stage_shares) if model == "progressive" else [1.0]
    runs = []
    max_steps = spec.steps_per_model if spec.smoke_mode else None
    for k, stage in enumerate(stages):
        left = until - time.time()
        deadline = time.time() + max(1.0, left * shares[k] / sum(shares[k:])) if k < len(stages) - 1 else until
        config = stage_config(spec, stage, data_root, folder, work / "untrained", left)
        info = {"model": model, "stages_done": [r.stage for r in runs]}
        run = train_stage(pipe, config, data, deadline, export_to=folder / "latest", export_every_s=export_every_s,
                          export_info=info, max_steps=max_steps, log=log)
        runs.append(run)
        log(f"[{model}] stage {stage}: {run.steps} steps in {run.train_seconds} s, loss {run.final_loss:.4f}")
    final = export_ema(pipe, folder / "final", {"model": model, "stage": str(stages[-1]),
                                                 "runs": [asdict(r) for r in runs]})
    summary = {"model": model, "seconds": round(time.time() - start, 1), "export": str(final),
               "runs": [{k2: v for k2, v in asdict(r).items()} for r in runs]}
    (folder / "run.json").write_text(json.dumps(summary, default=str))
    log(f"[{model}] done in {summary['seconds']} s")
    return summary


def sample_export(work: str | Path, export: str | Path, out_file: str | Path) -> float:
    """Sample every held-out clip with one export, as it trained: a stage-1/2 export (a progressive run caught
    before stage 3) with the temporal layers bypassed, stage 1 with the head condition only."""
    import torch

    from flap.engines.diffusion.pipeline import FLAPPipeline
    from flap.training.heldout import generate_clips

    t0 = time.perf_counter()
    spec = _spec(Path(work))
    export = Path(export)
    info_path = export / "training_info.json"
    stage = json.loads(info_path.read_text()).get("stage") if info_path.is_file() else None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    held = np.load(Path(out_file).parent / "heldout.npz")
    pipe = FLAPPipeline.from_pretrained(export).to(device)
    frames = generate_clips(pipe, held["references"], held["conditions"], steps=spec.sample_steps,
                            guidance=spec.guidance, temporal=stage not in ("1", "2"), drop_expression=stage == "1",
                            seed=spec.seed)
    save_frames(Path(out_file), frames, spec.jpeg_quality)
    return time.perf_counter() - t0


def write_results(work: str | Path, out: str | Path, extra: dict | None = None) -> dict:
    """results.json in the layout of run_decoupling's (``decoupling.run_summary`` and ``evaluate_decoupling``)."""
    import torch

    work, out = Path(work), Path(out)
    spec = _spec(work)
    prep = json.loads((work / "prepare.json").read_text())
    runs, seconds = {}, {}
    for model in MODELS:
        path = work / model / "run.json"
        if path.is_file():
            run = json.loads(path.read_text())
            runs[model] = [{k: r[k] for k in ("stage", "steps", "samples", "train_seconds", "final_loss", "stopped_by",
                                              "description")} | {"loss_curve": r["history"]} for r in run["runs"]]
            seconds[model] = run["seconds"]
    results = {"experiment": "issue14 decoupling (long, resident)", "device": _device_name(), "torch": torch.__version__,
               "python": sys.version.split()[0], "spec": asdict(spec), "synthetic": prep["synthetic"],
               "dataset": prep["dataset"], "sampling": {"steps": spec.sample_steps, "guidance": spec.guidance,
                                                         "temporal": True},
               "training_seconds_per_model": seconds, "parallel": True, "runs": runs, **(extra or {})}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flap.training.decoupling_long", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--cache", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--resolution", type=int, default=96)
    p.add_argument("--smoke", action="store_true", help="tiny model, 32 px, two identities (CPU check)")
    p.add_argument("--mouth-weight", type=float, default=0.0, help="extra loss weight of the mouth box (both models)")
    p.add_argument("--lr", type=float, default=None, help="image-stage learning rate (both models; default the spec's)")
    t = sub.add_parser("train")
    t.add_argument("--work", required=True)
    t.add_argument("--model", choices=MODELS, required=True)
    t.add_argument("--until", type=float, required=True, help="deadline, in time.time() seconds")
    t.add_argument("--export-every", type=float, default=240.0)
    s = sub.add_parser("sample")
    s.add_argument("--work", required=True)
    s.add_argument("--export", required=True)
    s.add_argument("--out", required=True, help="the .npz to write (heldout.npz must be beside it)")
    r = sub.add_parser("results")
    r.add_argument("--work", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--extra", default=None, help="a JSON object merged into results.json")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        spec = DecouplingSpec.smoke() if args.smoke else DecouplingSpec(resolution=args.resolution)
        spec = replace(spec, mouth_weight=args.mouth_weight, lr_image=args.lr or spec.lr_image)
        print(json.dumps(prepare(args.cache, args.work, args.out, spec), default=str))
    elif args.command == "train":
        train_model(args.work, args.model, args.until, args.export_every)
    elif args.command == "sample":
        print(f"[sample] {args.out}: {sample_export(args.work, args.export, args.out):.1f} s", flush=True)
    else:
        write_results(args.work, args.out, json.loads(args.extra) if args.extra else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
