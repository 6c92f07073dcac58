"""Acceptance tests of the mosaic engine: ``numbamosaic.reproject_and_coadd``.

The tests check reproject's coadd semantics (combine functions, footprints,
weights, blanks), agreement with ``reproject.mosaicking.reproject_and_coadd``,
the stacking combines (median, clipped mean), memory-mapped outputs and
intermediates (and that no temporary file is left behind), the generic
``reproject_function`` path (determinism across thread counts and tilings: test_parity),
argument checking and progress bars.

Images are small (<= 200 x 200 per input, outputs <= 400 x 400).

Exactness
---------
Cut-outs of one image carry the image's WCS sliced with ``wcs[y0:y1, x0:x1]``,
so every cut-out pixel sits exactly on an output pixel.  The transform is
still evaluated through the sky (pixel -> world -> pixel), which leaves
residuals of ~1e-11 px: with nearest-neighbour sampling they cannot change
the chosen pixel, so reassembly is bitwise; with bilinear sampling the
weights are ``(1 - e, e)`` with ``e ~ 1e-11``, so values agree to ~1e-11 of
the local pixel-to-pixel difference (far below what we allow: 1e-9 of the
data range).  Accumulators are float64: for float32 data the sum of ``n``
copies of ``v`` is exact and ``(n v) / n`` is exactly ``v``; for float64
data each addition may round, so the mean is within a few ulp of ``v``.
"""

import tempfile
import warnings

import numpy as np
import pytest
from astropy.io import fits

import numbamosaic
from numbamosaic import plan_mosaic, reproject_and_coadd, reproject_interp
from numbamosaic.synthetic import make_survey, survey_output_wcs
from conftest import centred_tan_wcs
import naive

ALL_COMBINES = ["mean", "sum", "first", "last", "min", "max", "median", "clipped-mean"]
REPROJECT_COMBINES = ["mean", "sum", "first", "last", "min", "max"]


# --------------------------------------------------------------------------- helpers


def _wcs(shape, crval=(150.0, 30.0), cdelt=2e-3, rot=0.0):
    return centred_tan_wcs(shape, crval, cdelt, rot)


def _cutouts(image, wcs, boxes, offsets=None):
    """``(image[box] + offset, wcs[box])`` for each ``(y0, y1, x0, x1)`` box."""
    out = []
    for k, (y0, y1, x0, x1) in enumerate(boxes):
        data = image[y0:y1, x0:x1].copy()
        if offsets is not None:
            data += data.dtype.type(offsets[k])
        out.append((data, wcs[y0:y1, x0:x1]))
    return out


def _coverage(shape, boxes):
    cnt = np.zeros(shape)
    for y0, y1, x0, x1 in boxes:
        cnt[y0:y1, x0:x1] += 1
    return cnt


