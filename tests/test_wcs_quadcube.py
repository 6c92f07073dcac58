"""Native XPH and quad-cube projections (TSC, CSC, QSC) against astropy/wcslib over whole layouts.

The images of :mod:`test_wcs_projections` are small; here every image covers
a projection's whole plane layout and beyond: the six cube faces of TSC, CSC
and QSC (C&G 2002, section 5.6) with the blank corners of the cube's net, and
the four columns of XPH's butterfly (Calabretta & Lowe 2013) with the blank
space between them.  With an unrotated PC matrix the pixel centres fall on
the face edges (multiples of 45 degrees) exactly; half-pixel and random
positions, and a rotated PC matrix, test everything in between.

* pixel -> world must agree with ``wcs_pix2world`` to 1e-8 pixel (as an
  angle), NaN exactly where astropy gives NaN (except within 1e-7 pixel of
  a domain edge, where wcslib's own tolerances decide);
* world -> pixel must agree with ``wcs_world2pix`` to 1e-8 pixel, except
  where a sky point has two images in the plane (a face edge of a quad cube,
  a cut of XPH): there our pixel must map back through astropy onto the same
  sky position.  These projections cover the whole sphere: no NaN.

CSC is the exception, by design: wcslib evaluates Chan & O'Neill's
polynomials in single precision (C ``float``), so astropy's CSC coordinates
carry float32 rounding, up to ~5e-7 of a face (2.5e-5 degrees).  numbamosaic
evaluates the same polynomials in double precision; the tests allow
:data:`CSC_TOL_DEG` there.
"""

import math
import warnings

import numpy as np
import pytest
from astropy.wcs import WCS

from numbamosaic.wcs import describe_wcs, native_pixel_to_world, native_world_to_pixel
from test_wcs_projections import _angdist, _finite_pix, _local_scale, _near_edge_pix, _p2w, _valid, _w2p, oriented_wcs

PIX_TOL = 1e-8
#: CSC: wcslib's single-precision evaluation (see the module docstring), degrees
CSC_TOL_DEG = 5e-5
STEP = 45.0 / 8.0  # pixel size of the layout images: face edges fall on pixel centres
#: exact and adaptive against reproject, and exact against the sampled truth at k = 64
#: (whose own error is ~1e-5 here), fractions of the data range
EXACT_TOL = 2e-3
TRUTH_TOL = 5e-5
ADAPTIVE_TOL = 1e-4

#: projection -> (half-width, half-height) of the layout image in degrees
LAYOUT = {"TSC": (337.5, 157.5), "CSC": (337.5, 157.5), "QSC": (337.5, 157.5), "XPH": (140.625, 140.625)}

#: (CRVAL, PC rotation in degrees, LONPOLE, LATPOLE; None for the defaults)
ORIENTATIONS = [
    ((0.0, 0.0), 0.0, None, None),
    ((30.0, 40.0), 0.0, None, None),
    ((200.0, -60.0), 30.0, None, None),
    ((10.0, 89.5), -70.0, None, None),
    ((300.0, -20.0), 15.0, 150.0, -60.0),
]


def layout_wcs(proj, crval, rot, lonpole, latpole, step=STEP):
    """WCS of an image covering ``proj``'s whole plane layout, reference pixel on a pixel centre."""
    hx, hy = LAYOUT[proj]
    nx, ny = int(round(2 * hx / step)) + 1, int(round(2 * hy / step)) + 1
    w = oriented_wcs([f"RA---{proj}", f"DEC--{proj}"], crval, [(nx + 1) / 2, (ny + 1) / 2], [-step, step], rot, lonpole, latpole)
    w.wcs.set()
    w.pixel_shape = (nx, ny)
    return w


def _tolerance(proj, cdelt):
    """Largest accepted angle (degrees) between our sky position and astropy's."""
    return CSC_TOL_DEG if proj == "CSC" else PIX_TOL * cdelt


def pixel_points(w, seed=0):
    nx, ny = w.pixel_shape
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    rng = np.random.default_rng(seed)
    xs = [x.ravel(), x.ravel() + 0.5, rng.uniform(-0.5, nx - 0.5, 4000)]
    ys = [y.ravel(), y.ravel() + 0.5, rng.uniform(-0.5, ny - 0.5, 4000)]
    return np.concatenate(xs), np.concatenate(ys)


