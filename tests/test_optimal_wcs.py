"""find_optimal_celestial_wcs: parity with reproject 0.21 and edge sampling."""

import warnings

import numpy as np
import pytest
import astropy.units as u
from astropy.coordinates import FK5, Galactic, SkyCoord
from astropy.io import fits
from astropy.nddata import NDData
from astropy.wcs import WCS
from astropy.wcs.wcsapi import SlicedLowLevelWCS

from numbamosaic.mosaic._optimal_wcs import (
    convex_hull,
    find_optimal_celestial_wcs,
    minimum_rectangle_angle,
)

reproject_mosaicking = pytest.importorskip("reproject.mosaicking")
ref_find = reproject_mosaicking.find_optimal_celestial_wcs


def make_wcs(crval, cdelt=(-0.01, 0.01), shape=(100, 120), crpix=None, ctype=("RA---TAN", "DEC--TAN"), rot=None):
    w = WCS(naxis=2)
    w.wcs.ctype = list(ctype)
    w.wcs.crval = list(crval)
    w.wcs.cdelt = list(cdelt)
    w.wcs.crpix = list(crpix) if crpix is not None else [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    if rot is not None:
        t = np.radians(rot)
        w.wcs.pc = [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]
    return w


def tile(crval, shape=(100, 120), **kw):
    return (shape, make_wcs(crval, shape=shape, **kw))


TILES = [
    tile((10.0, 20.0)),
    tile((11.5, 21.0), cdelt=(-0.008, 0.012)),
    tile((10.5, 23.0), shape=(50, 50)),
]

ROTATED = [
    tile((10.0, 20.0), rot=25.0),
    tile((10.4, 20.3), rot=25.0),
    tile((10.8, 20.6), shape=(200, 90), rot=25.0),
]


def _run(func, inputs, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wcs, shape = func(inputs, **kw)
    dep = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    return wcs, shape, dep


def assert_same(ours, theirs, tol=1e-9):
    (a, sa), (b, sb) = ours, theirs
    assert tuple(sa) == tuple(sb)
    assert list(a.wcs.ctype) == list(b.wcs.ctype)
    assert a.wcs.radesys == b.wcs.radesys
    dlon = (a.wcs.crval[0] - b.wcs.crval[0] + 180.0) % 360.0 - 180.0
    assert abs(dlon) < tol
    assert abs(a.wcs.crval[1] - b.wcs.crval[1]) < tol
    np.testing.assert_allclose(a.wcs.crpix, b.wcs.crpix, rtol=0, atol=tol)
    np.testing.assert_allclose(a.wcs.cdelt, b.wcs.cdelt, rtol=0, atol=tol * 1e-3)
    np.testing.assert_allclose(a.wcs.get_pc(), b.wcs.get_pc(), rtol=0, atol=tol)


def compare(inputs, **kw):
    a, sa, da = _run(find_optimal_celestial_wcs, inputs, **kw)
    b, sb, db = _run(ref_find, inputs, **kw)
    assert_same((a, sa), (b, sb))
    assert len(da) == len(db)
    return a, sa


# ---------------------------------------------------------------------------
# parity with reproject
# ---------------------------------------------------------------------------


def test_tan_tiles_icrs():
    wcs, shape = compare(TILES)
    assert wcs.wcs.ctype[0] == "RA---TAN"
    assert wcs.wcs.cdelt[1] == pytest.approx(0.008)  # smallest input scale
    # reference: mean unit vector of the CRVALs, not the mean of lon/lat
    vec = SkyCoord([t[1].wcs.crval[0] for t in TILES], [t[1].wcs.crval[1] for t in TILES], unit="deg")
    xyz = vec.cartesian.xyz.value.mean(axis=1)
    mean = SkyCoord(*xyz, representation_type="cartesian")
    assert wcs.wcs.crval[0] == pytest.approx(mean.spherical.lon.deg, abs=1e-10)
    assert wcs.wcs.crval[1] == pytest.approx(mean.spherical.lat.deg, abs=1e-10)


def test_single_input_not_in_list():
    wcs, shape = compare(TILES[0])
    assert shape == (100, 120)
    np.testing.assert_allclose(wcs.wcs.crpix, [60.5, 50.5], atol=1e-12)


@pytest.mark.parametrize("frame", ["galactic", Galactic(), Galactic, FK5(equinox="J2010")])
def test_frames(frame):
    if isinstance(frame, type):
        # reproject does not accept frame classes; ours instantiates them
        assert_same(find_optimal_celestial_wcs(TILES, frame=frame), ref_find(TILES, frame=Galactic()))
    else:
        compare(TILES, frame=frame)


def test_galactic_input_default_frame():
    gal = ("GLON-TAN", "GLAT-TAN")
    wcs, _ = compare([tile((120.0, 5.0), ctype=gal), tile((121.0, 5.5), ctype=gal)])
    assert wcs.wcs.ctype[0] == "GLON-TAN"


def test_resolution_given():
    wcs, _ = compare(TILES, resolution=30 * u.arcsec)
    assert wcs.wcs.cdelt[1] == pytest.approx(30 / 3600)
    # a plain number is degrees (reproject would fail here)
    wcs2, s2 = find_optimal_celestial_wcs(TILES, resolution=30 / 3600)
    assert_same((wcs2, s2), ref_find(TILES, resolution=30 * u.arcsec))


def test_reference_given():
    wcs, _ = compare(TILES, reference=SkyCoord(11.0, 22.0, unit="deg"))
    assert tuple(wcs.wcs.crval) == pytest.approx((11.0, 22.0))
    compare(TILES, reference=SkyCoord(100.0, 20.0, unit="deg", frame="galactic"), frame="galactic")


def test_reference_in_other_frame_is_transformed():
    ref = SkyCoord(11.0, 22.0, unit="deg")
    ours = find_optimal_celestial_wcs(TILES, reference=ref.galactic)
    assert_same(ours, ref_find(TILES, reference=ref))


@pytest.mark.parametrize("projection", ["CAR", "SIN", "ZEA"])
def test_projection_tan_inputs(projection):
    compare(TILES, projection=projection)


def test_projection_car_equatorial():
    inputs = [tile((0.2 * i - 0.3, 0.0), ctype=("RA---CAR", "DEC--CAR")) for i in range(4)]
    wcs, shape = compare(inputs, projection="CAR")
    assert wcs.wcs.ctype[0] == "RA---CAR"
    assert shape == (100, 180)


@pytest.mark.parametrize("value", [None, True, False, "auto"])
@pytest.mark.parametrize("frame", [None, "galactic", "itrs"])
def test_negative_lon_cdelt(value, frame):
    kw = {} if frame is None else {"frame": frame}
    a, sa, da = _run(find_optimal_celestial_wcs, TILES, negative_lon_cdelt=value, **kw)
    b, sb, db = _run(ref_find, TILES, negative_lon_cdelt=value, **kw)
    # ITRS goes through an obstime-dependent transform: allow a little more
    assert_same((a, sa), (b, sb), tol=1e-9 if frame != "itrs" else 1e-7)
    assert len(da) == len(db)
    negative = value is None or value is True or (value == "auto" and frame != "itrs")
    assert (a.wcs.cdelt[0] < 0) == negative
    assert len(da) == (1 if (value is None and frame == "itrs") else 0)


@pytest.mark.parametrize("inputs", [TILES, ROTATED], ids=["north-up", "rotated"])
@pytest.mark.parametrize(
    "kw", [{}, {"negative_lon_cdelt": False}, {"frame": "galactic"}], ids=["default", "poscdelt", "gal"]
)
def test_auto_rotate(inputs, kw):
    a, sa = find_optimal_celestial_wcs(inputs, auto_rotate=True, **kw)
    b, sb = ref_find(inputs, auto_rotate=True, **kw)
    # the hull of our edge samples equals that of the corners for TAN->TAN, so
    # the rectangle, hence everything, agrees to rounding
    assert all(abs(x - y) <= 1 for x, y in zip(sa, sb))
    np.testing.assert_allclose(a.wcs.get_pc(), b.wcs.get_pc(), atol=1e-8)
    np.testing.assert_allclose(a.wcs.crpix, b.wcs.crpix, atol=1e-6)
    assert tuple(sa) == tuple(sb)


def test_auto_rotate_angle_folding():
    for angle in [-170.0, -100.0, -60.0, -10.0, 0.5, 30.0, 44.0, 60.0, 95.0, 150.0]:
        inp = [tile((10.0, 20.0), rot=angle)]
        a, sa = find_optimal_celestial_wcs(inp, auto_rotate=True)
        b, sb = ref_find(inp, auto_rotate=True)
        assert sa == sb
        np.testing.assert_allclose(a.wcs.get_pc(), b.wcs.get_pc(), atol=1e-9)
        folded = (angle + 45.0) % 90.0 - 45.0
        assert np.degrees(np.arctan2(a.wcs.pc[1, 0], a.wcs.pc[0, 0])) == pytest.approx(folded, abs=1e-6)
        assert set(sa) == {100, 120}


def test_minimum_rectangle_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        pts = rng.normal(size=(40, 2)) * [4.0, 1.0]
        theta = minimum_rectangle_angle(pts[:, 0], pts[:, 1])
        assert -np.pi / 4 <= theta < np.pi / 4

        def area(t):
            t = np.atleast_1d(t)
            u = pts @ np.array([np.cos(t), np.sin(t)])
            v = pts @ np.array([-np.sin(t), np.cos(t)])
            return np.ptp(u, axis=0) * np.ptp(v, axis=0)

        grid = np.linspace(-np.pi / 4, np.pi / 4, 20001)
        assert area(theta)[0] <= area(grid).min() + 1e-9
    hull = convex_hull(np.array([0, 1, 1, 0, 0.5]), np.array([0, 0, 1, 1, 0.5]))
    assert len(hull) == 4


# ---------------------------------------------------------------------------
# accepted input forms
# ---------------------------------------------------------------------------


def test_input_forms(tmp_path):
    shape, wcs = TILES[0]
    header = wcs.to_header()
    data = np.zeros(shape, dtype=np.float32)
    hdu = fits.PrimaryHDU(data, header)
    path = tmp_path / "tile.fits"
    hdu.writeto(path)
    w_shape = wcs.deepcopy()
    w_shape.array_shape = shape
    expected = ref_find([TILES[0], TILES[1]])
    for form in [
        (shape, wcs),
        (shape, header),
        (data, wcs),
        (data, header),
        hdu,
        fits.HDUList([hdu]),
        str(path),
        path,
        NDData(data, wcs=wcs),
        w_shape,
    ]:
        assert_same(find_optimal_celestial_wcs([form, TILES[1]]), expected)
    # a lone (shape, wcs) tuple is one input
    assert_same(find_optimal_celestial_wcs((shape, header)), ref_find((shape, header)))
    assert_same(find_optimal_celestial_wcs(w_shape), ref_find(w_shape))


def test_hdu_in(tmp_path):
    shape, wcs = TILES[1]
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(shape), wcs.to_header(), name="SCI")])
    path = tmp_path / "mef.fits"
    hdul.writeto(path)
    expected = ref_find(TILES[1])
    assert_same(find_optimal_celestial_wcs(str(path), hdu_in=1), expected)
    assert_same(find_optimal_celestial_wcs(hdul, hdu_in="SCI"), expected)


