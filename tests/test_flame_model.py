"""FLAME model loading (chumpy-era pickles without chumpy, npz, hub) and the skinning maths."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from flap.errors import EngineUnavailableError
from flap.flame import loading
from flap.flame.layer import flame_forward
from flap.flame.loading import load_flame_model, read_model_file
from flap.flame.model import build_model
from flap.flame.safe_pickle import UnsafePickleError, restricted_load
from flap.flame.synthetic import make_synthetic_flame, write_flame_pickle


def tiny_flame(seed: int = 0, num_v: int = 12) -> dict:
    """A 12-vertex model with FLAME's keys: vertices 0-3 follow the jaw only, 4-5 the eyes, the rest neck/root."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.05, size=(num_v, 3))
    weights = np.zeros((num_v, 5))
    weights[0:4, 2] = 1.0  # jaw
    weights[4, 3] = 1.0  # left eye
    weights[5, 4] = 1.0  # right eye
    weights[6:, 1] = np.linspace(0.2, 1.0, num_v - 6)
    weights[6:, 0] = 1.0 - weights[6:, 1]
    j_reg = np.abs(rng.normal(size=(5, num_v)))
    j_reg /= j_reg.sum(axis=1, keepdims=True)
    return {
        "v_template": v,
        "f": np.array([[0, 1, 2], [2, 3, 0], [6, 7, 8], [8, 9, 10], [4, 5, 11]], dtype=np.uint32),
        "shapedirs": rng.normal(0, 1e-3, size=(num_v, 3, 400)),
        "posedirs": rng.normal(0, 1e-3, size=(num_v, 3, 36)),
        "J_regressor": j_reg,
        "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
    }


def reference_lbs(data: dict, betas, psi, pose15) -> np.ndarray:
    """Direct, loop-based FLAME for one frame (independent of flap.flame.layer)."""
    v = data["v_template"] + data["shapedirs"][:, :, :300] @ betas + data["shapedirs"][:, :, 300:] @ psi
    joints = data["J_regressor"] @ v
    mats = [Rotation.from_rotvec(pose15[3 * j : 3 * j + 3]).as_matrix() for j in range(5)]
    feature = np.concatenate([(mats[j] - np.eye(3)).ravel() for j in range(1, 5)])
    v = v + data["posedirs"] @ feature
    parents = [-1, 0, 1, 1, 1]
    world = []
    for j in range(5):
        local = np.eye(4)
        local[:3, :3] = mats[j]
        local[:3, 3] = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0)
        world.append(local if parents[j] < 0 else world[parents[j]] @ local)
    out = np.zeros_like(v)
    for i in range(len(v)):
        blend = np.zeros((4, 4))
        for j in range(5):
            rest = np.eye(4)
            rest[:3, 3] = -joints[j]
            blend += data["weights"][i, j] * (world[j] @ rest)
        out[i] = (blend @ np.append(v[i], 1.0))[:3]
    return out


@pytest.fixture(scope="module")
def tiny():
    data = tiny_flame()
    return data, build_model(data)


def test_zero_parameters_give_the_template(tiny):
    data, model = tiny
    assert model.n_shape == 300 and model.n_exp == 100
    out = flame_forward(model)
    np.testing.assert_allclose(out[0], data["v_template"], atol=1e-12)


def test_lbs_matches_direct_numpy_reference(tiny):
    data, model = tiny
    rng = np.random.default_rng(3)
    betas, psi = rng.normal(size=(2, 300)), rng.normal(size=(2, 100))
    pose = rng.normal(0, 0.3, size=(2, 15))
    out = flame_forward(model, shape=betas, expression=psi, global_pose=pose[:, 0:3], neck_pose=pose[:, 3:6],
                        jaw_pose=pose[:, 6:9], eye_pose=pose[:, 9:15])
    for b in range(2):
        np.testing.assert_allclose(out[b], reference_lbs(data, betas[b], psi[b], pose[b]), atol=1e-10)


def test_jaw_rotation_moves_only_jaw_weighted_vertices(tiny):
    data, model = tiny
    no_correctives = build_model({**data, "posedirs": np.zeros_like(data["posedirs"])})
    out = flame_forward(no_correctives, jaw_pose=np.array([0.3, 0.0, 0.0]))[0]
    moved = np.linalg.norm(out - data["v_template"], axis=1) > 1e-9
    assert moved[:4].all()
    assert not moved[4:].any()


