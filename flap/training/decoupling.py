"""The decoupling experiment (issue 14): are head pose and expression independently controllable, and is it the
progressive training that makes them so?  FLAP's ablation, at small scale, on the synthetic talking-head set.

On one GPU, in one wall-clock budget: render the set at ``resolution`` px (training identities, plus identities
kept out of training entirely, and for every held-out clip two cross-talk probes: its pose frozen while the
expression channels move, and its expression channels frozen while the pose moves; ``synthetic.probe_motion``),
then train the same small model twice with the same time: through FLAP's three stages, and all at once (stage
"all": every layer on video clips with the full condition), and sample every held-out clip with the untrained
model and both trained ones.  Frames are written as JPEG (quality 95) in .npz files to stay within the device's
transfer limits; ``evaluate_decoupling`` tracks them on the machine with MediaPipe and writes the table.

Files in ``out``: heldout.npz, ground_truth.npz, untrained.npz, progressive.npz, all_at_once.npz, results.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from flap.training.experiment import ExperimentSpec, _device_name, render_set, save_untrained, stage_config

MODELS = ("ground_truth", "untrained", "progressive", "all_at_once")
LABELS = {"ground_truth": "ground-truth renders (embedded engine)", "untrained": "FLAP small, untrained",
          "progressive": "progressive (stages 1, 2, 3)", "all_at_once": "all at once (one stage)"}
DOC_START = "<!-- issue14-decoupling:start -->"
DOC_END = "<!-- issue14-decoupling:end -->"


@dataclass
class DecouplingSpec(ExperimentSpec):
    resolution: int = 96
    budget_s: float = 540.0
    stage_shares: tuple[float, float, float] = (0.3, 0.55, 0.15)
    heldout_per_identity: int = 1
    new_identities: tuple[str, ...] = ("astronaut_green_bg", "hopper_cool_light")  # one variant of each person
    clips_per_new_identity: int = 2
    jpeg_quality: int = 95
    # the budget both models get: optimisation steps of 64 frames each (image batches of 64 frames, or 4 clips of
    # 16), split over the stages by stage_shares; None splits the wall-clock time instead (each of the three
    # stages then pays its own start-up, which at a few minutes starves stages 1 and 3)
    steps_per_model: int | None = 400
    sample_untrained: bool = True  # False: reuse an untrained.npz of the same held-out set (same spec and seed)
    # on a GPU, train the two models at the same time in two processes (the small model leaves the H200 mostly
    # idle and the data loading is CPU-bound, so each gets nearly the whole budget instead of half)
    parallel: bool = True

    @classmethod
    def smoke(cls) -> "DecouplingSpec":
        base = asdict(ExperimentSpec.smoke())
        base.update(resolution=32, new_identities=("hopper_mirror",), clips_per_new_identity=1,
                    identities=["astronaut_orig", "hopper_mirror"], steps_per_model=4)
        return cls(**base)


# ---------------------------------------------------------------------- frames as JPEG
def save_frames(path: Path, frames: np.ndarray, quality: int = 95) -> None:
    """(N, F, R, R, 3) uint8 RGB -> one .npz of JPEG bytes (noise-like untrained frames do not compress otherwise)."""
    flat = frames.reshape(-1, *frames.shape[-3:])
    blobs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])[1].ravel()
             for f in flat]
    np.savez(path, jpeg=np.concatenate(blobs), sizes=np.array([len(b) for b in blobs]), shape=np.array(frames.shape))


def load_frames(path: Path) -> np.ndarray:
    data = np.load(path)
    if "frames" in data:
        return data["frames"]
    ends = np.cumsum(data["sizes"])
    starts = ends - data["sizes"]
    jpeg = data["jpeg"]
    frames = [cv2.cvtColor(cv2.imdecode(jpeg[a:b], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for a, b in zip(starts, ends)]
    return np.stack(frames).reshape(tuple(data["shape"]))


# ---------------------------------------------------------------------- the GPU part
def run_decoupling(cache: str | Path, out: str | Path, spec: DecouplingSpec = DecouplingSpec(),
                   work_dir: str | Path | None = None) -> dict:
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "flap_decoupling_work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    timings: dict[str, float] = {}

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 2)
        print(f"[decoupling] {name}: {timings[name]:.1f} s (total {now - start:.1f} s)", flush=True)
        return now

    t = time.perf_counter()
    data = work / "data"
    rendered = render_set(cache, data, out, spec, spec.new_identities, spec.clips_per_new_identity, crosstalk_probes=True)
    heldout = rendered.heldout
    save_frames(out / "ground_truth.npz", heldout.frames, spec.jpeg_quality)
    t = mark("render_data", t)

    import torch

    from flap.engines.diffusion.pipeline import FLAPPipeline
    from flap.training.heldout import generate_clips

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    def sample(pipe, name: str) -> float:
        ts = time.perf_counter()
        frames = generate_clips(pipe.to(device), heldout.references, heldout.conditions, steps=spec.sample_steps,
                                guidance=spec.guidance, temporal=True, seed=spec.seed)
        save_frames(out / f"{name}.npz", frames, spec.jpeg_quality)
        return time.perf_counter() - ts

    untrained = work / "untrained"
    pipe = save_untrained(spec, untrained)  # both trainings start from exactly these weights
    sample_s = sample(pipe, "untrained") if spec.sample_untrained else 80.0  # (80 s: 96 px on an H200, measured)
    del pipe
    t = mark("untrained_sampling", t)
    # the same training time for both models: what is left, minus two samplings and the reserve, halved when they
    # train one after the other (with a step budget this is only a cap that stops a run overrunning the command)
    left = spec.budget_s - (time.perf_counter() - start) - spec.reserve_s - 2 * sample_s
    parallel = spec.parallel and (device == "cuda" or spec.smoke_mode)  # (the CPU smoke takes the GPU's path)
    per_model = max(15.0, left if parallel else left / 2)
    runs: dict[str, list[dict]] = {}
    model_start = time.perf_counter()
    if parallel:  # both at once on the one GPU, each in a process of its own (same steps, same time cap)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            jobs = {name: pool.submit(fn, spec, data, work, untrained, per_model)
                    for name, fn in (("progressive", train_progressive), ("all_at_once", train_all_at_once))}
            finals = {name: None for name in jobs}
            for name, job in jobs.items():
                runs[name], finals[name] = job.result()
        timings["parallel_train_wall"] = round(time.perf_counter() - model_start, 1)
        t = mark("parallel_train", t)
        for name in ("progressive", "all_at_once"):
            sample(FLAPPipeline.from_pretrained(finals[name]), name)
            t = mark(f"{name}_sampling", t)
    else:
        runs["progressive"], final = train_progressive(spec, data, work, untrained, per_model)
        timings["progressive_train_wall"] = round(time.perf_counter() - model_start, 1)
        t = mark("progressive_train", t)
        sample(FLAPPipeline.from_pretrained(final), "progressive")
        t = mark("progressive_sampling", t)
        model_start = time.perf_counter()
        seconds = max(5.0, spec.budget_s - (time.perf_counter() - start) - spec.reserve_s - sample_s)
        runs["all_at_once"], final = train_all_at_once(spec, data, work, untrained, seconds)
        timings["all_at_once_train_wall"] = round(time.perf_counter() - model_start, 1)
        t = mark("all_at_once_train", t)
        sample(FLAPPipeline.from_pretrained(final), "all_at_once")
        t = mark("all_at_once_sampling", t)

    results = {
        "experiment": "issue14 decoupling", "device": _device_name(), "torch": torch.__version__,
        "python": sys.version.split()[0], "spec": asdict(spec), "synthetic": asdict(rendered.synth),
        "dataset": rendered.dataset_info(),
        "sampling": {"steps": spec.sample_steps, "guidance": spec.guidance, "temporal": True},
        "training_seconds_per_model": round(per_model, 1), "parallel": parallel, "runs": runs, "timings_s": timings,
        "total_seconds": round(time.perf_counter() - start, 1), "command": " ".join(sys.argv),
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return {k: results[k] for k in ("device", "total_seconds", "timings_s")}


def _record(result, config, seconds) -> dict:
    return {"stage": config.stage, "budget_s": round(seconds, 1), "steps": result.steps, "samples": result.samples,
            "train_seconds": round(result.seconds, 1), "final_loss": result.final_loss,
            "stopped_by": result.stopped_by, "description": result.description}


def _train_setup() -> None:
    import torch

    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def train_progressive(spec: DecouplingSpec, data: Path, work: Path, untrained: Path, seconds: float):
    """Stages 1, 2, 3, each from the previous export; the step budget split by stage_shares.  -> (runs, export)"""
    from flap.training.loop import train

    _train_setup()
    model_start, previous, runs = time.perf_counter(), untrained, []
    shares, steps = list(spec.stage_shares), spec.steps_per_model
    for k, stage in enumerate((1, 2, 3)):
        remaining = seconds - (time.perf_counter() - model_start)
        # each stage its share of the time left, with or without a step budget (a stage that ends early by its
        # steps leaves its time to the next; the former +0.1 slack gave stage 2 93 % of what was left and stage 3,
        # in a time-bound run, too little to start: 0 steps on 2026-12-03)
        budget = max(5.0, remaining * shares[k] / sum(shares[k:]) * (0.9 if k == 2 else 1.0))
        stage_spec = spec
        if steps:
            stage_spec = replace(spec, max_steps_per_stage=max(1, round(steps * shares[k] / sum(shares))))
        config = stage_config(stage_spec, stage, data, work / "progressive", previous, budget)
        result = train(config)
        runs.append(_record(result, config, budget))
        previous = result.export_dir
    return runs, previous


def train_all_at_once(spec: DecouplingSpec, data: Path, work: Path, untrained: Path, seconds: float):
    """One stage, every layer, video clips, full condition.  -> (runs, export)"""
    from flap.training.loop import train

    _train_setup()
    steps = spec.steps_per_model
    config = stage_config(replace(spec, max_steps_per_stage=steps) if steps else spec, "all", data,
                          work / "all_at_once", untrained, seconds)
    result = train(config)
    return [_record(result, config, seconds)], result.export_dir


# ---------------------------------------------------------------------- the measuring part (MediaPipe)
@dataclass
class CrossTalk:
    pose_drift_deg: float | None  # fixed pose, expression moving: mean |euler - clip median| over yaw/pitch/roll
    mouth_change: float | None  # fixed expression, pose moving: mean over clips of the std of mouth opening
    eyes_change: float | None  # ... of eye openness


def _per_clip(values: np.ndarray, ok: np.ndarray, clips: int, fn) -> float | None:
    """Mean over clips of fn(values of the clip's usable frames); clips with fewer than 4 usable frames skipped."""
    per = []
    values, ok = values.reshape(clips, -1, *values.shape[1:]), ok.reshape(clips, -1)
    for v, k in zip(values, ok):
        if k.sum() >= 4:
            per.append(fn(v[k]))
    return float(np.mean(per)) if per else None


def crosstalk(m_pose, ok_pose, m_expr, ok_expr, clips_pose: int, clips_expr: int) -> CrossTalk:
    drift = _per_clip(m_pose.euler, ok_pose, clips_pose, lambda e: np.abs(e - np.median(e, axis=0)).mean())
    mouth = _per_clip(m_expr.mouth, ok_expr, clips_expr, np.std)
    eyes = _per_clip(m_expr.eyes, ok_expr, clips_expr, np.std)
    return CrossTalk(drift, mouth, eyes)


def evaluate_decoupling(folder: str | Path, docs: str | Path | None = None) -> str:
    """Track every model's frames; control (held-out motions) and cross-talk (probes), on training identities and
    on new ones; the Markdown table, written into ``docs`` between the markers when given."""
    from flap.training.evaluation import Measures, box_iou, measure, requested, score

    folder = Path(folder)
    held = np.load(folder / "heldout.npz")
    probes, new_identity = held["probes"], held["new_identity"]
    frames_per_clip = held["conditions"].shape[1]
    measures: dict[str, Measures] = {}
    pixel_error: dict[str, np.ndarray] = {}  # per clip: mean |frame - ground truth| in grey levels
    truth = load_frames(folder / "ground_truth.npz").astype(np.float32)
    for name in MODELS:
        path = folder / f"{name}.npz"
        if path.is_file():
            frames = load_frames(path)
            measures[name] = measure(frames)
            pixel_error[name] = np.abs(frames.astype(np.float32) - truth).mean(axis=(1, 2, 3, 4))
    gt = measures["ground_truth"]

    def subset(m: Measures, clips: np.ndarray) -> Measures:
        rows = np.repeat(clips, frames_per_clip)
        return Measures(m.found[rows], m.euler[rows], m.mouth[rows], m.eyes[rows], m.boxes[rows])

    def usable(name: str, m: Measures, g: Measures) -> np.ndarray:
        ok = m.found.copy()
        if name != "ground_truth":
            ok &= g.found & (box_iou(np.nan_to_num(m.boxes), np.nan_to_num(g.boxes)) >= 0.5)
        return ok

    sections = []
    rows_json = []
    for group, label in ((False, "held-out motions, training identities"), (True, "new identities (never trained on)")):
        motion = (probes == "motion") & (new_identity == group)
        fixed_pose = (probes == "fixed_pose") & (new_identity == group)
        fixed_expr = (probes == "fixed_expression") & (new_identity == group)
        if not motion.any():
            continue
        req = requested(held["conditions"][motion])
        lines = [f"**{label}** ({int(motion.sum())} clips x {frames_per_clip} frames, each also as both probes)", "",
                 "| model | error vs GT (grey levels) | face found | yaw err (deg) | pitch err | yaw r | pitch r | mouth r | "
                 "blink r | pose drift, expression only (deg) | mouth change, pose only | eye change, pose only |",
                 "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, m in measures.items():
            c = score(name, subset(m, motion), req, subset(gt, motion))
            mp, gp = subset(m, fixed_pose), subset(gt, fixed_pose)
            me, ge = subset(m, fixed_expr), subset(gt, fixed_expr)
            x = crosstalk(mp, usable(name, mp, gp), me, usable(name, me, ge), int(fixed_pose.sum()), int(fixed_expr.sum()))
            f = lambda v, d=2: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
            err = float(pixel_error[name][motion].mean())
            lines.append(f"| {LABELS[name]} | {err:.1f} | {100 * c.face_found:.0f}% | {f(c.yaw_err, 1)} | {f(c.pitch_err, 1)} | "
                         f"{f(c.yaw_r)} | {f(c.pitch_r)} | {f(c.mouth_r)} | {f(c.blink_r)} | {f(x.pose_drift_deg)} | "
                         f"{f(x.mouth_change, 3)} | {f(x.eyes_change, 3)} |")
            rows_json.append({"group": "new_identities" if group else "training_identities", "error_vs_gt": err,
                              **asdict(c), **asdict(x)})
        sections.append("\n".join(lines))
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    report = "\n\n".join([run_summary(results), *sections,
                          "```json\n" + json.dumps({"decoupling": rows_json}) + "\n```"])
    if docs:
        from flap.training.evaluation import write_into_docs

        write_into_docs(Path(docs), report, DOC_START, DOC_END, "## Decoupling: progressive against all at once (issue 14)")
    return report


def run_summary(results: dict) -> str:
    if not results:
        return "(results.json missing)"
    spec, data = results.get("spec", {}), results.get("dataset", {})
    lines = [f"- device: **{results.get('device')}**, torch {results.get('torch')}; whole run {results.get('total_seconds')} s "
             f"(budget {spec.get('budget_s')} s); training time per model {results.get('training_seconds_per_model')} s",
             f"- data: {len(data.get('identities', []))} training identities, {data.get('train_clips')} training clips "
             f"({data.get('train_frames')} frames at {spec.get('resolution')} px); new identities "
             f"{', '.join(data.get('new_identities', []))}; {data.get('heldout_clips')} held-out clips (probes included) "
             f"x {spec.get('eval_frames')} frames; rendered in {data.get('render_seconds')} s",
             f"- model: preset `{spec.get('preset')}`, pixel space; sampling {results.get('sampling', {}).get('steps')} "
             f"DDIM steps, guidance {results.get('sampling', {}).get('guidance')}"]
    for model, stages in results.get("runs", {}).items():
        for s in stages:
            d = s.get("description", {})
            lines.append(f"- {model}, stage {s['stage']}: {s['steps']} steps x {d.get('global_batch')} samples in "
                         f"{s['train_seconds']} s ({d.get('trainable_parameters', 0) / 1e6:.1f} M parameters trained: "
                         f"{', '.join(d.get('trained_groups', []))}), final loss {s['final_loss']:.4f}")
    return "\n".join(lines)
