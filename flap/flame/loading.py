"""Find and load the user's FLAME model file (FLAME's licence forbids shipping it with FLAP).

Where it comes from, in order: the ``path`` argument; ``FLAP_FLAME_MODEL`` (a file); ``FLAP_FLAME_REPO`` (a private
Hugging Face hub repo, file name in ``FLAP_FLAME_FILE``, default ``generic_model.pkl``, token from ``HF_TOKEN``).
Optional eyelid blendshapes (``l_eyelid.npy`` and ``r_eyelid.npy``, as SMIRK ships them) are picked up from the
model's folder or from ``FLAP_FLAME_EYELIDS`` (a folder).
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np

from flap.errors import EngineUnavailableError
from flap.flame.model import FlameModel, build_model
from flap.flame.safe_pickle import restricted_load
from flap.settings import settings

ENV_MODEL = "FLAP_FLAME_MODEL"
ENV_REPO = "FLAP_FLAME_REPO"
ENV_FILE = "FLAP_FLAME_FILE"
ENV_EYELIDS = "FLAP_FLAME_EYELIDS"
DEFAULT_HUB_FILE = "generic_model.pkl"

HOW_TO = ("FLAME's licence does not allow FLAP to ship it: register at https://flame.is.tue.mpg.de, download "
          "FLAME 2020 (generic_model.pkl) or FLAME 2023 (flame2023.pkl), then set FLAP_FLAME_MODEL=/path/to/the.pkl, "
          "or put the file in a private Hugging Face repo and set FLAP_FLAME_REPO=<user>/<repo> (plus FLAP_FLAME_FILE "
          "and HF_TOKEN). See docs/flame.md.")

_cache: dict[tuple, FlameModel] = {}
_lock = threading.Lock()


def flame_model_configured() -> bool:
    """True when a model path or hub repo is configured (the file itself is checked only on load)."""
    s = settings()
    return bool((s.flame_model and Path(s.flame_model).expanduser().is_file()) or s.flame_repo)


def read_model_file(path: str | os.PathLike, n_exp: int | None = None) -> FlameModel:
    """Read a FLAME .pkl (2017/2020/2023, with or without chumpy objects) or an .npz with the same keys."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise EngineUnavailableError(f"FLAME model file not found: {path}. {HOW_TO}")
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                data = {key: npz[key] for key in npz.files}
        else:
            with open(path, "rb") as handle:
                data = restricted_load(handle, allow_chumpy=True, allow_sparse=True)
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, KeyError, AttributeError, TypeError, ImportError) as exc:
        raise EngineUnavailableError(f"cannot read the FLAME model file {path.name}: {exc}. {HOW_TO}") from exc
    if not isinstance(data, dict):
        raise EngineUnavailableError(f"{path.name} is not a FLAME model (it holds a {type(data).__name__}, not a dict). {HOW_TO}")
    if "eyelid_dirs" not in data:
        data = dict(data)
        data["eyelid_dirs"] = _find_eyelids(path.parent, len(np.asarray(data.get("v_template", np.zeros((0, 3))))))
    model = build_model(data, source=str(path), n_exp=n_exp)
    return model


def _find_eyelids(folder: Path, num_vertices: int) -> np.ndarray | None:
    eyelids = settings().flame_eyelids
    for base in [Path(eyelids).expanduser()] if eyelids else [folder]:
        left, right = base / "l_eyelid.npy", base / "r_eyelid.npy"
        if left.is_file() and right.is_file():
            try:
                lids = np.stack([np.load(left, allow_pickle=False), np.load(right, allow_pickle=False)], axis=-1)
            except (ValueError, OSError):
                return None
            if lids.shape == (num_vertices, 3, 2):
                return lids
    return None


def _download_from_hub() -> Path:
    s = settings()
    repo, filename, token = s.flame_repo, s.flame_file or DEFAULT_HUB_FILE, s.hf_token
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise EngineUnavailableError(f"{ENV_REPO} is set but huggingface_hub is not installed (pip install huggingface_hub). {HOW_TO}") from None
    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, token=token))
    except Exception as exc:  # network, auth, missing file: all mean "not available", with the reason
        raise EngineUnavailableError(f"cannot fetch '{filename}' from the hub repo '{repo}' ({type(exc).__name__}: {exc}). "
                                     f"Check {ENV_REPO}, {ENV_FILE} and HF_TOKEN (the repo is private, so a token with read access is needed). "
                                     "See docs/flame.md.") from exc


def resolve_model_path(path: str | os.PathLike | None = None) -> Path:
    """The model file to use (downloading it from the hub if that is how it is configured)."""
    if path is not None:
        return Path(path).expanduser()
    s = settings()
    if s.flame_model:
        return Path(s.flame_model).expanduser()
    if s.flame_repo:
        return _download_from_hub()
    raise EngineUnavailableError(f"no FLAME model is configured. {HOW_TO}")


def load_flame_model_if_configured() -> FlameModel | None:
    """The model when one is configured (None when not: callers then show expression_status's note).  A configured
    but unusable model still raises EngineUnavailableError, so a wrong path is reported rather than ignored."""
    if not settings().flame_model and not settings().flame_repo:
        return None
    return load_flame_model()


def load_flame_model(path: str | os.PathLike | None = None, n_exp: int | None = None) -> FlameModel:
    """Load (once per file version) the FLAME model from ``path`` or the environment; see the module docstring.

    Raises EngineUnavailableError with a how-to when no model is configured or the file cannot be used.
    """
    resolved = resolve_model_path(path)
    if not resolved.is_file():
        raise EngineUnavailableError(f"FLAME model file not found: {resolved}. {HOW_TO}")
    stat = resolved.stat()
    key = (str(resolved.resolve()), stat.st_mtime_ns, stat.st_size, n_exp, settings().flame_eyelids)
    with _lock:
        if key not in _cache:
            _cache.clear()  # one model at a time: the arrays are ~60 MB
            _cache[key] = read_model_file(resolved, n_exp=n_exp)
        return _cache[key]
