"""The face rig: how motion parameters move the 478 landmarks of one person's face, in the head frame (cm).

It is built per portrait from the landmarks themselves (expressed in the head frame through the fitted pose),
so every face deforms with its own proportions.  Each named control is a displacement field (a blendshape)
shaped from anatomy: anchors on the mouth corners, lips, cheeks and brows with smooth falloff.  The jaw is a
rotation about the jaw joints with per-vertex weights; eyelids close along each lid's own gap; gaze moves the
irises within the eye opening.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flap.face import landmark_groups as G
from flap.motion.representation import CONTROL_INDEX, CONTROL_NAMES, NUM_CONTROLS


@dataclass(frozen=True)
class RigConfig:
    jaw_pivot: tuple[float, float, float] = (0.0, -0.3, -2.0)  # jaw joints, head frame (cm)
    # Past a hinge-only start (radians) the jaw's joints glide forward as it opens (cm per radian beyond it), so a
    # wide-open jaw's lower lip and chin move mostly down: a rotation alone swung the lower lip back 1.1x as far as
    # down at mouth 2, which a turned head showed as an opening leaning sideways (11.9 deg at yaw 19, now 5.6).
    # Small openings (emotions, closing a photo's open mouth) stay about a pure hinge (a glide from 0 moved
    # astronaut's contempt; from 0.2 rad at 3.5 cm/rad, biden's speech showed 3 pops).
    jaw_hinge: float = 0.1
    jaw_glide: float = 3.0
    eyeball_radius: float = 1.25  # cm
    upper_lid_share: float = 0.8  # a blink moves the upper lid this share of the gap, the lower lid the rest
    max_iris_shift: float = 0.32  # share of the eye width the iris may move sideways


_BROW_ROOM = 0.22  # a lowered brow's point moves down at most this share of its height above the lid, per unit
# a point above a glasses frame moves at most this share of its height above it per unit of a control: brows
# that come down squeeze the skin down to the frame (a frown), brows that rise stretch it (a smear beyond a share)
_FRAME_ROOM = {"brow_lower": 0.2, "nose_wrinkle": 0.2, "brow_raise": 0.25, "brow_inner_raise": 0.25}
_SMILE_LIFT = 0.36  # how far a unit smile lifts its mouth corner (cm, head frame, before the face's scale)
# How much of the photo's own smile a unit of each control releases (FACS: AU15, AU5, AU1, AU4 and AU9 do not sit
# on a smile); the speech controls and brow_raise (speech lifts the brows) keep it.
_SMILE_RELEASE = np.array([{"frown": 0.8, "eye_wide": 0.6, "brow_inner_raise": 0.7, "brow_lower": 0.7, "nose_wrinkle": 0.7}
                           .get(name, 0.0) for name in CONTROL_NAMES])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


_UPPER_LIP_LIFT = 0.06  # the upper lip's middle lifts this share of the jaw's motion as the mouth opens


def _lip_opening_shape(from_corner: np.ndarray) -> np.ndarray:
    """How much of the opening each point along the mouth gets (0 at the corners, 1 in the middle), from its
    distance to the nearer corner as a share of the mouth width (0..0.5): (1 - |u| ** 3) ** 1.6 with |u| the
    distance from the middle (0..1), full across the middle and closing smoothly into the corners, so the
    commissures barely part (a share that reaches 1 close to the corners opens a box with blunt vertical ends;
    a plain lens, 1 - u ** 2, reads as a diamond once the jaw is wide open)."""
    u = 1.0 - 2.0 * np.clip(from_corner, 0.0, 0.5)
    return (1.0 - u ** 3) ** 1.6


def _inside_polygon(points_xy: np.ndarray, polygon_xy: np.ndarray) -> np.ndarray:
    contour = polygon_xy.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points_xy])


class FaceRig:
    """Displacement bases for one face.  ``points``: (478, 3) landmarks in the head frame (cm)."""

    def __init__(self, points: np.ndarray, config: RigConfig = RigConfig()):
        self.config = config
        self.points = np.asarray(points, dtype=np.float64)
        p = self.points
        self.unit = np.linalg.norm(p[G.RIGHT_EYE_UPPER[0]] - p[G.LEFT_EYE_UPPER[0]]) / 8.9  # canonical outer-eye distance
        self._build_regions()
        self.jaw_weights = self._jaw_weights()
        self.control_basis = self._control_basis()  # (K, 478, 3)
        self._build_lids()
        self._build_irises()
        self.lip_gap_per_radian = self._lip_gap_per_radian()
        self.source_jaw = self.closing_angle()
        self.closing_fix = self._closing_fix()

    # ------------------------------------------------------------------ regions
    def _build_regions(self) -> None:
        p = self.points
        xy = p[:, :2]
        outer = np.array([p[i, :2] for i in G.UPPER_OUTER_LIP] + [p[i, :2] for i in G.LOWER_OUTER_LIP[::-1][1:-1]])
        self.in_lips = _inside_polygon(xy, outer)
        # The mouth line: inner lip midline as a function of x.
        upper_in = p[list(G.UPPER_INNER_LIP)]
        lower_in = p[list(G.LOWER_INNER_LIP)]
        mid = (upper_in + lower_in) / 2
        order = np.argsort(mid[:, 0])
        self._mouth_line_x, self._mouth_line_y = mid[order, 0], mid[order, 1]
        line_y = np.interp(xy[:, 0], self._mouth_line_x, self._mouth_line_y)
        self.below_mouth_line = xy[:, 1] < line_y
        self.mouth_center = mid.mean(axis=0)
        self.mouth_width = np.linalg.norm(p[G.MOUTH_CORNERS[0]] - p[G.MOUTH_CORNERS[1]])
        # Contour landmarks are classified by identity: on a closed mouth the upper and lower inner lips coincide,
        # so geometry cannot tell them apart.  The lip body between the contours goes by the mouth line.
        upper_ids = list(G.UPPER_OUTER_LIP[1:-1] + G.UPPER_INNER_LIP[1:-1])
        lower_ids = list(G.LOWER_OUTER_LIP[1:-1] + G.LOWER_INNER_LIP[1:-1])
        contour = np.zeros(len(p), dtype=bool)
        contour[upper_ids + lower_ids + list(G.MOUTH_CORNERS) + [G.UPPER_INNER_LIP[0], G.UPPER_INNER_LIP[-1]]] = True
        self.lip_vertices = contour | self.in_lips
        self.upper_lip = self.in_lips & ~contour & ~self.below_mouth_line
        self.lower_lip = self.in_lips & ~contour & self.below_mouth_line
        self.upper_lip[upper_ids] = True
        self.lower_lip[lower_ids] = True
        self.below_mouth_line[upper_ids] = False
        self.below_mouth_line[lower_ids] = True
        for corner in G.MOUTH_CORNERS:
            self.upper_lip[corner] = self.lower_lip[corner] = False
        self.is_mesh = np.arange(len(p)) < G.NUM_MESH

    def _gauss(self, anchor: np.ndarray, sigma: float) -> np.ndarray:
        d2 = np.sum((self.points - anchor) ** 2, axis=1)
        return np.exp(-d2 / (2 * (sigma * self.unit) ** 2)) * self.is_mesh

    def _lip_falloff(self, mask: np.ndarray, sigma: float = 0.45) -> np.ndarray:
        """1 on the masked lip vertices, fading with distance around them (for skin just outside the lips)."""
        src = self.points[mask]
        d = np.min(np.linalg.norm(self.points[:, None, :] - src[None], axis=2), axis=1)
        return np.exp(-(d**2) / (2 * (sigma * self.unit) ** 2)) * self.is_mesh

    # ------------------------------------------------------------------ jaw
    def _jaw_weights(self) -> np.ndarray:
        p = self.points
        line_y = np.interp(p[:, 0], self._mouth_line_x, self._mouth_line_y)
        # Below the mouth line the mandible carries the skin; the band above it (cheeks) follows partly.
        w = _smoothstep((line_y + 0.5 * self.unit - p[:, 1]) / (2.0 * self.unit))
        # Far to the sides the skin over the jaw joint moves little.
        side = np.abs(p[:, 0] - self.mouth_center[0]) / self.unit
        w *= 1.0 - 0.6 * _smoothstep((side - 4.0) / 3.0)
        # The lips hinge at the corners: from a corner toward the middle the lower lip goes from the corner's share
        # of the jaw to all of it, the upper lip from that share to none (full weight right beside a corner
        # throws a lip vertex past the corner when the jaw moves far: a spike, lips folded over each other).
        corners_x = np.sort([p[c, 0] for c in G.MOUTH_CORNERS])
        from_corner = np.minimum(p[:, 0] - corners_x[0], corners_x[1] - p[:, 0]) / max(corners_x[1] - corners_x[0], 1e-6)
        hinge = _lip_opening_shape(from_corner)
        # Upper lip neighbours that sit above the line stay with the skull.
        above = (~self.below_mouth_line) & (p[:, 1] > self.mouth_center[1] + 0.2 * self.unit) & ~self.lower_lip
        w[above & (np.abs(p[:, 0] - self.mouth_center[0]) < 0.6 * self.mouth_width)] *= 0.2
        w[self.upper_lip] = (0.45 * (1.0 - hinge) - _UPPER_LIP_LIFT * hinge)[self.upper_lip]
        w[self.lower_lip] = (0.45 + 0.55 * hinge)[self.lower_lip]
        for corner in G.MOUTH_CORNERS + (G.UPPER_INNER_LIP[0], G.UPPER_INNER_LIP[-1]):
            w[corner] = 0.45
        w[~self.is_mesh] = 0.0
        return w

    def _lip_gap_per_radian(self) -> float:
        opened = self.jaw_rotate(self.points, np.array([0.1]))[0]
        lo = list(G.LOWER_INNER_LIP[3:-3])
        return float(np.mean(self.points[lo, 1] - opened[lo, 1]) / 0.1)

    def closing_angle(self) -> float:
        """How far the photo's jaw is open (radians, >= 0): the rotation that brings the middle of the inner lips
        together.  Solved on the rotation itself, not a small-angle slope: a wide-open photo closed by the slope
        overshoots, and the lower lip slides over the upper one (pursed lips, a hard seam)."""
        up, lo = list(G.UPPER_INNER_LIP[3:-3]), list(G.LOWER_INNER_LIP[3:-3])

        def gap(angle: float) -> float:
            closed = self.jaw_rotate(self.points, np.array([-angle]))[0]
            return float(np.mean(closed[up, 1] - closed[lo, 1]))

        if gap(0.0) <= 0.0:
            return 0.0
        lo_a, hi_a = 0.0, 0.8
        for _ in range(30):
            mid = 0.5 * (lo_a + hi_a)
            lo_a, hi_a = (mid, hi_a) if gap(mid) > 0 else (lo_a, mid)
        return 0.5 * (lo_a + hi_a)

    def _closing_fix(self, sigma: float = 0.7) -> np.ndarray:
        """(V, 3): what the lower lip needs besides the rotation to meet the upper lip when the photo's open mouth
        closes.  The rotation lifts the lower lip by its jaw weight, but the opening has its own shape, so beside
        the corners the lower lip would overshoot the upper one (lips folded over each other, a hard wedge at each
        corner) or stop short of it (a dark gap).  Per inner-lip pair, the residual height; spread over the lower
        lip and the skin below it."""
        if self.source_jaw <= 0.0:
            return np.zeros_like(self.points)
        closed = self.jaw_rotate(self.points, np.array([-self.source_jaw]))[0]
        upper, lower = list(G.UPPER_INNER_LIP), list(G.LOWER_INNER_LIP)
        residual = closed[upper, 1] - closed[lower, 1]
        residual[[0, -1]] = 0.0
        order = np.argsort(closed[lower, 0])
        along = np.interp(self.points[:, 0], closed[lower, 0][order], residual[order], left=0.0, right=0.0)
        spread = np.maximum(self._lip_falloff(self.lower_lip, sigma) * self.jaw_weights, self.lower_lip.astype(float))
        fix = np.zeros_like(self.points)
        fix[:, 1] = along * spread
        return fix

    def pose_jaw(self, points: np.ndarray, angles: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """The jaw at absolute opening ``angles`` (T,) radians (0: lips together), from the photo's own opening.
        ``ids``: the landmarks that ``points`` are (default: all of them)."""
        relative = angles - self.source_jaw
        out = self.jaw_rotate(points, relative, ids)
        # (a smooth onset, softplus over 0.05 rad: a kink in the glide's speed as speech crosses it showed as pops)
        beyond = lambda a: 0.05 * np.logaddexp(0.0, (a - self.config.jaw_hinge) / 0.05)  # noqa: E731
        glide = self.config.jaw_glide * self.unit * (beyond(np.asarray(angles, np.float64)) - beyond(self.source_jaw))
        if np.any(glide != 0.0):
            weights = self.jaw_weights if ids is None else self.jaw_weights[ids]
            out = out.copy()
            out[..., 2] += glide[:, None] * weights[None, :]
        if self.source_jaw > 0.0:
            closing = np.clip(-relative / self.source_jaw, 0.0, 1.0)
            fix = self.closing_fix if ids is None else self.closing_fix[ids]
            out = out + closing[:, None, None] * fix[None]
        return out

    def jaw_rotate(self, points: np.ndarray, angles: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """Rotate jaw-weighted vertices about the jaw axis by ``angles`` (T,) radians (+ opens). points: (T?, V, 3);
        ``ids``: the landmarks that they are (default: all of them)."""
        pivot = np.array(self.config.jaw_pivot) * self.unit
        pts = np.broadcast_to(points, (len(angles),) + points.shape[-2:])
        rel = pts - pivot
        c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
        y = rel[..., 1] * c - rel[..., 2] * s
        z = rel[..., 1] * s + rel[..., 2] * c
        rotated = np.stack([rel[..., 0], y, z], axis=-1) + pivot
        weights = self.jaw_weights if ids is None else self.jaw_weights[ids]
        return pts + weights[None, :, None] * (rotated - pts)

    # ------------------------------------------------------------------ named controls
    def _control_basis(self) -> np.ndarray:
        p, u = self.points, self.unit
        basis = np.zeros((NUM_CONTROLS, len(p), 3))
        right_corner, left_corner = p[G.MOUTH_CORNERS[0]], p[G.MOUTH_CORNERS[1]]
        mc = self.mouth_center
        lips = self._lip_falloff(self.lip_vertices, 0.5)
        upper = self._lip_falloff(self.upper_lip, 0.4)
        lower = self._lip_falloff(self.lower_lip, 0.4)
        rel_x = (p[:, 0] - mc[0]) / max(self.mouth_width / 2, 1e-6)

        def put(name: str, field: np.ndarray) -> None:
            basis[CONTROL_INDEX[name]] += field * u

        for name, corner, side in (("smile_left", left_corner, 1.0), ("smile_right", right_corner, -1.0)):
            g = self._gauss(corner, 1.3)
            cheek = self._gauss(corner + np.array([side * 1.2, 1.8, -0.3]) * u, 1.5)
            put(name, g[:, None] * np.array([side * 0.42, _SMILE_LIFT, -0.18]) + cheek[:, None] * np.array([side * 0.08, 0.22, 0.05]))
        for corner, side in ((left_corner, 1.0), (right_corner, -1.0)):
            g = self._gauss(corner, 1.2)
            put("frown", g[:, None] * np.array([side * 0.1, -0.5, 0.0]))
            put("lip_stretch", g[:, None] * np.array([side * 0.38, -0.04, -0.12]))
        put("frown", (self._gauss(p[G.CHIN], 1.5) * 0.12)[:, None] * np.array([0, 1.0, 0.3]))
        self.smile_undo = self._smile_undo()
        put("lip_pucker", lips[:, None] * np.stack([-0.32 * (p[:, 0] - mc[0]) / u, np.zeros(len(p)), np.full(len(p), 0.38)], 1))
        funnel_open = upper[:, None] * np.array([0, 0.16, 0]) + lower[:, None] * np.array([0, -0.16, 0])
        put("lip_funnel", lips[:, None] * np.stack([-0.2 * (p[:, 0] - mc[0]) / u, np.zeros(len(p)), np.full(len(p), 0.3)], 1) + funnel_open)
        inner_upper = np.zeros(len(p)); inner_upper[list(G.UPPER_INNER_LIP[1:-1])] = 1
        inner_lower = np.zeros(len(p)); inner_lower[list(G.LOWER_INNER_LIP[1:-1])] = 1
        put("lip_press", upper[:, None] * np.array([0, -0.07, -0.03]) + lower[:, None] * np.array([0, 0.07, -0.03])
            + inner_upper[:, None] * np.array([0, -0.05, 0]) + inner_lower[:, None] * np.array([0, 0.05, 0]))
        centre_weight = 1.0 - 0.5 * np.clip(np.abs(rel_x), 0, 1)
        put("upper_lip_raise", (upper * centre_weight)[:, None] * np.array([0, 0.36, 0.04])
            + self._gauss(p[G.NOSE_TIP] + np.array([0, -0.9, -0.8]) * u, 1.0)[:, None] * np.array([0, 0.08, 0]))
        put("lower_lip_down", (lower * centre_weight)[:, None] * np.array([0, -0.28, 0.06]))
        put("lower_lip_tuck", lower[:, None] * np.array([0, 0.16, -0.3]))
        for side in (1.0, -1.0):
            cheek = self._gauss(np.array([side * 3.6, -1.6, 4.0]) * u + np.array([mc[0], 0, 0]), 1.5)
            put("cheek_raise", cheek[:, None] * np.array([0, 0.3, 0.08]))
        brows = np.zeros(len(p), dtype=bool)
        brows[list(G.LEFT_BROW + G.RIGHT_BROW)] = True
        brow_y = p[brows, 1].mean()
        brow_falloff = self._lip_falloff(brows, 0.9)
        # the skin between the brows goes most of the way with them (left behind, it stretches into a bright streak)
        between = np.concatenate([np.linspace(p[a], p[b], 7)[1:-1] for a, b in ((55, 285), (107, 336))])
        d = np.min(np.linalg.norm(p[:, None, :] - between[None], axis=2), axis=1)
        brow_falloff = np.maximum(brow_falloff, 0.8 * np.exp(-(d**2) / (2 * (0.9 * u) ** 2)) * self.is_mesh)
        # The brows move the skin above the eyes, not the lids (those are the lid controls'): a lid carried with a
        # brow pulls the eye's texture away from the iris (a raised lid stretches the iris into a bar, a lowered
        # one squeezes the eye white into a line).
        eyes = np.zeros(len(p), dtype=bool)
        eyes[list(G.LEFT_EYE_UPPER + G.LEFT_EYE_LOWER + G.RIGHT_EYE_UPPER + G.RIGHT_EYE_LOWER)] = True
        spare_lids = 1.0 - 0.8 * self._lip_falloff(eyes, 0.5)
        brow_falloff = brow_falloff * spare_lids
        forehead = _smoothstep((p[:, 1] - brow_y) / (2.5 * u)) * self.is_mesh
        raise_field = np.maximum(brow_falloff, 0.35 * forehead)
        put("brow_raise", raise_field[:, None] * np.array([0, 0.6, 0]))
        inner_anchor = [p[G.LEFT_BROW[-1]], p[G.RIGHT_BROW[-1]]]
        inner = np.maximum(self._gauss(inner_anchor[0], 1.0), self._gauss(inner_anchor[1], 1.0)) * np.maximum(brow_falloff, 0.3 * spare_lids)
        toward_centre = -np.sign(p[:, 0] - mc[0])
        # what lifts the inner ends lifts most of the skin between them too (the sideways pull stays at the ends)
        middle = np.exp(-(d**2) / (2 * (1.0 * u) ** 2)) * self.is_mesh * np.maximum(brow_falloff, 0.3 * spare_lids)
        inner_lift = np.maximum(inner, 0.7 * middle)
        put("brow_inner_raise", inner_lift[:, None] * np.array([0, 0.7, 0]) + (inner * 0.05 * toward_centre)[:, None] * np.array([1.0, 0, 0]))
        # AU4: the brows come down, the inner ends down further and toward each other (the corrugators' V)
        put("brow_lower", brow_falloff[:, None] * np.array([0, -0.45, 0.02])
            + inner[:, None] * np.stack([0.45 * toward_centre, np.full(len(p), -0.2), np.zeros(len(p))], 1))
        # A lowered brow comes down onto the lid, never past it: skin above the eye that outruns the skin below
        # folds over it, and the fold's edge shows as a stair-step with a light band along the lid (angry).  Each
        # point above an upper lid moves down at most _BROW_ROOM of its height above the lid per unit of the control.
        upper_lids = p[list(G.LEFT_EYE_UPPER + G.RIGHT_EYE_UPPER)]
        height = np.min(np.linalg.norm(p[:, None, :2] - upper_lids[None, :, :2], axis=2), axis=1)
        above = p[:, 1] > np.interp(p[:, 0], *self._lid_line(upper_lids))
        down = basis[CONTROL_INDEX["brow_lower"], :, 1]
        basis[CONTROL_INDEX["brow_lower"], :, 1] = np.where(above, np.maximum(down, -_BROW_ROOM * height), down)
        # AU9: the nose's wings (on this face's own nostril landmarks) and the skin beside them pulled up
        for wing in ((98, 64, 48), (327, 294, 278)):
            alar = self._gauss(p[list(wing)].mean(axis=0), 0.9)
            beside = self._gauss(p[list(wing)].mean(axis=0) + np.array([np.sign(p[wing[0], 0] - p[G.NOSE_TIP, 0]) * 0.9, 1.4, 0]) * u, 1.1)
            put("nose_wrinkle", alar[:, None] * np.array([0, 0.3, 0.0]) + beside[:, None] * np.array([0, 0.12, 0.02]))
        bridge = self._gauss(p[6] if len(p) > 6 else p[G.NOSE_TIP], 1.0)
        put("nose_wrinkle", bridge[:, None] * np.array([0, 0.06, 0]) - (inner * 0.1)[:, None] * np.array([0, 1.0, 0]))
        return basis

    _HELD_BY_GLASSES = ("brow_raise", "brow_inner_raise", "brow_lower", "nose_wrinkle")

    def hold_by_glasses(self, held: np.ndarray, clearance: np.ndarray | None = None) -> None:
        """Brows move behind a glasses frame, not with it: ``held`` (V,) 0..1 per landmark (glasses.frame_hold)
        takes that share of the brow controls' motion off each point (a dragged frame tears into a stair-step).
        ``clearance`` (V,): each point's height above the frame's top edge (share of the outer-eye distance): a
        point moves at most _FRAME_ROOM of it per unit of a control, so the skin between brow and frame stretches
        or squeezes by a bounded share (a brow raised off a frame's edge by its full travel smears that skin)."""
        keep = 1.0 - np.clip(np.asarray(held, dtype=np.float64), 0.0, 1.0)
        for name in self._HELD_BY_GLASSES:
            field = self.control_basis[CONTROL_INDEX[name]] * keep[:, None]
            if clearance is not None:
                room = _FRAME_ROOM[name] * np.asarray(clearance, dtype=np.float64) * 8.9 * self.unit
                length = np.linalg.norm(field, axis=1)
                field *= np.minimum(1.0, room / np.maximum(length, 1e-12))[:, None]
            self.control_basis[CONTROL_INDEX[name]] = field

    @staticmethod
    def _lid_line(upper_lids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The upper lids' height as a function of x (both eyes, sorted), for telling what lies above them."""
        order = np.argsort(upper_lids[:, 0])
        return upper_lids[order, 0], upper_lids[order, 1]

    def _smile_undo(self) -> np.ndarray:
        """(2, V, 3): the photo's own smile reversed, for the subject's left and right halves of the face.  The
        smile is read off the photo's mouth line, point by point: its lift above a neutral mouth's line (level,
        the corners 2 % of the width lower) is taken off the lips and the skin just around them, so the whole line
        straightens (taking off the corners' lift alone bends the line down beside the corners: a grimace); the
        corners come back in a little and the cheeks above them down."""
        p, u = self.points, self.unit
        mx, my = self._mouth_line_x, self._mouth_line_y
        cx, half = self.mouth_center[0], max(self.mouth_width / 2, 1e-6)
        x = p[:, 0]
        t = np.clip((x - cx) / half, -1.0, 1.0)
        line = np.interp(np.clip(x, mx[0], mx[-1]), mx, my)
        neutral = np.interp(cx, mx, my) - 0.02 * self.mouth_width * t**2
        lift = np.maximum(line - neutral, 0.0)
        beyond = np.maximum(np.abs(x - cx) - half, 0.0)
        near = np.maximum(np.abs(p[:, 1] - line) - 0.6 * u, 0.0)
        weight = np.exp(-(near**2) / (2 * (0.8 * u) ** 2) - beyond**2 / (2 * (1.0 * u) ** 2)) * self.is_mesh
        side = np.sign(x - cx)
        field = np.stack([-0.45 * side * lift, -lift, 0.5 * lift], axis=1) * weight[:, None]
        corners = [p[c] for c in G.MOUTH_CORNERS]  # subject's right, left
        for corner in corners:
            corner_lift = float(max(np.interp(corner[0], mx, my) - np.interp(cx, mx, my) + 0.02 * self.mouth_width, 0.0))
            cheek = self._gauss(corner + np.array([np.sign(corner[0] - cx) * 1.2, 1.8, -0.3]) * u, 1.5)
            field[:, 1] -= 0.6 * corner_lift * cheek
        left_share = _smoothstep((x - cx) / (0.6 * half) + 0.5)
        field *= _smoothstep(self.source_smile() / 0.6)  # a mouth that does not smile has bumps, not a smile
        return np.stack([field * left_share[:, None], field * (1.0 - left_share)[:, None]])

    def smile_release(self, controls: np.ndarray) -> np.ndarray:
        """(T, V, 3): the photo's own smile released as far as the controls (T, K) ask.  A photo that smiles keeps
        smiling through neutral speech, but a face that shows another emotion does not: corners turned down, wide
        eyes, raised inner or lowered brows, a wrinkled nose each release it (a unit of one about all of it), and
        a one-sided smile releases it on the other side (a smirk, not a smile with one corner higher)."""
        return np.einsum("ts,svd->tvd", self._release_amounts(controls), self.smile_undo)

    @staticmethod
    def _release_amounts(controls: np.ndarray) -> np.ndarray:
        """(T, 2) 0..1: how far the controls release the photo's smile on the subject's left and right."""
        c = np.asarray(controls, dtype=np.float64)
        others = c @ _SMILE_RELEASE
        left, right = c[:, CONTROL_INDEX["smile_left"]], c[:, CONTROL_INDEX["smile_right"]]
        return np.clip(np.stack([others + np.maximum(right - left, 0.0), others + np.maximum(left - right, 0.0)], axis=1), 0.0, 1.0)

    def fold_release(self, controls: np.ndarray) -> np.ndarray:
        """(T, 2) 0..1 per side (subject's left, right): how far the photo's smile folds soften, as far as its smile
        is released (a photo that does not smile has no smile to release, and keeps its folds)."""
        return self._release_amounts(controls) * _smoothstep(self.source_smile() / 0.6)

    def source_smile(self) -> float:
        """How much the photo smiles, in units of the smile controls (0..3): its mouth corners' lift above the lip
        centre beyond a neutral mouth's (corners 2 % of the mouth width below the centre, as measured on neutral
        photos), over the lift of a unit smile.  A broad smile is 2-3 units: undoing it takes that much."""
        p = self.points
        centre = (p[G.UPPER_INNER_LIP[5], 1] + p[G.LOWER_INNER_LIP[5], 1]) / 2
        corners = (p[G.MOUTH_CORNERS[0], 1] + p[G.MOUTH_CORNERS[1], 1]) / 2
        lift = (corners - centre) / max(self.mouth_width, 1e-6) + 0.02
        return float(np.clip(lift * self.mouth_width / (_SMILE_LIFT * self.unit), 0.0, 3.0))

    # ------------------------------------------------------------------ eyelids
    def _build_lids(self) -> None:
        """Pairs of upper/lower lid points and the skin above/below that follows them."""
        p = self.points
        tris = G.mesh_triangles()
        adjacency = [set() for _ in range(G.NUM_MESH)]
        for a, b, c in tris:
            adjacency[a].update((b, c)); adjacency[b].update((a, c)); adjacency[c].update((a, b))
        self.lid_pairs = []  # (upper idx array, lower idx array)
        self.lid_followers = []  # list of (vertex, leader index, share, is_upper)
        for upper, lower in ((G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER), (G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER)):
            up = np.array(upper[1:-1]); lo = np.array(lower[1:-1])
            self.lid_pairs.append((up, lo))
            followers = []
            contour = set(upper) | set(lower)
            for leaders, share_by_ring, sign in ((up, (0.5, 0.18), 1.0), (lo, (0.35, 0.1), -1.0)):
                ring = set(leaders.tolist())
                seen = set(contour)
                for share in share_by_ring:
                    nxt = set()
                    for v in ring:
                        nxt |= adjacency[v]
                    nxt -= seen
                    # keep vertices on the outer side of the lid (above the upper lid, below the lower)
                    nxt = {v for v in nxt if sign * (p[v, 1] - p[leaders, 1].mean()) > -0.05 * self.unit}
                    for v in nxt:
                        leader = int(leaders[np.argmin(np.linalg.norm(p[leaders, :2] - p[v, :2], axis=1))])
                        followers.append((v, leader, share))
                    seen |= nxt
                    ring = nxt
            self.lid_followers.append(followers)
        self.lid_gaps = [p[lo] - p[up] for up, lo in self.lid_pairs]  # vectors from upper to lower lid

    def lid_displacements(self, upper_amount: np.ndarray, lower_amount: np.ndarray) -> np.ndarray:
        """(T, 478, 3) displacement.  upper/lower_amount: (T, 2) shares of each eye's gap (left, right);
        the upper lid moves down by upper_amount * gap, the lower lid up by lower_amount * gap."""
        t = upper_amount.shape[0]
        disp = np.zeros((t, len(self.points), 3))
        for eye, ((up, lo), gap, followers) in enumerate(zip(self.lid_pairs, self.lid_gaps, self.lid_followers)):
            du = upper_amount[:, eye, None, None] * gap[None]
            dl = -lower_amount[:, eye, None, None] * gap[None]
            disp[:, up] += du
            disp[:, lo] += dl
            lookup = {int(v): k for k, v in enumerate(up)}
            lookup_lo = {int(v): k for k, v in enumerate(lo)}
            for v, leader, share in followers:
                if leader in lookup:
                    disp[:, v] += share * du[:, lookup[leader]]
                else:
                    disp[:, v] += share * dl[:, lookup_lo[leader]]
        return disp

    # ------------------------------------------------------------------ gaze
    def _build_irises(self) -> None:
        p = self.points
        self.irises = []
        for iris, upper, lower in ((G.LEFT_IRIS, G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER), (G.RIGHT_IRIS, G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER)):
            width = np.linalg.norm(p[upper[0]] - p[upper[-1]])
            centre = p[iris[0]]
            eyeball = centre - np.array([0, 0, self.config.eyeball_radius * self.unit])
            self.irises.append((np.array(iris), eyeball, width))

    def iris_displacements(self, eye_rotations: np.ndarray) -> np.ndarray:
        """(T, 478, 3): irises rotated about their eyeball centres, limited to stay inside the eye opening."""
        t = eye_rotations.shape[0]
        disp = np.zeros((t, len(self.points), 3))
        for eye, (iris, eyeball, width) in enumerate(self.irises):
            rel = self.points[iris] - eyeball
            moved = np.einsum("tij,vj->tvi", eye_rotations[:, eye], rel) - rel
            shift = moved[:, :1, :2]
            limit = np.array([self.config.max_iris_shift * width, 0.12 * width])
            clipped = np.clip(shift, -limit, limit)
            moved[:, :, :2] += clipped - shift
            disp[:, iris] = moved
        return disp