def test_global_rotation_rotates_about_the_root_joint(tiny):
    data, model = tiny
    no_correctives = build_model({**data, "posedirs": np.zeros_like(data["posedirs"])})
    rotvec = np.array([0.1, -0.4, 0.2])
    out = flame_forward(no_correctives, global_pose=rotvec)[0]
    root = data["J_regressor"][0] @ data["v_template"]
    expected = (data["v_template"] - root) @ Rotation.from_rotvec(rotvec).as_matrix().T + root
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_expression_coefficients_are_padded_or_cut(tiny):
    _, model = tiny
    psi50 = np.random.default_rng(1).normal(size=(1, 50))
    padded = np.concatenate([psi50, np.zeros((1, 50))], axis=1)
    np.testing.assert_allclose(flame_forward(model, expression=psi50), flame_forward(model, expression=padded))


def test_torch_layer_matches_numpy(tiny):
    torch = pytest.importorskip("torch")
    from flap.flame.layer_torch import FlameLayer

    _, model = tiny
    rng = np.random.default_rng(5)
    args = dict(shape=rng.normal(size=(3, 300)), expression=rng.normal(size=(3, 100)), global_pose=rng.normal(0, .3, (3, 3)),
                neck_pose=rng.normal(0, .3, (3, 3)), jaw_pose=rng.normal(0, .3, (3, 3)), eye_pose=rng.normal(0, .3, (3, 6)))
    layer = FlameLayer(model, dtype=torch.float64)
    out = layer(**{k: torch.from_numpy(v) for k, v in args.items()}).numpy()
    np.testing.assert_allclose(out, flame_forward(model, **args), atol=1e-10)


# ---------------------------------------------------------------------------------------------- loading
@pytest.mark.parametrize("protocol", [0, 2])
def test_chumpy_pickle_loads_without_chumpy(tmp_path, protocol):
    data = make_synthetic_flame(seed=1)
    path = write_flame_pickle(data, tmp_path / "generic_model.pkl", protocol=protocol)
    assert b"chumpy.ch" in path.read_bytes() and b"csc_matrix" in path.read_bytes()
    assert "chumpy" not in sys.modules
    model = read_model_file(path)
    np.testing.assert_allclose(model.v_template, data["v_template"])
    np.testing.assert_allclose(model.J_regressor, data["J_regressor"])
    np.testing.assert_allclose(model.shapedirs, data["shapedirs"])
    assert model.faces.dtype == np.int64 and model.parents.tolist() == [-1, 0, 1, 1, 1]
    assert (model.n_shape, model.n_exp) == (300, 100)


def test_npz_model_and_eyelid_blendshapes(tmp_path):
    data = tiny_flame()
    np.savez(tmp_path / "flame.npz", **data)
    lids = np.random.default_rng(0).normal(0, 1e-3, size=(12, 3, 2))
    np.save(tmp_path / "l_eyelid.npy", lids[..., 0])
    np.save(tmp_path / "r_eyelid.npy", lids[..., 1])
    model = read_model_file(tmp_path / "flame.npz")
    assert model.eyelid_dirs is not None
    closed = flame_forward(model, eyelids=np.array([1.0, 0.0]))[0]
    np.testing.assert_allclose(closed - data["v_template"], lids[..., 0], atol=1e-12)


def test_env_variable_and_cache(tmp_path, monkeypatch):
    path = write_flame_pickle(make_synthetic_flame(), tmp_path / "m.pkl")
    monkeypatch.setenv("FLAP_FLAME_MODEL", str(path))
    monkeypatch.delenv("FLAP_FLAME_REPO", raising=False)
    assert loading.flame_model_configured()
    first = load_flame_model()
    assert load_flame_model() is first


def test_missing_model_explains_how_to_get_it(monkeypatch):
    for name in ("FLAP_FLAME_MODEL", "FLAP_FLAME_REPO"):
        monkeypatch.delenv(name, raising=False)
    assert not loading.flame_model_configured()
    with pytest.raises(EngineUnavailableError, match="flame.is.tue.mpg.de.*FLAP_FLAME_MODEL"):
        load_flame_model()
    with pytest.raises(EngineUnavailableError, match="not found"):
        load_flame_model("/nonexistent/generic_model.pkl")


