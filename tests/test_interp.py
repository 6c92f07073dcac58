"""``numbamosaic.reproject_interp`` against reproject and analytic expectations.

References: ``reproject.reproject_interp`` 0.21.0 (scipy ``map_coordinates``)
for orders 0-3, analytic values on linear ramps, the naive NumPy references of
``tests/naive.py`` (every order), and astropy ``pixel_to_pixel`` for the stencil geometry.
"""

import numpy as np
import pytest
from astropy.wcs.utils import pixel_to_pixel
from conftest import data_range, make_wcs, sky_position, star_field
import naive

import numbamosaic
from numbamosaic import reproject_interp

reproject = pytest.importorskip("reproject")

ORDERS = ["nearest-neighbor", "bilinear", "biquadratic", "bicubic", "lanczos3"]
SCIPY_ORDERS = ORDERS[:4]
SHAPE_IN = (64, 64)
SHAPE_OUT = (70, 70)


def shifted_wcs(wcs, dx, dy):
    """Same WCS with CRPIX moved by (dx, dy): output pixel p maps to input p - (dx, dy)."""
    w = wcs.deepcopy()
    w.wcs.crpix = [w.wcs.crpix[0] + dx, w.wcs.crpix[1] + dy]
    w.wcs.set()
    return w


def ramp(x, y):
    return 3.0 + 0.7 * x - 0.4 * y


def ramp_image(shape=SHAPE_IN):
    y, x = np.mgrid[: shape[0], : shape[1]].astype(float)
    return ramp(x, y)


# --------------------------------------------------------------------------- vs reproject

GAL = sky_position(150.0, 30.0, "icrs", "galactic")
CASES = {
    # name: (input WCS kwargs, output WCS kwargs)
    "TAN-rotation": ({}, dict(rot=25.0, shape=SHAPE_OUT)),
    "TAN-scale": ({}, dict(cdelt=1.5e-3, rot=-8.0, shape=SHAPE_OUT)),
    "TAN-upsample-offset": ({}, dict(cdelt=0.9e-3, crval=(150.02, 30.01), shape=SHAPE_OUT)),
    "ICRS-to-Galactic": ({}, dict(crval=GAL, frame="galactic", shape=SHAPE_OUT)),
    "Galactic-to-ICRS": (dict(crval=GAL, frame="galactic", rot=12.0), dict(shape=SHAPE_OUT)),
    "TAN-to-SIN": ({}, dict(proj="SIN", rot=10.0, shape=SHAPE_OUT)),
    "CAR-to-CAR": (dict(proj="CAR", crval=(150.0, 0.0), cdelt=2.1e-3, rot=5.0), dict(proj="CAR", crval=(150.0, 0.0), shape=SHAPE_OUT)),
    "TAN-to-ZEA": ({}, dict(proj="ZEA", rot=-15.0, shape=SHAPE_OUT)),
    "ZEA-to-CAR": (dict(proj="ZEA", rot=7.0), dict(proj="CAR", cdelt=1.8e-3, shape=SHAPE_OUT)),
    "SIN-to-TAN-galactic": (dict(proj="SIN"), dict(crval=GAL, frame="galactic", rot=40.0, cdelt=2.3e-3, shape=SHAPE_OUT)),
}


@pytest.fixture(scope="module")
def stars():
    return star_field(SHAPE_IN, seed=1)


@pytest.fixture(scope="module")
def stars_with_nans():
    return star_field(SHAPE_IN, seed=2, nan_fraction=0.01)


@pytest.mark.parametrize("order", SCIPY_ORDERS)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_reproject(case, order, stars):
    kin, kout = CASES[case]
    w_in, w_out = make_wcs(**kin), make_wcs(**kout)
    ours, fp = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    ref, ref_fp = reproject.reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    np.testing.assert_array_equal(fp, ref_fp)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    assert 0.2 < fp.mean() <= 1.0
    tol = (1e-5 if order in ("nearest-neighbor", "bilinear") else 1e-4) * data_range(stars)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=tol)


