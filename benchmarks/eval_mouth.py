"""How the embedded engine's mouth looks, measured on rendered frames (flap.evaluation.mouth_look).

    python benchmarks/eval_mouth.py [--portrait PATH ...] [--size 512]

Per portrait: the photo's own lip seam and the rendered closed mouth's (darkness 0..1), how far the lower lip
rides over the upper when the photo's mouth closes (px), the upper teeth band of an open mouth (centre luminance,
corner and lip-shadow ratios, spread), the mouth's floor against its inside, a second dark band inside a mouth
opened wide (jaw 0.5; 0 is one cavity), the tongue's texture there, how dotted disgust's parted lips are, and the
mouth-corner lift of each emotion at
strength 1 (> 0 smiles); then whether the photo's lips are hidden (a moustache or beard: 0..1), the line painted
along the top of an open mouth (jaw 0.3; > ~0.2 reads as a drawn lip), how tall its dark shows over the width at
jaw 0.6, how tall its upper and lower teeth show there (over the width; hair counts as bright under a moustache),
and the most cracked of a closing mouth's frames (jaw 0.06-0.2: a thin dark line across the teeth; faint: a quarter
darker; for a photo with its own open mouth).  Prints a table; look at the contact sheets too (benchmarks/contact_sheets.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flap.engines.embedded.renderer import EmbeddedRenderer  # noqa: E402
from flap.engines.embedded.mouth import lips_hidden  # noqa: E402
from flap.evaluation.mouth_look import (cavity_ridge, corner_lift, dark_height, lip_line, lip_overlap,  # noqa: E402
                                       lower_interior, seam_darkness, seam_ripple, teeth_crack, teeth_heights,
                                       teeth_shading, tongue_texture)
from flap.evaluation.portraits import EVALUATION_PORTRAITS  # noqa: E402
from flap.face import landmark_groups as G  # noqa: E402
from flap.face.geometry import image_to_camera  # noqa: E402
from flap.face.portrait import analyze_portrait  # noqa: E402
from flap.face.tracker import track_frames  # noqa: E402
from flap.motion import MotionSequence  # noqa: E402
from flap.motion.controls import MotionControls, apply_controls  # noqa: E402
from flap.motion.emotions import EMOTION_NAMES  # noqa: E402

PORTRAITS = list(EVALUATION_PORTRAITS.values())


def render(renderer, state, motion):
    cam = renderer.vertex_positions(state, motion)[0]
    frame = renderer.render_frame(state, cam, float(motion.eyelids[0].mean()), state.rig.fold_release(motion.controls)[0])
    return frame, image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2]


def evaluate(path: str, size: int) -> None:
    renderer = EmbeddedRenderer()
    state = renderer.prepare(analyze_portrait(path, size=size))
    photo = state.portrait
    closed, lm_closed = render(renderer, state, MotionSequence.neutral(1).replace(jaw=np.array([[0.0, 0, 0]])))
    opened, lm_open = render(renderer, state, MotionSequence.neutral(1).replace(jaw=np.array([[0.3, 0, 0]])))
    teeth = teeth_shading(opened, lm_open)
    floor, deep = lower_interior(opened, lm_open)
    wide, lm_wide = render(renderer, state, MotionSequence.neutral(1).replace(jaw=np.array([[0.5, 0, 0]])))
    rendered = [render(renderer, state, apply_controls(MotionSequence.neutral(1), MotionControls(
        emotion=e, emotion_strength=1.0, motion_scale=0.0))) for e in EMOTION_NAMES]
    frames = [frame for frame, _ in rendered]
    ripple = seam_ripple(*rendered[EMOTION_NAMES.index("disgusted")])
    track = track_frames(frames, video_mode=False)
    lifts = " ".join(f"{e[:4]} {corner_lift(track.landmarks[i]):+.2f}" if track.found[i] else f"{e[:4]} ?"
                     for i, e in enumerate(EMOTION_NAMES))
    print(f"{Path(path).stem:16s} seam photo {seam_darkness(photo.crop, photo.landmarks[:, :2]):.2f} closed "
          f"{seam_darkness(closed, lm_closed):.2f}  overlap {lip_overlap(lm_closed):.1f} px  teeth {teeth.centre:.0f} "
          f"corner {teeth.corner_ratio:.2f} lip-shadow {teeth.lip_shadow_ratio:.2f} spread {teeth.spread:.2f}  "
          f"floor/inside {floor:.0f}/{deep:.0f}  wide: ridge {cavity_ridge(wide, lm_wide):.2f} tongue texture "
          f"{tongue_texture(wide, lm_wide):.3f}  disgust ripple {ripple:.3f}\n{'':16s} corner lift: {lifts}")
    tall, lm_tall = render(renderer, state, MotionSequence.neutral(1).replace(jaw=np.array([[0.6, 0, 0]])))
    closing = [render(renderer, state, MotionSequence.neutral(1).replace(jaw=np.array([[j, 0, 0]])))
               for j in np.linspace(0.06, 0.2, 8)] if state.source_mouth is not None else []
    cracks = [teeth_crack(*f) for f in closing] or [float("nan")]
    faint = [teeth_crack(*f, deep=0.25) for f in closing] or [float("nan")]
    upper, lower = teeth_heights(tall, lm_tall)
    print(f"{'':16s} lips hidden {lips_hidden(photo.crop, photo.landmarks):.2f}  lip line {lip_line(opened, lm_open):.3f}  "
          f"dark height (jaw 0.6) {dark_height(tall, lm_tall):.2f}  teeth upper/lower {upper:.3f}/{lower:.3f}  "
          f"closing crack {max(cracks):.2f} faint {max(faint):.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portrait", action="append")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    for path in args.portrait or PORTRAITS:
        evaluate(path if Path(path).is_absolute() else str(ROOT / path), args.size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
