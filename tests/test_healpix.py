"""HEALPix maps against astropy-healpix (pixel geometry) and reproject (results)."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import numbamosaic
from numbamosaic.healpix import _core

astropy_healpix = pytest.importorskip("astropy_healpix")
reproject = pytest.importorskip("reproject")


def _image():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 60.0]
    w.wcs.crpix = [32.5, 32.5]
    w.wcs.cdelt = [-0.5, 0.5]
    yy, xx = np.mgrid[:64, :64]
    rng = np.random.default_rng(1)
    data = (np.sin(xx / 7.0) + np.cos(yy / 5.0) + 0.1 * rng.standard_normal((64, 64))).astype(np.float32)
    data[10, 20] = np.nan
    return data, w


def _car(frame="GLON", shape=(24, 48)):
    w = WCS(naxis=2)
    w.wcs.ctype = [f"{frame}-CAR", ("GLAT" if frame == "GLON" else "DEC-") + "-CAR"]
    w.wcs.crval = [0.0, 0.0]
    w.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    w.wcs.cdelt = [-360.0 / shape[1], 180.0 / shape[0]]
    return w


@pytest.mark.parametrize("nested", [False, True])
def test_pixel_geometry_matches_astropy_healpix(nested):
    """Centres (fallback helper) and pixel lookup (nearest) agree with astropy-healpix."""
    from numbamosaic.kernels._healpix import healpix_lonlat

    nside = 8
    hp = astropy_healpix.HEALPix(nside=nside, order="nested" if nested else "ring")
    lon = np.empty(hp.npix)
    lat = np.empty(hp.npix)
    healpix_lonlat(0, nside, 3, nested, lon, lat)
    rlon, rlat = hp.healpix_to_lonlat(np.arange(hp.npix))
    dlon = (lon - rlon.deg + 180.0) % 360.0 - 180.0
    assert np.abs(dlon * np.cos(np.radians(lat))).max() < 1e-10
    assert np.abs(lat - rlat.deg).max() < 1e-10
    # a map holding its own index, sampled by nearest pixel, gives the containing pixel
    # (grid moved off the pixel boundaries, where the two may break ties differently)
    wcs = _car("GLON", (45, 90))
    wcs.wcs.crval = [0.37, 0.71]
    got, fp = numbamosaic.reproject_from_healpix(
        (np.arange(hp.npix, dtype=np.float64), "galactic"), wcs, shape_out=(45, 90), nested=nested, order=0
    )
    yy, xx = np.mgrid[:45, :90]
    c = wcs.pixel_to_world(xx.ravel(), yy.ravel())
    ref = hp.lonlat_to_healpix(c.l, c.b).reshape(45, 90)
    assert np.array_equal(got, ref) and fp.min() == 1


@pytest.mark.parametrize("nested", [False, True])
def test_to_healpix_matches_reproject(nested):
    data, w = _image()
    ours, fp = numbamosaic.reproject_to_healpix((data, w), "galactic", nested=nested, nside=32)
    ref, rfp = reproject.reproject_to_healpix((data, w), "galactic", nested=nested, nside=32)
    assert ours.dtype == np.float32 and ours.shape == (12 * 32**2,)
    assert np.array_equal(fp, rfp) and fp.sum() > 200
    ok = rfp > 0
    assert np.abs(ours[ok] - ref[ok]).max() <= 1e-5 * np.ptp(ref[ok])
    one, _ = numbamosaic.reproject_to_healpix((data, w), "galactic", nested=nested, nside=32, parallel=1)
    assert np.array_equal(one, ours, equal_nan=True)


def test_to_healpix_astropy_fallback_matches_native(monkeypatch):
    data, w = _image()
    native, _ = numbamosaic.reproject_to_healpix((data, w), "icrs", nside=16)

    def refuse(*a):
        raise _core.UnsupportedWCS("test")

    monkeypatch.setattr(_core, "describe_wcs", refuse)
    grid, _ = numbamosaic.reproject_to_healpix((data, w), "icrs", nside=16)
    ok = np.isfinite(native)
    assert np.array_equal(ok, np.isfinite(grid)) and ok.sum() > 50
    assert np.abs(grid[ok] - native[ok]).max() < 1e-5


def test_from_healpix_matches_reproject(tmp_path):
    nside = 16
    hp = astropy_healpix.HEALPix(nside=nside, order="nested")
    lon, lat = hp.healpix_to_lonlat(np.arange(hp.npix))
    values = (np.cos(3 * lon.rad) * np.cos(lat.rad) + lat.rad).astype(np.float32)
    values[5] = np.nan
    wcs = _car("GLON")
    ref, rfp = reproject.reproject_from_healpix((values, "galactic"), wcs, shape_out=(24, 48), nested=True)
    # from a FITS table: ordering and frame read from the header
    col = fits.Column(name="I", format="E", array=values)
    hdu = fits.BinTableHDU.from_columns([col])
    hdu.header["ORDERING"] = "NESTED"
    hdu.header["COORDSYS"] = "G"
    hdu.header["NSIDE"] = nside
    path = tmp_path / "map.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    ours, fp = numbamosaic.reproject_from_healpix(str(path), wcs, shape_out=(24, 48))
    assert ours.dtype == np.float32
    assert np.array_equal(fp, rfp) and (fp == 0).sum() > 0
    ok = rfp > 0
    assert np.abs(ours[ok] - ref[ok]).max() <= 1e-5 * np.nanmax(np.abs(ref))
    with pytest.raises(ValueError, match="nested"):
        numbamosaic.reproject_from_healpix((values, "galactic"), wcs, shape_out=(24, 48))
