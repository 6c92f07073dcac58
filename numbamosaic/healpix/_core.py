"""``reproject_to_healpix`` / ``reproject_from_healpix``: reproject's API on
fused Numba kernels (``kernels._healpix``).

HEALPix pixel centres, the WCS chain and the interpolation are evaluated per
pixel in one parallel kernel; WCS the native engine does not evaluate go
through astropy in bounded chunks (:data:`CHUNK` points).
"""

import math

import numpy as np

from ..io import as_kernel_array, check_celestial_2d, check_data_2d, parse_input_data, parse_output_projection
from ..interpolation import parse_order, spline_coefficients_for
from ..kernels._healpix import (
    NO_KEYS,
    healpix_lonlat,
    image_to_healpix_kernel,
    sample_positions,
    sky_at_lonlat_kernel,
    sky_to_image_kernel,
)
from .._threads import numba_threads, resolve_threads
from ..wcs import UnsupportedWCS, describe_wcs
from ..wcs._layout import PROJ_CODES, RARE_PROJECTIONS, PV_X0, PV_Y0, W_CODE, W_CRPIX, W_MINV, W_PV, W_ROT, W_SIP
from ..wcs._transform import described, frame_rotation

#: points per astropy call on the fallback paths
CHUNK = 262144


def parse_coord_system(system, name="coord_system_out"):
    """A celestial frame from a frame instance or a name (``'icrs'``,
    ``'galactic'``, ``'g'``, ``'c'``, ``'fk5'`` ...), as reproject."""
    from astropy.coordinates import ICRS, BaseCoordinateFrame, Galactic, frame_transform_graph

    if isinstance(system, BaseCoordinateFrame):
        return system
    if isinstance(system, type) and issubclass(system, BaseCoordinateFrame):
        return system()
    if isinstance(system, str):
        s = system.lower()
        if s == "e":
            raise ValueError(f"{name}: the ecliptic frame 'E' is not supported; pass an astropy frame instead")
        if s in ("g", "c"):
            return Galactic() if s == "g" else ICRS()
        cls = frame_transform_graph.lookup_name(s)
        if cls is not None:
            return cls()
    raise ValueError(f"{name}: could not determine a celestial frame from {system!r}")


def nside_to_order(nside, name="nside"):
    """``log2(nside)``; nside must be a power of two."""
    if isinstance(nside, bool) or not isinstance(nside, (int, np.integer)) or nside < 1 or (int(nside) & (int(nside) - 1)):
        raise ValueError(f"{name}: expected a power of two >= 1, got {nside!r}")
    return int(nside).bit_length() - 1


def npix_to_nside(npix, name="input_data"):
    nside = int(round(math.sqrt(npix / 12.0)))
    if 12 * nside * nside != npix:
        raise ValueError(f"{name}: {npix} values is not a valid HEALPix map size (12 nside**2)")
    return nside


def _interp_order(order):

    code = parse_order(order)
    if code > 3:
        raise ValueError(f"order: expected 'nearest-neighbor', 'bilinear', 'biquadratic', 'bicubic' or 0-3, got {order!r}")
    return code


def is_bilinear(order):
    """True for ``'bilinear'`` (1), False for ``'nearest-neighbor'`` (0): the orders of reading HEALPix maps."""
    if order in ("nearest-neighbor", 0):
        return False
    if order in ("bilinear", 1):
        return True
    raise ValueError(f"order: only 'nearest-neighbor' (0) and 'bilinear' (1) are supported, got {order!r}")


def output_to_frame_matrix(wcs, frame):
    """``(wcs_vector, m)`` for the kernels that fill an image from HEALPix
    pixels: the native WCS vector of the output ``wcs`` and ``m`` (9 float64),
    the matrix taking its native sphere's unit vectors to ``frame``.  Returns
    ``(None, None)`` when the WCS is not native (callers then use astropy)."""
    try:
        nw = describe_wcs(wcs)
    except UnsupportedWCS:
        return None, None
    if nw.projection in RARE_PROJECTIONS:  # the HEALPix kernels evaluate the general chain only
        return None, None
    R = nw.vector[W_ROT : W_ROT + 9].reshape(3, 3)
    return nw.vector, np.ascontiguousarray((frame_rotation(nw.frame, frame) @ R).ravel())


