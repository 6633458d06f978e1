"""Controllability, measured: the face tracker reads head pose, mouth opening and eye openness on generated
frames and compares them with what the condition asked for and with the ground-truth renders of the same motions.

Input: an experiment's results folder (flap.training.experiment): heldout.npz (the requested conditions) and one
.npz of frames per model (untrained, stage1, stage2, stage3) plus ground_truth.npz.  Frames are upscaled to
``TRACK_SIDE`` before tracking (MediaPipe's mesh still finds the renders' faces at 64 px: 100% found, yaw r 0.995,
jaw r 0.91, measured on 50 frames of the astronaut portrait downsampled to 64 px and upscaled to 256).
A generated face counts as found only where the tracker's landmarks overlap the ground-truth face of the same
frame (the mesh model alone also "finds" faces in noise).  Needs MediaPipe, so it runs on the CPU machine.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

TRACK_SIDE = 256
VARIANTS = ("ground_truth", "untrained", "stage1", "stage2", "stage3")
LABELS = {"ground_truth": "ground-truth renders (embedded engine)", "untrained": "FLAP small, untrained",
          "stage1": "after stage 1 (head motion)", "stage2": "after stage 2 (expression)",
          "stage3": "after stage 3 (video) = final"}
MIN_FOUND_SHARE = 0.05
MIN_BOX_IOU = 0.5
DOC_START = "<!-- issue6-results:start -->"
DOC_END = "<!-- issue6-results:end -->"


@dataclass
class Measures:
    found: np.ndarray  # (M,) bool
    euler: np.ndarray  # (M, 3) yaw, pitch, roll degrees
    mouth: np.ndarray  # (M,)
    eyes: np.ndarray  # (M,) mean eye openness
    boxes: np.ndarray  # (M, 4) landmark bounding boxes x0, y0, x1, y1 (tracking pixels)


@dataclass
class Controllability:
    variant: str
    frames: int
    face_found: float
    yaw_err: float | None = None  # mean absolute error vs the requested pose, degrees
    pitch_err: float | None = None
    roll_err: float | None = None
    yaw_r: float | None = None  # Pearson r, measured vs requested, over frames
    pitch_r: float | None = None
    pose_vs_gt: float | None = None  # mean |measured - measured on the ground truth| over yaw/pitch/roll, degrees
    mouth_r: float | None = None  # measured mouth opening vs requested jaw opening
    mouth_vs_gt: float | None = None  # mean |mouth opening - ground truth's|
    blink_r: float | None = None  # measured eye openness vs requested eyelid closure (negated: + = follows)


def measure(frames: np.ndarray) -> Measures:
    """Track every frame independently (static mode: no tracking state carried between clips)."""
    from flap.face.tracker import track_frames

    flat = frames.reshape(-1, *frames.shape[-3:])
    big = (cv2.resize(f, (TRACK_SIDE, TRACK_SIDE), interpolation=cv2.INTER_CUBIC) if f.shape[0] != TRACK_SIDE else f
           for f in flat)
    track = track_frames(big, video_mode=False)
    xy = track.landmarks[..., :2]
    boxes = np.concatenate([np.nanmin(xy, axis=1), np.nanmax(xy, axis=1)], axis=1) if len(xy) else np.zeros((0, 4))
    with np.errstate(invalid="ignore"):
        eyes = np.nanmean(track.eye_openness, axis=1)
    return Measures(track.found, track.euler, track.mouth_opening, eyes, boxes)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise IoU of (M, 4) boxes (NaN rows give 0)."""
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return np.nan_to_num(inter / np.maximum(area(a) + area(b) - inter, 1e-6))


def requested(conditions: np.ndarray) -> dict[str, np.ndarray]:
    from flap.motion.rotations import axis_angle_to_euler

    flat = conditions.reshape(-1, conditions.shape[-1])
    return {"euler": axis_angle_to_euler(flat[:, 0:3].astype(np.float64)), "jaw": flat[:, 15], "lids": flat[:, 18:20].mean(1)}