def _rp_coadd(*args, **kwargs):
    import reproject
    from reproject.mosaicking import reproject_and_coadd as rp

    kwargs.setdefault("reproject_function", reproject.reproject_interp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rp(*args, **kwargs)


def _ptp(a):
    return float(np.nanmax(a) - np.nanmin(a))


# A partition of a 120 x 150 grid into 6 irregular boxes, and overlapping boxes.
SHAPE = (120, 150)
PARTITION = [(0, 50, 0, 70), (0, 50, 70, 150), (50, 120, 0, 33), (50, 87, 33, 150), (87, 120, 33, 101), (87, 120, 101, 150)]
OVERLAPPING = [(0, 70, 0, 90), (40, 120, 0, 90), (0, 120, 60, 150), (30, 90, 30, 120), (10, 20, 10, 140)]


@pytest.fixture(scope="module")
def survey():
    """Six rotated (up to 20 deg) star-field tiles with NaN blobs, and an output grid."""
    hdus = make_survey(
        3, 2, tile_shape=(100, 120), overlap=0.25, max_rotation_deg=20.0, nan_blobs=1,
        seed=3, noise=0.5, density=3e-3,
    )
    wcs_out, shape_out = survey_output_wcs(hdus)
    assert shape_out[0] <= 400 and shape_out[1] <= 400
    return hdus, wcs_out, shape_out


# --------------------------------------------------------------------------- exact reassembly


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("combine", ["mean", "sum", "first", "last"])
def test_partition_reassembles_bitwise_nearest(combine, dtype):
    # rotated, away from the equator: the sky round trip is non-trivial
    rng = np.random.default_rng(1)
    img = rng.normal(10.0, 3.0, SHAPE).astype(dtype)
    wcs = _wcs(SHAPE, crval=(150.0, 60.0), rot=33.0)
    out, fp = reproject_and_coadd(
        _cutouts(img, wcs, PARTITION), wcs, shape_out=SHAPE, combine_function=combine, order="nearest-neighbor"
    )
    assert out.dtype == dtype
    np.testing.assert_array_equal(fp, 1.0)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("combine", ["mean", "sum", "first", "last"])
def test_partition_reassembles_bilinear(combine):
    # default order (bilinear): exact up to the ~1e-11 px WCS round-trip residual
    rng = np.random.default_rng(2)
    img = rng.normal(10.0, 3.0, SHAPE)
    wcs = _wcs(SHAPE, crval=(150.0, 60.0), rot=0.0)
    out, fp = reproject_and_coadd(_cutouts(img, wcs, PARTITION), wcs, shape_out=SHAPE, combine_function=combine)
    np.testing.assert_array_equal(fp, 1.0)
    np.testing.assert_allclose(out, img, rtol=2 * np.finfo(img.dtype).eps, atol=1e-9 * _ptp(img))


@pytest.mark.parametrize("order", ["nearest-neighbor", "bilinear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overlapping_cutouts_mean_and_sum(order, dtype):
    rng = np.random.default_rng(3)
    img = rng.normal(10.0, 3.0, SHAPE).astype(dtype)
    wcs = _wcs(SHAPE, crval=(150.0, 60.0), rot=33.0)
    inputs = _cutouts(img, wcs, OVERLAPPING)
    count = _coverage(SHAPE, OVERLAPPING)
    assert count.max() == 4 and count.min() == 1  # really overlapping, full coverage

    out, fp = reproject_and_coadd(inputs, wcs, shape_out=SHAPE, combine_function="mean", order=order)
    np.testing.assert_array_equal(fp, count)  # footprint = number of overlaps
    if order == "nearest-neighbor" and dtype == np.float32:
        np.testing.assert_array_equal(out, img)  # float64 sum of n float32 copies is exact, /n exact
    elif order == "nearest-neighbor":
        eps = np.finfo(np.float64).eps
        assert np.all(np.abs(out - img) <= 4 * count * eps * np.abs(img))  # a few float64 ulp
    else:  # bilinear: the 1e-11 px residual, then rounding to the output dtype
        np.testing.assert_allclose(out, img, rtol=2 * np.finfo(dtype).eps, atol=1e-9 * _ptp(img))

    s, fps = reproject_and_coadd(inputs, wcs, shape_out=SHAPE, combine_function="sum", order=order)
    np.testing.assert_array_equal(fps, count)
    expected = (img.astype(np.float64) * count).astype(dtype)  # sum = n v (footprint-weighted)
    if order == "nearest-neighbor" and dtype == np.float32:
        np.testing.assert_array_equal(s, expected)
    elif order == "nearest-neighbor":  # float64: n additions, each may round
        np.testing.assert_allclose(s, expected, rtol=4 * count.max() * np.finfo(dtype).eps, atol=0)
    else:
        np.testing.assert_allclose(s, expected, rtol=2 * np.finfo(dtype).eps, atol=4e-9 * _ptp(expected))


def test_overlapping_cutouts_every_combine_returns_the_image():
    # all inputs agree everywhere, so every combine must give back the image
    rng = np.random.default_rng(4)
    img = rng.normal(10.0, 3.0, SHAPE).astype(np.float32)
    wcs = _wcs(SHAPE, rot=10.0)
    inputs = _cutouts(img, wcs, OVERLAPPING)
    count = _coverage(SHAPE, OVERLAPPING)
    for combine in ["mean", "first", "last", "min", "max", "median", "clipped-mean"]:
        out, fp = reproject_and_coadd(inputs, wcs, shape_out=SHAPE, combine_function=combine, order="nearest-neighbor")
        np.testing.assert_array_equal(out, img, err_msg=combine)
        expected_fp = count if combine in ("mean", "median", "clipped-mean") else np.ones(SHAPE)
        np.testing.assert_array_equal(fp, expected_fp, err_msg=combine)


# --------------------------------------------------------------------------- winners


WIN_SHAPE = (60, 80)
WIN_BOXES = [(0, 40, 0, 50), (20, 60, 20, 80), (10, 50, 30, 60)]
WIN_VALUES = [5.0, 2.0, 7.0]


def _constant_inputs(values, boxes, wcs, dtype=np.float32):
    return [(np.full((y1 - y0, x1 - x0), v, dtype=dtype), wcs[y0:y1, x0:x1]) for v, (y0, y1, x0, x1) in zip(values, boxes)]


def _winner(values, boxes, shape, rule):
    """The naive combination of constant boxes (value ``v`` and weight 1 inside box ``k``)."""
    layers = [np.full(shape, np.nan) for _ in boxes]
    for layer, v, (y0, y1, x0, x1) in zip(layers, values, boxes):
        layer[y0:y1, x0:x1] = v
    return naive.coadd(layers, [np.isfinite(a).astype(float) for a in layers], rule)[0]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("combine", ["first", "last", "min", "max"])
def test_winners(combine, reverse):
    wcs = _wcs(WIN_SHAPE)
    values, boxes = list(WIN_VALUES), list(WIN_BOXES)
    if reverse:  # input order must be respected
        values, boxes = values[::-1], boxes[::-1]
    out, fp = reproject_and_coadd(
        _constant_inputs(values, boxes, wcs), wcs, shape_out=WIN_SHAPE, combine_function=combine, blank_pixel_value=-1
    )
    exp = _winner(values, boxes, WIN_SHAPE, combine)
    covered = ~np.isnan(exp)
    assert (~covered).any()  # some pixels are blank
    np.testing.assert_array_equal(out[covered], exp[covered])
    np.testing.assert_array_equal(out[~covered], -1.0)
    np.testing.assert_array_equal(fp, covered.astype(float))  # the winner's footprint


def test_first_last_order_matters():
    wcs = _wcs(WIN_SHAPE)
    fwd = reproject_and_coadd(_constant_inputs(WIN_VALUES, WIN_BOXES, wcs), wcs, shape_out=WIN_SHAPE, combine_function="first")[0]
    rev = reproject_and_coadd(
        _constant_inputs(WIN_VALUES[::-1], WIN_BOXES[::-1], wcs), wcs, shape_out=WIN_SHAPE, combine_function="first"
    )[0]
    last = reproject_and_coadd(_constant_inputs(WIN_VALUES, WIN_BOXES, wcs), wcs, shape_out=WIN_SHAPE, combine_function="last")[0]
    # in the triple overlap, first = input 0, last = input 2
    assert fwd[25, 35] == 5.0 and rev[25, 35] == 7.0 and last[25, 35] == 7.0
    np.testing.assert_array_equal(rev, last)


def test_first_skips_zero_weight_pixels():
    # a zero weight means "no contribution": the next input wins there
    wcs = _wcs(WIN_SHAPE)
    w0 = np.ones((40, 50), np.float32)
    w0[:, :30] = 0.0
    weights = [w0, np.ones((40, 60), np.float32), np.ones((40, 30), np.float32)]
    out, fp = reproject_and_coadd(
        _constant_inputs(WIN_VALUES, WIN_BOXES, wcs), wcs, shape_out=WIN_SHAPE, input_weights=weights, combine_function="first"
    )
    assert out[25, 25] == 2.0  # input 0 has weight 0 here, input 1 covers it
    assert out[5, 5] == 0.0 and fp[5, 5] == 0.0  # only input 0 (weight 0): blank
    assert out[5, 40] == 5.0  # input 0 with weight 1


# --------------------------------------------------------------------------- weights


def _ramp_setup():
    """Two constant inputs (1 and 3) overlapping in x, with opposite weight ramps."""
    shape = (40, 100)
    wcs = _wcs(shape, rot=25.0)
    boxes = [(0, 40, 0, 70), (0, 40, 30, 100)]
    values = [1.0, 3.0]
    w0 = np.tile(np.linspace(2.0, 0.5, 70), (40, 1)).astype(np.float32)
    w1 = np.tile(np.linspace(0.25, 3.0, 70), (40, 1)).astype(np.float32)
    W0 = np.zeros(shape)
    W1 = np.zeros(shape)
    W0[:, 0:70] = w0
    W1[:, 30:100] = w1
    expected = (values[0] * W0 + values[1] * W1) / (W0 + W1)
    return shape, wcs, boxes, values, [w0, w1], expected, W0 + W1


def _weights_as(kind, weights, wcs, boxes, tmp_path):
    if kind == "array":
        return weights
    hdus = [fits.ImageHDU(data=w, header=wcs[y0:y1, x0:x1].to_header()) for w, (y0, y1, x0, x1) in zip(weights, boxes)]
    if kind == "hdu":
        return hdus
    paths = []
    for k, h in enumerate(hdus):
        p = tmp_path / f"weight{k}.fits"
        fits.PrimaryHDU(data=h.data, header=h.header).writeto(p)
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("kind", ["array", "hdu", "file"])
def test_weighted_mean_ramps(kind, tmp_path):
    shape, wcs, boxes, values, weights, expected, wsum = _ramp_setup()
    inputs = _constant_inputs(values, boxes, wcs, dtype=np.float64)
    out, fp = reproject_and_coadd(
        inputs, wcs, shape_out=shape, input_weights=_weights_as(kind, weights, wcs, boxes, tmp_path)
    )
    np.testing.assert_allclose(fp, wsum, rtol=1e-6)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # the overlap really is a blend, not one of the inputs
    assert 1.2 < out[20, 50] < 2.8
    # sum is footprint(= weight)-weighted
    s, _ = reproject_and_coadd(inputs, wcs, shape_out=shape, input_weights=weights, combine_function="sum")
    np.testing.assert_allclose(s, expected * wsum, rtol=1e-6)


def test_nan_weights_count_as_zero():
    shape, wcs, boxes, values, weights, _, _ = _ramp_setup()
    w0 = weights[0].copy()
    w0[:, 40:60] = np.nan  # overlap columns 40..59 of the output
    w0[:10, :20] = np.nan  # only input 0 covers these
    inputs = _constant_inputs(values, boxes, wcs, dtype=np.float64)
    out, fp = reproject_and_coadd(inputs, wcs, shape_out=shape, input_weights=[w0, weights[1]], blank_pixel_value=-5)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(fp))
    np.testing.assert_allclose(out[:, 40:60], 3.0, rtol=1e-9)  # input 1 alone
    np.testing.assert_allclose(fp[:, 40:60], np.tile(weights[1][0, 10:30], (40, 1)), rtol=1e-6)
    np.testing.assert_array_equal(out[:10, :20], -5.0)  # no valid weight: blank
    np.testing.assert_array_equal(fp[:10, :20], 0.0)
    # reproject: "NaN weights become 0" -- same result, except on the one-pixel
    # rim of the NaN blocks, where reproject's interpolation fills the NaN
    # pixels' own positions (numbamosaic blanks exactly the NaN pixels)
    rp, rfp = _rp_coadd(inputs, wcs, shape_out=shape, input_weights=[w0, weights[1]], blank_pixel_value=-5)
    away = np.ones(shape, bool)
    away[:11, :21] = False
    away[:, 39:61] = False
    np.testing.assert_allclose(out[away], rp[away], rtol=1e-6)
    np.testing.assert_allclose(fp[away], rfp[away], rtol=1e-6)


def test_weights_agree_with_reproject(survey):
    hdus, wcs_out, shape_out = survey
    rng = np.random.default_rng(5)
    weights = []
    for h in hdus:
        ny, nx = h.data.shape
        yy, xx = np.mgrid[:ny, :nx]
        weights.append((0.2 + xx / nx + rng.uniform(0, 1) * yy / ny).astype(np.float32))
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, input_weights=weights)
    b, fb = _rp_coadd(hdus, wcs_out, shape_out=shape_out, input_weights=weights)
    np.testing.assert_allclose(fa, fb, rtol=0, atol=1e-5 * _ptp(fb))
    assert np.abs(a - b).max() <= 1e-5 * _ptp(b)


def test_weights_length_mismatch_raises():
    wcs = _wcs(WIN_SHAPE)
    with pytest.raises(ValueError, match="input_weights"):
        reproject_and_coadd(_constant_inputs(WIN_VALUES, WIN_BOXES, wcs), wcs, shape_out=WIN_SHAPE,
                            input_weights=[np.ones((40, 50))] * 2)


# --------------------------------------------------------------------------- agreement with reproject


@pytest.mark.parametrize("combine", REPROJECT_COMBINES)
def test_agrees_with_reproject(survey, combine):
    hdus, wcs_out, shape_out = survey
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine)
    b, fb = _rp_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine)
    assert a.shape == b.shape == shape_out
    np.testing.assert_array_equal(fa, fb)
    assert (fa == 0).any() and (fa == 1).any()  # blanks and covered pixels
    if combine in ("mean", "sum"):
        assert (fa > 1).any()  # overlaps are summed
    assert np.abs(a - b).max() <= 1e-5 * _ptp(b)