def test_ape14_input():
    shape, w = tile((10.0, 20.0), shape=(101, 120), crpix=(-50, -30), cdelt=(-0.1, 0.07))
    compare([(shape, SlicedLowLevelWCS(w, Ellipsis)), TILES[0]])


def test_gwcs_input():
    gwcs = pytest.importorskip("gwcs")
    from astropy.coordinates import ICRS
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf

    transform = (
        (models.Shift(-59.5) & models.Shift(-49.5))
        | (models.Scale(0.01) & models.Scale(0.01))
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(10.0, 20.0, 180.0)
    )
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=ICRS(), name="icrs", unit=(u.deg, u.deg))
    w = gwcs.WCS([(detector, transform), (sky, None)])
    compare([((100, 120), w)])
    compare([((100, 120), w), TILES[1]], auto_rotate=True)


# ---------------------------------------------------------------------------
# edge sampling: curved edges are not clipped
# ---------------------------------------------------------------------------


def _dense_edges(shape, n=400):
    ny, nx = shape
    t = np.linspace(0.0, 1.0, n)
    x = np.concatenate([-0.5 + t * nx, -0.5 + t * nx, np.full(n, -0.5), np.full(n, nx - 0.5)])
    y = np.concatenate([np.full(n, -0.5), np.full(n, ny - 0.5), -0.5 + t * ny, -0.5 + t * ny])
    return x, y