def test_hub_download_uses_repo_file_and_token(tmp_path, monkeypatch):
    path = write_flame_pickle(make_synthetic_flame(), tmp_path / "flame2023.pkl")
    calls = {}

    def fake_download(repo_id, filename, token=None):
        calls.update(repo_id=repo_id, filename=filename, token=token)
        return str(path)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=fake_download))
    monkeypatch.delenv("FLAP_FLAME_MODEL", raising=False)
    monkeypatch.setenv("FLAP_FLAME_REPO", "me/private-flame")
    monkeypatch.setenv("FLAP_FLAME_FILE", "flame2023.pkl")
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    model = load_flame_model()
    assert calls == {"repo_id": "me/private-flame", "filename": "flame2023.pkl", "token": "hf_test"}
    assert model.num_vertices == make_synthetic_flame()["v_template"].shape[0]

    def failing(**kwargs):
        raise OSError("401 Unauthorized")

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(hf_hub_download=lambda *a, **k: failing()))
    monkeypatch.setenv("FLAP_FLAME_FILE", "other.pkl")
    with pytest.raises(EngineUnavailableError, match="401.*HF_TOKEN"):
        load_flame_model()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Evil()}))
    with pytest.raises(EngineUnavailableError, match="does not load"):
        read_model_file(path)
    with pytest.raises(UnsafePickleError, match="system"):
        restricted_load(pickle.dumps(_Evil()))


@pytest.mark.parametrize("broken, message", [
    (lambda d: d.pop("posedirs"), "no 'posedirs'"),
    (lambda d: d.update(shapedirs=d["shapedirs"][:, :, :7][:5]), "'shapedirs' must be"),
    (lambda d: d.update(J_regressor=d["J_regressor"][:4]), "'J_regressor' must be"),
    (lambda d: d.update(f=np.array([[0, 1, 99]])), "vertices that do not exist"),
    (lambda d: d["v_template"].__setitem__((0, 0), np.nan), "NaN"),
])
def test_malformed_model_files_name_the_problem(tmp_path, broken, message):
    data = tiny_flame()
    broken(data)
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(EngineUnavailableError, match=message):
        read_model_file(path)


def test_truncated_and_non_pickle_files(tmp_path):
    good = write_flame_pickle(tiny_flame(), tmp_path / "good.pkl", chumpy=True)
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(good.read_bytes()[:500])
    with pytest.raises(EngineUnavailableError, match="cannot read"):
        read_model_file(cut)
    text = tmp_path / "notes.pkl"
    text.write_text("this is not a model")
    with pytest.raises(EngineUnavailableError):
        read_model_file(text)


def test_load_if_configured(tmp_path, monkeypatch):
    for name in ("FLAP_FLAME_MODEL", "FLAP_FLAME_REPO"):
        monkeypatch.delenv(name, raising=False)
    assert loading.load_flame_model_if_configured() is None
    monkeypatch.setenv("FLAP_FLAME_MODEL", str(tmp_path / "missing.pkl"))
    with pytest.raises(EngineUnavailableError, match="not found"):
        loading.load_flame_model_if_configured()


def test_computed_chumpy_objects_fail_only_where_used(tmp_path, monkeypatch):
    """A chumpy expression (no stored 'x') in an unused key is harmless; in a needed key it is named."""
    from flap.flame import synthetic

    data = tiny_flame()
    path = tmp_path / "expr.pkl"
    with synthetic._fake_chumpy() as ch:
        class Select(ch):  # stands for chumpy.reordering.Select: state without 'x'
            def __init__(self):
                self.a = None

        Select.__module__, Select.__qualname__ = "chumpy.ch", "Ch"
        ch_module = sys.modules["chumpy.ch"]
        monkeypatch.setattr(ch_module, "Ch", Select, raising=False)
        path.write_bytes(pickle.dumps({**data, "J": Select()}, protocol=2))
        read_model_file(path)  # 'J' is not needed: loads
        path.write_bytes(pickle.dumps({**data, "weights": Select()}, protocol=2))
    with pytest.raises(EngineUnavailableError, match="'weights' is a computed chumpy expression"):
        read_model_file(path)
