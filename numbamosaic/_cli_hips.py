"""``numbamosaic hips``: build a HiPS directory from FITS images (registered by ``cli.build_parser``)."""

import argparse
import os
import shutil
import time

from .cli import (
    COMBINES,
    METHODS,
    UsageError,
    _add_global_options,
    _hdu,
    _positive_float,
    _positive_int,
    _reproject_function,
    _say,
    _want_progress,
    expand_inputs,
)

FRAMES = ("equatorial", "galactic", "ecliptic")


def _formats(text):
    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    fmts = ["jpeg" if f == "jpg" else f for f in fmts]
    bad = [f for f in fmts if f not in ("fits", "png", "jpeg")]
    if bad or not fmts:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of fits, png, jpeg; got {text!r}")
    return ",".join(dict.fromkeys(fmts))


def _order(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer order 0-24, got {text!r}") from None
    if not 0 <= v <= 24:
        raise argparse.ArgumentTypeError(f"expected an integer order 0-24, got {v}")
    return v


def _tile_width(text):
    v = _positive_int(text)
    if v < 2 or v & (v - 1):
        raise argparse.ArgumentTypeError(f"expected a power of two >= 2, got {v}")
    return v


def add_parser(sub):
    """Add the ``hips`` subcommand to the subparsers ``sub``."""
    p = sub.add_parser(
        "hips", help="build a HiPS directory (Aladin, ESASky) from images",
        description="Reproject and combine FITS images into a HiPS directory: NorderK/DirD/NpixN tiles for every "
        "order down to 0 (lower orders by 2x2 averages), Allsky, Moc.fits (coverage), properties. Only tiles "
        "with data are written.",
        epilog="Example: numbamosaic hips 'tiles/*.fits' -o survey-hips --combine median --format fits,png",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FITS images: file names, glob patterns (quote them) or @list.txt files")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="HiPS directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is an existing HiPS (has a properties file)")
    p.add_argument("--order", type=_order, metavar="K", help="deepest HiPS order (default: the order whose pixels match the finest input)")
    p.add_argument("--tile-width", type=_tile_width, default=512, metavar="PX", help="tile width in pixels (default 512)")
    p.add_argument("--frame", choices=FRAMES, default="equatorial", help="HiPS frame (default equatorial)")
    p.add_argument("--format", type=_formats, default="fits", metavar="LIST",
                   help="tile formats, comma-separated: fits, png, jpeg (default fits; PNG/JPEG: linear stretch "
                   "between the 0.5 and 99.5 percentiles)")
    p.add_argument("--method", choices=list(METHODS), default="bilinear", help="resampling method (default bilinear)")
    p.add_argument("--combine", choices=COMBINES, default="mean", help="how overlapping inputs are combined (default mean)")
    p.add_argument("--clip-sigma", type=_positive_float, default=3.0, metavar="N", help="clipping threshold of clipped-mean")
    p.add_argument("--clip-iters", type=_positive_int, default=5, metavar="N", help="clipping iterations of clipped-mean")
    p.add_argument("--weights", nargs="+", metavar="WEIGHT", help="weight images matched to the inputs in order")
    p.add_argument("--hdu", type=_hdu, metavar="HDU", help="HDU of the inputs (index or EXTNAME)")
    p.add_argument("--threads", type=_positive_int, metavar="N", help="threads (default: all cores)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    _add_global_options(p)
    p.set_defaults(func=cmd_hips)
    return p


def cmd_hips(args):
    """Run ``numbamosaic hips``."""
    import numbamosaic
    from .hips import mosaic_to_hips, reproject_to_hips

    inputs = expand_inputs(args.inputs)
    weights = expand_inputs(args.weights, "weight") if args.weights else None
    if weights is not None and len(weights) != len(inputs):
        raise UsageError(f"--weights: {len(weights)} weight files for {len(inputs)} inputs (they are matched in order)")
    out = args.output
    if os.path.exists(out):
        if not args.overwrite:
            raise UsageError(f"output exists: {out} (use --overwrite)")
        if not os.path.isfile(os.path.join(out, "properties")):
            raise UsageError(f"--overwrite: {out} is not a HiPS directory (no properties file); not removing it")
        shutil.rmtree(out)
    func, extra = _reproject_function(args.method, "surface-brightness")
    common = dict(coord_system_out=args.frame, output_directory=out, level=args.order, tile_size=args.tile_width,
                  threads=args.threads if args.threads else True, tile_format=args.format,
                  progress_bar=True if _want_progress(args) else None)
    t0 = time.perf_counter()
    if len(inputs) == 1 and weights is None and func is None:
        # one image, interpolation: the fused per-tile kernel
        reproject_to_hips(inputs[0], reproject_function=numbamosaic.reproject_interp, hdu_in=args.hdu or 0,
                          **common, **extra)
    else:
        kw = dict(extra)
        if args.combine == "clipped-mean":
            kw.update(clip_sigma=args.clip_sigma, clip_iters=args.clip_iters)
        mosaic_to_hips(inputs, reproject_function=func, combine_function=args.combine, input_weights=weights,
                       hdu_in=args.hdu, **common, **kw)
    nfiles = sum(len(f) for _, _, f in os.walk(out))
    _say(args, f"wrote {out} ({nfiles} files, {len(inputs)} input(s)) in {time.perf_counter() - t0:.1f} s")
    return 0
