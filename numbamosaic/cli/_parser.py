"""The ``numbamosaic`` argument parser: option types, shared option groups and every sub-command's options.

Cheap to import (argparse and re only): ``numbamosaic --help`` and usage
errors never load the command implementations, which :func:`numbamosaic.cli.main`
imports when it dispatches.  The names every command shares (:class:`UsageError`,
``METHODS``, ``COMBINES``, :func:`say`, :func:`want_progress`) live here too.
"""

import argparse
import re
import sys

from .._version import __version__

PROG = "numbamosaic"

#: ``--method`` name -> (reproject function name, ``order`` for interpolation)
METHODS = {
    "nearest": ("interp", "nearest-neighbor"),
    "bilinear": ("interp", "bilinear"),
    "biquadratic": ("interp", "biquadratic"),
    "bicubic": ("interp", "bicubic"),
    "lanczos3": ("interp", "lanczos3"),
    "exact": ("exact", None),
    "adaptive": ("adaptive", None),
}
COMBINES = ("mean", "sum", "median", "first", "last", "min", "max", "clipped-mean")
_UNIT_COMMENT = "(bytes, or e.g. 500MB, 4GiB)"


class UsageError(Exception):
    """A command-line error detected before any work (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def say(args, text):
    """Print ``text`` unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def want_progress(args):
    """Whether to show progress bars: ``--progress``/``--no-progress``, else when stderr is a terminal."""
    if getattr(args, "progress", None) is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(args.progress)


# ---------------------------------------------------------------------------
# Option types and option groups
# ---------------------------------------------------------------------------


def _hdu(text):
    """``--hdu``: an integer index or an extension name."""
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else text


