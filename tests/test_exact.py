"""Tests of reproject_exact and its clipping kernels (numbamosaic.exact, kernels.exact)."""

import warnings

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
import astropy.units as u
from astropy.wcs import WCS

import conftest
from conftest import star_field
import naive
from numbamosaic.exact import ExactResampler, auto_subdivisions, reproject_exact
from numbamosaic.kernels.exact import MAXB, MAXV, cell_integrals, overlap_area, poly_moments, split_half
from numbamosaic.kernels._sinks import SINK_SUM, SINK_WRITE


def make_wcs(n, scale_deg, crval=(30.0, 40.0), rot=0.0, ctype=("RA---TAN", "DEC--TAN"), ny=None):
    ny = n if ny is None else ny
    w = WCS(naxis=2)
    w.wcs.ctype = list(ctype)
    w.wcs.crval = list(crval)
    w.wcs.crpix = [n / 2 + 0.5, ny / 2 + 0.5]
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    w.wcs.cd = scale_deg * np.array([[-c, s], [s, c]])
    w.array_shape = (ny, n)
    return w


def smooth_image(n, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n]
    return 1.0 + 0.5 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.2 * rng.random((n, n))


# ---------------------------------------------------------------------------
# polygon clipping


SQ = (np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0, 1.0]))  # counter-clockwise unit square
DIAMOND = (np.array([0.0, 1.0, 0.0, -1.0]), np.array([-1.0, 0.0, 1.0, 0.0]))  # |x| + |y| <= 1, area 2


@pytest.mark.parametrize("ccw", [True, False])
@pytest.mark.parametrize(
    "poly, box, area",
    [
        (SQ, (-1.0, 2.0, -1.0, 2.0), 1.0),  # full
        (SQ, (0.0, 1.0, 0.0, 1.0), 1.0),  # coincident edges
        (SQ, (0.5, 2.0, -1.0, 2.0), 0.5),  # right half
        (SQ, (-1.0, 2.0, -1.0, 0.25), 0.25),  # bottom quarter strip
        (SQ, (0.5, 1.5, 0.5, 1.5), 0.25),  # corner
        (SQ, (0.2, 0.7, 0.1, 0.4), 0.15),  # box inside the polygon
        (SQ, (1.0, 2.0, 0.0, 1.0), 0.0),  # touching
        (SQ, (3.0, 4.0, 3.0, 4.0), 0.0),  # disjoint
        (DIAMOND, (-0.5, 0.5, -0.5, 0.5), 1.0),  # box inside the diamond
        (DIAMOND, (0.0, 2.0, 0.0, 2.0), 0.5),  # one triangle
        (DIAMOND, (0.5, 1.5, -0.5, 0.5), 0.25),  # tip: integral of 2 (1 - x) over [0.5, 1]
        (DIAMOND, (-0.5, 0.5, 0.5, 1.5), 0.25),  # top tip
        (DIAMOND, (0.0, 1.0, -0.5, 0.5), 0.75),  # right half of the diamond, cut at |y| <= 0.5
    ],
)
def test_overlap_area(poly, box, area, ccw):
    px, py = poly
    if not ccw:
        px, py = px[::-1].copy(), py[::-1].copy()
    got = overlap_area(px, py, *box)
    assert abs(abs(got) - area) < 1e-15
    if area > 0:
        assert np.sign(got) == (1 if ccw else -1)


def test_overlap_rotated_square():
    # unit square rotated by 45 degrees about (0.5, 0.5), clipped to the unit square:
    # an octagon of area 1 - 4 * (corner triangles of legs 1 - 1/sqrt2) = 2 (sqrt2 - 1)
    t = np.radians(np.array([0, 90, 180, 270]))
    r = np.sqrt(0.5)
    px, py = 0.5 + r * np.cos(t), 0.5 + r * np.sin(t)
    assert abs(overlap_area(px, py, 0.0, 1.0, 0.0, 1.0) - 2 * (np.sqrt(2) - 1)) < 1e-15


def _slots(*polys):
    P = np.zeros((len(polys) + 2, 2, MAXV))
    for s, (x, y) in enumerate(polys):
        P[s, 0, : len(x)] = x
        P[s, 1, : len(y)] = y
    return P


