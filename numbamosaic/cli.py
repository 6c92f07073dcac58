"""The ``numbamosaic`` command line.

Sub-commands
------------
``numbamosaic mosaic INPUT... -o OUT.fits`` (or ``-o OUT.zarr``)
    Reproject and combine FITS images into one mosaic (automatic optimal
    output frame, or ``--header FILE``).
``numbamosaic plan INPUT... [options]``
    Print what ``mosaic`` would do (output frame, strategy, memory and disk
    estimates, each input's box in the output) without doing the work.
``numbamosaic demo [DIR]``
    Make a small synthetic survey, mosaic it and write ``DIR/mosaic.fits``
    and a PNG preview ``DIR/mosaic.png``.
``numbamosaic bench [ARGS...]``
    Run the benchmark suite of a source checkout (``benchmarks/``).
``numbamosaic warmup [--method M...] [--combine C...] [--dtype D...]``
    Compile the kernels ahead of time into the cache (:func:`numbamosaic.warmup`).

Inputs may be file names, glob patterns (expanded by numbamosaic, so quoting
them avoids shell ``Argument list too long`` errors) or ``@list.txt`` files
listing one name or pattern per line (``#`` starts a comment).

Exit status: 0 on success, 2 for command-line errors (bad options, missing
input files, an existing output without ``--overwrite``), 1 when the work
itself fails, 130 when interrupted.  Errors are one line on stderr
(``numbamosaic: error: ...``); ``--verbose`` adds the traceback and INFO
logging of the ``numbamosaic`` logger.

Every function here is also usable from Python: :func:`main` takes an
argument list and returns the exit status.
"""

import argparse
import errno
import glob
import logging
import os
import re
import shlex
import sys
import tempfile
import time
import traceback
import warnings

__all__ = ["main", "build_parser", "expand_inputs", "write_preview", "UsageError"]

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
_GLOB_CHARS = re.compile(r"[*?\[]")
_UNIT_COMMENT = "(bytes, or e.g. 500MB, 4GiB)"


