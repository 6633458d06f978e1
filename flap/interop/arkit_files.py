"""ARKit blendshape files -> curves: Live Link Face CSV, Audio2Face/JSON exports, MediaPipe blendshape lists, and
unnamed (T, 52) arrays (EmoTalk), with timing read from timecodes, time columns or fps entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from flap.errors import MotionFormatError
from flap.interop.arkit import ARKIT_NAMES, ArkitMapping, guess_column_order, lookup_name, reorder
from flap.interop.flame_layouts import FPS_KEYS, TIME_KEYS, find_scalar, leaf

MIN_NAMED_COLUMNS = 8
NAME_LIST_KEYS = ("facsnames", "names", "blendshape_names", "blendshapenames", "shape_names", "blendshape_keys", "channels")
MATRIX_KEYS = ("weightmat", "weights", "values", "frames", "blendshapes", "data", "curves", "bs", "blendshape_weights")
HEAD_COLUMNS = ("headyaw", "headpitch", "headroll")
EYE_COLUMNS = ("lefteyeyaw", "lefteyepitch", "righteyeyaw", "righteyepitch")
STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 100.0, 120.0)


@dataclass
class ArkitParse:
    curves: np.ndarray  # (T, 52), ARKIT_NAMES order, uniform in time at fps (when known)
    layout: str
    fps: float | None
    head_rotation_deg: np.ndarray | None = None
    eye_rotation_deg: np.ndarray | None = None
    mapping: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    times: np.ndarray | None = None  # seconds per row when the file has them (possibly uneven)


def _named_columns(values: dict) -> dict[int, str]:
    return {idx: key for key in values if (idx := lookup_name(key)) is not None and np.asarray(values[key]).ndim <= 1}


def looks_like_arkit(values: dict) -> bool:
    if len(_named_columns(values)) >= MIN_NAMED_COLUMNS:
        return True
    return _names_and_matrix(values) is not None


def _names_and_matrix(values: dict) -> tuple[str, list[str], str, np.ndarray] | None:
    names_key = next((k for k in values if leaf(k) in NAME_LIST_KEYS and np.asarray(values[k]).dtype.kind in "US"), None)
    if names_key is None:
        return None
    names = [str(n) for n in np.asarray(values[names_key]).reshape(-1)]
    if sum(lookup_name(n) is not None for n in names) < MIN_NAMED_COLUMNS:
        return None
    matrix_key = next((k for k in values if leaf(k) in MATRIX_KEYS and np.asarray(values[k]).ndim == 2
                       and np.asarray(values[k]).dtype.kind in "fiu"), None)
    if matrix_key is None:
        raise MotionFormatError(f"'{names_key}' names {len(names)} blendshapes but there is no (frames, {len(names)}) weight matrix "
                                f"(looked for {', '.join(MATRIX_KEYS)})")
    matrix = np.asarray(values[matrix_key], dtype=np.float64)
    if matrix.shape[1] != len(names):
        if matrix.shape[0] == len(names):
            matrix = matrix.T
        else:
            raise MotionFormatError(f"'{matrix_key}' has shape {matrix.shape} but '{names_key}' names {len(names)} blendshapes")
    return names_key, names, matrix_key, matrix


_TIMECODE = re.compile(r"^(\d+):(\d+):(\d+)[:;](\d+)(?:\.(\d+))?$")


def parse_timecodes(codes: np.ndarray, source: str, app_fps: float | None) -> tuple[np.ndarray, float]:
    """Live Link Face 'HH:MM:SS:FF.sub' -> seconds (relative to the first row) and the timecode's frame rate."""
    parts = []
    for i, code in enumerate(codes):
        m = _TIMECODE.match(str(code).strip())
        if not m:
            raise MotionFormatError(f"{source}: row {i + 1} has Timecode '{code}'; expected HH:MM:SS:FF or HH:MM:SS:FF.sub")
        h, mi, s, ff = (int(m.group(j)) for j in range(1, 5))
        sub = float("0." + m.group(5)) if m.group(5) else 0.0
        parts.append((h * 3600 + mi * 60 + s, ff + sub))
    seconds = np.array([p[0] for p in parts], dtype=np.float64)
    frames = np.array([p[1] for p in parts], dtype=np.float64)
    if app_fps is None:
        top = float(np.floor(frames.max())) + 1
        if np.ptp(seconds) >= 1:  # a full second seen: the frame counter wraps at the rate
            app_fps = min(STANDARD_RATES, key=lambda r: abs(r - top))
        else:  # shorter clips: the smallest standard rate that fits the largest frame number
            app_fps = next((r for r in STANDARD_RATES if r >= top), top)
    times = seconds + frames / app_fps
    return times - times[0], app_fps