@pytest.mark.parametrize("blank", [np.nan, -99.0])
@pytest.mark.parametrize("combine", ["mean", "max"])
def test_blank_pixel_value(survey, combine, blank):
    hdus, wcs_out, shape_out = survey
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine, blank_pixel_value=blank)
    b, fb = _rp_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine, blank_pixel_value=blank)
    empty = fa == 0
    assert empty.sum() > 100
    np.testing.assert_array_equal(a[empty], blank)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.all(np.isfinite(a[~empty]))
    assert np.abs(a[~empty] - b[~empty]).max() <= 1e-5 * _ptp(b)
    # default blank is 0, as in reproject
    d, fd = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine)
    np.testing.assert_array_equal(d[fd == 0], 0.0)


# --------------------------------------------------------------------------- median, clipped mean


@pytest.fixture(scope="module")
def small_stack():
    """Five small overlapping inputs (float64, blank pixels, one offset by +50
    so that clipping and the median have work) with random weights, and their
    single-image reprojections and weights on a 48 x 56 output."""
    hdus = make_survey(2, 2, tile_shape=(30, 34), overlap=0.4, max_rotation_deg=15.0, nan_blobs=1, seed=8,
                       noise=0.5, density=3e-2, dtype=np.float64)
    wcs_out, shape_out = survey_output_wcs(hdus)
    assert shape_out[0] * shape_out[1] < 60 * 60
    rng = np.random.default_rng(9)
    inputs = [(h.data, h.header) for h in hdus] + [(hdus[0].data + 50.0, hdus[0].header)]
    # weights exactly representable in float32 (the precision weight images are kept in)
    weights = [rng.uniform(0.2, 2.0, d.shape).astype(np.float32).astype(np.float64) for d, _ in inputs]
    values, wts = [], []
    for (d, h), w in zip(inputs, weights):
        v, f = reproject_interp((d, h), wcs_out, shape_out=shape_out)
        rw = reproject_interp((w, h), wcs_out, shape_out=shape_out, return_footprint=False)
        values.append(v)
        wts.append(np.where(f > 0, rw, 0.0))
    return inputs, weights, wcs_out, shape_out, values, wts


