"""Cold start of the command line (issue 10): the four runs with an empty Numba cache, and reproject's exact mosaic.

Inputs: 4 float32 TAN tiles of 1024² (``make_survey(2, 2, tile_shape=(1024,
1024), seed=0)``, written with ``write_survey``) into the automatic frame
(1957 x 1955).  Each numbamosaic run is one fresh process of::

    NUMBA_CACHE_DIR=<new empty dir> python -m numbamosaic mosaic 'tiles/*.fits' -o out.fits --overwrite -q [opts]

for ``opts`` in: nothing (bilinear mean), ``--combine median``, ``--method
adaptive`` and ``--method exact``, so every kernel the run needs is compiled
in it.  The peer is reproject 0.21's ``reproject_and_coadd(...,
reproject_function=reproject_exact)`` onto the frame of its own
``find_optimal_celestial_wcs`` (the same frame), in a fresh process, imports
included.  Issue 10's targets: each run <= 10 s on 2 cores, and the exact run
no slower than reproject's.

The machine's speed can drift between runs (a shared VM): ``--rounds N``
alternates the contenders N times and prints every run; quote figures from
one invocation.

Usage::

    python benchmarks/cold_start.py                   # one round, tiles in a temporary directory
    python benchmarks/cold_start.py --rounds 2 --data /tmp/cold   # keep and reuse the tiles
    python benchmarks/cold_start.py --skip reproject
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RUNS = {
    "bilinear mean": [],
    "median": ["--combine", "median"],
    "adaptive": ["--method", "adaptive"],
    "exact": ["--method", "exact"],
}

REPROJECT_SCRIPT = """
import glob, sys, warnings
warnings.simplefilter("ignore")
from astropy.io import fits
from reproject import reproject_exact
from reproject.mosaicking import find_optimal_celestial_wcs, reproject_and_coadd
hdus = [fits.open(f)[0] for f in sorted(glob.glob(sys.argv[1]))]
wcs, shape = find_optimal_celestial_wcs(hdus)
reproject_and_coadd(hdus, wcs, shape_out=shape, reproject_function=reproject_exact)
print(shape)
"""


def make_tiles(directory):
    """The four 1024² tiles, written once into ``directory/tiles``; returns their glob pattern."""
    from numbamosaic.synthetic import make_survey, write_survey

    tiles = os.path.join(directory, "tiles")
    if not os.path.isdir(tiles) or len(os.listdir(tiles)) < 4:
        write_survey(make_survey(2, 2, tile_shape=(1024, 1024), seed=0), tiles)
    return os.path.join(tiles, "*.fits")


def run_numbamosaic(pattern, opts, work):
    """One cold run in a fresh process with its own empty cache directory."""
    cache = tempfile.mkdtemp(prefix="nm-cold-cache-")
    try:
        cmd = [sys.executable, "-m", "numbamosaic", "mosaic", pattern, "-o", os.path.join(work, "out.fits"), "--overwrite", "-q"]
        return common.measure_command(cmd + opts, env={"NUMBA_CACHE_DIR": cache})
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run_reproject(pattern):
    """reproject's exact mosaic of the same tiles, in a fresh process."""
    return common.measure_command([sys.executable, "-c", REPROJECT_SCRIPT, pattern])


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None, help="directory for the tiles (kept; default: a temporary one)")
    p.add_argument("--rounds", type=int, default=1, help="times each contender runs, alternated (default 1)")
    p.add_argument("--skip", default="", help="comma-separated runs to skip: bilinear, median, adaptive, exact, reproject")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    work = args.data or tempfile.mkdtemp(prefix="nm-cold-")
    os.makedirs(work, exist_ok=True)
    try:
        pattern = make_tiles(work)
        rows = []
        for k in range(args.rounds):
            for name, opts in RUNS.items():
                if name.split()[0] in skip:
                    continue
                r = run_numbamosaic(pattern, opts, work)
                rows.append(dict(round=k + 1, run=f"numbamosaic {name}", **r))
            if "reproject" not in skip:
                rows.append(dict(round=k + 1, run="reproject exact mosaic", **run_reproject(pattern)))
        for r in rows:
            if r["returncode"] != 0:
                print(f"!! {r['run']} exited with {r['returncode']}: {r['stderr'][-800:]}", file=sys.stderr)
        peer = [r["wall"] for r in rows if r["run"].startswith("reproject") and r["returncode"] == 0]
        best_peer = min(peer) if peer else None
        print(f"machine: {common.machine_summary()}")
        common.print_table(rows, [
            ("round", lambda r: str(r["round"])),
            ("run", "run"),
            ("wall s", "wall"),
            ("user + sys s", "cpu"),
            ("peak RSS MiB", "peak_rss_mb"),
            ("<= 10 s", lambda r: "—" if r["run"].startswith("reproject") else ("yes" if r["wall"] <= 10.0 else "no")),
            ("reproject's fastest exact / this", lambda r: common.fmt(common.ratio(best_peer, r["wall"]), ".2f") + "x"
             if best_peer and r["run"] == "numbamosaic exact" else "—"),
            ("exit", lambda r: str(r["returncode"])),
        ], title="## Cold start, 4 x 1024² TAN tiles -> the automatic frame, empty Numba cache per run")
    finally:
        if not args.data:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