class UsageError(Exception):
    """A command-line error detected before any work (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------


def _hdu(text):
    """``--hdu``: an integer index or an extension name."""
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else text


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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

    g = p.add_argument_group("resampling and combination")
    g.add_argument("--method", choices=list(METHODS), default="bilinear", help="resampling method (default bilinear)")
    g.add_argument(
        "--conserve", choices=["surface-brightness", "flux"], default="surface-brightness",
        help="what exact/adaptive resampling conserves (default surface-brightness)",
    )
    g.add_argument("--combine", choices=COMBINES, default="mean", help="how overlapping inputs are combined (default mean)")
    g.add_argument("--clip-sigma", type=_positive_float, default=3.0, metavar="N", help="clipping threshold of clipped-mean (default 3)")
    g.add_argument("--clip-iters", type=_positive_int, default=5, metavar="N", help="clipping iterations of clipped-mean (default 5)")
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


def build_parser():
    """The :mod:`argparse` parser of the ``numbamosaic`` command."""
    from . import __version__

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
    p.set_defaults(func=cmd_mosaic)

    p = sub.add_parser(
        "plan", help="show what 'mosaic' would do, without doing it",
        description="Print the output frame, the planner's strategy with memory/disk estimates, "
        "the expected output size and every input's box in the output, without resampling anything.",
    )
    _add_common_options(p, for_plan=True)
    p.set_defaults(func=cmd_plan)

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
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "bench", help="run the benchmark suite of a source checkout",
        description="Run benchmarks/ of the numbamosaic source checkout and print its table. "
        "Arguments after 'bench' are passed to the benchmark runner (try 'numbamosaic bench --help').",
        add_help=False,
    )
    p.add_argument("bench_args", nargs="*", metavar="ARGS", help="arguments for the benchmark runner")
    p.set_defaults(func=cmd_bench)

    from ._cli_hips import add_parser as add_hips_parser  # imports this module: registered here to avoid a cycle

    add_hips_parser(sub)

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
    p.set_defaults(func=cmd_warmup)
    return parser


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _read_list(listfile, what):
    try:
        with open(listfile, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"{what} list file not found: {listfile}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} list file {listfile}: {exc.strerror or exc}") from None
    entries = []
    for line in lines:
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            entries.append(line)
    return entries


def _expand_one(item, base, what, origin):
    path = os.path.expanduser(item)
    alternatives = [path]
    if base is not None and not os.path.isabs(path):
        alternatives.append(os.path.join(base, path))  # relative to the list file
    for p in alternatives:
        if os.path.isfile(p):
            return [p]
    if _GLOB_CHARS.search(path):
        for pattern in alternatives:
            matches = sorted(m for m in glob.glob(pattern, recursive=True) if os.path.isfile(m))
            if matches:
                return matches
        raise UsageError(f"no {what} files match {item!r}{origin}")
    if os.path.isdir(path):
        raise UsageError(f"{what} is a directory: {item}{origin} (give files, e.g. '{os.path.join(item, '*.fits')}')")
    raise UsageError(f"{what} file not found: {item}{origin}")


def expand_inputs(items, what="input"):
    """Expand command-line inputs into a list of file names.

    Parameters
    ----------
    items : sequence of str
        File names, glob patterns (sorted matches; ``**`` recurses) and
        ``@list.txt`` files, which list one name or pattern per line (blank
        lines and ``#`` comments are skipped; relative names are looked up
        from the current directory, then from the list file's directory).
    what : str
        Word used in error messages (``'input'``, ``'weight'``).

    Returns
    -------
    list of str
        Existing files, in the order given.

    Raises
    ------
    UsageError
        A file is missing, a pattern matches nothing, or nothing was given.
    """
    out = []
    for item in items:
        if item.startswith("@") and len(item) > 1:
            listfile = os.path.expanduser(item[1:])
            base = os.path.dirname(listfile) or "."
            for entry in _read_list(listfile, what):
                out.extend(_expand_one(entry, base, what, f" (listed in {listfile})"))
        else:
            out.extend(_expand_one(item, None, what, ""))
    if not out:
        raise UsageError(f"no {what} files given")
    return out


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_zarr_path(path):
    return os.fspath(path).rstrip("/").lower().endswith(".zarr")


def _check_output(path, overwrite, inputs):
    if _is_zarr_path(path):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise UsageError(f"output {path}: writing zarr needs the zarr package (pip install zarr)") from None
    elif os.path.isdir(path):
        raise UsageError(f"output is a directory: {path}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"output directory does not exist: {directory}")
    try:  # a probe, not os.access: it also catches read-only mounts, ACLs and root squash
        with tempfile.TemporaryFile(prefix=".numbamosaic-probe-", dir=directory):
            pass
    except OSError as exc:
        raise UsageError(f"output directory is not writable: {directory} ({exc.strerror or exc})") from None
    if os.path.exists(path):
        if not overwrite:
            raise UsageError(f"output file exists: {path} (use --overwrite to replace it)")
        for name in inputs:
            if _same_file(path, name):
                raise UsageError(f"output {path} is also an input")


def _read_header_file(path, hdu):
    """Output header and shape from a FITS file or a text header file."""
    from astropy.io import fits

    if not os.path.isfile(path):
        raise UsageError(f"header file not found: {path}")
    header = None
    try:
        with fits.open(path) as hdul:
            header = hdul[hdu if hdu is not None else 0].header.copy()
            data_shape = hdul[hdu if hdu is not None else 0].shape
    except (OSError, IndexError, KeyError, ValueError):
        header, data_shape = None, None
    if header is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = fits.Header.fromtextfile(path)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise UsageError(f"cannot read a FITS header from {path}: {exc}") from None
        data_shape = None
    if "NAXIS1" in header and "NAXIS2" in header:
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    elif data_shape and len(data_shape) >= 2:
        shape = tuple(int(s) for s in data_shape[-2:])
    else:
        raise UsageError(f"header {path} has no NAXIS1/NAXIS2: the output size is unknown")
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wcs = WCS(header)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"header {path} has no valid WCS: {exc}") from None
    if wcs.celestial.naxis != 2 or not wcs.has_celestial:
        raise UsageError(f"header {path} has no 2-D celestial WCS (CTYPE1/CTYPE2 such as RA---TAN/DEC--TAN)")
    wcs = wcs.celestial
    wcs.array_shape = shape
    return wcs, shape


def _output_frame(args, inputs):
    """(WCS, shape, description) of the output: ``--header`` or automatic."""
    if args.header:
        wcs, shape = _read_header_file(args.header, None)
        return wcs, shape, f"from {args.header}"
    import astropy.units as u

    from . import find_optimal_celestial_wcs

    kwargs = dict(hdu_in=args.hdu, projection=args.projection, auto_rotate=args.auto_rotate, negative_lon_cdelt="auto")
    if args.frame:
        kwargs["frame"] = args.frame
    if args.resolution:
        kwargs["resolution"] = args.resolution * u.arcsec
    if args.center:
        from astropy.coordinates import SkyCoord

        frame = args.frame or _first_frame(inputs[0], args.hdu)
        kwargs["reference"] = SkyCoord(args.center[0] * u.deg, args.center[1] * u.deg, frame=frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        wcs, shape = find_optimal_celestial_wcs(inputs, **kwargs)
    return wcs, tuple(int(s) for s in shape), "automatic"


def _first_frame(path, hdu):
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.utils import wcs_to_celestial_frame

    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = hdul[hdu if hdu is not None else 0].header
        if "CTYPE1" not in h and len(hdul) > 1:
            h = hdul[1].header
        return wcs_to_celestial_frame(WCS(h).celestial)


def describe_frame(wcs, shape):
    """One line describing an output frame (projection, centre, scale, size)."""
    import numpy as np

    ny, nx = shape
    lon, lat = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    scale = np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0
    ctype = "/".join(c.strip() for c in wcs.wcs.ctype)
    return (
        f"{ctype}, centre ({float(lon):.5f}, {float(lat):.5f}) deg, {scale:.4g}\"/px, "
        f"{nx} x {ny} px ({nx * scale / 3600:.3g} x {ny * scale / 3600:.3g} deg)"
    )


# ---------------------------------------------------------------------------
# Mosaic options
# ---------------------------------------------------------------------------


def _reproject_function(method, conserve):
    """(reproject_function or None, extra kwargs) for ``--method``."""
    kind, order = METHODS[method]
    if kind == "interp":
        if conserve == "flux":
            raise UsageError("--conserve flux needs --method exact or --method adaptive")
        return None, {"order": order}
    import numbamosaic

    try:
        func = getattr(numbamosaic, f"reproject_{kind}")
    except (AttributeError, ImportError) as exc:
        raise UsageError(f"--method {method} is not available in this installation ({exc})") from None
    if kind == "exact":
        return func, ({"conserve": "flux"} if conserve == "flux" else {})
    return func, ({"conserve_flux": True} if conserve == "flux" else {})


def _coadd_kwargs(args, n_inputs, weights):
    """Keyword arguments for :func:`reproject_and_coadd` from parsed options."""
    from .mosaic._plan import parse_memory

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


def _want_progress(args):
    if getattr(args, "progress", None) is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(args.progress)


def _connect(address):
    """A dask.distributed Client for ``--scheduler``."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise UsageError("--scheduler needs dask.distributed (pip install 'numbamosaic[dask]')")
    if importlib.util.find_spec("numbamosaic.distributed") is None:
        raise UsageError("--scheduler: the distributed driver is not available in this installation")
    from distributed import Client

    return Client(address)


def _bunit(path, hdu):
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            h = hdul[hdu if hdu is not None else 0].header
            if h.get("NAXIS", 0) == 0 and len(hdul) > 1 and hdu is None:
                h = hdul[1].header
            return h.get("BUNIT")
    except Exception:  # noqa: BLE001 - cosmetic only
        return None


def _say(args, text):
    if not getattr(args, "quiet", False):
        print(text, flush=True)


def run_mosaic(args, inputs, weights=None, overwrite=False):
    """Mosaic ``inputs`` as the parsed options say and write ``args.output``.

    Returns a dict with ``wcs``, ``shape``, ``array``, ``footprint``,
    ``seconds``, ``frame`` (description) and ``path``.
    """
    import numpy as np

    from . import reproject_and_coadd
    from ._fitsout import FitsMosaic, provenance_header

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
        from astropy.io import fits

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
        from .mosaic._coadd import mosaic_dtype
        from .mosaic._inputs import make_sources

        # the dtype the mosaic will have, from the inputs alone (no transforms, no plan)
        dtype = mosaic_dtype(make_sources(engine_inputs, hdu_in=kwargs.get("hdu_in")))
        if _is_zarr_path(args.output):
            # written tile by tile into a temporary group, moved into place at the end
            from ._zarrout import ZarrMosaic

            store = ZarrMosaic(args.output, shape, dtype)
        else:
            # headers first, then each tile straight into the file (temporary name, renamed at the end)
            store = FitsMosaic(args.output, shape, dtype, wcs, provenance=prov, header=header, overwrite=overwrite)
        kwargs.update(output_array=store.array, output_footprint=store.footprint)
        if _want_progress(args):
            stages = (["background"] if args.match_background else []) + ["mosaic"]
            kwargs["progress_bar"] = _TileProgress(stages)
        reproject_and_coadd(engine_inputs, wcs, shape_out=shape, **kwargs)
        if isinstance(store, FitsMosaic):
            covered = store.covered_pixels if client is None else None  # workers' writes are not counted here
            store.commit()
            array, footprint = store.mapped_result()
        else:
            from ._fitsout import mosaic_header

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


# ---------------------------------------------------------------------------
# Sub-commands
# ---------------------------------------------------------------------------


def cmd_mosaic(args):
    """``numbamosaic mosaic``."""
    import numpy as np

    inputs = expand_inputs(args.inputs)
    weights = expand_inputs(args.weights, "weight") if args.weights else None
    from ._zarrout import coverage_fraction

    r = run_mosaic(args, inputs, weights, overwrite=args.overwrite)
    ny, nx = r["shape"]
    if r["covered"] is not None:  # counted as the tiles were written
        covered = r["covered"] / max(1, nx * ny)
    else:  # read back in row blocks (a zarr store, or tiles written by dask workers)
        covered = coverage_fraction(r["footprint"])
    _say(
        args,
        f"wrote {args.output}: {nx} x {ny} {r['dtype'].name}, {args.combine} of {len(inputs)} inputs "
        f"({args.method}), {covered:.0%} covered, {r['seconds']:.1f} s"
        + (f"; preview {args.preview}" if args.preview else ""),
    )
    return 0


def cmd_plan(args):
    """``numbamosaic plan``."""
    from . import plan_mosaic
    from ._fitsout import fits_size
    from .mosaic._plan import _fmt

    inputs = expand_inputs(args.inputs)
    weights = expand_inputs(args.weights, "weight") if args.weights else None
    kwargs = _coadd_kwargs(args, len(inputs), weights)
    wcs, shape, frame = _output_frame(args, inputs)
    plan = plan_mosaic(inputs, wcs, shape_out=shape, **kwargs)
    out = [
        f"{len(inputs)} input(s); method {args.method}, combine {args.combine}",
        f"output frame ({frame}): {describe_frame(wcs, shape)}",
    ]
    out += plan.summary_lines()
    size = fits_size(shape, plan.dtype)
    target = args.output or "the output file"
    out.append(f"expected size of {target}: {_fmt(size)} (data + FOOTPRINT extension, {plan.dtype.name})")
    out.append("input boxes in the output (0-based, y0:y1, x0:x1):")
    width = max(len(p) for p in inputs)
    for k, name in enumerate(inputs):
        box = plan.bboxes.get(k)
        if box is None:
            out.append(f"  {k:4d} {name:<{width}s}  outside the output")
        else:
            y0, y1, x0, x1 = box
            out.append(f"  {k:4d} {name:<{width}s}  {y0}:{y1}, {x0}:{x1}  ({y1 - y0} x {x1 - x0} px)")
    if args.write_header:
        from ._fitsout import _wcs_header

        h = _wcs_header(wcs)
        h.insert(0, ("NAXIS", 2))
        h.insert(1, ("NAXIS1", int(shape[1])))
        h.insert(2, ("NAXIS2", int(shape[0])))
        h.totextfile(args.write_header, overwrite=True)
        out.append(f"wrote the output header to {args.write_header} (use: numbamosaic mosaic ... --header {args.write_header})")
    print("\n".join(out), flush=True)
    return 0


def cmd_demo(args):
    """``numbamosaic demo``: synthetic survey -> mosaic.fits + mosaic.png."""
    import numpy as np

    from .synthetic import make_survey, write_survey

    directory = args.directory
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"demo directory is a file: {directory}")
    os.makedirs(directory, exist_ok=True)
    t0 = time.perf_counter()
    n, px = args.tiles, args.tile_pixels
    hdus = make_survey(n, n, tile_shape=(px, px), seed=args.seed, nan_blobs=1)
    paths = write_survey(hdus, os.path.join(directory, "tiles"))
    t_survey = time.perf_counter() - t0
    ns = argparse.Namespace(
        output=os.path.join(directory, "mosaic.fits"), preview=None, header=None, frame=None, projection="TAN",
        resolution=None, center=None, auto_rotate=False, method=args.method, conserve="surface-brightness",
        combine=args.combine, clip_sigma=3.0, clip_iters=5, weights=None, match_background=False,
        background_reference=None, background_model="offset", blank=float("nan"), hdu=None, weights_hdu=None,
        memory_limit=None, tmpdir=None, threads=args.threads, tile_size=None, scheduler=None,
        progress=args.progress, quiet=getattr(args, "quiet", False),
    )
    r = run_mosaic(ns, paths, overwrite=True)
    png = os.path.join(directory, "mosaic.png")
    preview = None
    try:
        write_preview(png, r["array"], r["footprint"], r["wcs"], title=f"numbamosaic demo: {args.combine} of {len(paths)} tiles")
        preview = png
    except ImportError:
        pass
    ny, nx = r["shape"]
    lines = [
        f"numbamosaic demo: synthetic survey of {n} x {n} tiles of {px} x {px} px "
        f"({t_survey:.1f} s) -> {os.path.join(directory, 'tiles')}/",
        f"  output frame (automatic): {describe_frame(r['wcs'], r['shape'])}",
        f"  mosaic: {args.combine} of {len(paths)} tiles, {args.method}, {nx} x {ny} {r['dtype'].name}, "
        f"{r['seconds']:.1f} s (including first-use compilation)",
        f"  wrote {r['path']}  (primary: mosaic + WCS + provenance; extension FOOTPRINT: coverage)",
    ]
    if preview:
        lines.append(f"  wrote {preview}  (preview: image with RA/Dec grid, footprint)")
    else:
        lines.append("  no PNG preview: matplotlib is not installed (pip install matplotlib)")
    tiles_glob = os.path.join(directory, "tiles", "*.fits")
    lines.append(f"  next: numbamosaic mosaic '{tiles_glob}' -o my-mosaic.fits --combine median --method lanczos3")
    _say(args, "\n".join(lines))
    return 0