@pytest.mark.parametrize("order", ["nearest-neighbor", "bilinear"])
@pytest.mark.parametrize("case", ["TAN-rotation", "ICRS-to-Galactic", "TAN-to-SIN", "CAR-to-CAR"])
def test_matches_reproject_with_nans(case, order, stars_with_nans):
    """Orders 0 and 1 blank the same outputs as reproject, except in the
    outer half pixel of the input: there the coordinate is clamped to the
    border pixel centre and scipy still multiplies the NaN neighbour beyond
    the border by a zero weight (NaN), while we skip zero-weight neighbours."""
    kin, kout = CASES[case]
    w_in, w_out = make_wcs(**kin), make_wcs(**kout)
    ours, fp = reproject_interp((stars_with_nans, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    ref, ref_fp = reproject.reproject_interp((stars_with_nans, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    yo, xo = np.mgrid[: SHAPE_OUT[0], : SHAPE_OUT[1]].astype(float)
    xi, yi = pixel_to_pixel(w_out, w_in, xo, yo)
    n = SHAPE_IN[0]
    border = (xi < 0) | (xi > n - 1) | (yi < 0) | (yi > n - 1)
    np.testing.assert_array_equal(fp[~border], ref_fp[~border])
    assert np.all(fp >= ref_fp)
    no_nan_fp = reproject_interp((np.nan_to_num(stars_with_nans), w_in), w_out, shape_out=SHAPE_OUT, order=order)[1]
    assert (fp == 0).sum() > (no_nan_fp == 0).sum() + 10  # the blanks do blank some outputs
    both = (fp == 1) & (ref_fp == 1)
    np.testing.assert_allclose(ours[both], ref[both], rtol=0, atol=1e-5 * data_range(stars_with_nans))


def test_order_integers_equal_names(stars):
    w_in, w_out = make_wcs(), make_wcs(rot=25.0, shape=SHAPE_OUT)
    for k, name in enumerate(SCIPY_ORDERS):
        a = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=name, return_footprint=False)
        b = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=k, return_footprint=False)
        np.testing.assert_array_equal(a, b)
    default = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, return_footprint=False)
    np.testing.assert_array_equal(default, reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=1)[0])


# --------------------------------------------------------------------------- identity and offsets


def test_identity_nearest_is_exact(stars):
    w = make_wcs()
    out, fp = reproject_interp((stars, w), w, shape_out=SHAPE_IN, order="nearest-neighbor")
    np.testing.assert_array_equal(out, stars)
    assert np.all(fp == 1)


def test_identity_bilinear_is_exact(stars):
    """TAN->TAN homographies that are pure shifts are snapped: identity is bit-exact."""
    w = make_wcs()
    out, _ = reproject_interp((stars, w), w, shape_out=SHAPE_IN, order="bilinear")
    np.testing.assert_array_equal(out, stars)
    # an integer CRPIX shift is exact too: out[y, x] = in[y - dy, x - dx]
    dx, dy = 3, -2
    out2, _ = reproject_interp((stars, w), shifted_wcs(w, dx, dy), shape_out=SHAPE_IN, order="bilinear")
    ny, nx = stars.shape
    ref = np.full_like(stars, np.nan)
    ref[0 : ny + dy, dx:nx] = stars[-dy:ny, 0 : nx - dx]
    np.testing.assert_array_equal(out2, ref)


@pytest.mark.parametrize("order", ORDERS)
def test_identity_is_close(order, stars):
    """All orders reproduce the input to 1e-10 of its range (reproject: ~1e-11..1e-10)."""
    w = make_wcs()
    out, fp = reproject_interp((stars, w), w, shape_out=SHAPE_IN, order=order)
    assert np.all(fp == 1)
    np.testing.assert_allclose(out, stars, rtol=0, atol=1e-10 * data_range(stars))


