"""``numbamosaic mosaic``: options -> :func:`reproject_and_coadd` keyword arguments, provenance, the written file."""

import importlib.util
import logging
import os
import shlex
import sys
import time

import numpy as np
from astropy.io import fits

from .._fitsout import FitsMosaic, mosaic_header, provenance_header
from .._zarrout import ZarrMosaic, coverage_fraction
from ..adaptive import reproject_adaptive
from ..exact import reproject_exact
from ..mosaic import reproject_and_coadd
from ..mosaic._coadd import mosaic_dtype
from ..mosaic._inputs import make_sources
from ..mosaic._plan import parse_memory
from ._frame import _output_frame, describe_frame
from ._inputs import _check_output, _is_zarr_path, expand_inputs
from ._parser import METHODS, UsageError, say, want_progress
from ._preview import write_preview

#: the non-interpolating reproject functions by ``METHODS`` kind
_FUNCTIONS = {"exact": reproject_exact, "adaptive": reproject_adaptive}


def _reproject_function(method, conserve):
    """(reproject_function or None, extra kwargs) for ``--method``."""
    kind, order = METHODS[method]
    if kind == "interp":
        if conserve == "flux":
            raise UsageError("--conserve flux needs --method exact or --method adaptive")
        return None, {"order": order}
    func = _FUNCTIONS[kind]
    if kind == "exact":
        return func, ({"conserve": "flux"} if conserve == "flux" else {})
    return func, ({"conserve_flux": True} if conserve == "flux" else {})


def _coadd_kwargs(args, n_inputs, weights):
    """Keyword arguments for :func:`reproject_and_coadd` from parsed options."""
    func, extra = _reproject_function(args.method, args.conserve)
    if args.memory_limit is not None:
        try:
            parse_memory(args.memory_limit, "--memory-limit")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.tmpdir is not None and not os.path.isdir(args.tmpdir):
        raise UsageError(f"--tmpdir {args.tmpdir}: not an existing directory")
    if args.background_reference is not None:
        if not args.match_background:
            raise UsageError("--background-reference needs --match-background")
        if not 0 <= args.background_reference < n_inputs:
            raise UsageError(f"--background-reference {args.background_reference}: out of range for {n_inputs} inputs (0-based)")
    if weights is not None and len(weights) != n_inputs:
        raise UsageError(f"--weights: {len(weights)} weight files for {n_inputs} inputs (they are matched in order)")
    kwargs = dict(
        input_weights=weights,
        hdu_in=args.hdu,
        hdu_weights=args.weights_hdu,
        reproject_function=func,
        combine_function=args.combine,
        match_background=args.match_background,
        background_reference=args.background_reference,
        background_model=args.background_model,
        blank_pixel_value=args.blank,
        memory_limit=args.memory_limit,
        tmpdir=args.tmpdir,
        parallel=args.threads if args.threads else True,
        tile_size=args.tile_size,
        **extra,
    )
    if args.combine == "clipped-mean":
        kwargs.update(clip_sigma=args.clip_sigma, clip_iters=args.clip_iters)
    return kwargs


def _options_line(args, n_weights=None):
    """Short description of the options for the HISTORY card."""
    parts = [f"--method {args.method}", f"--combine {args.combine}"]
    if args.method in ("exact", "adaptive") and args.conserve != "surface-brightness":
        parts.append(f"--conserve {args.conserve}")
    if args.combine == "clipped-mean":
        parts.append(f"--clip-sigma {args.clip_sigma:g} --clip-iters {args.clip_iters}")
    if args.header:
        parts.append(f"--header {shlex.quote(args.header)}")
    else:
        for opt in ("frame", "resolution", "center"):
            value = getattr(args, opt)
            if value is not None:
                text = ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else f"{value}"
                parts.append(f"--{opt} {text}")
        if args.projection != "TAN":
            parts.append(f"--projection {args.projection}")
        if args.auto_rotate:
            parts.append("--auto-rotate")
    if args.weights:
        parts.append(f"--weights ({n_weights if n_weights is not None else len(args.weights)} files)")
    if args.match_background:
        parts.append(f"--match-background --background-model {args.background_model}")
        if args.background_reference is not None:
            parts.append(f"--background-reference {args.background_reference}")
    parts.append(f"--blank {args.blank:g}")
    if args.hdu is not None:
        parts.append(f"--hdu {args.hdu}")
    return " ".join(parts)


class _TileProgress:
    """tqdm bars on stderr for the mosaic stages (background pass, tiles)."""

    def __init__(self, stages):
        self.stages = list(stages)

    def __call__(self, iterable):
        from tqdm import tqdm

        desc = self.stages.pop(0) if self.stages else "mosaic"
        total = len(iterable) if hasattr(iterable, "__len__") else None
        return tqdm(iterable, total=total, desc=desc, unit="tile", file=sys.stderr, dynamic_ncols=True)


