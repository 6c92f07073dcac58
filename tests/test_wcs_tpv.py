"""Native TPV and SIP-with-its-own-CRPIX against astropy (wcslib).

The TPV headers in ``tests/data`` are synthetic (invented coefficients with
the magnitudes of real DECam, CFHT MegaCam and SCAMP solutions; see their
COMMENT cards).  Every check is over the whole image: the native engine must
agree with astropy to 1e-8 pixel in both directions.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, Sip
from astropy.wcs.utils import pixel_to_pixel
from conftest import data_range, make_wcs, star_field

from numbamosaic import reproject_interp
from numbamosaic.wcs import build_transform, describe_wcs, native_pixel_to_world, native_world_to_pixel
from numbamosaic.wcs._layout import MODE_HOMOGRAPHY, T_MODE, W_SIP, W_SIPD, W_TPV

DATA = Path(__file__).parent / "data"
HEADERS = ["decam_tpv.hdr", "megacam_tpv.hdr", "scamp_tan_pv.head"]
TOL = 1e-8  # pixel

pytestmark = pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")


def load(name, plain=False):
    """The WCS of a header file; ``plain``: the same without its PV polynomial."""
    h = fits.Header.fromtextfile(DATA / name)
    if plain:
        for k in [k for k in h if k.startswith("PV")]:
            del h[k]
        h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(h)


def sep_px(w, lon1, lat1, lon2, lat2):
    """Angular separation in pixels (small angles)."""
    scale = np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix)))
    dlon = ((lon1 - lon2 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(lat2))
    return np.hypot(dlon, lat1 - lat2) / scale


def whole_image_points(w, n=4000, seed=0):
    """Random points over the image plus its border (pixel edges included)."""
    nx, ny = w.pixel_shape
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, nx - 0.5, n)
    y = rng.uniform(-0.5, ny - 0.5, n)
    t = np.linspace(-0.5, 1.0, 101)
    ex = np.concatenate([t * nx, t * nx, np.full(101, -0.5), np.full(101, nx - 0.5)])
    ey = np.concatenate([np.full(101, -0.5), np.full(101, ny - 0.5), t * ny, t * ny])
    return np.concatenate([x, ex]), np.concatenate([y, ey])


@pytest.mark.parametrize("name", HEADERS)
def test_tpv_native_both_directions(name):
    w = load(name)
    nw = describe_wcs(w)
    assert nw.vector[W_TPV] == 1.0
    x, y = whole_image_points(w)
    ref = w.all_pix2world(np.stack([x, y], axis=1), 0)
    lon, lat = native_pixel_to_world(nw, x, y)
    assert sep_px(w, lon, lat, ref[:, 0], ref[:, 1]).max() <= TOL
    # the distortion is real: the same WCS without TPV is pixels away
    plain = load(name, plain=True)
    pref = plain.wcs_pix2world(np.stack([x, y], axis=1), 0)
    assert sep_px(w, pref[:, 0], pref[:, 1], ref[:, 0], ref[:, 1]).max() > 3.0
    # world -> pixel: the exact inverse of astropy's forward map ...
    xb, yb = native_world_to_pixel(nw, ref[:, 0], ref[:, 1])
    assert max(np.abs(xb - x).max(), np.abs(yb - y).max()) <= TOL
    # ... and wcslib's own inverse
    xa, ya = w.world_to_pixel_values(ref[:, 0], ref[:, 1])
    assert max(np.abs(xb - xa).max(), np.abs(yb - ya).max()) <= TOL


def corner_output_wcs(w_in, shape=(48, 48)):
    """A rotated TAN frame over the first ~60 pixels of ``w_in`` (finer pixels)."""
    c = w_in.pixel_to_world(30.0, 30.0)
    scale = np.sqrt(abs(np.linalg.det(w_in.pixel_scale_matrix)))
    return make_wcs(crval=(c.ra.deg, c.dec.deg), cdelt=1.1 * scale, rot=17.0, shape=shape)


@pytest.mark.parametrize("name", ["decam_tpv.hdr", "megacam_tpv.hdr"])
def test_tpv_pixel_to_pixel(name):
    w_tpv = load(name)
    w_tan = corner_output_wcs(w_tpv)
    yy, xx = np.mgrid[-0.5:48:0.5, -0.5:48:0.5]
    for w_in, w_out in ((w_tpv, w_tan), (w_tan, w_tpv)):
        tr = build_transform(w_in, w_out, roundtrip=False)
        assert tr.native, tr.reason
        assert tr.vector[T_MODE] != MODE_HOMOGRAPHY
        if w_out is w_tpv:
            x, y = pixel_to_pixel(w_tan, w_tpv, xx, yy)  # output pixels of the TPV frame
        else:
            x, y = xx, yy
        xi, yi = tr.out_to_in(x, y)
        xr, yr = pixel_to_pixel(w_out, w_in, x, y)
        assert max(np.abs(xi - xr).max(), np.abs(yi - yr).max()) <= TOL


def test_tpv_reproject_interp_matches_reproject():
    reproject = pytest.importorskip("reproject")
    w_in = load("decam_tpv.hdr")
    data = star_field((64, 64), seed=5).astype(np.float32)
    w_out = corner_output_wcs(w_in)
    ours, fp = reproject_interp((data, w_in), w_out, shape_out=(48, 48), order="bilinear")
    ref, ref_fp = reproject.reproject_interp((data, w_in), w_out, shape_out=(48, 48), order="bilinear")
    np.testing.assert_array_equal(fp > 0, ref_fp > 0)
    assert fp.sum() > 0.5 * fp.size
    ok = ref_fp > 0
    assert np.abs(ours[ok] - ref[ok]).max() <= 1e-6 * data_range(data)


def test_tpv_reproject_exact_matches_reproject():
    """The exact kernel's area factor includes the TPV Jacobian (measured 5.9e-8 of range)."""
    reproject = pytest.importorskip("reproject")
    from numbamosaic import reproject_exact

    w_in = load("decam_tpv.hdr")
    data = star_field((64, 64), seed=5).astype(np.float32)
    w_out = corner_output_wcs(w_in)
    ours, fp = reproject_exact((data, w_in), w_out, shape_out=(48, 48))
    ref, ref_fp = reproject.reproject_exact((data, w_in), w_out, shape_out=(48, 48))
    ok = (ref_fp > 0.999) & (fp > 0.999)
    assert ok.sum() > 0.5 * ok.size
    assert np.abs(ours[ok] - ref[ok]).max() <= 1e-6 * data_range(data)