@pytest.mark.parametrize("combine", ALL_COMBINES)
def test_combines_match_naive(small_stack, combine):
    """Every combine, weighted, against ``tests/naive.py``'s pixel-by-pixel
    combination of the single-image reprojections (same kernels, so only the
    combination is under test)."""
    inputs, weights, wcs_out, shape_out, values, wts = small_stack
    ref, ref_fp = naive.coadd(values, wts, combine)
    out, fp = reproject_and_coadd(inputs, wcs_out, shape_out=shape_out, input_weights=weights,
                                  combine_function=combine, blank_pixel_value=np.nan)
    depth = np.sum([w > 0 for w in wts], axis=0)
    assert depth.max() >= 4 and (depth == 0).any()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_allclose(fp, ref_fp, rtol=1e-14, atol=0)
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=0)


def _clip_inputs(offsets):
    rng = np.random.default_rng(6)
    shape = (60, 70)
    img = rng.normal(10.0, 2.0, shape).astype(np.float32)  # stacks are float32
    wcs = _wcs(shape, rot=15.0)
    boxes = [(0, 60, 0, 70), (0, 50, 0, 60), (10, 60, 5, 70), (5, 55, 10, 65), (0, 30, 0, 70)]
    return img, wcs, boxes, _cutouts(img, wcs, boxes, offsets)


