"""The mouth reads as a mouth: closing a photo's open mouth brings the lips together (no overshoot, no crack),
closed lips show no seam the photo does not have, synthesized teeth are shaded (not a flat white band), the
floor of an open mouth shows a tongue or lower teeth, a greyscale photo gets a grey mouth.  Measured with
flap.evaluation.mouth_look on portraits the engine was not tuned on as well as the bundled ones."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from flap.engines.embedded import EmbeddedRenderer
from flap.evaluation.mouth_look import (cavity_ridge, lip_overlap, lip_thickness, lower_interior, opening_shape,
                                       seam_darkness, seam_ripple, teeth_heights, teeth_shading, tongue_surface,
                                       tongue_texture)
from flap.face import landmark_groups as G
from flap.face.geometry import image_to_camera
from flap.face.portrait import analyze_portrait
from flap.motion import MotionSequence

ROOT = Path(__file__).resolve().parents[1]
OPEN_PHOTOS = {"astronaut": "examples/portraits/astronaut.jpg", "obama_speaking": "tests/portraits/obama_speaking.jpg"}
CLOSED_PHOTOS = {"grace": "examples/portraits/grace_hopper.jpg", "biden": "tests/portraits/biden_standing.jpg",
                 "obama_smiling": "tests/portraits/obama_smiling.jpg"}


@pytest.fixture(scope="module")
def renderer():
    return EmbeddedRenderer()


@pytest.fixture(scope="module")
def states(renderer):
    return {name: renderer.prepare(analyze_portrait(str(ROOT / path), size=384))
            for name, path in {**OPEN_PHOTOS, **CLOSED_PHOTOS}.items()}


def _render(renderer, state, jaw: float):
    motion = MotionSequence.neutral(1).replace(jaw=np.array([[jaw, 0.0, 0.0]]))
    cam = renderer.vertex_positions(state, motion)[0]
    return renderer.render_frame(state, cam), image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2]


@pytest.mark.parametrize("name", list(OPEN_PHOTOS))
def test_closing_an_open_photo_brings_the_lips_together_without_overlap(renderer, states, name):
    frame, lm = _render(renderer, states[name], 0.0)
    overlap = lip_overlap(lm)
    assert overlap < 1.0, f"{name}: the lower lip rides {overlap:.1f} px over the upper one (pursed lips)"
    gap = lm[list(G.LOWER_INNER_LIP[1:-1]), 1] - lm[list(G.UPPER_INNER_LIP[1:-1]), 1]
    assert gap.max() < 2.0, f"{name}: the lips stay {gap.max():.1f} px apart"
    darkness = seam_darkness(frame, lm)
    assert darkness < 0.4, f"{name}: a dark crack between the closed lips ({darkness:.2f})"


@pytest.mark.parametrize("name", list(CLOSED_PHOTOS))
def test_closed_lips_show_no_seam_the_photo_does_not_have(renderer, states, name):
    state = states[name]
    own = seam_darkness(state.portrait.crop, state.portrait.landmarks[:, :2])
    frame, lm = _render(renderer, state, 0.0)
    assert seam_darkness(frame, lm) < own + 0.05


def test_the_seam_measure_sees_a_crack(states):
    state = states["grace"]
    frame = state.portrait.crop.copy()
    lm = state.portrait.landmarks[:, :2]
    line = np.round(0.5 * (lm[list(G.UPPER_INNER_LIP)] + lm[list(G.LOWER_INNER_LIP)])).astype(np.int32)
    cv2.polylines(frame, [line], False, (10, 5, 5), 2)
    assert seam_darkness(frame, lm) > seam_darkness(state.portrait.crop, lm) + 0.3


@pytest.mark.parametrize("name", ["grace", "biden"])
def test_synthesized_teeth_are_shaded_not_a_flat_band(renderer, states, name):
    frame, lm = _render(renderer, states[name], 0.3)
    teeth = teeth_shading(frame, lm)
    assert teeth.corner_ratio < 0.8, f"{name}: the side teeth are as bright as the front ones ({teeth.corner_ratio:.2f})"
    assert teeth.lip_shadow_ratio < 0.8, f"{name}: no shadow under the upper lip ({teeth.lip_shadow_ratio:.2f})"
    assert teeth.spread > 0.12, f"{name}: a flat band ({teeth.spread:.2f})"
    skin = np.median(state_skin(states[name]))
    assert teeth.centre < 1.05 * skin + 15, "teeth in the mouth's light, not a white band brighter than the face"
    lower, deep = lower_interior(frame, lm)
    assert lower > 2.5 * deep, f"{name}: the floor of the mouth is as dark as its inside ({lower:.0f} vs {deep:.0f})"


def state_skin(state):
    lm = state.portrait.landmarks[:, :2]
    cheeks = np.round(lm[[50, 280, 101, 330, 205, 425]]).astype(int)
    return state.portrait.crop[cheeks[:, 1], cheeks[:, 0]].astype(float) @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize("name", list(OPEN_PHOTOS))
def test_a_photos_open_mouth_opened_wider_keeps_its_lower_teeth_on_the_lower_lip(renderer, states, name):
    frame, lm = _render(renderer, states[name], 0.5)
    lower, deep = lower_interior(frame, lm)
    teeth = float(states[name].mouth.teeth @ np.array([0.299, 0.587, 0.114]))
    assert lower > 0.6 * teeth and lower > 3 * deep, f"{name}: the photo's lower teeth stay behind ({lower:.0f}, teeth {teeth:.0f})"


def test_paint_stays_within_the_mouths_colours_and_survives_a_barely_parted_mouth():
    from flap.engines.embedded.mouth import MouthStyle, paint_mouth

    style = MouthStyle(cavity=np.array([40.0, 20, 20]), teeth=np.array([200.0, 190, 180]),
                       tongue=np.array([150.0, 70, 60]), inner_lip=np.array([120.0, 60, 50]))
    x = np.linspace(20, 80, 11)
    arch = np.sin(np.linspace(0, np.pi, 11))
    for opening in (0.3, 0.26, 4.0, 25.0):  # barely parted (almost nothing shows) to wide open
        frame = np.full((100, 100, 3), 128, np.uint8)
        upper = np.stack([x, 50 - 2 * arch], axis=1)
        lower = np.stack([x, 50 + opening * arch], axis=1)
        paint_mouth(frame, upper, lower, style)
        assert frame.max() <= 201, "painted brighter than any of its colours (an overshoot: white rims)"


@pytest.mark.parametrize("name", list(OPEN_PHOTOS) + list(CLOSED_PHOTOS))
@pytest.mark.parametrize("jaw", [0.3, 0.55])
def test_an_open_mouth_is_a_rounded_outline_with_lips_of_their_own_thickness(renderer, states, name, jaw):
    """Not a box or a hexagon: the outline curves smoothly (no sharp turn beside the corners), the commissures
    barely part (the opening near the corners is a fraction of the middle's), and the lips keep their thickness."""
    _, closed = _render(renderer, states[name], 0.0)
    _, lm = _render(renderer, states[name], jaw)
    shape = opening_shape(lm)
    assert shape.sharpest_turn < 30, f"{name}: the outline turns {shape.sharpest_turn:.0f} deg at one landmark (a polygon)"
    assert shape.corner_share < 0.52, f"{name}: blunt ends, open {shape.corner_share:.2f} of the middle near the corners"
    for which, open_t, closed_t in zip(("upper", "lower"), lip_thickness(lm), lip_thickness(closed)):
        assert open_t > 0.85 * closed_t, f"{name}: the {which} lip thins from {closed_t:.1f} to {open_t:.1f} px"


def test_the_shape_measure_sees_a_box():
    """A box-like opening (the lips apart almost to the corners) fails the corner measure; a lens passes."""
    lm = np.zeros((G.NUM_LANDMARKS, 2))
    x = np.linspace(0.0, 100.0, 11)
    u = np.abs(x - 50) / 50
    for profile, blunt in (((1 - u ** 3) ** 1.6, False), (np.clip(4 * (1 - u), 0, 1), True)):
        lm[list(G.UPPER_INNER_LIP)] = np.stack([x, 100 - 5 * profile], 1)
        lm[list(G.LOWER_INNER_LIP)] = np.stack([x, 100 + 30 * profile], 1)
        lm[list(G.UPPER_OUTER_LIP)] = np.stack([x, 90 - 5 * profile], 1)
        lm[list(G.LOWER_OUTER_LIP)] = np.stack([x, 110 + 30 * profile], 1)
        assert (opening_shape(lm).corner_share > 0.52) == blunt


@pytest.mark.parametrize("name", list(OPEN_PHOTOS))
@pytest.mark.parametrize("jaw", [0.45, 0.55])
def test_a_photos_open_mouth_opened_wider_shows_one_cavity_not_a_band_across_its_tongue(renderer, states, name, jaw):
    """The photo's upper teeth go with the upper lip, everything below them (its cavity, tongue, lower teeth) with
    the jaw: no strip of the tongue stays up under the teeth with a dark band below it."""
    frame, lm = _render(renderer, states[name], jaw)
    ridge = cavity_ridge(frame, lm)
    assert ridge < 0.25, f"{name}: a second dark band inside the mouth ({ridge:.2f})"


def test_the_ridge_measure_sees_a_band_across_the_tongue(renderer, states):
    frame, lm = _render(renderer, states["grace"], 0.45)
    assert cavity_ridge(frame, lm) < 0.1
    top, bottom = lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)]
    line = np.round(0.35 * top + 0.65 * bottom).astype(np.int32)
    cv2.polylines(frame, [line[2:-2]], False, (5, 3, 3), 2)
    assert cavity_ridge(frame, lm) > 0.3


