"""HiPS generation benchmark: numbamosaic vs reproject 0.21's ``reproject_to_hips``.

One ``SIZE``² float32 star field (TAN, 1″/px by default) is turned into a HiPS
with **reproject's own arguments**::

    reproject_to_hips((data, wcs), coord_system_out="equatorial",
                      reproject_function=<library>.reproject_interp,
                      output_directory=..., tile_size=256)

(level chosen automatically by both, reproject's rule).  Each contender runs
in a fresh subprocess (``common.py``): ``numbamosaic (cold)`` with an empty
Numba cache (includes JIT compilation), ``numbamosaic`` re-using that cache
(all cores, the default), ``numbamosaic 1 thread`` (``threads=False``, as
reproject's default), ``reproject``, and the Numba floor: ``import numba`` and the
first call of a trivial cached ``@njit`` function, the one-time start-up of Numba that
any first call of a compiled function includes (:func:`numba_floor_worker`).  Each worker calls the function
twice: the first call (in a fresh process: includes the imports numbamosaic
defers and loading its compiled kernels, with Numba's one-time start-up,
reported separately as "Numba load/compile") and a second one.  Reported: the
CPU time of importing the library, wall and CPU time of both calls, the whole process's wall time (interpreter,
imports, input generation, both calls), files written, peak RSS, and
agreement of the two HiPS (same tile files, max |diff| / data range over
pixels both cover).  On a shared machine wall times are noisy: CPU times and
ratios from one run are the figures to quote.

Usage::

    python benchmarks/bench_hips.py                  # 1024², tile_size 256
    python benchmarks/bench_hips.py --size 512 --skip reproject
    python benchmarks/bench_hips.py --survey         # 16 x 512² tiles: mosaic_to_hips vs reproject + coadd_hips
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

CENTER = (150.0, 2.0)


def make_problem(size, seed=0):
    from numbamosaic.synthetic import make_star_field, tile_wcs

    shape = (size, size)
    wcs = tile_wcs(CENTER, shape, 1.0, 0.0)
    return make_star_field(shape, wcs, noise=1.0, nan_blobs=2, seed=seed), wcs


def make_survey_inputs(size):
    from astropy.wcs import WCS

    from numbamosaic.synthetic import make_survey

    return [(h.data, WCS(h.header)) for h in make_survey(4, 4, tile_shape=(size, size), seed=0)]


def survey_worker(args, state):
    """16-tile survey: numbamosaic's mosaic_to_hips vs reproject_to_hips input by input + coadd_hips."""
    inputs = make_survey_inputs(args.size)
    state.mark_baseline()
    if args.contender == "reproject-survey":
        import reproject
        from reproject.hips import coadd_hips, reproject_to_hips

        dirs = [f"{args.out}_in{i}" for i in range(len(inputs))]

        def run():
            for inp, d in zip(inputs, dirs):
                reproject_to_hips(inp, coord_system_out="equatorial", reproject_function=reproject.reproject_interp,
                                  output_directory=d, tile_size=args.tile_size)
            try:
                coadd_hips(dirs, args.out)
            except NotImplementedError:
                state.result["note"] = "coadd_hips raises NotImplementedError for overlapping FITS tiles"

        state.time_call("first", run)
    else:
        from numbamosaic.hips import mosaic_to_hips

        state.time_call("first", mosaic_to_hips, inputs, coord_system_out="equatorial", output_directory=args.out,
                        tile_size=args.tile_size, combine_function="mean")
    tiles = glob.glob(os.path.join(args.out, "Norder*", "Dir*", "Npix*.fits"))
    common.worker_report(state, contender=args.contender, tiles=len(tiles),
                         files=sum(len(f) for _, _, f in os.walk(args.out)))


def numba_floor_worker(state):
    """Numba's own one-time cost in a fresh process: ``import numba``, then the first call of a
    trivial cached ``@njit`` function (with a warm cache: starting Numba's CPU target, which imports
    its registries and, for its BLAS check, scipy.linalg, and loading one cache entry).  Every Numba
    program pays it once, inside its first call of a compiled function: the floor of numbamosaic's
    first-call time."""
    c0 = common.cpu_time()
    import numba

    state.result["import_cpu"] = common.cpu_time() - c0
    fn = numba.njit(cache=True)(_plus_one)  # the benchmark's scratch function, not package code
    state.time_call("first", fn, 1)
    common.worker_report(state, contender="numba-floor")


def _plus_one(x):
    return x + 1


