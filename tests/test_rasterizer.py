"""The compiled rasteriser (Numba) against the numpy reference, on meshes that overlap, fold and leave the grid."""

from __future__ import annotations

import numpy as np
import pytest

from flap.engines.embedded.rasterizer import _kernel, folded_triangles, rasterize_backward_map, rasterize_skin_into

pytestmark = pytest.mark.skipif(_kernel() is None, reason="numba is not installed")


def random_mesh(seed: int, vertices: int = 60, faces: int = 90, extent: float = 48.0):
    rng = np.random.default_rng(seed)
    dst = rng.uniform(-6, extent + 6, size=(vertices, 2))  # some vertices off the grid
    src = dst + rng.normal(0, 4.0, size=(vertices, 2))
    depth = rng.normal(0, 10.0, size=vertices)
    triangles = np.stack([rng.choice(vertices, 3, replace=False) for _ in range(faces)]).astype(np.int64)
    return dst, depth, src, triangles


def both(*args, **kwargs):
    compiled = rasterize_backward_map(*args, compiled=True, **kwargs)
    reference = rasterize_backward_map(*args, compiled=False, **kwargs)
    return compiled, reference


def assert_same(compiled, reference, tol: float = 1e-4):
    (cx, cy, cc), (rx, ry, rc) = compiled, reference
    assert np.array_equal(cc, rc)
    assert cc.sum() > 50, "the test mesh must cover the grid"
    assert np.abs(cx - rx).max() < tol and np.abs(cy - ry).max() < tol


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cell,origin", [(1.0, (0.0, 0.0)), (4.0, (0.0, 0.0)), (1.0, (7.0, -3.0))])
def test_compiled_equals_numpy_on_overlapping_meshes(seed, cell, origin):
    dst, depth, src, triangles = random_mesh(seed)
    shape = (int(48 / cell), int(40 / cell))
    assert_same(*both(dst, depth, src, triangles, shape, cell, origin))


@pytest.mark.parametrize("seed", range(4))
def test_compiled_equals_numpy_with_culling_and_skipping(seed):
    dst, depth, src, triangles = random_mesh(seed)
    rng = np.random.default_rng(100 + seed)
    cullable = rng.random(len(triangles)) < 0.7
    assert (cullable & folded_triangles(src, dst, triangles)).any(), "some folds must be culled"
    assert_same(*both(dst, depth, src, triangles, (48, 48), 1.0, cullable=cullable))
    skip = rng.random(len(triangles)) < 0.3
    assert_same(*both(dst, depth, src, triangles, (48, 48), 1.0, cullable=cullable, skip=skip))


@pytest.mark.parametrize("seed", range(6))
def test_skin_with_folds_drawn_into_views_compiled_equals_numpy(seed):
    """Culled folds, then the folds where nothing else covers them, drawn into a window of a larger map."""
    dst, depth, src, triangles = random_mesh(seed)
    cullable = np.random.default_rng(200 + seed).random(len(triangles)) < 0.8
    assert (cullable & folded_triangles(src, dst, triangles)).any()
    maps = []
    for compiled in (True, False):
        base = np.random.default_rng(seed).uniform(0, 50, size=(2, 60, 70)).astype(np.float32)
        rasterize_skin_into(base[0, 5:53, 8:56], base[1, 5:53, 8:56], dst, depth, src, triangles, cullable, (3, 4),
                            compiled=compiled)
        maps.append(base)
    untouched = np.random.default_rng(seed).uniform(0, 50, size=(2, 60, 70)).astype(np.float32)
    assert np.array_equal(maps[0][:, :5], untouched[:, :5]), "outside the window nothing is written"
    assert (maps[0] != untouched).sum() > 100
    assert np.abs(maps[0] - maps[1]).max() < 1e-4


def test_equal_depths_the_later_triangle_wins():
    # Two triangles over the same cells at the same depth, showing different source positions.
    dst = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]] * 2)
    src = np.concatenate([dst[:3], dst[:3] + 5.0])
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    for compiled in (True, False):
        map_x, _, covered = rasterize_backward_map(dst, np.zeros(6), src, triangles, (20, 20), 1.0, compiled=compiled)
        assert covered[2, 2] and map_x[2, 2] == pytest.approx(2.0 + 5.0)