@pytest.mark.parametrize("name", ["grace", "biden"])
def test_the_synthesized_tongue_has_a_surface_that_moves_with_it(renderer, states, name):
    """Not a flat painted floor: fine texture on the tongue, fixed in the mouth's coordinates, so a slightly
    different opening shows the same surface (no shimmer from frame to frame)."""
    frame, lm = _render(renderer, states[name], 0.45)
    texture = tongue_texture(frame, lm)
    assert texture > 0.018, f"{name}: a flat tongue ({texture:.3f})"
    next_frame, next_lm = _render(renderer, states[name], 0.455)
    same = np.corrcoef(tongue_surface(frame, lm).ravel(), tongue_surface(next_frame, next_lm).ravel())[0, 1]
    assert same > 0.9, f"{name}: the tongue's surface changes between nearly equal frames ({same:.2f})"


def test_the_mouth_of_a_greyscale_photo_is_grey(renderer):
    from flap.io.images import load_image

    image, _ = load_image(str(ROOT / CLOSED_PHOTOS["grace"]))
    grey = np.dstack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)] * 3)
    state = renderer.prepare(analyze_portrait(grey, size=384))
    frame, lm = _render(renderer, state, 0.45)
    polygon = np.concatenate([lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)][1:-1][::-1]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = frame[mask > 0].astype(int)
    assert (inside.max(axis=1) - inside.min(axis=1)).max() <= 2, "colour painted into a greyscale photo's mouth"
    assert tongue_texture(frame, lm) > 0.012, "the tongue's texture is there in grey too"