def _overflow(inputs, result):
    """Largest distance (pixels) by which a densely sampled input edge leaves the output."""
    wcs_out, (ny, nx) = result
    worst = 0.0
    for shape, wcs_in in inputs:
        x, y = _dense_edges(shape)
        xo, yo = wcs_out.world_to_pixel(wcs_in.pixel_to_world(x, y))
        assert np.all(np.isfinite(xo)) and np.all(np.isfinite(yo))
        worst = max(worst, -0.5 - xo.min(), -0.5 - yo.min(), xo.max() - (nx - 0.5), yo.max() - (ny - 0.5))
    return worst


def sip_barrel(shape=(200, 200), k=-1e-5):
    ny, nx = shape
    header = make_wcs((150.0, 2.0), cdelt=(-1e-3, 1e-3), shape=shape).to_header()
    header["CTYPE1"] = "RA---TAN-SIP"
    header["CTYPE2"] = "DEC--TAN-SIP"
    header["A_ORDER"] = 3
    header["B_ORDER"] = 3
    header["A_3_0"] = k
    header["A_1_2"] = k
    header["B_0_3"] = k
    header["B_2_1"] = k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (shape, WCS(header))


def test_sip_edges_not_clipped():
    inputs = [sip_barrel()]
    ours = find_optimal_celestial_wcs(inputs)
    theirs = ref_find(inputs)
    # corners only: the bulging edge midpoints fall ~10 px outside
    assert _overflow(inputs, theirs) > 5.0
    # ours: everything inside, up to reproject's half-pixel rounding of the shape
    assert _overflow(inputs, ours) <= 0.5 + 1e-6
    assert ours[1][0] > theirs[1][0] + 10 and ours[1][1] > theirs[1][1] + 10


