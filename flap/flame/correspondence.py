"""Where each MediaPipe landmark sits on the FLAME surface, and how FLAME's frame maps to the canonical face.

Automatic: both heads are neutral and frontal with the same axes, so a similarity transform (scale, rotation,
translation) seeded by metres->centimetres and the nose tips, refined by trimmed ICP (MediaPipe points to the
FLAME surface, eyeballs excluded), aligns them; a regularised affine ICP then absorbs differences in proportions
(the two mean faces are not equally wide or long); each landmark is finally embedded at its closest point on a
FLAME triangle (barycentric coordinates).  If ``FLAP_FLAME_MP_EMBEDDING`` points at FLAME's official
``mediapipe_landmark_embedding.npz`` (105 landmarks, from the FLAME website), its correspondences fix the
alignment and replace the automatic embedding for those landmarks.  Results are cached per model in memory and,
best effort, on disk (``FLAP_CACHE_DIR``, default ``~/.cache/flap``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from flap.errors import EngineUnavailableError
from flap.flame.canonical import NUM_MESH_LANDMARKS, load_canonical_face
from flap.flame.model import FlameModel
from flap.settings import settings

ENV_EMBEDDING = "FLAP_FLAME_MP_EMBEDDING"
CACHE_VERSION = 2


@dataclass(frozen=True)
class IcpConfig:
    iterations: int = 40
    trim: float = 0.9  # share of correspondences kept (the closest ones) at each step
    initial_scale: float = 100.0  # FLAME metres -> canonical centimetres
    candidates: int = 24  # triangles checked exactly per landmark in the final embedding
    tolerance: float = 1e-7
    affine_iterations: int = 80  # 0 keeps the similarity transform
    affine_prior: float = 0.003  # pull of the affine map toward the similarity (relative to the data term)


@dataclass
class MediapipeEmbedding:
    """Landmark i of the canonical mesh = sum_j bary[i, j] * FLAME vertex faces[face_idx[i], j].

    linear, translation: canonical = linear @ flame + translation (FLAME metres -> cm); scale and rotation are its
    similarity part (linear equals scale * rotation unless the affine refinement changed proportions).
    residual_cm: mean distance between the canonical landmarks and their embedded points after alignment.
    """

    face_idx: np.ndarray  # (468,)
    bary: np.ndarray  # (468, 3)
    vertex_ids: np.ndarray  # (468, 3) FLAME vertex ids of each landmark's triangle
    scale: float
    rotation: np.ndarray  # (3, 3)
    linear: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    residual_cm: float
    method: str

    def to_canonical(self, points_flame: np.ndarray) -> np.ndarray:
        return points_flame @ self.linear.T + self.translation

    def vectors_to_canonical(self, vectors_flame: np.ndarray) -> np.ndarray:
        """Displacements (no translation): metres in FLAME's frame -> centimetres in the canonical frame."""
        return vectors_flame @ self.linear.T