def compare_pixel_to_world(proj, w, nw):
    """(max angle error deg, max error in pixels, NaN pixels, pixels near a domain edge)."""
    x, y = pixel_points(w)
    la, ba = _p2w(w, x, y)
    ln, bn = native_pixel_to_world(nw, x, y)
    va, vn = _valid(la, ba), _valid(ln, bn)
    mism = np.flatnonzero(va != vn)
    edge = _near_edge_pix(w, x[mism], y[mism]) if mism.size else np.zeros(0, bool)
    bad = mism[~edge]
    assert bad.size == 0, (
        f"validity differs from astropy at pixels {list(zip(x[bad], y[bad]))[:5]}: "
        f"astropy {list(zip(la[bad], ba[bad]))[:5]}, native {list(zip(ln[bad], bn[bad]))[:5]}"
    )
    both = va & vn
    d = _angdist(la[both], ba[both], ln[both], bn[both])
    cdelt = abs(w.wcs.cdelt[0])
    worst = int(np.argmax(d))
    assert d.max() <= _tolerance(proj, cdelt), (
        f"pix2world error {d.max():.3g} deg at pixel ({x[both][worst]}, {y[both][worst]}): "
        f"astropy ({la[both][worst]}, {ba[both][worst]}) native ({ln[both][worst]}, {bn[both][worst]})"
    )
    return float(d.max()), float(d.max() / cdelt), int((~va).sum()), int(edge.sum())


def compare_world_to_pixel(proj, w, nw):
    """(max pixel error where the images agree, points with another image, max angle error deg of those)."""
    x, y = pixel_points(w, seed=1)
    li, bi = _p2w(w, x, y)
    ok = _valid(li, bi)
    lon, lat = np.meshgrid(np.arange(0.0, 360.0, 2.5), np.arange(-90.0, 90.1, 2.5))
    rng = np.random.default_rng(2)
    lon = np.concatenate([lon.ravel(), rng.uniform(0, 360, 4000), li[ok]])
    lat = np.concatenate([lat.ravel(), np.degrees(np.arcsin(rng.uniform(-1, 1, 4000))), bi[ok]])
    xa, ya = _w2p(w, lon, lat)
    xn, yn = _finite_pix(*native_world_to_pixel(nw, lon, lat))
    # these projections map the whole sphere
    assert _valid(xa, ya).all()
    assert _valid(xn, yn).all()
    cdelt = abs(w.wcs.cdelt[0])
    tol_deg = _tolerance(proj, cdelt)
    e = np.hypot(xa - xn, ya - yn)
    other = e > tol_deg / cdelt
    dmax = 0.0
    if other.any():
        # another image of the same sky point (a face edge, a cut of XPH): check it on the
        # sky, against the world position and against astropy's own pixel mapped back (CSC's
        # polynomials are not exact inverses: there only the latter agrees)
        xf, yf = xn[other], yn[other]
        ref = _p2w(w, xa[other], ya[other])
        d = np.full(xf.shape, np.inf)
        # astropy may reject a pixel on the edge of a face or column by a rounding error:
        # accept a pixel within 1e-10 pixel of one astropy maps back
        for dx, dy in ((0, 0), (1e-10, 0), (-1e-10, 0), (0, 1e-10), (0, -1e-10)):
            back = _p2w(w, xf + dx, yf + dy)
            d = np.fmin(d, np.fmin(_angdist(*back, lon[other], lat[other]), _angdist(*back, *ref)))
        d = np.where(np.isfinite(d), d, np.inf)
        # within the sky area a move of the tolerance covers where the mapping is singular
        scale = np.fmax(PIX_TOL * cdelt, _local_scale(w, xf, yf, PIX_TOL))
        d = d / scale * PIX_TOL * cdelt
        worst = int(np.argmax(d))
        assert d.max() <= tol_deg, (
            f"world2pix differs by {e[other][worst]:.3g} px at world ({lon[other][worst]}, {lat[other][worst]}): "
            f"astropy ({xa[other][worst]}, {ya[other][worst]}) native ({xf[worst]}, {yf[worst]}), "
            f"maps back {d[worst]:.3g} deg off"
        )
        dmax = float(d.max())
    return float(e[~other].max()), int(other.sum()), dmax


CASES = [
    pytest.param(proj, *o, id=f"{proj}-{o[0]}-{o[1]}-{o[2]}") for proj in LAYOUT for o in ORIENTATIONS
]