@pytest.mark.parametrize("ccw", [True, False])
def test_split_half(ccw):
    px = np.array([0.1, 0.9, 0.7, 0.2])
    py = np.array([0.05, 0.3, 1.1, 0.8])
    if not ccw:
        px, py = px[::-1].copy(), py[::-1].copy()
    P = _slots((px, py))
    nl, nh = split_half(P, 0, 4, 1, 0.6, 1, 2)
    assert nl == 4 and nh == 4
    assert np.all(P[1, 1, :nl] <= 0.6) and np.sum(P[1, 1, :nl] == 0.6) == 2
    assert np.all(P[2, 1, :nh] >= 0.6) and np.sum(P[2, 1, :nh] == 0.6) == 2
    # the cut vertices are shared bit for bit
    cut_lo = sorted(P[1, 0, :nl][P[1, 1, :nl] == 0.6])
    cut_hi = sorted(P[2, 0, :nh][P[2, 1, :nh] == 0.6])
    assert cut_lo == cut_hi
    # the halves partition the polygon, with the polygon's orientation
    lo, _, _ = poly_moments(P, 1, nl, 0.0, 0.0)
    hi, _, _ = poly_moments(P, 2, nh, 0.0, 0.0)
    tot, _, _ = poly_moments(P, 0, 4, 0.0, 0.0)
    assert abs(lo + hi - tot) < 1e-16 and np.sign(lo) == np.sign(hi) == np.sign(tot) == (1 if ccw else -1)
    # a line missing the polygon leaves it whole on one side
    assert split_half(P, 0, 4, 0, 5.0, 1, 2) == (4, 0)
    assert split_half(P, 0, 4, 0, -5.0, 1, 2) == (0, 4)


def test_poly_moments_centroid():
    P = _slots((np.array([1.0, 3.0, 3.0, 1.0]), np.array([2.0, 2.0, 3.0, 3.0])))
    a, mx, my = poly_moments(P, 0, 4, 0.0, 0.0)
    assert a == 2.0
    assert abs(mx / a - 2.0) < 1e-15 and abs(my / a - 2.5) < 1e-15
    a2, mx2, my2 = poly_moments(P, 0, 4, 2.0, 2.5)
    assert a2 == 2.0 and abs(mx2) < 1e-15 and abs(my2) < 1e-15


def _random_quads(rng, count, ncol, nrow):
    """Quadrilaterals inside [0, ncol] x [0, nrow]: convex (perturbed rotated
    rectangles), both orientations, a few folded (self-intersecting), and
    some with edges or vertices exactly on cell boundaries."""
    quads = []
    for i in range(count):
        w, h = rng.uniform(0.05, min(ncol, nrow) / 1.5, 2)
        th = rng.uniform(0, np.pi)
        c, s = np.cos(th), np.sin(th)
        x = np.array([-w, w, w, -w]) / 2
        y = np.array([-h, -h, h, h]) / 2
        x, y = c * x - s * y, s * x + c * y
        x = x + rng.normal(0, 0.05 * w, 4)
        y = y + rng.normal(0, 0.05 * h, 4)
        if i % 7 == 3:  # axis-aligned with vertices on the grid lines
            x = np.array([0.0, 1.0, 1.0, 0.0]) * rng.integers(1, ncol + 1)
            y = np.array([0.0, 0.0, 1.0, 1.0]) * rng.integers(1, nrow + 1)
            x = x - x.mean()
            y = y - y.mean()
        if i % 5 == 1:
            x, y = x[::-1].copy(), y[::-1].copy()  # clockwise
        if i % 11 == 5:
            x[[1, 2]] = x[[2, 1]]  # folded: a bow tie
            y[[1, 2]] = y[[2, 1]]
        # place inside the box (a third of them on integer offsets)
        lo_x, hi_x = -x.min(), ncol - x.max()
        lo_y, hi_y = -y.min(), nrow - y.max()
        if hi_x < lo_x or hi_y < lo_y:
            continue
        ox, oy = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
        if i % 3 == 0:
            ox, oy = np.clip(np.round(ox), lo_x, hi_x), np.clip(np.round(oy), lo_y, hi_y)
        quads.append((x + ox, y + oy))
    return quads


