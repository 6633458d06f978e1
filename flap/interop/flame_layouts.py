"""FLAME parameter files from trackers and generators -> MotionSequence, with the layout recognised by key names.

Keys are matched by their last path component, case-insensitively (nested dicts such as metrical-tracker's
``flame/exp`` work).  Each FLAP field takes the first alias that is present; everything else is either a known
non-motion entry (identity shape, texture, lighting ...), listed as ignored, or unknown, listed with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flap.errors import MotionFormatError
from flap.interop.rotation_formats import parse_rotation, to_axis_angle
from flap.motion.representation import CONTROL_INDEX, NUM_CONTROLS, NUM_FLAME_EXPRESSION, MotionSequence
from flap.motion.rotations import matrix_to_rotation_6d

ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "expression": ("expression", "expr", "exp", "expcode", "expression_params", "exp_params", "predicted_exp",
                   "flame_exp", "expressions", "exp_coeff", "exp_coeffs", "expression_code"),
    "global": ("global_pose", "global_orient", "global_rotation", "root_pose", "head_pose", "global_rot", "rotation",
               "head_rotation"),
    "jaw": ("jaw_pose", "jaw", "jaw_params", "predicted_jaw", "jaw_rotation"),
    "neck": ("neck_pose", "neck", "neck_params"),
    "eyes": ("eye_pose", "eyes_pose", "eyes", "eye_params", "eyes_params", "eyeballs"),
    "left_eye": ("leye_pose", "left_eye_pose", "eye_pose_left"),
    "right_eye": ("reye_pose", "right_eye_pose", "eye_pose_right"),
    "eyelids": ("eyelids", "eyelid_params", "eyelid", "eyelids_params"),
    "pose": ("pose", "posecode", "pose_params", "poses", "full_pose", "flame_pose", "pose_code"),
    "translation": ("transl", "trans", "translation", "head_transl", "head_translation"),
    "camera": ("cam", "cam_params", "camera"),
    "scale": ("scale",),
    "controls": ("controls",),
}
FPS_KEYS = ("fps", "frame_rate", "framerate", "exportfps", "mocap_frame_rate", "fps_out", "frames_per_second")
TIME_KEYS = ("time", "times", "timestamp", "timestamps", "time_s", "t")
IGNORED_KEYS = frozenset((
    "shape", "shapecode", "betas", "shape_params", "shape_code", "identity", "tex", "texcode", "tex_params", "texture",
    "light", "lightcode", "lights", "light_params", "detail", "detailcode", "images", "image", "frame_id", "frame_ids",
    "frame", "frame_idx", "timestep_id", "timestep", "static_offset", "dynamic_offset", "k", "fl", "pp", "focal_length",
    "principal_point", "img_size", "image_size", "bbox", "landmarks", "lmk", "lmks", "landmarks2d", "landmarks3d",
    "kpt", "verts", "vertices", "trans_verts", "tform", "original_image", "format", "version", "meta",
    "control_names", "condition", "num_frames", "n_frames", "style", "audio", "name", "subject", "emotion",
    "intensity", "t_cam", "cam_t", "opt_iter", "loss", "r", "t", "width", "height", "image_path", "path", "file",
) + FPS_KEYS + TIME_KEYS)
#: Largest plausible rotation (radians) per joint; beyond it the values are taken for degrees.
PLAUSIBLE_RAD = {"global": np.pi, "neck": np.pi, "jaw": 1.0, "eyes": np.pi / 2}


@dataclass
class FlameParse:
    motion: MotionSequence
    layout: str
    fps: float | None  # from the file
    fps_key: str | None
    channels: list[str]
    mapping: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def leaf(key: str) -> str:
    return key.rsplit("/", 1)[-1].strip().lower()


def find_scalar(values: dict, names: tuple[str, ...]) -> tuple[float | None, str | None]:
    for key, value in values.items():
        if leaf(key) in names:
            array = np.asarray(value)
            if array.size == 1 and array.dtype.kind in "fiu":
                return float(array.reshape(-1)[0]), key
    return None, None


def _numeric(key: str, value: Any, source: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise MotionFormatError(f"{source}: '{key}' must hold numbers; got {array.dtype} values")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        frame = int(np.argwhere(bad)[0][0]) if array.ndim else 0
        raise MotionFormatError(f"{source}: '{key}' contains NaN or Inf (first at frame {frame})")
    return array


def _per_frame(key: str, array: np.ndarray, source: str, matrix_ok: bool = False) -> np.ndarray:
    """Frames first: (K,) is one frame, (1, T, K) loses its batch axis, (B>1, T, K) is refused."""
    if array.ndim == 0:
        raise MotionFormatError(f"{source}: '{key}' is a single number; expected per-frame values (frames, n)")
    if array.ndim == 1:
        return array[None, :]
    if array.ndim == 2:
        return array
    if matrix_ok and array.shape[-2:] == (3, 3) and array.ndim in (3, 4) and not (array.ndim == 4 and array.shape[0] == 1):
        return array
    if array.shape[0] == 1:
        return _per_frame(key, array[0], source, matrix_ok)
    if matrix_ok and array.ndim == 3:
        return array  # (T, joints, width); checked by parse_rotation
    raise MotionFormatError(f"{source}: '{key}' has shape {array.shape}: a batch of {array.shape[0]} sequences; "
                            "save one sequence (frames, n) per file")


def _name_layout(keys: set[str], values: dict, kind: str) -> str:
    fmt = str(np.asarray(values.get("format", ""))) if "format" in values else ""
    if fmt == "flap-flame-params":
        return "FLAP FLAME-parameter export"
    leaves = {leaf(k) for k in keys}
    nested = any("/" in k for k in keys)
    if {"expression_params", "jaw_params"} & leaves or "eyelid_params" in leaves:
        name = "SMIRK output (expression_params, pose_params, jaw_params, eyelid_params)"
    elif "expcode" in leaves or "posecode" in leaves:
        name = "EMOCA codedict (expcode, posecode)"
    elif {"exp", "pose"} <= leaves and ({"cam", "light", "tex", "detail"} & leaves):
        name = "DECA codedict (exp, pose = global + jaw)"
    elif {"exp", "pose"} <= leaves:
        name = "DiffPoseTalk-style coefficients (exp, pose = global + jaw)"
    elif nested and any(k.lower().startswith("flame/") for k in keys):
        name = "metrical-tracker / MICA frame (flame/..., camera/...)"
    elif "expr" in leaves and "rotation" in leaves:
        name = "VHAP / GaussianAvatars tracking (expr, rotation, jaw_pose, neck_pose, eyes_pose)"
    elif "predicted_exp" in leaves or "predicted_jaw" in leaves:
        name = "EMOTE output (predicted_exp, predicted_jaw)"
    else:
        name = "FLAME parameters"
    return name


def looks_like_flame(values: dict) -> bool:
    aliases = {a for names in ROLE_ALIASES.values() for a in names if a not in ("scale", "controls", "camera", "rotation")}
    return any(leaf(k) in aliases for k in values)


def parse_flame(values: dict, source: str, kind: str, angle_unit: str = "auto") -> FlameParse:
    """Map a flat dict of FLAME parameters onto a MotionSequence at the file's own frame rate (fps set to 25 until
    the caller fixes it).  Raises MotionFormatError for anything malformed."""
    mapping: list[str] = []
    warnings: list[str] = []
    by_role: dict[str, tuple[str, np.ndarray]] = {}
    used: set[str] = set()
    leaves = {k: leaf(k) for k in values}

    for role, aliases in ROLE_ALIASES.items():
        found = [(aliases.index(leaves[k]), k) for k in values if leaves[k] in aliases]
        if role == "global":  # metrical-tracker camera rotation matrices: (T, 3, 3) under camera/R
            found += [(len(aliases), k) for k in values if k.lower() in ("camera/r", "cam/r")]
        if not found:
            continue
        found.sort()
        key = found[0][1]
        by_role[role] = (key, _numeric(key, values[key], source))
        used.update(k for _, k in found)
        for _, other in found[1:]:
            mapping.append(f"{other}: ignored (same information as '{key}')")

    if not by_role or set(by_role) <= {"scale", "translation", "camera"}:
        known = ", ".join(sorted(values)) or "nothing"
        meshes = any(leaf(k) in ("verts", "vertices", "vertice", "trans_verts") for k in values)
        hint = " Mesh vertex sequences are not imported: export the model's FLAME parameters." if meshes else ""
        raise MotionFormatError(f"{source}: no FLAME motion keys found (the file has: {known}).{hint} Expected FLAME parameters such as "
                                "'exp'/'expression', 'pose' (global + jaw), 'jaw_pose', 'global_pose', 'eye_pose', 'eyelids'; "
                                "ARKit blendshape curves; or a FLAP motion file. See docs/flame.md for every supported layout")

    # ---- shapes and frame counts
    arrays: dict[str, np.ndarray] = {}
    for role, (key, array) in by_role.items():
        if role == "scale":
            arrays[role] = array.reshape(-1) if array.ndim <= 1 else _per_frame(key, array, source)[:, 0]
            continue
        arrays[role] = _per_frame(key, array, source, matrix_ok=role in ("global", "jaw", "neck", "eyes", "pose"))
    counts = {by_role[r][0]: a.shape[0] for r, a in arrays.items()}
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"'{k}' {n}" for k, n in counts.items())
        raise MotionFormatError(f"{source}: the keys disagree on the number of frames ({listing}); every per-frame key must have the same length")
    t = next(iter(counts.values()))
    if t == 0:
        raise MotionFormatError(f"{source}: the motion has no frames")

    rot: dict[str, np.ndarray] = {}

    def rotation(role: str, array: np.ndarray, key: str, joints: int = 1) -> np.ndarray:
        parsed = parse_rotation(array, key, joints, source, PLAUSIBLE_RAD.get(role, np.pi), angle_unit)
        if parsed.converted_from_degrees:
            warnings.append(f"'{key}' was read as degrees (angle_unit='degrees') and converted to radians")
        return parsed.matrices, parsed.representation

    # ---- combined pose vectors
    if "pose" in arrays:
        key = by_role["pose"][0]
        pose = arrays["pose"]
        width = pose.shape[1] if pose.ndim == 2 else None
        layouts = {3: (("global",), 3), 6: (("global", "jaw"), 3), 12: (("global", "jaw"), 6),
                   15: (("global", "neck", "jaw", "left_eye", "right_eye"), 3), 30: (("global", "neck", "jaw", "left_eye", "right_eye"), 6)}
        if width not in layouts:
            raise MotionFormatError(f"{source}: '{key}' has shape {pose.shape}; expected (frames, 6) = global + jaw axis-angle "
                                    "(DECA/EMOCA), (frames, 3) = global only, (frames, 15) = global, neck, jaw, left eye, right eye, "
                                    "or the 6D versions (12, 30)")
        joints, w = layouts[width]
        for i, joint in enumerate(joints):
            part = pose[:, i * w : (i + 1) * w]
            role = "eyes" if joint.endswith("_eye") else joint
            if joint in rot or (joint in ("left_eye", "right_eye") and "eyes" in arrays):
                continue
            if joint in arrays:
                continue  # a separate key for this joint wins
            rot[joint], rep = rotation(role, part, f"{key}[:, {i * w}:{(i + 1) * w}]")
            mapping.append(f"{key}[:, {i * w}:{(i + 1) * w}] ({rep}) -> {joint.replace('_', ' ')} rotation")

    for role in ("global", "neck", "jaw"):
        if role in arrays:
            key = by_role[role][0]
            rot[role], rep = rotation(role, arrays[role], key)
            mapping.append(f"{key} {tuple(arrays[role].shape)} ({rep}) -> {role} rotation")
    if "eyes" in arrays:
        key = by_role["eyes"][0]
        eyes = arrays["eyes"]
        joints = 1 if (eyes.ndim == 2 and eyes.shape[1] in (3, 4, 9)) else 2
        m, rep = rotation("eyes", eyes, key, joints)
        if joints == 1:
            warnings.append(f"'{key}' has one eye rotation per frame; it drives both eyes")
            m = np.concatenate([m, m], axis=1)
        rot["left_eye"], rot["right_eye"] = m[:, :1], m[:, 1:2]
        mapping.append(f"{key} {tuple(eyes.shape)} ({rep}) -> eyes (left eye first)")
    for side in ("left_eye", "right_eye"):
        if side in arrays:
            key = by_role[side][0]
            rot[side], rep = rotation("eyes", arrays[side], key)
            mapping.append(f"{key} ({rep}) -> {side.replace('_', ' ')}")

    motion = MotionSequence.neutral(t, 25.0)
    updates: dict[str, np.ndarray] = {}
    channels: list[str] = []

    # ---- head pose
    if "global" in rot or "neck" in rot:
        head = np.broadcast_to(np.eye(3), (t, 3, 3)).copy()
        if "global" in rot:
            head = rot["global"][:, 0]
        if "neck" in rot and not np.allclose(rot["neck"][:, 0], np.eye(3)):
            head = head @ rot["neck"][:, 0]
            mapping.append("neck rotation composed after the global rotation -> global_rotation (FLAP has one head rotation)")
        updates["global_rotation"] = to_axis_angle(head)
        channels.append("head_pose")
    if "jaw" in rot:
        updates["jaw"] = to_axis_angle(rot["jaw"][:, 0])
        opening = float(np.max(updates["jaw"][:, 0], initial=0.0))
        if opening > 0.6:
            warnings.append(f"the jaw opens up to {np.rad2deg(opening):.0f} degrees, wider than natural speech")
        channels.append("jaw")
    if "left_eye" in rot or "right_eye" in rot:
        eye = np.broadcast_to(np.eye(3), (t, 1, 3, 3))
        left = rot.get("left_eye", eye)
        right = rot.get("right_eye", left if "right_eye" not in rot else eye)
        updates["eyes"] = matrix_to_rotation_6d(np.concatenate([left, right], axis=1)).reshape(t, 12)
        channels.append("eyes")

    # ---- eyelids
    if "eyelids" in arrays:
        key = by_role["eyelids"][0]
        lids = arrays["eyelids"]
        if lids.shape[1] == 1:
            lids = np.repeat(lids, 2, axis=1)
            warnings.append(f"'{key}' has one eyelid value per frame; it drives both eyes")
        elif lids.shape[1] != 2:
            raise MotionFormatError(f"{source}: '{key}' has shape {by_role['eyelids'][1].shape}; expected (frames, 2) = left, right eyelid closure")
        if lids.min() < -0.2 or lids.max() > 1.5:
            warnings.append(f"'{key}' ranges {lids.min():.2f}..{lids.max():.2f}; eyelid closure is 0 (open) .. 1 (closed), values were clipped")
        updates["eyelids"] = np.clip(lids, 0.0, 1.0)
        mapping.append(f"{key} (frames, 2) -> eyelids (left, right; 0 open, 1 closed)")
        channels.append("eyelids")

    # ---- expression
    if "expression" in arrays:
        key = by_role["expression"][0]
        exp = arrays["expression"]
        n = exp.shape[1]
        if exp.ndim != 2 or n == 0:
            raise MotionFormatError(f"{source}: '{key}' has shape {exp.shape}; expected (frames, 50 or 100) FLAME expression coefficients")
        biggest = float(np.abs(exp).max(initial=0.0))
        if biggest > 50:
            raise MotionFormatError(f"{source}: '{key}' has values up to {biggest:.3g}; FLAME expression coefficients are "
                                    "a few units at most: this is not a FLAME expression array")
        if biggest > 8:
            warnings.append(f"'{key}' has values up to {biggest:.1f}; FLAME expression coefficients beyond about 5 give distorted faces")
        full = np.zeros((t, NUM_FLAME_EXPRESSION))
        k = min(n, NUM_FLAME_EXPRESSION)
        full[:, :k] = exp[:, :k]
        if n > NUM_FLAME_EXPRESSION:
            warnings.append(f"'{key}' has {n} coefficients; FLAME has {NUM_FLAME_EXPRESSION}, the rest were dropped")
        if n not in (50, 100) and n <= NUM_FLAME_EXPRESSION:
            warnings.append(f"'{key}' has {n} coefficients (FLAME files usually carry 50 or 100); read as the first {n}")
        updates["expression"] = full
        mapping.append(f"{key} ({t}, {n}) -> expression[:, :{k}]" + (" (rest zero)" if k < NUM_FLAME_EXPRESSION else ""))
        channels.append("expression")

    # ---- named controls (FLAP's own exports)
    if "controls" in arrays:
        key = by_role["controls"][0]
        names_key = next((k for k in values if leaf(k) == "control_names"), None)
        controls = arrays["controls"]
        out = np.zeros((t, NUM_CONTROLS))
        if names_key is not None:
            names = [str(n) for n in np.asarray(values[names_key]).reshape(-1)]
            if len(names) != controls.shape[1]:
                raise MotionFormatError(f"{source}: '{key}' has {controls.shape[1]} columns but '{names_key}' names {len(names)}")
            for j, name in enumerate(names):
                if name in CONTROL_INDEX:
                    out[:, CONTROL_INDEX[name]] = controls[:, j]
        elif controls.shape[1] == NUM_CONTROLS:
            out = controls
        else:
            raise MotionFormatError(f"{source}: '{key}' has {controls.shape[1]} columns; FLAP has {NUM_CONTROLS} named controls")
        updates["controls"] = np.clip(out, 0.0, 2.0)
        mapping.append(f"{key} -> named expression controls")
        if "expression" not in channels:
            channels.append("expression")

    # ---- placement
    if "translation" in arrays:
        key = by_role["translation"][0]
        tr = arrays["translation"]
        if tr.shape[1] != 3:
            raise MotionFormatError(f"{source}: '{key}' has shape {tr.shape}; expected (frames, 3) translation in metres")
        own = str(np.asarray(values.get("format", ""))) == "flap-flame-params"
        rel = tr if own else tr - tr.mean(axis=0)
        if np.abs(rel).max(initial=0) > 1.0:
            warnings.append(f"'{key}' moves more than a metre: FLAME translations are metres (are these millimetres or centimetres?)")
        updates["translation"] = rel
        mapping.append(f"{key} (frames, 3) -> translation" + (" (metres)" if own else ", relative to its mean (metres)"))
    elif "camera" in arrays:
        key = by_role["camera"][0]
        cam = arrays["camera"]
        if cam.shape[1] == 3 and np.all(cam[:, 0] > 0):
            updates["scale"] = cam[:, 0] / cam[:, 0].mean()
            tr = np.zeros((t, 3))
            tr[:, :2] = cam[:, 1:3] - cam[:, 1:3].mean(axis=0)
            updates["translation"] = tr
            mapping.append(f"{key} (frames, 3) orthographic (scale, tx, ty) -> scale relative to its mean, x/y translation relative to its mean")
        else:
            mapping.append(f"{key}: ignored (not an orthographic (scale, tx, ty) camera)")
    if "scale" in arrays:
        key = by_role["scale"][0]
        scale = arrays["scale"]
        if scale.shape[0] == t and np.all(scale > 0):
            updates["scale"] = scale
            mapping.append(f"{key} -> scale")
        else:
            mapping.append(f"{key}: ignored (not a positive per-frame zoom)")

    ignored = sorted(k for k in values if k not in used and leaves[k] in IGNORED_KEYS)
    unknown = sorted(k for k in values if k not in used and leaves[k] not in IGNORED_KEYS)
    identity = [k for k in ignored if leaves[k] in ("shape", "shapecode", "betas", "shape_params", "shape_code", "identity")]
    if identity:
        mapping.append(f"{', '.join(identity)}: ignored (identity shape: the portrait supplies the identity)")
    rest = [k for k in ignored if k not in identity and leaves[k] not in FPS_KEYS + TIME_KEYS + ("format", "version", "meta", "control_names")]
    if rest:
        mapping.append(f"{', '.join(rest)}: ignored (not motion)")
    if unknown:
        warnings.append(f"unknown keys ignored: {', '.join(unknown)}")

    try:
        motion = motion.replace(**updates)
    except MotionFormatError as exc:
        raise MotionFormatError(f"{source}: {exc}") from exc
    fps, fps_key = find_scalar(values, FPS_KEYS)
    return FlameParse(motion=motion, layout=_name_layout(set(values), values, kind), fps=fps, fps_key=fps_key,
                      channels=channels, mapping=mapping, warnings=warnings)