@pytest.mark.parametrize("order", ORDERS)
def test_identity_with_one_pixel_offset_gives_nan_pad(order, stars):
    """reproject's test_identity_with_offset: a 1-pixel margin comes out exactly NaN."""
    w = make_wcs()
    w_out = shifted_wcs(w, 1, 1)
    shape = (SHAPE_IN[0] + 2, SHAPE_IN[1] + 2)
    out, fp = reproject_interp((stars, w), w_out, shape_out=shape, order=order)
    expected = np.pad(stars, 1, constant_values=np.nan)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(fp, np.pad(np.ones(SHAPE_IN), 1))
    np.testing.assert_allclose(out[1:-1, 1:-1], stars, rtol=0, atol=1e-10 * data_range(stars))


@pytest.mark.parametrize("order", ["bilinear", "biquadratic", "bicubic"])
@pytest.mark.parametrize("dx,dy", [(0.3, -0.45), (0.7, 0.25), (-0.45, 0.55)])
def test_subpixel_shift_on_ramp(order, dx, dy):
    """B-splines of order >= 1 reproduce linear functions exactly.

    Output pixel p samples input position p - (dx, dy).  Inside [-0.5, n-0.5]
    coordinates in the outer half pixel are clamped to the border pixel centre
    (reproject/scipy convention); outside the output is NaN.  Orders 2-3 use
    mirror boundaries, so they are checked 12 pixels away from the edges.
    """
    data = ramp_image()
    w = make_wcs()
    out, fp = reproject_interp((data, w), shifted_wcs(w, dx, dy), shape_out=SHAPE_IN, order=order)
    ny, nx = SHAPE_IN
    yo, xo = np.mgrid[:ny, :nx].astype(float)
    xi, yi = xo - dx, yo - dy
    valid = (xi >= -0.5) & (xi <= nx - 0.5) & (yi >= -0.5) & (yi <= ny - 0.5)
    np.testing.assert_array_equal(np.isnan(out), ~valid)
    np.testing.assert_array_equal(fp, valid.astype(float))
    expected = ramp(np.clip(xi, 0, nx - 1), np.clip(yi, 0, ny - 1))
    tol = 1e-9 * data_range(data)
    if order == "bilinear":
        np.testing.assert_allclose(out[valid], expected[valid], rtol=0, atol=tol)
    else:
        inner = valid & (xi > 12) & (xi < nx - 13) & (yi > 12) & (yi < ny - 13)
        np.testing.assert_allclose(out[inner], expected[inner], rtol=0, atol=tol)