@pytest.mark.parametrize("ncol, nrow", [(1, 1), (1, 2), (2, 1), (2, 2), (3, 2), (2, 4), (MAXB, MAXB)])
def test_edge_integrals_match_polygon_clipping(ncol, nrow):
    # the kernels' edge-by-edge cell integrals (small sub-cells) agree with
    # Sutherland-Hodgman pieces and their moments (large sub-cells)
    rng = np.random.default_rng(ncol * 10 + nrow)
    for px, py in _random_quads(rng, 200, ncol, nrow):
        for jA, jx, jy in ((1.0, 0.0, 0.0), (0.7, 0.013, -0.021)):
            a = cell_integrals(px, py, ncol, nrow, jA, jx, jy, True)
            b = cell_integrals(px, py, ncol, nrow, jA, jx, jy, False)
            scale = abs(b).sum() + 1e-300
            assert np.max(np.abs(a - b)) < 2e-15 * max(1.0, scale)
            if ncol <= 2 and nrow <= 2:
                # the kernels' 2 x 2 walker (a) against the general one
                g = cell_integrals(px, py, ncol, nrow, jA, jx, jy, True, True)
                assert np.max(np.abs(a - g)) < 2e-15 * max(1.0, scale)
            # the cells partition the polygon
            tot = poly_moments(_slots((px, py)), 0, 4, 0.0, 0.0)
            expect = tot[0] * jA + jx * tot[1] + jy * tot[2]
            assert abs(a.sum() - expect) < 1e-14 * max(1.0, abs(tot[0]))


def test_overlap_area_matches_naive_clipping():
    # the kernel's clipper against the naive Sutherland-Hodgman of tests/naive.py,
    # on quadrilaterals of both orientations, folded ones, and vertices on grid lines
    rng = np.random.default_rng(7)
    quads = _random_quads(rng, 150, 3, 3)
    boxes = [(i - 0.5, i + 0.5, j - 0.5, j + 0.5) for i in range(4) for j in range(4)] + [(0.2, 2.7, 0.4, 1.9)]
    nonzero = 0
    for px, py in quads:
        for box in boxes:
            ref = naive.overlap_area(px, py, *box)
            assert abs(overlap_area(px, py, *box) - ref) < 1e-14, (px, py, box)
            nonzero += ref != 0.0
    assert nonzero > 500


@pytest.mark.parametrize(
    "out_kw",
    [dict(rot=25.0, cdelt=2.6e-3), dict(rot=-40.0, cdelt=1.3e-3, crval=(150.01, 60.005)), dict(proj="SIN", rot=10.0, cdelt=2.2e-3)],
)
def test_matches_naive_polygon_clipping(out_kw):
    """reproject_exact against tests/naive.py: output pixel corners mapped by astropy,
    clipped with every input pixel, pieces weighted by the TAN input's solid angle
    per pixel at their centroid (output pixels of TAN and SIN this small have
    straight edges to ~1e-11)."""
    data = star_field((24, 24), seed=2, nan_fraction=0.02)
    w_in = conftest.make_wcs(shape=(24, 24), crval=(150.0, 60.0))
    w_out = conftest.make_wcs(shape=(20, 20), **{"crval": (150.0, 60.0), **out_kw})
    out, fp = reproject_exact((data, w_in), w_out, shape_out=(20, 20))
    ref, ref_fp = naive.reproject_exact(data, w_in, w_out, (20, 20), solid_angle=naive.tan_solid_angle(w_in))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    assert ((ref_fp > 0) & (ref_fp < 1)).sum() > 100  # partial coverage: image edges and blank pixels
    # the solid-angle weighting changes values by ~3e-9 of the range: the tolerance resolves it
    np.testing.assert_allclose(out, ref, rtol=0, atol=5e-10 * conftest.data_range(data))
    np.testing.assert_allclose(fp, ref_fp, rtol=0, atol=2e-9)


# ---------------------------------------------------------------------------
# agreement with reproject


def _gal_to_icrs(l, b):
    c = SkyCoord(l * u.deg, b * u.deg, frame="galactic").icrs
    return c.ra.deg, c.dec.deg


def _mirrored(w):
    w.wcs.cd = w.wcs.cd @ np.diag([-1.0, 1.0])  # east to the right: opposite orientation
    return w


