"""The FLAME head model as plain numpy arrays (no chumpy, no torch), with its sizes detected and checked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from flap.errors import EngineUnavailableError

#: FLAME's joints in smplx order; eye_pose is left eye then right eye (the subject's left).
JOINT_NAMES = ("global", "neck", "jaw", "left_eye", "right_eye")
NUM_JOINTS = 5
#: Releases (2017, 2020, 2023) carry 300 shape + 100 expression components in one 400-column shapedirs.
RELEASE_SHAPE = 300
RELEASE_EXPRESSION = 100


@dataclass
class FlameModel:
    """FLAME in numpy.  Units are metres; +x is the subject's left, +y up, +z out of the face.

    shapedirs holds identity components first, then expression components (``n_shape`` + ``n_exp`` columns).
    eyelid_dirs: optional (V, 3, 2) eyelid blendshapes (left, right) as used by SMIRK/metrical trackers.
    """

    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, n_shape + n_exp)
    posedirs: np.ndarray  # (V, 3, 36): pose-corrective blendshapes for (R - I) of joints 1..4
    J_regressor: np.ndarray  # (5, V) dense
    weights: np.ndarray  # (V, 5) skinning weights
    kintree_table: np.ndarray  # (2, 5): parents (first row), joint ids
    faces: np.ndarray  # (F, 3) int
    n_shape: int
    n_exp: int
    eyelid_dirs: np.ndarray | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def parents(self) -> np.ndarray:
        """Parent joint of each joint (-1 for the root)."""
        parents = self.kintree_table[0].astype(np.int64).copy()
        parents[0] = -1
        return parents

    @property
    def shape_dirs(self) -> np.ndarray:
        return self.shapedirs[:, :, : self.n_shape]

    @property
    def expression_dirs(self) -> np.ndarray:
        return self.shapedirs[:, :, self.n_shape : self.n_shape + self.n_exp]

    def fingerprint(self) -> str:
        """Stable id of this model's geometry (template, faces, expression basis): the key of derived caches."""
        digest = hashlib.sha1()
        for array in (self.v_template, self.faces, self.expression_dirs, self.weights):
            digest.update(np.ascontiguousarray(array, dtype=np.float32 if array.dtype.kind == "f" else np.int64).tobytes())
        return digest.hexdigest()[:16]

    def vertex_joint(self) -> np.ndarray:
        """(V,) the joint that each vertex follows most."""
        return np.argmax(self.weights, axis=1)


def build_model(data: dict, source: str = "", n_exp: int | None = None) -> FlameModel:
    """Check a dict in FLAME's layout (as read from the .pkl or an .npz) and build a :class:`FlameModel`.

    Raises EngineUnavailableError naming the missing or malformed entry, since a broken model file means the
    FLAME features cannot run (the message says what the file should contain).
    """

    def fail(message: str) -> EngineUnavailableError:
        return EngineUnavailableError(f"the FLAME model file {source or ''} is not usable: {message}. "
                                      "Use FLAME 2020 generic_model.pkl or FLAME 2023 flame2023.pkl from https://flame.is.tue.mpg.de "
                                      "(see docs/flame.md)")

    def get(*names: str, required: bool = True):
        for name in names:
            if name in data and data[name] is not None:
                if hasattr(data[name], "chumpy_class"):
                    raise fail(f"'{name}' is a computed chumpy expression ({data[name].chumpy_class}), not stored numbers")
                return data[name]
        if required:
            raise fail(f"it has no '{names[0]}' entry")
        return None

    def as_float(name: str, value) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise fail(f"'{name}' is not numeric") from None
        if not np.all(np.isfinite(array)):
            raise fail(f"'{name}' contains NaN or Inf")
        return array

    v_template = as_float("v_template", get("v_template"))
    if v_template.ndim != 2 or v_template.shape[1] != 3 or v_template.shape[0] < 4:
        raise fail(f"'v_template' must be (vertices, 3); got {v_template.shape}")
    num_v = v_template.shape[0]
    faces = np.asarray(get("f", "faces"))
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise fail(f"'f' must be (faces, 3) integers; got {faces.shape} {faces.dtype}")
    faces = faces.astype(np.int64)
    if faces.min(initial=0) < 0 or faces.max(initial=0) >= num_v:
        raise fail("'f' refers to vertices that do not exist")
    shapedirs = as_float("shapedirs", get("shapedirs"))
    if shapedirs.ndim != 3 or shapedirs.shape[:2] != (num_v, 3):
        raise fail(f"'shapedirs' must be ({num_v}, 3, components); got {shapedirs.shape}")
    posedirs = as_float("posedirs", get("posedirs"))
    if posedirs.shape != (num_v, 3, 36):
        raise fail(f"'posedirs' must be ({num_v}, 3, 36); got {posedirs.shape}")
    j_regressor = as_float("J_regressor", get("J_regressor"))
    if j_regressor.shape != (NUM_JOINTS, num_v):
        raise fail(f"'J_regressor' must be ({NUM_JOINTS}, {num_v}); got {j_regressor.shape}")
    weights = as_float("weights", get("weights"))
    if weights.shape != (num_v, NUM_JOINTS):
        raise fail(f"'weights' must be ({num_v}, {NUM_JOINTS}); got {weights.shape}")
    kintree = get("kintree_table", required=False)
    kintree = np.array([[-1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]) if kintree is None else np.asarray(kintree).astype(np.int64)
    if kintree.shape != (2, NUM_JOINTS):
        raise fail(f"'kintree_table' must be (2, {NUM_JOINTS}); got {kintree.shape}")
    parents = kintree[0].copy()
    parents[0] = -1
    if any(not (0 <= parents[j] < j) for j in range(1, NUM_JOINTS)):
        raise fail("'kintree_table' does not describe a tree with parents before children")

    total = shapedirs.shape[2]
    if n_exp is None:
        n_exp = RELEASE_EXPRESSION if total >= 2 * RELEASE_EXPRESSION else total // 2
    if not 0 < n_exp < total:
        raise fail(f"cannot split {total} shapedirs components into shape and {n_exp} expression components")
    eyelids = data.get("eyelid_dirs")
    if eyelids is not None:
        eyelids = as_float("eyelid_dirs", eyelids)
        if eyelids.shape != (num_v, 3, 2):
            raise fail(f"'eyelid_dirs' must be ({num_v}, 3, 2); got {eyelids.shape}")
    return FlameModel(
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        J_regressor=j_regressor,
        weights=weights,
        kintree_table=kintree,
        faces=faces,
        n_shape=total - n_exp,
        n_exp=n_exp,
        eyelid_dirs=eyelids,
        source=source,
    )