@pytest.mark.parametrize("order", ["bilinear", "biquadratic", "bicubic"])
def test_rotation_and_scale_on_ramp(order):
    """A rotated, rescaled output of a ramp equals the ramp at astropy's coordinates."""
    data = ramp_image()
    w_in = make_wcs()
    w_out = make_wcs(rot=33.0, cdelt=1.3e-3, crval=(150.003, 30.002), shape=SHAPE_OUT)
    out, _ = reproject_interp((data, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    yo, xo = np.mgrid[: SHAPE_OUT[0], : SHAPE_OUT[1]].astype(float)
    xi, yi = pixel_to_pixel(w_out, w_in, xo, yo)
    margin = 0.0 if order == "bilinear" else 12.0
    inner = (xi > margin) & (xi < 63 - margin) & (yi > margin) & (yi < 63 - margin)
    assert inner.sum() > 200
    np.testing.assert_allclose(out[inner], ramp(xi, yi)[inner], rtol=0, atol=1e-9 * data_range(data))


# --------------------------------------------------------------------------- blanks and no overlap


@pytest.mark.parametrize("order", ORDERS)
def test_all_nan_input(order):
    data = np.full(SHAPE_IN, np.nan)
    out, fp = reproject_interp((data, make_wcs()), make_wcs(rot=10, shape=SHAPE_OUT), shape_out=SHAPE_OUT, order=order)
    assert np.all(np.isnan(out))
    assert np.all(fp == 0)


@pytest.mark.parametrize("order", ORDERS)
def test_no_overlap(order, stars):
    out = np.zeros(SHAPE_OUT)
    fpo = np.ones(SHAPE_OUT)
    res = reproject_interp(
        (stars, make_wcs()), make_wcs(crval=(200.0, -20.0), shape=SHAPE_OUT), shape_out=SHAPE_OUT,
        order=order, output_array=out, output_footprint=fpo,
    )
    assert res[0] is out and res[1] is fpo
    assert np.all(np.isnan(out))
    assert np.all(fpo == 0)


NAN_PIXEL = (30, 33)  # (row, column) of the blank input pixel
STENCIL = {  # order -> number of outputs blanked by one NaN under a same-scale sub-pixel shift
    "nearest-neighbor": 1,
    "bilinear": 4,
    "biquadratic": 9,
    "bicubic": 16,
    "lanczos3": 36,
}


def _in_stencil(order, c, c0):
    """Does the interpolation stencil at coordinate(s) ``c`` include index ``c0``?"""
    if order == "nearest-neighbor":
        return np.floor(c + 0.5) == c0
    if order == "bilinear":
        return np.abs(c - c0) < 1
    if order == "biquadratic":
        return np.abs(np.floor(c + 0.5) - c0) <= 1
    if order == "bicubic":
        return (np.floor(c) - 1 <= c0) & (c0 <= np.floor(c) + 2)
    return np.abs(c - c0) < 3  # lanczos3


@pytest.mark.parametrize("order", ORDERS)
def test_single_nan_blanks_only_its_stencil_shift(order, stars):
    data = stars.copy()
    data[NAN_PIXEL] = np.nan
    w = make_wcs()
    w_out = shifted_wcs(w, 0.3, 0.4)
    clean, _ = reproject_interp((stars, w), w_out, shape_out=SHAPE_IN, order=order)
    out, fp = reproject_interp((data, w), w_out, shape_out=SHAPE_IN, order=order)
    new = np.isnan(out) & ~np.isnan(clean)
    assert new.sum() == STENCIL[order]
    np.testing.assert_array_equal(fp, np.isfinite(out).astype(float))
    rows, cols = np.nonzero(new)
    j0, i0 = NAN_PIXEL
    # the blanked outputs surround the NaN pixel (output p samples input p - (0.3, 0.4))
    assert np.all(np.abs(rows - 0.4 - j0) < 3) and np.all(np.abs(cols - 0.3 - i0) < 3)


@pytest.mark.parametrize("order", ORDERS)
def test_single_nan_blanks_exactly_the_stencil_rotated(order, stars):
    """Under a rotation + scale change, the blanked set is exactly the set of
    outputs whose stencil contains the NaN pixel (geometry from astropy)."""
    data = stars.copy()
    data[NAN_PIXEL] = np.nan
    w_in = make_wcs()
    w_out = make_wcs(rot=17.0, cdelt=1.7e-3, crval=(150.001, 30.002), shape=SHAPE_OUT)
    out, fp = reproject_interp((data, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    yo, xo = np.mgrid[: SHAPE_OUT[0], : SHAPE_OUT[1]].astype(float)
    xi, yi = pixel_to_pixel(w_out, w_in, xo, yo)
    inside = (xi >= -0.5) & (xi <= 63.5) & (yi >= -0.5) & (yi <= 63.5)
    j0, i0 = NAN_PIXEL
    expected_nan = ~inside | (_in_stencil(order, xi, i0) & _in_stencil(order, yi, j0))
    np.testing.assert_array_equal(np.isnan(out), expected_nan)
    np.testing.assert_array_equal(fp, (~expected_nan).astype(float))
    assert (expected_nan & inside).sum() >= STENCIL[order]


@pytest.mark.parametrize("order", ["biquadratic", "bicubic"])
def test_reproject_spline_orders_blank_everything(order, stars):
    """Contrast (reproject issue #464): scipy's spline prefilter spreads one NaN
    over the whole image in reproject, while ours blanks only the stencil."""
    data = stars.copy()
    data[NAN_PIXEL] = np.nan
    w_in, w_out = make_wcs(), make_wcs(rot=17.0, shape=SHAPE_OUT)
    ref, ref_fp = reproject.reproject_interp((data, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    assert np.all(np.isnan(ref)) and np.all(ref_fp == 0)
    clean = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order)[0]
    ours = reproject_interp((data, w_in), w_out, shape_out=SHAPE_OUT, order=order)[0]
    assert 0 < (np.isnan(ours) & ~np.isnan(clean)).sum() <= 16


def test_nan_away_from_stencil_does_not_change_spline_values(stars):
    """Outputs far from a blank pixel keep (nearly) their NaN-free values for
    the spline orders: the fill used by the prefilter only perturbs locally."""
    data = stars.copy()
    data[NAN_PIXEL] = np.nan
    w_in, w_out = make_wcs(), make_wcs(rot=17.0, shape=SHAPE_OUT)
    yo, xo = np.mgrid[: SHAPE_OUT[0], : SHAPE_OUT[1]].astype(float)
    xi, yi = pixel_to_pixel(w_out, w_in, xo, yo)
    far = np.hypot(xi - NAN_PIXEL[1], yi - NAN_PIXEL[0]) > 20
    for order in ("biquadratic", "bicubic"):
        clean = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order)[0]
        out = reproject_interp((data, w_in), w_out, shape_out=SHAPE_OUT, order=order)[0]
        ok = far & np.isfinite(clean)
        assert ok.sum() > 1000
        np.testing.assert_allclose(out[ok], clean[ok], rtol=0, atol=1e-6 * data_range(stars))


# --------------------------------------------------------------------------- naive references


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("case", ["TAN-rotation", "TAN-upsample-offset", "ICRS-to-Galactic", "ZEA-to-CAR"])
def test_matches_naive_numpy(case, order, stars_with_nans):
    """Every order against the pixel-by-pixel references of ``tests/naive.py``
    (the splines' coefficients there come from a dense linear solve, not a
    recursive filter), on an input with blank pixels: same blanks, same values."""
    kin, kout = CASES[case]
    w_in, w_out = make_wcs(**kin), make_wcs(**kout)
    shape = (40, 40)  # keep the pure-Python reference fast
    out, fp = reproject_interp((stars_with_nans, w_in), w_out, shape_out=shape, order=order)
    ref, ref_fp = naive.reproject_interp(stars_with_nans, w_in, w_out, shape, order)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(fp, ref_fp)
    assert 0.5 * ref.size < np.isfinite(ref).sum() < ref.size  # values, blanks and some off the image
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9 * data_range(stars_with_nans))


def test_lanczos3_is_not_bicubic(stars):
    # the two interpolants differ, so the comparisons above are not vacuous
    kin, kout = CASES["TAN-rotation"]
    w_in, w_out = make_wcs(**kin), make_wcs(**kout)
    lanczos = reproject_interp((stars, w_in), w_out, shape_out=(40, 40), order="lanczos3")[0]
    bicubic = reproject_interp((stars, w_in), w_out, shape_out=(40, 40), order="bicubic")[0]
    assert np.nanmax(np.abs(bicubic - lanczos)) > 1e-3 * data_range(stars)


# --------------------------------------------------------------------------- dtypes and output arrays


@pytest.mark.parametrize("order", ORDERS)
def test_float32_in_float32_out(order, stars):
    w_in, w_out = make_wcs(), make_wcs(rot=25.0, shape=SHAPE_OUT)
    out, fp = reproject_interp((stars.astype(np.float32), w_in), w_out, shape_out=SHAPE_OUT, order=order)
    assert out.dtype == np.float32 and fp.dtype == np.float32
    ref, ref_fp = reproject_interp((stars.astype(np.float32).astype(np.float64), w_in), w_out, shape_out=SHAPE_OUT, order=order)
    assert ref.dtype == np.float64 and ref_fp.dtype == np.float64
    np.testing.assert_array_equal(fp, ref_fp)
    # float32 rounding of the result (and of the spline coefficients)
    np.testing.assert_allclose(out, ref, rtol=0, atol=4 * np.finfo(np.float32).eps * np.nanmax(np.abs(ref)))


def test_output_array_dtype_wins(stars):
    """A float32 output_array with float64 data is honoured (computed in
    float64, rounded once).  (float32 data into a float64 output_array is
    not tested here: each dtype combination is one more kernel compilation.)"""
    w_in, w_out = make_wcs(), make_wcs(rot=25.0, shape=SHAPE_OUT)
    ref = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT)[0]
    o32 = np.zeros(SHAPE_OUT, np.float32)
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, output_array=o32, return_footprint=False)
    assert res is o32
    np.testing.assert_array_equal(o32, ref.astype(np.float32))


def _reference(stars, order="bilinear"):
    w_in, w_out = make_wcs(), make_wcs(rot=25.0, shape=SHAPE_OUT)
    ref, ref_fp = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    return w_in, w_out, ref, ref_fp


def test_output_arrays_written_in_place(stars):
    w_in, w_out, ref, ref_fp = _reference(stars)
    out = np.full(SHAPE_OUT, 7.0)
    fpo = np.full(SHAPE_OUT, 7.0)
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, output_array=out, output_footprint=fpo)
    assert res[0] is out and res[1] is fpo
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fpo, ref_fp)