@pytest.mark.parametrize("proj, crval, rot, lonpole, latpole", CASES)
def test_layout_against_astropy(proj, crval, rot, lonpole, latpole):
    w = layout_wcs(proj, crval, rot, lonpole, latpole)
    nw = describe_wcs(w)  # native: no UnsupportedWCS
    assert nw.projection == proj
    _, _, n_nan, _ = compare_pixel_to_world(proj, w, nw)
    assert n_nan > 0  # the image reaches the blank parts of the plane
    compare_world_to_pixel(proj, w, nw)


def test_csc_matches_wcslib_to_single_precision():
    """CSC differs from wcslib by float32 rounding only: far below the tolerance of a
    double-precision evaluation of other polynomials, and not a systematic offset."""
    w = layout_wcs("CSC", (0.0, 0.0), 0.0, None, None)
    nw = describe_wcs(w)
    dmax, _, _, _ = compare_pixel_to_world("CSC", w, nw)
    assert 1e-9 < dmax <= CSC_TOL_DEG
    # the polynomial pair is not an exact inverse (wcslib neither): the round trip
    # moves points by the published approximation error, the same as wcslib's
    x, y = pixel_points(w)
    lon, lat = native_pixel_to_world(nw, x, y)
    ok = _valid(lon, lat)
    xn, yn = native_world_to_pixel(nw, lon[ok], lat[ok])
    la, ba = _p2w(w, x[ok], y[ok])
    xa, ya = _w2p(w, la, ba)
    ours = np.hypot(xn - x[ok], yn - y[ok]) * STEP
    theirs = np.hypot(xa - x[ok], ya - y[ok]) * STEP
    assert abs(ours.max() - theirs.max()) <= 2 * CSC_TOL_DEG


# --------------------------------------------------------------------------- reprojection


def _sky(lon, lat):
    """A smooth analytic sky: 1 plus a few broad Gaussians on the sphere."""
    v = np.stack([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                  np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))])
    out = np.ones(v.shape[1:])
    for k, (l0, b0, s) in enumerate([(30, 40, 25), (200, -60, 40), (120, 10, 15), (300, -20, 30)]):
        c = np.array([math.cos(math.radians(b0)) * math.cos(math.radians(l0)),
                      math.cos(math.radians(b0)) * math.sin(math.radians(l0)), math.sin(math.radians(b0))])
        ang = np.degrees(np.arccos(np.clip(np.tensordot(c, v, 1), -1, 1)))
        out += (k + 1) * np.exp(-0.5 * (ang / s) ** 2)
    return out


def layout_image(proj, crval=(30.0, 40.0), rot=0.0, step=45.0 / 16.0):
    """An image covering the whole layout, sampling :func:`_sky`; 0 in the blank parts of the plane."""
    w = layout_wcs(proj, crval, rot, None, None, step=step)
    nx, ny = w.pixel_shape
    y, x = np.mgrid[0:ny, 0:nx].astype(float)
    lon, lat = _p2w(w, x, y)
    data = np.nan_to_num(_sky(lon, lat), nan=0.0)
    return data, w


def _frames():
    car = WCS(naxis=2)
    car.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    car.wcs.crval = [180.0, 0.0]
    car.wcs.crpix = [90.5, 45.5]
    car.wcs.cdelt = [-2.0, 2.0]
    car.wcs.set()
    tan = WCS(naxis=2)
    tan.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    tan.wcs.crpix = [40.5, 40.5]
    tan.wcs.cdelt = [-0.5, 0.5]
    tan.wcs.set()
    return {"CAR": (car, (90, 180)), "TAN": (tan, (80, 80))}


#: TAN centres: a cube corner (three faces meet: native (45, 35.26)) and a
#: face edge, for crval (30, 40); XPH: a cut between two columns and the pole
TAN_CENTRES = {"TSC": [(75.0, 75.26), (75.0, 40.0)], "CSC": [(75.0, 75.26)], "QSC": [(75.0, 75.26), (75.0, 40.0)],
               "XPH": [(170.0, 10.0), (30.0, 40.0)]}


