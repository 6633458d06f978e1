"""FLAME <-> MediaPipe correspondence, expression offsets for the embedded renderer, status note, mesh preview."""

from __future__ import annotations

import numpy as np
import pytest

from flap.flame.canonical import LEFT_IRIS, RIGHT_IRIS, load_canonical_face
from flap.flame.correspondence import closest_points_on_triangles, compute_embedding, mediapipe_embedding, similarity_transform
from flap.flame.landmark_offsets import NEEDS_MODEL_MESSAGE, expression_offsets, expression_status
from flap.flame.model import build_model
from flap.flame.preview import render_mesh_preview
from flap.flame.synthetic import SYNTHETIC_OFFSET, SYNTHETIC_ROTATION, make_synthetic_flame
from flap.motion import MotionSequence


@pytest.fixture(scope="module")
def synthetic():
    data = make_synthetic_flame(seed=2)
    return data, build_model(data)


@pytest.fixture(autouse=True)
def _no_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FLAP_FLAME_MP_EMBEDDING", raising=False)


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    rot = SYNTHETIC_ROTATION
    dst = 2.5 * src @ rot.T + [1, 2, 3]
    s, r, t = similarity_transform(src, dst)
    assert s == pytest.approx(2.5)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(t, [1, 2, 3], atol=1e-10)


def test_closest_point_on_triangle_inside_and_outside():
    a, b, c = np.array([[0.0, 0, 0]]), np.array([[1.0, 0, 0]]), np.array([[0.0, 1, 0]])
    bary, dist = closest_points_on_triangles(np.array([[0.25, 0.25, 2.0]]), a, b, c)
    np.testing.assert_allclose(bary, [[0.5, 0.25, 0.25]])
    assert dist[0] == pytest.approx(2.0)
    bary, dist = closest_points_on_triangles(np.array([[2.0, -1.0, 0.0]]), a, b, c)  # beyond vertex b
    np.testing.assert_allclose(bary, [[0.0, 1.0, 0.0]])
    assert dist[0] == pytest.approx(np.sqrt(2.0))


def test_automatic_alignment_finds_the_face(synthetic):
    _, model = synthetic
    emb = compute_embedding(model)
    # canonical = 100 * R^T (flame - offset): the inverse of how the synthetic model was placed.
    assert emb.scale == pytest.approx(100.0, rel=1e-6)
    np.testing.assert_allclose(emb.rotation, SYNTHETIC_ROTATION.T, atol=1e-6)
    np.testing.assert_allclose(emb.translation, -100.0 * SYNTHETIC_ROTATION.T @ SYNTHETIC_OFFSET, atol=1e-4)
    np.testing.assert_allclose(emb.linear, 100.0 * SYNTHETIC_ROTATION.T, atol=1e-4)
    assert emb.residual_cm < 1e-6
    corner = emb.vertex_ids[np.arange(468), np.argmax(emb.bary, axis=1)]
    assert np.array_equal(corner, np.arange(468))  # landmark i sits on FLAME vertex i


def test_affine_refinement_absorbs_different_proportions(synthetic):
    """A FLAME head 12% wider and 6% shorter than the canonical face: a similarity cannot fit it, the affine step can."""
    data, _ = synthetic
    wide = dict(data)
    center = data["v_template"].mean(axis=0)
    wide["v_template"] = (data["v_template"] - center) * [1.12, 0.94, 1.0] + center
    model = build_model(wide)
    from flap.flame.correspondence import IcpConfig

    rigid = compute_embedding(model, config=IcpConfig(affine_iterations=0))
    affine = compute_embedding(model)
    assert affine.residual_cm < 0.02 < rigid.residual_cm
    corner = affine.vertex_ids[np.arange(468), np.argmax(affine.bary, axis=1)]
    assert np.mean(corner == np.arange(468)) > 0.95


def test_alignment_survives_noise_and_a_misplaced_start(synthetic):
    data, _ = synthetic
    rng = np.random.default_rng(7)
    noisy = dict(data)
    noisy["v_template"] = data["v_template"] + rng.normal(0, 1e-4, size=data["v_template"].shape)  # 1 mm noise
    emb = compute_embedding(build_model(noisy))
    assert emb.residual_cm < 0.2
    assert emb.scale == pytest.approx(100.0, rel=0.02)
    corner = emb.vertex_ids[np.arange(468), np.argmax(emb.bary, axis=1)]
    assert np.mean(corner == np.arange(468)) > 0.8


def test_official_embedding_file_is_used(synthetic, tmp_path):
    _, model = synthetic
    landmarks = np.array([1, 4, 33, 61, 133, 152, 263, 291, 362, 10, 234, 454])
    faces = model.faces
    hits = [np.argwhere(faces == i)[0] for i in landmarks]  # (face, column) of a triangle using vertex i
    face_idx = np.array([h[0] for h in hits])
    bary = np.eye(3)[[h[1] for h in hits]]
    path = tmp_path / "mediapipe_landmark_embedding.npz"
    np.savez(path, lmk_face_idx=face_idx, lmk_b_coords=bary, landmark_indices=landmarks)
    emb = compute_embedding(model, path)
    assert "official" in emb.method
    assert np.array_equal(emb.face_idx[landmarks], face_idx)
    assert emb.residual_cm < 1e-6


