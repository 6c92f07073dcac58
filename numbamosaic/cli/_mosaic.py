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
from ..mosaic._products import PRODUCT_COMBINES, computable_products, header_numbers
from ..mosaic._tofits import api_products, fits_product_outputs, product_extensions, write_context_table
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


#: why a ``--products`` name cannot be written, in option terms
_WHY_NOT = {
    "variance": "needs noise maps (--weights with --weight-type ivar, variance or rms) and --combine mean or sum",
    "exposure": "needs --exptime-keyword or --exposure-times",
    "flags": "needs --mask or --mask-hdu",
}


def _per_input_option(args, inputs, key_opt, list_opt, positive):
    """Numbers per input from ``--KEY-keyword`` (read from the headers now) or a fixed list."""
    key = getattr(args, key_opt.lstrip("-").replace("-", "_"))
    values = getattr(args, list_opt.lstrip("-").replace("-", "_"))
    if key is not None and values is not None:
        raise UsageError(f"{key_opt} and {list_opt} exclude each other")
    if values is not None:
        if len(values) != len(inputs):
            raise UsageError(f"{list_opt}: {len(values)} values for {len(inputs)} inputs (they are matched in order)")
        return [float(v) for v in values]
    if key is None:
        return None
    try:
        return header_numbers(key, inputs, args.hdu, key_opt, positive)
    except (ValueError, TypeError, OSError) as exc:
        raise UsageError(str(exc)) from None


def _product_kwargs(args, inputs, weights):
    """Product keywords of :func:`reproject_and_coadd` and the FITS product names, checked before any work.

    Returns ``(kwargs, names)``; ``names`` are the extensions to write
    (``variance`` or ``err``, ``count``, ``exposure``, ``context``, ``flags``).
    """
    n = len(inputs)
    kw = {}
    if args.weight_type != "weight":
        if weights is None:
            raise UsageError(f"--weight-type {args.weight_type} needs --weights (the noise maps)")
        kw["weights_type"] = args.weight_type
    masks = None
    if args.mask:
        masks = expand_inputs(args.mask, "mask")
        if len(masks) != n:
            raise UsageError(f"--mask: {len(masks)} mask files for {n} inputs (they are matched in order)")
        args.n_masks = len(masks)  # for the HISTORY line
    elif args.mask_hdu is not None:
        masks = list(inputs)  # the mask is an HDU of each input file
    if masks is not None:
        kw["input_masks"] = masks
        if args.mask_hdu is not None:
            kw["hdu_masks"] = args.mask_hdu
        if args.bad_bits is not None:
            kw["bad_bits"] = args.bad_bits
        kw["flags_combine"] = args.flags_combine
    else:
        if args.bad_bits is not None:
            raise UsageError("--bad-bits needs --mask or --mask-hdu")
        if args.flags_combine != "or":
            raise UsageError("--flags-combine needs --mask or --mask-hdu")
    scales = _per_input_option(args, inputs, "--flux-scale-keyword", "--flux-scales", positive=True)
    if scales is not None:
        if args.match_background and any(v != 1.0 for v in scales):
            raise UsageError("flux scales with --match-background are not supported yet")
        kw["input_scales"] = scales
    exptimes = _per_input_option(args, inputs, "--exptime-keyword", "--exposure-times", positive=False)
    if exptimes is not None:
        kw["exposure_times"] = exptimes
    names = ()
    if args.products:
        computable = computable_products(args.weight_type, False, args.combine, exptimes is not None, masks is not None)
        if args.products == ("all",):
            names = tuple(p for p in ("variance", "count", "exposure", "context", "flags") if p in computable)
        else:
            names = args.products
            missing = {"variance" if p == "err" else p for p in names} - computable
            if missing:
                raise UsageError("--products: " + "; ".join(f"{p} {_WHY_NOT[p]}" for p in sorted(missing)))
        kw["return_products"] = api_products(names)
    if kw and args.combine not in PRODUCT_COMBINES:
        raise UsageError(
            f"--combine {args.combine}: weight types, masks, flux scales and products need --combine "
            f"{', '.join(PRODUCT_COMBINES)}"
        )
    return kw, names


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
    if args.weight_type != "weight":
        parts.append(f"--weight-type {args.weight_type}")
    if args.mask:
        parts.append(f"--mask ({getattr(args, 'n_masks', len(args.mask))} files)")
    for opt in ("mask_hdu", "flux_scale_keyword", "exptime_keyword"):
        if getattr(args, opt) is not None:
            parts.append(f"--{opt.replace('_', '-')} {getattr(args, opt)}")
    if args.bad_bits is not None:
        parts.append(f"--bad-bits {args.bad_bits}")
    if args.flags_combine != "or":
        parts.append(f"--flags-combine {args.flags_combine}")
    for opt in ("flux_scales", "exposure_times"):
        if getattr(args, opt) is not None:
            parts.append(f"--{opt.replace('_', '-')} ({len(getattr(args, opt))} values)")
    if args.products:
        parts.append(f"--products {','.join(args.products)}")
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
    product_kw, products = _product_kwargs(args, inputs, weights)
    if products and _is_zarr_path(args.output):
        raise UsageError("--products: product extensions are written to FITS outputs only (not .zarr)")
    kwargs.update(product_kw)
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
            # product extensions (VARIANCE/ERR, COUNT, ...) after FOOTPRINT, CONTEXT appended once planned
            store = FitsMosaic(args.output, shape, dtype, wcs, provenance=prov, header=header, overwrite=overwrite,
                               fsync=getattr(args, "fsync", False),
                               extensions=product_extensions(products, dtype, shape, len(engine_inputs)))
            if products:
                kwargs["product_outputs"] = fits_product_outputs(store, products, shape)
        kwargs.update(output_array=store.array, output_footprint=store.footprint)
        if want_progress(args):
            stages = (["background"] if args.match_background else []) + ["mosaic"]
            kwargs["progress_bar"] = _TileProgress(stages)
        res = reproject_and_coadd(engine_inputs, wcs, shape_out=shape, **kwargs)
        if products:
            write_context_table(store, res)
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
