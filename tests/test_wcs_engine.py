"""The native WCS engine against astropy (wcslib) as the reference.

Covers SIP (forward, inverse with and without AP/BP), celestial frame changes
(ICRS, FK5 J2000 and J1975, Galactic, ecliptic), non-default LONPOLE/LATPOLE,
CD vs PC+CDELT, swapped axes, invalid regions, and the astropy control-grid
fallback (gwcs, TPV with PC + CDELT, lookup-table distortion, FK4, a non-native projection,
``force_grid``).

Tolerances: the native engine must agree with astropy to 1e-8 pixel; the
control grid to 1e-3 pixel (its documented default tolerance).
"""

import itertools
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, DistortionLookupTable, FITSFixedWarning
from astropy.wcs.utils import pixel_to_pixel
from conftest import ecliptic_frame_mapping, make_wcs, sky_position

from numbamosaic.wcs import (
    UnsupportedWCS,
    build_transform,
    describe_wcs,
    native_pixel_to_world,
    native_world_to_pixel,
    transform_and_bbox,
)
from numbamosaic.wcs._layout import MODE_HOMOGRAPHY, T_GSTEP, T_MODE, W_M, W_TPV

NATIVE_TOL = 1e-8  # pixel
GRID_TOL = 1e-3  # pixel

pytestmark = pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")


# --------------------------------------------------------------------------- helpers


def _unit(lon, lat):
    lon, lat = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def angular_sep_deg(lon1, lat1, lon2, lat2):
    """Angular separation in degrees (robust for tiny angles)."""
    a, b = _unit(lon1, lat1), _unit(lon2, lat2)
    cross = np.linalg.norm(np.cross(a, b, axis=0), axis=0)
    dot = (a * b).sum(axis=0)
    return np.degrees(np.arctan2(cross, dot))


def pixel_grid(x0, x1, y0, y1, step):
    yy, xx = np.mgrid[y0:y1:step, x0:x1:step]
    return xx.astype(float), yy.astype(float)


def astropy_lonlat(wcs, x, y, sip=True):
    """astropy pixel -> (lon, lat), whatever the axis order."""
    f = wcs.all_pix2world if sip else wcs.wcs_pix2world
    world = f(np.stack([x.ravel(), y.ravel()], axis=1), 0)
    lon = world[:, wcs.wcs.lng].reshape(x.shape)
    lat = world[:, wcs.wcs.lat].reshape(x.shape)
    return lon, lat


def precise_pixel_to_pixel(wcs_from, wcs_to, x, y):
    """astropy pixel_to_pixel, with the SIP inverse solved to 1e-12 pixel.

    ``WCS.world_to_pixel`` (hence ``pixel_to_pixel``) inverts SIP with
    ``all_world2pix``'s default tolerance of 1e-4 pixel (measured error
    ~2e-6 px here), too loose to serve as a 1e-8 px reference.
    """
    if wcs_to.sip is None:
        xr, yr = pixel_to_pixel(wcs_from, wcs_to, x, y)
        return np.asarray(xr), np.asarray(yr)
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import wcs_to_celestial_frame

    c = wcs_from.pixel_to_world(x, y)
    c = SkyCoord(c).transform_to(wcs_to_celestial_frame(wcs_to))
    sph = c.spherical
    xr, yr = wcs_to.all_world2pix(sph.lon.deg, sph.lat.deg, 0, tolerance=1e-12, maxiter=100)
    return xr, yr


def assert_p2p_native(wcs_in, wcs_out, x, y, tol=NATIVE_TOL):
    """Native out_to_in equals astropy pixel_to_pixel(wcs_out -> wcs_in)."""
    tr = build_transform(wcs_in, wcs_out, roundtrip=False)
    assert tr.native, tr.reason
    xi, yi = tr.out_to_in(x, y)
    xr, yr = precise_pixel_to_pixel(wcs_out, wcs_in, x, y)
    np.testing.assert_array_equal(np.isnan(xi), np.isnan(xr))
    ok = np.isfinite(xr)
    assert ok.sum() > 0.5 * ok.size
    err = max(np.abs(xi - xr)[ok].max(), np.abs(yi - yr)[ok].max())
    assert err <= tol, err
    return tr


# --------------------------------------------------------------------------- SIP