def worker(args):
    import warnings

    warnings.simplefilter("ignore")
    state = common.WorkerState()
    if args.contender.endswith("-survey"):
        return survey_worker(args, state)
    if args.contender == "numba-floor":
        return numba_floor_worker(state)
    c0 = common.cpu_time()  # the library's import first (the input generator imports numbamosaic)
    if args.contender == "reproject":
        import reproject
        from reproject.hips import reproject_to_hips

        fn, kw = reproject.reproject_interp, {}
    else:
        import numbamosaic
        from numbamosaic.hips import reproject_to_hips

        fn = numbamosaic.reproject_interp
        kw = {"threads": False} if args.contender == "numbamosaic-1" else {}
    state.result["import_cpu"] = common.cpu_time() - c0
    data, wcs = make_problem(args.size)
    state.mark_baseline()
    with state.kernel_time("first_numba"):  # Numba's start-up and cache loads (or compiles) inside the first call
        state.time_call("first", reproject_to_hips, (data, wcs), coord_system_out="equatorial",
                        reproject_function=fn, output_directory=args.out, tile_size=args.tile_size, **kw)
    # a second call in the same process (imports and kernel loading already paid)
    state.time_call("steady", reproject_to_hips, (data, wcs), coord_system_out="equatorial", reproject_function=fn,
                    output_directory=args.out + "_2", tile_size=args.tile_size, **kw)
    shutil.rmtree(args.out + "_2", ignore_errors=True)
    files = [p for p in glob.glob(os.path.join(args.out, "**", "*"), recursive=True) if os.path.isfile(p)]
    tiles = glob.glob(os.path.join(args.out, "Norder*", "Dir*", "Npix*.fits"))
    common.worker_report(state, contender=args.contender, files=len(files), tiles=len(tiles))


def compare(a, b):
    """Same tile files? max |diff| / range over pixels both cover."""
    from astropy.io import fits

    ta = sorted(os.path.relpath(p, a) for p in glob.glob(os.path.join(a, "Norder*", "Dir*", "Npix*.fits")))
    tb = sorted(os.path.relpath(p, b) for p in glob.glob(os.path.join(b, "Norder*", "Dir*", "Npix*.fits")))
    worst, lo, hi, cover = 0.0, np.inf, -np.inf, 0
    for f in sorted(set(ta) & set(tb)):
        x = fits.getdata(os.path.join(a, f)).astype(np.float64)
        y = fits.getdata(os.path.join(b, f)).astype(np.float64)
        cover += int((np.isfinite(x) != np.isfinite(y)).sum())
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            worst = max(worst, float(np.abs(x[ok] - y[ok]).max()))
            lo, hi = min(lo, float(y[ok].min())), max(hi, float(y[ok].max()))
    return dict(same_files=ta == tb, n_a=len(ta), n_b=len(tb), coverage_diff=cover,
                max_diff_over_range=worst / (hi - lo) if hi > lo else float("nan"))


