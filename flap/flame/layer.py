"""FLAME's forward pass in numpy: shape/expression/pose blendshapes, then linear blend skinning.

Same maths as smplx's ``lbs`` (which FLAME_PyTorch, DECA and EMOCA use): rotations from axis-angle, joints
regressed from the shaped mesh, pose correctives driven by (R - I) of the non-root joints, transforms chained
down the kinematic tree and blended by the skinning weights.
"""

from __future__ import annotations

import numpy as np

from flap.flame.model import NUM_JOINTS, FlameModel
from flap.motion.rotations import axis_angle_to_matrix


def _batch(value, width: int, batch: int | None, name: str) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must be (batch, {width}) or ({width},); got {array.shape}")
    if array.shape[1] != width:
        raise ValueError(f"{name} must have {width} values per row; got {array.shape[1]}")
    return array


def _coefficients(value, n_model: int, batch: int, name: str) -> np.ndarray:
    """Pad with zeros or cut to the model's number of components (files carry 50, 100, 300 ...)."""
    if value is None:
        return np.zeros((batch, n_model))
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must be (batch, n) or (n,); got {array.shape}")
    out = np.zeros((array.shape[0], n_model))
    k = min(n_model, array.shape[1])
    out[:, :k] = array[:, :k]
    return out


def full_pose(global_pose=None, neck_pose=None, jaw_pose=None, eye_pose=None, batch: int = 1) -> np.ndarray:
    """(B, 5, 3) axis-angle per joint from the separate FLAME pose parameters (None = zero)."""
    parts = [_batch(global_pose, 3, batch, "global_pose"), _batch(neck_pose, 3, batch, "neck_pose"),
             _batch(jaw_pose, 3, batch, "jaw_pose"), _batch(eye_pose, 6, batch, "eye_pose")]
    sizes = {p.shape[0] for p in parts if p is not None}
    b = max(sizes | {batch})
    out = np.zeros((b, NUM_JOINTS, 3))
    for part, cols in zip(parts, ((0,), (1,), (2,), (3, 4))):
        if part is not None:
            out[:, list(cols), :] = np.broadcast_to(part.reshape(part.shape[0], len(cols), 3), (b, len(cols), 3))
    return out


def rigid_transforms(rotations: np.ndarray, joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(B, J, 4, 4) skinning transforms: each joint's world transform with its rest position removed."""
    b, j = rotations.shape[:2]
    rel = joints.copy()
    rel[:, 1:] -= joints[:, parents[1:]]
    local = np.zeros((b, j, 4, 4))
    local[:, :, :3, :3] = rotations
    local[:, :, :3, 3] = rel
    local[:, :, 3, 3] = 1.0
    world = [local[:, 0]]
    for i in range(1, j):
        world.append(world[parents[i]] @ local[:, i])
    world = np.stack(world, axis=1)
    out = world.copy()
    out[:, :, :3, 3] -= np.einsum("bjik,bjk->bji", world[:, :, :3, :3], joints)
    return out


def flame_forward(model: FlameModel, shape=None, expression=None, global_pose=None, neck_pose=None, jaw_pose=None,
                  eye_pose=None, eyelids=None, return_joints: bool = False):
    """Posed FLAME vertices (B, V, 3) in metres for batched parameters; any argument may be None (zeros).

    shape (B, <=n_shape), expression (B, <=n_exp): padded or cut to the model's sizes.  Poses are axis-angle
    radians: global (B, 3), neck (B, 3), jaw (B, 3), eye (B, 6: left then right).  eyelids (B, 2) in [0, 1] is
    used only if the model has eyelid blendshapes.  Rows broadcast from 1 to the largest batch.
    """
    pose = full_pose(global_pose, neck_pose, jaw_pose, eye_pose)
    sizes = [pose.shape[0]] + [np.atleast_2d(v).shape[0] for v in (shape, expression, eyelids) if v is not None]
    batch = max(sizes)
    if any(s not in (1, batch) for s in sizes):
        raise ValueError(f"parameter batches do not match: {sizes}")
    pose = np.broadcast_to(pose, (batch,) + pose.shape[1:])
    betas = np.broadcast_to(_coefficients(shape, model.n_shape, 1, "shape"), (batch, model.n_shape))
    psi = np.broadcast_to(_coefficients(expression, model.n_exp, 1, "expression"), (batch, model.n_exp))

    v_shaped = model.v_template[None] + np.einsum("vck,bk->bvc", model.shape_dirs, betas) \
        + np.einsum("vck,bk->bvc", model.expression_dirs, psi)
    if eyelids is not None and model.eyelid_dirs is not None:
        lids = np.broadcast_to(np.atleast_2d(np.asarray(eyelids, dtype=np.float64)), (batch, 2))
        v_shaped = v_shaped + np.einsum("vck,bk->bvc", model.eyelid_dirs, lids)
    joints = np.einsum("jv,bvc->bjc", model.J_regressor, v_shaped)
    rotations = axis_angle_to_matrix(pose)  # (B, 5, 3, 3)
    pose_feature = (rotations[:, 1:] - np.eye(3)).reshape(batch, -1)  # (B, 36)
    v_posed = v_shaped + np.einsum("vck,bk->bvc", model.posedirs, pose_feature)
    transforms = rigid_transforms(rotations, joints, model.parents)
    blended = np.einsum("vj,bjik->bvik", model.weights, transforms)  # (B, V, 4, 4)
    vertices = np.einsum("bvik,bvk->bvi", blended[:, :, :3, :3], v_posed) + blended[:, :, :3, 3]
    if return_joints:
        posed_joints = transforms[:, :, :3, 3] + np.einsum("bjik,bjk->bji", transforms[:, :, :3, :3], joints)
        return vertices, posed_joints
    return vertices


def expression_displacements(model: FlameModel, expression: np.ndarray, vertex_ids: np.ndarray | None = None) -> np.ndarray:
    """(T, K, 3) vertex displacements caused by expression coefficients alone (zero pose, zero shape).

    With zero pose every skinning transform is the identity and the pose correctives vanish, so the expression
    blendshapes are the whole effect: a cheap gather instead of a full forward pass.
    """
    psi = _coefficients(expression, model.n_exp, 1, "expression")
    dirs = model.expression_dirs if vertex_ids is None else model.expression_dirs[vertex_ids]
    return np.einsum("vck,tk->tvc", dirs, psi)