def sip_wcs(with_inverse, shape=(100, 120), rot=15.0, crpix=(55.3, 47.8), scale=1e-3):
    """TAN-SIP WCS (3rd order, ~2.7 px of distortion at the corners).

    With ``with_inverse`` AP/BP are added, fitted by least squares to the
    inverse of A/B (approximate, as in real headers).
    """
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    h["CRVAL1"], h["CRVAL2"] = 150.0, 30.0
    h["CRPIX1"], h["CRPIX2"] = crpix
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -scale * c, scale * s, scale * s, scale * c
    A = {(2, 0): 9e-5, (1, 1): -6e-5, (0, 2): 4.5e-5, (3, 0): 6e-7, (2, 1): -3e-7, (1, 2): 3.6e-7, (0, 3): -9e-7}
    B = {(2, 0): -3e-5, (1, 1): 7.5e-5, (0, 2): -6e-5, (3, 0): -3e-7, (2, 1): 6e-7, (1, 2): -6e-7, (0, 3): 3e-7}
    h["A_ORDER"] = h["B_ORDER"] = 3
    for (p, q), v in A.items():
        h[f"A_{p}_{q}"] = v
    for (p, q), v in B.items():
        h[f"B_{p}_{q}"] = v
    w = WCS(h)
    if with_inverse:
        x, y = pixel_grid(-10, shape[1] + 10, -10, shape[0] + 10, 3)
        x, y = x.ravel(), y.ravel()
        c0 = np.array(crpix) - 1
        foc = w.sip_pix2foc(np.stack([x, y], axis=1), 0) - c0
        U, V = foc[:, 0], foc[:, 1]
        terms = [(p, q) for p in range(4) for q in range(4) if 0 < p + q <= 3]
        M = np.stack([U**p * V**q for p, q in terms], axis=1)
        ap = np.linalg.lstsq(M, (x - c0[0]) - U, rcond=None)[0]
        bp = np.linalg.lstsq(M, (y - c0[1]) - V, rcond=None)[0]
        h["AP_ORDER"] = h["BP_ORDER"] = 3
        for (p, q), a, b in zip(terms, ap, bp):
            h[f"AP_{p}_{q}"] = a
            h[f"BP_{p}_{q}"] = b
        w = WCS(h)
        assert w.sip.ap is not None and w.sip.bp is not None
    else:
        assert w.sip.ap is None
    return w


@pytest.mark.parametrize("with_inverse", [False, True], ids=["A/B only", "with AP/BP"])
def test_sip_forward(with_inverse):
    w = sip_wcs(with_inverse)
    nw = describe_wcs(w)
    x, y = pixel_grid(-20, 140, -20, 120, 3.7)
    lon, lat = native_pixel_to_world(nw, x, y)
    rlon, rlat = astropy_lonlat(w, x, y)
    # the distortion is real: ignoring SIP moves the corners by > 1 pixel
    plon, plat = astropy_lonlat(w, x, y, sip=False)
    assert angular_sep_deg(plon, plat, rlon, rlat).max() / 1e-3 > 1.0
    err_px = angular_sep_deg(lon, lat, rlon, rlat) / 1e-3
    assert np.all(np.isfinite(err_px))
    assert err_px.max() <= NATIVE_TOL, err_px.max()


@pytest.mark.parametrize("with_inverse", [False, True], ids=["A/B only", "with AP/BP"])
def test_sip_inverse_recovers_pixel(with_inverse):
    w = sip_wcs(with_inverse)
    nw = describe_wcs(w)
    x, y = pixel_grid(-20, 140, -20, 120, 4.3)
    rlon, rlat = astropy_lonlat(w, x, y)
    xb, yb = native_world_to_pixel(nw, rlon, rlat)
    err = max(np.abs(xb - x).max(), np.abs(yb - y).max())
    assert err <= NATIVE_TOL, err


@pytest.mark.parametrize("with_inverse", [False, True], ids=["A/B only", "with AP/BP"])
def test_sip_pixel_to_pixel(with_inverse):
    w_sip = sip_wcs(with_inverse)
    w_tan = make_wcs(crval=(150.01, 29.99), cdelt=1.1e-3, rot=-20, shape=(110, 110))
    x, y = pixel_grid(-5, 115, -5, 115, 3.1)
    assert_p2p_native(w_sip, w_tan, x, y)  # SIP input
    assert_p2p_native(w_tan, w_sip, x, y)  # SIP output
    w_sip2 = sip_wcs(not with_inverse, rot=-5.0, crpix=(60.1, 50.2))
    assert_p2p_native(w_sip, w_sip2, x, y)  # SIP on both sides