def _uniform(curves: np.ndarray, times: np.ndarray, extra: list[np.ndarray | None], source: str) -> tuple[np.ndarray, float, list]:
    """Rows at (possibly uneven) times -> uniform rows at the median row rate."""
    if len(times) < 2:
        return curves, None, extra
    dt = np.diff(times)
    if np.any(dt <= 0):
        i = int(np.argmax(dt <= 0)) + 1
        raise MotionFormatError(f"{source}: the time of row {i + 1} does not increase (rows out of order or repeated)")
    step = float(np.median(dt))
    fps = 1.0 / step
    near = min(STANDARD_RATES, key=lambda r: abs(r - fps))
    if abs(near - fps) / near < 0.02:
        fps, step = near, 1.0 / near
    if np.allclose(dt, step, rtol=0.05):
        return curves, fps, extra
    grid = np.arange(0.0, times[-1] + 1e-9, step)

    def interp(a):
        if a is None:
            return None
        flat = a.reshape(len(times), -1)
        return np.stack([np.interp(grid, times, flat[:, j]) for j in range(flat.shape[1])], axis=1).reshape((len(grid),) + a.shape[1:])

    return interp(curves), fps, [interp(e) for e in extra]


def _rotation_scale(array: np.ndarray, name: str, mapping: ArkitMapping, warnings: list[str]) -> np.ndarray:
    """Live Link Face rotations are normalised (1 = 90 degrees); files that hold degrees are recognised by range."""
    biggest = float(np.abs(array).max(initial=0.0))
    if biggest > 1.6:
        warnings.append(f"{name} values reach {biggest:.1f}: read as degrees, not Live Link Face's normalised units")
        return array
    return array * mapping.rotation_unit_deg


def parse_arkit(values: dict, source: str, kind: str, mapping: ArkitMapping, use_times: bool = True) -> ArkitParse:
    """Named ARKit curves -> ArkitParse.  use_times=False ignores timecodes/time columns (rows taken as uniform)."""
    warnings: list[str] = []
    lines: list[str] = []
    named = _names_and_matrix(values)
    if named is not None:
        names_key, names, matrix_key, matrix = named
        curves = np.zeros((matrix.shape[0], len(ARKIT_NAMES)))
        unknown = []
        for j, name in enumerate(names):
            idx = lookup_name(name)
            if idx is None:
                unknown.append(name)
            else:
                curves[:, idx] = matrix[:, j]
        if unknown:
            lines.append(f"{len(unknown)} non-ARKit channels ignored ({', '.join(unknown[:6])}{'...' if len(unknown) > 6 else ''})")
        fps = find_scalar(values, FPS_KEYS)[0]
        layout = "Audio2Face blendshape JSON (facsNames, weightMat)" if leaf(names_key) == "facsnames" else "ARKit curves (names + weight matrix)"
        found = {lookup_name(n) for n in names} - {None}
        times = None
    else:
        columns = _named_columns(values)
        lengths = {np.asarray(values[k]).reshape(-1).shape[0] for k in columns.values()}
        if len(lengths) != 1:
            raise MotionFormatError(f"{source}: the blendshape columns have different lengths ({sorted(lengths)})")
        t = lengths.pop()
        curves = np.zeros((t, len(ARKIT_NAMES)))
        for idx, key in columns.items():
            column = np.asarray(values[key])
            if column.dtype.kind not in "fiu":
                raise MotionFormatError(f"{source}: column '{key}' must hold numbers; found text such as '{column.reshape(-1)[0]}'")
            curves[:, idx] = column.reshape(-1)
        found = set(columns)
        fps = find_scalar(values, FPS_KEYS)[0]
        lower = {leaf(k): k for k in values}
        times = None
        if "timecode" in lower:
            layout = "ARKit Live Link Face CSV" if kind == "csv" else "ARKit curves with Live Link Face timecodes"
            if use_times:
                times, app_fps = parse_timecodes(np.asarray(values[lower["timecode"]]).reshape(-1), source, None)
                lines.append(f"Timecode -> row times (timecode frame rate {app_fps:g})")
        else:
            layout = {"csv": "ARKit blendshape CSV", "json": "ARKit blendshape JSON"}.get(kind, "ARKit blendshape curves")
            time_key = next((lower[k] for k in TIME_KEYS if k in lower), None)
            if use_times and time_key is not None and np.asarray(values[time_key]).dtype.kind in "fiu":
                times = np.asarray(values[time_key], dtype=np.float64).reshape(-1)
                if len(times) > 1 and np.median(np.diff(times)) >= 1.0:  # milliseconds: frames are never a second apart
                    times = times / 1000.0
                times = times - times[0]
                lines.append(f"{time_key} -> row times (seconds)")
        head = None
        if all(h in lower for h in HEAD_COLUMNS):
            head = np.stack([np.asarray(values[lower[h]], dtype=np.float64).reshape(-1) for h in HEAD_COLUMNS], axis=1)
            head = _rotation_scale(head, "HeadYaw/HeadPitch/HeadRoll", mapping, warnings)
            lines.append(f"HeadYaw, HeadPitch, HeadRoll (x {mapping.rotation_unit_deg:g} degrees) -> head rotation (yaw, pitch, roll)")
        eyes = None
        if all(e in lower for e in EYE_COLUMNS):
            raw = np.stack([np.asarray(values[lower[e]], dtype=np.float64).reshape(-1) for e in EYE_COLUMNS], axis=1)
            if np.any(raw != 0):
                eyes = _rotation_scale(raw, "eye rotation columns", mapping, warnings).reshape(-1, 2, 2)
                lines.append("LeftEyeYaw/Pitch, RightEyeYaw/Pitch -> eye rotations (instead of eyeLook* curves)")
        if times is not None:
            curves, fps_from_times, (head, eyes) = _uniform(curves, times, [head, eyes], source)
            if fps_from_times is not None and fps is None:
                fps = fps_from_times
        missing = [ARKIT_NAMES[i] for i in range(len(ARKIT_NAMES)) if i not in found]
        if missing:
            warnings.append(f"{len(missing)} of the 52 ARKit curves are missing and read as zero ({', '.join(missing[:5])}"
                            f"{'...' if len(missing) > 5 else ''})")
        parse = ArkitParse(curves, layout, fps, head, eyes, lines, warnings, times)
        _check_range(parse, source)
        return parse
    parse = ArkitParse(curves, layout, fps, None, None, lines, warnings)
    _check_range(parse, source)
    return parse


