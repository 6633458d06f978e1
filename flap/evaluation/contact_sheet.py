"""Contact sheets of rendered frames: what a viewer sees, laid out so a person can check it at a glance.

One sheet per portrait: a row per condition (slider extreme, emotion, consecutive frames), each row the whole
frame plus 3x crops of the mouth, an eye, the far cheek, the hair edge and the background beside the head.
Figures are blind to appearance; these sheets are how the project looks at its frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G

CROP_NAMES = ("mouth", "eye", "far cheek", "hair edge", "background")


@dataclass(frozen=True)
class SheetLayout:
    frame_side: int = 192  # the whole frame, shown at this size
    crop_side: int = 64  # source pixels of each crop (at 512 px frames), shown at 3x
    zoom: int = 3


def crop_centres(landmarks: np.ndarray, yaw: float) -> dict[str, tuple[float, float]]:
    """Where each crop looks, from the photo's landmarks (crop pixels).  The far cheek and hair edge are on the
    side the head turns away from (yaw > 0 turns toward the image's right, so the far side is the image's left)."""
    pts = landmarks[:, :2]
    oval = pts[list(G.face_oval_loop())]
    centre = oval.mean(axis=0)
    mouth = pts[list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP)].mean(axis=0)
    eye = pts[list(G.LEFT_EYE_UPPER + G.LEFT_EYE_LOWER)].mean(axis=0)
    far = -1.0 if yaw >= 0 else 1.0
    side = oval[np.argmax(far * (oval[:, 0] - centre[0]))]
    cheek = 0.55 * side + 0.45 * np.array([centre[0], mouth[1]])
    cheek[1] = 0.5 * (side[1] + mouth[1])
    top = oval[np.argmin(oval[:, 1])]
    hair = centre + (np.array([side[0], top[1]]) - centre) * 1.05
    width = oval[:, 0].max() - oval[:, 0].min()
    background = np.array([centre[0] + far * 0.95 * width, centre[1] - 0.1 * width])
    return {"mouth": tuple(mouth), "eye": tuple(eye), "far cheek": tuple(cheek), "hair edge": tuple(hair),
            "background": tuple(background)}


def _crop(frame: np.ndarray, centre: tuple[float, float], side: int, zoom: int) -> np.ndarray:
    h, w = frame.shape[:2]
    half = side // 2
    x = int(np.clip(round(centre[0]) - half, 0, max(0, w - side)))
    y = int(np.clip(round(centre[1]) - half, 0, max(0, h - side)))
    patch = frame[y:y + side, x:x + side]
    return cv2.resize(patch, (side * zoom, side * zoom), interpolation=cv2.INTER_NEAREST)


def sheet_row(frame: np.ndarray, landmarks: np.ndarray, yaw: float, label: str, layout: SheetLayout = SheetLayout()) -> np.ndarray:
    """One row: the frame and its crops, with a label.  ``landmarks``: where the face is in this frame (pixels)."""
    scale = frame.shape[0] / 512.0
    side = max(16, int(round(layout.crop_side * scale)))
    tile = layout.crop_side * layout.zoom
    centres = crop_centres(landmarks, yaw)
    whole = cv2.resize(frame, (layout.frame_side, layout.frame_side), interpolation=cv2.INTER_AREA)
    tiles = [cv2.resize(_crop(frame, centres[name], side, layout.zoom), (tile, tile), interpolation=cv2.INTER_NEAREST)
             for name in CROP_NAMES]
    height = max(layout.frame_side, tile)

    def pad(im):
        return np.pad(im, ((0, height - im.shape[0]), (0, 4), (0, 0)), constant_values=255)

    row = np.concatenate([pad(whole)] + [pad(t) for t in tiles], axis=1)
    label_bar = np.full((18, row.shape[1], 3), 255, np.uint8)
    cv2.putText(label_bar, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([label_bar, row], axis=0)


def header(width: int, title: str, layout: SheetLayout = SheetLayout()) -> np.ndarray:
    bar = np.full((22, width, 3), 235, np.uint8)
    cv2.putText(bar, title, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    x = layout.frame_side + 4
    for name in CROP_NAMES:
        cv2.putText(bar, name + " 3x", (x + 4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
        x += layout.crop_side * layout.zoom + 4
    return bar


def assemble(rows: list[np.ndarray], title: str, layout: SheetLayout = SheetLayout()) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate([header(width, title, layout)] + rows, axis=0)
