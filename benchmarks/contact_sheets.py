"""Render contact sheets of the embedded engine for people to look at (docs/sheets/*.png).

    python benchmarks/contact_sheets.py [--portrait PATH ...] [--out docs/sheets] [--size 512]

Per portrait: a pose-and-mouth sheet (open and closed mouth, every slider extreme, mouth and expression amounts)
and an emotion sheet (the eight emotions at strength 1), each row the frame plus 3x crops of the mouth, an eye,
the far cheek, the hair edge and the background beside the head; and a strip of consecutive frames with their
differences (flicker and pops show as bright patches away from the face).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flap.engines.embedded.renderer import EmbeddedRenderer  # noqa: E402
from flap.evaluation.contact_sheet import assemble, sheet_row  # noqa: E402
from flap.evaluation.portraits import EVALUATION_PORTRAITS  # noqa: E402
from flap.face import landmark_groups as G  # noqa: E402
from flap.face.geometry import image_to_camera  # noqa: E402
from flap.face.portrait import analyze_portrait  # noqa: E402
from flap.motion.controls import MotionControls, apply_controls  # noqa: E402
from flap.motion.emotions import EMOTION_NAMES  # noqa: E402
from flap.pipeline import make_motion  # noqa: E402

DEFAULT_PORTRAITS = [*EVALUATION_PORTRAITS.values(), "grey:" + EVALUATION_PORTRAITS["grace"]]

POSE_ROWS = [
    ("speaking, mouth open", dict(), "open"),
    ("speaking, lips closed", dict(), "closed"),
    ("yaw +30", dict(yaw=30), "open"),
    ("yaw -30", dict(yaw=-30), "open"),
    ("pitch +25", dict(pitch=25), "open"),
    ("pitch -25", dict(pitch=-25), "open"),
    ("roll +25", dict(roll=25), "open"),
    ("roll -25", dict(roll=-25), "open"),
    ("mouth 2", dict(mouth=2.0), "open"),
    ("expression 0 (calm, still speaking)", dict(expression=0.0), "open"),
    ("expression 2", dict(expression=2.0), "open"),
]


def load_portrait(spec: str, size: int):
    """``grey:PATH`` makes a greyscale version of the photo (a greyscale portrait)."""
    from flap.io.images import load_image

    if spec.startswith("grey:"):
        image, _ = load_image(spec[5:])
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        return analyze_portrait(np.dstack([grey] * 3), size=size), Path(spec[5:]).stem + "_grey"
    return analyze_portrait(spec, size=size), Path(spec).stem


def pick_frames(motion) -> dict[str, int]:
    jaw = motion.jaw[:, 0]
    speaking = np.nonzero(jaw > 0.02)[0]
    lo, hi = (speaking[0], speaking[-1]) if len(speaking) else (0, len(jaw) - 1)
    inner = np.arange(lo + 5, max(lo + 6, hi - 5))
    closed = inner[np.argmin(jaw[inner])] if len(inner) else int(np.argmin(jaw))
    return {"open": int(np.argmax(jaw)), "closed": int(closed)}


def render_rows(renderer, state, base, rows, frames):
    out = []
    for label, controls, which in rows:
        motion = apply_controls(base, MotionControls(motion_scale=0.0, **controls))
        k = frames[which]
        one = motion.take(np.array([k]))
        cams = renderer.vertex_positions(state, one)
        frame = renderer.render_frame(state, cams[0], float(one.eyelids[0].mean()), state.rig.fold_release(one.controls)[0])
        posed = image_to_camera(cams[0][: state.portrait.landmarks.shape[0]])  # back to image axes
        out.append(sheet_row(frame, posed, controls.get("yaw", 0.0), label))
    return out


def flicker_strip(renderer, state, base, start: int, count: int = 6) -> np.ndarray:
    """Consecutive frames of natural motion, each above its absolute difference to the previous one (x4)."""
    motion = apply_controls(base, MotionControls())
    frames = list(renderer.render_frames(state, motion.take(np.arange(start, start + count + 1))))
    side = 160
    tops, bottoms = [], []
    for a, b in zip(frames[:-1], frames[1:]):
        tops.append(cv2.resize(b, (side, side), interpolation=cv2.INTER_AREA))
        diff = np.clip(np.abs(b.astype(np.int16) - a.astype(np.int16)) * 4, 0, 255).astype(np.uint8)
        bottoms.append(cv2.resize(diff, (side, side), interpolation=cv2.INTER_AREA))
    return np.concatenate([np.concatenate(tops, axis=1), np.concatenate(bottoms, axis=1)], axis=0)


MOUTH_CONDITIONS = [("mouth 0", dict(mouth=0.0), "open"), ("mouth 1 open", dict(), "open"),
                    ("mouth 1 closed", dict(), "closed"), ("mouth 2", dict(mouth=2.0), "open"),
                    ("expression 0", dict(expression=0.0), "open"), ("expression 2", dict(expression=2.0), "open"),
                    ("yaw 30", dict(yaw=30), "open")]


def mouth_sheet(renderer, state, base, frames, name: str, side: int = 80, zoom: int = 3) -> np.ndarray:
    """3x crops of the mouth: the photo, each mouth/expression amount, then consecutive frames around the widest
    opening (closures and re-openings), then each emotion at strength 1 (lips closed, silent)."""
    from flap.evaluation.contact_sheet import _crop

    scale = state.portrait.size / 512.0
    crop = max(16, int(round(side * scale)))
    tile = side * zoom

    def tile_of(frame, landmarks, label):
        pts = landmarks[:, :2]
        centre = pts[list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP)].mean(axis=0)
        t = cv2.resize(_crop(frame, tuple(centre), crop, zoom), (tile, tile), interpolation=cv2.INTER_NEAREST)
        bar = np.full((16, tile, 3), 255, np.uint8)
        cv2.putText(bar, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        return np.pad(np.concatenate([bar, t]), ((0, 4), (0, 4), (0, 0)), constant_values=255)

    def rendered(controls, k, label):
        motion = apply_controls(base, MotionControls(motion_scale=0.0, **controls))
        one = motion.take(np.array([k]))
        cams = renderer.vertex_positions(state, one)
        frame = renderer.render_frame(state, cams[0], float(one.eyelids[0].mean()), state.rig.fold_release(one.controls)[0])
        return tile_of(frame, image_to_camera(cams[0][: G.NUM_LANDMARKS]), label)

    rows = [[tile_of(state.portrait.crop, state.portrait.landmarks, "photo")]
            + [rendered(c, frames[w], label) for label, c, w in MOUTH_CONDITIONS]]
    start = max(0, frames["open"] - 4)
    rows.append([rendered(dict(), k, f"frame {k}") for k in range(start, start + 8)])
    rows.append([rendered(dict(emotion=e, emotion_strength=1.0), frames["closed"], e) for e in EMOTION_NAMES])
    width = max(sum(t.shape[1] for t in r) for r in rows)
    body = [np.pad(np.concatenate(r, axis=1), ((0, 0), (0, width - sum(t.shape[1] for t in r)), (0, 0)), constant_values=255)
            for r in rows]
    bar = np.full((20, width, 3), 235, np.uint8)
    cv2.putText(bar, f"{name}: mouth 3x", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar] + body, axis=0)


def save(path: Path, rgb: np.ndarray) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.suffix == ".jpg" else []
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", action="append", help="portrait path (grey:PATH for a greyscale version)")
    parser.add_argument("--audio", default="examples/speech/hello.wav")
    parser.add_argument("--out", default="docs/sheets")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--only", choices=("pose", "emotion", "flicker", "mouth"), action="append",
                        help="which sheets (default: pose, emotion, flicker); 'mouth': 3x mouth crops only")
    parser.add_argument("--format", choices=("jpg", "png"), default="jpg", help="jpg keeps docs/ small; png is lossless")
    args = parser.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    only = set(args.only or ("pose", "emotion", "flicker"))
    base, _ = make_motion(str(ROOT / args.audio), controls=MotionControls())
    frames = pick_frames(base)
    renderer = EmbeddedRenderer()
    for spec in tqdm(args.portrait or DEFAULT_PORTRAITS, desc="portraits"):
        analysis, name = load_portrait(spec if spec.startswith("grey:") else str(ROOT / spec) if not Path(spec).is_absolute() else spec, args.size)
        state = renderer.prepare(analysis)
        if "pose" in only:
            rows = render_rows(renderer, state, base, POSE_ROWS, frames)
            save(out / f"{name}_pose.{args.format}", assemble(rows, f"{name}: pose and mouth"))
        if "emotion" in only:
            rows = [(f"{e} 1.0", dict(emotion=e, emotion_strength=1.0), "closed") for e in EMOTION_NAMES]
            sheet = assemble(render_rows(renderer, state, base, rows, frames), f"{name}: emotions at strength 1")
            save(out / f"{name}_emotions.{args.format}", sheet)
        if "mouth" in only:
            save(out / f"{name}_mouth.{args.format}", mouth_sheet(renderer, state, base, frames, name))
        if "flicker" in only:
            strip = flicker_strip(renderer, state, base, max(0, frames["open"] - 3))
            save(out / f"{name}_flicker.{args.format}", strip)
    print(f"sheets in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
