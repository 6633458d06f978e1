"""Portrait analysis: the face to animate, its crop, dense landmarks, head pose, eye/mouth state and masks.

Everything the engines need about a photo is computed here once, so rendering frames does no analysis.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from flap.errors import FaceNotFoundError
from flap.face import measures
from flap.face.detection import detect_faces, landmarks_in_box
from flap.face.geometry import HeadPose, estimate_pose
from flap.face.segmentation import person_mask
from flap.io.images import load_image


@dataclass(frozen=True)
class PortraitConfig:
    crop_scale: float = 2.6  # crop side / face size (landmark box): head, hair, neck and shoulders
    crop_shift_up: float = 0.06  # crop centre above the face centre, as a share of the crop side
    min_face_px: float = 40.0  # smaller faces are refused
    soft_face_px: float = 96.0  # smaller faces work but look soft
    max_abs_yaw: float = 55.0  # beyond this the photo is a profile: refused
    warn_abs_yaw: float = 30.0
    max_paste_back_side: int = 1280  # paste-back videos are at most this wide/tall
    max_render_side: int = 1024  # the face crop is never rendered larger than this


@dataclass
class PortraitAnalysis:
    """A portrait ready to animate.  Coordinates are pixels of ``crop`` (x right, y down)."""

    image: np.ndarray  # the working photo (RGB uint8), possibly reduced
    crop_box: tuple[float, float, float]  # x0, y0, side in ``image`` pixels
    crop: np.ndarray  # (S, S, 3) uint8 face crop at render size
    landmarks: np.ndarray  # (478, 3) in crop pixels (z away from camera, pixel scale)
    pose: HeadPose  # in crop pixels (camera axes: y up, z toward camera)
    person_mask: np.ndarray  # (S, S) float32, 1 = person
    eye_openness: np.ndarray  # (2,) subject's left, right
    mouth_opening: float
    faces_found: int
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    @property
    def euler_degrees(self) -> np.ndarray:
        return self.pose.euler_degrees


def analyze_portrait(source, size: int = 512, paste_back: bool = False, config: PortraitConfig = PortraitConfig()) -> PortraitAnalysis:
    """Find the face and prepare its crop.  ``size`` is the crop's output side; with ``paste_back`` the crop is
    rendered at the photo's own resolution (capped) so it can be put back into the photo without loss."""
    max_side = config.max_paste_back_side if paste_back else 2048
    image, notes = load_image(source, max_side=max_side)
    warnings = list(notes)
    boxes = detect_faces(image)
    if not boxes:
        raise FaceNotFoundError("No face was found in the portrait. Use a photo with one clearly visible face looking roughly toward the camera.")
    if len(boxes) > 1:
        warnings.append(f"{len(boxes)} faces found; animating the largest one.")
    box = boxes[0]
    if max(box.width, box.height) < config.min_face_px:
        raise FaceNotFoundError(
            f"The face is too small to animate ({max(box.width, box.height):.0f} pixels wide); use a photo where the face is at least "
            f"{config.min_face_px:.0f} pixels wide, or crop the photo around the face."
        )
    points = landmarks_in_box(image, box)
    if points is None:
        raise FaceNotFoundError("A face was detected but its features could not be located (turned away, covered or blurred?). "
                                "Use a clear photo of a face looking roughly toward the camera.")
    pose = estimate_pose(points)
    yaw, pitch, roll = pose.euler_degrees
    if abs(yaw) > config.max_abs_yaw:
        raise FaceNotFoundError(f"The face is seen in profile (turned {abs(yaw):.0f} degrees); use a photo where the face looks roughly toward the camera.")
    if abs(yaw) > config.warn_abs_yaw:
        warnings.append(f"The face is turned {abs(yaw):.0f} degrees; large head turns away from it may look stretched.")

    x0, y0, side = crop_box_for(points, image.shape, config)
    if paste_back:
        if 256 <= side and int(side) // 2 * 2 <= config.max_render_side:
            x0, y0, side = whole_pixel_box(x0, y0, side, image.shape)
        render = int(min(config.max_render_side, max(256, round(side))))
        render -= render % 2
    else:
        render = int(size)
    face_width = float(np.ptp(points[:, :2], axis=0).max())
    if face_width < config.soft_face_px:
        warnings.append(f"The face is only {face_width:.0f} pixels wide in the photo; the video will look soft.")
    scale = render / side
    if scale == 1.0 and x0 == int(x0) and y0 == int(y0):  # a whole-pixel box: the crop is the photo's own pixels
        crop = image[int(y0):int(y0) + render, int(x0):int(x0) + render].copy()
    else:
        matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
        crop = cv2.warpAffine(image, matrix, (render, render), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REFLECT101)
    crop_points = points.copy()
    crop_points[:, :2] = (points[:, :2] - np.array([x0, y0])) * scale
    crop_points[:, 2] = points[:, 2] * scale
    crop_pose = estimate_pose(crop_points)
    eyes = measures.eye_openness(crop_points)
    if eyes.max() < 0.12:
        warnings.append("The eyes look closed in the photo; blinks and gaze will barely show.")
    return PortraitAnalysis(
        image=image,
        crop_box=(float(x0), float(y0), float(side)),
        crop=np.ascontiguousarray(crop),
        landmarks=crop_points,
        pose=crop_pose,
        person_mask=person_mask(crop),
        eye_openness=eyes,
        mouth_opening=measures.mouth_opening(crop_points),
        faces_found=len(boxes),
        warnings=warnings,
    )


