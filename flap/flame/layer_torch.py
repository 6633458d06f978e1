"""Optional PyTorch FLAME layer (differentiable, GPU) with the same maths as :func:`flap.flame.layer.flame_forward`.

Only the full model's training and fitting code needs it; the embedded engine uses the numpy layer.
"""

from __future__ import annotations

import numpy as np

from flap.flame.model import FlameModel

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only where torch is missing
    raise ImportError("flap.flame.layer_torch needs PyTorch; the numpy layer (flap.flame.layer) does not") from exc


def _axis_angle_to_matrix(rotvec: "torch.Tensor") -> "torch.Tensor":
    angle = torch.linalg.norm(rotvec, dim=-1, keepdim=True).clamp_min(1e-8)
    axis = rotvec / angle
    x, y, z = axis.unbind(-1)
    zeros = torch.zeros_like(x)
    skew = torch.stack([zeros, -z, y, z, zeros, -x, -y, x, zeros], dim=-1).reshape(rotvec.shape[:-1] + (3, 3))
    a = angle[..., None]
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(skew)
    return eye + torch.sin(a) * skew + (1 - torch.cos(a)) * (skew @ skew)


class FlameLayer(nn.Module):
    """FLAME as a torch module: ``forward(shape, expression, global_pose, neck_pose, jaw_pose, eye_pose)``."""

    def __init__(self, model: FlameModel, dtype: "torch.dtype" = torch.float32):
        super().__init__()
        self.n_shape, self.n_exp = model.n_shape, model.n_exp
        self.register_buffer("v_template", torch.as_tensor(model.v_template, dtype=dtype))
        self.register_buffer("shapedirs", torch.as_tensor(model.shapedirs[:, :, : model.n_shape + model.n_exp], dtype=dtype))
        self.register_buffer("posedirs", torch.as_tensor(model.posedirs, dtype=dtype))
        self.register_buffer("J_regressor", torch.as_tensor(model.J_regressor, dtype=dtype))
        self.register_buffer("lbs_weights", torch.as_tensor(model.weights, dtype=dtype))
        self.register_buffer("faces", torch.as_tensor(model.faces.astype(np.int64)))
        self.parents = [int(p) for p in model.parents]

    def forward(self, shape=None, expression=None, global_pose=None, neck_pose=None, jaw_pose=None, eye_pose=None):
        given = [t for t in (shape, expression, global_pose, neck_pose, jaw_pose, eye_pose) if t is not None]
        batch = max([t.shape[0] for t in given] + [1])
        dtype, device = self.v_template.dtype, self.v_template.device

        def coeffs(t, n):
            out = torch.zeros(batch, n, dtype=dtype, device=device)
            if t is not None:
                k = min(n, t.shape[1])
                out[:, :k] = t[:, :k].to(dtype)
            return out

        def pose(t, n):
            return torch.zeros(batch, n, dtype=dtype, device=device) if t is None else t.to(dtype).expand(batch, n)

        betas = torch.cat([coeffs(shape, self.n_shape), coeffs(expression, self.n_exp)], dim=1)
        full = torch.cat([pose(global_pose, 3), pose(neck_pose, 3), pose(jaw_pose, 3), pose(eye_pose, 6)], dim=1).view(batch, 5, 3)
        v_shaped = self.v_template + torch.einsum("vck,bk->bvc", self.shapedirs, betas)
        joints = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        rot = _axis_angle_to_matrix(full)
        eye3 = torch.eye(3, dtype=dtype, device=device)
        feature = (rot[:, 1:] - eye3).reshape(batch, -1)
        v_posed = v_shaped + torch.einsum("vck,bk->bvc", self.posedirs, feature)
        rel = joints.clone()
        rel[:, 1:] = joints[:, 1:] - joints[:, self.parents[1:]]
        local = torch.zeros(batch, 5, 4, 4, dtype=dtype, device=device)
        local[:, :, :3, :3] = rot
        local[:, :, :3, 3] = rel
        local[:, :, 3, 3] = 1
        chain = [local[:, 0]]
        for i in range(1, 5):
            chain.append(chain[self.parents[i]] @ local[:, i])
        world = torch.stack(chain, dim=1)
        offset = torch.einsum("bjik,bjk->bji", world[:, :, :3, :3], joints)
        trans = world[:, :, :3, 3] - offset
        blend_r = torch.einsum("vj,bjik->bvik", self.lbs_weights, world[:, :, :3, :3])
        blend_t = torch.einsum("vj,bji->bvi", self.lbs_weights, trans)
        return torch.einsum("bvik,bvk->bvi", blend_r, v_posed) + blend_t
