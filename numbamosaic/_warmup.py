"""Compile numbamosaic's kernels ahead of time: :func:`warmup`.

Numba compiles a kernel the first time it is called with new argument types
and keeps the machine code in numbamosaic's cache directory
(``numbamosaic._cache``).  :func:`warmup` makes those first calls on tiny
synthetic inputs through the public functions, so it compiles exactly what
real calls compile, whatever the kernels' internal layout:

* ``reproject_and_coadd`` of two in-memory arrays (native byte order) for
  each method and combine function;
* the same from FITS files (memory-mapped, big-endian, as the command line
  and most survey scripts read them), and streamed into a FITS file as the
  command line writes it (:func:`~numbamosaic.mosaic_to_fits`), when
  ``files=True``;
* the single-image function of each method, serial and on two threads
  (the executor's strips; the spline prefilter's ``prange``), when ``single=True``;
* all of the above for TAN -> TAN transforms (homographies) and, when
  ``general=True``, again with a SIN output frame (the kernels' variant for
  any transform).

Run it once at install or image-build time (``numbamosaic warmup``) with the
cache directory the jobs will use (``NUMBA_CACHE_DIR`` on a shared file
system for a cluster): later processes then only load machine code.
"""

import os
import tempfile
import time

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from ._cache import cache_root
from .adaptive import reproject_adaptive
from .exact import reproject_exact
from .interpolation import ORDERS, reproject_interp
from .mosaic import mosaic_to_fits, reproject_and_coadd
from .mosaic._tiles import COMBINES

#: method names accepted by :func:`warmup` (as ``numbamosaic mosaic --method``)
METHODS = ("nearest", "bilinear", "biquadratic", "bicubic", "lanczos3", "exact", "adaptive")
DTYPES = ("float32", "float64")
_SHAPE_IN = (24, 24)
_SHAPE_OUT = (32, 32)


def _wcs(crval, rot_deg, shape, proj="TAN"):
    w = WCS(naxis=2)
    w.wcs.ctype = [f"RA---{proj}", f"DEC--{proj}"]
    w.wcs.crval = list(crval)
    w.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    t = np.radians(rot_deg)
    w.wcs.cd = 2e-4 * np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])
    return w


def _inputs(dtype, proj="TAN"):
    """Two overlapping TAN tiles (data, WCS) and an output frame in ``proj`` covering both."""
    rng = np.random.default_rng(0)
    tiles = []
    for k, (ra, rot) in enumerate(((150.0, 0.0), (150.002, 7.0))):
        data = rng.normal(size=_SHAPE_IN).astype(dtype)
        data[3 + k, 5] = np.nan  # blank pixels go through the same code as in real data
        tiles.append((data, _wcs((ra, 2.0), rot, _SHAPE_IN)))
    return tiles, _wcs((150.001, 2.0), 3.0, _SHAPE_OUT, proj)


def _method(name):
    """``(single-image function, keyword arguments)`` for a method name."""
    key = str(name).lower()
    if key == "exact":
        return reproject_exact, {}
    if key == "adaptive":
        return reproject_adaptive, {}
    if key in ORDERS:
        return reproject_interp, {"order": key}
    raise ValueError(f"methods: expected names among {list(METHODS)}, got {name!r}")


