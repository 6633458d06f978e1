"""The mouth's edges hold up at 3x zoom: lips that a moustache or beard hides are not painted on (hair hangs over
the opening, no lip line, no hole as tall as the mouth is wide), the opening's outline has sub-pixel coverage,
and a photo's open mouth closing draws no dark line across its teeth.  Measured with flap.evaluation.mouth_look
on eight portraits (colour, greyscale, sepia; moustache and beard)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from flap.engines.embedded import EmbeddedRenderer
from flap.engines.embedded.mouth import MouthStyle, lips_hidden, paint_mouth
from flap.evaluation.mouth_look import dark_height, edge_staircase, lip_line, teeth_crack
from flap.evaluation.portraits import EVALUATION_PORTRAITS, LIPS_HIDDEN
from flap.face import landmark_groups as G
from flap.face.geometry import image_to_camera
from flap.face.portrait import analyze_portrait
from flap.motion import MotionSequence
from flap.motion.controls import MotionControls, apply_controls

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = {name: EVALUATION_PORTRAITS[name] for name in LIPS_HIDDEN}
SHOWN = {name: path for name, path in EVALUATION_PORTRAITS.items() if name not in LIPS_HIDDEN}


@pytest.fixture(scope="module")
def renderer():
    return EmbeddedRenderer()


@pytest.fixture(scope="module")
def analyses():
    out = {name: analyze_portrait(str(ROOT / path), size=384) for name, path in {**HIDDEN, **SHOWN}.items()}
    from flap.io.images import load_image

    image, _ = load_image(str(ROOT / SHOWN["grace"]))
    out["grace_grey"] = analyze_portrait(np.dstack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)] * 3), size=384)
    return out


@pytest.fixture(scope="module")
def states(renderer, analyses):
    return {name: renderer.prepare(analyses[name]) for name in list(HIDDEN) + ["obama_speaking"]}


def _render(renderer, state, jaw: float, **controls):
    motion = apply_controls(MotionSequence.neutral(1).replace(jaw=np.array([[jaw, 0.0, 0.0]])),
                            MotionControls(motion_scale=0.0, **controls))
    cam = renderer.vertex_positions(state, motion)[0]
    return renderer.render_frame(state, cam), image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2]


def test_lips_hidden_by_hair_are_told_from_lips_shown(analyses):
    for name, analysis in analyses.items():
        hidden = lips_hidden(analysis.crop, analysis.landmarks)
        if name in HIDDEN:
            assert hidden > 0.8, f"{name}: its moustache/beard not seen over the lips ({hidden:.2f})"
        else:
            assert hidden == 0.0, f"{name}: its lips taken for hair ({hidden:.2f}): they would not be painted"


@pytest.mark.parametrize("size", [256, 768])
def test_hidden_lips_are_told_at_any_photo_size(size):
    """The closest calls either way (the moustache, biden's and obama_smiling's thin upper-lip borders)."""
    for name, path in {**HIDDEN, "biden": SHOWN["biden"], "obama_smiling": SHOWN["obama_smiling"]}.items():
        analysis = analyze_portrait(str(ROOT / path), size=size)
        hidden = lips_hidden(analysis.crop, analysis.landmarks)
        assert (hidden > 0.5) == (name in HIDDEN), f"{name} at {size} px: lips hidden {hidden:.2f}"


CONDITIONS = [("mouth 1", 0.3, {}), ("mouth 2", 0.3, {"mouth": 2.0}), ("yaw +30", 0.3, {"yaw": 30.0}),
              ("yaw -30", 0.3, {"yaw": -30.0}), ("roll -25", 0.3, {"roll": -25.0}), ("barely parted", 0.08, {})]


@pytest.mark.parametrize("name", list(HIDDEN))
def test_hair_hangs_over_an_opening_where_the_photo_shows_no_lips(renderer, states, name):
    """Before: a hard-edged black hole with a thin painted lip line on top (lip_line 0.29-0.48 on the beard at
    384 px, now 0.04-0.14), at mouth 2 a hole about as tall as the mouth is wide (dark_height 0.63-0.65, now
    0.32-0.43)."""
    for label, jaw, controls in CONDITIONS:
        frame, lm = _render(renderer, states[name], jaw, **controls)
        line = lip_line(frame, lm)
        assert line < 0.16, f"{name} {label}: a lip line painted along the top of the opening ({line:.3f})"
        dark = dark_height(frame, lm)
        most = 0.5 if controls.get("mouth", 1.0) > 1 else 0.4
        assert dark < most, f"{name} {label}: the dark shows {dark:.2f} of the mouth's width tall"


def test_hidden_lips_measures_see_a_painted_line_and_a_hole(renderer, states):
    state = states["andersson_beard"]
    state_painted = type(state)(**{**state.__dict__, "mouth": MouthStyle(**{**state.mouth.__dict__, "lips_hidden": 0.0})})
    # (a little less open than mouth 1: the mouth opened wider shows its upper teeth taller than a thin line)
    frame, lm = _render(renderer, state_painted, 0.2)
    assert lip_line(frame, lm) > 0.25
    frame, lm = _render(renderer, state_painted, 0.3, mouth=2.0)
    assert dark_height(frame, lm) > 0.55


def _synthetic_mouth(roll_deg: float, x: float):
    a = np.radians(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    u = np.linspace(-1, 1, 11)
    upper = np.stack([u * 40, -10 * (1 - u ** 2)], 1) @ rot.T + [x, 80.6]
    lower = np.stack([u * 40, 14 * (1 - u ** 2)], 1) @ rot.T + [x, 80.6]
    lm = np.zeros((G.NUM_LANDMARKS, 2))
    lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)] = upper, lower
    return upper, lower, lm


@pytest.mark.parametrize("roll", [0.0, 8.0, 17.0, 25.0, -25.0])
def test_the_opening_outline_has_sub_pixel_coverage(roll):
    """A flat opening on a flat face: only the outline's coverage shows (a blurred anti-aliased polygon: 0.10-0.12)."""
    dark = np.array([30.0, 30, 30])
    style = MouthStyle(cavity=dark, teeth=dark, tongue=dark, inner_lip=dark)
    for x in (100.0, 100.37):
        upper, lower, lm = _synthetic_mouth(roll, x)
        frame = np.full((160, 200, 3), 200, np.uint8)
        paint_mouth(frame, upper, lower, style)
        steps = edge_staircase(frame, lm)
        assert steps < 0.09, f"roll {roll}: the outline steps by {steps:.3f} px"


