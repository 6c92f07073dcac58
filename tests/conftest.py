"""Shared test fixtures: small celestial WCS and star-field factories.

The factories are plain functions (importable as ``from conftest import
make_wcs``) and are also exposed as fixtures of the same name, so any test
file can use them either way::

    def test_something(make_wcs, star_field):
        wcs = make_wcs(proj="SIN", rot=30)
        data = star_field((64, 64), seed=3)

Everything is small (default 64 x 64 pixels) so that tests stay fast.
"""

import contextlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

# Test the working tree this file belongs to, even if another copy of the
# package is installed (and without requiring an install at all).
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: CTYPE prefixes (longitude, latitude) and RADESYS/EQUINOX for named frames
FRAMES = {
    "icrs": (("RA--", "DEC-"), "ICRS", None),
    "fk5": (("RA--", "DEC-"), "FK5", 2000.0),
    "fk5_j1975": (("RA--", "DEC-"), "FK5", 1975.0),
    "fk4": (("RA--", "DEC-"), "FK4", 1950.0),
    "galactic": (("GLON", "GLAT"), None, None),
    "ecliptic": (("ELON", "ELAT"), None, None),
}


def centred_tan_wcs(shape, crval, cdelt, rot=0.0):
    """A TAN WCS (PC rotation ``rot`` degrees) with its reference pixel at the centre of ``shape``."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = list(crval)
    ny, nx = shape
    w.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    w.wcs.cdelt = [-cdelt, cdelt]
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    w.wcs.pc = [[c, -s], [s, c]]
    w.wcs.set()
    return w


def make_wcs(
    proj="TAN",
    crval=(150.0, 30.0),
    cdelt=2e-3,
    rot=0.0,
    shape=(64, 64),
    crpix=None,
    frame="icrs",
    use_cd=False,
    lonpole=None,
    latpole=None,
    pv=None,
    set_shape=False,
):
    """A 2-D celestial :class:`astropy.wcs.WCS`.

    Parameters
    ----------
    proj : str
        Three-letter FITS projection code.
    crval : (lon, lat)
        Reference sky position in ``frame`` (degrees).
    cdelt : float or (float, float)
        Pixel scale in degrees; a scalar gives ``(-cdelt, cdelt)`` (east left).
    rot : float
        Rotation of the pixel grid (degrees, PC matrix or CD).
    shape : (ny, nx)
        Image shape; CRPIX defaults to its centre.
    crpix : (x, y), optional
        1-based FITS reference pixel.
    frame : str
        A key of :data:`FRAMES`.
    use_cd : bool
        Write the linear part as CDi_j instead of PC + CDELT.
    lonpole, latpole : float, optional
        Non-default LONPOLE / LATPOLE.
    pv : list of (i, m, value), optional
        Projection parameters.
    set_shape : bool
        Set ``pixel_shape`` (so the WCS carries ``array_shape``).
    """
    from astropy.wcs import WCS

    (lon, lat), radesys, equinox = FRAMES[frame]
    w = WCS(naxis=2)
    w.wcs.ctype = [f"{lon}-{proj}", f"{lat}-{proj}"]
    w.wcs.crval = list(crval)
    ny, nx = shape
    w.wcs.crpix = list(crpix) if crpix is not None else [(nx + 1) / 2.0, (ny + 1) / 2.0]
    cd = np.broadcast_to(np.asarray(cdelt, dtype=float), (2,)).copy()
    if np.ndim(cdelt) == 0:
        cd[0] = -cd[0]
    c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
    pc = np.array([[c, -s], [s, c]])
    if use_cd:
        w.wcs.cd = pc * cd[:, None]
    else:
        w.wcs.cdelt = cd
        w.wcs.pc = pc
    if radesys is not None:
        w.wcs.radesys = radesys
    if equinox is not None:
        w.wcs.equinox = equinox
    if lonpole is not None:
        w.wcs.lonpole = lonpole
    if latpole is not None:
        w.wcs.latpole = latpole
    if pv:
        w.wcs.set_pv(list(pv))
    w.wcs.set()
    if set_shape:
        w.pixel_shape = (nx, ny)
    return w


def make_header(shape=(64, 64), **kwargs):
    """FITS header of :func:`make_wcs` (same keywords) with NAXIS/NAXISn."""
    w = make_wcs(shape=shape, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = w.to_header()
    h["NAXIS"] = 2
    h["NAXIS1"] = shape[1]
    h["NAXIS2"] = shape[0]
    return h


def star_field(shape=(64, 64), n_stars=30, seed=0, fwhm=2.5, background=10.0, noise=0.1, nan_fraction=0.0):
    """Synthetic image: gaussian stars on a smooth background plus noise (float64).

    Stars have peak amplitudes 5-100 and may sit slightly outside the frame;
    the background is a tilted plane plus a gentle sinusoidal ripple.
    ``nan_fraction`` blanks that fraction of random pixels.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    y, x = np.mgrid[:ny, :nx].astype(float)
    img = background + 0.02 * x - 0.01 * y + 0.5 * np.sin(x / 15.0) * np.cos(y / 11.0)
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    for _ in range(n_stars):
        x0, y0 = rng.uniform(-3, nx + 3), rng.uniform(-3, ny + 3)
        amp = rng.uniform(5.0, 100.0)
        img += amp * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2.0 * sigma * sigma))
    if noise:
        img += rng.normal(0.0, noise, shape)
    if nan_fraction:
        img[rng.random(shape) < nan_fraction] = np.nan
    return img