# --------------------------------------------------------------------------- frames

FRAME_NAMES = ["icrs", "fk5", "fk5_j1975", "galactic", "ecliptic"]


def frame_wcs(frame, rot=0.0, shape=(64, 64)):
    """WCS in ``frame`` centred on ICRS (150, 30)."""
    crval = sky_position(150.0, 30.0, "icrs", frame)
    return make_wcs(crval=crval, frame=frame, rot=rot, shape=shape)


@pytest.mark.parametrize("frame_in,frame_out", list(itertools.product(FRAME_NAMES, FRAME_NAMES)))
def test_frame_change_pixel_to_pixel(frame_in, frame_out):
    with ecliptic_frame_mapping():
        w_in = frame_wcs(frame_in)
        w_out = frame_wcs(frame_out, rot=30.0, shape=(70, 70))
        x, y = pixel_grid(-5, 75, -5, 75, 3.3)
        tr = assert_p2p_native(w_in, w_out, x, y)
        # the frame change matters: ignoring it would be off by far more than the
        # tolerance (ICRS vs FK5 J2000 is the smallest: ~20 mas = 1.4e-3 px)
        if frame_in != frame_out:
            xi, yi = tr.out_to_in(x, y)
            naive_lonlat = astropy_lonlat(w_out, x, y)
            xn, yn = w_in.wcs_world2pix(*naive_lonlat, 0)
            assert np.nanmax(np.hypot(xn - xi, yn - yi)) > 1e-4


def test_ecliptic_frame_as_astropy_reads_it():
    """Without a custom mapping astropy reads ELON/ELAT as ICRS; so must we."""
    from astropy.coordinates import ICRS, BarycentricMeanEcliptic
    from astropy.wcs.utils import wcs_to_celestial_frame

    w_ecl = make_wcs(frame="ecliptic", crval=(150.0, 30.0))
    assert isinstance(wcs_to_celestial_frame(w_ecl), ICRS)
    assert isinstance(describe_wcs(w_ecl).frame, ICRS)
    with ecliptic_frame_mapping():
        assert isinstance(describe_wcs(w_ecl).frame, BarycentricMeanEcliptic)
    x, y = pixel_grid(-5, 70, -5, 70, 3.3)
    assert_p2p_native(w_ecl, make_wcs(crval=(150.01, 30.0), rot=10), x, y)


# --------------------------------------------------------------------------- LONPOLE / LATPOLE

POLE_CASES = [
    # proj, crval, lonpole, latpole
    ("TAN", (150.0, 30.0), 150.0, None),
    ("ZEA", (150.0, 30.0), 200.0, 10.0),
    ("ZEA", (150.0, 30.0), 0.0, None),
    ("CAR", (150.0, 30.0), None, -30.0),  # southern solution for the celestial pole
    ("CAR", (150.0, -40.0), None, -90.0),
    ("CEA", (150.0, 30.0), 0.0, -30.0),
    ("MER", (150.0, 10.0), None, 0.0),
    ("SFL", (150.0, 20.0), None, -90.0),
    ("AIT", (150.0, 30.0), None, -90.0),
]


@pytest.mark.parametrize("proj,crval,lonpole,latpole", POLE_CASES)
def test_lonpole_latpole(proj, crval, lonpole, latpole):
    w = make_wcs(proj=proj, crval=crval, lonpole=lonpole, latpole=latpole)
    w_default = make_wcs(proj=proj, crval=crval)
    nw = describe_wcs(w)
    x, y = pixel_grid(-5, 70, -5, 70, 3.1)
    lon, lat = native_pixel_to_world(nw, x, y)
    rlon, rlat = astropy_lonlat(w, x, y)
    dlon, dlat = astropy_lonlat(w_default, x, y)
    # the non-default pole really changes the mapping
    assert angular_sep_deg(dlon, dlat, rlon, rlat).max() / 2e-3 > 1.0
    err = angular_sep_deg(lon, lat, rlon, rlat) / 2e-3
    assert err.max() <= NATIVE_TOL
    # world -> pixel and pixel -> pixel
    xb, yb = native_world_to_pixel(nw, rlon, rlat)
    assert max(np.abs(xb - x).max(), np.abs(yb - y).max()) <= NATIVE_TOL
    assert_p2p_native(w, make_wcs(crval=crval, rot=10.0), x, y)
    assert_p2p_native(make_wcs(crval=crval, rot=10.0), w, x, y)


