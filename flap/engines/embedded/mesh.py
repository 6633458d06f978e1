"""The render mesh of one portrait: the face landmarks plus rings of vertices that carry hair, ears and neck
with the head and fade into the static background.

Topology: MediaPipe's canonical triangles for the face (eye openings re-triangulated by their contours so gaze can
move them) and quad strips between rings grown radially out of the face oval.  Each vertex has a rigidity in
[0, 1]: how much of the head's motion it follows (1 on the head, 0 far away and down the neck).

Below the face the first strip does not hang from the face oval itself but from copies of its lower vertices
(after the rings in the vertex order), which the renderer poses with the head but with the jaw opened at most as
far as the photo's: an opening jaw moves the chin down in front of the neck and collar, it does not drag them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial import Delaunay

from flap.face import landmark_groups as G
from flap.face.geometry import HeadPose, image_to_camera


@dataclass(frozen=True)
class MeshConfig:
    ring_factors: tuple[float, ...] = (1.12, 1.3, 1.55, 1.85, 2.25, 2.8, 3.6, 5.0)
    rigid_until: float = 1.75  # rings inside this factor move fully with the head (above and beside it: hair)
    free_from: float = 3.0  # rings beyond this factor do not move
    # Below the head (jaw sides, neck, collar, shoulders) the rings let go much sooner: the body stays put.
    rigid_until_below: float = 1.12
    free_from_below: float = 1.5
    neck_length_cm: float = 3.5  # below the chin, rigidity fades over this length
    silhouette_depth_cm: float = -2.5  # head-frame depth of hair and ears seen at the silhouette
    # Share of true 3D rotation per ring; the rest follows the head's outline in the image (a round head's
    # silhouette stays put when it turns instead of rotating away and uncovering the background).
    ring_3d_share: tuple[float, ...] = (0.6, 0.25, 0.0)


@dataclass
class RenderMesh:
    head_points: np.ndarray  # (V, 3) head frame (cm); first 478 are the landmarks
    src_xy: np.ndarray  # (V, 2) source crop pixels
    triangles: np.ndarray  # (F, 3)
    rigidity: np.ndarray  # (V,)
    share_3d: np.ndarray  # (V,) 1 = rotate in 3D, 0 = follow the outline in the image plane
    outline_centre: np.ndarray  # (3,) head-frame point the outline moves with
    cullable: np.ndarray  # (F,) bool: face skin, whose folds are hidden (not the eye openings, which lids squeeze)
    num_landmarks: int = G.NUM_LANDMARKS
    num_rings: int = 0
    # The lower face-oval landmarks that the first strip hangs from through copies (vertices after the rings,
    # in this order; see copy_ids) instead of the landmarks themselves
    copied: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def copy_ids(self) -> np.ndarray:
        """Vertex ids of the copies of ``copied``."""
        start = self.num_landmarks + self.num_rings * len(G.face_oval_loop())
        return start + np.arange(len(self.copied))

    def merged(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` with each copy replaced by the landmark it copies (the mesh as if it had no copies)."""
        out = np.array(ids, copy=True)
        start = self.num_landmarks + self.num_rings * len(G.face_oval_loop())
        is_copy = out >= start
        out[is_copy] = self.copied[out[is_copy] - start]
        return out


def _eye_triangles(src_xy: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], iris: tuple[int, ...]) -> np.ndarray:
    contour = list(upper) + list(lower[1:-1][::-1])
    polygon = src_xy[contour].astype(np.float32).reshape(-1, 1, 2)
    # by its contour alone: gaze moves the eye's content within the opening (flap.engines.embedded.eyes), not the
    # irises' landmarks inside it (triangles to them stretched the iris into streaks and folded it at 20 degrees)
    ids = np.array(contour)
    tri = Delaunay(src_xy[ids]).simplices
    centroids = src_xy[ids][tri].mean(axis=1)
    keep = [cv2.pointPolygonTest(polygon, (float(x), float(y)), False) >= 0 for x, y in centroids]
    return ids[tri[np.array(keep, dtype=bool)]]