def _mosaic(inputs, w_out, **kwargs):
    """``reproject_and_coadd`` as one output tile and as several: a tile
    narrower than the output is a non-contiguous view of it, which the
    combine kernels see as another array layout."""
    for tile_size in (None, _SHAPE_OUT[0] // 2):
        reproject_and_coadd(inputs, w_out, shape_out=_SHAPE_OUT, parallel=1, tile_size=tile_size, **kwargs)


def _names(values, default, allowed, what):
    values = default if values is None else ([values] if isinstance(values, str) else list(values))
    for v in values:
        if v not in allowed:
            raise ValueError(f"{what}: expected names among {list(allowed)}, got {v!r}")
    if not values:
        raise ValueError(f"{what}: give at least one name")
    return values


def warmup(methods=None, combines=None, dtypes=("float32",), files=True, single=True, match_background=False,
           general=True, verbose=False):
    """Compile (or load from the on-disk cache) the kernels of the given methods.

    Each requested method, combine function and input dtype is run once on
    tiny synthetic inputs through the public functions, so the kernels land
    in numbamosaic's cache directory and later processes load them instead
    of compiling.  A second call in the same process costs milliseconds.

    Parameters
    ----------
    methods : str or list of str, optional
        Among ``'nearest'``, ``'bilinear'``, ``'biquadratic'``, ``'bicubic'``,
        ``'lanczos3'``, ``'exact'``, ``'adaptive'``; default all.
        Each interpolation order is its own compiled variant (the order is a
        literal type, so a call compiles only its own interpolant);
        ``'biquadratic'`` and ``'bicubic'`` add the spline prefilter.
    combines : str or list of str, optional
        Combine functions of :func:`~numbamosaic.reproject_and_coadd`; default
        all.  Every method is warmed with the first one, every combine with
        the first method.
    dtypes : str or list of str, optional
        Input data types, ``'float32'`` (default) and/or ``'float64'``.
        Integer and float16 images use the float32 kernels.
    files : bool, optional
        Also mosaic from FITS files (memory-mapped, big-endian data, as the
        command line reads them).  Default True.
    single : bool, optional
        Also warm the single-image functions (``reproject_interp`` ...),
        serial and threaded.  Default True.
    match_background : bool, optional
        Also warm background matching.  Default False.
    general : bool, optional
        Also warm the kernels' variant for any transform (every step again
        with a SIN output frame).  The resampling kernels are compiled in two
        variants: one for TAN -> TAN without distortion (a homography, the
        usual survey mosaic, compiled without the projection chain) and one
        for everything else (other projections, SIP/TPV distortions, other
        frames), see ``wcs._native.map_point``.  Default True.
    verbose : bool, optional
        Print one line per step.

    Returns
    -------
    dict
        ``seconds`` (total), ``steps`` (list of ``(description, seconds)``)
        and ``cache_dir`` (where numbamosaic's compiled kernels live; None
        if that directory is not writable, in which case Numba's own cache
        locations were used, see ``numbamosaic._cache``).

    Notes
    -----
    With an empty cache this takes from tens of seconds (one interpolation
    method) to a few minutes (every method, both dtypes) on two cores; with
    a warm cache, about a second.

    References
    ----------
    Numba documentation, "Notes on Caching",
    https://numba.readthedocs.io/en/stable/developer/caching.html
    """
    methods = _names(methods, list(METHODS), METHODS + tuple(ORDERS), "methods")
    combines = _names(combines, list(COMBINES), tuple(COMBINES), "combines")
    dtypes = _names([np.dtype(d).name for d in ([dtypes] if isinstance(dtypes, (str, type, np.dtype)) else dtypes)],
                    None, DTYPES, "dtypes")
    steps = []
    t_all = time.perf_counter()

    def step(label, fn, *args, **kwargs):
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        steps.append((label, time.perf_counter() - t0))
        if verbose:
            print(f"  {steps[-1][1]:7.2f} s  {label}", flush=True)

    with tempfile.TemporaryDirectory(prefix="numbamosaic-warmup-") as tmp:
        for dtype, proj in [(d, p) for d in dtypes for p in (("TAN", "SIN") if general else ("TAN",))]:
            tiles, w_out = _inputs(dtype, proj)
            frame = "" if proj == "TAN" else f", {proj} output"
            paths = []
            if files:
                for k, (data, w) in enumerate(tiles):
                    paths.append(os.path.join(tmp, f"{dtype}_{proj}_{k}.fits"))
                    fits.PrimaryHDU(data, header=w.to_header()).writeto(paths[-1])
            runs = [(m, combines[0]) for m in methods] + [(methods[0], c) for c in combines[1:]]
            for method, combine in runs:
                func, kw = _method(method)
                rf = None if func is reproject_interp else func
                for kind, inputs in (("arrays", tiles), ("FITS files", paths)):
                    if inputs:
                        step(f"{method} {combine} {dtype} mosaic from {kind}{frame}", _mosaic, inputs, w_out,
                             reproject_function=rf, combine_function=combine, **kw)
                if paths:
                    step(f"{method} {combine} {dtype} mosaic into a FITS file{frame}", mosaic_to_fits, paths, w_out,
                         os.path.join(tmp, "mosaic.fits"), shape_out=_SHAPE_OUT, overwrite=True, fsync=False,
                         reproject_function=rf, combine_function=combine, parallel=1, **kw)
            if single:
                for method in methods:
                    func, kw = _method(method)
                    for parallel in (False, 2):
                        step(f"{method} {dtype} single image, parallel={parallel}{frame}", func, tiles[0], w_out,
                             shape_out=_SHAPE_OUT, parallel=parallel, **kw)
            if match_background:
                func, kw = _method(methods[0])
                rf = None if func is reproject_interp else func
                step(f"{methods[0]} {dtype} background matching{frame}", _mosaic, tiles, w_out, reproject_function=rf,
                     match_background=True, **kw)
    root = cache_root()
    return {"seconds": time.perf_counter() - t_all, "steps": steps,
            "cache_dir": root if os.access(root, os.W_OK) else None}