def _connect(address):
    """A dask.distributed Client for ``--scheduler``."""
    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--scheduler needs dask.distributed (pip install 'numbamosaic[dask]')")
    from distributed import Client

    return Client(address)


def _bunit(path, hdu):
    try:
        with fits.open(path) as hdul:
            h = hdul[hdu if hdu is not None else 0].header
            if h.get("NAXIS", 0) == 0 and len(hdul) > 1 and hdu is None:
                h = hdul[1].header
            return h.get("BUNIT")
    except Exception:  # noqa: BLE001 - cosmetic only
        return None


def run_mosaic(args, inputs, weights=None, overwrite=False):
    """Mosaic ``inputs`` as the parsed options say and write ``args.output``.

    Returns a dict with ``wcs``, ``shape``, ``array``, ``footprint``,
    ``seconds``, ``frame`` (description) and ``path``.
    """

    _check_output(args.output, overwrite, inputs)
    kwargs = _coadd_kwargs(args, len(inputs), weights)
    if getattr(args, "preview", None):
        pdir = os.path.dirname(os.path.abspath(args.preview))
        if not os.path.isdir(pdir):
            raise UsageError(f"--preview: directory does not exist: {pdir}")
    client = None
    if getattr(args, "scheduler", None):
        if args.threads:
            raise UsageError("--threads and --scheduler exclude each other (workers use their own threads)")
        client = _connect(args.scheduler)
        kwargs["parallel"] = client
        # workers may run elsewhere: hand them absolute paths
        engine_inputs = [os.path.abspath(p) for p in inputs]
        if weights is not None:
            kwargs["input_weights"] = [os.path.abspath(p) for p in weights]
    else:
        engine_inputs = list(inputs)
    header = None
    bunit = _bunit(inputs[0], args.hdu)
    if bunit and args.conserve != "flux":
        header = fits.Header([("BUNIT", bunit, "from the first input")])
    prov = provenance_header(
        method=args.method,
        combine=args.combine,
        inputs=inputs,
        command=_options_line(args, None if weights is None else len(weights)),
        match_background=args.match_background,
        background_model=args.background_model,
        blank=args.blank,
    )
    store = None
    try:
        t0 = time.perf_counter()
        wcs, shape, frame = _output_frame(args, engine_inputs)
        logging.getLogger("numbamosaic").info("output frame: %s", describe_frame(wcs, shape))

        # the dtype the mosaic will have, from the inputs alone (no transforms, no plan)
        dtype = mosaic_dtype(make_sources(engine_inputs, hdu_in=kwargs.get("hdu_in")))
        if _is_zarr_path(args.output):
            # written tile by tile into a temporary group, moved into place at the end

            store = ZarrMosaic(args.output, shape, dtype)
        else:
            # headers first, then each tile straight into the file (temporary name, renamed at the end)
            store = FitsMosaic(args.output, shape, dtype, wcs, provenance=prov, header=header, overwrite=overwrite)
        kwargs.update(output_array=store.array, output_footprint=store.footprint)
        if want_progress(args):
            stages = (["background"] if args.match_background else []) + ["mosaic"]
            kwargs["progress_bar"] = _TileProgress(stages)
        reproject_and_coadd(engine_inputs, wcs, shape_out=shape, **kwargs)
        if isinstance(store, FitsMosaic):
            covered = store.covered_pixels if client is None else None  # workers' writes are not counted here
            store.commit()
            array, footprint = store.mapped_result()
        else:
            covered = None
            store.commit(mosaic_header(wcs, prov, header), overwrite=overwrite)
            array, footprint = store.committed_arrays()  # at the final path: the temporary one is gone
        seconds = time.perf_counter() - t0
    except BaseException:
        if store is not None:
            store.discard()
        raise
    finally:
        if client is not None:
            client.close()
    result = dict(wcs=wcs, shape=shape, array=array, footprint=footprint, seconds=seconds, frame=frame, path=args.output,
                  dtype=np.dtype(dtype), covered=covered)
    if getattr(args, "preview", None):
        # the mosaic is read back from the file for its (downsampled) preview
        write_preview(args.preview, array, footprint, wcs, title=os.path.basename(args.output))
    return result


def cmd_mosaic(args):
    """``numbamosaic mosaic``."""
    inputs = expand_inputs(args.inputs)
    weights = expand_inputs(args.weights, "weight") if args.weights else None

    r = run_mosaic(args, inputs, weights, overwrite=args.overwrite)
    ny, nx = r["shape"]
    if r["covered"] is not None:  # counted as the tiles were written
        covered = r["covered"] / max(1, nx * ny)
    else:  # read back in row blocks (a zarr store, or tiles written by dask workers)
        covered = coverage_fraction(r["footprint"])
    say(
        args,
        f"wrote {args.output}: {nx} x {ny} {r['dtype'].name}, {args.combine} of {len(inputs)} inputs "
        f"({args.method}), {covered:.0%} covered, {r['seconds']:.1f} s"
        + (f"; preview {args.preview}" if args.preview else ""),
    )
    return 0