def test_skipped_triangles_are_not_drawn():
    dst = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    for compiled in (True, False):
        _, _, covered = rasterize_backward_map(dst, np.zeros(3), dst, np.array([[0, 1, 2]]), (20, 20), 1.0,
                                               skip=np.array([True]), compiled=compiled)
        assert not covered.any()


def test_compiled_compositing_equals_opencv():
    from flap.engines.embedded.compositing import composite_roi

    # Every pair of (alpha, plate value), with colours up to alpha (premultiplied) and some saturating sums.
    alpha = np.repeat(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    plate_value = np.tile(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    rng = np.random.default_rng(0)
    colour = (rng.random((256, 256, 3)) * (alpha[..., None].astype(np.float64) + 1)).astype(np.uint8)
    colour[::7] = 255  # saturating sums
    warped = np.dstack([colour, alpha])
    plate = np.dstack([plate_value, plate_value[::-1], rng.integers(0, 256, (256, 256), dtype=np.uint8)])
    frame = rng.integers(0, 256, (300, 280, 3), dtype=np.uint8)
    big_plate = rng.integers(0, 256, (300, 280, 3), dtype=np.uint8)
    big_plate[20:276, 10:266] = plate
    results = []
    for compiled in (True, False):
        out = frame.copy()
        composite_roi(out, warped, big_plate, (10, 20, 266, 276), compiled=compiled)
        results.append(out)
    assert np.array_equal(results[0], results[1])
    assert not np.array_equal(results[0][20:276, 10:266], frame[20:276, 10:266])
    assert np.array_equal(results[0][:20], frame[:20]), "outside the region nothing changes"


def test_the_kernel_runs_where_no_cache_can_be_written(tmp_path):
    """A read-only install with no writable home: Numba finds no cache folder, the kernel is compiled each time."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np; from flap.engines.embedded.rasterizer import _kernel, rasterize_backward_map; "
            "assert _kernel() is not None; d = np.array([[0.0, 0], [20, 0], [0, 20]]); "
            "print(int(rasterize_backward_map(d, np.zeros(3), d, np.array([[0, 1, 2]]), (20, 20), 1.0)[2].sum()))")
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}  # no locator applies outside IPython
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) > 150


def test_the_compiled_displacement_fade_equals_numpys():
    """The coarse warp's fade (a smooth step over 0.1-0.6 pixel of displacement) and its moved cells, compiled and in
    numpy's float32 statement: the same bits, the same box, and None where nothing moves."""
    from flap.engines.embedded.displacement import faded_displacement

    rng = np.random.default_rng(5)
    ys, xs = np.mgrid[0:96, 0:80].astype(np.float32)
    ident_x, ident_y = (xs + 0.5) * 4 - 0.5, (ys + 0.5) * 4 - 0.5
    for spread in (0.0, 0.05, 0.3, 2.0):
        map_x, map_y = ident_x.copy(), ident_y.copy()
        patch = (slice(20, 70), slice(10, 60))
        map_x[patch] += rng.normal(0, spread, (50, 50)).astype(np.float32)
        map_y[patch] += rng.normal(0, spread, (50, 50)).astype(np.float32)
        compiled = faded_displacement(map_x, map_y, ident_x, ident_y)
        reference = faded_displacement(map_x, map_y, ident_x, ident_y, compiled=False)
        assert np.array_equal(compiled[0], reference[0]) and np.array_equal(compiled[1], reference[1])
        assert compiled[2] == reference[2]
        assert (compiled[2] is None) == (spread == 0.0)
        if spread >= 0.3:
            assert compiled[2][0] >= 20 and compiled[2][1] <= 69
            faded = (np.abs(compiled[0]) > 0) & (np.abs(compiled[0]) < np.abs(map_x - ident_x))
            assert faded.any(), "sub-pixel displacements are faded, not cut"