def _reproject_pair(func_ours, func_ref, data, w_in, w_out, shape_out, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours, fp = func_ours((data, w_in), w_out, shape_out=shape_out, **kw)
    assert not [c for c in caught if "control grid" in str(c.message)]
    ref, ref_fp = func_ref((data, w_in), w_out, shape_out=shape_out, **kw)
    return ours, fp, ref, ref_fp


@pytest.mark.parametrize("proj", list(LAYOUT))
def test_reproject_interp_matches_reproject(proj):
    reproject = pytest.importorskip("reproject")
    from numbamosaic import reproject_interp
    from numbamosaic.wcs._transform import transform_and_bbox

    data, w_in = layout_image(proj)
    frames = _frames()
    outs = [frames["CAR"]]
    for lon, lat in TAN_CENTRES[proj]:
        w_tan, shape = frames["TAN"]
        w_tan = w_tan.deepcopy()
        w_tan.wcs.crval = [lon, lat]
        w_tan.wcs.set()
        outs.append((w_tan, shape))
    rng = np.ptp(data)
    for w_out, shape_out in outs:
        tr, _ = transform_and_bbox(w_in, w_out, data.shape, shape_out)
        assert tr.native  # the native path, not a control grid
        ours, fp, ref, ref_fp = _reproject_pair(reproject_interp, reproject.reproject_interp, data, w_in, w_out,
                                                shape_out, order="bilinear")
        np.testing.assert_array_equal(fp, ref_fp)
        assert fp.mean() > 0.5
        # CSC: wcslib's single-precision positions (<= 1e-5 pixel here) move values by up to ~2e-7 of the range
        np.testing.assert_allclose(ours, ref, rtol=0, atol=(1e-6 if proj == "CSC" else 1e-7) * rng)


def _tan_frame(proj, k=0):
    w_tan, shape = _frames()["TAN"]
    w_tan = w_tan.deepcopy()
    w_tan.wcs.crval = list(TAN_CENTRES[proj][k])
    w_tan.wcs.set()
    return w_tan, shape


@pytest.mark.parametrize("proj", list(LAYOUT))
def test_reproject_exact_against_reproject_and_truth(proj):
    """Exact overlap through the native chain (XPH and QSC are equal-area: no solid-angle
    model; TSC and CSC: area factors through the rare chain).  Most output pixels equal
    reproject's to rounding; where the two differ most (pixels across input pixel edges
    that reproject draws as great circles, up to ~1e-3 of the range), numbamosaic agrees
    with the sampled ground truth (``naive.sampled_exact``) to its own resolution."""
    reproject = pytest.importorskip("reproject")
    from naive import sampled_exact
    from numbamosaic import reproject_exact
    from numbamosaic.exact import equal_area
    from numbamosaic.wcs._transform import transform_and_bbox

    data, w_in = layout_image(proj)
    w_out, shape_out = _tan_frame(proj)
    tr, _ = transform_and_bbox(w_in, w_out, data.shape, shape_out)
    assert tr.native and equal_area(tr) == (proj in ("QSC", "XPH"))
    ours, fp, ref, ref_fp = _reproject_pair(reproject_exact, reproject.reproject_exact, data, w_in, w_out, shape_out)
    rng = np.ptp(data)
    np.testing.assert_allclose(fp, ref_fp, rtol=0, atol=1e-9)
    both = (fp > 0.999) & (ref_fp > 0.999)
    assert both.mean() > 0.5
    diff = np.where(both, np.abs(ours - ref), 0.0)
    assert np.median(diff[both]) <= 1e-12 * rng
    assert diff.max() <= EXACT_TOL * rng
    worst = [tuple(np.unravel_index(k, diff.shape)) for k in np.argsort(diff.ravel())[-4:]]
    truth, _ = sampled_exact(data, w_in, w_out, worst, k=64)
    err = np.abs(np.array([ours[p] for p in worst]) - truth)
    assert err.max() <= TRUTH_TOL * rng, (err / rng, [diff[p] / rng for p in worst])


@pytest.mark.parametrize("proj", list(LAYOUT))
def test_reproject_adaptive_matches_reproject(proj):
    reproject = pytest.importorskip("reproject")
    from numbamosaic import reproject_adaptive

    data, w_in = layout_image(proj)
    w_out, shape_out = _tan_frame(proj)
    ours, fp, ref, ref_fp = _reproject_pair(reproject_adaptive, reproject.reproject_adaptive, data, w_in, w_out,
                                            shape_out)
    np.testing.assert_array_equal(fp, ref_fp)
    ok = np.isfinite(ref)
    assert ok.mean() > 0.5
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=0, atol=ADAPTIVE_TOL * np.ptp(data))


