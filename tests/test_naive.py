"""The references of ``tests/naive.py`` against independent oracles (no JIT here).

The kernels are tested against ``naive`` in ``test_interp``, ``test_exact``
and ``test_mosaic``; these tests make sure the references themselves are
right: scipy's ``map_coordinates`` for the interpolants, analytic areas for
the polygon clipper, and hand-computed combinations.
"""

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

import naive
from conftest import make_wcs, star_field

RNG = np.random.default_rng(11)
DATA = star_field((20, 23), seed=4)
# positions inside the clamped domain [0, n - 1], plus exact integers and half-integers
XI = np.concatenate([RNG.uniform(0.0, 22.0, 300), np.arange(0.0, 22.5, 0.5)])
YI = np.concatenate([RNG.uniform(0.0, 19.0, 300), np.linspace(0.0, 19.0, 45)])


@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_interpolants_match_scipy(order):
    ref = map_coordinates(DATA, [YI, XI], order=order, mode="mirror")
    got = naive.interpolate(DATA, XI, YI, order)
    if order == 0:  # scipy rounds half-integers down or to even; the package (and naive) up
        ok = np.abs(XI % 1 - 0.5) > 1e-9
        np.testing.assert_array_equal(got[ok], ref[ok])
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * np.ptp(DATA))


def test_domain_and_clamping():
    d = np.arange(12.0).reshape(3, 4)
    for order in naive.INTERP_ORDERS:
        # outside [-0.5, n - 0.5]: NaN; the outer half pixel: the border value
        out = naive.interpolate(d, np.array([-0.51, -0.5, 3.5, 3.51, 1.0]), np.array([1.0, 1.0, 1.0, 1.0, -0.5]), order)
        assert np.isnan(out[0]) and np.isnan(out[3])
        np.testing.assert_allclose(out[1:3], [4.0, 7.0], atol=1e-12)
        np.testing.assert_allclose(out[4], 1.0, atol=1e-12)


def test_blanks_reach_only_the_stencil():
    d = DATA.copy()
    d[9, 11] = np.nan
    x = np.array([11.2, 11.2, 10.2, 12.9, 9.4, 13.2])
    y = np.array([9.0, 7.9, 9.0, 9.0, 9.0, 9.0])
    # bilinear at y = 9 exactly does not read row 10; x = 12.9 needs 12 and 13 only
    assert np.isnan(naive.interp_bilinear(d, x, y)).tolist() == [True, False, True, False, False, False]
    # cubic support floor(x) - 1 .. floor(x) + 2
    assert np.isnan(naive.interp_spline(d, x, y, 3)).tolist() == [True, True, True, True, True, False]
    # quadratic support round(x) - 1 .. round(x) + 1
    assert np.isnan(naive.interp_spline(d, x, y, 2)).tolist() == [True, True, True, False, False, False]


def test_lanczos3_interpolates_and_preserves_constants():
    i = RNG.integers(0, 20, 50)
    j = RNG.integers(0, 20, 50)
    np.testing.assert_allclose(naive.interp_lanczos3(DATA, i.astype(float), j.astype(float)), DATA[j, i], rtol=1e-14)
    np.testing.assert_allclose(naive.interp_lanczos3(np.full((9, 9), 3.5), XI / 3, YI / 3), 3.5, rtol=1e-14)
    assert naive.lanczos3(0.5) == pytest.approx(np.sinc(0.5) * np.sinc(0.5 / 3))
    assert naive.lanczos3(3.0) == 0.0


