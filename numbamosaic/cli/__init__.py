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

Layout: :mod:`._parser` (options of every command; cheap to import),
:mod:`._inputs` (file names, globs, ``@list`` files, output checks),
:mod:`._frame` (output frame), one module per command (:mod:`._mosaic`,
:mod:`._plan`, :mod:`._demo`, :mod:`._hips`, :mod:`._maintenance` for
``warmup``/``bench``) and :mod:`._preview` (PNG).  A command's module is
imported when :func:`main` dispatches to it, so ``--help`` and usage errors
load neither astropy.wcs nor the engine's drivers (``tests/test_startup.py``).
"""

import errno
import importlib
import logging
import os
import re
import sys
import traceback
import warnings

from ._inputs import expand_inputs
from ._parser import PROG, UsageError, build_parser

__all__ = ["main", "build_parser", "expand_inputs", "write_preview", "run_mosaic", "UsageError"]

#: sub-command -> (module, function); the module is imported on dispatch
_COMMANDS = {
    "mosaic": ("._mosaic", "cmd_mosaic"),
    "plan": ("._plan", "cmd_plan"),
    "demo": ("._demo", "cmd_demo"),
    "hips": ("._hips", "cmd_hips"),
    "warmup": ("._maintenance", "cmd_warmup"),
    "bench": ("._maintenance", "cmd_bench"),
}

#: public names of the command modules, importable from here on first use
_LAZY = {"run_mosaic": "._mosaic", "write_preview": "._preview", "describe_frame": "._frame"}


def _command(name):
    """The function running sub-command ``name`` (imports its module)."""
    module, func = _COMMANDS[name]
    return getattr(importlib.import_module(module, __name__), func)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
            if getattr(args, "command", None) is None:
                parser.print_help(sys.stderr)
                return 2
            if not verbose and args.command != "bench":
                # after parsing: '--help' should not pay for importing astropy.wcs
                from astropy.wcs import FITSFixedWarning

                warnings.simplefilter("ignore", FITSFixedWarning)
            return int(_command(args.command)(args) or 0)
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
