"""Portrait analysis on real photos (public-domain NASA and US Navy portraits shipped in scikit-image/matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flap.errors import FaceNotFoundError, InputError
from flap.face.portrait import PasteBack, PortraitConfig, analyze_portrait, paste_into


def grace_hopper() -> np.ndarray:
    import matplotlib

    path = matplotlib.get_data_path() + "/sample_data/grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def test_astronaut_is_found_with_plausible_pose_and_masks(astronaut_rgb):
    a = analyze_portrait(astronaut_rgb, size=384)
    assert a.crop.shape == (384, 384, 3)
    assert a.faces_found == 1
    yaw, pitch, roll = a.euler_degrees
    assert abs(yaw) < 12 and abs(pitch) < 15 and abs(roll) < 10
    # landmarks lie inside the crop and the face occupies a sensible share of it
    xy = a.landmarks[:, :2]
    assert xy.min() > 0 and xy.max() < 384
    face_width = np.ptp(xy[:, 0])
    assert 0.25 * 384 < face_width < 0.6 * 384
    # person in the middle of the face, background in the top corners
    cx, cy = xy.mean(axis=0).astype(int)
    assert a.person_mask[cy, cx] > 0.9
    assert a.person_mask[5, 5] < 0.2 and a.person_mask[5, -5] < 0.2
    assert (a.eye_openness > 0.15).all()


def test_two_faces_animates_the_larger_and_says_so(astronaut_rgb):
    small = np.asarray(Image.fromarray(grace_hopper()).resize((150, 175)))
    canvas = np.full((600, 900, 3), 200, np.uint8)
    canvas[40:552, 0:512] = astronaut_rgb
    canvas[100:275, 600:750] = small
    a = analyze_portrait(canvas)
    assert a.faces_found == 2
    assert any("2 faces" in w for w in a.warnings)
    x0, y0, side = a.crop_box
    assert x0 < 400  # the astronaut (the larger face) is in the crop


@pytest.mark.parametrize("maker", [lambda: np.full((400, 400, 3), 128, np.uint8),
                                   lambda: np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)])
def test_no_face_is_a_clear_error(maker):
    with pytest.raises(FaceNotFoundError, match="No face"):
        analyze_portrait(maker())


def test_tiny_image_and_tiny_face_are_refused(astronaut_rgb):
    with pytest.raises(InputError, match="at least"):
        analyze_portrait(np.zeros((40, 40, 3), np.uint8))
    canvas = np.full((1600, 1600, 3), 180, np.uint8)
    canvas[800:864, 800:864] = np.asarray(Image.fromarray(astronaut_rgb).resize((64, 64)))
    with pytest.raises(FaceNotFoundError):
        analyze_portrait(canvas)


@pytest.mark.slow
def test_huge_image_is_reduced_not_exhausting_memory(astronaut_rgb, tmp_path):
    big = Image.fromarray(astronaut_rgb).resize((5000, 5000))
    path = tmp_path / "big.jpg"
    big.save(path, quality=85)
    a = analyze_portrait(path, size=256)
    assert max(a.image.shape[:2]) <= 2048
    assert any("reduced" in w for w in a.warnings)
    assert a.crop.shape == (256, 256, 3)


def test_wrong_file_types_get_clear_messages(tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is not an image")
    with pytest.raises(InputError, match="could not be read as an image"):
        analyze_portrait(fake)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        analyze_portrait(empty)
    with pytest.raises(InputError, match="not found"):
        analyze_portrait(tmp_path / "missing.png")


def test_profile_view_is_refused_by_the_yaw_limit(astronaut_rgb):
    with pytest.raises(FaceNotFoundError, match="profile"):
        analyze_portrait(astronaut_rgb, config=PortraitConfig(max_abs_yaw=0.5))


def test_transparent_png_and_grayscale_load(astronaut_rgb, tmp_path):
    rgba = np.dstack([astronaut_rgb, np.full(astronaut_rgb.shape[:2], 255, np.uint8)])
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba).save(path)
    assert analyze_portrait(path).crop.shape[2] == 3
    gray = Image.fromarray(astronaut_rgb).convert("L")
    gpath = tmp_path / "gray.webp"
    gray.save(gpath)
    assert analyze_portrait(gpath).faces_found == 1


def test_paste_back_is_seamless_at_the_crop_border(astronaut_rgb):
    a = analyze_portrait(astronaut_rgb, size=256)
    frame = np.zeros_like(a.crop)
    out = paste_into(a.image, frame, a.crop_box)
    x0, y0, side = (int(round(v)) for v in a.crop_box)
    # the outermost ring of the crop keeps the photo; the centre takes the frame
    assert np.abs(out[y0 + 1, x0 + side // 2].astype(int) - a.image[y0 + 1, x0 + side // 2].astype(int)).max() < 30
    assert out[y0 + side // 2, x0 + side // 2].max() < 10


@pytest.mark.parametrize("box,crop", [((118.98, 0.0, 868.79), 868), ((10.2, 30.7, 400.4), 400), ((3.0, 4.0, 40.0), 40)])
def test_paste_back_equals_the_whole_crop_blend(box, crop):
    """Only the feathered band is blended: the result is the blend of the whole crop, pixel for pixel."""
    import cv2

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1280, 1024, 3), dtype=np.uint8)
    photo = image.copy()
    xi, yi, s = (int(round(v)) for v in box)
    ramp = np.clip(np.minimum(np.arange(s) + 0.5, s - np.arange(s) - 0.5) / max(2, int(0.04 * s)), 0, 1).astype(np.float32)
    weight = np.minimum.outer(ramp, ramp)[:, :, None]
    paste = PasteBack(image, box)  # one per video: each frame's result is still the whole-crop blend of that frame
    for _ in range(2):
        frame = rng.integers(0, 256, (crop, crop, 3), dtype=np.uint8)
        patch = frame if crop == s else cv2.resize(frame, (s, s), interpolation=cv2.INTER_LINEAR)
        expected = image.copy()
        region = expected[yi:yi + s, xi:xi + s].astype(np.float32)
        expected[yi:yi + s, xi:xi + s] = (region + (patch.astype(np.float32) - region) * weight).astype(np.uint8)
        assert np.array_equal(paste_into(image, frame, box), expected)
        assert np.array_equal(paste(frame), expected)
    assert np.array_equal(image, photo), "the photo itself is never changed"


def test_paste_back_crop_is_the_photos_own_pixels(tmp_path):
    """For paste-back the crop box lies on whole pixels with an even side (within a pixel or two of the face's box):
    the crop is the photo itself, rendered at its size and pasted back without a resize (no double resampling)."""
    from flap.face.portrait import PortraitConfig, crop_box_for, whole_pixel_box

    photo = Path(__file__).parent / "portraits" / "biden_standing.jpg"
    a = analyze_portrait(photo, paste_back=True)
    x0, y0, side = a.crop_box
    assert side == int(side) and x0 == int(x0) and y0 == int(y0) and side % 2 == 0 and a.size == side
    x, y, s = int(x0), int(y0), int(side)
    assert np.array_equal(a.crop, a.image[y:y + s, x:x + s])
    assert PasteBack(a.image, a.crop_box).side == a.size
    # within two pixels of the box the face asks for, and inside the photo for any box
    fx, fy, fside = crop_box_for(a.landmarks[:, :2] + (x0, y0), a.image.shape, PortraitConfig())
    assert abs(fside - side) < 2 and abs(fx - x0) <= 1 and abs(fy - y0) <= 1
    for box in [(0.4, 0.6, 511.9), (100.5, 7.5, 300.0), (1023.0 - 400.2, 1279.0 - 400.2, 400.2)]:
        bx, by, bs = whole_pixel_box(*box, (1280, 1024, 3))
        assert bs <= box[2] and bs % 2 == 0 and 0 <= bx <= 1024 - bs and 0 <= by <= 1280 - bs


def test_face_oval_constant_matches_mediapipe():
    from flap.face import landmark_groups as G

    assert G.face_oval_loop() == G.face_oval_loop_from_mediapipe()


def test_face_analysis_imports_no_matplotlib_and_mediapipe_drawing_still_works():
    """MediaPipe's drawing helpers (and the matplotlib.pyplot they import, 0.4 s of a cold start) are imported only
    when used: a portrait is analysed without them, and they work when asked for afterwards."""
    import json
    import subprocess
    import sys

    code = ("import sys, json; from flap.face.portrait import analyze_portrait; "
            "a = analyze_portrait('examples/portraits/astronaut.jpg', size=256); "
            "before = [m for m in ('matplotlib', 'matplotlib.pyplot') if m in sys.modules]; "
            "import mediapipe as mp; from mediapipe.python.solutions import drawing_styles; "
            "spec = mp.solutions.drawing_utils.DrawingSpec(thickness=3); "
            "print(json.dumps({'before': before, 'after': 'matplotlib.pyplot' in sys.modules, 'thickness': spec.thickness, "
            "'styles': len(drawing_styles.get_default_face_mesh_contours_style()) > 0}))")
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"before": [], "after": True, "thickness": 3, "styles": True}