def test_clipped_mean_rejects_outlier_identical_copies():
    # five overlapping cut-outs of one image, input 2 with +1000: the others agree
    # exactly (MAD = 0), the outlier must still be rejected
    img, wcs, boxes, inputs = _clip_inputs([0, 0, 1000, 0, 0])
    out, fp = reproject_and_coadd(inputs, wcs, shape_out=img.shape, combine_function="clipped-mean")
    count = _coverage(img.shape, boxes)
    in2 = _coverage(img.shape, [boxes[2]])
    others = count - in2
    # with >= 2 other values (>= 3 in all) the outlier goes, with fewer nothing is rejected
    rejected = others >= 2
    pair = (in2 > 0) & (others == 1)
    assert rejected.any() and pair.any()
    np.testing.assert_allclose(out[rejected], img[rejected], rtol=0, atol=1e-9 * _ptp(img))
    np.testing.assert_array_equal(fp[rejected], others[rejected])
    np.testing.assert_allclose(out[pair], img[pair] + 500.0, rtol=0, atol=1e-4)  # two values: plain mean
    np.testing.assert_array_equal(fp[pair], 2.0)
    # the plain mean is ruined by the outlier
    m, _ = reproject_and_coadd(inputs, wcs, shape_out=img.shape, combine_function="mean")
    assert np.abs(m - img)[in2 > 0].min() > 100


def test_clipped_mean_rejects_outlier_tile():
    # offsets 0, 1, 3, 4 on four inputs (the mean of the full-coverage ones is 2) and
    # +1000 on one: where all five overlap, the result is the mean of the other four
    img, wcs, boxes, inputs = _clip_inputs([0, 1, 1000, 3, 4])
    out, fp = reproject_and_coadd(inputs, wcs, shape_out=img.shape, combine_function="clipped-mean")
    count = _coverage(img.shape, boxes)
    full = count == 5
    assert full.sum() >= 500
    np.testing.assert_allclose(out[full], img[full] + 2.0, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fp[full], 4.0)


# --------------------------------------------------------------------------- memmaps and temp files


def test_memmap_outputs(survey, tmp_path):
    hdus, wcs_out, shape_out = survey
    ref, rfp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    out = np.memmap(tmp_path / "out.dat", dtype=np.float32, mode="w+", shape=shape_out)
    fp = np.memmap(tmp_path / "fp.dat", dtype=np.float32, mode="w+", shape=shape_out)
    out[...] = 123.0
    fp[...] = 123.0
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=out, output_footprint=fp)
    assert a is out and fa is fp  # written in place
    out.flush()
    fp.flush()
    np.testing.assert_array_equal(np.fromfile(tmp_path / "out.dat", np.float32).reshape(shape_out), ref)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "fp.dat", np.float32).reshape(shape_out), rfp)


class _RecordingStore:
    """A chunked output (zarr array) that records every write box."""

    def __init__(self, arr):
        self.arr = arr
        self.shape, self.dtype, self.chunks = arr.shape, arr.dtype, arr.chunks
        self.boxes = []

    def __setitem__(self, key, value):
        self.boxes.append(tuple((k.start, k.stop) for k in key))
        self.arr[key] = value


@pytest.mark.parametrize("combine", ["mean", "median"])
def test_zarr_outputs_chunk_aligned_and_identical(survey, tmp_path, combine):
    zarr = pytest.importorskip("zarr")
    hdus, wcs_out, shape_out = survey
    ref, rfp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine, parallel=2)
    chunks = (48, 40)  # not powers of two: tiles must be rounded up to them
    kw = dict(shape=shape_out, chunks=chunks, dtype="f4")
    out = _RecordingStore(zarr.create_array(store=str(tmp_path / "out.zarr"), fill_value=123.0, **kw))
    fp = _RecordingStore(zarr.create_array(store=str(tmp_path / "fp.zarr"), fill_value=123.0, **kw))
    plan = plan_mosaic(hdus, wcs_out, shape_out=shape_out, combine_function=combine, output_array=out, output_footprint=fp)
    assert plan.tile_shape[0] % 48 == 0 and plan.tile_shape[1] % 40 == 0
    assert any("chunk" in n for n in plan.notes)
    a, fa = reproject_and_coadd(
        hdus, wcs_out, shape_out=shape_out, combine_function=combine, output_array=out, output_footprint=fp, parallel=2
    )
    assert a is out and fa is fp
    # every write covers whole chunks (or ends at the array edge), each chunk once
    seen = set()
    for (y0, y1), (x0, x1) in out.boxes:
        assert y0 % 48 == 0 and x0 % 40 == 0
        assert (y1 % 48 == 0 or y1 == shape_out[0]) and (x1 % 40 == 0 or x1 == shape_out[1])
        cells = {(j, i) for j in range(y0 // 48, -(-y1 // 48)) for i in range(x0 // 40, -(-x1 // 40))}
        assert not cells & seen
        seen |= cells
    assert len(seen) == -(-shape_out[0] // 48) * -(-shape_out[1] // 40)  # everything written
    reopened = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    np.testing.assert_array_equal(reopened[...], ref)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "fp.zarr"), mode="r")[...], rfp)


