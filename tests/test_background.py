"""Acceptance tests of background matching (``match_background=True``).

Inputs are overlapping cut-outs of one smooth image (its WCS sliced with
``wcs[y0:y1, x0:x1]``, so they agree exactly where they overlap) plus known
additive offsets or planes.  The engine estimates the pairwise differences
in the overlaps and solves one least-squares system; the tests compare the
corrections it applies (captured from ``solve_backgrounds``) and the mosaics
with the known truth.  ``solve_backgrounds`` itself is tested on large
synthetic graphs.
"""

import time
import warnings

import numpy as np
import pytest

from numbamosaic import reproject_and_coadd
from numbamosaic.mosaic import _coadd
from numbamosaic.mosaic._background import solve_backgrounds
from numbamosaic.synthetic import make_survey, survey_output_wcs
from conftest import centred_tan_wcs

SHAPE = (150, 200)
BOXES = [(0, 90, 0, 110), (0, 90, 80, 200), (60, 150, 0, 110), (60, 150, 80, 200), (30, 120, 50, 150)]
OFFSETS = np.array([3.0, -1.0, 0.5, 7.0, -2.25])


def _wcs(shape, crval=(150.0, 20.0), cdelt=1e-3, rot=0.0):
    return centred_tan_wcs(shape, crval, cdelt, rot)


@pytest.fixture(scope="module")
def sky():
    """A smooth image (a tilt and a ripple, no noise) and its (rotated) WCS."""
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    img = (10.0 + 0.01 * x - 0.02 * y + 2.0 * np.sin(x / 17.0) * np.cos(y / 13.0)).astype(np.float32)
    return img, _wcs(SHAPE, rot=20.0)


def _inputs(img, wcs, offsets=None, planes=None):
    """Cut-outs with an added offset (``offsets[k]``) or plane ``c + a x + s y``
    in output pixel coordinates (``planes[k] = (c, a, s)``)."""
    out = []
    for k, (y0, y1, x0, x1) in enumerate(BOXES):
        data = img[y0:y1, x0:x1].astype(np.float64)
        if offsets is not None:
            data = data + offsets[k]
        if planes is not None:
            yy, xx = np.mgrid[y0:y1, x0:x1]
            c, a, s = planes[k]
            data = data + c + a * xx + s * yy
        out.append((data.astype(np.float32), wcs[y0:y1, x0:x1]))
    return out


@pytest.fixture
def captured(monkeypatch):
    """Records the background models the engine solves for (n x 3: c, a, s)."""
    models = []
    real = _coadd.solve_backgrounds

    def spy(*args, **kwargs):
        m = real(*args, **kwargs)
        models.append(np.array(m, dtype=float))
        return m

    monkeypatch.setattr(_coadd, "solve_backgrounds", spy)
    return models


def _coadd_bg(inputs, wcs, **kw):
    return reproject_and_coadd(inputs, wcs, shape_out=SHAPE, match_background=True, **kw)


def test_overlaps_exist(sky):
    img, wcs = sky
    cover = np.zeros(SHAPE)
    for y0, y1, x0, x1 in BOXES:
        cover[y0:y1, x0:x1] += 1
    assert cover.min() >= 1 and cover.max() >= 3  # full coverage, real overlaps


def test_without_matching_the_seams_remain(sky):
    img, wcs = sky
    out, _ = reproject_and_coadd(_inputs(img, wcs, OFFSETS), wcs, shape_out=SHAPE)
    resid = out - img
    assert np.ptp(resid) > 5  # the offsets show (up to 9.25 between inputs)


def test_offsets_recovered_reference_none(sky, captured):
    img, wcs = sky
    out, fp = _coadd_bg(_inputs(img, wcs, OFFSETS), wcs)
    (models,) = captured
    corr = models[:, 0]
    np.testing.assert_array_equal(models[:, 1:], 0.0)  # offset model: no tilt
    # corrections differ by the known offsets, and average to zero
    np.testing.assert_allclose(corr - OFFSETS, -OFFSETS.mean(), atol=1e-4)
    assert abs(corr.mean()) < 1e-9
    # so the mosaic is the offset-free mosaic shifted by the mean offset
    clean, cfp = reproject_and_coadd(_inputs(img, wcs), wcs, shape_out=SHAPE)
    np.testing.assert_array_equal(fp, cfp)
    np.testing.assert_allclose(out, clean + OFFSETS.mean(), rtol=0, atol=1e-4)


@pytest.mark.parametrize("reference", [0, 2, 4])
def test_offsets_recovered_with_reference(sky, captured, reference):
    img, wcs = sky
    out, _ = _coadd_bg(_inputs(img, wcs, OFFSETS), wcs, background_reference=reference)
    (models,) = captured
    corr = models[:, 0]
    assert corr[reference] == 0.0
    np.testing.assert_allclose(corr, OFFSETS - OFFSETS[reference], atol=1e-4)
    # the mosaic is the image carrying the reference input's offset
    np.testing.assert_allclose(out, img + OFFSETS[reference], rtol=0, atol=1e-4)


