"""HiPS generation: ``reproject_to_hips`` (reproject's signature) and
``mosaic_to_hips`` (many inputs, numbamosaic's combine functions).

(Above 600 lines on purpose: the two public functions share the pipeline
below step for step, and each step is a short function; tile kernels, the
layout, the memory plan, the dask driver and the updates have their own
modules.)

Pipeline
--------
1. Candidate tiles at the deepest order: the input domain (with a margin of
   1.5 tiles) is sampled every quarter tile and the tiles containing the
   samples are kept; a tile that has any input pixel centre is always among
   them.  Candidates without data are computed and dropped, never written.
2. Deepest tiles, in parallel on Python threads or dask workers (one tile
   per task, by the picklable tile functions of :mod:`._tiles`; tiles are
   independent, so files are bitwise identical for any thread count and on
   a cluster, :mod:`._dask`):

   * one input resampled with numbamosaic's ``reproject_interp``: the fused
     kernel ``kernels._healpix.hips_tile_kernel`` (HEALPix pixel centres,
     WCS and interpolation per pixel, no WCS objects per tile);
   * several inputs combined by ``mean``, ``sum``, ``first``, ``last``,
     ``min`` or ``max`` with ``reproject_interp`` (nearest, bilinear,
     Lanczos; biquadratic and bicubic when every input's spline coefficient
     image fits the memory budget): the same fused kernel once per
     input meeting the tile, accumulating into the tile's value/weight
     buffers with the mosaic's sinks (``_tiles.FusedCoaddTiles``: the
     arithmetic of ``reproject_and_coadd`` on the tile, inputs prepared
     once, no WCS objects per tile);
   * otherwise ``reproject_function`` (one input) or
     :func:`numbamosaic.reproject_and_coadd` (several inputs, only those
     whose footprint meets the tile) onto the tile's HPX frame
     (:func:`._layout.tile_header`).
   With ``match_background`` the offsets of the inputs are solved once,
   over the whole survey, before the tiles (:mod:`._background`).
3. Orders ``level - 1 .. 0`` by 2x2 NaN-ignoring averages of the children,
   as hipsgen; the ``Allsky`` image of order ``min(3, level)``; the coverage
   MOC (``Moc.fits``); ``properties`` and ``index.html``.

Memory: the input arrays (memory-mapped for files), one group of deepest
tiles (at most ``4**GROUP_DEPTH``) with their 2x2 reductions, four reduced
children per order above the group (a streaming pyramid: children arrive in
nested order), the order-3 Allsky thumbnails (at most 768 x 64**2 pixels)
and the coverage MOC, normalised group by group.  The candidate list holds
one integer per deepest tile the inputs may touch.
"""

import math
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import numpy as np

from ..io import as_kernel_array, check_celestial_2d, check_data_2d, parse_input_data
from .._budget import memory_budget
from .._threads import resolve_threads
from ..kernels._healpix_layout import spread
from ..kernels._hpgeom import lonlat_to_nest_array, nest_to_lonlat_array
from ..healpix._core import input_to_frame_matrix
from ..interpolation import parse_order, reproject_interp, spline_coefficients_for
from ..wcs import UnsupportedWCS, frame_rotation, pixel_to_world_array
from ..wcs._transform import described
from ._background import estimate_offsets
from ._dask import DaskTiles, split_parallel
from ._plan import group_depth, hips_memory
from ._tiles import KernelTiles, ReprojectTiles, coadd_tiles
from ._layout import (
    EXTENSION,
    allsky_layout,
    hips_frame,
    moc_uniq,
    place_child,
    reduce2x2,
    save_properties,
    tile_face_xy,
    uniq_orders,
    FitsTileWriter,
    _card,
    describe_hips,
    load_properties,
    read_tile,
    write_fits_raw,
    tile_path,
    write_image_tile,
    write_moc,
)

INDEX_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><p>HiPS <b>{title}</b> written by numbamosaic: open this directory in Aladin
(File &gt; Open) or serve it over HTTP.</p></body></html>
"""

RESERVED = ("dataproduct_type", "hips_version", "hips_tile_format", "hips_tile_width", "hips_order", "hips_frame")
#: order of the Allsky image (the HiPS standard's order 3, or the deepest order if lower)
ALLSKY_ORDER = 3
ALLSKY_WIDTH = 64
#: MOC resolution: 2**MOC_EXTRA cells a tile side (at most)
MOC_EXTRA = 4
#: deepest tiles are processed in groups of at most 4**GROUP_DEPTH (one subtree)
GROUP_DEPTH = 3


def _pixel_scale_deg(wcs, shape):
    """Smallest pixel scale (deg) at the reference pixel, as reproject's ``pixel_scale``."""
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

    if isinstance(wcs, WCS):
        # a 2-D celestial WCS is its own celestial part (``.celestial`` deep-copies it: ~1 ms)
        return float(np.min(np.abs(proj_plane_pixel_scales(wcs if wcs.naxis == 2 else wcs.celestial))))
    xp, yp = (shape[1] - 1) / 2, (shape[0] - 1) / 2
    c = wcs.pixel_to_world(np.array([xp, xp, xp + 1]), np.array([yp, yp + 1, yp]))
    return float(min(c[0].separation(c[2]).deg, c[0].separation(c[1]).deg))


