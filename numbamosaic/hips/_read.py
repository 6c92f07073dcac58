"""Reading HiPS: ``reproject_from_hips`` (any output frame) and
``hips_as_dask_array`` (the whole-sky HPX map, one chunk per tile)."""

import os

import numpy as np

from .. import _threads  # noqa: F401
from .._io import check_celestial_2d, parse_output_projection
from .._threads import numba_threads, resolve_threads
from ..healpix._core import CHUNK
from ..kernels._healpix import hips_at_lonlat_kernel, hips_to_image_kernel
from ..wcs import UnsupportedWCS, describe_wcs
from ..wcs._layout import W_ROT
from ..wcs._transform import frame_rotation
from ._generate import candidate_tiles
from ._layout import hips_frame, load_properties, tile_path


def _open(directory, level):
    props = load_properties(directory)
    if props.get("dataproduct_type", "image") != "image":
        raise ValueError(f"input_directory: only image HiPS are supported, got {props.get('dataproduct_type')!r}")
    if "fits" not in props.get("hips_tile_format", "").split():
        raise ValueError(f"input_directory: the HiPS has no FITS tiles (hips_tile_format = {props.get('hips_tile_format')!r})")
    order = int(props["hips_order"])
    level = order if level is None else int(level)
    if not 0 <= level <= order:
        raise ValueError(f"level: expected 0..{order} for this HiPS, got {level}")
    t = int(props["hips_tile_width"])
    if t < 1 or t & (t - 1):
        raise ValueError(f"input_directory: hips_tile_width {t} is not a power of two")
    return props, level, t, hips_frame(props["hips_frame"])


def _load_tiles(directory, level, t, indices):
    """Stack of the existing tiles among ``indices`` and their sorted indices."""
    from astropy.io import fits

    keys, tiles = [], []
    for idx in np.sort(np.asarray(indices, dtype=np.int64)):
        path = tile_path(directory, level, int(idx), "fits")
        if os.path.exists(path):
            with fits.open(path, memmap=False) as hdul:
                a = np.asarray(hdul[0].data, dtype=np.float32)
            if a.shape != (t, t):
                raise ValueError(f"input_directory: tile {path} has shape {a.shape}, expected {(t, t)}")
            keys.append(int(idx))
            tiles.append(a)
    stack = np.stack(tiles) if tiles else np.zeros((0, t, t), dtype=np.float32)
    return stack, np.asarray(keys, dtype=np.int64)


def reproject_from_hips(input_directory, output_projection, shape_out=None, level=None, order="bilinear",
                        parallel=True):
    """Reproject a HiPS (FITS tiles) onto any 2-D celestial frame.

    Only the tiles the output touches are read.  Each output pixel is mapped
    to the sky natively and the HiPS, seen as a HEALPix map of order
    ``level + log2(tile width)``, is interpolated there as in
    :func:`numbamosaic.reproject_from_healpix` (astropy-healpix's bilinear
    scheme, or the containing pixel).

    Parameters
    ----------
    input_directory : str
        HiPS directory with FITS tiles (``properties``, ``NorderK/DirD/NpixN.fits``).
    output_projection : Header or WCS
        Output frame; a WCS needs ``shape_out``.
    shape_out : tuple, optional
        Output shape ``(ny, nx)``.
    level : int, optional
        HiPS order to read (default: the deepest, ``hips_order``).
    order : str or int
        ``'bilinear'`` (1, default) or ``'nearest-neighbor'`` (0).
    parallel : bool or int
        Threads (``True``: all).

    Returns
    -------
    array, footprint : ndarray (float32)
        NaN and footprint 0 where the HiPS has no data.
    """
    if order in ("nearest-neighbor", 0):
        bilinear = False
    elif order in ("bilinear", 1):
        bilinear = True
    else:
        raise ValueError(f"order: only 'nearest-neighbor' (0) and 'bilinear' (1) are supported, got {order!r}")
    props, level, t, frame = _open(input_directory, level)
    wcs, shape_out = parse_output_projection(output_projection, shape_out=shape_out)
    check_celestial_2d(wcs, "output_projection")
    nthreads = resolve_threads(parallel)
    stack, keys = _load_tiles(input_directory, level, t, candidate_tiles(wcs, shape_out, frame, level, t))
    tbits = t.bit_length() - 1
    horder = level + tbits
    nside = 1 << horder
    out = np.empty(shape_out, dtype=np.float32)
    fp = np.empty(shape_out, dtype=np.float32)
    try:
        nw = describe_wcs(wcs)
        R = nw.vector[W_ROT : W_ROT + 9].reshape(3, 3)
        m = np.ascontiguousarray((frame_rotation(nw.frame, frame) @ R).ravel())
    except UnsupportedWCS:
        nw = None
    with numba_threads(nthreads):
        if nw is not None:
            hips_to_image_kernel(stack, keys, tbits, nside, horder, bilinear, nw.vector, m, out, fp)
        else:
            ny, nx = shape_out
            rows = max(1, CHUNK // nx)
            for y0 in range(0, ny, rows):
                y1 = min(ny, y0 + rows)
                yy, xx = np.mgrid[y0:y1, 0:nx]
                with np.errstate(all="ignore"):
                    sph = wcs.pixel_to_world(xx.ravel(), yy.ravel()).transform_to(frame).represent_as("unitspherical")
                hips_at_lonlat_kernel(stack, keys, tbits, nside, horder, bilinear,
                                      np.ascontiguousarray(sph.lon.deg, dtype=float),
                                      np.ascontiguousarray(sph.lat.deg, dtype=float),
                                      out[y0:y1].reshape(-1), fp[y0:y1].reshape(-1))
    return out, fp