def sky_position(lon, lat, frame_from, frame_to):
    """Convert a position between two :data:`FRAMES` names (degrees).

    ``ecliptic`` means :class:`~astropy.coordinates.BarycentricMeanEcliptic`
    (see :func:`ecliptic_frame_mapping`).
    """
    import astropy.units as u
    from astropy.coordinates import FK4, FK5, ICRS, BarycentricMeanEcliptic, Galactic, SkyCoord
    from astropy.time import Time

    def frame(name):
        return {
            "icrs": ICRS(),
            "fk5": FK5(equinox=Time(2000.0, format="jyear")),
            "fk5_j1975": FK5(equinox=Time(1975.0, format="jyear")),
            "fk4": FK4(equinox=Time(1950.0, format="byear")),
            "galactic": Galactic(),
            "ecliptic": BarycentricMeanEcliptic(),
        }[name]

    c = SkyCoord(lon * u.deg, lat * u.deg, frame=frame(frame_from)).transform_to(frame(frame_to))
    sph = c.spherical
    return float(sph.lon.deg), float(sph.lat.deg)


def _ecliptic_mapping(wcs):
    from astropy.coordinates import BarycentricMeanEcliptic

    if wcs.wcs.lng >= 0 and wcs.wcs.ctype[wcs.wcs.lng][:4] == "ELON":
        return BarycentricMeanEcliptic()
    return None


@contextlib.contextmanager
def ecliptic_frame_mapping():
    """Context manager mapping ELON/ELAT WCS to BarycentricMeanEcliptic.

    astropy has no built-in ecliptic mapping: wcslib defaults RADESYS to ICRS
    and astropy's built-in mapping then returns ICRS, so a plain
    ``ELON--TAN`` WCS is read as ICRS.  Inside this context our mapping is
    consulted *first* (``custom_wcs_to_frame_mappings`` would append it after
    the built-in one, which always answers), so both astropy and numbamosaic
    see a true ecliptic frame.
    """
    from astropy.wcs import utils

    entry = [_ecliptic_mapping]
    utils.WCS_FRAME_MAPPINGS.insert(0, entry)
    try:
        yield
    finally:
        utils.WCS_FRAME_MAPPINGS.remove(entry)


def data_range(a):
    """Peak-to-peak of the finite values."""
    return float(np.nanmax(a) - np.nanmin(a))


@pytest.fixture(name="make_wcs")
def make_wcs_fixture():
    return make_wcs


@pytest.fixture(name="make_header")
def make_header_fixture():
    return make_header


@pytest.fixture(name="star_field")
def star_field_fixture():
    return star_field


@pytest.fixture
def star_image():
    """A 64 x 64 star field (float64, seed 0)."""
    return star_field((64, 64), seed=0)


@pytest.fixture
def simple_wcs():
    """A 64 x 64 TAN WCS at (150, 30) with 2e-3 deg pixels."""
    return make_wcs()
