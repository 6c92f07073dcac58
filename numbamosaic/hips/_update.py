"""Incremental HiPS: add inputs to an existing HiPS directory.

:func:`update_hips` computes the deepest tiles the new inputs touch (as
:func:`~numbamosaic.hips.mosaic_to_hips` would, from the new inputs only),
merges each with the tile already on disk, and rewrites only those tiles,
their ancestors at every lower order (each rebuilt from its four children
as read back from disk), the ``Allsky`` image, the coverage MOC (the old
one united with the new cells) and ``properties``.  Every other file is left
untouched.

What can be updated
-------------------
A HiPS stores combined pixels, not the inputs behind them, so only combine
functions whose result can be carried forward from the stored value are
exact: ``min``, ``max``, ``first`` (stored pixels win) and ``last`` (new
pixels win).  For these the updated HiPS is bitwise the HiPS built from all
inputs at once (old inputs first; FITS tiles, Allsky and MOC).  ``mean``,
``sum`` and weighted means would need the per-pixel weights, and ``median``
and ``clipped-mean`` the original inputs: they are refused (rebuild from all
inputs, or combine HiPS directories with :func:`~numbamosaic.coadd_hips`).
PNG/JPEG tiles keep the display cut recorded in ``properties``.
"""

import os
from datetime import datetime, timezone

import numpy as np

from ._dask import DaskTiles
from ._generate import (
    ALLSKY_ORDER,
    ALLSKY_WIDTH,
    MOC_EXTRA,
    _cells_to_icrs,
    _map_threads,
    _moc_cells,
    _progress,
    _shrink,
    _write_allsky,
    _Writer,
    parse_many,
    split_parallel,
    tile_members,
)
from ._layout import (
    hips_frame,
    load_properties,
    moc_uniq,
    place_child,
    reduce2x2,
    save_properties,
    tile_path,
    uniq_orders,
    write_moc,
)
from ._tiles import coadd_tiles

#: combine functions an update can carry forward exactly -> merge of (stored, new)
MERGES = {
    "max": lambda old, new: np.fmax(old, new),
    "min": lambda old, new: np.fmin(old, new),
    "first": lambda old, new: np.where(np.isnan(old), new, old),
    "last": lambda old, new: np.where(np.isnan(new), old, new),
}


def _read_tile(path):
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[0].data, dtype=np.float32)