CASES = {
    "tan-scale-shift": lambda: (make_wcs(60, 5 / 3600), make_wcs(50, 6.5 / 3600, crval=(30.003, 39.998)), (50, 50)),
    "tan-rotated": lambda: (make_wcs(60, 5 / 3600, rot=8), make_wcs(56, 5.5 / 3600, crval=(30.001, 40.002), rot=-23), (56, 56)),
    "galactic-to-icrs": lambda: (
        make_wcs(60, 4 / 3600, crval=(120.0, 30.0), ctype=("GLON-TAN", "GLAT-TAN")),
        make_wcs(52, 4.4 / 3600, crval=_gal_to_icrs(120.0, 30.0), rot=11),
        (52, 52),
    ),
    "tan-mirrored": lambda: (
        _mirrored(make_wcs(60, 5 / 3600)),
        make_wcs(56, 5.5 / 3600, crval=(30.001, 40.002), rot=-23),
        (56, 56),
    ),
    "big-pixels": lambda: (make_wcs(40, 0.5, rot=5), make_wcs(36, 0.6, crval=(31.0, 39.5), rot=-15), (36, 36)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_reproject(case):
    reproject = pytest.importorskip("reproject")
    wcs_in, wcs_out, shape_out = CASES[case]()
    data = smooth_image(wcs_in.array_shape[0], seed=3)
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b, g = reproject.reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    both = np.isfinite(a) & np.isfinite(b)
    full = both & (f > 0.99) & (g > 0.99)
    assert full.sum() > 0.3 * a.size
    assert np.max(np.abs(a[full] - b[full]) / np.abs(b[full])) < 1e-6
    # footprints: same coverage everywhere (reproject's is 0 where it gives NaN)
    assert np.max(np.abs(f - np.nan_to_num(g))) < 1e-6
    assert 0.0 < f.max() <= 1.0 and f.min() >= 0.0
    # partially covered edge pixels agree too
    edge = both & (g > 1e-3) & (g < 0.99)
    assert edge.any()
    assert np.max(np.abs(a[edge] - b[edge]) / np.abs(b[edge])) < 1e-5


def test_big_pixels_are_subdivided():
    from numbamosaic.wcs import transform_and_bbox

    wcs_in, wcs_out, shape_out = CASES["big-pixels"]()
    tr, _ = transform_and_bbox(wcs_in, wcs_out, wcs_in.array_shape, shape_out, roundtrip=False)
    assert auto_subdivisions(tr, wcs_in.array_shape) > 1
    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    tr, _ = transform_and_bbox(wcs_in, wcs_out, wcs_in.array_shape, shape_out, roundtrip=False)
    assert auto_subdivisions(tr, wcs_in.array_shape) == 1


def test_subdivisions_converge():
    # CAR -> TAN at 2 arcmin: curved edges; explicit subdivisions converge as ~1/nsub^2
    wcs_in = make_wcs(30, 2 / 60, ctype=("RA---CAR", "DEC--CAR"))
    wcs_out = make_wcs(30, 2.4 / 60, crval=(30.1, 40.1), rot=15)
    data = smooth_image(30, seed=1)
    ref, fr = reproject_exact((data, wcs_in), wcs_out, subdivisions=24)
    m = fr > 0.99
    err = []
    for nsub in (1, 2, 4):
        a, f = reproject_exact((data, wcs_in), wcs_out, subdivisions=nsub)
        err.append(np.max(np.abs(a - ref)[m]))
    assert err[0] > 3 * err[1] > 9 * err[2]
    a, f = reproject_exact((data, wcs_in), wcs_out)  # automatic
    assert np.max(np.abs(a - ref)[m]) < 1e-7
    with pytest.raises(ValueError, match="subdivisions"):
        reproject_exact((data, wcs_in), wcs_out, subdivisions=0)


# ---------------------------------------------------------------------------
# exactness and conservation


@pytest.mark.parametrize("scale", [1 / 3600, 1 / 60])
def test_identity(scale):
    w = make_wcs(40, scale, rot=30)
    data = smooth_image(40)
    a, f = reproject_exact((data, w), w)
    assert np.max(np.abs(a - data)) < 1e-10
    assert np.max(np.abs(f - 1.0)) < 1e-10
    # a larger output: the input plus a NaN border with zero footprint
    w2 = make_wcs(44, scale, rot=30)
    a2, f2 = reproject_exact((data, w), w2)
    assert np.max(np.abs(a2[2:-2, 2:-2] - data)) < 1e-10
    border = np.ones((44, 44), bool)
    border[2:-2, 2:-2] = False
    assert np.all(np.isnan(a2[border])) and np.all(f2[border] == 0)


def test_constant_image_is_preserved():
    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    data = np.full(wcs_in.array_shape, 2.5)
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    m = f > 0
    assert np.max(np.abs(a[m] - 2.5)) < 1e-12


# at 1e-5 arcsec per pixel astropy's own rounding (~1e-15 radian in its spherical trigonometry, ~2e-5
# pixel) fails the native-vs-astropy check, so the transform goes to the control grid, which warns
# that it reaches only ~2e-5 pixel
MICRO_ARCSEC_GRID = pytest.mark.filterwarnings("ignore:the astropy control grid reaches only:RuntimeWarning")


@pytest.mark.parametrize("arcsec", [1.0, 1e-3, pytest.param(1e-5, marks=MICRO_ARCSEC_GRID)])
def test_flux_conservation(arcsec):
    scale = arcsec / 3600
    y, x = np.mgrid[:90, :90]
    data = np.exp(-((x - 44.3) ** 2 + (y - 46.1) ** 2) / (2 * 1.5**2))
    data[45, 45] += 10.0  # point source
    wcs_in = make_wcs(90, scale)
    wcs_out = make_wcs(30, 3 * scale, crval=(30 + 0.3 * scale, 40 - 0.2 * scale), rot=17)
    a, f = reproject_exact((data, wcs_in), wcs_out, conserve="flux")
    assert abs(np.nansum(a) / data.sum() - 1.0) < 1e-7
    # surface brightness is not flux: summing it loses the factor 9
    s = reproject_exact((data, wcs_in), wcs_out, return_footprint=False)
    assert abs(np.nansum(s) * 9 / data.sum() - 1.0) < 1e-2


@pytest.mark.parametrize("ratio", [1e-3, 1e-5])
def test_tiny_output_pixels_across_input_pixel_edges(ratio):
    # output pixels 1e-3 / 1e-5 of an input pixel, straddling input pixel
    # edges and a corner: the pieces are slivers of a unit square, yet the
    # covered fraction of every output pixel is 1 and the value a weighted
    # mean of the four input values, to near double precision
    wcs_in = make_wcs(8, 1 / 3600, rot=17)
    ra, dec = wcs_in.wcs_pix2world([[3.5, 4.5]], 0)[0]  # an input pixel corner
    wcs_out = make_wcs(30, ratio / 3600, crval=(ra, dec), rot=-31)
    data = np.full((8, 8), 2.0)
    data[4:, :4] = 3.0
    data[:4, 4:] = 5.0
    data[4:, 4:] = 7.0
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=(30, 30))
    assert np.max(np.abs(f - 1.0)) < 1e-14 / ratio  # (clipping polygons about the input pixel centre lost ~0.03 / ratio^2 ulp)
    assert np.all((a > 2.0 - 1e-12) & (a < 7.0 + 1e-12))
    const, fc = reproject_exact((np.full((8, 8), 2.5), wcs_in), wcs_out, shape_out=(30, 30))
    assert np.max(np.abs(const - 2.5)) < 1e-12 and np.array_equal(fc, f)


def test_flux_of_constant_image():
    wcs_in = make_wcs(60, 2 / 3600)
    wcs_out = make_wcs(20, 6 / 3600)
    a, f = reproject_exact((np.full((60, 60), 0.5), wcs_in), wcs_out, conserve="flux")
    assert np.allclose(a, 4.5, rtol=1e-9, atol=0)
    assert np.allclose(f, 1.0, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------
# NaN, dtype, threads, arguments


def test_nan_handling():
    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    n = wcs_in.array_shape[0]
    data = np.full((n, n), 3.0)
    block = np.zeros((n, n))
    block[20:30, 24:33] = 1.0
    data[block == 1] = np.nan
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    clean, fc = reproject_exact((np.full((n, n), 3.0), wcs_in), wcs_out, shape_out=shape_out)
    frac, _ = reproject_exact((block, wcs_in), wcs_out, shape_out=shape_out)  # covered fraction of the block
    frac = np.nan_to_num(frac)
    # the footprint is the valid coverage; values stay the renormalised mean
    assert np.max(np.abs(f - fc * (1 - frac))) < 1e-12
    ok = np.isfinite(a)
    assert np.max(np.abs(a[ok] - 3.0)) < 1e-12
    inside = (fc > 0) & (frac > 1 - 1e-12)
    assert inside.sum() > 10
    assert np.all(np.isnan(a[inside])) and np.all(f[inside] == 0)
    partial = (frac > 0.01) & (frac < 0.99) & (fc > 0.99)
    assert partial.sum() > 5 and np.all(np.isfinite(a[partial]))
    # identity: no slivers leak neighbours into the blank block
    a2, f2 = reproject_exact((data, wcs_in), wcs_in)
    assert np.all(np.isnan(a2[block == 1])) and np.all(f2[block == 1] == 0)


def test_float32():
    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    data = smooth_image(wcs_in.array_shape[0])
    a32, f32 = reproject_exact((data.astype(np.float32), wcs_in), wcs_out, shape_out=shape_out)
    a64, f64 = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    assert a32.dtype == np.float32 and f32.dtype == np.float32
    assert a64.dtype == np.float64
    m = f64 > 0
    assert np.max(np.abs(a32[m] - a64[m]) / a64[m]) < 1e-6
    # a float32 output array is honoured for float64 input only if the dtypes match the rules
    out = np.empty(shape_out, np.float32)
    res = reproject_exact((data.astype(np.float32), wcs_in), wcs_out, shape_out=shape_out, output_array=out)
    assert res[0] is out


def test_serial_parallel_and_tiles_bitwise():
    wcs_in, wcs_out, shape_out = CASES["galactic-to-icrs"]()
    data = smooth_image(wcs_in.array_shape[0])
    data[5:9, 7:12] = np.nan
    a1, f1 = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out, parallel=False)
    for par in (2, True):
        a2, f2 = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out, parallel=par)
        assert np.array_equal(a1, a2, equal_nan=True) and np.array_equal(f1, f2)
    # the serial tile kernel on a 3 x 3 tiling gives the same bits
    from numbamosaic.wcs import transform_and_bbox

    tr, _ = transform_and_bbox(wcs_in, wcs_out, data.shape, shape_out, roundtrip=False)
    res = ExactResampler()
    val = np.full(shape_out, np.nan)
    wt = np.zeros(shape_out)
    ny, nx = shape_out
    ys, xs = [0, 17, 30, ny], [0, 11, 40, nx]
    for i in range(3):
        for j in range(3):
            res.tile(data, None, np.empty((0, 0)), tr, ys[i], ys[i + 1], xs[j], xs[j + 1], val, wt, 0, 0, SINK_WRITE, np.zeros(3))
    assert np.array_equal(val, a1, equal_nan=True) and np.array_equal(wt, f1)