def run(size=1024, tile_size=256, skip=(), echo=True):
    here = os.path.abspath(__file__)
    tmp = tempfile.mkdtemp(prefix="nm_bench_hips_")
    cache = os.path.join(tmp, "numba_cache")
    os.makedirs(cache)
    base = ["--size", size, "--tile-size", tile_size]
    results = {}
    try:
        if "numbamosaic" not in skip:
            env = {"NUMBA_CACHE_DIR": cache}
            for name, c in (("numbamosaic (cold)", "numbamosaic"), ("numbamosaic", "numbamosaic"),
                            ("numbamosaic 1 thread", "numbamosaic-1")):
                out = os.path.join(tmp, name.replace(" ", "_").replace("(", "").replace(")", ""))
                results[name] = common.run_python_worker(here, [c, "--out", out] + base, env=env, echo=echo)
            floor = ["numba-floor", "--out", os.path.join(tmp, "floor")] + base
            common.run_python_worker(here, floor, env=env, echo=echo)  # fills the cache
            results["Numba floor (trivial cached @njit)"] = common.run_python_worker(here, floor, env=env, echo=echo)
        if "reproject" not in skip:
            results["reproject"] = common.run_python_worker(
                here, ["reproject", "--out", os.path.join(tmp, "reproject")] + base, echo=echo)
        common.check_errors(results)
        agreement = None
        if "numbamosaic" in results and "reproject" in results:
            agreement = compare(os.path.join(tmp, "numbamosaic"), os.path.join(tmp, "reproject"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rp = results.get("reproject", {})
    def plus(r, a, b):
        return r[a] + r[b] if r.get(a) is not None and r.get(b) is not None else None

    rows = [dict(name=k, time=r.get("first"), cpu=r.get("first_cpu"), speedup=common.ratio(rp.get("first"), r.get("first")),
                 cpu_speedup=common.ratio(rp.get("first_cpu"), r.get("first_cpu")), imp=r.get("import_cpu"),
                 numba=r.get("first_numba"),
                 imp_speedup=common.ratio(plus(rp, "import_cpu", "first_cpu"), plus(r, "import_cpu", "first_cpu")),
                 steady=r.get("steady"), steady_cpu=r.get("steady_cpu"),
                 steady_speedup=common.ratio(rp.get("steady_cpu"), r.get("steady_cpu")),
                 process=r.get("wall"), files=r.get("files"), tiles=r.get("tiles"), hwm=r.get("hwm_mb"),
                 error=r.get("error"))
            for k, r in results.items()]
    return rows, agreement


def report(rows, agreement, size, tile_size):
    print(f"\n## reproject_to_hips, one {size}x{size} float32 TAN image, tile_size={tile_size}, "
          "coord_system_out='equatorial', reproject_interp (reproject's arguments)")
    print(f"machine: {common.machine_summary()}")
    f = common.fmt
    common.print_table(rows, [
        ("contender", "name"), ("import CPU s", lambda r: f(r["imp"])),
        ("1st call wall s", lambda r: f(r["time"])), ("1st CPU s", lambda r: f(r["cpu"])),
        ("of which Numba load/compile wall s", lambda r: f(r["numba"])),
        ("x reproject (1st wall)", lambda r: f(r["speedup"], ".1f")),
        ("x reproject (1st CPU)", lambda r: f(r["cpu_speedup"], ".1f")),
        ("x reproject (import + 1st CPU)", lambda r: f(r["imp_speedup"], ".1f")),
        ("2nd call wall s", lambda r: f(r["steady"])), ("2nd CPU s", lambda r: f(r["steady_cpu"])),
        ("x reproject (2nd CPU)", lambda r: f(r["steady_speedup"], ".1f")),
        ("process wall s", lambda r: f(r["process"])), ("files", lambda r: f(r["files"], "d")),
        ("FITS tiles", lambda r: f(r["tiles"], "d")), ("peak RSS MiB", lambda r: f(r["hwm"], ".0f")),
        ("error", lambda r: r["error"] or ""),
    ])
    if agreement:
        print(f"agreement: same tile files {agreement['same_files']} ({agreement['n_a']} vs {agreement['n_b']}), "
              f"coverage differences {agreement['coverage_diff']} px, "
              f"max |diff| / range {agreement['max_diff_over_range']:.2e}")


def run_survey(size=512, tile_size=256, skip=(), echo=True):
    here = os.path.abspath(__file__)
    tmp = tempfile.mkdtemp(prefix="nm_bench_hips_survey_")
    env = {"NUMBA_CACHE_DIR": os.path.join(tmp, "numba_cache")}
    base = ["--size", size, "--tile-size", tile_size]
    results = {}
    try:
        if "numbamosaic" not in skip:
            common.run_python_worker(here, ["numbamosaic-survey", "--out", os.path.join(tmp, "warm")] + base, env=env,
                                     echo=echo)  # compiles into the cache
            results["numbamosaic mosaic_to_hips"] = common.run_python_worker(
                here, ["numbamosaic-survey", "--out", os.path.join(tmp, "nm")] + base, env=env, echo=echo)
        if "reproject" not in skip:
            results["reproject 16 x reproject_to_hips + coadd_hips"] = common.run_python_worker(
                here, ["reproject-survey", "--out", os.path.join(tmp, "rp")] + base, echo=echo)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rp = results.get("reproject 16 x reproject_to_hips + coadd_hips", {})
    return [dict(name=k, time=r.get("first"), cpu=r.get("first_cpu"), speedup=common.ratio(rp.get("first"), r.get("first")),
                 cpu_speedup=common.ratio(rp.get("first_cpu"), r.get("first_cpu")), process=r.get("wall"), files=r.get("files"), tiles=r.get("tiles"), hwm=r.get("hwm_mb"),
                 note=r.get("note") or r.get("error") or "") for k, r in results.items()]


def report_survey(rows, size, tile_size):
    print(f"\n## HiPS of the 16-tile survey (4x4 float32 {size}^2 TAN tiles, 10% overlap), tile_size={tile_size}, "
          "mean (numbamosaic) / input by input then coadd_hips (reproject)")
    print(f"machine: {common.machine_summary()}")
    f = common.fmt
    common.print_table(rows, [
        ("contender", "name"), ("wall s", lambda r: f(r["time"])), ("CPU s", lambda r: f(r["cpu"])),
        ("x reproject (wall)", lambda r: f(r["speedup"], ".1f")),
        ("x reproject (CPU)", lambda r: f(r["cpu_speedup"], ".1f")), ("process wall s", lambda r: f(r["process"])),
        ("files", lambda r: f(r["files"], "d")), ("FITS tiles", lambda r: f(r["tiles"], "d")),
        ("peak RSS MiB", lambda r: f(r["hwm"], ".0f")), ("note", "note"),
    ])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?")
    p.add_argument("--out")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--tile-size", type=int, default=256)
    p.add_argument("--skip", action="append", default=[])
    p.add_argument("--survey", action="store_true", help="16-tile survey scenario (--size per tile, default 512)")
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.survey:
        rows = run_survey(args.size if args.size != 1024 else 512, args.tile_size, tuple(args.skip))
        report_survey(rows, args.size if args.size != 1024 else 512, args.tile_size)
        return
    rows, agreement = run(args.size, args.tile_size, tuple(args.skip))
    report(rows, agreement, args.size, args.tile_size)


if __name__ == "__main__":
    main()