def _number(text, kind, ok, what, bad):
    """``kind(text)`` if it converts and ``ok(value)``; else ``expected <what> / <bad>, got <text>``."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {bad}, got {text!r}")
    return value


def _positive_float(text):
    return _number(text, float, lambda v: v > 0, "a number", "a positive number")


def _positive_int(text):
    return _number(text, int, lambda v: v >= 1, "an integer", "a positive integer")


def _projection(text):
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise argparse.ArgumentTypeError(f"expected a three-letter FITS projection code such as TAN, got {text!r}")
    return code


def _lonlat(text):
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LON,LAT in degrees, got {text!r}") from None
    if not -90 <= lat <= 90:
        raise argparse.ArgumentTypeError(f"latitude must be within [-90, 90], got {lat}")
    return lon, lat


#: ``--weight-type`` values, with SWarp's WEIGHT_TYPE names as aliases
WEIGHT_TYPES = {"weight": "weight", "ivar": "ivar", "variance": "variance", "rms": "rms",
                "map_weight": "weight", "map_variance": "variance", "map_rms": "rms"}
#: ``--products`` names (``err``: the variance written as its square root)
PRODUCTS = ("variance", "err", "count", "exposure", "context", "flags")


def _weight_type(text):
    t = WEIGHT_TYPES.get(text.strip().lower())
    if t is None:
        raise argparse.ArgumentTypeError(
            f"expected weight, ivar, variance or rms (or SWarp's MAP_WEIGHT, MAP_VARIANCE, MAP_RMS), got {text!r}"
        )
    return t


def _bits(text):
    """``--bad-bits``: an integer (decimal or 0x hex) or bit values joined by ',' or '+'."""
    bits = 0
    parts = [p for p in re.split(r"[,+\s]+", text.strip()) if p]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected an integer or bit values such as 4,8; got {text!r}")
    for part in parts:
        try:
            v = int(part, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer or bit values such as 4,8 or 0xC; got {text!r}") from None
        if not 0 <= v < 2**32:
            raise argparse.ArgumentTypeError(f"DQ bits must lie within 0 .. 2**32 - 1 (bits 0-31), got {v}")
        bits |= v
    return bits


def _nonneg_float(text):
    return _number(text, float, lambda v: v >= 0 and v != float("inf"), "a number >= 0", "a finite number >= 0")


def _product_list(text):
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return ("all",)
    bad = [n for n in names if n not in PRODUCTS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected 'all' or a comma-separated list of {', '.join(PRODUCTS)}; got {text!r}")
    if "variance" in names and "err" in names:
        raise argparse.ArgumentTypeError("variance and err exclude each other (ERR is the square root of the variance)")
    return tuple(dict.fromkeys(names))


def _add_product_options(p):
    """Survey options (issue 15): weight types, masks, flux scales, exposure times, product extensions."""
    g = p.add_argument_group("weights, masks, flux scales and products (SWarp / drizzle names in the README)")
    g.add_argument(
        "--weight-type", type=_weight_type, default="weight", metavar="TYPE",
        help="what the --weights images hold: weight (relative weights, the default), ivar (inverse variance, "
        "drizzle's ivm), variance or rms (SWarp MAP_VARIANCE, MAP_RMS); noise maps also give the VARIANCE",
    )
    g.add_argument(
        "--mask", nargs="+", metavar="MASK",
        help="mask or DQ images matched to the inputs in order (booleans, or integer DQ flags with --bad-bits; "
        "nonzero = bad), sampled nearest-neighbour",
    )
    g.add_argument("--mask-hdu", type=_hdu, metavar="HDU",
                   help="HDU of the --mask images; without --mask, the mask is this HDU of each input file (e.g. DQ)")
    g.add_argument("--bad-bits", type=_bits, metavar="BITS",
                   help="DQ bits that reject a pixel: an integer (12, 0xC) or bit values such as 4,8 "
                   "(default: any nonzero flag)")
    g.add_argument("--flags-combine", choices=["or", "and"], default="or",
                   help="how FLAGS combines the DQ flags of the inputs covering a pixel (default or)")
    g.add_argument("--flux-scale-keyword", metavar="KEY",
                   help="scale each input by its header keyword KEY (SWarp FSCALE_KEYWORD, e.g. FLXSCALE); "
                   "variances by its square")
    g.add_argument("--flux-scales", nargs="+", type=_positive_float, metavar="S",
                   help="fixed flux scales, one per input in order")
    g.add_argument("--exptime-keyword", metavar="KEY",
                   help="exposure time of each input from its header keyword KEY (e.g. EXPTIME), for EXPOSURE")
    g.add_argument("--exposure-times", nargs="+", type=_nonneg_float, metavar="T",
                   help="fixed exposure times, one per input in order")
    g.add_argument(
        "--products", type=_product_list, metavar="LIST",
        help="extensions to write, comma-separated: variance (or err, its square root), count, exposure, context, "
        "flags; or 'all' (every product the options allow)",
    )


def _add_resampling_options(p):
    """The "resampling and combination" group (``mosaic``, ``plan``, ``hips``): method, conserve, combine, clipping."""
    g = p.add_argument_group("resampling and combination")
    g.add_argument("--method", choices=list(METHODS), default="bilinear", help="resampling method (default bilinear)")
    g.add_argument(
        "--conserve", choices=["surface-brightness", "flux"], default="surface-brightness",
        help="what exact/adaptive resampling conserves (default surface-brightness)",
    )
    g.add_argument("--combine", choices=COMBINES, default="mean", help="how overlapping inputs are combined (default mean)")
    g.add_argument("--clip-sigma", type=_positive_float, default=3.0, metavar="N", help="clipping threshold of clipped-mean (default 3)")
    g.add_argument("--clip-iters", type=_positive_int, default=5, metavar="N", help="clipping iterations of clipped-mean (default 5)")
    return g


def _add_common_options(p, for_plan=False):
    """Options shared by ``mosaic`` and ``plan``."""
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="FITS images: file names, glob patterns (quote them) or @list.txt files",
    )
    if for_plan:
        p.add_argument("-o", "--output", metavar="OUT.fits", help="output file the mosaic would be written to (only reported)")
        p.add_argument(
            "--write-header", metavar="FILE",
            help="write the output header as text, reusable with 'mosaic --header FILE' (like SWarp HEADER_ONLY / mMakeHdr)",
        )
    else:
        p.add_argument(
            "-o", "--output", metavar="OUT.fits", required=True,
            help="output FITS file, or OUT.zarr: a zarr group (arrays 'mosaic' and 'footprint', the FITS header in "
            "its 'fits_header' attribute) written tile by tile, never held in memory; needs the zarr package",
        )
        p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
        p.add_argument(
            "--fsync", action="store_true",
            help="wait until the FITS output is on the disk before renaming it into place (survives a power failure; "
            "errors, Ctrl-C and a full disk never leave a partial file either way)",
        )
        p.add_argument("--preview", metavar="PNG", help="also write a PNG preview (image and footprint; needs matplotlib)")

    g = p.add_argument_group("output frame")
    g.add_argument(
        "--header", metavar="FILE",
        help="output WCS and size from FILE: a FITS file (primary header) or a text header "
        "(SWarp .head / Montage template / 'numbamosaic plan --write-header'); needs NAXIS1/NAXIS2",
    )
    g.add_argument("--frame", help="celestial frame of the automatic header (icrs, fk5, galactic, ...; default: the first input's)")
    g.add_argument("--projection", type=_projection, default="TAN", help="projection code of the automatic header (default TAN)")
    g.add_argument("--resolution", type=_positive_float, metavar="ARCSEC", help="pixel scale of the automatic header in arcsec (default: the finest input's)")
    g.add_argument("--center", type=_lonlat, metavar="LON,LAT", help="reference point (CRVAL) of the automatic header, degrees in --frame")
    g.add_argument("--auto-rotate", action="store_true", help="rotate the automatic header to the smallest enclosing rectangle")

    g = _add_resampling_options(p)
    g.add_argument(
        "--weights", nargs="+", metavar="WEIGHT",
        help="weight images matched to the inputs in order (same forms as INPUT; NaN weights count as 0)",
    )
    g.add_argument("--match-background", action="store_true", help="solve for and remove background differences in the overlaps")
    g.add_argument("--background-reference", type=int, metavar="N", help="input (0-based) whose background is kept")
    g.add_argument("--background-model", choices=["offset", "plane"], default="offset", help="background model (default offset)")
    g.add_argument("--blank", type=float, default=float("nan"), metavar="VALUE", help="value where no input contributes (default nan)")
    g.add_argument("--hdu", type=_hdu, metavar="HDU", help="HDU of the inputs (index or EXTNAME; default: the only image HDU)")
    g.add_argument("--weights-hdu", type=_hdu, metavar="HDU", help="HDU of the weight images")
    _add_product_options(p)

    g = p.add_argument_group("resources")
    g.add_argument("--memory-limit", metavar="SIZE", help=f"memory budget for the planner {_UNIT_COMMENT}; default 60%% of available memory")
    g.add_argument("--tmpdir", metavar="DIR", help="directory for memory-mapped files (default $TMPDIR)")
    g.add_argument("--threads", type=_positive_int, metavar="N", help="threads (default: all cores)")
    g.add_argument("--tile-size", type=_positive_int, metavar="PX", help="output tile size (default: chosen by the planner)")
    if not for_plan:
        g.add_argument("--scheduler", metavar="ADDRESS", help="run on a dask.distributed scheduler, e.g. tcp://host:8786")
        g.add_argument(
            "--progress", action=argparse.BooleanOptionalAction, default=None,
            help="show progress bars on stderr (default: when stderr is a terminal)",
        )
    _add_global_options(p)


def _add_global_options(p):
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="show tracebacks and INFO logging")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print nothing on success")


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


def _add_hips_parser(sub):
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
    p.add_argument("--update", action="store_true",
                   help="add the inputs to the existing HiPS DIR, rewriting only the tiles they touch (frame, order, "
                   "tile width and formats are DIR's; --combine max, min, first or last)")
    p.add_argument("--order", type=_order, metavar="K", help="deepest HiPS order (default: the order whose pixels match the finest input)")
    p.add_argument("--tile-width", type=_tile_width, default=512, metavar="PX", help="tile width in pixels (default 512)")
    p.add_argument("--frame", choices=FRAMES, default="equatorial", help="HiPS frame (default equatorial)")
    p.add_argument("--format", type=_formats, default="fits", metavar="LIST",
                   help="tile formats, comma-separated: fits, png, jpeg (default fits; PNG/JPEG: linear stretch "
                   "between the 0.5 and 99.5 percentiles)")
    g = _add_resampling_options(p)
    g.add_argument("--weights", nargs="+", metavar="WEIGHT",
                   help="weight images matched to the inputs in order (same forms as INPUT)")
    g.add_argument("--match-background", action="store_true",
                   help="solve one additive offset per input over the whole survey and remove it")
    g.add_argument("--background-reference", type=int, metavar="N", help="input (0-based) whose background is kept")
    g.add_argument("--hdu", type=_hdu, metavar="HDU", help="HDU of the inputs (index or EXTNAME)")
    g.add_argument("--weights-hdu", type=_hdu, metavar="HDU", help="HDU of the weight images")

    g = p.add_argument_group("resources")
    g.add_argument("--memory-limit", metavar="SIZE",
                   help=f"memory budget {_UNIT_COMMENT}; sizes the groups of tiles; default 60%% of available memory")
    g.add_argument("--threads", type=_positive_int, metavar="N", help="threads (default: all cores)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="compute the tiles on a dask.distributed scheduler, e.g. tcp://host:8786 (this process "
                   "writes the files)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    _add_global_options(p)
    return p


def build_parser():
    """The :mod:`argparse` parser of the ``numbamosaic`` command."""
    epilog = (
        "Exit status: 0 success, 1 the work failed, 2 command-line error, 130 interrupted. "
        "Run 'numbamosaic COMMAND --help' for the options of a command."
    )
    parser = _Parser(
        prog=PROG,
        description="Fast, frugal reprojection and mosaicking of astronomical FITS images.",
        epilog=epilog,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "mosaic", help="reproject and combine images into one mosaic",
        description="Reproject FITS images onto one output frame and combine them. The result is written "
        "to OUT.fits: the mosaic in the primary HDU (with the output WCS and provenance keywords), "
        "the footprint (summed weights) in the FOOTPRINT extension.",
        epilog="Example: numbamosaic mosaic 'tiles/*.fits' -o mosaic.fits --combine median --method lanczos3",
    )
    _add_common_options(p)

    p = sub.add_parser(
        "plan", help="show what 'mosaic' would do, without doing it",
        description="Print the output frame, the planner's strategy with memory/disk estimates, "
        "the expected output size and every input's box in the output, without resampling anything.",
    )
    _add_common_options(p, for_plan=True)

    p = sub.add_parser(
        "demo", help="mosaic a small synthetic survey (writes DIR/mosaic.fits and DIR/mosaic.png)",
        description="Generate a small synthetic survey (deterministic), write the tiles as FITS, mosaic them "
        "with an automatic output frame and write DIR/mosaic.fits and a PNG preview DIR/mosaic.png.",
    )
    p.add_argument("directory", nargs="?", default="numbamosaic-demo", metavar="DIR", help="output directory (default numbamosaic-demo)")
    p.add_argument("--tiles", type=_positive_int, default=3, metavar="N", help="N x N tiles (default 3)")
    p.add_argument("--tile-pixels", type=_positive_int, default=256, metavar="PX", help="tile size in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--method", choices=list(METHODS), default="bilinear", help="resampling method (default bilinear)")
    p.add_argument("--combine", choices=COMBINES, default="mean", help="combine function (default mean)")
    p.add_argument("--threads", type=_positive_int, metavar="N", help="threads (default: all cores)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars (default: on a terminal)")
    _add_global_options(p)

    p = sub.add_parser(
        "bench", help="run the benchmark suite of a source checkout",
        description="Run benchmarks/ of the numbamosaic source checkout and print its table. "
        "Arguments after 'bench' are passed to the benchmark runner (try 'numbamosaic bench --help').",
        add_help=False,
    )
    p.add_argument("bench_args", nargs="*", metavar="ARGS", help="arguments for the benchmark runner")

    _add_hips_parser(sub)

    p = sub.add_parser(
        "warmup", help="compile the kernels ahead of time (into the Numba cache)",
        description="Compile the kernels of the given methods, combine functions and dtypes on tiny inputs, so "
        "that they land in numbamosaic's cache directory ($NUMBA_CACHE_DIR/numbamosaic, else "
        "~/.cache/numbamosaic) and later runs only load them. Run it at install or image-build time, with "
        "the NUMBA_CACHE_DIR the jobs will use.",
        epilog="Example: NUMBA_CACHE_DIR=/shared/numba numbamosaic warmup --method bilinear exact --combine mean median",
    )
    p.add_argument("--method", nargs="+", choices=list(METHODS), metavar="M",
                   help=f"methods (default all: {', '.join(METHODS)})")
    p.add_argument("--combine", nargs="+", choices=COMBINES, metavar="C",
                   help=f"combine functions (default all: {', '.join(COMBINES)})")
    p.add_argument("--dtype", nargs="+", choices=("float32", "float64"), default=["float32"],
                   help="input data types (default float32; integer images use float32)")
    p.add_argument("--match-background", action="store_true", help="also warm background matching")
    _add_global_options(p)
    return parser