def test_wide_field_edges_not_clipped():
    inputs = [tile((30.0, 60.0), shape=(400, 400), cdelt=(-0.1, 0.1))]  # 40 deg TAN field
    ours = find_optimal_celestial_wcs(inputs, projection="CAR")
    theirs = ref_find(inputs, projection="CAR")
    assert _overflow(inputs, theirs) > 5.0
    assert _overflow(inputs, ours) <= 0.5 + 1e-6
    # the parts we agree on: same reference and resolution
    np.testing.assert_allclose(ours[0].wcs.crval, theirs[0].wcs.crval, atol=1e-9)
    np.testing.assert_allclose(ours[0].wcs.cdelt, theirs[0].wcs.cdelt, atol=1e-12)


def test_all_sky_input_with_off_sky_corners():
    w = make_wcs((0.0, 0.0), cdelt=(-1.0, 1.0), shape=(180, 360), ctype=("RA---AIT", "DEC--AIT"))
    wcs, shape = find_optimal_celestial_wcs([((180, 360), w)], projection="CAR")
    assert shape == (180, 360)
    with pytest.raises(ValueError, match="projection"):
        find_optimal_celestial_wcs([((180, 360), w)], projection="TAN")


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="input_data"):
        find_optimal_celestial_wcs([])
    with pytest.raises(ValueError, match="input_data"):
        find_optimal_celestial_wcs([tile((10, 20), ctype=("FREQ", "DEC--TAN"))])
    with pytest.raises(ValueError, match=r"input_data\[1\]"):
        find_optimal_celestial_wcs([TILES[0], tile((10, 20), ctype=("X", "Y"))])
    with pytest.raises(ValueError, match="array_shape"):
        find_optimal_celestial_wcs(make_wcs((10, 20)))
    with pytest.raises(ValueError, match="frame"):
        find_optimal_celestial_wcs(TILES, frame="no-such-frame")
    with pytest.raises(ValueError, match="frame"):
        find_optimal_celestial_wcs(TILES, frame="supergalactic")
    with pytest.raises(ValueError, match="projection"):
        find_optimal_celestial_wcs(TILES, projection="XYZ")
    with pytest.raises(ValueError, match="projection"):
        find_optimal_celestial_wcs(TILES, projection="TANX")
    with pytest.raises(ValueError, match="negative_lon_cdelt"):
        find_optimal_celestial_wcs(TILES, negative_lon_cdelt="yes")
    with pytest.raises(ValueError, match="resolution"):
        find_optimal_celestial_wcs(TILES, resolution=-1 * u.deg)
    with pytest.raises(ValueError, match="resolution"):
        find_optimal_celestial_wcs(TILES, resolution=1 * u.m)
    with pytest.raises(ValueError, match="reference"):
        find_optimal_celestial_wcs(TILES, reference=(10, 20))


# ---------------------------------------------------------------------------
# issue 12: three differences from reproject, fixed
# ---------------------------------------------------------------------------


def test_high_level_wrapper_reference_is_image_centre():
    # reproject treats an astropy WCS wrapped in an APE-14 HighLevelWCSWrapper
    # as a generic WCS: reference at the image centre, not at CRPIX
    from astropy.wcs.wcsapi import HighLevelWCSWrapper

    inputs = [((50, 50), HighLevelWCSWrapper(make_wcs((10.0, 15.0), crpix=(5, 5)))),
              ((50, 60), HighLevelWCSWrapper(make_wcs((31.0, 16.0), crpix=(5, 5), rot=20.0)))]
    wcs, _ = compare(inputs)
    assert abs(wcs.wcs.crval[0] - 10.0) > 1.0  # not the first input's own reference


@pytest.mark.parametrize("projection", ["CAR", "AIT", "MOL", "HPX"])
def test_galactic_frame_with_non_zenithal_projection(projection):
    # was wcslib "ill-conditioned" (a deep-copied template carried LONPOLE = 0)
    compare(TILES, frame="galactic", projection=projection)


@pytest.mark.parametrize("dec", [89.5, 90.0])
def test_eight_images_around_the_pole(dec):
    # the mean reference is the pole: its longitude (which orients the output
    # grid) comes from rounding in the averaged x, y; computed as reproject does
    inputs = [tile((ra, dec), shape=(100, 100)) for ra in np.arange(8) * 45.0]
    compare(inputs)