def parse_unnamed(curves: np.ndarray, source: str, order: str = "auto") -> ArkitParse:
    """An unnamed (T, 52) array: Apple's order or alphabetical (EmoTalk), told apart by left/right correlation."""
    warnings, lines = [], []
    if order == "auto":
        name, columns, score, other = guess_column_order(curves)
        if abs(score - other) < 0.1:
            warnings.append(f"the column order of the (frames, 52) array is uncertain; read as {name} order "
                            "(pass arkit_order='apple' or 'alphabetical' to choose)")
    elif order in ("apple", "alphabetical", "livelinkface"):
        from flap.interop.arkit import ALPHABETICAL_ORDER, LIVE_LINK_FACE_ORDER

        name, columns = order, {"apple": ARKIT_NAMES, "alphabetical": ALPHABETICAL_ORDER, "livelinkface": LIVE_LINK_FACE_ORDER}[order]
    else:
        raise MotionFormatError(f"unknown arkit_order '{order}': use auto, apple, alphabetical or livelinkface")
    lines.append(f"(frames, 52) columns read in {name} order" + (" (EmoTalk writes this order)" if name == "alphabetical" else ""))
    parse = ArkitParse(reorder(curves, columns), "ARKit 52-blendshape array (frames, 52)", None, mapping=lines, warnings=warnings)
    _check_range(parse, source)
    return parse


def _check_range(parse: ArkitParse, source: str) -> None:
    c = parse.curves
    bad = ~np.isfinite(c)
    if bad.any():
        frame, col = (int(v) for v in np.argwhere(bad)[0])
        raise MotionFormatError(f"{source}: blendshape '{ARKIT_NAMES[col]}' contains NaN or Inf (first at frame {frame})")
    if c.shape[0] == 0:
        raise MotionFormatError(f"{source}: the file has no frames")
    lo, hi = float(c.min()), float(c.max())
    if hi > 1.5 and hi <= 100.0 and lo >= 0:
        parse.curves = c / 100.0
        parse.warnings.append(f"blendshape values reach {hi:.0f}: read as percentages (0-100) and divided by 100")
    elif lo < -0.1 or hi > 1.1:
        parse.warnings.append(f"blendshape values range {lo:.2f}..{hi:.2f}; ARKit weights are 0..1, values were clipped")