def test_zarr_sharded_big_endian_and_huge_chunks(survey):
    zarr = pytest.importorskip("zarr")
    hdus, wcs_out, shape_out = survey
    ref, rfp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, parallel=2)
    # sharded: a write rewrites a whole shard, so tiles follow the shards
    out = _RecordingStore(zarr.create_array(store={}, shape=shape_out, chunks=(10, 10), shards=(50, 60), dtype=">f4"))
    out.shards = out.arr.shards
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=out, parallel=2)
    assert all(y0 % 50 == 0 and x0 % 60 == 0 for (y0, _), (x0, _) in out.boxes)
    np.testing.assert_array_equal(out.arr[...], ref)  # big-endian store, native kernels
    np.testing.assert_array_equal(fa, rfp)
    # chunks larger than the output: one tile per axis, and no imagined memory need
    big = zarr.create_array(store={}, shape=shape_out, chunks=(4096, 4096), dtype="f4")
    plan = plan_mosaic(hdus, wcs_out, shape_out=shape_out, output_array=big, memory_limit="50MB")
    assert plan.tile_shape == tuple(shape_out)
    reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=big, memory_limit="50MB")
    np.testing.assert_array_equal(big[...], ref)


def test_dask_array_is_not_an_output(survey):
    da = pytest.importorskip("dask.array")
    hdus, wcs_out, shape_out = survey
    with pytest.raises(TypeError, match="output_array"):
        reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=da.zeros(shape_out, chunks=64))


def test_planner_counts_only_outputs_it_allocates(survey):
    hdus, wcs_out, shape_out = survey
    plans = [
        plan_mosaic(hdus, wcs_out, shape_out=shape_out, **kw)
        for kw in ({}, dict(output_array=np.zeros(shape_out, np.float32)))
    ]
    out_bytes = shape_out[0] * shape_out[1] * 4
    mem = [p.estimates[next(k for k in p.estimates if "memory" in k and "memmap" not in k)]["memory"] for p in plans]
    assert mem[0] - mem[1] == out_bytes


def test_zarr_output_array_only_and_bad_zarr(survey):
    zarr = pytest.importorskip("zarr")
    hdus, wcs_out, shape_out = survey
    ref, rfp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    out = zarr.zeros(shape_out, chunks=(64, 64), dtype="f8")
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=out)
    assert a is out and isinstance(fa, np.ndarray) and fa.dtype == np.float64
    np.testing.assert_allclose(out[...], ref, rtol=0, atol=1e-6 * _ptp(ref))
    np.testing.assert_allclose(fa, rfp, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="output_array: shape"):
        reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=zarr.zeros((5, 5), chunks=(5, 5)))
    with pytest.raises(ValueError, match="output_footprint: dtype"):
        reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_footprint=zarr.zeros(shape_out, dtype="i4"))
    with pytest.raises(TypeError, match="output_array"):
        reproject_interp(hdus[0], wcs_out, shape_out=shape_out, output_array=out)


def test_float64_output_array_for_float32_inputs(survey):
    hdus, wcs_out, shape_out = survey
    ref, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    out = np.zeros(shape_out, np.float64)
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, output_array=out)
    assert a is out and fa.dtype == np.float64
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-6 * _ptp(ref))


def _shifted_reproject(calls=None, fail_at=None):
    """reproject.reproject_interp, as a user function (optionally failing)."""
    import reproject

    def func(input_data, output_projection, **kwargs):
        if calls is not None:
            calls.append(kwargs.get("return_footprint", True))
            if fail_at is not None and len(calls) == fail_at:
                raise RuntimeError("boom on input 2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return reproject.reproject_interp(input_data, output_projection, **kwargs)

    return func


@pytest.mark.parametrize("intermediate_memmap", [True, "auto"])
def test_intermediate_memmap_same_result(survey, tmp_path, intermediate_memmap, monkeypatch):
    hdus, wcs_out, shape_out = survey
    func = _shifted_reproject()
    ref = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, reproject_function=func, intermediate_memmap=False)
    plan = plan_mosaic(hdus, wcs_out, shape_out=shape_out, reproject_function=func,
                       intermediate_memmap=intermediate_memmap, tmpdir=str(tmp_path))
    assert plan.strategy == "intermediates"
    if intermediate_memmap is True:
        assert plan.intermediates_on_disk
    made = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, path = real(*args, **kwargs)
        made.append(path)
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, reproject_function=func,
                                intermediate_memmap=intermediate_memmap, tmpdir=str(tmp_path))
    np.testing.assert_array_equal(a, ref[0])
    np.testing.assert_array_equal(fa, ref[1])
    if plan.intermediates_on_disk:
        assert len(made) >= 2 * len(hdus) and all(str(tmp_path) in p for p in made)
    assert list(tmp_path.iterdir()) == []
    # numbamosaic's own function streams tiles: intermediate_memmap changes nothing
    s0 = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function="median")
    s1 = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function="median",
                             intermediate_memmap=intermediate_memmap, tmpdir=str(tmp_path))
    np.testing.assert_array_equal(s0[0], s1[0])
    np.testing.assert_array_equal(s0[1], s1[1])