def input_to_frame_matrix(wcs, frame):
    """``(wcs_vector, m)`` for the kernels of ``kernels._healpix``: the native
    WCS vector and ``m`` (19 float64): the 3x3 matrix taking unit vectors in
    ``frame`` to the WCS's native sphere, then, for a gnomonic WCS without
    distortion, a flag and the 3x3 matrix taking them to homogeneous input
    pixels (see ``_to_input_pixel``).  Raises UnsupportedWCS, also for XPH and the
    quad cubes, which the HEALPix kernels (the general chain) are compiled without."""
    nw = described(wcs)  # memoised per WCS object (not modified here)
    if nw.projection in RARE_PROJECTIONS:
        raise UnsupportedWCS(f"{nw.projection}: not in the HEALPix kernels' projection chain")
    F = frame_rotation(frame, nw.frame)
    v = nw.vector
    R = v[W_ROT : W_ROT + 9].reshape(3, 3)
    M = R.T @ F
    m = np.zeros(19)
    m[:9] = M.ravel()
    if int(v[W_CODE]) == PROJ_CODES["TAN"] and v[W_SIP] == 0.0 and v[W_PV + PV_X0] == 0.0 and v[W_PV + PV_Y0] == 0.0:
        r2d = 180.0 / np.pi
        mi = v[W_MINV : W_MINV + 4].reshape(2, 2)
        cx, cy = v[W_CRPIX : W_CRPIX + 2]
        # native w -> (X, Y) = r2d (wy, -wx) / wz -> pixel = mi (X, Y) + crpix, homogeneous in w
        B = np.array([[-r2d * mi[0, 1], r2d * mi[0, 0], cx],
                      [-r2d * mi[1, 1], r2d * mi[1, 0], cy],
                      [0.0, 0.0, 1.0]])
        m[9] = 1.0
        m[10:] = (B @ M).ravel()
    return v, m


def reproject_to_healpix(input_data, coord_system_out, hdu_in=0, order="bilinear", nested=False, nside=128,
                         parallel=True):
    """Reproject a 2-D celestial image onto a HEALPix map.

    Drop-in replacement for :func:`reproject.reproject_to_healpix`.  Every
    HEALPix pixel centre is computed natively (Gorski et al. 2005), mapped
    through the input WCS and interpolated in one parallel Numba kernel.

    Parameters
    ----------
    input_data : str, Path, HDUList, HDU, (array, WCS or Header), NDData
        Input image and its celestial WCS.
    coord_system_out : str or astropy frame
        Frame of the HEALPix map (``'galactic'``/``'g'``, ``'icrs'``/``'c'``,
        any astropy frame name or instance).
    hdu_in : int or str, optional
        HDU for file and HDUList inputs.
    order : str or int
        ``'nearest-neighbor'``, ``'bilinear'`` (default), ``'biquadratic'``
        or ``'bicubic'`` (0-3), as :func:`numbamosaic.reproject_interp`.
    nested : bool
        Nested (True) or ring (False, default) pixel ordering.
    nside : int
        HEALPix resolution (a power of two).
    parallel : bool or int
        Threads (``True``: all).  Results do not depend on the thread count.

    Returns
    -------
    array : ndarray
        ``12 nside**2`` values, float32 for float32 inputs, NaN outside.
    footprint : ndarray
        1 where ``array`` is finite, else 0 (same dtype).

    References
    ----------
    Gorski, K. M. et al. 2005, ApJ 622, 759.
    """

    horder = nside_to_order(nside)
    code = _interp_order(order)
    frame = parse_coord_system(coord_system_out)
    array, wcs = parse_input_data(input_data, hdu_in=hdu_in)
    check_celestial_2d(wcs, "input_data")
    array = np.asarray(array)
    check_data_2d(array, "input_data")
    nthreads = resolve_threads(parallel)
    data, dtype = as_kernel_array(array, allow_swapped=True)
    coef = spline_coefficients_for(data, code)
    npix = 12 * nside * nside
    out = np.empty(npix, dtype=dtype)
    try:
        vec, m = input_to_frame_matrix(wcs, frame)
    except UnsupportedWCS:
        vec = None
    with numba_threads(nthreads):
        if vec is not None:
            image_to_healpix_kernel(data, coef, code, vec, m, nside, horder, bool(nested), out)
        else:
            _to_healpix_astropy(data, coef, code, wcs, frame, nside, horder, bool(nested), out,
                                healpix_lonlat, sample_positions)
    return out, (out == out).astype(dtype)


