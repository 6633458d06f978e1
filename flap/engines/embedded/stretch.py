"""How far a pose may stretch the photo's texture: a cap on the length of mesh edges at the face's rim and beyond.

A turn unfolds the side of the face toward the camera.  In the photo that side wall is seen edge-on, a strip a
few pixels wide, so unfolding it in 3D (correct geometry) smears those few pixels over a wide band: streaks of
skin, hair and spectacle arms.  What looks right from one photo is a moderate stretch spread over the whole near
side of the face, its hair and the rings beyond.  So after the pose places the vertices, edges near the rim
that grew past ``max_stretch`` times their length in the photo are shortened by a few passes of
position-based constraints (Gauss-Seidel, compiled: stretch_kernel), moving only the vertices that may move (the rim and the hair rings; eyes, nose and
mouth keep their 3D positions).  Compression is left alone: the far side folds behind its silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from flap.engines.embedded.mesh import RenderMesh
from flap.face import landmark_groups as G


@dataclass(frozen=True)
class StretchConfig:
    max_stretch: float = 1.6  # an edge may grow to this many times its length in the photo
    # ... and a triangle to this many times its area: a sliver seen edge-on in the photo can unfold across its
    # height while its edges hardly grow
    max_area: float = 2.4
    iterations: int = 30  # Gauss-Seidel sweeps (fewer once every edge is within its cap)
    # mobility of face vertices by hops inward from the face oval (0 beyond): the rim gives, the features do not
    rim_mobility: tuple[float, ...] = (1.0, 0.95, 0.85, 0.7, 0.55, 0.4, 0.25, 0.12)


@dataclass
class StretchLimit:
    edges: np.ndarray  # (E, 2) vertex ids
    rest: np.ndarray  # (E,) length in the photo (pixels)
    share: np.ndarray  # (E, 2) how much of a correction each end takes (0 for an anchored end)
    triangles: np.ndarray  # (F, 3) the triangles with a mobile corner
    rest_area: np.ndarray  # (F,) their signed area in the photo (pixels^2)
    mobility: np.ndarray  # (V,) 0 (anchored) .. 1
    config: StretchConfig


def build_stretch_limit(mesh: RenderMesh, config: StretchConfig = StretchConfig()) -> StretchLimit:
    # on the mesh as if it had no copies of the chin's landmarks: the renderer moves the copies with the
    # landmarks they copy, after the limiter
    tri = mesh.merged(mesh.triangles)
    pairs = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]])
    edges = np.unique(np.sort(pairs, axis=1), axis=0)
    mobility = _mobility(mesh, config)
    m = mobility[edges]
    total = m.sum(axis=1)
    keep = total > 1e-6
    edges, m, total = edges[keep], m[keep], total[keep]
    rest = np.linalg.norm(mesh.src_xy[edges[:, 0]] - mesh.src_xy[edges[:, 1]], axis=1)
    keep = rest > 0.5  # degenerate edges (coincident lips) carry no shape
    edges, m, total, rest = edges[keep], m[keep], total[keep], rest[keep]
    # from the features outward: the least mobile end first
    order = np.argsort(-np.minimum(1.0 - m[:, 0], 1.0 - m[:, 1]), kind="stable")
    edges, m, total, rest = edges[order], m[order], total[order], rest[order]
    mobile = mobility[tri].max(axis=1) > 1e-6
    s = mesh.src_xy[tri[mobile]]
    area = 0.5 * ((s[:, 1, 0] - s[:, 0, 0]) * (s[:, 2, 1] - s[:, 0, 1]) - (s[:, 1, 1] - s[:, 0, 1]) * (s[:, 2, 0] - s[:, 0, 0]))
    big = np.abs(area) > 0.5
    return StretchLimit(edges=np.ascontiguousarray(edges), rest=rest, share=m / total[:, None],
                        triangles=np.ascontiguousarray(tri[mobile][big]), rest_area=area[big], mobility=mobility,
                        config=config)


def _mobility(mesh: RenderMesh, config: StretchConfig) -> np.ndarray:
    """Per vertex, 0..1: the rim of the face by hops from the oval, the rings by their rigidity (the still
    background beyond the head anchors them)."""
    n_land = mesh.num_landmarks
    mobility = np.zeros(len(mesh.src_xy))
    mobility[n_land:] = mesh.rigidity[n_land:]
    face = mesh.triangles[np.all(mesh.triangles < n_land, axis=1)]
    neighbours = sparse.csr_matrix((np.ones(3 * len(face) * 2),
                                    (np.concatenate([face[:, 0], face[:, 1], face[:, 2], face[:, 1], face[:, 2], face[:, 0]]),
                                     np.concatenate([face[:, 1], face[:, 2], face[:, 0], face[:, 0], face[:, 1], face[:, 2]]))),
                                   shape=(n_land, n_land))
    reached = np.zeros(n_land, dtype=bool)
    front = np.zeros(n_land, dtype=bool)
    front[list(G.face_oval_loop())] = True
    for value in config.rim_mobility:
        new = front & ~reached
        mobility[:n_land][new] = value
        reached |= new
        front = (neighbours @ new.astype(np.float64)) > 0
    return mobility


def limit_stretch(xy: np.ndarray, limit: StretchLimit, unposed: np.ndarray | None = None) -> np.ndarray:
    """xy: (T, V, 2) posed positions (pixels) -> the same with over-stretched rim edges shortened.

    ``unposed`` (T, V, 2): the same frames at the photo's own head pose.  What the jaw and the expression stretch
    (the neck under an opening jaw) is theirs to stretch; only what the pose adds on top is capped, so the limiter
    never fights the lips.  Frames within the caps (most of natural speech) are returned as they are."""
    from flap.engines.embedded.stretch_kernel import gauss_seidel, over_caps

    p = np.array(xy, dtype=np.float64, order="C")
    a, b = limit.edges[:, 0], limit.edges[:, 1]
    reference = np.zeros_like(p) if unposed is None else np.ascontiguousarray(unposed, dtype=np.float64)  # zeros: the photo's caps
    over = np.nonzero(over_caps(p, reference, limit.edges, limit.rest, limit.config.max_stretch, limit.triangles,
                                limit.rest_area, limit.config.max_area))[0]
    if len(over) == 0:  # most frames of natural speech
        return p
    u = reference[over]
    rest = np.maximum(limit.rest[None], np.linalg.norm(u[:, b] - u[:, a], axis=2))
    own = _areas(u, limit.triangles)
    rest_area = np.where(own * limit.rest_area > 0, np.sign(limit.rest_area) * np.maximum(np.abs(limit.rest_area), np.abs(own)),
                         limit.rest_area)
    cap = limit.config.max_stretch * rest
    area_cap = limit.config.max_area * rest_area
    if len(over):
        sub = np.ascontiguousarray(p[over])
        gauss_seidel(sub, limit.edges, np.ascontiguousarray(cap), np.ascontiguousarray(limit.share),
                      limit.triangles, np.ascontiguousarray(area_cap), limit.mobility, limit.config.iterations)
        p[over] = sub
    return p


def _areas(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(T, F) signed areas."""
    a, b, c = p[:, tri[:, 0]], p[:, tri[:, 1]], p[:, tri[:, 2]]
    return 0.5 * ((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))
