"""Deterministic synthetic surveys for demos, tests, notebooks and benchmarks.

A survey is a grid of overlapping, slightly rotated TAN tiles that all look at
**one** underlying sky: a star catalogue in world coordinates is rendered into
every tile through that tile's own WCS, so neighbouring tiles agree in their
overlaps up to noise and interpolation error.  Each tile then receives its own
gaussian noise, a few NaN blobs (masked regions) and, optionally, an additive
background offset (for background-matching tests).

Everything is driven by one integer ``seed``: the same arguments give the same
bytes on every run and platform (numpy's PCG64 generator is used throughout).

Pixel values are *surface brightness* (flux per square arcsecond, i.e. flux per
pixel at 1″/px), so an interpolating reprojection to another pixel scale keeps
the values comparable, as astropy ``reproject`` and SWarp/Montage expect.

Main entry points
-----------------
:func:`make_survey`
    The tiled survey, as a list of :class:`astropy.io.fits.PrimaryHDU`.
:func:`write_survey`
    Write those HDUs as FITS files.
:func:`survey_output_wcs`
    A north-up TAN WCS and shape covering a survey (a simple bounding box;
    independent of :func:`numbamosaic.find_optimal_celestial_wcs`).
:func:`make_star_field`
    A single star-field image for a given shape and WCS.
"""

import os

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = [
    "make_survey",
    "write_survey",
    "survey_output_wcs",
    "make_star_field",
    "make_star_catalogue",
    "render_stars",
    "tile_wcs",
]

#: Celestial frames accepted by the generators: CTYPE prefixes and RADESYS.
_FRAMES = {
    "icrs": ("RA--", "DEC-", "ICRS"),
    "fk5": ("RA--", "DEC-", "FK5"),
    "galactic": ("GLON", "GLAT", None),
}

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))

# Default star density (stars per square arcsecond): about 2100 stars on a
# 2048² tile at 1″/px, i.e. a moderately crowded but mostly empty field.
_DEFAULT_STAR_DENSITY = 5e-4


def _frame_keys(frame):
    try:
        return _FRAMES[str(frame).lower()]
    except KeyError:
        raise ValueError(f"frame: expected one of {sorted(_FRAMES)}, got {frame!r}") from None


def tile_wcs(center, shape, pixel_scale_arcsec=1.0, rotation_deg=0.0, frame="icrs"):
    """A TAN WCS centred on ``center`` with a rotated PC matrix.

    Parameters
    ----------
    center : tuple of float
        ``(lon, lat)`` of the image centre in degrees (RA/Dec for ``'icrs'`` and
        ``'fk5'``, l/b for ``'galactic'``).
    shape : tuple of int
        Image shape ``(ny, nx)``; the reference pixel is its centre.
    pixel_scale_arcsec : float, optional
        Pixel size in arcseconds (square pixels).
    rotation_deg : float, optional
        Rotation of the pixel grid with respect to north-up/east-left, degrees
        (counter-clockwise in pixel space).
    frame : {'icrs', 'fk5', 'galactic'}, optional
        Celestial frame.

    Returns
    -------
    astropy.wcs.WCS
        The celestial WCS, with ``array_shape`` set to ``shape``.
    """
    xkey, ykey, radesys = _frame_keys(frame)
    ny, nx = (int(s) for s in shape)
    w = WCS(naxis=2)
    w.wcs.ctype = [f"{xkey}-TAN", f"{ykey}-TAN"]
    w.wcs.crval = [float(center[0]), float(center[1])]
    w.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    scale = float(pixel_scale_arcsec) / 3600.0
    w.wcs.cdelt = [-scale, scale]
    theta = np.deg2rad(float(rotation_deg))
    c, s = np.cos(theta), np.sin(theta)
    w.wcs.pc = [[c, -s], [s, c]]
    w.wcs.cunit = ["deg", "deg"]
    if radesys is not None:
        w.wcs.radesys = radesys
        if radesys == "FK5":
            w.wcs.equinox = 2000.0
    w.wcs.set()
    w.array_shape = (ny, nx)
    return w