def test_weights_background_and_sum_sink():
    from numbamosaic.wcs import transform_and_bbox

    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    data = smooth_image(wcs_in.array_shape[0])
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    tr, (y0, y1, x0, x1) = transform_and_bbox(wcs_in, wcs_out, data.shape, shape_out, roundtrip=False)
    res = ExactResampler()
    wdata = np.full(data.shape, 2.0, dtype=np.float32)
    bg = np.array([0.25, 0.01, -0.02])
    val = np.zeros((y1 - y0, x1 - x0))
    wt = np.zeros_like(val)
    res.tile(data, None, wdata, tr, y0, y1, x0, x1, val, wt, y0, x0, SINK_SUM, bg)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    ref = a[y0:y1, x0:x1] - (0.25 + 0.01 * xx - 0.02 * yy)
    fref = f[y0:y1, x0:x1]
    m = fref > 0
    assert np.allclose(wt, 2 * fref, rtol=1e-12, atol=0)
    assert np.allclose(val[m] / wt[m], ref[m], rtol=0, atol=1e-12)


def test_bad_arguments():
    w = make_wcs(10, 1 / 3600)
    with pytest.raises(ValueError, match="conserve"):
        reproject_exact((np.ones((10, 10)), w), w, conserve="volume")
    with pytest.raises(ValueError, match="conserve"):
        ExactResampler(conserve=None)
    with pytest.raises(ValueError, match="return_type"):
        reproject_exact((np.ones((10, 10)), w), w, return_type="zarr")


