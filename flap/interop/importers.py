"""Import motion made elsewhere: detect the layout, validate, map onto FLAP's MotionSequence, resample, fit.

Supported (docs/flame.md has an example of each): FLAP motion .npz and FLAME-parameter exports; FLAP (T, 120)
conditions; DECA/EMOCA/SMIRK codedicts (stacked, or one file per frame in a folder); EMOTE, DiffPoseTalk,
FaceFormer-FLAME-style, VHAP and metrical-tracker parameter files; ARKit 52-blendshape curves (Live Link Face CSV,
Audio2Face JSON, MediaPipe blendshape JSON, named CSV/JSON columns, unnamed (T, 52) arrays).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from flap.errors import MotionFormatError
from flap.interop.arkit import ArkitMapping, arkit_to_motion
from flap.interop.arkit_files import looks_like_arkit, parse_arkit, parse_unnamed
from flap.interop.flame_layouts import FPS_KEYS, find_scalar, looks_like_flame, parse_flame
from flap.interop.mixing import CHANNELS
from flap.interop.readers import RawData, read_any
from flap.motion.representation import CONDITION_DIM, FIT_MODES, FORMAT_NAME, MotionSequence
from flap.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle

DEFAULT_FPS = 25.0
EMOTALK_FPS = 30.0
FLAME_VERTEX_COUNT = 5023
CHANNEL_WORDS = {"head_pose": "head pose", "jaw": "jaw", "eyelids": "eyelids", "expression": "expression", "eyes": "gaze"}


@dataclass
class ImportReport:
    """What was read and how it maps, in plain words (``summary()`` is what the web page and CLI show)."""

    layout: str
    frames_in: int
    fps_in: float
    frames_out: int
    fps_out: float
    channels: list[str]
    mapping: list[str]
    warnings: list[str]
    source: str = ""
    fit: str = FIT_MODES[0]

    def summary(self) -> str:
        lines = [f"Read {self.source or 'the file'} as {self.layout}: {self.frames_in} frames at {self.fps_in:g} fps "
                 f"({self.frames_in / self.fps_in:.2f} s).",
                 f"Result: {self.frames_out} frames at {self.fps_out:g} fps ({self.frames_out / self.fps_out:.2f} s).",
                 "Provides: " + (", ".join(CHANNEL_WORDS.get(c, c) for c in self.channels) or "nothing") + "."]
        if self.mapping:
            lines.append("How it maps:")
            lines += [f"  - {line}" for line in self.mapping]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {line}" for line in self.warnings]
        return "\n".join(lines)


@dataclass
class _Parsed:
    motion: MotionSequence
    layout: str
    fps: float | None
    fps_note: str
    default_fps: float
    channels: list[str]
    mapping: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    relative: bool = False  # FLAP's own files: head rotation is already relative to the portrait


def _single_array(values: dict) -> tuple[str, np.ndarray] | None:
    arrays = {k: v for k, v in values.items() if isinstance(v, np.ndarray) and v.ndim >= 1 and v.dtype.kind in "fiu"}
    others = {k for k in values if k not in arrays and k.lower() not in FPS_KEYS}
    if len(arrays) == 1 and not others:
        key = next(iter(arrays))
        if not looks_like_flame({key: arrays[key]}) and not looks_like_arkit({key: arrays[key]}):
            return key, arrays[key]  # an unnamed array ('array', 'arr_0', ...): its shape tells the layout
    return None


def _parse_single(key: str, array: np.ndarray, raw: RawData, arkit_order: str, mapping: ArkitMapping) -> _Parsed:
    source = raw.source
    a = np.asarray(array)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[1:] == (FLAME_VERTEX_COUNT, 3) or (a.ndim == 2 and a.shape[1] == FLAME_VERTEX_COUNT * 3):
        raise MotionFormatError(f"{source}: this is a FLAME vertex sequence {a.shape} (VOCA/FaceFormer output); FLAP imports "
                                "FLAME parameters or ARKit curves, not meshes. Export the model's parameters instead")
    if a.ndim == 3 and a.shape[0] > 1 and a.shape[2] in (CONDITION_DIM, 52, 50, 100):
        raise MotionFormatError(f"{source}: '{key}' has shape {a.shape}: a batch of {a.shape[0]} sequences; save one "
                                "sequence (frames, n) per file")
    if a.ndim != 2:
        raise MotionFormatError(f"{source}: an array of shape {array.shape} is not a motion; expected (frames, 120) FLAP condition, "
                                "(frames, 52) ARKit curves or (frames, 50 | 100) FLAME expression coefficients")
    if a.dtype.kind not in "fiu":
        raise MotionFormatError(f"{source}: the array holds {a.dtype}, not numbers")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        frame = int(np.argwhere(~np.isfinite(a))[0][0])
        raise MotionFormatError(f"{source}: '{key}' contains NaN or Inf (first at frame {frame})")
    width = a.shape[1]
    if width == CONDITION_DIM:
        try:
            motion = MotionSequence.from_condition(a, DEFAULT_FPS)
        except MotionFormatError as exc:
            raise MotionFormatError(f"{source}: {exc}") from exc
        return _Parsed(motion, "FLAP condition (frames, 120)", None, "", DEFAULT_FPS, ["head_pose", "eyes", "jaw", "eyelids", "expression"],
                       ["columns 0:3 -> head rotation, 3:15 -> eyes (6D), 15:18 -> jaw, 18:20 -> eyelids, 20:120 -> expression"],
                       relative=True)
    if width == 52:
        parse = parse_unnamed(a, source, arkit_order)
        motion = arkit_to_motion(parse.curves, DEFAULT_FPS, mapping=mapping)
        return _Parsed(motion, parse.layout, None, "", EMOTALK_FPS, ["jaw", "eyelids", "expression", "eyes"],
                       parse.mapping + _arkit_lines(mapping), parse.warnings)
    if width in (50, 100):
        parsed = parse_flame({"expression": a}, source, raw.kind)
        return _Parsed(parsed.motion, f"FLAME expression coefficients (frames, {width})", None, "", DEFAULT_FPS, ["expression"],
                       parsed.mapping, parsed.warnings + ["the file holds only expression coefficients: no pose, jaw or eyelids"])
    raise MotionFormatError(f"{source}: an array of shape {a.shape} is not a known layout; expected (frames, 120) FLAP condition, "
                            "(frames, 52) ARKit curves or (frames, 50 | 100) FLAME expression coefficients")


def _arkit_lines(mapping: ArkitMapping) -> list[str]:
    return [f"jawOpen -> jaw opening (1 = {mapping.jaw_open_rad:g} rad); jawLeft/jawRight -> jaw sideways (1 = {mapping.jaw_side_rad:g} rad)",
            "eyeBlinkLeft/Right -> eyelids (subject's left, right)",
            f"eyeLookIn/Out/Up/Down -> gaze (1 = {mapping.eye_yaw_deg:g} degrees sideways, {mapping.eye_pitch_deg:g} up/down)",
            "mouth, brow, cheek, eye and nose curves -> named expression controls (smile, pucker, funnel, press, ...)",
            "not mapped: jawForward, mouthLeft/Right, mouthDimple, mouthRollUpper, mouthShrug, cheekPuff, tongueOut"]


def _parse(raw: RawData, arkit_order: str, angle_unit: str, mapping: ArkitMapping, source_fps: float | None) -> _Parsed:
    values = raw.values
    source = raw.source
    fmt = str(np.asarray(values["format"])) if "format" in values else ""
    if fmt == FORMAT_NAME or "global_rotation" in values:
        try:
            motion = MotionSequence.from_arrays(values, source=source)
        except MotionFormatError:
            raise
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise MotionFormatError(f"{source}: not a valid FLAP motion file ({exc})") from exc
        return _Parsed(motion, "FLAP motion", motion.fps, "", motion.fps, list(CHANNELS),
                       ["every field is FLAP's own: nothing to convert"], relative=True)
    single = _single_array(values)
    if single is not None:
        parsed = _parse_single(*single, raw, arkit_order, mapping)
        fps, key = find_scalar(values, FPS_KEYS)
        parsed.fps, parsed.fps_note = fps, key or ""
        return parsed
    if looks_like_arkit(values):
        parse = parse_arkit(values, source, raw.kind, mapping, use_times=source_fps is None)
        motion = arkit_to_motion(parse.curves, DEFAULT_FPS, parse.head_rotation_deg, parse.eye_rotation_deg, mapping)
        channels = (["head_pose"] if parse.head_rotation_deg is not None else []) + ["jaw", "eyelids", "expression", "eyes"]
        default = 60.0 if "Live Link" in parse.layout else EMOTALK_FPS
        return _Parsed(motion, parse.layout, parse.fps, "", default, channels, parse.mapping + _arkit_lines(mapping), parse.warnings)
    if looks_like_flame(values):
        parsed = parse_flame(values, source, raw.kind, angle_unit)
        return _Parsed(parsed.motion, parsed.layout, parsed.fps, parsed.fps_key or "", DEFAULT_FPS, parsed.channels,
                       parsed.mapping, parsed.warnings, relative=parsed.layout.startswith("FLAP"))
    keys = ", ".join(sorted(values)[:20]) or "nothing"
    raise MotionFormatError(f"{source}: not a motion layout FLAP knows (it holds: {keys}). Supported: FLAP motion files, FLAME "
                            "parameters (DECA/EMOCA/SMIRK codedicts, EMOTE, DiffPoseTalk, FaceFormer-FLAME-style, VHAP, metrical "
                            "tracker), ARKit blendshape curves (Live Link Face CSV, Audio2Face JSON, (frames, 52) arrays) and "
                            "(frames, 120) FLAP conditions. See docs/flame.md")


def _mean_rotation(matrices: np.ndarray) -> np.ndarray:
    """Chordal mean of rotation matrices, projected back onto SO(3)."""
    u, _, vt = np.linalg.svd(matrices.mean(axis=0))
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return u @ vt


def _center_head(motion: MotionSequence) -> MotionSequence:
    rotations = axis_angle_to_matrix(motion.global_rotation)
    mean = _mean_rotation(rotations)
    return motion.replace(global_rotation=matrix_to_axis_angle(mean.T @ rotations))


def _check_fps(value: float, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise MotionFormatError(f"{name} must be a number of frames per second; got {value!r}") from None
    if not np.isfinite(value) or not 1.0 <= value <= 240.0:
        raise MotionFormatError(f"{name} must be between 1 and 240 frames per second; got {value:g}")
    return value


def import_motion(path: str | os.PathLike, target_fps: float = 25.0, num_frames: int | None = None, fit: str = FIT_MODES[0],
                  source_fps: float | None = None, center_pose: bool = True, angle_unit: str = "auto",
                  arkit_order: str = "auto", arkit_mapping: ArkitMapping = ArkitMapping()) -> tuple[MotionSequence, ImportReport]:
    """Read a motion file (or a folder of per-frame files) and return it as a MotionSequence with a report.

    target_fps: frame rate of the result.  num_frames: length to fit to (the audio's), by ``fit``: "trim" (cut, or
    leave shorter), "hold" (repeat the last frame) or "loop" (repeat from the start).  source_fps: the file's frame
    rate when the file does not say it (or says it wrongly).  center_pose: re-centre external head rotations on their
    mean so the motion moves around the portrait's own pose.  angle_unit: "auto" refuses axis-angles that only make
    sense as degrees; "degrees" converts them.  arkit_order: column order of unnamed (frames, 52) arrays.
    """
    if fit not in FIT_MODES:
        raise MotionFormatError(f"unknown fit mode '{fit}': use {', '.join(FIT_MODES)}")
    if angle_unit not in ("auto", "radians", "degrees"):
        raise MotionFormatError(f"unknown angle_unit '{angle_unit}': use auto, radians or degrees")
    target_fps = _check_fps(target_fps, "target_fps")
    if source_fps is not None:
        source_fps = _check_fps(source_fps, "source_fps")
    if num_frames is not None and int(num_frames) <= 0:
        raise MotionFormatError(f"num_frames must be at least 1; got {num_frames}")

    raw = read_any(path)
    parsed = _parse(raw, arkit_order, angle_unit, arkit_mapping, source_fps)
    warnings = list(parsed.warnings)
    mapping = list(parsed.mapping)
    if raw.per_frame_files:
        parsed.layout += f", one file per frame ({raw.per_frame_files} files)"

    if source_fps is not None:
        fps_in = source_fps
        if parsed.fps is not None and abs(parsed.fps - source_fps) > 1e-3:
            warnings.append(f"the file says {parsed.fps:g} fps; using {source_fps:g} fps as asked")
    elif parsed.fps is not None:
        fps_in = _check_fps(parsed.fps, f"{raw.source}: the frame rate in '{parsed.fps_note or 'fps'}'")
    else:
        fps_in = parsed.default_fps
        warnings.append(f"the file does not say its frame rate; assumed {fps_in:g} fps (pass source_fps to change it)")
    motion = parsed.motion.replace(fps=fps_in, meta={**parsed.motion.meta, "source": raw.source, "layout": parsed.layout})
    frames_in = motion.num_frames

    if center_pose and not parsed.relative and "head_pose" in parsed.channels:
        motion = _center_head(motion)
        mapping.append("head rotation re-centred on its mean, so the motion moves around the portrait's own pose")
    if abs(fps_in - target_fps) > 1e-6:
        motion = motion.resample(target_fps)
        mapping.append(f"resampled {fps_in:g} -> {target_fps:g} fps (same duration)")
    if num_frames is not None:
        n = int(num_frames)
        if n != motion.num_frames:
            before = motion.num_frames
            motion = motion.fit_to_length(n, fit)
            if n < before:
                mapping.append(f"trimmed to {n} frames to match the audio")
            elif fit == "trim":
                warnings.append(f"the motion is {before} frames, shorter than the audio's {n}; with fit='trim' the video ends "
                                "when the motion does (choose 'hold' or 'loop' to cover the audio)")
            else:
                mapping.append(f"extended {before} -> {n} frames by {'holding the last frame' if fit == 'hold' else 'looping'}")
    report = ImportReport(layout=parsed.layout, frames_in=frames_in, fps_in=fps_in, frames_out=motion.num_frames,
                          fps_out=motion.fps, channels=[c for c in CHANNELS if c in parsed.channels], mapping=mapping,
                          warnings=warnings, source=raw.source, fit=fit)
    motion.meta["import"] = {"layout": report.layout, "channels": report.channels, "source": raw.source}
    return motion, report