def make_star_catalogue(
    wcs, shape, n_stars=None, density=_DEFAULT_STAR_DENSITY, flux_range=(30.0, 3.0e4),
    power_law_index=1.5, margin=16, seed=0,
):
    """Random stars spread uniformly over an image's footprint.

    Positions are drawn uniformly in the pixel grid of ``wcs`` (extended by
    ``margin`` pixels on each side, so stars straddling the edges are present)
    and returned in world coordinates.  Fluxes follow a power law
    ``dN/dF ∝ F**-(power_law_index + 1)`` between ``flux_range``.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Celestial WCS defining the footprint (usually a TAN "survey plane").
    shape : tuple of int
        ``(ny, nx)`` of the footprint.
    n_stars : int, optional
        Number of stars; by default ``density`` times the footprint area.
    density : float, optional
        Stars per square arcsecond when ``n_stars`` is not given.
    flux_range : tuple of float, optional
        Minimum and maximum total flux.
    power_law_index : float, optional
        Slope of the cumulative flux distribution ``N(>F) ∝ F**-index``.
    margin : int, optional
        Extra pixels around the footprint.
    seed : int or numpy.random.Generator, optional
        Random seed (or generator).

    Returns
    -------
    dict
        ``{'lon': array, 'lat': array, 'flux': array}`` in degrees and flux
        units (float64).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ny, nx = (int(s) for s in shape)
    x0, x1 = -0.5 - margin, nx - 0.5 + margin
    y0, y1 = -0.5 - margin, ny - 0.5 + margin
    if n_stars is None:
        scale_arcsec = np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600.0
        n_stars = int(round(density * (x1 - x0) * (y1 - y0) * scale_arcsec**2))
    n_stars = int(n_stars)
    x = rng.uniform(x0, x1, n_stars)
    y = rng.uniform(y0, y1, n_stars)
    fmin, fmax = (float(f) for f in flux_range)
    u = rng.uniform(0.0, 1.0, n_stars)
    a = -float(power_law_index)
    # Inverse CDF of a truncated power law N(>F) ∝ F**a.
    flux = (fmin**a + u * (fmax**a - fmin**a)) ** (1.0 / a)
    lon, lat = wcs.celestial.wcs_pix2world(x, y, 0)
    return {"lon": np.asarray(lon, float), "lat": np.asarray(lat, float), "flux": flux}


def render_stars(shape, wcs, catalogue, fwhm_arcsec=3.0, dtype=np.float32, out=None, radius_sigma=5.0):
    """Render a world-coordinate star catalogue through ``wcs`` into an image.

    Each star is a circular gaussian of full width ``fwhm_arcsec``, sampled at
    pixel centres and drawn only in a small stamp around it (``radius_sigma``
    sigmas).  All stamps are computed at once with numpy and accumulated with
    :func:`numpy.bincount`, so a 2048² image with a few thousand stars takes
    a fraction of a second.

    Pixel values are surface brightness: flux per square arcsecond.

    Parameters
    ----------
    shape : tuple of int
        Output shape ``(ny, nx)``.
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    catalogue : dict
        ``{'lon', 'lat', 'flux'}`` arrays as from :func:`make_star_catalogue`.
    fwhm_arcsec : float, optional
        Full width at half maximum of the point-spread function.
    dtype : numpy dtype, optional
        Output dtype (when ``out`` is not given).
    out : numpy.ndarray, optional
        Array to add the stars into (in place).
    radius_sigma : float, optional
        Stamp half-size in units of the PSF sigma.

    Returns
    -------
    numpy.ndarray
        The image (``out`` if given).
    """
    ny, nx = (int(s) for s in shape)
    if out is None:
        out = np.zeros((ny, nx), dtype=dtype)
    cel = wcs.celestial
    scale_arcsec = np.sqrt(abs(np.linalg.det(cel.pixel_scale_matrix))) * 3600.0
    sigma_pix = float(fwhm_arcsec) * _FWHM_TO_SIGMA / scale_arcsec
    r = max(1, int(np.ceil(radius_sigma * sigma_pix)))
    lon = np.asarray(catalogue["lon"], float)
    lat = np.asarray(catalogue["lat"], float)
    flux = np.asarray(catalogue["flux"], float)
    if lon.size == 0:
        return out
    x, y = cel.wcs_world2pix(lon, lat, 0)
    keep = np.isfinite(x) & np.isfinite(y)
    keep &= (x > -r - 1) & (x < nx + r) & (y > -r - 1) & (y < ny + r)
    x, y, flux = x[keep], y[keep], flux[keep]
    if x.size == 0:
        return out
    # Surface brightness: flux / (2 pi sigma^2) per arcsec^2.
    sigma_arcsec = float(fwhm_arcsec) * _FWHM_TO_SIGMA
    amp = flux / (2.0 * np.pi * sigma_arcsec**2)
    ix = np.rint(x).astype(np.int64)
    iy = np.rint(y).astype(np.int64)
    offs = np.arange(-r, r + 1)
    px = ix[:, None] + offs[None, :]  # (n, m)
    py = iy[:, None] + offs[None, :]
    gx = np.exp(-0.5 * ((px - x[:, None]) / sigma_pix) ** 2)
    gy = np.exp(-0.5 * ((py - y[:, None]) / sigma_pix) ** 2)
    okx = (px >= 0) & (px < nx)
    oky = (py >= 0) & (py < ny)
    gx *= okx
    gy *= oky
    gy *= amp[:, None]
    # Separable stamps: value[n, j, i] = gy[n, j] * gx[n, i].
    vals = gy[:, :, None] * gx[:, None, :]
    flat = np.clip(py, 0, ny - 1)[:, :, None] * nx + np.clip(px, 0, nx - 1)[:, None, :]
    img = np.bincount(flat.ravel(), weights=vals.ravel(), minlength=ny * nx)
    out += img.reshape(ny, nx).astype(out.dtype, copy=False)
    return out


def _add_nan_blobs(image, n_blobs, rng, radius_range=(4.0, 40.0)):
    """Set ``n_blobs`` random discs of ``image`` to NaN (in place)."""
    ny, nx = image.shape
    for _ in range(int(n_blobs)):
        cx = rng.uniform(0, nx)
        cy = rng.uniform(0, ny)
        rad = rng.uniform(*radius_range) * min(1.0, min(nx, ny) / 256.0) + 1.0
        x0, x1 = int(max(0, np.floor(cx - rad))), int(min(nx, np.ceil(cx + rad) + 1))
        y0, y1 = int(max(0, np.floor(cy - rad))), int(min(ny, np.ceil(cy + rad) + 1))
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= rad**2
        image[y0:y1, x0:x1][disc] = np.nan
    return image


def make_star_field(
    shape, wcs, n_stars=None, density=_DEFAULT_STAR_DENSITY, fwhm_arcsec=3.0, noise=1.0,
    nan_blobs=0, background=0.0, flux_range=(30.0, 3.0e4), dtype=np.float32, seed=0, catalogue=None,
):
    """A single synthetic star-field image.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)``.
    wcs : astropy.wcs.WCS
        Celestial WCS of the image.
    n_stars : int, optional
        Number of stars (default: ``density`` × image area).  Ignored when
        ``catalogue`` is given.
    density : float, optional
        Stars per square arcsecond.
    fwhm_arcsec : float, optional
        PSF full width at half maximum.
    noise : float, optional
        Standard deviation of the additive gaussian noise (0 for none).
    nan_blobs : int, optional
        Number of NaN discs.
    background : float, optional
        Constant added to the image.
    flux_range : tuple of float, optional
        Star flux range (see :func:`make_star_catalogue`).
    dtype : numpy dtype, optional
        Image dtype (float32 by default).
    seed : int, optional
        Random seed; the same seed gives the same image.
    catalogue : dict, optional
        Stars to render (``{'lon', 'lat', 'flux'}``) instead of random ones.

    Returns
    -------
    numpy.ndarray
        The image, of shape ``shape`` and dtype ``dtype``.
    """
    ss = np.random.SeedSequence(int(seed))
    cat_ss, pix_ss = ss.spawn(2)
    if catalogue is None:
        catalogue = make_star_catalogue(
            wcs, shape, n_stars=n_stars, density=density, flux_range=flux_range,
            seed=np.random.default_rng(cat_ss),
        )
    image = np.zeros(tuple(int(s) for s in shape), dtype=dtype)
    render_stars(shape, wcs, catalogue, fwhm_arcsec=fwhm_arcsec, out=image)
    rng = np.random.default_rng(pix_ss)
    if noise:
        image += rng.standard_normal(image.shape, dtype=image.dtype) * image.dtype.type(noise)
    if background:
        image += image.dtype.type(background)
    if nan_blobs:
        _add_nan_blobs(image, nan_blobs, rng)
    return image


def _survey_plane(nx_tiles, ny_tiles, tile_shape, overlap, pixel_scale_arcsec, center, frame):
    """Global TAN plane of a survey, tile-centre pixels in it and its size."""
    ny, nx = tile_shape
    step_x = nx * (1.0 - overlap)
    step_y = ny * (1.0 - overlap)
    width = (nx_tiles - 1) * step_x + nx
    height = (ny_tiles - 1) * step_y + ny
    # A few pixels of margin for the rotations.
    pad = int(np.ceil(0.05 * max(nx, ny))) + 8
    plane_shape = (int(np.ceil(height)) + 2 * pad, int(np.ceil(width)) + 2 * pad)
    plane = tile_wcs(center, plane_shape, pixel_scale_arcsec, 0.0, frame)
    cx0 = (plane_shape[1] - 1) / 2.0
    cy0 = (plane_shape[0] - 1) / 2.0
    centres = {}
    for j in range(ny_tiles):
        for i in range(nx_tiles):
            centres[j, i] = (
                cx0 + (i - (nx_tiles - 1) / 2.0) * step_x,
                cy0 + (j - (ny_tiles - 1) / 2.0) * step_y,
            )
    return plane, plane_shape, centres


def make_survey(
    nx_tiles=4,
    ny_tiles=4,
    tile_shape=(2048, 2048),
    overlap=0.10,
    max_rotation_deg=1.5,
    pixel_scale_arcsec=1.0,
    center=(150.0, 2.0),
    frame="icrs",
    n_stars=None,
    noise=1.0,
    nan_blobs=3,
    background_offsets=None,
    dtype=np.float32,
    seed=0,
    fwhm_arcsec=3.0,
    flux_range=(30.0, 3.0e4),
    density=_DEFAULT_STAR_DENSITY,
):
    """Generate a deterministic tiled survey of one synthetic sky.

    Tiles are laid out row by row (``x`` fastest) on a regular grid of a
    common tangent plane, each shifted by ``(1 - overlap)`` of a tile from its
    neighbour and rotated by a random angle in ``±max_rotation_deg``.  One
    star catalogue in world coordinates (covering the whole survey) is
    rendered into each tile through the tile's own WCS, so tiles agree where
    they overlap.  Each tile then gets independent gaussian noise, NaN blobs
    and its background offset.

    Parameters
    ----------
    nx_tiles, ny_tiles : int, optional
        Number of tiles along x (RA) and y (Dec).
    tile_shape : tuple of int, optional
        ``(ny, nx)`` of each tile.
    overlap : float, optional
        Fractional overlap between neighbouring tiles (0 ≤ overlap < 1).
    max_rotation_deg : float, optional
        Tiles are rotated by a uniform random angle in
        ``[-max_rotation_deg, max_rotation_deg]``.
    pixel_scale_arcsec : float, optional
        Pixel size in arcseconds.
    center : tuple of float, optional
        ``(lon, lat)`` of the survey centre in degrees.
    frame : {'icrs', 'fk5', 'galactic'}, optional
        Celestial frame of the tile headers.
    n_stars : int, optional
        Total number of stars over the survey; by default ``density`` × area
        (about 2100 per 2048² tile at 1″/px).
    noise : float, optional
        Standard deviation of each tile's gaussian noise (0 for none).
    nan_blobs : int, optional
        Number of NaN discs per tile.
    background_offsets : float or sequence of float, optional
        Additive offset per tile (length ``nx_tiles * ny_tiles``, in tile
        order), e.g. for background-matching tests.  Stored in the ``BKGOFF``
        header keyword.
    dtype : numpy dtype, optional
        Data dtype (float32 by default).
    seed : int, optional
        Random seed; the same arguments and seed give the same bytes.
    fwhm_arcsec : float, optional
        PSF full width at half maximum.
    flux_range : tuple of float, optional
        Star flux range (see :func:`make_star_catalogue`).
    density : float, optional
        Stars per square arcsecond when ``n_stars`` is not given.

    Returns
    -------
    list of astropy.io.fits.PrimaryHDU
        One HDU per tile, row by row, with a TAN WCS header and the keywords
        ``TILEIX``, ``TILEIY``, ``ROTDEG``, ``BKGOFF``, ``NOISE`` and
        ``SEED``.

    Examples
    --------
    >>> from numbamosaic.synthetic import make_survey, survey_output_wcs
    >>> hdus = make_survey(2, 2, tile_shape=(256, 256), seed=1)
    >>> wcs_out, shape_out = survey_output_wcs(hdus)
    """
    nx_tiles, ny_tiles = int(nx_tiles), int(ny_tiles)
    if nx_tiles < 1 or ny_tiles < 1:
        raise ValueError("nx_tiles and ny_tiles must be >= 1")
    if not 0.0 <= float(overlap) < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap!r}")
    tile_shape = tuple(int(s) for s in tile_shape)
    n_tiles = nx_tiles * ny_tiles
    if background_offsets is None:
        offsets = np.zeros(n_tiles)
    else:
        offsets = np.broadcast_to(np.asarray(background_offsets, float), (n_tiles,)).copy() \
            if np.ndim(background_offsets) == 0 else np.asarray(background_offsets, float)
        if offsets.shape != (n_tiles,):
            raise ValueError(f"background_offsets: expected {n_tiles} values, got shape {offsets.shape}")
    _frame_keys(frame)
    dtype = np.dtype(dtype)

    plane, plane_shape, centres = _survey_plane(
        nx_tiles, ny_tiles, tile_shape, float(overlap), pixel_scale_arcsec, center, frame
    )
    root = np.random.SeedSequence(int(seed))
    cat_ss, rot_ss, tiles_ss = root.spawn(3)
    catalogue = make_star_catalogue(
        plane, plane_shape, n_stars=n_stars, density=density, flux_range=flux_range,
        seed=np.random.default_rng(cat_ss),
    )
    rotations = np.random.default_rng(rot_ss).uniform(-max_rotation_deg, max_rotation_deg, n_tiles)
    tile_seeds = tiles_ss.spawn(n_tiles)

    hdus = []
    k = 0
    for j in range(ny_tiles):
        for i in range(nx_tiles):
            cx, cy = centres[j, i]
            lon, lat = plane.wcs_pix2world([[cx, cy]], 0)[0]
            w = tile_wcs((lon, lat), tile_shape, pixel_scale_arcsec, rotations[k], frame)
            data = np.zeros(tile_shape, dtype=dtype)
            render_stars(tile_shape, w, catalogue, fwhm_arcsec=fwhm_arcsec, out=data)
            rng = np.random.default_rng(tile_seeds[k])
            if noise:
                data += rng.standard_normal(tile_shape, dtype=dtype) * dtype.type(noise)
            if offsets[k]:
                data += dtype.type(offsets[k])
            if nan_blobs:
                _add_nan_blobs(data, nan_blobs, rng)
            header = w.to_header()
            header["BUNIT"] = ("arcsec-2", "surface brightness, flux per arcsec^2")
            header["OBJECT"] = f"synthetic tile {j},{i}"
            header["TILEIX"] = (i, "tile column")
            header["TILEIY"] = (j, "tile row")
            header["ROTDEG"] = (float(rotations[k]), "tile rotation, degrees")
            header["BKGOFF"] = (float(offsets[k]), "additive background offset")
            header["NOISE"] = (float(noise), "gaussian noise sigma")
            header["FWHM"] = (float(fwhm_arcsec), "PSF FWHM, arcsec")
            header["SEED"] = (int(seed), "numbamosaic.synthetic seed")
            hdus.append(fits.PrimaryHDU(data=data, header=header))
            k += 1
    return hdus


def write_survey(hdus, directory, prefix="tile", overwrite=True):
    """Write survey HDUs to ``directory`` as FITS files.

    Parameters
    ----------
    hdus : list of astropy.io.fits.PrimaryHDU
        Tiles, e.g. from :func:`make_survey`.
    directory : str or path-like
        Output directory (created if needed).
    prefix : str, optional
        File-name prefix; files are ``{prefix}_{k:03d}.fits``.
    overwrite : bool, optional
        Overwrite existing files.

    Returns
    -------
    list of str
        The file paths, in tile order.
    """
    os.makedirs(directory, exist_ok=True)
    paths = []
    for k, hdu in enumerate(hdus):
        path = os.path.join(os.fspath(directory), f"{prefix}_{k:03d}.fits")
        fits.PrimaryHDU(data=hdu.data, header=hdu.header).writeto(path, overwrite=overwrite)
        paths.append(path)
    return paths


def _unit_vectors(lon, lat):
    lon = np.deg2rad(lon)
    lat = np.deg2rad(lat)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def survey_output_wcs(hdus, pixel_scale_arcsec=None, pad=2, frame=None, n_edge=16):
    """A north-up TAN output WCS and shape covering all tiles.

    The tangent point is the normalised mean direction of the tiles' corner
    and edge points; the shape is the bounding box of those points in that
    projection, plus ``pad`` pixels.  This is a simple, dependency-free
    computation (it does not use :func:`numbamosaic.find_optimal_celestial_wcs`).

    Parameters
    ----------
    hdus : list of HDU, or list of (shape, WCS)
        Tiles with celestial WCS headers.
    pixel_scale_arcsec : float, optional
        Output pixel size; default the median input pixel size.
    pad : int, optional
        Extra pixels on each side.
    frame : {'icrs', 'fk5', 'galactic'}, optional
        Output frame; default that of the first tile (which must match the
        others: no frame conversion is done).
    n_edge : int, optional
        Points sampled along each tile edge.

    Returns
    -------
    wcs : astropy.wcs.WCS
        Output WCS (with ``array_shape`` set).
    shape : tuple of int
        Output shape ``(ny, nx)``.
    """
    lons, lats, scales = [], [], []
    first_ctype = None
    for item in hdus:
        if isinstance(item, tuple):
            shape, w = item
            w = w.celestial
        else:
            w = WCS(item.header).celestial
            shape = item.data.shape if item.data is not None else (item.header["NAXIS2"], item.header["NAXIS1"])
        ny, nx = shape[-2:]
        if first_ctype is None:
            first_ctype = tuple(w.wcs.ctype)
        t = np.linspace(0.0, 1.0, n_edge)
        xs = np.concatenate([t * nx, np.full(n_edge, nx), t * nx, np.zeros(n_edge)]) - 0.5
        ys = np.concatenate([np.zeros(n_edge), t * ny, np.full(n_edge, ny), t * ny]) - 0.5
        lo, la = w.wcs_pix2world(xs, ys, 0)
        lons.append(lo)
        lats.append(la)
        scales.append(np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix))) * 3600.0)
    lons = np.concatenate(lons)
    lats = np.concatenate(lats)
    if frame is None:
        frame = "galactic" if first_ctype[0].startswith("GLON") else "icrs"
        if first_ctype[0].startswith("RA"):
            frame = "icrs"
            if not isinstance(hdus[0], tuple):
                rs = str(hdus[0].header.get("RADESYS", "ICRS")).strip().lower()
                frame = rs if rs in _FRAMES else "icrs"
    if pixel_scale_arcsec is None:
        pixel_scale_arcsec = float(np.median(scales))
    v = _unit_vectors(lons, lats).mean(axis=0)
    v /= np.linalg.norm(v)
    clon = float(np.rad2deg(np.arctan2(v[1], v[0])) % 360.0)
    clat = float(np.rad2deg(np.arcsin(np.clip(v[2], -1, 1))))
    # CRPIX = 1: the tangent point is at 0-based pixel (0, 0) for now.
    w = tile_wcs((clon, clat), (1, 1), pixel_scale_arcsec, 0.0, frame)
    x, y = w.wcs_world2pix(lons, lats, 0)
    x0 = np.floor(x.min() + 0.5) - pad
    y0 = np.floor(y.min() + 0.5) - pad
    x1 = np.ceil(x.max() - 0.5) + pad
    y1 = np.ceil(y.max() - 0.5) + pad
    shape = (int(y1 - y0) + 1, int(x1 - x0) + 1)
    # Shift so that the bounding box starts at pixel 0 (CRPIX is 1-based).
    w.wcs.crpix = [1.0 - x0, 1.0 - y0]
    w.wcs.set()
    w.array_shape = shape
    return w, shape