# --------------------------------------------------------------------------- linear part


def test_cd_equals_pc_cdelt():
    w_pc = make_wcs(rot=30.0, cdelt=(-1.5e-3, 2.5e-3))
    w_cd = make_wcs(rot=30.0, cdelt=(-1.5e-3, 2.5e-3), use_cd=True)
    assert w_cd.wcs.has_cd() and not w_pc.wcs.has_cd()
    v_pc, v_cd = describe_wcs(w_pc).vector, describe_wcs(w_cd).vector
    np.testing.assert_allclose(v_cd[W_M : W_M + 4], v_pc[W_M : W_M + 4], rtol=1e-14, atol=1e-20)
    x, y = pixel_grid(-5, 70, -5, 70, 3.1)
    for w in (w_pc, w_cd):
        lon, lat = native_pixel_to_world(describe_wcs(w), x, y)
        rlon, rlat = astropy_lonlat(w, x, y)
        assert angular_sep_deg(lon, lat, rlon, rlat).max() / 1.5e-3 <= NATIVE_TOL
    assert_p2p_native(w_cd, w_pc, x, y)
    assert_p2p_native(w_cd, make_wcs(rot=-7, crval=(150.02, 30.01)), x, y)


def test_swapped_axes():
    """DEC on the first pixel axis, RA on the second."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["DEC--TAN", "RA---TAN"]
    w.wcs.crval = [30.0, 150.0]
    w.wcs.crpix = [30.5, 34.5]
    w.wcs.cd = [[1.5e-3, 4e-4], [-3e-4, -2e-3]]
    w.wcs.set()
    assert (w.wcs.lng, w.wcs.lat) == (1, 0)
    nw = describe_wcs(w)
    x, y = pixel_grid(-5, 70, -5, 70, 3.1)
    lon, lat = native_pixel_to_world(nw, x, y)
    rlon, rlat = astropy_lonlat(w, x, y)
    assert np.abs(rlat - 30).max() > 0.05  # axis 0 really is the latitude
    assert angular_sep_deg(lon, lat, rlon, rlat).max() / 1.5e-3 <= NATIVE_TOL
    xb, yb = native_world_to_pixel(nw, rlon, rlat)
    assert max(np.abs(xb - x).max(), np.abs(yb - y).max()) <= NATIVE_TOL
    w_std = make_wcs(crval=(150.01, 30.02), rot=25.0)
    assert_p2p_native(w, w_std, x, y)
    assert_p2p_native(w_std, w, x, y)


# --------------------------------------------------------------------------- invalid regions


@pytest.mark.parametrize("proj", ["SIN", "AIT", "ZEA", "ARC", "CAR", "CEA", "SFL", "MER"])
def test_outside_projection_is_nan(proj):
    """Pixels outside the projection's boundary give NaN, exactly where astropy does."""
    w = make_wcs(proj=proj, crval=(0.0, 0.0), cdelt=5.3, shape=(64, 64))
    x, y = pixel_grid(0, 64, 0, 64, 1)
    lon, lat = native_pixel_to_world(describe_wcs(w), x, y)
    rlon, rlat = astropy_lonlat(w, x, y)
    np.testing.assert_array_equal(np.isnan(lon), np.isnan(rlon))
    np.testing.assert_array_equal(np.isnan(lat), np.isnan(lon))
    if proj != "MER":
        assert np.isnan(lon).sum() > 100  # the test does cover invalid pixels
    ok = np.isfinite(rlon)
    assert angular_sep_deg(lon[ok], lat[ok], rlon[ok], rlat[ok]).max() / 5.3 <= NATIVE_TOL


