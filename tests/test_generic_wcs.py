"""Any WCS with two pixel axes, against reproject 0.21.

Helioprojective (an AIA-like header written here, same and different
observers), linear WCS, and 3-/4-axis radio headers whose extra axes are
degenerate.  Tolerances as for celestial 2-D: bilinear 1e-5 of the range,
exact 1e-6.
"""

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import numbamosaic as nm

reproject = pytest.importorskip("reproject")
from reproject.mosaicking import find_optimal_celestial_wcs as rp_optimal  # noqa: E402
from reproject.mosaicking import reproject_and_coadd as rp_coadd  # noqa: E402

N = 40


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FITSFixedWarning (DATE-OBS), sunpy observer notes
        yield


def _image(n=N):
    yy, xx = np.mgrid[0:n, 0:n]
    return (np.sin(xx / 5.0) + np.cos(yy / 7.0) + 2.0).astype(np.float64)


def aia_header(n=N, rot=0.0, scale=60.0, crval=(0.0, 0.0), date="2024-01-01T00:00:00"):
    """An SDO/AIA-like helioprojective header (arcsec units, observer keywords)."""
    h = fits.Header()
    h["NAXIS"], h["NAXIS1"], h["NAXIS2"] = 2, n, n
    h["CTYPE1"], h["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    h["CUNIT1"], h["CUNIT2"] = "arcsec", "arcsec"
    h["CDELT1"], h["CDELT2"] = scale, scale
    h["CRPIX1"], h["CRPIX2"] = (n + 1) / 2, (n + 1) / 2
    h["CRVAL1"], h["CRVAL2"] = crval
    h["CROTA2"] = rot
    h["DATE-OBS"] = date
    h["HGLN_OBS"], h["HGLT_OBS"], h["DSUN_OBS"], h["RSUN_REF"] = 0.0, -3.0, 1.47e11, 6.96e8
    return h


def radio_header(n, crval, rot=0.0, scale=0.01, freq=1.4e9, naxis=4):
    """A radio image header with degenerate FREQ (and STOKES) axes."""
    h = fits.Header()
    h["NAXIS"], h["NAXIS1"], h["NAXIS2"] = naxis, n, n
    h["CTYPE1"], h["CTYPE2"] = "RA---SIN", "DEC--SIN"
    h["CRPIX1"], h["CRPIX2"] = n / 2, n / 2
    h["CDELT1"], h["CDELT2"] = -scale, scale
    h["CRVAL1"], h["CRVAL2"] = crval
    h["CROTA2"] = rot
    h["NAXIS3"], h["CTYPE3"], h["CRPIX3"], h["CRVAL3"], h["CDELT3"], h["CUNIT3"] = 1, "FREQ", 1, freq, 1e6, "Hz"
    if naxis == 4:
        h["NAXIS4"], h["CTYPE4"], h["CRPIX4"], h["CRVAL4"], h["CDELT4"] = 1, "STOKES", 1, 1, 1
    return h


def linear_wcs(rot, scale, crval):
    w = WCS(naxis=2)
    w.wcs.ctype = ["LINEAR", "LINEAR"]
    w.wcs.cunit = ["m", "m"]
    w.wcs.crpix = [N / 2, N / 2]
    w.wcs.cdelt = [scale, scale]
    w.wcs.crval = crval
    w.wcs.pc = [[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]]
    return w


def assert_agrees(got, ref, tol, same_coverage=True):
    v, rv = got[0], ref[0]
    assert v.shape == rv.shape
    both = np.isfinite(v) & np.isfinite(rv)
    assert both.sum() > 0.5 * v.size
    span = np.nanmax(rv) - np.nanmin(rv)
    assert np.max(np.abs(v[both] - rv[both])) <= tol * span
    if same_coverage:
        np.testing.assert_array_equal(np.isfinite(v), np.isfinite(rv))


@pytest.fixture(scope="module")
def sunpy_frames():
    return pytest.importorskip("sunpy.coordinates")


@pytest.mark.parametrize("method,tol", [("interp", 1e-5), ("exact", 1e-6), ("adaptive", 1e-5)])
def test_helioprojective_same_observer(sunpy_frames, method, tol):
    data = _image()
    wout = WCS(aia_header(rot=10, scale=50, crval=(100, 50)))
    ours = getattr(nm, f"reproject_{method}")((data, aia_header()), wout, shape_out=(32, 32))
    theirs = getattr(reproject, f"reproject_{method}")((data, aia_header()), wout, shape_out=(32, 32))
    assert_agrees(ours, theirs, tol)


def test_helioprojective_other_observer_uses_control_grid(sunpy_frames):
    # six hours later the Sun has rotated: helioprojective -> helioprojective
    # goes through 3-D positions on the solar surface; off-disk pixels are NaN
    from numbamosaic.wcs import transform_and_bbox

    data = _image()
    wout = WCS(aia_header(rot=10, scale=50, date="2024-01-01T06:00:00"))
    tr, _ = transform_and_bbox(WCS(aia_header()), wout, data.shape, (32, 32))
    assert not tr.native and "fixed rotation" in tr.reason
    ours = nm.reproject_interp((data, aia_header()), wout, shape_out=(32, 32))
    theirs = reproject.reproject_interp((data, aia_header()), wout, shape_out=(32, 32))
    assert_agrees(ours, theirs, 1e-5)
    assert np.isnan(ours[0][0, 0])  # a corner off the limb


def test_helioprojective_mosaic_and_optimal_frame(sunpy_frames):
    data = _image()
    inputs = [(data, aia_header()), (data, aia_header(crval=(600, 300), rot=5))]
    ours = nm.find_optimal_celestial_wcs(inputs, negative_lon_cdelt=False)
    theirs = rp_optimal(inputs, negative_lon_cdelt=False)
    assert list(ours[0].wcs.ctype) == list(theirs[0].wcs.ctype) == ["HPLN-TAN", "HPLT-TAN"]
    np.testing.assert_allclose(ours[0].wcs.crval, theirs[0].wcs.crval, rtol=1e-9)
    np.testing.assert_allclose(ours[0].wcs.crpix, theirs[0].wcs.crpix, rtol=1e-9)
    assert ours[1] == theirs[1]
    wout, shape = theirs
    got = nm.reproject_and_coadd(inputs, wout, shape_out=shape, reproject_function=nm.reproject_interp)
    ref = rp_coadd(inputs, wout, shape_out=shape, reproject_function=reproject.reproject_interp)
    assert_agrees(got, ref, 1e-5)


@pytest.mark.parametrize("method", ["interp", "adaptive"])
def test_linear_wcs(method):
    data = _image()
    win, wout = linear_wcs(0.0, 1.0, [0, 0]), linear_wcs(0.3, 0.8, [2, 1])
    ours = getattr(nm, f"reproject_{method}")((data, win), wout, shape_out=(32, 32))
    theirs = getattr(reproject, f"reproject_{method}")((data, win), wout, shape_out=(32, 32))
    assert_agrees(ours, theirs, 1e-5)


def test_linear_wcs_exact_conserves_flux():
    # reproject_exact refuses non-celestial WCS; here the overlap is planar
    # (exact for a linear WCS): an output covering the input keeps the flux
    data = _image()
    win, wout = linear_wcs(0.0, 1.0, [0, 0]), linear_wcs(0.3, 1.3, [0.5, -0.2])
    v, fp = nm.reproject_exact((data, win), wout, shape_out=(N, N), conserve="flux")
    np.testing.assert_allclose(np.nansum(v), data.sum(), rtol=1e-9)


def test_four_axis_headers_with_degenerate_axes():
    data = _image().reshape(1, 1, N, N)
    hin = radio_header(N, (10, 20))
    wout = WCS(radio_header(32, (10.05, 20.03), rot=15, scale=0.012))
    ours = nm.reproject_interp((data, hin), wout, shape_out=(1, 1, 32, 32))
    theirs = reproject.reproject_interp((data, hin), wout, shape_out=(1, 1, 32, 32))
    assert ours[0].shape == (1, 1, 32, 32)
    assert_agrees(ours, theirs, 1e-5)
    # reproject's exact and adaptive refuse 4-D WCS: compare with their 2-D results
    for method, tol in (("exact", 1e-6), ("adaptive", 1e-5)):
        ours = getattr(nm, f"reproject_{method}")((data, hin), wout, shape_out=(1, 1, 32, 32))
        theirs = getattr(reproject, f"reproject_{method}")((data[0, 0], WCS(hin).celestial), wout.celestial, shape_out=(32, 32))
        assert_agrees((ours[0][0, 0], ours[1][0, 0]), theirs, tol)
    # a 3-axis header, and a mosaic of 4-axis inputs onto a 4-axis output
    h3 = radio_header(N, (10, 20), naxis=3)
    w3 = WCS(radio_header(32, (10.05, 20.03), rot=15, scale=0.012, naxis=3))
    assert_agrees(
        nm.reproject_interp((data[0], h3), w3, shape_out=(1, 32, 32)),
        reproject.reproject_interp((data[0], h3), w3, shape_out=(1, 32, 32)),
        1e-5,
    )
    inputs = [(data, hin), (data, radio_header(N, (10.1, 20.05), rot=10))]
    got = nm.reproject_and_coadd(inputs, wout, shape_out=(1, 1, 32, 32), reproject_function=nm.reproject_interp)
    ref = rp_coadd(inputs, wout, shape_out=(1, 1, 32, 32), reproject_function=reproject.reproject_interp)
    assert got[0].shape == (1, 1, 32, 32)
    assert_agrees(got, ref, 1e-5)


def test_degenerate_axes_that_do_not_match_raise():
    data = _image().reshape(1, 1, N, N)
    wout = WCS(radio_header(32, (10.05, 20.03), freq=1.5e9))  # reproject: NaN everywhere
    with pytest.raises(ValueError, match=r"input_data: its extra pixel axis 3 \(em.freq\)"):
        nm.reproject_interp((data, radio_header(N, (10, 20))), wout, shape_out=(1, 1, 32, 32))


def test_celestial_and_linear_do_not_mix():
    data = _image()
    with pytest.raises(ValueError, match="input_data: the WCS is not celestial"):
        nm.reproject_interp((data, linear_wcs(0, 1, [0, 0])), WCS(radio_header(32, (10, 20))).celestial, shape_out=(8, 8))