def test_the_mouth_of_a_toned_photo_is_in_its_tone(renderer):
    """A sepia photograph (the beard, never tuned on): the painted cavity, teeth and tongue take the photo's tone,
    not a pink tongue in a brown photo."""
    state = renderer.prepare(analyze_portrait(str(ROOT / "tests/portraits/andersson_beard.jpg"), size=384))
    frame, lm = _render(renderer, state, 0.45)
    polygon = np.concatenate([lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)][1:-1][::-1]])
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    inside = frame[cv2.erode(mask, np.ones((5, 5), np.uint8)) > 0].astype(float)
    face = state.portrait.crop[state.portrait.person_mask > 0.5].astype(float)
    def hue(pixels):
        pixels = pixels[pixels.sum(axis=1) > 90]
        return np.median(pixels[:, 0] / pixels.sum(axis=1)), np.median(pixels[:, 2] / pixels.sum(axis=1))
    (r_in, b_in), (r_face, b_face) = hue(inside), hue(face)
    assert abs(r_in - r_face) < 0.015 and abs(b_in - b_face) < 0.015, f"mouth hue {r_in:.3f}/{b_in:.3f} in a photo of {r_face:.3f}/{b_face:.3f}"


@pytest.mark.parametrize("name", ["astronaut", "obama_smiling", "obama_speaking"])
def test_a_raised_upper_lip_shows_an_even_row_of_teeth_not_a_dotted_line(renderer, states, name):
    """Disgust lifts the upper lip a little off the photo's own teeth: only their tops show, and the dark gaps
    between them at the gums must not read as a row of dots (a zigzag) along the mouth."""
    from flap.motion.controls import MotionControls, apply_controls

    motion = apply_controls(MotionSequence.neutral(1), MotionControls(emotion="disgusted", emotion_strength=1.0,
                                                                      motion_scale=0.0))
    cam = renderer.vertex_positions(states[name], motion)[0]
    frame, lm = renderer.render_frame(states[name], cam), image_to_camera(cam[: G.NUM_LANDMARKS])[:, :2]
    ripple = seam_ripple(frame, lm)
    assert ripple < 0.085, f"{name}: a dotted row of teeth ({ripple:.3f})"