SQ = ([0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "poly, box, area",
    [
        (SQ, (-1.0, 2.0, -1.0, 2.0), 1.0),
        (SQ, (0.5, 2.0, -1.0, 2.0), 0.5),
        (SQ, (0.5, 1.5, 0.5, 1.5), 0.25),
        (SQ, (1.0, 2.0, 0.0, 1.0), 0.0),
        (([0.0, 1.0, 0.0, -1.0], [-1.0, 0.0, 1.0, 0.0]), (0.5, 1.5, -0.5, 0.5), 0.25),
        (([0.0, 2.0, 0.0, 2.0], [0.0, 0.0, 2.0, 2.0]), (0.0, 2.0, 0.0, 1.0), 1.0),  # bow tie: lower lobe only
        (([0.0, 2.0, 0.0, 2.0], [0.0, 0.0, 2.0, 2.0]), (0.0, 2.0, 0.0, 2.0), 0.0),  # lobes of opposite sign
    ],
)
def test_clip_polygon_areas(poly, box, area):
    assert naive.overlap_area(*poly, *box) == pytest.approx(area, abs=1e-15)
    # reversing the orientation flips the sign
    assert naive.overlap_area(poly[0][::-1], poly[1][::-1], *box) == pytest.approx(-area, abs=1e-15)


def test_clipped_pieces_partition_the_polygon():
    t = np.sort(RNG.uniform(0, 2 * np.pi, 7))
    px, py = 2.0 + 1.7 * np.cos(t), 1.5 + 1.2 * np.sin(t)
    total, gx, gy = naive.polygon_area_centroid(px, py)
    pieces = [naive.polygon_area_centroid(*naive.clip_polygon(px, py, i - 0.5, i + 0.5, j - 0.5, j + 0.5))
              for i in range(5) for j in range(4)]
    assert sum(a for a, _, _ in pieces) == pytest.approx(total, rel=1e-14)
    assert sum(a * x for a, x, _ in pieces if a) == pytest.approx(total * gx, rel=1e-13)
    assert sum(a * y for a, _, y in pieces if a) == pytest.approx(total * gy, rel=1e-13)


def test_tan_solid_angle_is_the_spherical_pixel_area():
    # the analytic TAN factor (used to weight pieces) against great-circle quadrilaterals
    w = make_wcs(shape=(12, 14), cdelt=0.5, rot=20.0)  # 6 x 7 degrees: the factor varies by ~1 %
    omega = naive.pixel_solid_angles(w, (12, 14))
    J = naive.tan_solid_angle(w)
    y, x = np.mgrid[:12, :14]
    ratio = omega / np.vectorize(J)(x, y)
    assert np.ptp(omega) / omega.mean() > 5e-3
    # constant up to the curvature of the factor over a pixel (second order in the pixel size)
    np.testing.assert_allclose(ratio, np.radians(0.5) ** 2, rtol=1e-4)


def test_naive_exact_identity_and_half_pixel_shift():
    w = make_wcs(shape=(6, 7))
    d = star_field((6, 7), seed=1)
    out, fp = naive.reproject_exact(d, w, w, (6, 7))
    np.testing.assert_allclose(out, d, rtol=1e-9)
    np.testing.assert_allclose(fp, 1.0, rtol=1e-9)
    w2 = w.deepcopy()
    w2.wcs.crpix = [w.wcs.crpix[0] + 0.5, w.wcs.crpix[1]]  # output pixel i covers input i - 1 and i - 0.5
    w2.wcs.set()
    out, fp = naive.reproject_exact(d, w, w2, (6, 7))
    np.testing.assert_allclose(out[:, 1:], 0.5 * (d[:, :-1] + d[:, 1:]), rtol=1e-8)
    np.testing.assert_allclose(fp[:, 0], 0.5, rtol=1e-8)


def test_coadd_by_hand():
    v = [np.array([[1.0, 5.0]]), np.array([[2.0, np.nan]]), np.array([[60.0, 7.0]]), np.array([[3.0, 8.0]])]
    w = [np.array([[1.0, 1.0]]), np.array([[3.0, 1.0]]), np.array([[1.0, 0.0]]), np.array([[1.0, 2.0]])]
    got = {c: naive.coadd(v, w, c) for c in ["mean", "sum", "first", "last", "min", "max", "median", "clipped-mean"]}
    values = {c: r[0][0].tolist() for c, r in got.items()}
    # column 0: 60 is an outlier (median 2.5, 1.4826 MAD = 1.48); column 1: 7 has weight 0, the NaN is blank
    assert values == {"mean": [70 / 6, 21 / 3], "sum": [70.0, 21.0], "first": [1.0, 5.0], "last": [3.0, 8.0],
                      "min": [1.0, 5.0], "max": [60.0, 8.0], "median": [2.5, 6.5], "clipped-mean": [2.0, 7.0]}
    assert got["mean"][1][0].tolist() == [6.0, 3.0] and got["max"][1][0].tolist() == [1.0, 2.0]
    assert got["clipped-mean"][1][0].tolist() == [5.0, 3.0]
    empty = naive.coadd([np.array([[np.nan]])], [np.array([[1.0]])], "mean")
    assert np.isnan(empty[0][0, 0]) and empty[1][0, 0] == 0.0
