"""Read a motion file (or a folder of per-frame files) into plain data: a flat dict of numpy arrays and scalars.

Only safe readers are used: ``np.load(allow_pickle=False)``, a restricted unpickler for pickles and object arrays
(see flap.flame.safe_pickle), ``torch.load(weights_only=True)`` for .pt files, json and csv.  Every failure becomes a
MotionFormatError that names the file and says what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flap.errors import MotionFormatError
from flap.flame.safe_pickle import UnsafePickleError, restricted_load

SUPPORTED_SUFFIXES = (".npz", ".npy", ".pkl", ".pickle", ".json", ".csv", ".pt", ".pth")
MAX_FOLDER_FILES = 100_000


@dataclass
class RawData:
    """What a file held: flattened keys ("flame/exp") -> arrays or scalars; text columns stay as string arrays."""

    values: dict[str, Any]
    source: str  # "file.npz", "folder 'frames' (120 .pkl files)"
    kind: str  # "npz", "npy", "pickle", "json", "csv", "torch", "folder"
    per_frame_files: int = 0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- helpers
def _natural_key(name: str):
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _sniff(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PK"):
        return ".npz"
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if head[:1] == b"\x80":
        return ".pkl"
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return ".json"
    return ".csv"


def _describe_bytes(data: bytes) -> str:
    head = data[:64]
    if not head:
        return "it is empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "its content is not in this format"
    if text.isprintable() or "\n" in text:
        return f"it looks like a text file (starts with {text[:24]!r})"
    return "its content is not in this format"


def _unpickle(data: bytes, source: str) -> Any:
    try:
        return restricted_load(data, allow_torch=True)
    except UnsafePickleError as exc:
        raise MotionFormatError(f"{source}: refused to load: {exc}. Save the motion as numbers only "
                                "(a dict of numpy arrays in .npz/.pkl, or .json)") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError) as exc:
        raise MotionFormatError(f"{source}: not a readable pickle ({type(exc).__name__}: {exc}); the file may be truncated") from exc


def _read_npy_bytes(data: bytes, source: str) -> Any:
    """One .npy payload: plain arrays through numpy, object arrays (e.g. np.save of a dict) through the safe unpickler."""
    if not data:
        raise MotionFormatError(f"{source}: the file is empty")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise MotionFormatError(f"{source}: not a readable .npy array ({exc}); the file may be truncated") from exc
    except (OSError, EOFError) as exc:
        raise MotionFormatError(f"{source}: not a readable .npy array ({exc})") from exc
    handle = io.BytesIO(data)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        np.lib.format.read_array_header_2_0(handle)
    else:
        np.lib.format._read_array_header(handle, version)  # noqa: SLF001 - version 3 headers
    return _unpickle(handle.read(), source)


def _read_npz(path: Path) -> dict:
    values: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if not names:
                raise MotionFormatError(f"{path.name}: the .npz archive holds no arrays")
            for name in names:
                key = name[:-4] if name.endswith(".npy") else name
                values[key] = _read_npy_bytes(archive.read(name), f"{path.name}:{key}")
    except (zipfile.BadZipFile, EOFError) as exc:
        data = path.read_bytes()
        raise MotionFormatError(f"{path.name} is not a readable .npz archive: {_describe_bytes(data)} "
                                f"or it is truncated ({exc})") from exc
    return values


def _read_torch(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise MotionFormatError(f"{path.name}: reading PyTorch files needs PyTorch; save the motion with numpy (.npz) instead") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise MotionFormatError(f"{path.name}: not a readable PyTorch file of tensors ({type(exc).__name__}: {exc})") from exc


def _is_category(item: Any) -> bool:
    return isinstance(item, dict) and ("categoryName" in item or "category_name" in item) and "score" in item


def normalize_categories(tree: Any) -> Any:
    """MediaPipe FaceLandmarker blendshapes ([{categoryName, score}, ...] per frame) -> {name: score} per frame."""
    if isinstance(tree, list) and tree and all(_is_category(x) for x in tree):
        return {str(x.get("categoryName", x.get("category_name"))): x["score"] for x in tree}
    if isinstance(tree, list):
        return [normalize_categories(x) for x in tree]
    if isinstance(tree, dict):
        return {k: normalize_categories(v) for k, v in tree.items()}
    return tree


def _read_json(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if not text.strip():
        raise MotionFormatError(f"{path.name}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MotionFormatError(f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                                "the file may be truncated") from exc


def _read_csv(path: Path) -> dict:
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise MotionFormatError(f"{path.name}: the file is empty")
    header = [cell.strip() for cell in rows[0]]
    if len(rows) < 2:
        raise MotionFormatError(f"{path.name}: the CSV has a header but no frames")
    if len(set(header)) != len(header):
        raise MotionFormatError(f"{path.name}: the CSV header repeats column names")
    columns: dict[str, list[str]] = {name: [] for name in header}
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise MotionFormatError(f"{path.name}: line {line_no} has {len(row)} values but the header has {len(header)} columns "
                                    "(a truncated or malformed row)")
        for name, cell in zip(header, row):
            columns[name].append(cell.strip())
    values: dict[str, Any] = {}
    for name, cells in columns.items():
        try:
            values[name] = np.asarray([float(c) for c in cells], dtype=np.float64)
        except ValueError:
            values[name] = np.asarray(cells)  # text column (Timecode); numeric checks happen where it is used
    return values


# ---------------------------------------------------------------------------------------------- tree flattening
def _to_array(value: Any, key: str, source: str) -> Any:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float, np.number)):
        return value
    if isinstance(value, str):
        return value
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return np.asarray(value)  # names (facsNames, control_names)
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = np.asarray(value, dtype=object)
            if array.dtype == object:
                raise MotionFormatError(f"{source}: '{key}' is not a regular numeric array (ragged rows or text)") from None
        return array
    if value is None:
        return None
    raise MotionFormatError(f"{source}: '{key}' holds a {type(value).__name__}, not numbers")


def _records_to_columns(records: list, key: str, source: str) -> dict:
    """A list of per-frame dicts -> one dict of stacked columns (keys must agree)."""
    flat_frames = [flatten(r, source) for r in records]
    keys = list(flat_frames[0])
    for i, frame in enumerate(flat_frames[1:], start=1):
        if set(frame) != set(keys):
            missing = sorted(set(keys) - set(frame))
            extra = sorted(set(frame) - set(keys))
            raise MotionFormatError(f"{source}: frame {i} of '{key or 'frames'}' has different keys than frame 0 "
                                    f"(missing {missing}, extra {extra})")
    return {k: stack_frames([f[k] for f in flat_frames], k, source) for k in keys}


def stack_frames(items: list, key: str, source: str) -> Any:
    """Stack per-frame values along a new first axis; (1, K) items lose their singleton batch axis first."""
    first = items[0]
    if not isinstance(first, np.ndarray):
        if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in items):
            values = np.asarray(items, dtype=np.float64)
            return float(values[0]) if np.all(values == values[0]) else values  # constants (fps) stay scalars
        if all(isinstance(v, str) for v in items):
            return np.asarray(items)
        raise MotionFormatError(f"{source}: '{key}' cannot be stacked across frames")
    arrays = [np.asarray(v) for v in items]
    arrays = [a[0] if a.ndim >= 2 and a.shape[0] == 1 else a for a in arrays]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise MotionFormatError(f"{source}: '{key}' changes shape between frames ({sorted(shapes)[:3]}...)")
    return np.stack(arrays)


def flatten(tree: Any, source: str, prefix: str = "") -> dict:
    """Nested dicts -> one level with '/'-joined keys; lists of dicts -> stacked columns; leaves -> arrays."""
    out: dict[str, Any] = {}
    if isinstance(tree, dict):
        for k, v in tree.items():
            key = f"{prefix}/{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, source, key))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                for sub, col in _records_to_columns(v, key, source).items():
                    out[f"{key}/{sub}"] = col
            else:
                out[key] = _to_array(v, key, source)
        return out
    if isinstance(tree, list) and tree and all(isinstance(x, dict) for x in tree):
        return {(f"{prefix}/{k}" if prefix else k): v for k, v in _records_to_columns(tree, prefix, source).items()}
    out[prefix or "array"] = _to_array(tree, prefix or "array", source)
    return out


# ---------------------------------------------------------------------------------------------- entry point
def read_file(path: Path) -> RawData:
    """Read one file (format from its extension, or sniffed when the extension is unknown)."""
    if not path.exists():
        raise MotionFormatError(f"motion file not found: {path}")
    if path.stat().st_size == 0:
        raise MotionFormatError(f"{path.name}: the file is empty")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = _sniff(path)
    if suffix == ".npz":
        return RawData(flatten(_read_npz(path), path.name), path.name, "npz")
    if suffix == ".npy":
        data = _read_npy_bytes(path.read_bytes(), path.name)
        return RawData(flatten(data, path.name) if not isinstance(data, np.ndarray) else {"array": data}, path.name, "npy")
    if suffix in (".pkl", ".pickle"):
        return RawData(flatten(_unpickle(path.read_bytes(), path.name), path.name), path.name, "pickle")
    if suffix in (".pt", ".pth"):
        return RawData(flatten(_read_torch(path), path.name), path.name, "torch")
    if suffix == ".json":
        return RawData(flatten(normalize_categories(_read_json(path)), path.name), path.name, "json")
    return RawData(_read_csv(path), path.name, "csv")


def read_folder(folder: Path) -> RawData:
    """A folder of per-frame files (DECA/EMOCA/SMIRK save one codedict per frame): natural-sorted and stacked."""
    files = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in SUPPORTED_SUFFIXES and p.suffix.lower() != ".csv"), key=lambda p: _natural_key(p.name))
    if not files:
        raise MotionFormatError(f"folder '{folder.name}' has no per-frame files ({', '.join(s for s in SUPPORTED_SUFFIXES if s != '.csv')})")
    if len(files) > MAX_FOLDER_FILES:
        raise MotionFormatError(f"folder '{folder.name}' has {len(files)} files; at most {MAX_FOLDER_FILES} frames are read")
    suffixes = {p.suffix.lower() for p in files}
    if len(suffixes) > 1:
        raise MotionFormatError(f"folder '{folder.name}' mixes file types ({', '.join(sorted(suffixes))}); keep one per-frame format")
    frames = [read_file(p).values for p in files]
    keys = list(frames[0])
    for p, frame in zip(files[1:], frames[1:]):
        if set(frame) != set(keys):
            raise MotionFormatError(f"folder '{folder.name}': {p.name} has keys {sorted(frame)} but {files[0].name} has {sorted(keys)}")
    values = {k: stack_frames([f[k] for f in frames], k, f"folder '{folder.name}'") for k in keys}
    return RawData(values, f"folder '{folder.name}' ({len(files)} {files[0].suffix} files)", "folder", per_frame_files=len(files))


def read_any(path: str | Path) -> RawData:
    path = Path(path)
    if path.is_dir():
        return read_folder(path)
    return read_file(path)