def _to_healpix_astropy(data, coef, code, wcs, frame, nside, horder, nested, out, healpix_lonlat, sample_positions):
    """Fallback: centres natively, world -> pixel through astropy, in chunks."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    npix = out.size
    lon = np.empty(min(CHUNK, npix))
    lat = np.empty_like(lon)
    for p0 in range(0, npix, CHUNK):
        n = min(CHUNK, npix - p0)
        healpix_lonlat(p0, nside, horder, nested, lon[:n], lat[:n])
        c = SkyCoord(lon[:n] * u.deg, lat[:n] * u.deg, frame=frame)
        with np.errstate(all="ignore"):
            x, y = wcs.world_to_pixel(c)
        x = np.ascontiguousarray(x, dtype=float)
        y = np.ascontiguousarray(y, dtype=float)
        sample_positions(data, coef, code, x, y, out[p0 : p0 + n])


def _healpix_table(hdu, field):
    from astropy.io import fits

    header = hdu.header
    if str(header.get("INDXSCHM", "IMPLICIT")).upper() == "EXPLICIT":
        raise ValueError("input_data: partial-sky (INDXSCHM = EXPLICIT) HEALPix tables are not supported")
    if "COORDSYS" not in header:
        raise ValueError("input_data: the HEALPix table has no COORDSYS keyword")
    frame = parse_coord_system(header["COORDSYS"], "input_data (COORDSYS)")
    data = hdu.data
    if not isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
        raise TypeError("input_data: expected a HEALPix table HDU")
    values = np.asarray(data[data.columns[field].name]).ravel()
    nested = None
    if "ORDERING" in header:
        nested = str(header["ORDERING"]).strip().lower() == "nested"
    return values, frame, nested


def parse_input_healpix_data(input_data, hdu_in=1, field=0, nested=None):
    """``(values, frame, nested)`` from a file name, HDUList, table HDU or
    ``(array, frame)`` tuple; ``nested`` from the ORDERING keyword when the
    caller gave none."""
    import os

    from astropy.io import fits

    if isinstance(input_data, (str, os.PathLike)):
        with fits.open(input_data) as hdul:
            values, frame, file_nested = _healpix_table(hdul[hdu_in if hdu_in is not None else 1], field)
            values = np.array(values)  # read before the file closes
    elif isinstance(input_data, fits.HDUList):
        values, frame, file_nested = _healpix_table(input_data[hdu_in if hdu_in is not None else 1], field)
    elif isinstance(input_data, (fits.BinTableHDU, fits.TableHDU)):
        values, frame, file_nested = _healpix_table(input_data, field)
    elif isinstance(input_data, tuple) and len(input_data) == 2:
        values = np.asarray(input_data[0])
        frame = parse_coord_system(input_data[1], "input_data (frame)")
        file_nested = None
    else:
        raise TypeError("input_data: expected a HEALPix FITS file, a table HDU or an (array, frame) tuple")
    return values, frame, (file_nested if nested is None else nested)


def reproject_from_healpix(input_data, output_projection, shape_out=None, hdu_in=1, order="bilinear", nested=None,
                           field=0, parallel=True):
    """Reproject a HEALPix map onto a 2-D celestial WCS.

    Drop-in replacement for :func:`reproject.reproject_from_healpix`.  Each
    output pixel is mapped to the sky natively and the map is interpolated
    there with the bilinear scheme of astropy-healpix (or takes the value of
    the containing pixel), in one parallel Numba kernel.

    Parameters
    ----------
    input_data : str, Path, HDUList, table HDU or (array, frame)
        HEALPix map: a FITS file (table in HDU ``hdu_in``, column ``field``,
        frame from ``COORDSYS``, ordering from ``ORDERING``) or a
        ``(values, frame)`` tuple.
    output_projection : Header or WCS
        Output frame; a WCS needs ``shape_out``.
    shape_out : tuple, optional
        Output shape ``(ny, nx)``.
    hdu_in : int or str
        HDU of the table in a file (default 1).
    order : str or int
        ``'nearest-neighbor'`` (0) or ``'bilinear'`` (1, default).
    nested : bool, optional
        Pixel ordering; read from ``ORDERING`` for files when not given.
    field : int
        Column of the table to read.
    parallel : bool or int
        Threads (``True``: all).  Results do not depend on the thread count.

    Returns
    -------
    array, footprint : ndarray
        float32 for a float32 map, else float64.  Bilinear: NaN (footprint
        0) where one of the four pixels is NaN; nearest: footprint 1 on the
        whole sky, as reproject.
    """
    bilinear = is_bilinear(order)
    values, frame, nested = parse_input_healpix_data(input_data, hdu_in=hdu_in, field=field, nested=nested)
    if nested is None:
        raise ValueError(
            "nested: could not determine whether the data follows the 'ring' or 'nested' ordering; "
            "set nested=True or nested=False"
        )
    nside = npix_to_nside(values.size)
    horder = nside_to_order(nside, "input_data (nside)")
    hdata, dtype = as_kernel_array(values.ravel())
    hdata = np.ascontiguousarray(hdata)
    wcs, shape_out = parse_output_projection(output_projection, shape_out=shape_out)
    check_celestial_2d(wcs, "output_projection")
    nthreads = resolve_threads(parallel)
    out = np.empty(shape_out, dtype=dtype)
    fp = np.empty(shape_out, dtype=dtype)
    with numba_threads(nthreads):
        sky_to_image(map_source(hdata, nested, horder), bilinear, wcs, frame, out, fp)
    return out, fp


def map_source(hdata, nested, horder):
    """Sky source of a whole HEALPix map (see ``kernels._healpix``)."""

    return hdata.reshape(1, 1, -1), NO_KEYS, -1, bool(nested), 1 << horder, horder


def tiles_source(stack, keys, tbits, horder):
    """Sky source of loaded HiPS tiles ``stack[k]`` of nested indices ``keys`` (sorted) at order
    ``horder - tbits`` (see ``kernels._healpix``)."""
    return stack, keys, tbits, True, 1 << horder, horder


def sky_to_image(source, bilinear, wcs, frame, out, fp):
    """Fill ``out``/``fp`` (the output frame ``wcs``) from a sky source in ``frame``: one parallel
    kernel for a native WCS, else output pixels -> sky through astropy, rows in bounded chunks."""

    vector, m = output_to_frame_matrix(wcs, frame)
    if vector is not None:
        sky_to_image_kernel(*source, bilinear, vector, m, out, fp)
        return
    ny, nx = out.shape
    rows = max(1, CHUNK // nx)
    for y0 in range(0, ny, rows):
        y1 = min(ny, y0 + rows)
        yy, xx = np.mgrid[y0:y1, 0:nx]
        with np.errstate(all="ignore"):
            c = wcs.pixel_to_world(xx.ravel(), yy.ravel()).transform_to(frame)
            sph = c.represent_as("unitspherical")
        lon = np.ascontiguousarray(sph.lon.deg, dtype=float)
        lat = np.ascontiguousarray(sph.lat.deg, dtype=float)
        sky_at_lonlat_kernel(*source, bilinear, lon, lat, out[y0:y1].reshape(-1), fp[y0:y1].reshape(-1))
