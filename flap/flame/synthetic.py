"""A small stand-in with FLAME's exact file structure, built from the (Apache-2.0) canonical face: no FLAME data.

Why: FLAME cannot be shipped, yet the loader, the skinning maths, the MediaPipe correspondence and the renderer's
use of expression offsets must be testable (and demonstrable) without it.  The face part is the canonical mesh in
metres under a known transform, so a correct correspondence must find it exactly; a back-of-head shell and two
eyeballs complete the structure; bases are smooth random fields.  ``write_flame_pickle`` writes it the way the
FLAME release is written (chumpy objects, a sparse J_regressor) without needing chumpy.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import types
from pathlib import Path

import numpy as np

from flap.flame.canonical import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, load_canonical_face
from flap.motion.rotations import axis_angle_to_matrix

#: canonical (cm) = 100 * SYNTHETIC_ROTATION.T @ (flame - SYNTHETIC_OFFSET); i.e. flame = R @ canonical / 100 + offset.
SYNTHETIC_ROTATION = axis_angle_to_matrix(np.array([0.04, -0.02, 0.01]))
SYNTHETIC_OFFSET = np.array([0.002, -0.015, -0.04])


def _sphere(center: np.ndarray, radius: float, rings: int = 5, segments: int = 8) -> tuple[np.ndarray, np.ndarray]:
    verts = [center + [0, 0, radius]]
    for i in range(1, rings):
        theta = np.pi * i / rings
        for j in range(segments):
            phi = 2 * np.pi * j / segments
            verts.append(center + radius * np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]))
    verts.append(center - [0, 0, radius])
    faces = []
    for j in range(segments):
        faces.append([0, 1 + j, 1 + (j + 1) % segments])
    for i in range(rings - 2):
        a, b = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            j2 = (j + 1) % segments
            faces += [[a + j, b + j, b + j2], [a + j, b + j2, a + j2]]
    last = len(verts) - 1
    base = 1 + (rings - 2) * segments
    for j in range(segments):
        faces.append([base + j, last, base + (j + 1) % segments])
    return np.asarray(verts), np.asarray(faces)


def _shell(rows: int = 8, cols: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """Back half of an ellipsoid behind the face (cm, canonical frame)."""
    verts = []
    for i in range(rows):
        y = -12.0 + 22.0 * i / (rows - 1)
        for j in range(cols):
            phi = np.pi * (0.05 + 0.9 * j / (cols - 1))
            verts.append([8.0 * np.cos(phi), y, -2.5 - 9.0 * np.sin(phi)])
    faces = []
    for i in range(rows - 1):
        for j in range(cols - 1):
            a, b = i * cols + j, (i + 1) * cols + j
            faces += [[a, a + 1, b], [a + 1, b + 1, b]]
    return np.asarray(verts), np.asarray(faces)


def make_synthetic_flame(seed: int = 0, n_shape: int = 300, n_exp: int = 100) -> dict:
    """A dict in FLAME's pickle layout (numpy arrays; see module docstring).  Vertices 0..467 are the face."""
    rng = np.random.default_rng(seed)
    face_v, face_f = load_canonical_face()
    shell_v, shell_f = _shell()
    eyes = []
    for corners in (LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS):  # FLAME joint order: left eye, right eye
        center = face_v[list(corners)].mean(axis=0) - [0, 0, 1.3]
        eyes.append(_sphere(center, 1.2))
    parts_v = [face_v, shell_v, eyes[0][0], eyes[1][0]]
    parts_f = [face_f, shell_f, eyes[0][1], eyes[1][1]]
    offsets = np.cumsum([0] + [len(v) for v in parts_v])
    canonical = np.concatenate(parts_v)
    faces = np.concatenate([f + o for f, o in zip(parts_f, offsets[:-1])]).astype(np.uint32)
    num_v = len(canonical)
    in_face = np.arange(num_v) < offsets[1]
    in_left_eye = (np.arange(num_v) >= offsets[2]) & (np.arange(num_v) < offsets[3])
    in_right_eye = np.arange(num_v) >= offsets[3]

    # Skinning: lower face follows the jaw (smoothly), eyeballs their eye joint, the rest the neck, the shell bottom the root.
    weights = np.zeros((num_v, 5))
    mouth_y = face_v[[13, 14], 1].mean()
    jaw = np.clip((mouth_y + 0.5 - canonical[:, 1]) / 2.0, 0.0, 1.0) * in_face
    root = np.clip((-9.0 - canonical[:, 1]) / 3.0, 0.0, 1.0) * ~in_face
    weights[:, 2] = jaw
    weights[:, 0] = root
    weights[:, 1] = 1.0 - jaw - root
    weights[in_left_eye] = [0, 0, 0, 1, 0]
    weights[in_right_eye] = [0, 0, 0, 0, 1]

    # Joint regressor: averages of vertex groups (like FLAME's sparse J_regressor rows).
    j_reg = np.zeros((5, num_v))
    groups = [np.nonzero(root > 0.5)[0], np.nonzero(~in_face & (np.abs(canonical[:, 1] + 6.0) < 3.0))[0],
              np.array([93, 323, 132, 361]), np.nonzero(in_left_eye)[0], np.nonzero(in_right_eye)[0]]
    for j, ids in enumerate(groups):
        j_reg[j, ids] = 1.0 / len(ids)

    flame_v = canonical / 100.0 @ SYNTHETIC_ROTATION.T + SYNTHETIC_OFFSET
    # Smooth random fields (metres per unit coefficient): a few sinusoids of position, scaled by face membership.
    def fields(count: int, amplitude: float, mask: np.ndarray) -> np.ndarray:
        freq = rng.normal(0, 15.0, size=(count, 3, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(count, 3))
        arg = np.einsum("vd,kcd->vck", flame_v, freq) + phase.T[None]
        return amplitude * np.sin(arg) * mask[:, None, None]

    skin = (~(in_left_eye | in_right_eye)).astype(float)
    shapedirs = np.concatenate([fields(n_shape, 4e-4, skin), fields(n_exp, 2e-3, in_face.astype(float))], axis=2)
    posedirs = rng.normal(0, 2e-4, size=(num_v, 3, 36)) * skin[:, None, None]
    kintree = np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)
    return {
        "f": faces,
        "v_template": flame_v,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_reg,
        "weights": weights,
        "kintree_table": kintree,
        "J": j_reg @ flame_v,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


@contextlib.contextmanager
def _fake_chumpy():
    """Register a throw-away ``chumpy.ch.Ch`` class so pickle writes references exactly as the release does."""
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch")}
    package = types.ModuleType("chumpy")
    module = types.ModuleType("chumpy.ch")

    class Ch:  # the state layout mirrors chumpy.Ch.__getstate__ (its __dict__ minus caches)
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()
            self._depends_on_deps = {}
            self._itr = None
            self._make_dense = False
            self._make_sparse = False

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    module.Ch = Ch
    package.ch = module
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = package, module
    try:
        yield Ch
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value


def write_flame_pickle(data: dict, path: str | Path, chumpy: bool = True, sparse_regressor: bool = True, protocol: int = 2) -> Path:
    """Write ``data`` like FLAME's generic_model.pkl: chumpy-wrapped arrays and a scipy csc J_regressor."""
    from scipy import sparse

    path = Path(path)
    payload = dict(data)
    if sparse_regressor:
        payload["J_regressor"] = sparse.csc_matrix(payload["J_regressor"])
    with _fake_chumpy() as ch:
        if chumpy:
            for key in ("v_template", "shapedirs", "posedirs", "weights", "J"):
                if key in payload:
                    payload[key] = ch(payload[key])
        with open(path, "wb") as handle:
            pickle.dump(payload, handle, protocol=protocol)
    return path