def _r(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 5 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def score(variant: str, m: Measures, req: dict, gt: Measures | None) -> Controllability:
    """A face counts as found only where the person is: the tracker's landmarks must overlap the ground truth's
    face on the same frame (IoU >= MIN_BOX_IOU).  The mesh model alone also "finds" faces in noise."""
    ok = m.found.copy()
    if gt is not None and variant != "ground_truth":
        ok &= gt.found & (box_iou(np.nan_to_num(m.boxes), np.nan_to_num(gt.boxes)) >= MIN_BOX_IOU)
    out = Controllability(variant, len(ok), float(ok.mean()))
    if ok.mean() < MIN_FOUND_SHARE:
        return out
    err = np.abs(m.euler[ok] - req["euler"][ok])
    out.yaw_err, out.pitch_err, out.roll_err = (float(v) for v in err.mean(axis=0))
    out.yaw_r = _r(m.euler[ok, 0], req["euler"][ok, 0])
    out.pitch_r = _r(m.euler[ok, 1], req["euler"][ok, 1])
    out.mouth_r = _r(m.mouth[ok], req["jaw"][ok])
    out.blink_r = _r(-m.eyes[ok], req["lids"][ok])
    if gt is not None and variant != "ground_truth":
        out.pose_vs_gt = float(np.abs(m.euler[ok] - gt.euler[ok]).mean())
        out.mouth_vs_gt = float(np.abs(m.mouth[ok] - gt.mouth[ok]).mean())
    return out


def _fmt(value, digits: int = 2, percent: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.0f}%" if percent else f"{value:.{digits}f}"


def table(rows: list[Controllability]) -> str:
    head = ("| model | face found | yaw err (deg) | pitch err | roll err | yaw r | pitch r | pose vs GT (deg) | "
            "mouth r | mouth vs GT | blink r |\n|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for c in rows:
        lines.append(f"| {LABELS.get(c.variant, c.variant)} | {_fmt(c.face_found, percent=True)} | {_fmt(c.yaw_err, 1)} | "
                     f"{_fmt(c.pitch_err, 1)} | {_fmt(c.roll_err, 1)} | {_fmt(c.yaw_r)} | {_fmt(c.pitch_r)} | "
                     f"{_fmt(c.pose_vs_gt, 1)} | {_fmt(c.mouth_r)} | {_fmt(c.mouth_vs_gt, 3)} | {_fmt(c.blink_r)} |")
    return "\n".join(lines)


def run_summary(results: dict) -> str:
    """The experiment's facts (device, data, steps, time) as a few lines of Markdown."""
    if not results:
        return "(results.json missing)"
    spec = results.get("spec", {})
    data = results.get("dataset", {})
    lines = [f"- device: **{results.get('device')}**, torch {results.get('torch')}; whole run {results.get('total_seconds')} s "
             f"(budget {spec.get('budget_s')} s)",
             f"- data: {len(data.get('identities', []))} identities, {data.get('train_clips')} training clips "
             f"({data.get('train_frames')} frames at {spec.get('resolution')} px), {data.get('heldout_clips')} held-out clips "
             f"x {spec.get('eval_frames')} frames; rendered in {data.get('render_seconds')} s",
             f"- model: preset `{spec.get('preset')}`, pixel space {spec.get('resolution')} px; sampling "
             f"{results.get('sampling', {}).get('steps')} DDIM steps, guidance {results.get('sampling', {}).get('guidance')}"]
    for s in results.get("stages", []):
        d = s.get("description", {})
        lines.append(f"- stage {s['stage']}: {s['steps']} steps x {d.get('global_batch')} samples in {s['train_seconds']} s "
                     f"({d.get('trainable_parameters', 0) / 1e6:.1f} M of {d.get('total_parameters', 0) / 1e6:.1f} M parameters "
                     f"trained: {', '.join(d.get('trained_groups', []))}), final loss {s['final_loss']:.4f}")
    return "\n".join(lines)


def evaluate_results(folder: str | Path, docs: str | Path | None = None, command: str | None = None) -> str:
    """Measure every variant in ``folder``; return the Markdown report and, with ``docs``, put it in that file."""
    folder = Path(folder)
    held = np.load(folder / "heldout.npz")
    req = requested(held["conditions"])
    measures: dict[str, Measures] = {}
    for name in VARIANTS:
        path = folder / f"{name}.npz"
        if path.is_file():
            measures[name] = measure(np.load(path)["frames"])
    if "ground_truth" not in measures:
        raise FileNotFoundError(f"{folder}/ground_truth.npz is missing")
    rows = [score(name, m, req, measures["ground_truth"]) for name, m in measures.items()]
    results_path = folder / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    report = "\n".join([
        f"Measured with `python -m flap.training evaluate --results <folder>` (flap.face.tracker on frames upscaled to "
        f"{TRACK_SIDE} px, {len(req['jaw'])} frames per model).",
        "", run_summary(results), "", table(rows), "",
        "```json", json.dumps({"controllability": [asdict(r) for r in rows]}, indent=None), "```",
    ])
    if docs:
        write_into_docs(Path(docs), report)
    return report


def write_into_docs(path: Path, report: str, start: str = DOC_START, end: str = DOC_END,
                    heading: str = "## Measured controllability (issue 6)") -> None:
    """Replace the text between the ``start`` and ``end`` markers (or append the section under ``heading``)."""
    block = f"{start}\n{report}\n{end}"
    text = path.read_text() if path.is_file() else "# Training FLAP\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    path.write_text(text)