def test_registered_resampler():
    from numbamosaic._resamplers import get_resampler

    r = get_resampler("exact", conserve="flux")
    assert isinstance(r, ExactResampler) and r.flux and r.margin == 1


def test_current_scheduler_dispatch(monkeypatch):
    import numbamosaic.exact
    from numbamosaic._exec import DaskExecutor

    calls = []

    def run_single(resampler, data, tr, box, out, fp, executor):
        calls.append((resampler, box, out.shape, fp is None, executor))

    monkeypatch.setattr(numbamosaic.exact, "run_single", run_single)
    w = make_wcs(10, 1 / 3600)
    got = reproject_exact((np.ones((10, 10)), w), w, parallel="current-scheduler", conserve="flux")
    resampler, box, oshape, nofp, executor = calls[0]
    assert isinstance(resampler, ExactResampler) and resampler.flux and box == (0, 10, 0, 10)
    assert oshape == (10, 10) and not nofp and got[0].shape == (10, 10)
    assert isinstance(executor, DaskExecutor) and executor.spec == "current-scheduler"


def test_big_endian_input_without_copy():
    wcs_in, wcs_out, shape_out = CASES["tan-rotated"]()
    data = smooth_image(wcs_in.array_shape[0])
    a, f = reproject_exact((data, wcs_in), wcs_out, shape_out=shape_out)
    b = reproject_exact((data.astype(">f8"), wcs_in), wcs_out, shape_out=shape_out)
    assert b[0].dtype == np.float64
    assert np.array_equal(b[0], a, equal_nan=True) and np.array_equal(b[1], f)