def _big_inputs():
    """Three float64 inputs on a 400 x 400 output (3.2 MB of float64 outputs)."""
    shape = (400, 400)
    wcs = _wcs(shape)
    rng = np.random.default_rng(7)
    img = rng.normal(0.0, 1.0, shape)
    boxes = [(0, 150, 0, 150), (100, 250, 100, 250), (250, 400, 250, 400)]
    return shape, wcs, _cutouts(img, wcs, boxes)


def test_planner_memmap_outputs_leave_nothing(tmp_path, monkeypatch):
    shape, wcs, inputs = _big_inputs()
    plan = plan_mosaic(inputs, wcs, shape_out=shape, memory_limit="1MB", tmpdir=str(tmp_path))
    assert plan.outputs == "memmap"
    made = []
    real = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    a, fa = reproject_and_coadd(inputs, wcs, shape_out=shape, memory_limit="1MB", tmpdir=str(tmp_path))
    assert isinstance(a, np.memmap) and isinstance(fa, np.memmap)
    assert len(made) == 2 and all(str(tmp_path) in p for _, p in made)
    assert list(tmp_path.iterdir()) == []  # unlinked while mapped
    ref, rfp = reproject_and_coadd(inputs, wcs, shape_out=shape)
    assert not isinstance(ref, np.memmap)
    np.testing.assert_array_equal(a, ref)
    np.testing.assert_array_equal(fa, rfp)


def test_no_temp_files_after_exception(tmp_path):
    shape, wcs, inputs = _big_inputs()
    calls = []
    func = _shifted_reproject(calls, fail_at=2)
    plan = plan_mosaic(inputs, wcs, shape_out=shape, reproject_function=func, intermediate_memmap=True,
                       memory_limit="1MB", tmpdir=str(tmp_path))
    assert plan.outputs == "memmap" and plan.intermediates_on_disk
    with pytest.raises(RuntimeError, match="boom"):
        reproject_and_coadd(inputs, wcs, shape_out=shape, reproject_function=func, intermediate_memmap=True,
                            memory_limit="1MB", tmpdir=str(tmp_path))
    assert len(calls) == 2  # it did fail mid-run, on the second input
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- custom reproject_function


@pytest.mark.parametrize("combine", ["mean", "first", "max", "median"])
def test_custom_reproject_function_matches_fused(survey, combine):
    import reproject

    hdus, wcs_out, shape_out = survey
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b, fb = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, combine_function=combine,
                                    reproject_function=reproject.reproject_interp)
    assert plan_mosaic(hdus, wcs_out, shape_out=shape_out, reproject_function=reproject.reproject_interp).method == "custom"
    np.testing.assert_array_equal(fa, fb)
    assert np.abs(a - b).max() <= 1e-5 * _ptp(a)


def test_custom_function_gets_kwargs_and_weights(survey):
    hdus, wcs_out, shape_out = survey
    calls = []
    func = _shifted_reproject(calls)
    weights = [np.full(h.data.shape, k + 1.0, np.float32) for k, h in enumerate(hdus)]
    a, fa = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, reproject_function=func,
                                input_weights=weights, order="nearest-neighbor")
    assert calls.count(False) == len(hdus)  # weights reprojected with return_footprint=False
    b, fb = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, input_weights=weights, order="nearest-neighbor")
    np.testing.assert_array_equal(fa, fb)
    assert np.abs(a - b).max() <= 1e-5 * _ptp(a)


# --------------------------------------------------------------------------- tiles
# (bitwise parity across executors, tilings, dtypes and outputs: tests/test_parity.py)