def test_the_staircase_measure_sees_a_hard_edge():
    upper, lower, lm = _synthetic_mouth(12.0, 100.3)
    frame = np.full((160, 200, 3), 200, np.uint8)
    cv2.fillPoly(frame, [np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)], (30, 30, 30))
    assert edge_staircase(frame, lm) > 0.15


def test_a_closing_photo_mouth_draws_no_line_across_its_teeth(renderer, states):
    """obama_speaking's own open mouth over consecutive frames of speech (closures and re-openings): where its
    upper teeth come over its lower ones a jagged black line ran between them (crack share 0.36-0.47 on frames
    288, 290 and 298 before; at most 0.10 now, a thin shadow between the teeth and the tongue)."""
    from flap.pipeline import make_motion

    motion, _ = make_motion(str(ROOT / "examples/speech/hello.wav"), controls=MotionControls())
    motion = apply_controls(motion, MotionControls(motion_scale=0.0))
    frames = np.arange(284, 300)
    state = states["obama_speaking"]
    cams = renderer.vertex_positions(state, motion.take(frames))
    for k, cam in zip(frames, cams):
        share = teeth_crack(renderer.render_frame(state, cam), image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2])
        assert share < 0.2, f"frame {k}: a dark line across {share:.0%} of the teeth"


def test_the_crack_measure_sees_a_line_across_teeth(states):
    state = states["obama_speaking"]
    frame = state.portrait.crop.copy()
    lm = state.portrait.landmarks[:, :2]
    upper, lower = lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)]
    polygon = np.round(np.concatenate([upper, lower[::-1]])).astype(np.int32)
    cv2.fillPoly(frame, [polygon], (225, 225, 215))  # teeth from lip to lip
    before = teeth_crack(frame, lm)
    # a stair-stepped black line across the teeth, halfway down the opening
    line = upper + 0.5 * (lower - upper)
    for (x0, y0), (x1, y1) in zip(line[2:-3], line[3:-2]):
        cv2.line(frame, (int(x0), int(y0)), (int(x1), int(y0)), (5, 5, 5), 1)
        cv2.line(frame, (int(x1), int(y0)), (int(x1), int(y1)), (5, 5, 5), 1)
    after = teeth_crack(frame, lm)
    assert after > before + 0.3


def test_a_mouth_closing_over_its_own_teeth_shows_no_faint_line_along_them(renderer):
    """At the sheets' size (512 px), obama_speaking's frames 284-300 of the test speech: its upper teeth coming over
    its lower ones showed a faint jagged line along their edge (the photo's dark notches between its incisors' tips;
    a quarter darker than the teeth either side across 11-21 % of the mouth on frames 288-290 before, 0 now)."""
    from flap.pipeline import make_motion

    motion, _ = make_motion(str(ROOT / "examples/speech/hello.wav"), controls=MotionControls())
    motion = apply_controls(motion, MotionControls(motion_scale=0.0))
    frames = np.arange(284, 300)
    state = renderer.prepare(analyze_portrait(str(ROOT / SHOWN["obama_speaking"]), size=512))
    cams = renderer.vertex_positions(state, motion.take(frames))
    for k, cam in zip(frames, cams):
        frame = renderer.render_frame(state, cam)
        faint = teeth_crack(frame, image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2], deep=0.25)
        assert faint < 0.08, f"frame {k}: a faint dark line across {faint:.0%} of the teeth"