def _car(crval0, n=72):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    w.wcs.crval = [crval0, 0.0]
    w.wcs.cdelt = [-360.0 / n, 360.0 / n]
    w.wcs.crpix = [n / 2 + 0.5, n / 4 + 0.5]
    w.array_shape = (n // 2, n)
    return w


def test_cylindrical_seam():
    # an all-sky CAR image seen across its longitude seam equals the same
    # pixels rolled by half a turn (seam on the far side of the sky)
    rng = np.random.default_rng(0)
    a_img = 1.0 + rng.random((36, 72))
    b_img = np.roll(a_img, 36, axis=1)
    wcs_out = make_wcs(20, 2.0, crval=(180.0, 30.0))
    a, f = reproject_exact((a_img, _car(0.0)), wcs_out)
    b, g = reproject_exact((b_img, _car(180.0)), wcs_out)
    assert np.all(np.isfinite(a)) and np.all(f > 1 - 1e-12)
    assert np.max(np.abs(a - b)) < 1e-10 and np.max(np.abs(f - g)) < 1e-12


def test_wide_rows_in_lattice_chunks_bitwise():
    # 64 sub-cells per side: rows are processed in chunks of 64 pixels
    from numbamosaic.kernels.exact import LATTICE_POINTS
    from numbamosaic.wcs import transform_and_bbox

    assert LATTICE_POINTS // 64 < 70
    wcs_in = make_wcs(34, 20 / 3600, rot=12)
    wcs_out = make_wcs(70, 9 / 3600, crval=(30.0005, 40.0))
    data = smooth_image(34)
    tr, _ = transform_and_bbox(wcs_in, wcs_out, data.shape, (70, 70), roundtrip=False)
    res = ExactResampler(subdivisions=64)
    ref_v = np.full((2, 70), np.nan)
    ref_w = np.zeros((2, 70))
    res.tile(data, None, None, tr, 34, 36, 0, 70, ref_v, ref_w, 34, 0, SINK_WRITE, np.zeros(3))
    v = np.full((2, 70), np.nan)
    w = np.zeros((2, 70))
    for xa, xb in ((0, 23), (23, 70)):
        res.tile(data, None, None, tr, 34, 36, xa, xb, v, w, 34, 0, SINK_WRITE, np.zeros(3))
    assert np.isfinite(ref_v).all()
    assert np.array_equal(v, ref_v) and np.array_equal(w, ref_w)