def auto_level(scale_deg, tile_size):
    """HiPS order whose tiles' pixels are nearest to ``scale_deg`` (reproject's rule)."""
    res = math.radians(scale_deg * tile_size)
    nside = math.sqrt(4 * math.pi / (res * res) / 12)
    return max(0, int(np.round(np.log2(nside))))


def _tile_deg(level):
    return math.degrees(math.sqrt(math.pi / 3.0)) / 2**level


def candidate_tiles(wcs, shape, frame, level, tile_size, scale=None):
    """Sorted nested indices at ``level`` of the tiles the input may touch
    (``scale``: the input's pixel scale in degrees, if already known)."""
    scale = _pixel_scale_deg(wcs, shape) if scale is None else scale
    tile = _tile_deg(level)
    step = max(0.5, 0.25 * tile / scale)
    margin = min(1.5 * tile / scale, 4.0 * max(shape) + 8.0)
    ny, nx = shape
    xs = np.arange(-0.5 - margin, nx - 0.5 + margin + step, step)
    ys = np.arange(-0.5 - margin, ny - 0.5 + margin + step, step)
    # the exact domain edges are always sampled
    xs = np.unique(np.concatenate([xs, [-0.5, nx - 0.5]]))
    ys = np.unique(np.concatenate([ys, [-0.5, ny - 0.5]]))
    X, Y = np.meshgrid(xs, ys)
    lon, lat = _pixels_to_lonlat(wcs, X.ravel(), Y.ravel(), frame)
    idx = np.empty(lon.size, dtype=np.int64)
    lonlat_to_nest_array(lon, lat, 1 << level, level, idx)
    return np.unique(idx[idx >= 0])


def _pixels_to_lonlat(wcs, x, y, frame):
    """(lon, lat) in degrees in ``frame`` of the input pixels ``(x, y)`` (NaN where
    invalid): the native WCS engine (memoised description, one rotation), else astropy."""
    try:
        nw = described(wcs)
        rot = frame_rotation(nw.frame, frame)
    except UnsupportedWCS:
        nw = None
    if nw is not None:
        lon = np.empty(x.size)
        lat = np.empty(x.size)
        pixel_to_world_array(nw.vector, x, y, lon, lat)
        with np.errstate(invalid="ignore"):
            a, d = np.radians(lon), np.radians(lat)
            v = rot @ np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])
            return np.degrees(np.arctan2(v[1], v[0])), np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        c = wcs.pixel_to_world(x, y)
        c = c.transform_to(frame).represent_as("unitspherical")
    return np.ascontiguousarray(c.lon.deg, dtype=float), np.ascontiguousarray(c.lat.deg, dtype=float)