def crop_box_for(points: np.ndarray, image_shape: tuple[int, ...], config: PortraitConfig) -> tuple[float, float, float]:
    """A square around the face that stays inside the photo (shifted, then shrunk if it must be)."""
    h, w = image_shape[:2]
    lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
    face = float(max(hi - lo))
    side = min(config.crop_scale * face, float(min(h, w)))
    cx = (lo[0] + hi[0]) / 2
    cy = (lo[1] + hi[1]) / 2 - config.crop_shift_up * side
    x0 = float(np.clip(cx - side / 2, 0, w - side))
    y0 = float(np.clip(cy - side / 2, 0, h - side))
    return x0, y0, side


def whole_pixel_box(x0: float, y0: float, side: float, image_shape: tuple[int, ...]) -> tuple[float, float, float]:
    """The crop box on whole pixels with an even side (at most ``side``, inside the photo), for paste-back: the crop
    is then the photo's own pixels, rendered at its own size and pasted back without a resize, where a box of
    869.4 px at x 119.24 was resampled twice (to the 868 px render and back to 869 px) and shifted by a fraction of a
    pixel against the photo around it (and the resize cost 1 ms a frame on a 2048 px photo)."""
    h, w = image_shape[:2]
    whole = float(int(side) // 2 * 2)
    x = float(min(max(round(x0), 0), w - int(whole)))
    y = float(min(max(round(y0), 0), h - int(whole)))
    return x, y, whole


def paste_into(image: np.ndarray, crop_frame: np.ndarray, crop_box: tuple[float, float, float], feather: float = 0.04) -> np.ndarray:
    """Put a rendered crop back into the photo with a feathered border (the warp is identity near the border).
    For many frames into one photo, make one ``PasteBack`` and call it per frame (the same pixels, less work)."""
    return PasteBack(image, crop_box, feather)(crop_frame)


class PasteBack:
    """Puts rendered crops back into one photo: ``PasteBack(image, crop_box)(crop_frame)`` -> a new photo array.

    Only the border band is blended (in float32, as a whole-crop blend would); inside it the weight is exactly 1,
    so the crop is copied as it is: the same pixels, a sixth of the arithmetic on a large photo.  What does not
    change between frames (the photo's band in float32, the weights spread to three channels) is made once, so a
    frame costs the resize to the box, one copy of the photo and three in-place passes over the band (measured on
    a 1024x1280 photo: 2.4-2.9 ms a frame as one function, 1.8-2.2 ms so)."""

    def __init__(self, image: np.ndarray, crop_box: tuple[float, float, float], feather: float = 0.04):
        x0, y0, side = crop_box
        self.image = image
        self.x, self.y, s = int(round(x0)), int(round(y0)), int(round(side))
        self.side = s = min(s, image.shape[0] - self.y, image.shape[1] - self.x)
        ramp, inner = _feather_weights(s, max(2, int(feather * s)))
        k = self.inner = min(inner, s // 2)
        region = image[self.y:self.y + s, self.x:self.x + s]
        self.bands = []
        for rows, cols in ((slice(0, k), slice(0, s)), (slice(s - k, s), slice(0, s)),
                           (slice(k, s - k), slice(0, k)), (slice(k, s - k), slice(s - k, s))):
            band = region[rows, cols].astype(np.float32)
            self.bands.append((rows, cols, band, np.ascontiguousarray(np.broadcast_to(ramp[rows, cols, None], band.shape))))

    def __call__(self, crop_frame: np.ndarray) -> np.ndarray:
        s, k = self.side, self.inner
        if crop_frame.shape[0] == s:
            patch = crop_frame
        else:
            patch = cv2.resize(crop_frame, (s, s), interpolation=cv2.INTER_AREA if crop_frame.shape[0] > s else cv2.INTER_LINEAR)
        out = self.image.copy()
        region = out[self.y:self.y + s, self.x:self.x + s]
        region[k:s - k, k:s - k] = patch[k:s - k, k:s - k]
        for rows, cols, band, ramp in self.bands:  # band + (patch - band) * ramp, truncated as astype(uint8) does
            mix = patch[rows, cols].astype(np.float32)
            np.subtract(mix, band, out=mix)
            np.multiply(mix, ramp, out=mix)
            np.add(band, mix, out=mix)
            region[rows, cols] = mix
        return out


@functools.lru_cache(maxsize=4)
def _feather_weights(side: int, border: int) -> tuple[np.ndarray, int]:
    """Computed once per crop size: paste-back calls this for every frame.  Returns the (side, side) weights and
    how many rows (and columns) on each edge have a weight below 1."""
    ramp = np.minimum(np.arange(side) + 0.5, side - np.arange(side) - 0.5) / border
    ramp = np.clip(ramp, 0.0, 1.0).astype(np.float32)
    inner = int(np.argmax(ramp >= 1.0)) if (ramp >= 1.0).any() else (side + 1) // 2
    return np.minimum.outer(ramp, ramp), inner
