"""Where a fresh process's first call goes (warm Numba cache): imports, Numba's start-up, kernel loads.

One case per run, in this fresh process (``-m`` from the checkout, so that its ``numbamosaic`` is the one
imported)::

    python -m benchmarks.first_call hips [--second] [--loads] [--mods] [--floor] [--prescipy]
    python -m benchmarks.first_call e2e --data /tmp/qb/e2e/survey16_2048 [...]

``hips``: ``reproject_to_hips`` of ``bench_hips.py``'s 1024² input (tile_size 256,
``numbamosaic.reproject_interp``, reproject's arguments).  ``e2e``: ``reproject_and_coadd(files,
wcs, shape_out=shape)`` of a survey made by ``bench_e2e.py`` (its ``inputs.txt`` and
``output_header.txt``).  Printed: ``import numbamosaic`` and the first call, wall/CPU seconds; the
time spent inside Numba's dispatchers (cache loads, or compiles) and their number.  Options:
``--loads`` lists each dispatcher loaded, ``--mods`` the modules the call imported, ``--floor``
first calls a trivial cached ``numba.njit`` function (Numba's one-time start-up, timed apart),
``--prescipy`` imports ``scipy.linalg.cython_blas`` before the call (what Numba's start-up
imports; see RESULTS.md), ``--second`` times a second call.  Use ``NUMBA_CACHE_DIR`` and run it
twice (the first run of a tree compiles).  The wrapping of ``Dispatcher.compile`` is this
script's own (benchmark process only).
"""

import argparse
import collections
import os
import resource
import shutil
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _plus_one(x):
    return x + 1


def _timed_calls(a, call, loads, imp):
    """The first call (and with ``--floor`` / ``--second`` the floor and a second call), timed; the report line."""
    line = f"import {imp[0]:.3f}/{imp[1]:.3f}"
    if a.floor:
        import numba

        fn = numba.njit(cache=True)(_plus_one)
        c0, t0 = cpu(), time.perf_counter()
        fn(1)
        line += f"  floor {time.perf_counter() - t0:.3f}/{cpu() - c0:.3f}"
    n0 = len(loads)
    c0, t0 = cpu(), time.perf_counter()
    call(1)
    line += f"  first {time.perf_counter() - t0:.3f}/{cpu() - c0:.3f}"
    line += f"  dispatchers {sum(t for _, t in loads[n0:]):.3f} ({len(loads) - n0})"
    if a.second:
        c0, t0 = cpu(), time.perf_counter()
        call(2)
        line += f"  second {time.perf_counter() - t0:.3f}/{cpu() - c0:.3f}"
    return line


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("case", choices=["hips", "e2e"])
    p.add_argument("--data", default="/tmp/qb/e2e/survey16_2048", help="e2e: survey directory of bench_e2e.py")
    for flag in ("floor", "second", "mods", "loads", "prescipy"):
        p.add_argument(f"--{flag}", action="store_true")
    a = p.parse_args(argv)
    warnings.simplefilter("ignore")
    if a.case == "hips":
        sys.path.insert(0, HERE)
        c0, t0 = cpu(), time.perf_counter()
        import numbamosaic
        from numbamosaic.hips import reproject_to_hips

        imp = (time.perf_counter() - t0, cpu() - c0)
        from bench_hips import make_problem

        data, wcs = make_problem(1024)
        tmp = tempfile.mkdtemp(prefix="first-call-")

        def call(k):
            out = os.path.join(tmp, str(k))
            reproject_to_hips((data, wcs), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                              output_directory=out, tile_size=256)
            shutil.rmtree(out, ignore_errors=True)
    else:
        from astropy.io import fits
        from astropy.wcs import WCS

        with open(os.path.join(a.data, "inputs.txt")) as f:
            files = [line.strip() for line in f if line.strip()]
        header = fits.Header.fromtextfile(os.path.join(a.data, "output_header.txt"))
        wcs_out, shape = WCS(header), (header["NAXIS2"], header["NAXIS1"])
        c0, t0 = cpu(), time.perf_counter()
        from numbamosaic import reproject_and_coadd

        imp = (time.perf_counter() - t0, cpu() - c0)
        tmp = None

        def call(k):
            reproject_and_coadd(files, wcs_out, shape_out=shape)

    from benchmarks.common import dispatcher_loads  # after the timed import: it imports NumPy

    if a.prescipy:
        import scipy.linalg.cython_blas  # noqa: F401
    mods0 = set(sys.modules)
    with dispatcher_loads() as loads:
        line = _timed_calls(a, call, loads, imp)
    print(line + f"  (wall/CPU s, load {os.getloadavg()[0]:.2f})")
    if a.loads:
        for name, t in loads:
            print(f"  {t * 1e3:8.1f} ms {name}")
    if a.mods:
        new = sorted(set(sys.modules) - mods0)
        groups = collections.Counter(".".join(m.split(".")[:2]) for m in new)
        print(f"modules imported by the call: {len(new)}")
        for k, v in groups.most_common(25):
            print(f"  {v:4d} {k}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