@pytest.mark.parametrize("proj", ["SIN", "TAN"])
def test_far_hemisphere_world_to_pixel_is_nan(proj):
    w = make_wcs(proj=proj, crval=(0.0, 0.0), cdelt=1.0)
    nw = describe_wcs(w)
    rng = np.random.default_rng(1)
    lon = rng.uniform(-180, 180, 2000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    dist = angular_sep_deg(lon, lat, np.zeros_like(lon), np.zeros_like(lat))
    keep = np.abs(dist - 90.0) > 1.0  # stay clear of the horizon
    lon, lat, dist = lon[keep], lat[keep], dist[keep]
    x, y = native_world_to_pixel(nw, lon, lat)
    assert np.all(np.isnan(x[dist > 90])) and np.all(np.isnan(y[dist > 90]))
    assert np.all(np.isfinite(x[dist < 90]))
    xr, yr = w.wcs_world2pix(lon, lat, 0)
    np.testing.assert_array_equal(np.isnan(x), np.isnan(xr))


def test_pixel_to_pixel_nan_behind_tangent_plane():
    """All-sky CAR output, TAN input: the far hemisphere maps to NaN like astropy."""
    w_in = make_wcs(proj="TAN", crval=(0.0, 0.0))
    w_out = make_wcs(proj="CAR", crval=(0.0, 0.0), cdelt=5.0, shape=(36, 72))
    x, y = pixel_grid(0, 72, 0, 36, 1)
    tr = build_transform(w_in, w_out, roundtrip=False)
    assert tr.native
    xi, yi = tr.out_to_in(x, y)
    xr, yr = pixel_to_pixel(w_out, w_in, x, y)
    np.testing.assert_array_equal(np.isnan(xi), np.isnan(xr))
    assert 0.3 * x.size < np.isnan(xi).sum() < 0.7 * x.size
    ok = np.isfinite(xr)
    np.testing.assert_allclose(xi[ok], xr[ok], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(yi[ok], yr[ok], rtol=1e-9, atol=1e-8)


# --------------------------------------------------------------------------- fallback (control grid)

OUT_SHAPE = (60, 60)


def fallback_output_wcs():
    return make_wcs(rot=10.0, cdelt=2.1e-3, shape=OUT_SHAPE, crval=(150.005, 29.997))


def check_grid_transform(w_in, w_out, shape_in=(64, 64), shape_out=OUT_SHAPE, **kwargs):
    """transform_and_bbox in grid mode vs astropy pixel_to_pixel to GRID_TOL.

    Checked at pixel centres and at pixel corners / edge midpoints (half-pixel
    positions), which the exact and adaptive kernels use.
    """
    tr, bbox = transform_and_bbox(w_in, w_out, shape_in, shape_out, roundtrip=False, **kwargs)
    assert tr is not None and bbox is not None
    assert not tr.native
    assert tr.reason
    assert 0.0 <= tr.grid_error <= GRID_TOL
    y0, y1, x0, x1 = bbox
    assert (y1 - y0) * (x1 - x0) > 0.5 * shape_out[0] * shape_out[1]
    for step, off in ((1.0, 0.0), (0.5, -0.5)):
        x, y = pixel_grid(x0 + off, x1, y0 + off, y1, step)
        xi, yi = tr.out_to_in(x, y)
        xr, yr = pixel_to_pixel(w_out, w_in, x, y)
        xr, yr = np.asarray(xr), np.asarray(yr)
        assert np.all(np.isfinite(xr))
        np.testing.assert_array_equal(np.isnan(xi), np.isnan(xr))
        err = max(np.abs(xi - xr).max(), np.abs(yi - yr).max())
        assert err <= GRID_TOL, err
    return tr


def simple_gwcs():
    """gwcs: shift | scale | affine | TAN | sky rotation (ICRS)."""
    pytest.importorskip("gwcs")
    import astropy.units as u
    from astropy import coordinates as coord
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs import wcs as gw

    det2sky = (
        (models.Shift(-31.5) & models.Shift(-31.5))
        | (models.Scale(2e-3) & models.Scale(2e-3))
        | models.AffineTransformation2D(matrix=[[-0.9, -0.2], [0.25, 1.0]])
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(150.0, 30.0, 180.0)
    )
    detector = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=coord.ICRS(), name="icrs", unit=(u.deg, u.deg))
    return gw.WCS([(detector, det2sky), (sky, None)])


def tpv_wcs(pc=False):
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TPV", "DEC--TPV"
    h["CRVAL1"], h["CRVAL2"] = 150.0, 30.0
    h["CRPIX1"], h["CRPIX2"] = 32.5, 32.5
    if pc:
        h["CDELT1"], h["CDELT2"] = -2e-3, 2e-3
    else:
        h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -2e-3, 0.0, 0.0, 2e-3
    h["PV1_1"], h["PV1_4"], h["PV1_5"], h["PV1_7"] = 1.0, 0.05, -0.03, 0.8
    h["PV2_1"], h["PV2_4"], h["PV2_5"], h["PV2_8"] = 1.0, -0.04, 0.02, -0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(h)


def test_fallback_gwcs():
    g = simple_gwcs()
    with pytest.raises(UnsupportedWCS):
        describe_wcs(g)
    check_grid_transform(g, fallback_output_wcs())


def test_fallback_tpv():
    """wcslib shows TPV as a plain 'TAN' CTYPE; it is native with a CD matrix
    (tests/test_wcs_tpv.py) but not with PC + CDELT, which wcslib evaluates
    differently from the TPV document: that goes to the control grid."""
    with pytest.raises(UnsupportedWCS, match="CDELT"):
        describe_wcs(tpv_wcs(pc=True))
    w = tpv_wcs()
    plain = make_wcs(crval=(150.0, 30.0), crpix=(32.5, 32.5), cdelt=2e-3)
    x, y = pixel_grid(0, 64, 0, 64, 7)
    lon, lat = astropy_lonlat(w, x, y)
    plon, plat = astropy_lonlat(plain, x, y)
    assert angular_sep_deg(lon, lat, plon, plat).max() / 2e-3 > 0.1  # TPV distortion is real
    assert describe_wcs(w).vector[W_TPV] == 1.0
    # wcslib's TPV is not smooth at the 1e-5 pixel level: the grid says so
    with pytest.warns(RuntimeWarning, match="control grid reaches only"):
        check_grid_transform(w, fallback_output_wcs(), force_grid=True)
    with pytest.warns(RuntimeWarning, match="control grid reaches only"):
        check_grid_transform(make_wcs(rot=-5.0), w, force_grid=True)  # TPV as the output WCS


def test_fallback_lookup_table_distortion():
    w = make_wcs()
    tab = np.random.default_rng(1).normal(0.0, 0.3, (9, 9)).astype(np.float32)
    w.cpdis1 = DistortionLookupTable(tab, (1, 1), (1, 1), (8, 8))
    w.cpdis2 = DistortionLookupTable(tab.T.copy(), (1, 1), (1, 1), (8, 8))
    with pytest.raises(UnsupportedWCS):
        describe_wcs(w)
    with pytest.warns(RuntimeWarning, match="control grid reaches only"):
        tr, bbox = transform_and_bbox(w, fallback_output_wcs(), (64, 64), OUT_SHAPE, roundtrip=False)
    assert not tr.native
    # a bilinear lookup table is not smooth: at least the pixel centres must be exact
    y0, y1, x0, x1 = bbox
    x, y = pixel_grid(x0, x1, y0, y1, 1)
    xi, yi = tr.out_to_in(x, y)
    xr, yr = pixel_to_pixel(fallback_output_wcs(), w, x, y)
    assert max(np.abs(xi - xr).max(), np.abs(yi - yr).max()) <= GRID_TOL


def test_tan_with_moved_fiducial_point_is_not_a_homography():
    # a plane offset breaks the TAN -> TAN homography: the transform must stay
    # on the general native path and still match astropy
    w_in = make_wcs(crval=(150.0, 30.0))
    w_in.wcs.set_pv([(1, 0, 1.0), (1, 1, 0.0), (1, 2, 89.0)])
    w_in.wcs.set()
    w_out = make_wcs(crval=(150.01, 30.02), rot=10.0)
    x, y = pixel_grid(-5, 70, -5, 70, 7.0)
    tr = assert_p2p_native(w_in, w_out, x, y)
    assert tr.vector[T_MODE] != MODE_HOMOGRAPHY


@pytest.mark.parametrize("proj", ["PCO", "TSC"])
def test_fallback_non_native_projection(proj):
    w = make_wcs(proj=proj, crval=(150.0, 30.0))
    try:
        describe_wcs(w)
        force = True  # the projection became native: exercise the grid explicitly
    except UnsupportedWCS:
        force = False
    check_grid_transform(w, fallback_output_wcs(), force_grid=force)


def test_fallback_fk4_frame_is_not_a_rotation():
    lon, lat = sky_position(150.0, 30.0, "icrs", "fk4")
    w = make_wcs(frame="fk4", crval=(lon, lat))
    describe_wcs(w)  # the WCS itself is native; the frame change is not a pure rotation
    with pytest.raises(ValueError, match="region"):
        build_transform(w, fallback_output_wcs())
    tr = check_grid_transform(w, fallback_output_wcs())
    assert "rotation" in tr.reason or "forced" in tr.reason


def test_force_grid():
    w_in = make_wcs(rot=3.0, proj="SIN")
    tr = check_grid_transform(w_in, fallback_output_wcs(), force_grid=True)
    assert tr.vector[T_GSTEP] > 1  # smooth mapping: a coarse grid suffices
    tr2 = build_transform(w_in, fallback_output_wcs(), region=(0, 60, 0, 60), force_grid=True)
    assert not tr2.native and tr2.reason == "forced"


@pytest.mark.parametrize("proj", ["XPH", "QSC"])
def test_grid_error_is_reported_honestly(proj):
    """Facet edges are not smooth: the grid error must be measured, not claimed 0."""
    w_in = make_wcs(proj=proj, crval=(150.0, 30.0))
    w_out = fallback_output_wcs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # (both projections are native: the grid is forced)
        tr, bbox = transform_and_bbox(w_in, w_out, (64, 64), OUT_SHAPE, roundtrip=False, force_grid=True)
    assert not tr.native
    # the user is warned exactly when the grid misses its tolerance (1e-5 pixel)
    warned = [w for w in caught if "control grid reaches only" in str(w.message)]
    assert len(warned) == (tr.grid_error > 1e-5)
    step = tr.vector[T_GSTEP]
    x0, y0 = tr.vector[1], tr.vector[2]
    ny, nx = tr.grid.shape[1:]
    # every cell centre of the control grid
    x, y = np.meshgrid(x0 + step * (np.arange(nx - 1) + 0.5), y0 + step * (np.arange(ny - 1) + 0.5))
    xi, yi = tr.out_to_in(x, y)
    xr, yr = pixel_to_pixel(w_out, w_in, x, y)
    err = np.maximum(np.abs(xi - xr), np.abs(yi - yr))
    measured = np.nanmax(err)
    assert tr.grid_error >= 0.5 * measured
    assert measured <= GRID_TOL or tr.grid_error > GRID_TOL


def test_no_overlap_gives_none():
    w_in = make_wcs(crval=(150.0, 30.0))
    w_out = make_wcs(crval=(200.0, -30.0))
    assert transform_and_bbox(w_in, w_out, (64, 64), (64, 64)) == (None, None)
    g = simple_gwcs()
    assert transform_and_bbox(g, w_out, (64, 64), (64, 64)) == (None, None)


def _true_grid_error(tr, w_in, w_out, bbox, shape_in, n=40000, seed=11):
    """Largest grid error at random output positions that map near the input (astropy truth)."""
    y0, y1, x0, x1 = bbox
    rng = np.random.default_rng(seed)
    x = rng.uniform(x0 - 0.5, x1 - 0.5, n)
    y = rng.uniform(y0 - 0.5, y1 - 0.5, n)
    xi, yi = tr.out_to_in(x, y)
    xr, yr = pixel_to_pixel(w_out, w_in, x, y)
    xr, yr = np.asarray(xr), np.asarray(yr)
    m = 3.0
    rel = (xr >= -m) & (xr <= shape_in[1] - 1 + m) & (yr >= -m) & (yr <= shape_in[0] - 1 + m)
    return float(np.nanmax(np.maximum(np.abs(xi - xr), np.abs(yi - yr))[rel]))


@pytest.mark.parametrize(
    "case",
    ["gwcs", "PCO-wide", "TSC-wide", "XPH-facets", "QSC-facets"],
)
def test_grid_error_estimate_is_within_2x_of_truth(case):
    """The measured control-grid error (cell centres and both edge midpoints)
    is within a factor 2 of the true error at many random points, and the
    warning is raised exactly when the tolerance is missed."""
    shape_in, shape_out = (64, 64), OUT_SHAPE
    w_out = fallback_output_wcs()
    if case == "gwcs":
        w_in = simple_gwcs()
    elif case.endswith("wide"):
        w_in = make_wcs(proj=case[:3], crval=(150.0, 30.0), cdelt=0.4)
        w_out = make_wcs(proj="SIN", crval=(152.0, 31.0), cdelt=0.3, rot=20.0, shape=shape_out)
    else:
        w_in = make_wcs(proj=case[:3], crval=(150.0, 30.0))
    tol = 1e-5
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the grid itself is under test: forced where the projection is native (TSC, XPH, QSC)
        tr, bbox = transform_and_bbox(w_in, w_out, shape_in, shape_out, roundtrip=False, grid_tolerance=tol,
                                      force_grid=case != "gwcs")
    warned = any("control grid" in str(c.message) for c in caught)
    assert not tr.native
    true = _true_grid_error(tr, w_in, w_out, bbox, shape_in)
    assert 0.5 * true <= tr.grid_error <= 2.0 * true + 1e-12, (tr.grid_error, true)
    assert warned == (tr.grid_error > tol)
    if tr.grid_error > tol:
        assert tr.vector[T_GSTEP] == 1.0  # refined to the finest grid before giving up


def test_grid_keeps_coverage_at_domain_edges():
    """An output whose corners lie outside its projection's domain (SIN limb):
    the grid refines until every output pixel centre astropy maps is covered."""
    w_in = make_wcs(proj="CAR", crval=(0.0, 0.0), cdelt=6.0, shape=(30, 60))
    w_out = make_wcs(proj="SIN", crval=(30.0, 20.0), cdelt=2.2, shape=(56, 56))
    with pytest.warns(RuntimeWarning, match="control grid reaches only"):  # the limb is not smooth
        tr, bbox = transform_and_bbox(w_in, w_out, (30, 60), (56, 56), roundtrip=False, force_grid=True)
    y0, y1, x0, x1 = bbox
    x, y = pixel_grid(x0, x1, y0, y1, 1)
    xi, yi = tr.out_to_in(x, y)
    xr, yr = pixel_to_pixel(w_out, w_in, x, y)
    xr = np.asarray(xr)
    assert np.isnan(xr).any() and np.isfinite(xr).any()  # the limb crosses the output
    np.testing.assert_array_equal(np.isnan(xi), np.isnan(xr))


# --------------------------------------------------------------------------- memoised transforms


def test_transform_memo_follows_the_wcs_objects():
    """``transform_and_bbox`` remembers native results per pair of WCS objects and shapes; a WCS
    modified in place, another shape or another roundtrip gives a new result, equal to a fresh one."""
    from conftest import centred_tan_wcs

    import numbamosaic as nm

    w_in = centred_tan_wcs((60, 70), (10.0, 20.0), 1e-3, 10.0)
    w_out = centred_tan_wcs((50, 50), (10.01, 20.0), 1e-3, 0.0)
    tr, box = transform_and_bbox(w_in, w_out, (60, 70), (50, 50))
    assert transform_and_bbox(w_in, w_out, (60, 70), (50, 50))[0] is tr  # remembered
    tr2, box2 = transform_and_bbox(w_in, w_out, (60, 70), (120, 120))
    assert box2 != box and box2 == transform_and_bbox(w_in, w_out.deepcopy(), (60, 70), (120, 120))[1]
    assert transform_and_bbox(w_in, w_out, (60, 70), (50, 50), roundtrip=False)[0] is not tr
    data = np.random.default_rng(3).normal(size=(60, 70)).astype(np.float32)
    before = nm.reproject_interp((data, w_in), w_out, shape_out=(50, 50), return_footprint=False)
    w_out.wcs.crval = [10.012, 20.003]  # moved in place: the next call must see it
    after = nm.reproject_interp((data, w_in), w_out, shape_out=(50, 50), return_footprint=False)
    fresh = nm.reproject_interp((data, w_in.deepcopy()), w_out.deepcopy(), shape_out=(50, 50), return_footprint=False)
    assert not np.array_equal(before, after, equal_nan=True)
    assert np.array_equal(after, fresh, equal_nan=True)
    tr3, box3 = transform_and_bbox(w_in, w_out, (60, 70), (50, 50))
    assert tr3 is not tr and np.array_equal(tr3.vector, build_transform(w_in.deepcopy(), w_out.deepcopy()).vector)