def _find_benchmarks():
    """The ``benchmarks/`` directory and runner of a source checkout, or None."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bdir = os.path.join(root, "benchmarks")
    if not os.path.isdir(bdir) or not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return None, None
    for name in ("run_all.py", "__main__.py", "run.py"):
        runner = os.path.join(bdir, name)
        if os.path.isfile(runner):
            return root, runner
    return root, None


def cmd_warmup(args):
    """``numbamosaic warmup``: :func:`numbamosaic.warmup` for the given options."""
    from . import warmup

    quiet = getattr(args, "quiet", False)
    report = warmup(methods=args.method, combines=args.combine, dtypes=args.dtype,
                    match_background=args.match_background, verbose=not quiet)
    where = report["cache_dir"] or "Numba's default locations (numbamosaic's cache directory is not writable)"
    _say(args, f"warmed {len(report['steps'])} calls in {report['seconds']:.1f} s; kernels cached in {where}")
    return 0


def cmd_bench(args):
    """``numbamosaic bench``: run ``benchmarks/`` of the source checkout."""
    import subprocess

    root, runner = _find_benchmarks()
    if root is None:
        raise UsageError(
            "the benchmark suite is not installed: it lives in benchmarks/ of a source checkout "
            "(git clone, then pip install -e '.[bench]')"
        )
    if runner is None:
        raise UsageError(f"no benchmark runner found in {os.path.join(root, 'benchmarks')}")
    cmd = [sys.executable, runner] + list(args.bench_args)
    logging.getLogger("numbamosaic").info("running %s", " ".join(shlex.quote(c) for c in cmd))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.call(cmd, cwd=root, env=env)


# ---------------------------------------------------------------------------
# Preview
# ---------------------------------------------------------------------------


def _axis_labels(wcs):
    ctype = [c.strip().upper() for c in wcs.wcs.ctype]
    if ctype[0].startswith("RA"):
        return "RA", "Dec"
    if ctype[0].startswith("GLON"):
        return "Galactic longitude", "Galactic latitude"
    if ctype[0].startswith("ELON"):
        return "Ecliptic longitude", "Ecliptic latitude"
    return ctype[0].split("-")[0], ctype[1].split("-")[0]


def write_preview(path, array, footprint, wcs, title=None, max_pixels=1600):
    """Write a PNG preview: the mosaic (asinh stretch) and its footprint.

    Parameters
    ----------
    path : str
        PNG file to write.
    array, footprint : ndarray
        Mosaic and footprint (pixels with footprint 0 are shown as blank).
    wcs : astropy.wcs.WCS
        Output WCS; both panels get world-coordinate axes and a grid.
    title : str, optional
        Figure title.
    max_pixels : int
        Large mosaics are decimated so that the longer side has at most this
        many pixels (the preview stays fast and small).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    """
    import numpy as np
    from astropy.visualization import AsinhStretch, AsymmetricPercentileInterval, ImageNormalize
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = np.asarray(array)
    fp = np.asarray(footprint) if footprint is not None else np.isfinite(data).astype(np.float32)
    step = max(1, int(np.ceil(max(data.shape) / float(max_pixels))))
    if step > 1:
        data, fp, wcs = data[::step, ::step], fp[::step, ::step], wcs[::step, ::step]
    shown = np.where(fp > 0, data, np.nan).astype(np.float32)
    good = shown[np.isfinite(shown)]
    if good.size:
        # sky noise mid-grey-to-black, stars visible up to the brightest cores
        norm = ImageNormalize(good, interval=AsymmetricPercentileInterval(25.0, 99.95), stretch=AsinhStretch(0.01))
    else:
        norm = None
    fig = Figure(figsize=(12.5, 5.6), dpi=110)
    fig.subplots_adjust(left=0.07, right=0.96, bottom=0.1, top=0.93, wspace=0.28)
    FigureCanvasAgg(fig)
    xl, yl = _axis_labels(wcs)
    import matplotlib

    ax = fig.add_subplot(1, 2, 1, projection=wcs)
    cmap = matplotlib.colormaps["gray"].copy()
    cmap.set_bad("#3b4a6b")
    im = ax.imshow(shown, origin="lower", cmap=cmap, norm=norm, interpolation="antialiased")
    ax.coords.grid(color="#ffcc66", alpha=0.6, linestyle="dotted")
    ax.coords[0].set_axislabel(xl)
    ax.coords[1].set_axislabel(yl)
    ax.set_title(title or "mosaic", pad=10)
    fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)

    ax2 = fig.add_subplot(1, 2, 2, projection=wcs)
    fcmap = matplotlib.colormaps["viridis"].copy()
    fcmap.set_under("black")
    vmax = float(np.nanmax(fp)) if fp.size and np.isfinite(fp).any() else 1.0
    im2 = ax2.imshow(fp, origin="lower", cmap=fcmap, vmin=1e-6, vmax=max(vmax, 1e-6), interpolation="nearest")
    ax2.coords.grid(color="white", alpha=0.5, linestyle="dotted")
    ax2.coords[0].set_axislabel(xl)
    ax2.coords[1].set_axislabel(yl)
    ax2.set_title("footprint (summed weights)", pad=10)
    fig.colorbar(im2, ax=ax2, shrink=0.85, pad=0.02)
    tmp = path + ".part.png"
    try:
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def _no_space(exc):
    """The ENOSPC error behind ``exc`` (itself, its cause or context), or None.

    Writers may turn a full disk into another error (astropy raised
    ``AttributeError`` while cleaning up after numpy's short write), so the
    chain is searched.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError):
            if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                return exc
            # numpy's tofile reports a short write without errno: "40000 requested and 15664 written"
            if exc.errno is None and re.search(r"\d+ requested and \d+ written", str(exc)):
                return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _one_line(exc, output=None):
    """A single-line description of an exception (``output``: the -o path, if any)."""
    full = _no_space(exc)
    if full is not None:
        where = full.filename or output
        if full.strerror and full.errno is not None and full.strerror != os.strerror(full.errno) and where:
            return " ".join(f"{full.strerror}: {where}".split())  # an explanatory message (e.g. DiskFullError)
        return "no space left on device" + (f" writing {where}" if where else "")
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc).strip() or type(exc).__name__
        if isinstance(exc, KeyError):
            text = f"missing key {text}"
    text = " ".join(text.split())
    if isinstance(exc, MemoryError) and "MosaicMemoryError" not in type(exc).__name__ and not str(exc).strip():
        text = "out of memory (try --memory-limit, --tmpdir on a larger disk, or fewer --threads)"
    return text