def test_tile_size_changes_the_plan(survey):
    hdus, wcs_out, shape_out = survey
    p = plan_mosaic(hdus, wcs_out, shape_out=shape_out, tile_size=(48, 100))
    assert p.tile_shape == (48, 100)
    assert p.n_tiles == -(-shape_out[0] // 48) * -(-shape_out[1] // 100)


# --------------------------------------------------------------------------- argument errors


def test_bad_arguments_name_the_argument(survey):
    hdus, wcs_out, shape_out = survey
    call = lambda **kw: reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, **kw)  # noqa: E731
    with pytest.raises(ValueError, match="input_weights"):
        call(input_weights=[np.ones(h.data.shape) for h in hdus[:-1]])
    with pytest.raises(ValueError, match="input_weights"):
        call(input_weights=[np.ones((5, 5)) for h in hdus])
    with pytest.raises(ValueError, match="output_array"):
        call(output_array=np.zeros((shape_out[0], shape_out[1] + 1)))
    with pytest.raises(ValueError, match="output_footprint"):
        call(output_footprint=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="combine_function"):
        call(combine_function="average")
    with pytest.raises(ValueError, match="input_data"):
        reproject_and_coadd([], wcs_out, shape_out=shape_out)
    with pytest.raises(TypeError, match="colour"):
        call(colour="red")
    with pytest.raises(ValueError, match="intermediate_memmap"):
        call(intermediate_memmap="yes")
    with pytest.raises(ValueError, match="background_reference"):
        call(match_background=True, background_reference=len(hdus))
    with pytest.raises(ValueError, match="background_reference"):
        call(match_background=True, background_reference=-1)
    with pytest.raises(TypeError, match="background_reference"):
        call(match_background=True, background_reference=1.5)
    with pytest.raises(ValueError, match="background_model"):
        call(match_background=True, background_model="spline")
    with pytest.raises(ValueError, match="order"):
        call(order="cubic-ish")
    with pytest.raises(ValueError, match="memory_limit"):
        call(memory_limit="lots")


# --------------------------------------------------------------------------- progress bars


def test_progress_bar_callable(survey):
    hdus, wcs_out, shape_out = survey
    plan = plan_mosaic(hdus, wcs_out, shape_out=shape_out, tile_size=64)
    seen = {"calls": 0, "items": 0, "len": None}

    def pb(iterable):
        seen["calls"] += 1
        seen["len"] = len(iterable)
        for x in iterable:
            seen["items"] += 1
            yield x

    a, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, tile_size=64, progress_bar=pb)
    from numbamosaic.mosaic._plan import tile_members, tiles_for

    busy = sum(1 for m in tile_members(tiles_for(shape_out, plan.tile_shape), plan.bboxes) if m)
    assert seen["calls"] == 1
    assert seen["items"] == seen["len"] == busy
    assert 1 < busy <= plan.n_tiles
    ref, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, tile_size=64)
    np.testing.assert_array_equal(a, ref)


def test_progress_bar_true(survey, capsys):
    pytest.importorskip("tqdm")
    hdus, wcs_out, shape_out = survey
    a, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, progress_bar=True)
    ref, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(a, ref)
    err = capsys.readouterr().err
    assert "tile" in err


# --------------------------------------------------------------------------- kwargs reach the reprojection


def test_order_kwarg_reaches_reprojection(survey):
    hdus, wcs_out, shape_out = survey
    bil, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    nn, fnn = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, order="nearest-neighbor")
    assert np.abs(nn - bil).max() > 0.01 * _ptp(bil)
    rp, rfp = _rp_coadd(hdus, wcs_out, shape_out=shape_out, order="nearest-neighbor")
    np.testing.assert_array_equal(fnn, rfp)
    assert np.abs(nn - rp).max() <= 1e-5 * _ptp(rp)


def test_block_sizes_accepted(survey):
    # accepted for compatibility with reproject, without effect on the result
    hdus, wcs_out, shape_out = survey
    a, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out, block_sizes=[(64, 64)] * len(hdus))
    ref, _ = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(a, ref)


def test_inputs_as_hdulists_and_header_output(survey):
    hdus, wcs_out, shape_out = survey
    ref, rfp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    b, fb = reproject_and_coadd([fits.HDUList([h]) for h in hdus], wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(b, ref)
    np.testing.assert_array_equal(fb, rfp)
    # a header as output_projection (its printed values round the WCS at ~1e-16)
    c, fc = reproject_and_coadd(hdus, wcs_out.to_header(), shape_out=shape_out)
    np.testing.assert_array_equal(fc, rfp)
    np.testing.assert_allclose(c, ref, rtol=0, atol=1e-6 * _ptp(ref))
    assert numbamosaic.reproject_and_coadd is reproject_and_coadd


def test_big_outputs_without_huge_pages_equal_numpy_allocated(survey, monkeypatch):
    """Outputs above NO_HUGEPAGE_BYTES are anonymous maps (no transparent huge
    pages): ordinary writable C-contiguous arrays giving the same mosaic bit for bit."""
    from numbamosaic import _budget

    hdus, wcs_out, shape_out = survey
    ref, ref_fp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    monkeypatch.setattr(_budget, "NO_HUGEPAGE_BYTES", 1)
    arr = _budget.empty_output(shape_out, np.float32)
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert arr.flags.c_contiguous and arr.flags.writeable and arr.shape == tuple(shape_out)
    assert isinstance(getattr(base, "obj", base), __import__("mmap").mmap)
    out, fp = reproject_and_coadd(hdus, wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fp, ref_fp)
    single, single_fp = reproject_interp(hdus[0], wcs_out, shape_out=shape_out)
    monkeypatch.setattr(_budget, "NO_HUGEPAGE_BYTES", 1 << 62)
    single_ref, single_ref_fp = reproject_interp(hdus[0], wcs_out, shape_out=shape_out)
    np.testing.assert_array_equal(single, single_ref)
    np.testing.assert_array_equal(single_fp, single_ref_fp)