def test_expression_offsets_equal_the_transformed_blendshapes(synthetic):
    data, model = synthetic
    rng = np.random.default_rng(1)
    motion = MotionSequence.neutral(4).replace(expression=rng.normal(0, 1, size=(4, 100)))
    offsets = expression_offsets(motion, model)
    assert offsets.shape == (4, 478, 3) and offsets.dtype == np.float32
    # Direct: FLAME displacement of vertex i (= landmark i), rotated and scaled into the canonical frame (cm).
    disp = np.einsum("vck,tk->tvc", data["shapedirs"][:468, :, 300:], motion.expression.astype(np.float64))
    expected = 100.0 * disp @ SYNTHETIC_ROTATION
    np.testing.assert_allclose(offsets[:, :468], expected, atol=1e-4)
    assert np.abs(offsets).max() > 0.05  # millimetres of motion, not nothing
    # Irises follow the eye corners.
    np.testing.assert_allclose(offsets[:, list(RIGHT_IRIS)], np.repeat(offsets[:, [33, 133]].mean(1, keepdims=True), 5, 1), atol=1e-6)
    np.testing.assert_allclose(offsets[:, list(LEFT_IRIS)], np.repeat(offsets[:, [263, 362]].mean(1, keepdims=True), 5, 1), atol=1e-6)


def test_pose_and_jaw_do_not_enter_the_offsets(synthetic):
    _, model = synthetic
    motion = MotionSequence.neutral(3)
    jaw = np.zeros((3, 3))
    jaw[:, 0] = 0.3
    moving = motion.replace(jaw=jaw, global_rotation=np.full((3, 3), 0.2))
    assert not np.any(expression_offsets(moving, model))


def test_embedding_is_cached_per_model(synthetic, tmp_path, monkeypatch):
    from flap.flame import correspondence

    _, model = synthetic
    monkeypatch.setattr(correspondence, "_memory", {})
    first = mediapipe_embedding(model)
    assert mediapipe_embedding(model) is first
    cached = list((tmp_path / "cache" / "flame").glob("*.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(correspondence, "_memory", {})
    monkeypatch.setattr(correspondence, "compute_embedding", lambda *a, **k: pytest.fail("disk cache not used"))
    again = mediapipe_embedding(model)
    np.testing.assert_array_equal(again.face_idx, first.face_idx)


def test_expression_status_messages():
    neutral = MotionSequence.neutral(5)
    assert expression_status(neutral, model_available=False) is None
    coeffs = neutral.replace(expression=np.full((5, 100), 0.5))
    assert expression_status(coeffs, model_available=True) is None
    note = expression_status(coeffs, model_available=False)
    assert note.startswith(NEEDS_MODEL_MESSAGE) and "FLAP_FLAME_MODEL" in note and "jaw opening" in note
    with_controls = coeffs.replace(controls=np.full((5, 17), 0.2))
    assert expression_status(with_controls, model_available=False) == NEEDS_MODEL_MESSAGE


def test_mesh_preview_shows_pose_and_jaw(synthetic):
    _, model = synthetic
    t = 30
    jaw = np.zeros((t, 3))
    jaw[:, 0] = np.linspace(0, 0.35, t)
    motion = MotionSequence.neutral(t).replace(jaw=jaw)
    frames = list(render_mesh_preview(motion, model, size=128))  # speed: benchmarks/bench_mesh_preview.py
    assert len(frames) == t and frames[0].shape == (128, 128, 3) and frames[0].dtype == np.uint8
    background = frames[0][0, 0]
    assert np.mean(np.any(frames[0] != background, axis=2)) > 0.2  # the head fills the frame
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).sum() > 0  # the jaw opened
    turned = MotionSequence.neutral(1).replace(global_rotation=np.array([[0.0, 0.6, 0.0]]))
    a, b = next(render_mesh_preview(MotionSequence.neutral(1), model, 96)), next(render_mesh_preview(turned, model, 96))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5


def test_canonical_face_is_in_the_documented_frame():
    v, f = load_canonical_face()
    assert v.shape == (468, 3) and f.max() < 468
    assert v[263, 0] > 0 > v[33, 0]  # subject's left eye on +x (image right)
    assert v[10, 1] > v[152, 1]  # forehead above chin: y up
    assert np.argmax(v[:, 2]) in (1, 4)  # the nose tip is nearest the camera: z toward the camera


def test_preview_beside_the_video(synthetic):
    from flap.flame.preview import beside

    _, model = synthetic
    preview = next(render_mesh_preview(MotionSequence.neutral(1), model, 64))
    video = np.zeros((101, 120, 3), dtype=np.uint8)
    out = beside(video, preview)
    assert out.shape == (101, 220, 3) and out.dtype == np.uint8 and out[:, 120:].any()