def test_reference_zero_is_honoured_unlike_reproject(sky):
    import reproject
    from reproject.mosaicking import reproject_and_coadd as rp_coadd

    img, wcs = sky
    inputs = _inputs(img, wcs, OFFSETS)
    ours, _ = _coadd_bg(inputs, wcs, background_reference=0)
    np.testing.assert_allclose(ours, img + OFFSETS[0], rtol=0, atol=1e-4)  # 3.0 everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, _ = rp_coadd(inputs, wcs, shape_out=SHAPE, reproject_function=reproject.reproject_interp,
                             match_background=True, background_reference=0)
    version = tuple(int(v) for v in reproject.__version__.split(".")[:2])
    if version <= (0, 21):
        # reproject <= 0.21 tests ``if background_reference:``, so 0 acts like None:
        # its mosaic carries the mean offset (1.45), not input 0's offset (3.0)
        np.testing.assert_allclose(theirs, img + OFFSETS.mean(), rtol=0, atol=1e-3)
        assert np.abs(theirs - ours).min() > 1.5
    else:  # pragma: no cover - a fixed reproject agrees with us
        np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-3)


def test_agrees_with_reproject(sky):
    import reproject
    from reproject.mosaicking import reproject_and_coadd as rp_coadd

    img, wcs = sky
    inputs = _inputs(img, wcs, OFFSETS)
    for reference in (None, 1):  # both mean the same in reproject and here
        ours, fo = _coadd_bg(inputs, wcs, background_reference=reference)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs, ft = rp_coadd(inputs, wcs, shape_out=SHAPE, reproject_function=reproject.reproject_interp,
                                  match_background=True, background_reference=reference)
        np.testing.assert_array_equal(fo, ft)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
        expected = OFFSETS.mean() if reference is None else OFFSETS[reference]
        np.testing.assert_allclose(ours, img + expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("combine", ["first", "median", "max"])
def test_matching_applies_to_every_combine(sky, combine):
    img, wcs = sky
    out, _ = _coadd_bg(_inputs(img, wcs, OFFSETS), wcs, background_reference=3, combine_function=combine)
    np.testing.assert_allclose(out, img + OFFSETS[3], rtol=0, atol=1e-4)


PLANES = np.array([(1.0, 0.01, -0.02), (0.0, 0.0, 0.0), (-2.0, 0.005, 0.01), (0.5, -0.01, 0.0), (3.0, 0.0, 0.015)])


def test_plane_model_recovers_tilts(sky, captured):
    img, wcs = sky
    inputs = _inputs(img, wcs, planes=PLANES)
    out, _ = _coadd_bg(inputs, wcs, background_model="plane", background_reference=1)
    (models,) = captured
    np.testing.assert_allclose(models[:, 0], PLANES[:, 0], atol=1e-4)
    np.testing.assert_allclose(models[:, 1:], PLANES[:, 1:], atol=1e-6)
    np.testing.assert_allclose(out, img, rtol=0, atol=1e-4)  # reference 1 has no plane
    # reference None: the corrections average to zero, the mosaic carries the mean plane
    out0, _ = _coadd_bg(inputs, wcs, background_model="plane")
    models0 = captured[1]
    np.testing.assert_allclose(models0.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(models0 - PLANES, np.broadcast_to(-PLANES.mean(axis=0), PLANES.shape), atol=1e-4)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    c, a, s = PLANES.mean(axis=0)
    np.testing.assert_allclose(out0, img + c + a * xx + s * yy, rtol=0, atol=1e-4)
    # the offset model cannot remove tilts
    off, _ = _coadd_bg(inputs, wcs, background_reference=1)
    assert np.abs(off - img).max() > 0.5


def test_background_bitwise_across_threads(sky):
    img, wcs = sky
    inputs = _inputs(img, wcs, planes=PLANES)
    ref, rfp = _coadd_bg(inputs, wcs, background_model="plane", parallel=False, tile_size=32)
    a, fa = _coadd_bg(inputs, wcs, background_model="plane", parallel=2, tile_size=32)
    np.testing.assert_array_equal(a, ref)
    np.testing.assert_array_equal(fa, rfp)
    b, _ = _coadd_bg(inputs, wcs, background_model="plane", parallel=2, tile_size=(64, 100))
    np.testing.assert_allclose(b, ref, rtol=0, atol=1e-5)


def test_noisy_survey_offsets(captured):
    # rotated star-field tiles with noise (sigma 0.5) and known offsets
    offsets = np.array([2.0, -3.0, 0.0, 5.0, 1.0, -1.5])
    hdus = make_survey(3, 2, tile_shape=(100, 120), overlap=0.3, max_rotation_deg=10.0, nan_blobs=1, noise=0.5,
                       seed=11, density=1e-3, background_offsets=offsets)
    wcs_out, shape_out = survey_output_wcs(hdus)
    out, fp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, match_background=True, background_reference=2)
    (models,) = captured
    np.testing.assert_allclose(models[:, 0], offsets - offsets[2], atol=0.05)
    clean = make_survey(3, 2, tile_shape=(100, 120), overlap=0.3, max_rotation_deg=10.0, nan_blobs=1, noise=0.5,
                        seed=11, density=1e-3)
    c, cfp = reproject_and_coadd(clean, wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(fp, cfp)
    assert np.abs(out - c)[fp > 0].max() < 0.1


# --------------------------------------------------------------------------- the solver


def _estimates(edges, truth, counts=None):
    """Exact pair estimates ``b_i - b_j`` (constant model) for ``i < j`` edges."""
    out = []
    for k, (i, j) in enumerate(edges):
        i, j = min(i, j), max(i, j)
        params = np.array([truth[i] - truth[j], 0.0, 0.0]) if np.ndim(truth) == 1 else truth[i] - truth[j]
        out.append((int(i), int(j), 100 if counts is None else counts[k], params))
    return out


def _graph(n, n_random, rng, start=0):
    edges = {(start + i, start + i + 1) for i in range(n - 1)}  # a chain: connected, long diameter
    while len(edges) < n - 1 + n_random:
        i, j = sorted(rng.choice(n, 2, replace=False) + start)
        edges.add((int(i), int(j)))
    return sorted(edges)


def test_solver_2000_nodes_exact_and_fast():
    rng = np.random.default_rng(0)
    n = 2000
    truth = rng.normal(0.0, 10.0, n)
    edges = _graph(n, 3000, rng)
    counts = rng.integers(10, 10000, len(edges))
    est = _estimates(edges, truth, counts)
    solve_backgrounds(10, _estimates(_graph(10, 5, rng), truth[:10]))  # warm-up (imports)
    t0 = time.perf_counter()
    sol = solve_backgrounds(n, est)
    elapsed = time.perf_counter() - t0
    assert sol.shape == (n, 3)
    np.testing.assert_allclose(sol[:, 0], truth - truth.mean(), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(sol[:, 1:], 0.0)
    assert elapsed < 2.0, f"solve_backgrounds took {elapsed:.2f} s for {n} nodes"
    ref = solve_backgrounds(n, est, reference=1234)
    assert ref[1234, 0] == 0.0
    np.testing.assert_allclose(ref[:, 0], truth - truth[1234], rtol=0, atol=1e-8)


def test_solver_planes():
    rng = np.random.default_rng(1)
    n = 300
    truth = np.stack([rng.normal(0, 5, n), rng.normal(0, 1e-3, n), rng.normal(0, 1e-3, n)], axis=1)
    est = _estimates(_graph(n, 400, rng), truth)
    sol = solve_backgrounds(n, est, reference=0)
    np.testing.assert_allclose(sol, truth - truth[0], rtol=0, atol=1e-9)


def test_solver_two_components():
    rng = np.random.default_rng(2)
    na, nb = 40, 60
    n = na + nb + 1  # node n-1 has no overlap at all
    truth = rng.normal(0.0, 10.0, n)
    edges = _graph(na, 30, rng) + _graph(nb, 50, rng, start=na)
    est = _estimates(edges, truth)
    a, b = slice(0, na), slice(na, na + nb)
    sol = solve_backgrounds(n, est)[:, 0]
    # each connected group is gauged on its own: corrections average to zero
    np.testing.assert_allclose(sol[a], truth[a] - truth[a].mean(), atol=1e-8)
    np.testing.assert_allclose(sol[b], truth[b] - truth[b].mean(), atol=1e-8)
    assert sol[-1] == 0.0
    # a reference fixes its own group only
    sol = solve_backgrounds(n, est, reference=na + 7)[:, 0]
    np.testing.assert_allclose(sol[b], truth[b] - truth[na + 7], atol=1e-8)
    np.testing.assert_allclose(sol[a], truth[a] - truth[a].mean(), atol=1e-8)
    assert sol[-1] == 0.0


def test_solver_weighted_least_squares():
    # inconsistent estimates: the solution minimises sum n_ij (b_i - b_j - d_ij)^2
    rng = np.random.default_rng(3)
    n = 12
    edges = _graph(n, 20, rng)
    d = rng.normal(0.0, 3.0, len(edges))
    counts = rng.integers(1, 1000, len(edges))
    est = [(i, j, int(c), np.array([dd, 0.0, 0.0])) for (i, j), c, dd in zip(edges, counts, d)]
    sol = solve_backgrounds(n, est)[:, 0]
    A = np.zeros((len(edges) + 1, n))
    for k, (i, j) in enumerate(edges):
        A[k, i], A[k, j] = 1.0, -1.0
    w = np.sqrt(counts / counts.max())
    A[:-1] *= w[:, None]
    A[-1] = 1.0  # gauge: sum zero
    rhs = np.append(d * w, 0.0)
    expected = np.linalg.lstsq(A, rhs, rcond=None)[0]
    np.testing.assert_allclose(sol, expected, rtol=0, atol=1e-9)


def test_solver_no_estimates():
    np.testing.assert_array_equal(solve_backgrounds(5, []), np.zeros((5, 3)))
