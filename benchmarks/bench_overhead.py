"""Per-call overhead: tiny reprojections where the fixed cost of a call dominates.

Two cases (issue 13, deliverable 4), each contender in a **fresh process**
whose Numba cache is warm (the kernels are loaded from the cache by warm-up
calls before timing):

* ``interp``: a 64² -> 64² ``reproject_interp`` (bilinear, float32 star
  field, TAN onto a TAN grid rotated by 20° and shifted by a few pixels);
* ``coadd``: ``reproject_and_coadd`` of 4 float32 128² images (a 2 x 2
  synthetic survey, 25 % overlap, rotated tiles) with ``reproject_interp``,
  mean combine, onto a north-up TAN frame covering them.

Inputs are ``(array, WCS)`` pairs and the output a WCS with a shape, built
once before timing (parsing FITS headers is not part of the figure).  Each
library runs on its defaults (numbamosaic ``parallel=True``: all cores;
reproject ``parallel=False``); numbamosaic ``parallel=False`` is shown too.
The figure is the best of ``--repeat`` steady calls (wall and CPU time of
the process, ``time.perf_counter`` / ``time.process_time``), after
``--warmup`` calls; the median is printed as well.

Usage::

    python benchmarks/bench_overhead.py                  # both cases, 50 repeats
    python benchmarks/bench_overhead.py --repeat 200 --json /tmp/ovh.json
    python benchmarks/bench_overhead.py --skip reproject
"""

import argparse
import json
import os
import subprocess
import sys
import time

RESULT_TAG = "OVERHEAD_RESULT "
CENTER = (150.0, 2.0)

#: (label, library, parallel)
CONTENDERS = (
    ("numbamosaic", "numbamosaic", True),
    ("numbamosaic parallel=False", "numbamosaic", False),
    ("reproject", "reproject", False),
)


def interp_problem():
    """64² float32 star field and its output grid (rotated 20°, shifted ~4 px)."""
    from numbamosaic.synthetic import make_star_field, tile_wcs

    shape = (64, 64)
    wcs_in = tile_wcs(CENTER, shape, 1.0, 0.0)
    wcs_out = tile_wcs((CENTER[0] + 0.001, CENTER[1] + 0.0008), shape, 1.0, 20.0)
    data = make_star_field(shape, wcs_in, noise=1.0, nan_blobs=0, seed=0)
    return (data, wcs_in), wcs_out, shape


def coadd_problem():
    """Four float32 128² tiles (2 x 2, 25 % overlap) and a north-up frame covering them."""
    from numbamosaic.synthetic import make_survey, survey_output_wcs
    from astropy.wcs import WCS

    hdus = make_survey(2, 2, tile_shape=(128, 128), overlap=0.25, nan_blobs=0, seed=1, n_stars=60)
    inputs = [(h.data, WCS(h.header)) for h in hdus]
    wcs_out, shape = survey_output_wcs(hdus)
    return inputs, wcs_out, tuple(int(s) for s in shape)


def _timed(fn, warmup, repeat):
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        c1, w1 = time.process_time(), time.perf_counter()
        walls.append(w1 - w0)
        cpus.append(c1 - c0)
    walls.sort()
    cpus.sort()
    return {
        "best_ms": 1e3 * walls[0], "median_ms": 1e3 * walls[len(walls) // 2],
        "best_cpu_ms": 1e3 * cpus[0], "median_cpu_ms": 1e3 * cpus[len(cpus) // 2],
    }


def worker(args):
    """One contender, one fresh process: warm up, then time both cases."""
    lib = args.library
    if lib == "numbamosaic":
        import numbamosaic as m

        interp, coadd = m.reproject_interp, m.reproject_and_coadd
        par = {"parallel": args.parallel == "true"}
        info = {"version": m.__version__, "file": m.__file__}
    else:
        import reproject as m
        from reproject.mosaicking import reproject_and_coadd

        interp, coadd = m.reproject_interp, reproject_and_coadd
        par = {}  # reproject's default: parallel=False
        info = {"version": m.__version__}
    out = {"library": lib, "info": info, "cases": {}}
    if "interp" in args.cases:
        inp, wcs_out, shape = interp_problem()
        out["cases"]["interp"] = _timed(lambda: interp(inp, wcs_out, shape_out=shape, **par), args.warmup, args.repeat)
        out["cases"]["interp"]["shape"] = [list(inp[0].shape), list(shape)]
    if "coadd" in args.cases:
        inputs, wcs_out, shape = coadd_problem()
        out["cases"]["coadd"] = _timed(
            lambda: coadd(inputs, wcs_out, shape_out=shape, reproject_function=interp, **par), args.warmup, args.repeat
        )
        out["cases"]["coadd"]["shape"] = [[128, 128], list(shape)]
    print(RESULT_TAG + json.dumps(out), flush=True)


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _git_rev():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=50, help="timed calls per case (best and median reported)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed calls first (cache loading, first-touch)")
    ap.add_argument("--cases", default="interp,coadd")
    ap.add_argument("--skip", default="", help="comma-separated libraries to skip (numbamosaic, reproject)")
    ap.add_argument("--json", metavar="FILE", help="save the raw figures")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--library", help=argparse.SUPPRESS)
    ap.add_argument("--parallel", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.cases = [c for c in args.cases.split(",") if c]
    if args.worker:
        return worker(args)
    skip = {s for s in args.skip.split(",") if s}
    load_before = _loadavg()
    results = []
    for label, lib, parallel in CONTENDERS:
        if lib in skip:
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--library", lib,
               "--parallel", "true" if parallel else "false", "--repeat", str(args.repeat),
               "--warmup", str(args.warmup), "--cases", ",".join(args.cases)]
        # a fresh process per contender, importing the numbamosaic of the current directory first
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"{label}: worker failed (exit {proc.returncode})")
        res = json.loads(lines[-1][len(RESULT_TAG):])
        res["label"] = label
        results.append(res)
    load_after = _loadavg()
    print(f"per-call overhead, best of {args.repeat} steady calls after {args.warmup} warm-up calls, fresh process "
          f"per contender, warm Numba cache; numbamosaic git {_git_rev()}; load average {load_before} -> {load_after}")
    print(f"{'case':8s} {'contender':28s} {'best ms':>8s} {'median ms':>10s} {'best CPU ms':>12s} {'median CPU ms':>14s}")
    for case in args.cases:
        for r in results:
            c = r["cases"].get(case)
            if c is None:
                continue
            print(f"{case:8s} {r['label']:28s} {c['best_ms']:8.2f} {c['median_ms']:10.2f} {c['best_cpu_ms']:12.2f} "
                  f"{c['median_cpu_ms']:14.2f}")
        nm = next((r["cases"][case] for r in results if r["label"] == "numbamosaic" and case in r["cases"]), None)
        rp = next((r["cases"][case] for r in results if r["label"] == "reproject" and case in r["cases"]), None)
        if nm and rp:
            print(f"{case:8s} speed-up vs reproject (best wall): {rp['best_ms'] / nm['best_ms']:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load_before, "load_after": load_after, "git": _git_rev(), "repeat": args.repeat,
                       "warmup": args.warmup, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
