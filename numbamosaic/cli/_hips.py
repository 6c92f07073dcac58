"""``numbamosaic hips``: build a HiPS directory from FITS images (options in :mod:`._parser`).

Inputs, weights, resampling, background matching and resources (``--memory-limit``,
``--threads``, ``--scheduler``) take the same forms as ``numbamosaic mosaic``.
"""

import os
import shutil
import time

from ..hips import mosaic_to_hips, reproject_to_hips, update_hips
from ..hips._update import MERGES
from ..interpolation import reproject_interp
from ..mosaic._plan import parse_memory
from ._inputs import expand_inputs
from ._mosaic import _connect, _reproject_function
from ._parser import UsageError, say, want_progress


def cmd_hips(args):
    """Run ``numbamosaic hips``."""
    inputs = expand_inputs(args.inputs)
    weights = [os.path.abspath(w) for w in expand_inputs(args.weights, "weight")] if args.weights else None
    if weights is not None and len(weights) != len(inputs):
        raise UsageError(f"--weights: {len(weights)} weight files for {len(inputs)} inputs (they are matched in order)")
    if args.memory_limit is not None:
        try:
            parse_memory(args.memory_limit, "--memory-limit")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    n = len(inputs)
    if args.background_reference is not None and not 0 <= args.background_reference < n:
        raise UsageError(f"--background-reference: {args.background_reference} is not an input index (0..{n - 1})")
    if args.scheduler and args.threads:
        raise UsageError("--threads and --scheduler exclude each other (workers use their own threads)")
    func, extra = _reproject_function(args.method, args.conserve)
    out = args.output
    if args.update:
        if args.overwrite:
            raise UsageError("--update and --overwrite exclude each other")
        if args.combine not in MERGES:
            raise UsageError(f"--update: --combine must be one of {', '.join(MERGES)} (a HiPS stores combined pixels, "
                             f"not the weights or inputs a {args.combine} needs), got {args.combine}")
        if not os.path.isfile(os.path.join(out, "properties")):
            raise UsageError(f"--update: {out} is not a HiPS directory (no properties file)")
    elif os.path.exists(out):
        if not args.overwrite:
            raise UsageError(f"output exists: {out} (use --overwrite)")
        if not os.path.isfile(os.path.join(out, "properties")):
            raise UsageError(f"--overwrite: {out} is not a HiPS directory (no properties file); not removing it")
        shutil.rmtree(out)
    threads = args.threads if args.threads else True
    if args.scheduler:
        threads = _connect(args.scheduler)
    common = dict(coord_system_out=args.frame, output_directory=out, level=args.order, tile_size=args.tile_width,
                  threads=threads, tile_format=args.format, memory_limit=args.memory_limit,
                  progress_bar=True if want_progress(args) else None)
    t0 = time.perf_counter()
    try:
        if args.update:
            kw = dict(extra)
            if args.weights_hdu is not None:
                kw.update(hdu_weights=args.weights_hdu)
            update_hips(out, inputs, combine_function=args.combine, reproject_function=func, input_weights=weights,
                        hdu_in=args.hdu, threads=threads, progress_bar=common["progress_bar"], **kw)
        elif n == 1 and weights is None and func is None:
            # one image, interpolation: the fused per-tile kernel
            reproject_to_hips(inputs[0], reproject_function=reproject_interp, hdu_in=args.hdu or 0,
                              **common, **extra)
        else:
            kw = dict(extra)
            if args.combine == "clipped-mean":
                kw.update(clip_sigma=args.clip_sigma, clip_iters=args.clip_iters)
            if args.match_background:
                kw.update(match_background=True, background_reference=args.background_reference)
            if args.weights_hdu is not None:
                kw.update(hdu_weights=args.weights_hdu)
            mosaic_to_hips(inputs, reproject_function=func, combine_function=args.combine, input_weights=weights,
                           hdu_in=args.hdu, **common, **kw)
    finally:
        if args.scheduler:
            threads.close()
    nfiles = sum(len(f) for _, _, f in os.walk(out))
    say(args, f"wrote {out} ({nfiles} files, {len(inputs)} input(s)) in {time.perf_counter() - t0:.1f} s")
    return 0
