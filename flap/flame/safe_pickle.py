"""Restricted unpickling: read numpy data out of pickles without running code from the file.

Why: FLAME's ``generic_model.pkl`` is a Python-2 pickle of chumpy objects (chumpy does not work with numpy 2), and
motion files from DECA/EMOCA/SMIRK users are often pickles.  ``pickle.load`` would import and call whatever a file
names, so we resolve only an allow-list: numpy's array rebuilding, a few builtins, scipy sparse matrices and chumpy
objects (both through small shims that keep only their arrays), and optionally PyTorch tensors (through torch's own
weights-only loader).  Anything else raises :class:`UnsafePickleError` naming the refused global.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from typing import Any, BinaryIO

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list (code we refuse to run)."""


class ChumpyShim:
    """Stand-in for chumpy's ``Ch`` objects: keeps the pickled state; :func:`resolve` turns it into an array."""

    chumpy_class = "Ch"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_array(self) -> np.ndarray:
        state = getattr(self, "state", None)
        if isinstance(state, dict) and "x" in state:
            return np.asarray(resolve(state["x"]))
        raise pickle.UnpicklingError(
            f"a chumpy '{self.chumpy_class}' object holds a computed expression, not plain data; "
            "convert the file once with chumpy (x.r) or use the FLAME 2020/2023 release files")


class SparseShim:
    """Stand-in for scipy sparse matrices (csc/csr/coo) pickled by any scipy version; becomes a dense array."""

    sparse_format = "csc"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_array(self) -> np.ndarray:
        state = self.state if isinstance(self.state, dict) else {}
        shape = tuple(int(v) for v in state.get("_shape", state.get("shape", ())))
        if len(shape) != 2:
            raise pickle.UnpicklingError("a pickled sparse matrix has no usable shape")
        from scipy import sparse

        fmt = self.sparse_format
        if fmt == "coo":
            rows = state.get("row", state.get("coords", (None, None))[0] if "coords" in state else None)
            cols = state.get("col", state.get("coords", (None, None))[1] if "coords" in state else None)
            matrix = sparse.coo_matrix((np.asarray(state["data"]), (np.asarray(rows), np.asarray(cols))), shape=shape)
        else:
            cls = sparse.csc_matrix if fmt == "csc" else sparse.csr_matrix
            matrix = cls((np.asarray(state["data"]), np.asarray(state["indices"]), np.asarray(state["indptr"])), shape=shape)
        return np.asarray(matrix.todense())


def _shim_class(base: type, attr: str, value: str) -> type:
    return type(f"{base.__name__}_{value}", (base,), {attr: value})


_CHUMPY_MODULES = ("chumpy", "chumpy.ch", "chumpy.ch_ops", "chumpy.reordering", "chumpy.linalg", "chumpy.utils", "chumpy.logic")
_SPARSE_MODULES = ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse.csr", "scipy.sparse.coo", "scipy.sparse._csc",
                   "scipy.sparse._csr", "scipy.sparse._coo", "scipy.sparse.compressed", "scipy.sparse._compressed")
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "float64"), ("numpy", "float32"), ("numpy", "int64"),
    ("numpy", "int32"), ("numpy", "uint32"), ("numpy", "bool_"),
}
_BUILTINS = {"set", "frozenset", "object", "slice", "complex", "bytearray", "list", "dict", "tuple", "int", "float", "str", "bool"}
_TORCH_GLOBALS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"), ("torch.storage", "_load_from_bytes"),
                  ("torch._utils", "_rebuild_parameter"), ("torch", "FloatStorage"), ("torch", "DoubleStorage"),
                  ("torch", "LongStorage"), ("torch", "IntStorage"), ("torch", "HalfStorage"), ("torch", "Size")}


def _torch_load_from_bytes(data: bytes):
    import torch

    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals (see module docstring)."""

    def __init__(self, file: BinaryIO, *, allow_chumpy: bool = False, allow_sparse: bool = False, allow_torch: bool = False):
        super().__init__(file, encoding="latin1")
        self.allow_chumpy = allow_chumpy
        self.allow_sparse = allow_sparse
        self.allow_torch = allow_torch
        self.used_torch = False

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name in _BUILTINS:
            import builtins

            return getattr(builtins, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles from Python 3 store bytes
            import codecs

            return codecs.encode
        if module == "collections" and name == "OrderedDict":
            from collections import OrderedDict

            return OrderedDict
        if (module, name) in _NUMPY_GLOBALS:
            target = module.replace("numpy.core", "numpy._core")
            mod = __import__(target, fromlist=[name])
            return getattr(mod, name)
        if module.startswith("numpy") and name == "dtype":
            return np.dtype
        if self.allow_chumpy and (module in _CHUMPY_MODULES or module.startswith("chumpy.")):
            return _shim_class(ChumpyShim, "chumpy_class", name)
        if self.allow_sparse and module in _SPARSE_MODULES and name in ("csc_matrix", "csr_matrix", "coo_matrix"):
            return _shim_class(SparseShim, "sparse_format", name[:3])
        if (module, name) in _TORCH_GLOBALS:
            if not self.allow_torch:
                raise UnsafePickleError("the pickle holds PyTorch tensors")
            try:
                import torch  # noqa: F401
            except ImportError:
                raise UnsafePickleError("the pickle holds PyTorch tensors but PyTorch is not installed here; "
                                        "save the arrays with numpy (tensor.cpu().numpy(), np.savez)") from None
            self.used_torch = True
            if name == "_load_from_bytes":
                return _torch_load_from_bytes
            mod = __import__(module, fromlist=[name])
            return getattr(mod, name)
        raise UnsafePickleError(f"the pickle refers to '{module}.{name}', which FLAP does not load "
                                "(only numpy arrays, plain Python containers, scipy sparse and chumpy data are read)")


def resolve(obj: Any) -> Any:
    """Replace shims and tensors by numpy arrays, recursively through dicts, lists and tuples."""
    if isinstance(obj, ChumpyShim):
        # Plain chumpy arrays become numpy; computed expressions stay shims, so only a key that is used fails.
        return obj.to_array() if isinstance(getattr(obj, "state", None), dict) and "x" in obj.state else obj
    if isinstance(obj, SparseShim):
        return obj.to_array()
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        return resolve(obj.item()) if obj.ndim == 0 else [resolve(v) for v in obj.tolist()]
    if isinstance(obj, dict):
        return {(k.decode("latin1") if isinstance(k, bytes) else k): resolve(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(resolve(v) for v in obj) if isinstance(obj, list) else tuple(resolve(v) for v in obj)
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        return obj.detach().cpu().numpy()
    return obj


def restricted_load(data: bytes | BinaryIO, *, allow_chumpy: bool = False, allow_sparse: bool = False,
                    allow_torch: bool = False) -> Any:
    """Unpickle ``data`` (bytes or a binary file) with the allow-list and return plain Python + numpy objects."""
    file = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    unpickler = RestrictedUnpickler(file, allow_chumpy=allow_chumpy, allow_sparse=allow_sparse, allow_torch=allow_torch)
    return resolve(unpickler.load())