def test_the_ripple_measure_sees_dots_along_the_mouth(states):
    state = states["biden"]
    frame = state.portrait.crop.copy()
    lm = state.portrait.landmarks[:, :2]
    before = seam_ripple(frame, lm)
    middle = 0.5 * (lm[list(G.UPPER_INNER_LIP)] + lm[list(G.LOWER_INNER_LIP)])
    for x, y in middle[2:-2]:
        cv2.circle(frame, (int(round(x)), int(round(y))), 1, (235, 235, 225), -1)
    assert seam_ripple(frame, lm) > before + 0.05


@pytest.mark.parametrize("name", ["grace", "biden", "grace_grey"])
def test_a_synthesized_wide_open_mouth_shows_upper_and_lower_teeth(renderer, states, name):
    """Mouth 2 on a photo whose mouth is closed (the interior all synthesized): the upper incisors show about
    0.15 of the mouth's width below the lifted upper lip and the lower incisors' edges over the lower lip, both
    brighter than the lips (a grey photo too), not a thin upper line over a smooth dark cavity."""
    if name == "grace_grey":
        from flap.io.images import load_image

        image, _ = load_image(str(ROOT / CLOSED_PHOTOS["grace"]))
        state = renderer.prepare(analyze_portrait(np.dstack([cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)] * 3), size=384))
    else:
        state = states[name]
    frame, lm = _render(renderer, state, 0.55)
    upper, lower = teeth_heights(frame, lm)
    assert upper > 0.12, f"{name}: the upper teeth show {upper:.3f} of the width at mouth 2"
    assert lower > 0.03, f"{name}: no lower teeth at mouth 2 ({lower:.3f})"
    frame, lm = _render(renderer, state, 0.3)
    assert teeth_heights(frame, lm)[1] > 0.02, f"{name}: no lower teeth at mouth 1"


def test_the_teeth_measure_sees_a_dark_opening(renderer, states):
    """A cavity painted over the teeth (what the measure must fail) reads as no teeth."""
    frame, lm = _render(renderer, states["grace"], 0.55)
    polygon = np.concatenate([lm[list(G.UPPER_INNER_LIP)], lm[list(G.LOWER_INNER_LIP)][1:-1][::-1]])
    cv2.fillPoly(frame, [np.round(polygon).astype(np.int32)], (40, 15, 12))
    assert teeth_heights(frame, lm) == (0.0, 0.0)


@pytest.mark.parametrize("path", ["tests/portraits/dahlgren_moustache.jpg", "tests/portraits/biden_standing.jpg"])
def test_a_turned_heads_jaw_drops_down_not_sideways(renderer, path):
    """On a head turned 11-19 degrees, the lower lip's middle at mouth 2 moves along the mouth's perpendicular
    within 8 degrees (the jaw's joints glide forward as it opens, so the lip moves mostly down): a jaw swung back
    as far as down showed the opening leaning sideways (11.9 deg on the moustache portrait before; 5.6, and 5.2 on
    biden, now)."""
    state = renderer.prepare(analyze_portrait(str(ROOT / path), size=384))
    _, closed = _render(renderer, state, 0.0)
    _, lm = _render(renderer, state, 0.55)
    upper = lm[list(G.UPPER_INNER_LIP)]
    axis = (upper[-1] - upper[0]) / np.linalg.norm(upper[-1] - upper[0])
    moved = lm[G.LOWER_INNER_LIP[5]] - closed[G.LOWER_INNER_LIP[5]]
    lean = abs(float(np.degrees(np.arctan2(moved @ axis, moved @ np.array([-axis[1], axis[0]])))))
    assert lean < 8.0, f"the opening leans {lean:.1f} deg sideways"