def test_output_memmap(stars, tmp_path):
    w_in, w_out, ref, ref_fp = _reference(stars)
    out = np.memmap(tmp_path / "out.dat", dtype=np.float64, mode="w+", shape=SHAPE_OUT)
    fpo = np.memmap(tmp_path / "fp.dat", dtype=np.float64, mode="w+", shape=SHAPE_OUT)
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, output_array=out, output_footprint=fpo)
    assert res[0] is out and res[1] is fpo
    out.flush()
    fpo.flush()
    del res, out, fpo
    back = np.memmap(tmp_path / "out.dat", dtype=np.float64, mode="r", shape=SHAPE_OUT)
    back_fp = np.memmap(tmp_path / "fp.dat", dtype=np.float64, mode="r", shape=SHAPE_OUT)
    np.testing.assert_array_equal(back, ref)
    np.testing.assert_array_equal(back_fp, ref_fp)


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_output_non_contiguous_view(order, stars):
    w_in, w_out, ref, ref_fp = _reference(stars, order)
    big = np.full((80, 160), 7.0)
    big_fp = np.full((80, 160), 7.0)
    view = big[5:75, 3:143:2]
    view_fp = big_fp[5:75, 3:143:2]
    assert not view.flags.c_contiguous and view.shape == SHAPE_OUT
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order, output_array=view, output_footprint=view_fp)
    assert res[0] is view and res[1] is view_fp
    np.testing.assert_array_equal(view, ref)
    np.testing.assert_array_equal(view_fp, ref_fp)
    # nothing outside the view was touched
    mask = np.ones(big.shape, bool)
    mask[5:75, 3:143:2] = False
    assert np.all(big[mask] == 7.0) and np.all(big_fp[mask] == 7.0)


def test_return_footprint_false(stars):
    w_in, w_out, ref, _ = _reference(stars)
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, return_footprint=False)
    assert isinstance(res, np.ndarray)
    np.testing.assert_array_equal(res, ref)
    out = np.zeros(SHAPE_OUT)
    res = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, return_footprint=False, output_array=out)
    assert res is out
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_roundtrip_coords_false(order, stars):
    kin, kout = CASES["SIN-to-TAN-galactic"]
    w_in, w_out = make_wcs(**kin), make_wcs(**kout)
    a, fa = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order, roundtrip_coords=False)
    b, fb = reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order, roundtrip_coords=True)
    ref, ref_fp = reproject.reproject_interp((stars, w_in), w_out, shape_out=SHAPE_OUT, order=order, roundtrip_coords=False)
    np.testing.assert_array_equal(fa, ref_fp)
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-5 * data_range(stars))
    # well-behaved mapping: the round-trip test rejects nothing
    assert np.array_equal(a, b, equal_nan=True) and np.array_equal(fa, fb)


def test_public_api():
    assert numbamosaic.reproject_interp is reproject_interp
