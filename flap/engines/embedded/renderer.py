"""The embedded engine: renders a motion on a portrait by a 3D-guided warp of the photo itself (CPU, no weights).

Per frame: the rig deforms the face landmarks in the head frame (jaw, lids, gaze, named controls, FLAME
offsets), the head pose places them and the hair/neck rings in the image, a z-buffered rasteriser turns the
mesh into a backward map, and the warped head is layered over a background plate; the mouth interior and the
lash line are painted where the geometry opened or closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np

from flap.engines.embedded.compositing import (anchor_to_head, background_plate, composite_roi, consistent_plate, fill_alpha,
                                               premultiply, refine_matte, still_frame,
                                               subject_alpha)
from flap.engines.embedded.displacement import faded_displacement
from flap.engines.embedded.edges import soften_edges
from flap.engines.embedded.eyes import Eye, eye_models, turn_eyes
from flap.engines.embedded.folds import FoldSoftening, build_fold_softening, soften_folds
from flap.engines.embedded.glasses import frame_hold
from flap.engines.embedded.foreshortening import height_scale
from flap.engines.embedded.mesh import MeshConfig, RenderMesh, build_mesh
from flap.engines.embedded.mouth import (MouthStyle, SourceMouth, close_mouth_texture, mouth_style, paint_mouth,
                                         soften_lip_folds, source_mouth)
from flap.engines.embedded.rasterizer import rasterize_backward_map, rasterize_skin_into
from flap.engines.embedded.rig import FaceRig, RigConfig
from flap.engines.embedded.rim_fill import RimFill, RimFillConfig, bad_windows, build_rim_fill, fill_rim
from flap.engines.embedded.stretch import StretchConfig, StretchLimit, build_stretch_limit, limit_stretch
from flap.face import landmark_groups as G
from flap.face.geometry import image_to_camera
from flap.face.portrait import PortraitAnalysis
from flap.motion.representation import CONTROL_INDEX, MotionSequence
from flap.motion.rotations import axis_angle_to_matrix, euler_to_matrix, matrix_to_euler, rotation_6d_to_matrix

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddedRendererConfig:
    grid_cell: int = 4  # output pixels per rasteriser cell
    pose_mode: str = "relative"  # "relative": motion rotates the photo's own pose; "absolute": motion is the pose
    head_pivot_cm: tuple[float, float, float] = (0.0, -3.0, -3.0)
    chunk_frames: int = 50
    # A warp lacks the shading and occlusion cues of a real turn, so it is seen (by people and face trackers)
    # as less turned than its geometry.  Per portrait, the renderer measures that with the face tracker on a
    # few test frames and scales yaw and pitch so the perceived pose matches the requested one.
    calibrate_pose: bool = True
    calibration_angles: tuple[tuple[float, float], tuple[float, float]] = ((12.0, 27.0), (10.0, 20.0))  # yaw, pitch
    gain_range: tuple[float, float] = (0.75, 1.6)
    # degrees of actual warp (yaw, pitch), whatever the gain: beyond them a warp of one photo tears, and a nod
    # beyond 28 degrees squashes the face onto the collar
    max_geometric_angle: tuple[float, float] = (34.0, 28.0)
    # ... and at most this far from frontal (yaw, pitch) with the photo's own pose: a face already turned 20 degrees
    # has less room on that side.
    max_absolute_angle: tuple[float, float] = (42.0, 36.0)
    # a nod keeps the face's projected height down to this share of the photo's, and loses only this share of what
    # it would lose below that (foreshortening without shading reads as a squashed face)
    keep_face_height: tuple[float, float] = (0.92, 0.5)
    # the copies that the strip below the chin hangs from lie this far (head cm) behind the chin's landmarks
    chin_strip_behind_cm: float = 1.0
    mouth_interior: bool = True
    lash_line: bool = True
    mesh: MeshConfig = field(default_factory=MeshConfig)
    rig: RigConfig = field(default_factory=RigConfig)
    stretch: StretchConfig = field(default_factory=StretchConfig)
    rim_fill: RimFillConfig | None = field(default_factory=RimFillConfig)  # None: the rim as the warp draws it


@dataclass
class PreparedPortrait:
    portrait: PortraitAnalysis
    mesh: RenderMesh
    rig: FaceRig
    plate: np.ndarray
    mouth: MouthStyle
    source_jaw: float  # radians: how open the photo's mouth is, in jaw-rotation terms
    source_camera: np.ndarray  # (V, 3) vertex positions in camera pixels (the photo itself)
    paint_interior: bool
    premultiplied: np.ndarray  # what the warp samples: RGBA, colour x person mask (an open mouth filled from its lips)
    source_mouth: SourceMouth | None
    pose_gains: np.ndarray  # (2, 2, 2): [yaw, pitch] x [positive, negative] x [small, large test angle]
    moving_triangles: np.ndarray  # triangles that can move (any vertex with rigidity > 0)
    moving_cullable: np.ndarray  # (len(moving_triangles),) bool: face skin whose folds are hidden
    coarse_triangles: np.ndarray  # the moving triangles drawn on the coarse grid: hair and neck beyond the face
    detail_regions: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (vertex ids, triangles, cullable) at full resolution
    identity_grid: tuple[np.ndarray, np.ndarray]  # rasteriser cell centres in pixels
    pixel_grid: tuple[np.ndarray, np.ndarray]  # every pixel's own x and y (float32), the identity map
    base: np.ndarray  # the still head over the plate: what every frame starts from, so no region ever pops back
    outer_face: np.ndarray  # landmarks in the outer part of the face, which can reach past the rim on a turn
    stretch: StretchLimit  # how far a pose may stretch the rim of the face and the hair
    folds: FoldSoftening | None = None  # the photo's smile folds, softened as its smile is released
    rim_fill: RimFill | None = None  # skin for the side of the face the photo did not show
    eyes: list[Eye] = field(default_factory=list)  # the photo's eye openings and irises, which gaze turns


class EmbeddedRenderer:
    """Stateless apart from its config; ``prepare`` once per portrait, then ``render_frames`` any motion."""

    name = "embedded"

    def __init__(self, config: EmbeddedRendererConfig = EmbeddedRendererConfig()):
        self.config = config

    # ------------------------------------------------------------------ per portrait
    def prepare(self, portrait: PortraitAnalysis) -> PreparedPortrait:
        mesh = build_mesh(portrait.landmarks, portrait.pose, self.config.mesh)
        rig = FaceRig(mesh.head_points[: mesh.num_landmarks], self.config.rig)
        rig.hold_by_glasses(*frame_hold(portrait.crop, portrait.landmarks[: mesh.num_landmarks, :2]))
        size = portrait.size
        moving, head_y = self._vertex_value_images(mesh, size, mesh.rigidity, mesh.head_points[:, 1])
        # Only the head above the chin is cut out of the plate; the neck stays, so no fill shows beside it.
        above_chin = head_y > mesh.head_points[G.CHIN, 1] - 0.5 * rig.unit
        alpha = subject_alpha(refine_matte(portrait.person_mask, portrait.crop), portrait.landmarks)
        plate = background_plate(portrait.crop, alpha, moving * above_chin)
        # Soft alpha where the head barely moves stays behind with the photo; the plate is the background that the
        # photo allows under the alpha left, so the still head is the photo and its edge carries no background.
        alpha = fill_alpha(portrait.crop, plate, anchor_to_head(alpha, moving))
        plate = consistent_plate(portrait.crop, plate, alpha)
        source_jaw = rig.source_jaw
        pose = portrait.pose
        source_camera = pose.to_camera(mesh.head_points)
        own_mouth = source_mouth(portrait.crop, portrait.landmarks)
        moves = np.any(mesh.rigidity[mesh.triangles] > 1e-3, axis=1)
        moving_triangles = mesh.triangles[moves]
        state = PreparedPortrait(
            portrait=portrait, mesh=mesh, rig=rig, plate=plate,
            mouth=mouth_style(portrait.crop, portrait.landmarks), source_jaw=source_jaw, source_camera=source_camera,
            paint_interior=True,
            premultiplied=premultiply(close_mouth_texture(portrait.crop, portrait.landmarks) if own_mouth is not None else portrait.crop,
                                      alpha, plate),
            source_mouth=own_mouth,
            moving_triangles=moving_triangles,
            moving_cullable=mesh.cullable[moves],
            coarse_triangles=moving_triangles[~np.all(moving_triangles < mesh.num_landmarks, axis=1)],
            identity_grid=self._identity_grid(size),
            pixel_grid=tuple(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))),
            detail_regions=self._detail_regions(mesh),
            pose_gains=np.ones((2, 2, 2)),
            base=portrait.crop,
            outer_face=self._outer_face(mesh),
            stretch=build_stretch_limit(mesh, self.config.stretch),
        )
        state.base = still_frame(portrait.crop, state.premultiplied, plate)
        state.eyes = eye_models(portrait.landmarks[:, :2])
        if rig.source_smile() > 0.0:
            state.folds = build_fold_softening(state.premultiplied, portrait.landmarks[:, :2])
        if self.config.rim_fill is not None:
            state.rim_fill = build_rim_fill(portrait.crop, portrait.person_mask, portrait.landmarks, mesh.src_xy,
                                            mesh.head_points[:, :2], pose.scale, mesh.triangles, state.outer_face,
                                            mesh.num_landmarks, self.config.rim_fill)
        if self.config.calibrate_pose:
            state.pose_gains = self._calibrate(state)
        return state

    def _calibrate(self, state: PreparedPortrait) -> np.ndarray:
        """Render yaw and pitch test frames at two magnitudes each way, measure them with the tracker, and return
        gains[axis, direction, magnitude] that make the measured offsets equal the requested ones."""
        from flap.face.tracker import track_frames
        from flap.motion.rotations import euler_to_axis_angle

        levels = self.config.calibration_angles
        tests = [(0.0, 0.0)]
        for axis in (0, 1):
            for sign in (1.0, -1.0):
                for level in levels[axis]:
                    tests.append((sign * level, 0.0) if axis == 0 else (0.0, sign * level))
        motion = MotionSequence.neutral(len(tests)).replace(
            global_rotation=np.stack([euler_to_axis_angle(y, p, 0.0) for y, p in tests]))
        cams = self.vertex_positions(state, motion)
        track = track_frames([self.render_frame(state, cams[i]) for i in range(len(tests))], video_mode=False)
        gains = np.ones((2, 2, 2))
        if not track.found[0]:
            return gains
        k = 1
        lo, hi = self.config.gain_range
        for axis in (0, 1):
            for direction in (0, 1):
                for level_index in (0, 1):
                    requested = tests[k][axis]
                    if track.found[k]:
                        measured = track.euler[k, axis] - track.euler[0, axis]
                        if measured * requested > 0:
                            gains[axis, direction, level_index] = float(np.clip(requested / measured, lo, hi))
                    k += 1
        return gains

    @staticmethod
    def _outer_face(mesh: RenderMesh, share: float = 0.55) -> np.ndarray:
        """Landmarks farther from the face centre than ``share`` of the rim in their direction."""
        xy = mesh.src_xy[: mesh.num_landmarks]
        oval = np.array(G.face_oval_loop())
        centre = xy[oval].mean(axis=0)
        rel, rim = xy - centre, xy[oval] - centre
        angle, rim_angle = np.arctan2(rel[:, 1], rel[:, 0]), np.arctan2(rim[:, 1], rim[:, 0])
        nearest = np.argmin(np.abs(np.mod(angle[:, None] - rim_angle[None] + np.pi, 2 * np.pi) - np.pi), axis=1)
        return np.nonzero(np.linalg.norm(rel, axis=1) > share * np.linalg.norm(rim[nearest], axis=1))[0]

    @staticmethod
    def _detail_regions(mesh: RenderMesh) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The whole face at full resolution: folds (nose over cheek, lips over lips, jaw over collar) are sharp
        edges that a coarse map would turn into stair-steps and bleed across."""
        # The face and the first two strips around it (temples, ears, the hair's edge): on a turn they are squeezed
        # against the silhouette, and at coarse resolution their squeezed texture breaks into 4-pixel blocks.
        detail_end = mesh.num_landmarks + 2 * len(G.face_oval_loop())
        ids = np.concatenate([np.arange(detail_end), mesh.copy_ids])  # and the copies the first strip hangs from
        inside = np.zeros(len(mesh.head_points), bool)
        inside[ids] = True
        face = np.all(inside[mesh.triangles], axis=1)
        return [(ids, mesh.triangles[face], mesh.cullable[face])]

    def _identity_grid(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        cell = self.config.grid_cell
        n = int(np.ceil(size / cell))
        ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
        return (xs + 0.5) * cell - 0.5, (ys + 0.5) * cell - 0.5

    def _vertex_value_images(self, mesh: RenderMesh, size: int, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel interpolation of two per-vertex values over the undeformed mesh (0 outside it)."""
        cell = self.config.grid_cell
        grid = (int(np.ceil(size / cell)),) * 2
        values = np.stack([first, second], axis=1)
        a, b, covered = rasterize_backward_map(mesh.src_xy, np.zeros(len(mesh.src_xy)), values, mesh.triangles, grid, cell)
        out = []
        for m in (a, b):
            m = np.where(covered, m, 0.0).astype(np.float32)
            out.append(cv2.resize(m, (grid[1] * cell, grid[0] * cell), interpolation=cv2.INTER_LINEAR)[:size, :size])
        return out[0], out[1]

    # ------------------------------------------------------------------ geometry
    def vertex_positions(self, state: PreparedPortrait, motion: MotionSequence, expression_offsets: np.ndarray | None = None) -> np.ndarray:
        """(T, V, 3) camera-pixel positions of every mesh vertex (x right, y up, z toward the camera)."""
        rig, mesh = state.rig, state.mesh
        t = motion.num_frames
        head0 = mesh.head_points[: mesh.num_landmarks]
        pts = head0[None] + np.einsum("tk,kvd->tvd", motion.controls.astype(np.float64), rig.control_basis)
        pts = pts + rig.smile_release(motion.controls)
        c = motion.controls
        closure = motion.eyelids.astype(np.float64)
        share = rig.config.upper_lid_share
        squint = c[:, CONTROL_INDEX["eye_squint"]][:, None]
        wide = c[:, CONTROL_INDEX["eye_wide"]][:, None]
        cheek = c[:, CONTROL_INDEX["cheek_raise"]][:, None]
        brow = c[:, CONTROL_INDEX["brow_raise"]][:, None]
        upper = share * closure + 0.18 * squint - 0.18 * wide - 0.06 * brow
        lower = (1 - share) * closure + 0.25 * squint + 0.22 * cheek
        over = np.maximum(upper + lower - 1.0, 0.0)
        upper = np.maximum(upper - over * share, -0.22)  # a lid raised further stretches the iris into a bar
        lower = lower - over * (1 - share)
        pts = pts + rig.lid_displacements(upper, lower)
        pts = pts + rig.iris_displacements(rotation_6d_to_matrix(motion.eyes.reshape(t, 2, 6)))
        if expression_offsets is not None:
            pts = pts + expression_offsets[:, : mesh.num_landmarks] * rig.unit
        jaw = motion.jaw[:, 0].astype(np.float64)
        # the copies below the chin: as high as the chin with the jaw at most as open as the photo's (an opening
        # chin comes down over the collar), as deep as the chin itself (the jaw also swings the chin back, which a
        # turn would show as a sideways shift of the copies against the chin and the rings: a fold)
        copies = rig.pose_jaw(pts[:, mesh.copied], np.minimum(jaw, state.source_jaw), mesh.copied)
        pts = rig.pose_jaw(pts, jaw)
        copies[..., ::2] = pts[:, mesh.copied, ::2]
        rings = mesh.head_points[mesh.num_landmarks: mesh.copy_ids[0] if len(mesh.copied) else None]
        allp = np.concatenate([pts, np.broadcast_to(rings, (t,) + rings.shape), copies], axis=1)

        pose = state.portrait.pose
        motion_rot = axis_angle_to_matrix(motion.global_rotation.astype(np.float64))
        if self.config.pose_mode == "absolute":
            relative = motion_rot @ pose.rotation.T
        else:
            relative = motion_rot
        r_dst = self._perceptual(relative, state.pose_gains, matrix_to_euler(pose.rotation)) @ pose.rotation
        stretch = height_scale(r_dst, pose.rotation, head0[G.FOREHEAD] - head0[G.CHIN], self.config.keep_face_height)
        unstretched = allp
        if np.any(stretch != 1.0):  # about the face's centre, so the face grows both ways
            centre_y = head0[list(G.face_oval_loop()), 1].mean()
            allp = allp.copy()
            allp[..., 1] = centre_y + (allp[..., 1] - centre_y) * stretch[:, None]
        pivot = np.array(self.config.head_pivot_cm) * rig.unit
        scale = pose.scale * motion.scale.astype(np.float64)
        shift = motion.translation.astype(np.float64) * 100.0 * pose.scale  # metres -> cm -> pixels
        offset = pose.scale * (pose.rotation @ pivot) + pose.translation + shift[:, None, :]
        # (rotations applied by matmul: einsum's generic loop took ten times as long for these (T, 3, 3) x (T, V, 3))
        centred = allp - pivot
        cam = scale[:, None, None] * np.matmul(centred, r_dst.transpose(0, 2, 1)) + offset
        # Hair and ears follow the head's outline for yaw (a round head's silhouette stays put when it turns) but
        # nod and tilt with it in 3D (the top of the head comes down with the forehead on a nod).
        relative = r_dst @ pose.rotation.T
        euler = matrix_to_euler(relative)
        no_yaw = euler_to_matrix(np.zeros(t), euler[:, 1], euler[:, 2]) @ pose.rotation
        centre_dst = scale[:, None] * np.einsum("tij,j->ti", r_dst, mesh.outline_centre - pivot) + offset[:, 0]
        centre_no_yaw = scale[:, None] * np.einsum("tij,j->ti", no_yaw, mesh.outline_centre - pivot) + offset[:, 0]
        outline = scale[:, None, None] * np.matmul(centred, no_yaw.transpose(0, 2, 1)) + offset
        outline[..., :2] += (centre_dst - centre_no_yaw)[:, None, :2]
        outline[..., 2] = cam[..., 2]
        share = mesh.share_3d[None, :, None]
        cam = share * cam + (1 - share) * outline
        w = mesh.rigidity[None, :, None]
        cam = w * cam + (1 - w) * state.source_camera[None]
        unposed = pose.scale * np.matmul(unstretched, pose.rotation[:2].T) + pose.translation[:2]
        unposed = w[..., :2] * unposed + (1 - w[..., :2]) * state.source_camera[None, :, :2]
        # The limiter's areas are signed as in the photo (image axes, y down): in camera axes (y up) every area
        # has the other sign, and the area caps never acted (Dahlgren's unfolded cheek at 4-80x its area).
        down = np.array([1.0, -1.0])
        limited = limit_stretch(cam[..., :2] * down, state.stretch, unposed * down) * down
        if len(mesh.copied):
            # the copies keep their offset from the landmarks they copy (the limiter moves only the landmarks), and
            # lie behind them, so that the chin wins the z-buffer where it comes down over the strip
            copy_ids = mesh.copy_ids
            limited[:, copy_ids] = limited[:, mesh.copied] + (cam[:, copy_ids, :2] - cam[:, mesh.copied, :2])
            behind = self.config.chin_strip_behind_cm * rig.unit * pose.scale
            cam[:, copy_ids, 2] = np.minimum(cam[:, copy_ids, 2], cam[:, mesh.copied, 2]) - behind
        cam[..., :2] = limited
        return self._attach_rings(state, cam)

    @staticmethod
    def _attach_rings(state: PreparedPortrait, cam: np.ndarray, spacing: float = 0.04, keep: float = 0.5) -> np.ndarray:
        """Keep each ring outside the one inside it (and the first outside the posed silhouette of the face),
        radially from the posed face centre: where a turn pushes the cheek out past its hair ring, the ring goes
        with the silhouette instead of folding its strip over or being covered by the cheek.  A moving ring keeps
        ``keep`` of its strip's width in the photo, so the hair behind the far cheek stays visible as hair instead
        of being squeezed to a line against the background."""
        mesh = state.mesh
        oval = np.array(G.face_oval_loop())
        n_oval = len(oval)
        n_rings = mesh.num_rings
        xy = cam[..., :2]
        centre = xy[:, oval].mean(axis=1, keepdims=True)  # (T, 1, 2)
        inner = EmbeddedRenderer._silhouette(xy[:, oval] - centre, xy[:, state.outer_face] - centre)
        if len(mesh.copied):  # below the chin the first strip hangs from the copies: the jaw's opening does not push it
            lower = np.isin(oval, mesh.copied)
            inner[:, lower] += xy[:, mesh.copy_ids] - xy[:, mesh.copied]
        src = mesh.src_xy
        src_centre = src[oval].mean(axis=0)
        src_inner = np.linalg.norm(src[oval] - src_centre, axis=1)
        for k in range(n_rings):
            ids = mesh.num_landmarks + k * n_oval + np.arange(n_oval)
            src_len = np.linalg.norm(src[ids] - src_centre, axis=1)
            width = keep * mesh.rigidity[ids] * np.maximum(src_len - src_inner, 0.0)  # (R,) pixels
            src_inner = src_len
            rel = xy[:, ids] - centre
            length = np.linalg.norm(rel, axis=2, keepdims=True)
            direction = rel / np.maximum(length, 1e-9)
            # the inner ring along it, plus the strip's kept width
            reach = np.sum(inner * direction, axis=2, keepdims=True) * (1.0 + spacing) + width[None, :, None]
            pushed = np.maximum(length, reach)
            xy[:, ids] = centre + direction * pushed
            inner = xy[:, ids] - centre
        cam[..., :2] = xy
        return cam

    @staticmethod
    def _silhouette(rim: np.ndarray, outer: np.ndarray, compiled: bool = True) -> np.ndarray:
        """(T, R, 2) the rim pushed out, along each rim vertex's direction, to the farthest outer-face vertex within
        its angular sector: on a turn the far cheek, not the oval, is the face's outline.  ``compiled``: the search
        in one Numba pass (flap.engines.embedded.silhouette_kernel, the same bits); False: numpy's statement."""
        rim_angle = np.arctan2(rim[..., 1], rim[..., 0])  # (T, R)
        angle = np.arctan2(outer[..., 1], outer[..., 0])  # (T, N)
        sector = 1.5 * np.pi / rim.shape[1]
        length = np.linalg.norm(rim, axis=2)
        direction = rim / np.maximum(length, 1e-9)[..., None]
        if compiled:
            from flap.engines.embedded.silhouette_kernel import sector_reach

            reach = sector_reach(np.ascontiguousarray(direction), np.ascontiguousarray(rim_angle),
                                 np.ascontiguousarray(outer, dtype=np.float64), np.ascontiguousarray(angle), sector)
        else:
            near = np.abs(np.mod(angle[:, None, :] - rim_angle[:, :, None] + np.pi, 2 * np.pi) - np.pi) < sector
            reach = np.where(near, np.einsum("trd,tnd->trn", direction, outer), -np.inf).max(axis=2)
        return direction * np.maximum(length, reach)[..., None]

    def _perceptual(self, relative: np.ndarray, gains: np.ndarray, photo_euler: np.ndarray) -> np.ndarray:
        """Scale the yaw and pitch of relative rotations by the portrait's perceptual gains, interpolated between
        the two calibration magnitudes, and cap the geometric angle (also counting the photo's own pose)."""
        euler = matrix_to_euler(relative)
        for axis in (0, 1):
            limit = self.config.max_geometric_angle[axis]
            value = euler[:, axis]
            small, large = self.config.calibration_angles[axis]
            share = np.clip((np.abs(value) - small) / (large - small), 0.0, 1.0)
            direction = np.where(value >= 0, 0, 1)
            gain = gains[axis, direction, 0] * (1 - share) + gains[axis, direction, 1] * share
            room = self.config.max_absolute_angle[axis]
            lo, hi = max(-limit, -room - photo_euler[axis]), min(limit, room - photo_euler[axis])
            euler[:, axis] = np.clip(value * gain, min(lo, 0.0), max(hi, 0.0))
        return euler_to_matrix(euler[:, 0], euler[:, 1], euler[:, 2])

    # ------------------------------------------------------------------ frames
    def render_frames(self, state: PreparedPortrait, motion: MotionSequence, progress: Progress | None = None,
                      expression_offsets: np.ndarray | None = None, config=None) -> Iterator[np.ndarray]:
        """Yield (S, S, 3) uint8 frames.  Works in chunks so memory does not grow with the clip length.
        ``config`` (the job's) is accepted for a uniform engine interface; this engine needs nothing from it."""
        cv2.setNumThreads(1)  # per-frame calls are too small to split over threads (measured: 17 % less CPU), and
        # on a small machine the other core encodes
        total = motion.num_frames
        step = self.config.chunk_frames
        for start in range(0, total, step):
            idx = np.arange(start, min(total, start + step))
            chunk = motion.take(idx)
            offsets = None if expression_offsets is None else expression_offsets[idx]
            cams = self.vertex_positions(state, chunk, offsets)
            release = state.rig.fold_release(chunk.controls)
            for k in range(len(idx)):
                yield self.render_frame(state, cams[k], float(chunk.eyelids[k].mean()), release[k])
                if progress is not None:
                    progress(start + k + 1, total)

    def render_frame(self, state: PreparedPortrait, camera: np.ndarray, blink: float = 0.0,
                     fold_release: np.ndarray | None = None) -> np.ndarray:
        """One frame from the posed vertices (``vertex_positions``); ``blink`` (0..1) darkens the lash line;
        ``fold_release`` (2,) (``FaceRig.fold_release`` of the frame's controls) softens a smiling photo's folds."""
        out = state.base.copy()
        region = self.backward_map(state, camera)
        pts = image_to_camera(camera[: G.NUM_LANDMARKS])[:, :2]
        if region is not None:
            (x0, y0, x1, y1), sub_x, sub_y = region
            turn_eyes(sub_x, sub_y, (x0, y0), pts, state.eyes)
            warped = cv2.remap(state.premultiplied, sub_x, sub_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            if state.folds is not None and fold_release is not None:
                soften_folds(warped, state.folds, sub_x, sub_y, (x0, y0), pts, fold_release)
            # closed lids are a crease with a sharp lash line, not an occlusion edge to soften; the lips' folds are
            # soften_lip_folds' (after compositing, along the lip outline)
            lips = pts[list(G.UPPER_OUTER_LIP + G.LOWER_OUTER_LIP)]
            sharp = [pts[list(upper + lower)] - (x0, y0) for upper, lower in ((G.LEFT_EYE_UPPER, G.LEFT_EYE_LOWER),
                                                                              (G.RIGHT_EYE_UPPER, G.RIGHT_EYE_LOWER))]
            face = pts - (x0, y0)  # the face's own outline: where its occlusion edges are (cheek over ear, lips, nose)
            window = (*(np.floor(face.min(axis=0)).astype(int) - 8), *(np.ceil(face.max(axis=0)).astype(int) + 9))
            warped = soften_edges(warped, sub_x, sub_y, window, sharp=sharp + [lips - (x0, y0)])
            composite_roi(out, warped, state.plate, (x0, y0, x1, y1))
            if state.rim_fill is not None:
                for bad in bad_windows(state.rim_fill, pts, out.shape[:2]):  # its triangles are landmarks'
                    fill_rim(out, warped, (x0, y0), bad, state.rim_fill, pts)
            soften_lip_folds(out, sub_x, sub_y, (x0, y0), lips)
        if self.config.mouth_interior and state.paint_interior:
            paint_mouth(out, pts[list(G.UPPER_INNER_LIP)], pts[list(G.LOWER_INNER_LIP)], state.mouth, source=state.source_mouth)
        if self.config.lash_line and blink > 0.35:
            self._paint_lash_line(out, pts, min(1.0, (blink - 0.35) / 0.5))
        return out

    def backward_map(self, state: PreparedPortrait, camera: np.ndarray
                     ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
        """Where each output pixel of the moving region samples the photo: ((x0, y0, x1, y1), map_x, map_y) in
        pixels, or None when nothing moves (the frame is the still head).  Outside the region the map is the
        identity."""
        size = state.portrait.size
        cell = self.config.grid_cell
        grid = (int(np.ceil(size / cell)),) * 2
        dst = image_to_camera(camera)  # back to image axes (y down, z away) -> depth = -z
        # Folds of the face (its back showing) are dropped in both passes; the hair and neck strips are not culled,
        # as their folds are where they fade into the still background.
        # The coarse pass draws the hair and neck only: the face is drawn at full resolution on top of it.
        map_x, map_y, covered = rasterize_backward_map(dst[:, :2], camera[:, 2], state.mesh.src_xy, state.coarse_triangles, grid, cell)
        dx, dy, moved = faded_displacement(map_x, map_y, *state.identity_grid)  # (row0, row1, col0, col1) or None
        ids = state.detail_regions[0][0]
        face_xy = dst[ids, :2]
        if np.abs(face_xy - state.mesh.src_xy[ids]).max() > 0.1:  # the face moves (speech), even if the head does not
            lo = np.clip(np.floor(face_xy.min(axis=0) / cell).astype(int), 0, grid[1] - 1)
            hi = np.clip(np.ceil(face_xy.max(axis=0) / cell).astype(int), 0, grid[1] - 1)
            face = (int(lo[1]), int(hi[1]), int(lo[0]), int(hi[0]))
            moved = face if moved is None else (min(moved[0], face[0]), max(moved[1], face[1]),
                                                min(moved[2], face[2]), max(moved[3], face[3]))
        if moved is None:
            return None
        gy0, gy1 = max(moved[0] - 2, 0), min(moved[1] + 3, grid[0])
        gx0, gx1 = max(moved[2] - 2, 0), min(moved[3] + 3, grid[1])
        x0, y0 = gx0 * cell, gy0 * cell
        x1, y1 = min(gx1 * cell, size), min(gy1 * cell, size)
        # Upsample the displacement of the region (cell-aligned, so pixel centres line up with the grid) and add
        # it to each pixel's own position: at the region's edges the displacement is zero, so the edge pixels
        # stay exactly where they are wherever the region ends.
        shape = ((gx1 - gx0) * cell, (gy1 - gy0) * cell)
        sub_x = cv2.resize(dx[gy0:gy1, gx0:gx1], shape, interpolation=cv2.INTER_LINEAR)[: y1 - y0, : x1 - x0]
        sub_y = cv2.resize(dy[gy0:gy1, gx0:gx1], shape, interpolation=cv2.INTER_LINEAR)[: y1 - y0, : x1 - x0]
        sub_x += state.pixel_grid[0][y0:y1, x0:x1]
        sub_y += state.pixel_grid[1][y0:y1, x0:x1]
        self._refine_details(state, dst[:, :2], camera[:, 2], sub_x, sub_y, (x0, y0, x1, y1))
        return (x0, y0, x1, y1), sub_x, sub_y

    def _refine_details(self, state: PreparedPortrait, dst_xy: np.ndarray, depth: np.ndarray, map_x: np.ndarray,
                        map_y: np.ndarray, roi: tuple[int, int, int, int]) -> None:
        """Re-rasterise the face at full resolution (lids meeting, lips parting and folds are finer than the coarse
        grid).  Folds of the skin are culled; where nothing else covers a culled fold (the far rim on a turn), it
        is drawn after all, as skin seen edge-on, rather than leaving a hole that would show the unmoved photo."""
        x0, y0, x1, y1 = roi
        ids, triangles, cullable = state.detail_regions[0]
        pts = dst_xy[ids]
        lo = np.floor(pts.min(axis=0)).astype(int) - 3
        hi = np.ceil(pts.max(axis=0)).astype(int) + 4
        bx0, by0 = max(lo[0], x0), max(lo[1], y0)
        bx1, by1 = min(hi[0], x1), min(hi[1], y1)
        if bx1 <= bx0 or by1 <= by0:
            return
        rasterize_skin_into(map_x[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0], map_y[by0 - y0:by1 - y0, bx0 - x0:bx1 - x0],
                            dst_xy, depth, state.mesh.src_xy, triangles, cullable, (bx0, by0))

    def _paint_lash_line(self, frame: np.ndarray, pts: np.ndarray, strength: float) -> None:
        thickness = max(1, round(frame.shape[0] / 400))
        for upper in (G.LEFT_EYE_UPPER, G.RIGHT_EYE_UPPER):
            line = pts[list(upper)]
            x0, y0 = np.floor(line.min(axis=0)).astype(int) - 3
            x1, y1 = np.ceil(line.max(axis=0)).astype(int) + 4
            x0, y0 = max(x0, 0), max(y0, 0)
            x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
            if x1 <= x0 or y1 <= y0:
                continue
            roi = frame[y0:y1, x0:x1]
            mask = np.zeros(roi.shape[:2], dtype=np.uint8)
            poly = np.round((line - [x0, y0]) * 16).astype(np.int32)
            cv2.polylines(mask, [poly], False, 255, thickness, cv2.LINE_AA, shift=4)
            a = (mask.astype(np.float32) / 255.0 * 0.55 * strength)[:, :, None]
            dark = roi.astype(np.float32) * 0.35
            frame[y0:y1, x0:x1] = (roi * (1 - a) + dark * a).astype(np.uint8)
