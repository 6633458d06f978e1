"""Appearance of the embedded engine, measured on rendered frames (what the figures of eval_fidelity cannot see).

    python benchmarks/eval_appearance.py [--portrait PATH ...] [--seconds 60] [--maps DIR]

Per portrait: one-frame pops away from the face over natural speech motion; pixels changed outside the head's
reach (background that must stay the photo's); visible folded face triangles and new hard edges in the face at
every slider extreme, and the share of the head smeared (drawn at more than 3x the photo's scale).  Exit code 1 if any check fails.  ``--maps`` writes images of where pops and background
changes happened, to look at.
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

from flap.engines.embedded.rasterizer import folded_triangles  # noqa: E402
from flap.engines.embedded.renderer import EmbeddedRenderer  # noqa: E402
from flap.evaluation.appearance import (changed_outside, face_region, find_pops, full_map, hard_edges_added, head_reach,  # noqa: E402
                                        posed_landmarks, seen, smeared_share, texture_stretch, visible_folds)
from flap.evaluation.portraits import EVALUATION_PORTRAITS  # noqa: E402
from flap.face import landmark_groups as G  # noqa: E402
from flap.face.geometry import image_to_camera  # noqa: E402
from flap.face.portrait import analyze_portrait  # noqa: E402
from flap.motion.controls import MotionControls, apply_controls  # noqa: E402
from flap.pipeline import make_motion  # noqa: E402

PORTRAITS = list(EVALUATION_PORTRAITS.values())
EXTREMES = [dict(yaw=30), dict(yaw=-30), dict(pitch=25), dict(pitch=-25), dict(roll=25), dict(roll=-25),
            dict(mouth=2.0), dict(expression=2.0)]
def evaluate(path: str, audio: str, seconds: float, maps: Path | None) -> dict:
    analysis = analyze_portrait(path, size=512)
    renderer = EmbeddedRenderer()
    state = renderer.prepare(analysis)
    motion, _ = make_motion(audio, controls=MotionControls())
    motion = motion.fit_to_length(int(seconds * motion.fps), "loop")
    posed = posed_landmarks(renderer, state, motion)
    shape = analysis.crop.shape[:2]
    frames = list(renderer.render_frames(state, motion))
    pops = find_pops(frames, [face_region(p, shape) for p in posed])
    reach = head_reach(analysis.landmarks[:, :2], shape)
    for p in posed[:: max(1, len(posed) // 50)]:
        reach |= head_reach(p, shape)
    outside = changed_outside(frames, analysis.crop, reach)
    folds, edges, smears = [], [], []
    mesh = state.mesh
    for controls in EXTREMES:
        m = apply_controls(motion.take(np.array([int(np.argmax(motion.jaw[:, 0]))])), MotionControls(motion_scale=0, **controls))
        cam = renderer.vertex_positions(state, m)[0]
        dst = image_to_camera(cam)[:, :2]
        drawn = state.moving_triangles[~(folded_triangles(mesh.src_xy, dst, state.moving_triangles) & state.moving_cullable)]
        folds.append(visible_folds(mesh.src_xy, dst, cam[:, 2], drawn, drawn, shape, opaque=seen(renderer, state, cam)))
        frame = renderer.render_frame(state, cam)
        full = full_map(renderer, state, cam)
        edges.append(hard_edges_added(frame, analysis.crop, face_region(dst[: G.NUM_LANDMARKS], shape, margin=-0.02), full))
        smears.append(smeared_share(texture_stretch(*full), head_reach(dst[: G.NUM_LANDMARKS], shape) & seen(renderer, state, cam)))
    if maps is not None:
        maps.mkdir(parents=True, exist_ok=True)
        vis = (analysis.crop * 0.5).astype(np.uint8)
        vis[outside] = (255, 255, 0)
        vis[pops.pixels > 0] = (255, 0, 0)
        cv2.imwrite(str(maps / f"{Path(path).stem}_changes.png"), cv2.cvtColor(vis, cv2.COLOR_RGB2BGR))
    return {"pops": pops.count, "outside_px": int(outside.sum()), "folds": max(folds), "new_edges": max(edges),
            "smeared": max(smears)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", action="append")
    parser.add_argument("--audio", default=str(ROOT / "examples/speech/hello.wav"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--maps", type=Path)
    args = parser.parse_args()
    failed = False
    print(f"{'portrait':24s} {'pop frames':>10s} {'bg px changed':>14s} {'visible folds':>14s} {'new edges':>10s} {'smeared':>8s}")
    for path in tqdm(args.portrait or PORTRAITS, desc="portraits", leave=False):
        r = evaluate(str(ROOT / path) if not Path(path).is_absolute() else path, args.audio, args.seconds, args.maps)
        ok = r["pops"] == 0 and r["outside_px"] == 0 and r["folds"] == 0 and r["new_edges"] < 0.01 and r["smeared"] < 0.03
        failed |= not ok
        print(f"{Path(path).stem:24s} {r['pops']:10d} {r['outside_px']:14d} {r['folds']:14d} {r['new_edges']:10.4f} {r['smeared']:8.4f}"
              f"  {'ok' if ok else 'FAIL'}")
    print("targets: 0 pop frames, 0 background pixels changed outside the head's reach, 0 visible folds, new edges < 1 %, smeared < 3 %")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