def _configure_logging(verbose):
    logger = logging.getLogger("numbamosaic")
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        return handler
    return None


def _showwarning(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def main(argv=None):
    """Run the ``numbamosaic`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 runtime error, 2 command-line error, 130 interrupted.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    head = argv[: argv.index("--")] if "--" in argv else argv
    command_at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if command_at is not None and argv[command_at] == "bench":
        head = argv[:command_at]  # the rest belongs to the benchmark runner
    verbose = any(a in ("-v", "--verbose") for a in head)
    handler = _configure_logging(verbose)
    old_showwarning = warnings.showwarning
    args = None
    try:
        with warnings.catch_warnings():
            if not verbose:
                warnings.showwarning = _showwarning
            parser = build_parser()
            if command_at is not None and argv[command_at] == "bench":
                # everything after 'bench' belongs to the benchmark runner
                args = parser.parse_args(argv[: command_at + 1])
                rest = argv[command_at + 1 :]
                args.bench_args = rest[1:] if rest[:1] == ["--"] else rest
            else:
                args = parser.parse_args(argv)
            if getattr(args, "func", None) is None:
                parser.print_help(sys.stderr)
                return 2
            if not verbose and args.func is not cmd_bench:
                # after parsing: '--help' should not pay for importing astropy.wcs
                from astropy.wcs import FITSFixedWarning

                warnings.simplefilter("ignore", FITSFixedWarning)
            return int(args.func(args) or 0)
    except UsageError as exc:
        if verbose:
            traceback.print_exc()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        text = _one_line(exc, getattr(args, "output", None))
        if verbose:
            traceback.print_exc()
            print(f"{PROG}: error: {text}", file=sys.stderr)
        else:
            print(f"{PROG}: error: {text} (--verbose shows the traceback)", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = old_showwarning
        if handler is not None:
            logging.getLogger("numbamosaic").removeHandler(handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
