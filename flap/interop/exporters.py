"""Export a motion for 3D tools: FLAME-layout .npz (Blender FLAME add-on, DECA-style code, smplx) and Live Link
Face CSV (Unreal's LiveLinkFace importer, Blender and Maya Live Link Face importers).  docs/flame.md lists every key."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from flap.flame.params import motion_to_flame_params
from flap.interop.arkit import (
    ARKIT_INDEX,
    LIVE_LINK_FACE_NAMES,
    LIVE_LINK_FACE_ORDER,
    LIVE_LINK_FACE_ROTATIONS,
    ArkitMapping,
    eye_angles_deg,
    motion_to_arkit,
)
from flap.motion.representation import CONTROL_NAMES, MotionSequence

FLAME_EXPORT_FORMAT = "flap-flame-params"
FLAME_EXPORT_VERSION = 1


def _atomic_write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def flame_arrays(motion: MotionSequence) -> dict[str, np.ndarray]:
    """The arrays written by :func:`export_flame_npz` (see docs/flame.md for each key)."""
    p = motion_to_flame_params(motion)
    full_pose = np.concatenate([p["global_pose"], p["neck_pose"], p["jaw_pose"], p["eye_pose"]], axis=1)
    return {
        "format": np.array(FLAME_EXPORT_FORMAT),
        "version": np.array(FLAME_EXPORT_VERSION),
        "fps": np.array(motion.fps, dtype=np.float32),
        "global_pose": p["global_pose"],
        "neck_pose": p["neck_pose"],
        "jaw_pose": p["jaw_pose"],
        "eye_pose": p["eye_pose"],
        "pose": np.concatenate([p["global_pose"], p["jaw_pose"]], axis=1),
        "full_pose": full_pose.astype(np.float32),
        "expression": p["expression"],
        "eyelids": p["eyelids"],
        "transl": motion.translation.astype(np.float32),
        "scale": motion.scale.astype(np.float32),
        "controls": motion.controls.astype(np.float32),
        "control_names": np.array(CONTROL_NAMES),
        "meta": np.array(json.dumps(motion.meta, default=str)),
    }


def export_flame_npz(motion: MotionSequence, path: str | os.PathLike) -> Path:
    """Write the motion as FLAME parameters (.npz, axis-angle radians, FLAME joint order); returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        path = path.with_suffix(".npz")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **flame_arrays(motion))
    return _atomic_write_bytes(path, buffer.getvalue())


def _timecode(frame: int, fps: float) -> str:
    """Live Link Face style 'HH:MM:SS:FF.mmm' (FF counts frames at the rounded rate, .mmm the sub-frame)."""
    seconds_total = frame / fps
    whole = int(np.floor(seconds_total + 1e-9))
    rate = max(1, int(round(fps)))
    frames_f = (seconds_total - whole) * rate
    ff = int(np.floor(frames_f + 1e-6))
    sub = max(0.0, frames_f - ff)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{int(round(sub * 1000)) % 1000:03d}"


def arkit_rows(motion: MotionSequence, mapping: ArkitMapping = ArkitMapping()) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Live Link Face CSV."""
    curves = motion_to_arkit(motion, mapping)
    columns = [ARKIT_INDEX[n] for n in LIVE_LINK_FACE_ORDER]
    head = motion.head_euler_degrees() / mapping.rotation_unit_deg  # yaw, pitch, roll
    eyes = eye_angles_deg(motion) / mapping.rotation_unit_deg  # (T, 2, 3)
    header = ["Timecode", "BlendShapeCount", *LIVE_LINK_FACE_NAMES, *LIVE_LINK_FACE_ROTATIONS]
    count = str(len(LIVE_LINK_FACE_NAMES) + len(LIVE_LINK_FACE_ROTATIONS))
    rows = []
    for i in range(motion.num_frames):
        values = [*curves[i, columns], *head[i], *eyes[i, 0], *eyes[i, 1]]
        rows.append([_timecode(i, motion.fps), count, *(f"{v:.6f}" for v in values)])
    return header, rows


def export_arkit_csv(motion: MotionSequence, path: str | os.PathLike, mapping: ArkitMapping = ArkitMapping()) -> Path:
    """Write ARKit curves as a Live Link Face CSV (Timecode, BlendShapeCount, 52 curves, head and eye rotations)."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path.with_suffix(".csv")
    header, rows = arkit_rows(motion, mapping)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return _atomic_write_bytes(path, text.getvalue().encode("utf-8"))