def similarity_transform(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama's least-squares (scale, rotation, translation) with dst ~ scale * R @ src + t."""
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    s_c, d_c = src - mu_s, dst - mu_d
    cov = (d_c * w[:, None]).T @ s_c
    u, sing, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    var_s = float(w @ np.sum(s_c**2, axis=1))
    scale = float(np.sum(sing * d) / max(var_s, 1e-12))
    translation = mu_d - scale * rotation @ mu_s
    return scale, rotation, translation


def closest_points_on_triangles(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For paired points and triangles (N, 3 each): barycentric coords (N, 3) of the closest point, and distance (N,)."""
    ab, ac = b - a, c - a
    normal = np.cross(ab, ac)
    area2 = np.linalg.norm(normal, axis=1)
    ok = area2 > 1e-14
    n_hat = normal / np.where(ok, area2, 1.0)[:, None]
    proj = points - np.sum((points - a) * n_hat, axis=1, keepdims=True) * n_hat
    # Barycentrics of the projection (standard dot-product formula).
    ap = proj - a
    d00, d01, d11 = np.sum(ab * ab, 1), np.sum(ab * ac, 1), np.sum(ac * ac, 1)
    d20, d21 = np.sum(ap * ab, 1), np.sum(ap * ac, 1)
    denom = np.where(ok, d00 * d11 - d01 * d01, 1.0)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    u = 1.0 - v - w
    inside = ok & (u >= 0) & (v >= 0) & (w >= 0)
    best_bary = np.stack([u, v, w], axis=1)
    best_dist = np.where(inside, np.linalg.norm(points - proj, axis=1), np.inf)
    for (p0, p1, i0, i1) in ((a, b, 0, 1), (b, c, 1, 2), (a, c, 0, 2)):
        edge = p1 - p0
        t = np.clip(np.sum((points - p0) * edge, 1) / np.maximum(np.sum(edge * edge, 1), 1e-20), 0.0, 1.0)
        q = p0 + t[:, None] * edge
        dist = np.linalg.norm(points - q, axis=1)
        better = ~inside & (dist < best_dist)
        bary = np.zeros_like(best_bary)
        bary[:, i0] = 1.0 - t
        bary[:, i1] = t
        best_bary = np.where(better[:, None], bary, best_bary)
        best_dist = np.where(better, dist, best_dist)
    return best_bary, best_dist


def _surface_faces(model: FlameModel) -> np.ndarray:
    """FLAME triangles that belong to the skin (eyeballs removed: their vertices follow the eye joints)."""
    joint = model.vertex_joint()
    eyeball = np.isin(joint, (3, 4))
    keep = ~np.any(eyeball[model.faces], axis=1)
    return np.nonzero(keep)[0]


def _surface_samples(vertices: np.ndarray, faces: np.ndarray, face_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense points on the surface for fast ICP look-ups: vertices of kept faces, centroids and edge midpoints."""
    tri = vertices[faces[face_ids]]  # (F, 3, 3)
    samples = [tri.mean(axis=1), (tri[:, 0] + tri[:, 1]) / 2, (tri[:, 1] + tri[:, 2]) / 2, (tri[:, 0] + tri[:, 2]) / 2,
               tri[:, 0], tri[:, 1], tri[:, 2]]
    owner = np.tile(face_ids, len(samples))
    return np.concatenate(samples), owner


def embed_points(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, face_ids: np.ndarray,
                 candidates: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest surface point of each query among the ``candidates`` triangles nearest by centroid: (face, bary, dist)."""
    tri = vertices[faces[face_ids]]
    tree = cKDTree(tri.mean(axis=1))
    k = min(candidates, len(face_ids))
    _, idx = tree.query(points, k=k)
    idx = idx.reshape(len(points), k)
    q = np.repeat(points, k, axis=0)
    cand = idx.reshape(-1)
    bary, dist = closest_points_on_triangles(q, tri[cand, 0], tri[cand, 1], tri[cand, 2])
    dist = dist.reshape(len(points), k)
    best = np.argmin(dist, axis=1)
    rows = np.arange(len(points))
    chosen = idx[rows, best]
    return face_ids[chosen], bary.reshape(len(points), k, 3)[rows, best], dist[rows, best]


def align_automatically(model: FlameModel, target: np.ndarray, config: IcpConfig = IcpConfig()) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity from FLAME's frame to the canonical face by nose-seeded, trimmed ICP."""
    face_ids = _surface_faces(model)
    surface_vertices = np.unique(model.faces[face_ids])
    v = model.v_template
    scale, rotation = config.initial_scale, np.eye(3)
    nose_flame = v[surface_vertices[np.argmax(v[surface_vertices, 2])]]
    nose_mp = target[np.argmax(target[:, 2])]
    translation = nose_mp - scale * nose_flame
    samples, _ = _surface_samples(v, model.faces, face_ids)
    tree = cKDTree(samples)
    previous = np.inf
    for _ in range(config.iterations):
        # Query in FLAME's frame: invert the current transform for the canonical points.
        query = ((target - translation) @ rotation) / scale
        dist, idx = tree.query(query)
        keep = dist <= np.quantile(dist, config.trim)
        scale, rotation, translation = similarity_transform(samples[idx[keep]], target[keep])
        error = float(np.mean(dist[keep]) * scale)
        if abs(previous - error) < config.tolerance:
            break
        previous = error
    return scale, rotation, translation


def affine_transform(src: np.ndarray, dst: np.ndarray, prior: np.ndarray, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares affine map dst ~ A @ src + t, pulled toward ``prior`` (3x3) with ``weight`` (relative)."""
    design = np.hstack([src, np.ones((len(src), 1))])
    lam = weight * len(src) * float(np.mean(np.sum((src - src.mean(0)) ** 2, axis=1)))
    reg = np.diag([lam, lam, lam, 0.0])
    rhs = design.T @ dst + np.vstack([lam * prior.T, np.zeros((1, 3))])
    solution = np.linalg.solve(design.T @ design + reg, rhs)
    return solution[:3].T, solution[3]


def refine_affine(model: FlameModel, target: np.ndarray, linear: np.ndarray, translation: np.ndarray,
                  config: IcpConfig = IcpConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Trimmed ICP with a regularised affine map, starting from (and pulled toward) the similarity."""
    prior = linear.copy()
    samples, _ = _surface_samples(model.v_template, model.faces, _surface_faces(model))
    tree = cKDTree(samples)
    for _ in range(config.affine_iterations):
        query = np.linalg.solve(linear, (target - translation).T).T
        dist, idx = tree.query(query)
        keep = dist <= np.quantile(dist, config.trim)
        new_linear, new_translation = affine_transform(samples[idx[keep]], target[keep], prior, config.affine_prior)
        change = np.abs(new_linear - linear).max() + np.abs(new_translation - translation).max()
        linear, translation = new_linear, new_translation
        if change < config.tolerance:
            break
    return linear, translation


def _official_embedding(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            face_idx = np.asarray(data["lmk_face_idx"]).astype(np.int64).reshape(-1)
            bary = np.asarray(data["lmk_b_coords"], dtype=np.float64).reshape(-1, 3)
            landmarks = np.asarray(data["landmark_indices"]).astype(np.int64).reshape(-1)
    except (OSError, KeyError, ValueError) as exc:
        raise EngineUnavailableError(f"{ENV_EMBEDDING}={path} is not FLAME's mediapipe_landmark_embedding.npz "
                                     f"(needs lmk_face_idx, lmk_b_coords, landmark_indices): {exc}") from exc
    if not (len(face_idx) == len(bary) == len(landmarks)) or landmarks.max(initial=0) >= NUM_MESH_LANDMARKS:
        raise EngineUnavailableError(f"{path.name}: lmk_face_idx, lmk_b_coords and landmark_indices disagree in length or range")
    return face_idx, bary, landmarks


def compute_embedding(model: FlameModel, embedding_file: str | os.PathLike | None = None,
                      config: IcpConfig = IcpConfig()) -> MediapipeEmbedding:
    """Build the FLAME <-> MediaPipe correspondence (see the module docstring); no caching here."""
    target, _ = load_canonical_face()
    v = model.v_template
    official = None
    if embedding_file:
        official = _official_embedding(Path(embedding_file).expanduser())
        face_idx, bary, landmarks = official
        if face_idx.max(initial=0) >= len(model.faces):
            raise EngineUnavailableError("the MediaPipe embedding refers to FLAME triangles this model does not have")
        points = np.einsum("nk,nkc->nc", bary, v[model.faces[face_idx]])
        scale, rotation, translation = similarity_transform(points, target[landmarks])
        linear, translation = affine_transform(points, target[landmarks], scale * rotation, config.affine_prior)
        method = f"official embedding ({len(landmarks)} landmarks) + closest points"
    else:
        scale, rotation, translation = align_automatically(model, target, config)
        linear = scale * rotation
        if config.affine_iterations:
            linear, translation = refine_affine(model, target, linear, translation, config)
        method = "automatic (ICP alignment + closest points)"
    query = np.linalg.solve(linear, (target - translation).T).T
    face_ids = _surface_faces(model)
    face_idx_all, bary_all, dist = embed_points(query, v, model.faces, face_ids, config.candidates)
    if official is not None:
        face_idx_all[official[2]] = official[0]
        bary_all[official[2]] = official[1]
    points = np.einsum("nk,nkc->nc", bary_all, v[model.faces[face_idx_all]])
    residual = float(np.mean(np.linalg.norm(points @ linear.T + translation - target, axis=1)))
    return MediapipeEmbedding(face_idx=face_idx_all, bary=bary_all, vertex_ids=model.faces[face_idx_all], scale=float(scale),
                              rotation=rotation, linear=linear, translation=translation, residual_cm=residual, method=method)


# ---------------------------------------------------------------------------------------------- caching
_memory: dict[str, MediapipeEmbedding] = {}
_lock = threading.Lock()


def _cache_dir() -> Path:
    return settings().cache_dir / "flame"


def _cache_key(model: FlameModel, embedding_file: str | None) -> str:
    extra = ""
    if embedding_file:
        p = Path(embedding_file).expanduser()
        extra = f"-{p.stat().st_mtime_ns if p.exists() else 0}-{hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]}"
    return f"mp-embedding-v{CACHE_VERSION}-{model.fingerprint()}{extra}"


def _read_disk(path: Path) -> MediapipeEmbedding | None:
    try:
        with np.load(path, allow_pickle=False) as d:
            return MediapipeEmbedding(face_idx=d["face_idx"], bary=d["bary"], vertex_ids=d["vertex_ids"], scale=float(d["scale"]),
                                      rotation=d["rotation"], linear=d["linear"], translation=d["translation"], residual_cm=float(d["residual_cm"]),
                                      method=str(d["method"]))
    except Exception:  # a stale or broken cache is simply recomputed
        return None


def _write_disk(path: Path, emb: MediapipeEmbedding) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(tmp, face_idx=emb.face_idx, bary=emb.bary, vertex_ids=emb.vertex_ids, scale=emb.scale, rotation=emb.rotation, linear=emb.linear,
                 translation=emb.translation, residual_cm=emb.residual_cm, method=np.array(emb.method))
        os.replace(tmp, path)
    except OSError:
        pass


def mediapipe_embedding(model: FlameModel, embedding_file: str | os.PathLike | None = None, use_disk_cache: bool = True) -> MediapipeEmbedding:
    """The cached correspondence for ``model`` (``embedding_file`` defaults to ``FLAP_FLAME_MP_EMBEDDING``)."""
    if embedding_file is None:
        embedding_file = settings().flame_mp_embedding
    key = _cache_key(model, str(embedding_file) if embedding_file else None)
    with _lock:
        if key in _memory:
            return _memory[key]
        disk = _cache_dir() / f"{key}.npz"
        emb = _read_disk(disk) if use_disk_cache and disk.exists() else None
        if emb is None or emb.face_idx.max(initial=0) >= len(model.faces):
            emb = compute_embedding(model, embedding_file)
            if use_disk_cache:
                _write_disk(disk, emb)
        _memory[key] = emb
        return emb