def _data_cut(arrays):
    """Linear display cut (0.5 and 99.5 percentiles of finite values, on ~2.5e5 samples at most)."""
    vals = []
    for a in arrays:
        a = np.asarray(a)
        stride = max(1, int(math.sqrt(a.size / 2.5e5 * len(arrays))))
        v = np.asarray(a[::stride, ::stride], dtype=np.float64).ravel()
        vals.append(v[np.isfinite(v)])
    v = np.concatenate(vals) if vals else np.zeros(0)
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(v, [0.5, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _parse_formats(tile_format):
    if tile_format is None:
        return ("fits",)
    if isinstance(tile_format, str):
        tile_format = [f.strip() for f in tile_format.split(",")]
    fmts = tuple("jpeg" if f == "jpg" else f for f in tile_format)
    bad = [f for f in fmts if f not in EXTENSION]
    if bad or not fmts:
        raise ValueError(f"tile_format: expected fits, png and/or jpeg, got {tile_format!r}")
    return fmts


class _Writer:
    """Writes tiles of every format; keeps the data range."""

    def __init__(self, directory, frame, tile_size, formats, cut):
        self.directory = directory
        self.frame = frame
        self.tile_size = tile_size
        self.formats = formats
        self.cut = cut
        self.made = set()
        self.fits = FitsTileWriter(frame, tile_size)

    def write(self, order, index, array):
        for fmt in self.formats:
            path = tile_path(self.directory, order, index, EXTENSION[fmt])
            d = os.path.dirname(path)
            if d not in self.made:
                os.makedirs(d, exist_ok=True)
                self.made.add(d)
            if fmt == "fits":
                self.fits.write(path, order, index, array)
            else:
                write_image_tile(path, array, self.cut, fmt)


def _map_threads(fn, items, nthreads, progress_bar, pool=None):
    """``fn`` over ``items`` on ``nthreads`` threads (of ``pool``, an executor
    kept by the caller, or of a new one), results in input order."""
    if nthreads <= 1 or len(items) <= 1:
        it = items if progress_bar is None else progress_bar(items)
        return [fn(i) for i in it]
    if pool is None:
        with ThreadPoolExecutor(max_workers=nthreads) as ex:
            return _map_threads(fn, items, nthreads, progress_bar, ex)
    futures = [pool.submit(fn, i) for i in items]
    it = futures if progress_bar is None else progress_bar(futures)
    return [f.result() for f in it]


def _progress(progress_bar):
    if progress_bar is True:
        from tqdm.auto import tqdm

        return lambda it: tqdm(it, desc="HiPS tiles")
    if progress_bar is False:
        return None
    return progress_bar


def _moc_cells(order, index, array, extra):
    """Nested cells at ``order + extra`` of the tile that hold finite pixels."""
    t = array.shape[0]
    b = t >> extra
    ok = np.isfinite(array).reshape(t // b, b, t // b, b).any(axis=(1, 3))
    r, c = np.nonzero(ok)
    n = ok.shape[0]
    face, ix, iy = tile_face_xy(order, index)
    fx = ix * n + (n - 1 - r)
    fy = iy * n + c
    o = order + extra

    return (np.int64(face) << (2 * o)) + spread(fx.astype(np.int64)) + (spread(fy.astype(np.int64)) << 1)


def _build(directory, frame, coord_system_out, level, tile_size, candidates, tile_fn, formats, cut, nthreads,
           progress_bar, properties, centre, fov, client=None, depth=None):
    """Steps 2-3 of the module docstring (deepest tiles on ``nthreads``
    threads, or on the dask cluster ``client``; groups of ``4**depth``
    deepest tiles, by default ``4**GROUP_DEPTH``, see :mod:`._plan`)."""
    from astropy.coordinates import ICRS

    if tile_size < 2 or tile_size & (tile_size - 1):
        raise ValueError(f"tile_size: expected a power of two, got {tile_size}")
    properties = dict(properties or {})
    for key in properties:
        if key in RESERVED:
            raise ValueError(f"properties: cannot override {key!r}")
    depth = GROUP_DEPTH if depth is None else depth
    os.makedirs(directory, exist_ok=False)
    writer = _Writer(directory, frame, tile_size, formats, cut)
    extra = min(MOC_EXTRA, int(math.log2(tile_size)))
    allsky_order = min(ALLSKY_ORDER, level)
    allsky_w = min(ALLSKY_WIDTH, tile_size)
    allsky = {}
    lo_hi = [np.inf, -np.inf]

    def deepest(index, arr):
        if arr is None or not np.isfinite(arr).any():
            return None
        writer.write(level, int(index), arr)
        cells = _moc_cells(level, int(index), arr, extra)
        if coord_system_out != "equatorial":
            cells = _cells_to_icrs(cells, level + extra, frame)
        return (
            int(index),
            reduce2x2(arr) if level > 0 else None,
            cells,
            float(np.nanmin(arr)),
            float(np.nanmax(arr)),
            _shrink(arr, allsky_w) if level == allsky_order else None,
        )

    def build_parent(order, p, children):
        """Write tile ``p`` of ``order`` from its children's 2x2 reductions ``{sub: array}``."""
        arr = np.full((tile_size, tile_size), np.nan, dtype=np.float32)
        for sub, c in children.items():
            place_child(arr, c, sub)
        writer.write(order, p, arr)
        if order == allsky_order:
            allsky[p] = _shrink(arr, allsky_w)
        return reduce2x2(arr) if order > 0 else None

    # Deepest tiles are processed in groups, one per ancestor at order
    # ``top`` (at most 4**GROUP_DEPTH tiles, on threads); each group's subtree
    # is completed up to that ancestor, whose reduction then enters a
    # streaming pyramid for the orders above (children arrive in nested
    # order, so a parent is complete when the next child has another parent).
    # Memory: one group's reduced tiles plus four children per order.
    top = max(0, level - depth)
    shift = 2 * (level - top)
    groups = {}
    for idx in candidates:
        groups.setdefault(int(idx) >> shift, []).append(int(idx))
    pending = {}  # order -> (parent index, {sub: reduced child})
    counts = {o: 0 for o in range(level + 1)}

    def push(order, index, red):
        if order == 0:
            return
        po, p = order - 1, index >> 2
        cur = pending.get(po)
        if cur is not None and cur[0] != p:
            finish(po)
        pending.setdefault(po, (p, {}))[1][index & 3] = red

    def finish(po):
        p, children = pending.pop(po)
        counts[po] += 1
        push(po, p, build_parent(po, p, children))

    if client is None:
        def group_results(ids):
            return _map_threads(lambda i: deepest(i, tile_fn(i)), ids, nthreads, None, pool)
    else:

        remote = DaskTiles(client, tile_fn)

        def group_results(ids):
            return _map_threads(lambda it: deepest(*it), list(zip(ids, remote.map(ids))), nthreads, None, pool)

    # one pool for every group and order (not one per call: thread start-ups)
    pool = ThreadPoolExecutor(max_workers=nthreads) if nthreads > 1 else None
    moc_parts = []
    roots = sorted(groups)
    try:
        for root in (roots if progress_bar is None else progress_bar(roots)):
            results = [r for r in group_results(groups[root]) if r is not None]
            if not results:
                continue
            counts[level] += len(results)
            reduced = {r[0]: r[1] for r in results}
            moc_parts.append(moc_uniq(np.concatenate([r[2] for r in results]), level + extra))
            for r in results:
                lo_hi[0] = min(lo_hi[0], r[3])
                lo_hi[1] = max(lo_hi[1], r[4])
                if r[5] is not None:
                    allsky[r[0]] = r[5]
            del results
            for order in range(level - 1, top - 1, -1):
                parents = {}
                for i, red in reduced.items():
                    parents.setdefault(i >> 2, {})[i & 3] = red
                keys = sorted(parents)
                reds = _map_threads(lambda p, o=order: build_parent(o, p, parents[p]), keys, nthreads, None, pool)
                counts[order] += len(keys)
                reduced = dict(zip(keys, reds))
            for p, red in reduced.items():
                push(top, p, red)
    finally:
        if client is not None:
            remote.close()
        if pool is not None:
            pool.shutdown()
    while pending:
        finish(max(pending))
    written = counts
    if counts[level]:
        _write_allsky(directory, allsky_order, allsky, allsky_w, formats, cut)
        moc_order = level + extra
        uniq = moc_uniq(np.concatenate(moc_parts), moc_order, is_uniq=True)
        write_moc(os.path.join(directory, "Moc.fits"), uniq, moc_order)
        orders = uniq_orders(uniq, moc_order)
        sky_fraction = float(np.sum(4.0 ** (-orders))) / 12.0
    else:
        import warnings

        warnings.warn("no tile has data: only properties and index.html were written", RuntimeWarning, stacklevel=3)
        sky_fraction = 0.0
    c_icrs = centre.transform_to(ICRS())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    pixel_deg = _tile_deg(level) / tile_size  # sqrt(4 pi / npix) at order level + log2(tile_size)
    props = {
        "creator_did": f"ivo://numbamosaic/P/{uuid.uuid4()}",
        "obs_title": os.path.basename(os.path.normpath(directory)),
        "dataproduct_type": "image",
        "hips_version": "1.4",
        "hips_creation_date": now,
        "hips_release_date": now,
        "hips_status": "public master clonableOnce",
        "hips_tile_format": " ".join(formats),
        "hips_tile_width": tile_size,
        "hips_order": level,
        "hips_order_min": 0,
        "hips_frame": coord_system_out,
        "hips_pixel_scale": f"{pixel_deg:.6g}",
        "hips_builder": "numbamosaic",
        "hips_initial_ra": float(c_icrs.ra.deg),
        "hips_initial_dec": float(c_icrs.dec.deg),
        "hips_initial_fov": float(fov),
        "hips_pixel_bitpix": -32,
        "hips_pixel_cut": f"{cut[0]} {cut[1]}",
        "moc_sky_fraction": f"{sky_fraction:.6g}",
    }
    if np.isfinite(lo_hi[0]):
        props["hips_data_range"] = f"{lo_hi[0]} {lo_hi[1]}"
    props.update(properties)
    save_properties(directory, props)
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(INDEX_HTML.format(title=props["obs_title"]))
    return written


def _cells_to_icrs(cells, order, frame):
    """Nested cells of ``order`` in ``frame`` -> the ICRS cells holding their centres (MOCs are ICRS)."""
    from astropy.coordinates import ICRS, SkyCoord
    import astropy.units as u

    lon = np.empty(cells.size)
    lat = np.empty(cells.size)
    nest_to_lonlat_array(cells, 1 << order, order, lon, lat)
    c = SkyCoord(lon * u.deg, lat * u.deg, frame=frame).transform_to(ICRS())
    out = np.empty(lon.size, dtype=np.int64)
    lonlat_to_nest_array(np.ascontiguousarray(c.ra.deg), np.ascontiguousarray(c.dec.deg), 1 << order, order, out)
    return out


def _shrink(arr, w):
    """Tile reduced to ``w x w`` by NaN-ignoring block means."""
    t = arr.shape[0]
    while t > w:
        arr = reduce2x2(arr)
        t //= 2
    return np.asarray(arr, dtype=np.float32)


def _write_allsky(directory, order, tiles, w, formats, cut):
    """``Norder{order}/Allsky.{ext}``: all tiles of ``order`` side by side (tile 0
    top left as displayed; the FITS array is the displayed image flipped)."""
    per_row, rows = allsky_layout(order)
    # the FITS array (bottom row first), big-endian as written: tile n's rows are the
    # displayed rows r w .. (r + 1) w - 1 from the top, flipped, i.e. the tile as it is
    fits_rows = rows * w
    disp = np.full((fits_rows, per_row * w), np.nan, dtype=">f4")
    for n, a in tiles.items():
        r, c = divmod(n, per_row)
        disp[fits_rows - (r + 1) * w : fits_rows - r * w, c * w : (c + 1) * w] = a
    os.makedirs(os.path.join(directory, f"Norder{order}"), exist_ok=True)
    for fmt in formats:
        path = os.path.join(directory, f"Norder{order}", f"Allsky.{EXTENSION[fmt]}")
        if fmt == "fits":
            h = disp.shape
            cards = (_card("SIMPLE", True) + _card("BITPIX", -32) + _card("NAXIS", 2) + _card("NAXIS1", h[1])
                     + _card("NAXIS2", h[0]) + _card("ORDER", order))
            write_fits_raw(path, cards, disp)
        else:
            write_image_tile(path, disp, cut, fmt)


def _centre_and_fov(wcs, shape, frame):
    ny, nx = shape
    xs = np.array([(nx - 1) / 2, -0.5, nx - 0.5, -0.5, nx - 0.5])
    ys = np.array([(ny - 1) / 2, -0.5, -0.5, ny - 0.5, ny - 0.5])
    with np.errstate(all="ignore"):
        c = wcs.pixel_to_world(xs, ys)
    sep = c[1:].separation(c[0]).deg
    fov = 1.5 * float(np.nanmax(sep)) if np.isfinite(sep).any() else 180.0
    return c[0], fov


def _centre_and_fov_many(parsed):
    """Centre (mean direction of the inputs' centres) and 1.5 x the largest
    distance from it to an input corner, in degrees."""
    from astropy.coordinates import SkyCoord

    vs = []
    for a, w in parsed:
        ny, nx = a.shape
        with np.errstate(all="ignore"):
            c = w.pixel_to_world(np.array([(nx - 1) / 2, -0.5, nx - 0.5, -0.5, nx - 0.5]),
                                 np.array([(ny - 1) / 2, -0.5, -0.5, ny - 0.5, ny - 0.5])).icrs
        vs.append(c.cartesian.xyz.value)
    v = np.concatenate(vs, axis=1)
    v = v[:, np.all(np.isfinite(v), axis=0)]
    m = v.sum(axis=1)
    centre = SkyCoord(np.degrees(np.arctan2(m[1], m[0])), np.degrees(np.arctan2(m[2], np.hypot(m[0], m[1]))),
                      unit="deg", frame="icrs")
    c = SkyCoord(np.degrees(np.arctan2(v[1], v[0])), np.degrees(np.arcsin(np.clip(v[2], -1, 1))), unit="deg",
                 frame="icrs")
    sep = c.separation(centre).deg
    return centre, (1.5 * float(np.nanmax(sep)) if np.isfinite(sep).any() else 180.0)


def _is_numbamosaic_interp(fn):

    return fn is reproject_interp


def reproject_to_hips(
    input_data,
    *,
    coord_system_out,
    reproject_function,
    output_directory,
    level=None,
    level_depth=None,
    hdu_in=0,
    tile_size=512,
    tile_depth=16,
    progress_bar=None,
    threads=None,
    properties=None,
    tile_format=None,
    memory_limit=None,
    **kwargs,
):
    """Reproject an image to a HiPS directory (reproject's signature).

    Drop-in for :func:`reproject.hips.reproject_to_hips` for 2-D celestial
    images: the same tile files (``NorderK/DirD/NpixN.fits``, every order
    down to 0 by 2x2 averages), plus an ``Allsky`` image and a coverage MOC
    (``Moc.fits``).  With ``reproject_function=numbamosaic.reproject_interp``
    the tiles are computed by one fused kernel each (HEALPix pixel centres
    evaluated natively); any other function is called on each tile's HPX
    frame.  A list of inputs is passed to :func:`mosaic_to_hips`.

    Parameters
    ----------
    input_data : image input (see :func:`numbamosaic.reproject_interp`) or list
        The image (or a list of images to combine).
    coord_system_out : {'equatorial', 'galactic', 'ecliptic'}
        Frame of the HiPS.
    reproject_function : callable
        E.g. :func:`numbamosaic.reproject_interp`; ``**kwargs`` go to it
        (e.g. ``order='bicubic'``).
    output_directory : str
        Created; an existing directory is an error.
    level : int, optional
        Deepest order; by default the order whose pixels are nearest the
        input's (reproject's rule).
    level_depth, tile_depth : ignored
        Spectral cubes are not supported (reproject's HiPS3D arguments).
    hdu_in : int or str
        HDU for file inputs.
    tile_size : int
        Tile width in pixels (a power of two; default 512 as reproject).
    progress_bar : callable or bool, optional
        Wraps the iteration over deepest tiles (``True``: tqdm).
    threads : bool, int, 'current-scheduler' or distributed.Client, optional
        Tiles run on this many threads (``None``/``True``: all cores,
        ``False``: one), or on a dask cluster (``'current-scheduler'``, also
        accepted as ``parallel=``: one tile a task, the files written by
        the caller; see :mod:`numbamosaic.hips._dask`).  The files do not
        depend on it.
    properties : dict, optional
        Extra ``properties`` entries.
    tile_format : str or list, optional
        ``'fits'`` (default), ``'png'``, ``'jpeg'`` or several
        (``'fits,png'``); PNG/JPEG use a linear stretch between the 0.5 and
        99.5 percentiles of the input.
    memory_limit : int or str, optional
        Budget for what generation allocates (``'2GB'``; default 60 % of the
        available memory): the groups of deepest tiles are sized to fit
        (:mod:`numbamosaic.hips._plan`), and a budget too small for one tile
        raises :class:`~numbamosaic.MosaicMemoryError` before any work.

    Returns
    -------
    None

    References
    ----------
    Fernique, P. et al. 2017, IVOA HiPS Recommendation 1.0.
    """
    if isinstance(input_data, list):
        return mosaic_to_hips(
            input_data, coord_system_out=coord_system_out, reproject_function=reproject_function,
            output_directory=output_directory, level=level, hdu_in=hdu_in, tile_size=tile_size,
            progress_bar=progress_bar, threads=threads, properties=properties, tile_format=tile_format,
            memory_limit=memory_limit, **kwargs,
        )

    frame = hips_frame(coord_system_out)
    formats = _parse_formats(tile_format)
    if not callable(reproject_function):
        raise TypeError("reproject_function: expected a callable such as numbamosaic.reproject_interp")
    if kwargs.get("parallel") == "current-scheduler" or type(kwargs.get("parallel")).__name__ == "Client":
        threads = kwargs.pop("parallel")  # tiles on the cluster (one serial tile a task)
    nthreads, client = split_parallel(threads, "threads")
    array, wcs = parse_input_data(input_data, hdu_in=hdu_in)
    check_celestial_2d(wcs, "input_data")
    array = np.asarray(array)
    check_data_2d(array, "input_data")
    if level is None:
        level = auto_level(_pixel_scale_deg(wcs, array.shape), tile_size)
    level = int(level)
    depth = group_depth(memory_limit, tile_size, nthreads, 1, client is not None, level, GROUP_DEPTH)
    candidates = candidate_tiles(wcs, array.shape, frame, level, tile_size)
    cut = _data_cut([array])
    tile_fn = None
    if _is_numbamosaic_interp(reproject_function) and set(kwargs) <= {"order", "roundtrip_coords", "parallel"}:
        try:

            vec, m = input_to_frame_matrix(wcs, frame)
            code = parse_order(kwargs.get("order", "bilinear"))
            data, dtype = as_kernel_array(array, allow_swapped=True)
            coef = spline_coefficients_for(data, code)
            tile_fn = KernelTiles(data, coef, code, vec, m, level, tile_size, dtype)
        except UnsupportedWCS:
            tile_fn = None
    if tile_fn is None:
        if coord_system_out == "ecliptic":
            raise ValueError("coord_system_out: 'ecliptic' needs reproject_function=numbamosaic.reproject_interp "
                             "with a WCS the native engine evaluates (astropy has no ecliptic HPX WCS)")
        kw = dict(kwargs)
        if _is_numbamosaic_interp(reproject_function) or getattr(reproject_function, "__module__", "").startswith("numbamosaic"):
            kw.setdefault("parallel", 1)
        tile_fn = ReprojectTiles(array, wcs, frame, level, tile_size, reproject_function, kw)

    centre, fov = _centre_and_fov(wcs, array.shape, frame)
    _build(output_directory, frame, coord_system_out, level, tile_size, candidates, tile_fn, formats, cut, nthreads,
           _progress(progress_bar), properties, centre, fov, client, depth)


def mosaic_to_hips(
    input_data,
    *,
    coord_system_out,
    output_directory,
    reproject_function=None,
    combine_function="mean",
    input_weights=None,
    level=None,
    hdu_in=None,
    tile_size=512,
    progress_bar=None,
    threads=None,
    properties=None,
    tile_format=None,
    memory_limit=None,
    **kwargs,
):
    """Build a HiPS from many images combined with numbamosaic's combine functions.

    Every deepest tile is :func:`numbamosaic.reproject_and_coadd` of the
    inputs whose footprint meets it onto the tile's HPX frame (mean, sum,
    median, clipped mean, first, last, min, max; input weights).  Median and
    clipped mean (and other resampling methods, B-spline orders whose
    coefficient images do not fit the memory budget, WCS the native engine
    does not evaluate) make that call, so each tile equals it
    exactly; mean, sum, first, last, min and max with ``reproject_interp``
    (B-spline orders too when the inputs' coefficient images fit the memory
    budget: they are computed once and kept) run the fused HiPS kernel
    input by input with the same arithmetic,
    computing HEALPix pixel centres natively instead of through the tile's
    HPX WCS (a pixel may differ from the call by one float32 rounding).
    Lower orders, Allsky, MOC and properties as :func:`reproject_to_hips`.

    Parameters
    ----------
    input_data : list
        Inputs in any form :func:`numbamosaic.reproject_and_coadd` accepts.
    coord_system_out, output_directory, level, tile_size, progress_bar, threads, properties, tile_format, memory_limit
        As :func:`reproject_to_hips`; the default level follows the finest input.  ``parallel`` is accepted for ``threads``
        (as :func:`numbamosaic.reproject_and_coadd`).
    reproject_function : callable, optional
        numbamosaic's ``reproject_interp`` (default), ``reproject_exact`` or
        ``reproject_adaptive``.
    combine_function : str
        Combine function of :func:`numbamosaic.reproject_and_coadd`.
    input_weights : list, optional
        Weight images, as :func:`numbamosaic.reproject_and_coadd`.
    **kwargs
        Passed to :func:`numbamosaic.reproject_and_coadd` (e.g. ``order``,
        ``clip_sigma``).  ``match_background=True`` matches additive
        offsets over the whole survey (not per tile, :mod:`._background`;
        ``background_reference`` as the mosaic's, ``background_model`` must
        be ``'offset'``).
    """
    match = bool(kwargs.pop("match_background", False))
    reference = kwargs.pop("background_reference", None)
    if kwargs.pop("background_model", "offset") != "offset":
        raise ValueError("background_model: mosaic_to_hips matches constant offsets only ('offset'): "
                         "a plane in output pixels has no meaning across HiPS tiles")
    if not isinstance(input_data, (list, tuple)) or len(input_data) == 0:
        raise ValueError("input_data: expected a non-empty list of inputs")
    frame = hips_frame(coord_system_out)
    if coord_system_out == "ecliptic":
        raise ValueError("coord_system_out: 'ecliptic' is not supported by mosaic_to_hips (astropy has no ecliptic HPX WCS)")
    formats = _parse_formats(tile_format)
    if "parallel" in kwargs:  # reproject_and_coadd's name for it
        threads = kwargs.pop("parallel")
    nthreads, client = split_parallel(threads, "threads")
    parsed, weights = parse_many(input_data, input_weights, hdu_in)
    scales = [_pixel_scale_deg(w, a.shape) for a, w in parsed]
    if level is None:
        level = max(auto_level(s, tile_size) for s in scales)
    level = int(level)
    members = tile_members(parsed, frame, level, tile_size, scales)
    candidates = sorted(members)
    stack = max((len(m) for m in members.values()), default=1)
    depth = group_depth(memory_limit, tile_size, nthreads, stack, client is not None, level, GROUP_DEPTH)
    cut = _data_cut([a for a, _ in parsed])
    if reference is not None and not (isinstance(reference, (int, np.integer)) and 0 <= reference < len(parsed)):
        raise ValueError(f"background_reference: expected an input index below {len(parsed)}, got {reference!r}")
    offsets = None
    if match and len(parsed) > 1:
        offsets = estimate_offsets(parsed, members, frame, level, tile_size, _resampler(reproject_function, kwargs),
                                   reference, lambda fn, items: _map_threads(fn, items, nthreads, None))
    budget, _ = memory_budget(memory_limit)
    tile_fn = coadd_tiles(parsed, weights, members, frame, level, tile_size,
                          dict(kwargs, reproject_function=reproject_function, combine_function=combine_function),
                          offsets, state_budget=budget - hips_memory(depth, tile_size, nthreads, stack,
                                                                     client is not None, level))
    centre, fov = _centre_and_fov_many(parsed)
    _build(output_directory, frame, coord_system_out, level, tile_size, candidates, tile_fn, formats, cut, nthreads,
           _progress(progress_bar), properties, centre, fov, client, depth)


def parse_many(input_data, input_weights, hdu_in):
    """``(inputs as (array, WCS), weights or None)``; errors name the input."""
    if not isinstance(input_data, (list, tuple)) or len(input_data) == 0:
        raise ValueError("input_data: expected a non-empty list of inputs")
    parsed = []
    for i, item in enumerate(input_data):
        try:
            a, w = parse_input_data(item, hdu_in=hdu_in, name=f"input_data[{i}]")
            check_celestial_2d(w, f"input_data[{i}]")
            a = np.asarray(a)
            check_data_2d(a, f"input_data[{i}]")
        except (ValueError, TypeError, FileNotFoundError) as exc:
            raise type(exc)(f"{exc} (input {i}: {item if isinstance(item, (str, os.PathLike)) else type(item).__name__})") from exc
        parsed.append((a, w))
    weights = None
    if input_weights is not None:
        if len(input_weights) != len(parsed):
            raise ValueError(f"input_weights: expected {len(parsed)} weight images, got {len(input_weights)}")
        weights = list(input_weights)
    return parsed, weights


def tile_members(parsed, frame, level, tile_size, scales=None):
    """Deepest tile index -> indices of the inputs that may meet it (``scales``: their pixel scales, if known)."""
    members = {}
    for i, (a, w) in enumerate(parsed):
        for t in candidate_tiles(w, a.shape, frame, level, tile_size, None if scales is None else scales[i]):
            members.setdefault(int(t), []).append(i)
    return members


def _resampler(reproject_function, kwargs):
    """``(input, wcs, shape_out) -> (array, footprint)`` with the mosaic's resampling arguments."""
    import inspect


    fn = reproject_function or reproject_interp
    params = inspect.signature(fn).parameters
    kw = {k: v for k, v in kwargs.items() if k in params and k not in ("parallel", "shape_out", "return_footprint")}
    return lambda inp, wcs, shape: fn(inp, wcs, shape_out=shape, parallel=1, **kw)


def _combine_stack(stack, combine_function):
    """Combine co-located tiles ``stack`` (n, T, T) pixel by pixel, ignoring NaN."""
    import warnings

    ok = np.isfinite(stack)
    anyok = ok.any(axis=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if combine_function == "mean":
            out = np.nanmean(stack, axis=0)
        elif combine_function == "median":
            out = np.nanmedian(stack, axis=0)
        elif combine_function == "sum":
            out = np.where(anyok, np.nansum(stack, axis=0), np.nan)
        elif combine_function == "min":
            out = np.nanmin(stack, axis=0)
        elif combine_function == "max":
            out = np.nanmax(stack, axis=0)
        elif combine_function in ("first", "last"):
            order = range(stack.shape[0]) if combine_function == "first" else range(stack.shape[0] - 1, -1, -1)
            out = np.full(stack.shape[1:], np.nan, dtype=stack.dtype)
            for k in order:
                take = np.isnan(out) & ok[k]
                out[take] = stack[k][take]
        else:
            raise ValueError(f"combine_function: expected mean, median, sum, min, max, first or last, got {combine_function!r}")
    return np.asarray(out, dtype=np.float32)


def coadd_hips(input_directories, output_directory, combine_function="mean", threads=None, tile_format=None,
               properties=None):
    """Combine HiPS directories tile by tile with a real combine function.

    Unlike :func:`reproject.hips.coadd_hips` (last tile wins, FITS tiles not
    combined), co-located deepest tiles are combined pixel by pixel (``mean``,
    ``median``, ``sum``, ``min``, ``max``, ``first``, ``last``, NaN ignored)
    and every lower order, the Allsky image and the MOC are rebuilt from them.

    Parameters
    ----------
    input_directories : list of str
        HiPS directories with FITS tiles, the same frame, tile width and order.
    output_directory : str
        Created; an existing directory is an error.
    combine_function : str
        See above.
    threads : bool or int, optional
        Threads for the tiles (default: all cores).
    tile_format : str or list, optional
        Output formats (default ``'fits'``).
    properties : dict, optional
        Extra ``properties`` entries.
    """
    from astropy.coordinates import SkyCoord
    import astropy.units as u


    dirs = [str(d) for d in input_directories]
    if not dirs:
        raise ValueError("input_directories: expected at least one HiPS directory")
    props = []
    for i, d in enumerate(dirs):
        try:
            props.append(load_properties(d))
        except OSError as exc:
            raise ValueError(f"input_directories[{i}]: {d} has no readable properties file ({exc})") from exc
    described = [describe_hips(p, f"input_directories[{i}]") for i, p in enumerate(props)]
    for k, key in enumerate(("hips_frame", "hips_order", "hips_tile_width")):
        vals = {d[k] for d in described}
        if len(vals) > 1:
            raise ValueError(f"input_directories: {key} differs between the inputs: {sorted(map(str, vals))}")
    for i, d in enumerate(described):
        if "fits" not in d[3]:
            raise ValueError(f"input_directories[{i}]: {dirs[i]} has no FITS tiles")
    _combine_stack(np.zeros((1, 2, 2), dtype=np.float32), combine_function)  # validates the name early
    coord_system_out, level, tile_size, _ = described[0]
    frame = hips_frame(coord_system_out)
    nthreads = resolve_threads(True if threads is None else threads, "threads")
    found = set()
    for d in dirs:
        for path in glob_tiles(d, level):
            found.add(int(os.path.basename(path)[4:].split(".")[0]))
    candidates = sorted(found)

    def tile_fn(index):
        tiles = []
        for d in dirs:
            path = tile_path(d, level, index, "fits")
            if os.path.exists(path):
                tiles.append(read_tile(path, tile_size))
        return _combine_stack(np.stack(tiles), combine_function) if tiles else None

    cuts = [p.get("hips_pixel_cut", "").split() for p in props]
    cuts = [(float(c[0]), float(c[1])) for c in cuts if len(c) == 2]
    cut = (min(c[0] for c in cuts), max(c[1] for c in cuts)) if cuts else (0.0, 1.0)
    ra = float(props[0].get("hips_initial_ra", 0.0))
    dec = float(props[0].get("hips_initial_dec", 0.0))
    fov = max(float(p.get("hips_initial_fov", 180.0)) for p in props)
    _build(output_directory, frame, coord_system_out, level, tile_size, candidates, tile_fn,
           _parse_formats(tile_format), cut, nthreads, None, properties, SkyCoord(ra * u.deg, dec * u.deg), fov)


def glob_tiles(directory, order):
    """FITS tile paths of ``order`` in a HiPS directory."""
    import glob

    return glob.glob(os.path.join(directory, f"Norder{order}", "Dir*", "Npix*.fits"))