def build_mesh(landmarks_px: np.ndarray, pose: HeadPose, config: MeshConfig = MeshConfig()) -> RenderMesh:
    """landmarks_px: (478, 3) crop pixels (MediaPipe layout); pose: the fitted head pose in the same pixels."""
    head = pose.to_head(image_to_camera(landmarks_px))
    src_xy = landmarks_px[:, :2].astype(np.float64)
    unit = np.linalg.norm(head[G.RIGHT_EYE_UPPER[0]] - head[G.LEFT_EYE_UPPER[0]]) / 8.9

    # Face triangles without the eye openings, which are re-triangulated.
    eye_sets = [set(G.LEFT_EYE_UPPER + G.LEFT_EYE_LOWER), set(G.RIGHT_EYE_UPPER + G.RIGHT_EYE_LOWER)]
    faces = [t for t in G.mesh_triangles() if not any(set(t.tolist()) <= s for s in eye_sets)]
    eye_tris = [
        _eye_triangles(src_xy, G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER, G.LEFT_IRIS),
        _eye_triangles(src_xy, G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER, G.RIGHT_IRIS),
    ]
    triangles = [np.array(faces)] + eye_tris

    # Rings grown out of the face oval in the image, placed in depth at the head's silhouette.
    oval = np.array(G.face_oval_loop())
    centre = src_xy[oval].mean(axis=0)
    r3 = pose.rotation[:, 2]
    ring_xy, ring_head, factors = [], [], []
    for k, f in enumerate(config.ring_factors):
        xy = centre + (src_xy[oval] - centre) * f
        depth_share = min(1.0, (f - 1.0) / 0.35)
        target_z = (1 - depth_share) * head[oval, 2] + depth_share * config.silhouette_depth_cm * unit
        cam_x, cam_y = xy[:, 0], -xy[:, 1]
        t = pose.translation
        cam_z = t[2] + (target_z * pose.scale - r3[0] * (cam_x - t[0]) - r3[1] * (cam_y - t[1])) / max(r3[2], 0.3)
        cam = np.stack([cam_x, cam_y, cam_z], axis=1)
        ring_xy.append(xy)
        ring_head.append(pose.to_head(cam))
        factors.append(np.full(len(oval), f))
    n_land = len(landmarks_px)
    n_oval = len(oval)
    n_rings = len(config.ring_factors)
    # The lower half of the oval (below its centre in the head frame: all that the jaw can move) hangs the first
    # strip from copies, numbered after the rings.
    lower = head[oval, 1] < head[oval, 1].mean()
    copied = oval[lower]
    first = oval.copy()
    first[lower] = n_land + n_rings * n_oval + np.arange(len(copied))
    ring_index = [first] + [n_land + k * n_oval + np.arange(n_oval) for k in range(n_rings)]
    strips = []
    for inner, outer in zip(ring_index[:-1], ring_index[1:]):
        a, b = inner, np.roll(inner, -1)
        c, d = outer, np.roll(outer, -1)
        strips.append(np.stack([a, b, d], axis=1))
        strips.append(np.stack([a, d, c], axis=1))
    # The triangles across the mouth opening are squeezed when the lips close, like the eye openings: never culled.
    upper_in, lower_in = set(G.UPPER_INNER_LIP[1:-1]), set(G.LOWER_INNER_LIP[1:-1])
    skin = np.array([not (set(t.tolist()) & upper_in and set(t.tolist()) & lower_in) for t in faces])
    cullable = np.concatenate([skin] + [np.zeros(len(t), bool) for t in eye_tris]
                              + [np.zeros(len(t), bool) for t in strips])
    triangles = np.concatenate(triangles + strips).astype(np.int64)

    head_points = np.concatenate([head] + ring_head)
    all_xy = np.concatenate([src_xy] + ring_xy)
    factor = np.concatenate([np.zeros(n_land)] + factors)
    direction = np.concatenate([np.zeros((n_land, 2))] + [src_xy[oval] - centre] * len(config.ring_factors))
    down = direction[:, 1] / np.maximum(np.linalg.norm(direction, axis=1), 1e-9)  # image y grows downward
    below = _smoothstep((down + 0.2) / 0.6)
    rigid_until = (1 - below) * config.rigid_until + below * config.rigid_until_below
    free_from = (1 - below) * config.free_from + below * config.free_from_below
    radial = 1.0 - _smoothstep((factor - rigid_until) / (free_from - rigid_until))
    chin_y = head[G.CHIN, 1]
    below = (chin_y + 0.5 * unit - head_points[:, 1]) / (config.neck_length_cm * unit)
    neck = 1.0 - _smoothstep(below)
    rigidity = np.where(np.arange(len(head_points)) < n_land, 1.0, radial * neck)
    # Smooth along each ring: neighbours that move very differently shear their strips into folds on a roll.
    # Only downward: a ring vertex never moves more than it did, so the body below the head still stays put.
    rings = rigidity[n_land:].reshape(len(config.ring_factors), n_oval)
    kernel = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
    smooth = rings
    for _ in range(3):
        smooth = sum(w * np.roll(smooth, k - 2, axis=1) for k, w in enumerate(kernel))
    rigidity[n_land:] = np.minimum(rings, smooth).ravel()
    shares = [1.0] * n_land
    for k in range(len(config.ring_factors)):
        shares += [config.ring_3d_share[k] if k < len(config.ring_3d_share) else 0.0] * n_oval
    outline_centre = np.array([head[oval, 0].mean(), head[oval, 1].mean(), config.silhouette_depth_cm * unit])
    # the copies: where and what the landmarks they copy are, fully rigid and rotating in 3D like them
    head_points = np.concatenate([head_points, head[copied]])
    all_xy = np.concatenate([all_xy, src_xy[copied]])
    rigidity = np.concatenate([rigidity, np.ones(len(copied))])
    shares += [1.0] * len(copied)
    return RenderMesh(head_points=head_points, src_xy=all_xy, triangles=triangles, rigidity=rigidity,
                      share_3d=np.array(shares), outline_centre=outline_centre, cullable=cullable,
                      num_landmarks=n_land, num_rings=n_rings, copied=copied)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