def sip_with_own_crpix():
    """TAN-SIP whose Sip object has its own reference pixel (not CRPIX)."""
    w = make_wcs(rot=12.0, cdelt=1e-3, shape=(64, 64), crpix=(20.5, 40.5))
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 0], a[1, 2] = 2e-4, -1.5e-4, 1e-4, 3e-6, -2e-6
    b[2, 0], b[1, 1], b[0, 2], b[0, 3], b[2, 1] = -1e-4, 2e-4, 1.2e-4, 2.5e-6, 1e-6
    w.sip = Sip(a, b, None, None, [36.0, 28.0])
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.set()
    return w


def test_sip_with_its_own_crpix():
    w = sip_with_own_crpix()
    nw = describe_wcs(w)
    assert nw.vector[W_SIP] == 1.0
    np.testing.assert_allclose(nw.vector[W_SIPD : W_SIPD + 2], [20.5 - 36.0, 40.5 - 28.0])
    yy, xx = np.mgrid[-0.5:64:0.7, -0.5:64:0.7]
    x, y = xx.ravel(), yy.ravel()
    ref = w.all_pix2world(np.stack([x, y], axis=1), 0)
    lon, lat = native_pixel_to_world(nw, x, y)
    assert sep_px(w, lon, lat, ref[:, 0], ref[:, 1]).max() <= TOL
    # ignoring SIP's own CRPIX would be wrong by far more than the tolerance
    xb, yb = native_world_to_pixel(nw, ref[:, 0], ref[:, 1])
    assert max(np.abs(xb - x).max(), np.abs(yb - y).max()) <= TOL
    w_out = make_wcs(rot=-8.0, cdelt=1.2e-3, shape=(48, 48))
    tr = build_transform(w, w_out, roundtrip=False)
    assert tr.native
    gy, gx = np.mgrid[0:48:1.5, 0:48:1.5]
    xi, yi = tr.out_to_in(gx, gy)
    c = w_out.pixel_to_world(gx, gy)
    xr, yr = w.all_world2pix(c.ra.deg, c.dec.deg, 0, tolerance=1e-12, maxiter=100)
    assert max(np.abs(xi - xr).max(), np.abs(yi - yr).max()) <= TOL


def test_irac_like_sip_header_native_both_directions():
    """The synthetic IRAC-like TAN-SIP header (AP/BP present) used by the benchmark."""
    w = load("irac_like_sip.hdr")
    nw = describe_wcs(w)
    assert nw.vector[W_SIP] == 1.0 and nw.vector[W_TPV] == 0.0
    x, y = whole_image_points(w, n=2000)
    ref = w.all_pix2world(np.stack([x, y], axis=1), 0)
    lon, lat = native_pixel_to_world(nw, x, y)
    assert sep_px(w, lon, lat, ref[:, 0], ref[:, 1]).max() <= TOL
    xb, yb = native_world_to_pixel(nw, ref[:, 0], ref[:, 1])
    assert max(np.abs(xb - x).max(), np.abs(yb - y).max()) <= TOL
