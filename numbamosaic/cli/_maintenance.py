"""``numbamosaic warmup`` and ``numbamosaic bench``: commands about the installation, not about images."""

import logging
import os
import shlex
import subprocess
import sys

from .._warmup import warmup
from ._parser import UsageError, say


def _find_benchmarks():
    """The ``benchmarks/`` directory and runner of a source checkout, or None."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    quiet = getattr(args, "quiet", False)
    report = warmup(methods=args.method, combines=args.combine, dtypes=args.dtype,
                    match_background=args.match_background, verbose=not quiet)
    where = report["cache_dir"] or "Numba's default locations (numbamosaic's cache directory is not writable)"
    say(args, f"warmed {len(report['steps'])} calls in {report['seconds']:.1f} s; kernels cached in {where}")
    return 0


def cmd_bench(args):
    """``numbamosaic bench``: run ``benchmarks/`` of the source checkout."""
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