def update_hips(output_directory, input_data, *, combine_function, reproject_function=None, input_weights=None,
                hdu_in=None, threads=None, progress_bar=None, **kwargs):
    """Add inputs to an existing HiPS, rewriting only what they touch.

    Parameters
    ----------
    output_directory : str
        A HiPS with FITS tiles (written by numbamosaic or any tool with the
        same layout); its frame, deepest order, tile width and formats are
        kept.
    input_data : list
        New inputs, in any form :func:`numbamosaic.reproject_and_coadd`
        accepts.
    combine_function : {'max', 'min', 'first', 'last'}
        How new pixels combine with the stored ones (see the module
        docstring for why others are refused).
    reproject_function, input_weights, hdu_in, threads, progress_bar, **kwargs
        As :func:`numbamosaic.hips.mosaic_to_hips` (``threads`` may be
        ``'current-scheduler'``: the new tiles are then computed on dask).

    Returns
    -------
    list of int
        Nested indices of the deepest tiles written.
    """
    if combine_function not in MERGES:
        raise ValueError(
            f"combine_function: an existing HiPS can be updated exactly with {', '.join(MERGES)}, got "
            f"{combine_function!r} (a HiPS stores combined pixels, not the weights or inputs behind them)")
    directory = str(output_directory)
    try:
        props = load_properties(directory)
    except OSError as exc:
        raise ValueError(f"output_directory: {directory} has no readable properties file ({exc})") from exc
    formats = tuple("jpeg" if f == "jpg" else f for f in props.get("hips_tile_format", "").split())
    if "fits" not in formats:
        raise ValueError(f"output_directory: {directory} has no FITS tiles (hips_tile_format = {formats})")
    coord_system_out = props["hips_frame"]
    frame = hips_frame(coord_system_out)
    level = int(props["hips_order"])
    tile_size = int(props["hips_tile_width"])
    cut = tuple(float(v) for v in props.get("hips_pixel_cut", "0 1").split()[:2])
    if "parallel" in kwargs:
        threads = kwargs.pop("parallel")
    nthreads, client = split_parallel(threads, "threads")
    parsed, weights = parse_many(input_data, input_weights, hdu_in)
    members = tile_members(parsed, frame, level, tile_size)
    tile_fn = coadd_tiles(parsed, weights, members, frame, level, tile_size,
                          dict(kwargs, reproject_function=reproject_function, combine_function=combine_function))
    writer = _Writer(directory, frame, tile_size, formats, cut)
    merge = MERGES[combine_function]
    extra = min(MOC_EXTRA, int(np.log2(tile_size)))

    def deepest(index, new):
        if new is None or not np.isfinite(new).any():
            return None
        path = tile_path(directory, level, index, "fits")
        arr = merge(_read_tile(path), new).astype(np.float32) if os.path.exists(path) else new
        writer.write(level, index, arr)
        cells = _moc_cells(level, index, arr, extra)
        if coord_system_out != "equatorial":
            cells = _cells_to_icrs(cells, level + extra, frame)
        return index, cells, float(np.nanmin(arr)), float(np.nanmax(arr))

    candidates = sorted(members)
    if client is None:
        results = _map_threads(lambda i: deepest(i, tile_fn(i)), candidates, nthreads, _progress(progress_bar))
    else:

        remote = DaskTiles(client, tile_fn)
        try:
            results = _map_threads(lambda it: deepest(*it), list(zip(candidates, remote.map(candidates))), nthreads,
                                   None)
        finally:
            remote.close()
    results = [r for r in results if r is not None]
    touched = [r[0] for r in results]
    if not touched:
        return []

    # ancestors, order by order, each from its four children as stored
    allsky_order = min(ALLSKY_ORDER, level)
    current = sorted(set(touched))
    for order in range(level - 1, -1, -1):
        parents = sorted({i >> 2 for i in current})

        def parent(p, o=order):
            arr = np.full((tile_size, tile_size), np.nan, dtype=np.float32)
            for sub in range(4):
                c = tile_path(directory, o + 1, 4 * p + sub, "fits")
                if os.path.exists(c):
                    place_child(arr, reduce2x2(_read_tile(c)), sub)
            writer.write(o, p, arr)

        _map_threads(parent, parents, nthreads, None)
        current = parents

    # Allsky from the stored tiles of its order
    allsky_w = min(ALLSKY_WIDTH, tile_size)
    allsky = {}
    base = os.path.join(directory, f"Norder{allsky_order}")
    for d in sorted(os.listdir(base)):
        if d.startswith("Dir"):
            for f in os.listdir(os.path.join(base, d)):
                if f.startswith("Npix") and f.endswith(".fits"):
                    allsky[int(f[4:-5])] = _shrink(_read_tile(os.path.join(base, d, f)), allsky_w)
    _write_allsky(directory, allsky_order, allsky, allsky_w, formats, cut)

    # MOC: the stored one united with the new cells
    from astropy.io import fits

    moc_order = level + extra
    parts = [moc_uniq(np.concatenate([r[1] for r in results]), moc_order)]
    moc_path = os.path.join(directory, "Moc.fits")
    if os.path.exists(moc_path):
        with fits.open(moc_path, memmap=False) as hdul:
            parts.append(np.asarray(hdul[1].data["UNIQ"], dtype=np.int64))
    uniq = moc_uniq(np.concatenate(parts), moc_order, is_uniq=True)
    write_moc(moc_path, uniq, moc_order)

    lo = min(r[2] for r in results)
    hi = max(r[3] for r in results)
    if "hips_data_range" in props:
        old = [float(v) for v in props["hips_data_range"].split()]
        lo, hi = min(lo, old[0]), max(hi, old[1])
    props["hips_data_range"] = f"{lo} {hi}"
    props["moc_sky_fraction"] = f"{float(np.sum(4.0 ** (-uniq_orders(uniq, moc_order)))) / 12.0:.6g}"
    props["hips_release_date"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    save_properties(directory, props)
    return touched