def test_cube_kernels_keep_a_control_grid():
    """The cube kernels evaluate the general chain, compiled without XPH and the quad
    cubes: a cube in TSC goes through a control grid (``wcs.general_transform``) and
    agrees with the native 2-D reprojection of each plane to the grid's error."""
    from numbamosaic import reproject_interp

    data, w_in = layout_image("TSC")
    cube = np.stack([data, 2.0 * data + 1.0])
    w_out, shape_out = _tan_frame("TSC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the grid across face edges may miss 1e-5 pixel
        value, fp = reproject_interp((cube, w_in), w_out, shape_out=shape_out, order="bilinear")
    for z in range(2):
        v2, f2 = reproject_interp((cube[z], w_in), w_out, shape_out=shape_out, order="bilinear")
        np.testing.assert_array_equal(fp[z] > 0, f2 > 0)
        np.testing.assert_allclose(value[z], v2, rtol=0, atol=1e-4 * np.ptp(cube[z]))


def test_healpix_kernels_use_astropy_for_these_projections():
    """The HEALPix kernels evaluate the general chain (compiled without XPH and the quad
    cubes): to and from HEALPix these projections take astropy's path, as before, and
    give reproject's result."""
    reproject = pytest.importorskip("reproject")
    pytest.importorskip("astropy_healpix")
    from numbamosaic.healpix._core import reproject_from_healpix, reproject_to_healpix

    data, w_in = layout_image("QSC", crval=(0.0, 0.0))
    ours, fp = reproject_to_healpix((data, w_in), "icrs", nside=8)
    ref, ref_fp = reproject.reproject_to_healpix((data, w_in), "icrs", nside=8)
    np.testing.assert_array_equal(fp, ref_fp)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 * np.ptp(data))
    back, bfp = reproject_from_healpix((ours, "icrs"), w_in, shape_out=data.shape, nested=False)
    rback, rbfp = reproject.reproject_from_healpix((ref, "icrs"), w_in, shape_out=data.shape, nested=False)
    np.testing.assert_array_equal(bfp, rbfp)
    assert np.isfinite(back).any()
    np.testing.assert_allclose(back, rback, rtol=0, atol=1e-6 * np.ptp(data))


def test_propagated_variance_keeps_a_control_grid():
    """The variance kernels evaluate the general chain: a TSC input's propagated variance
    comes from its control-grid twin, and the image itself from the native chain."""
    from numbamosaic import reproject_interp

    data, w_in = layout_image("TSC")
    w_out, shape_out = _tan_frame("TSC")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the grid across face edges may miss 1e-5 pixel
        value, fp, var = reproject_interp((data, w_in), w_out, shape_out=shape_out, order="bilinear",
                                          input_variance=np.ones_like(data))
    plain, pfp = reproject_interp((data, w_in), w_out, shape_out=shape_out, order="bilinear")
    np.testing.assert_array_equal(value, plain)
    ok = pfp > 0
    assert ok.mean() > 0.5 and np.all(np.isfinite(var[ok])) and np.all((var[ok] > 0) & (var[ok] <= 1.0 + 1e-12))


def test_bon_reprojection_matches_reproject():
    """BON (Bonne's equal area, C&G 2002 section 5.5.1), also native and in the rare chain:
    interpolation as reproject's, exact without a solid-angle model (equal-area)."""
    reproject = pytest.importorskip("reproject")
    from numbamosaic import reproject_exact, reproject_interp
    from numbamosaic.exact import equal_area
    from numbamosaic.wcs._transform import transform_and_bbox

    w_in = WCS(naxis=2)
    w_in.wcs.ctype = ["RA---BON", "DEC--BON"]
    w_in.wcs.crval = [30.0, 40.0]
    w_in.wcs.crpix = [60.5, 30.5]
    w_in.wcs.cdelt = [-3.0, 3.0]
    w_in.wcs.set_pv([(2, 1, 45.0)])
    w_in.wcs.set()
    y, x = np.mgrid[0:60, 0:120].astype(float)
    data = np.nan_to_num(_sky(*_p2w(w_in, x, y)), nan=0.0)
    for w_out, shape_out in (_frames()["CAR"], _tan_frame("TSC")):
        tr, _ = transform_and_bbox(w_in, w_out, data.shape, shape_out)
        assert tr.native and equal_area(tr)
        ours, fp, ref, ref_fp = _reproject_pair(reproject_interp, reproject.reproject_interp, data, w_in, w_out,
                                                shape_out, order="bilinear")
        np.testing.assert_array_equal(fp, ref_fp)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7 * np.ptp(data))
    ours, fp, ref, ref_fp = _reproject_pair(reproject_exact, reproject.reproject_exact, data, w_in, w_out, shape_out)
    both = (fp > 0.999) & (ref_fp > 0.999)
    assert both.mean() > 0.5
    np.testing.assert_allclose(ours[both], ref[both], rtol=0, atol=EXACT_TOL * np.ptp(data))
