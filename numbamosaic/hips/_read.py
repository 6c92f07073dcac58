"""Reading HiPS: ``reproject_from_hips`` (any output frame) and
``hips_as_dask_array`` (the whole-sky HPX map, one chunk per tile)."""

import os

import numpy as np

from ..io import check_celestial_2d, parse_output_projection
from .._threads import numba_threads, resolve_threads
from ..healpix._core import is_bilinear, sky_to_image, tiles_source
from ..kernels._healpix_layout import JPLL, JRLL, spread
from ._generate import candidate_tiles
from ._layout import _base_header, describe_hips, hips_frame, load_properties, read_tile, tile_path


def _open(directory, level):
    """``(properties, level, tile width, frame)`` of a HiPS to read (see ``_layout.describe_hips``)."""
    props = load_properties(directory)
    name, order, t, formats = describe_hips(props)
    if "fits" not in formats:
        raise ValueError(f"input_directory: the HiPS has no FITS tiles (tile formats: {' '.join(formats)})")
    level = order if level is None else int(level)
    if not 0 <= level <= order:
        raise ValueError(f"level: expected 0..{order} for this HiPS, got {level}")
    return props, level, t, hips_frame(name)


def _load_tiles(directory, level, t, indices):
    """Stack of the existing tiles among ``indices`` and their sorted indices."""
    keys, tiles = [], []
    for idx in np.sort(np.asarray(indices, dtype=np.int64)):
        path = tile_path(directory, level, int(idx), "fits")
        if os.path.exists(path):
            keys.append(int(idx))
            tiles.append(read_tile(path, t))
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
    bilinear = is_bilinear(order)
    props, level, t, frame = _open(input_directory, level)
    wcs, shape_out = parse_output_projection(output_projection, shape_out=shape_out)
    check_celestial_2d(wcs, "output_projection")
    nthreads = resolve_threads(parallel)
    stack, keys = _load_tiles(input_directory, level, t, candidate_tiles(wcs, shape_out, frame, level, t))
    tbits = t.bit_length() - 1
    horder = level + tbits
    out = np.empty(shape_out, dtype=np.float32)
    fp = np.empty(shape_out, dtype=np.float32)
    with numba_threads(nthreads):
        sky_to_image(tiles_source(stack, keys, tbits, horder), bilinear, wcs, frame, out, fp)
    return out, fp


def map_header(frame, level, tile_size):
    """FITS header of the whole-sky HPX map of ``level`` (``5 * 2**level`` tiles a
    side, the projection origin at the centre), reproject's layout."""

    size = 5 * 2**level * tile_size
    h = _base_header(frame, level, tile_size)
    h["CRPIX1"] = size / 2 + 0.5
    h["CRPIX2"] = size / 2 + 0.5
    h["NAXIS"] = 2
    h["NAXIS1"] = size
    h["NAXIS2"] = size
    return h


def map_chunk_tile(level, tile_size, i, j):
    """Nested index of the tile in chunk ``(i, j)`` of the map (None off the sky).

    Inverts ``x = 45 (jpll + (fx - fy) / N)``, ``y = 45 (2 - jrll + (fx + fy) / N)``
    at the chunk's centre (see ``_layout``)."""
    n = tile_size * 2**level
    size = 5 * 2**level * tile_size
    c = size / 2 + 0.5
    p1 = j * tile_size + tile_size / 2 + 0.5
    p2 = i * tile_size + tile_size / 2 + 0.5
    u = (-(p1 - c) - (p2 - c)) / n
    v = ((p1 - c) - (p2 - c)) / n
    for face in range(12):
        for wrap in (0.0, 8.0, -8.0):
            d = u + wrap - JPLL[face]
            s = v - 2 + JRLL[face]
            fx = 0.5 * n * (s + d)
            fy = 0.5 * n * (s - d)
            if 0 <= fx < n and 0 <= fy < n:
                ix, iy = int(fx) // tile_size, int(fy) // tile_size
                return (face << (2 * level)) + spread(ix) + (spread(iy) << 1)
    return None


class _HiPSMap:
    """Array-like view of a HiPS order as the whole-sky HPX map (for dask)."""

    def __init__(self, directory, level, tile_size):
        self.directory = directory
        self.level = level
        self.t = tile_size
        n = 5 * 2**level * tile_size
        self.shape = (n, n)
        self.ndim = 2
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, item):
        rows, cols = item
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        out = np.full(shape, np.nan, dtype=np.float32)
        if 0 in shape:
            return out
        idx = map_chunk_tile(self.level, self.t, rows.start // self.t, cols.start // self.t)
        if idx is not None:
            path = tile_path(self.directory, self.level, idx, "fits")
            if os.path.exists(path):
                tile = read_tile(path, self.t)
                r0, c0 = rows.start % self.t, cols.start % self.t
                out[...] = tile[r0 : r0 + shape[0], c0 : c0 + shape[1]]
        return out


def hips_as_dask_array(directory, *, level=None):
    """A HiPS order as a lazy dask array of the whole-sky HPX map and its WCS.

    Same layout as :func:`reproject.hips.hips_as_dask_array` (map of
    ``5 * 2**level`` tiles a side, one chunk per tile, NaN where there is no
    tile); chunks read their tile file when computed.  Needs dask.

    Parameters
    ----------
    directory : str
        HiPS directory with FITS tiles.
    level : int, optional
        Order to read (default: the deepest).

    Returns
    -------
    array : dask.array.Array (float32)
    wcs : astropy.wcs.WCS
    """
    import uuid

    import dask.array as da
    from astropy.wcs import WCS

    props, level, t, frame = _open(directory, level)
    wrapper = _HiPSMap(directory, level, t)
    arr = da.from_array(wrapper, chunks=(t, t), name=f"hips-{uuid.uuid4()}", meta=np.array([], dtype=np.float32))
    return arr, WCS(map_header(frame, level, t))
