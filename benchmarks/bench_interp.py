"""Single-image interpolation benchmark: numbamosaic vs reproject 0.21.

A ``SIZE``² float32 star field (TAN, 1″/px, noise, NaN blobs) is reprojected
onto a ``SIZE``² TAN grid rotated by 20° and shifted by ~30″, with
``reproject_interp`` on **each library's defaults** (bilinear; numbamosaic
``parallel=True`` i.e. all cores, reproject ``parallel=False``).

Each contender runs in a fresh subprocess (see ``common.py``):

* ``numbamosaic (cold)``: empty Numba cache (``NUMBA_CACHE_DIR`` set to a new
  directory), so the first call includes JIT compilation;
* ``numbamosaic``: a second fresh process re-using that cache (first call
  loads the compiled kernels from disk), then ``--repeat`` steady calls;
* ``reproject``: first call then ``--repeat`` steady calls.

Steady time is the minimum over the repeats.  Agreement between the two
outputs: max |diff| / data range over pixels both cover, and coverage
equality.

Usage::

    python benchmarks/bench_interp.py                 # 4096², 3 repeats
    python benchmarks/bench_interp.py --size 1024 --repeat 2
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ROTATION_DEG = 20.0
SHIFT_DEG = (0.008, 0.006)
CENTER = (150.0, 2.0)


def make_problem(size, nan_blobs=3, seed=0):
    """Input array, input WCS, output WCS and shape (deterministic)."""
    from numbamosaic.synthetic import make_star_field, tile_wcs

    shape = (size, size)
    wcs_in = tile_wcs(CENTER, shape, 1.0, 0.0)
    wcs_out = tile_wcs((CENTER[0] + SHIFT_DEG[0], CENTER[1] + SHIFT_DEG[1]), shape, 1.0, ROTATION_DEG)
    data = make_star_field(shape, wcs_in, noise=1.0, nan_blobs=nan_blobs, seed=seed)
    return data, wcs_in, wcs_out, shape


def worker(args):
    state = common.WorkerState()
    if args.contender not in ("numbamosaic", "reproject"):
        raise SystemExit(f"unknown contender {args.contender}")
    # first thing in the fresh process: the library's whole import cost
    fn = state.time_import(args.contender).reproject_interp
    data, wcs_in, wcs_out, shape = make_problem(args.size, nan_blobs=args.nan_blobs)
    state.mark_baseline()
    with state.kernel_time("first_kernels"):
        out = state.time_call("first", fn, (data, wcs_in), wcs_out, shape_out=shape)
    del out
    steady, steady_cpu = [], []
    out = None
    for _ in range(args.repeat):
        out = None  # free the previous result before the next call
        common.gc.collect()
        c = common.cpu_time()
        t = common.time.perf_counter()
        out = fn((data, wcs_in), wcs_out, shape_out=shape)
        steady.append(common.time.perf_counter() - t)
        steady_cpu.append(common.cpu_time() - c)
    state.result["steady_all"] = steady
    state.result["steady"] = min(steady) if steady else None
    state.result["steady_cpu"] = steady_cpu[int(np.argmin(steady))] if steady else None
    if args.save and out is not None:
        arr, fp = out
        np.save(args.save + ".array.npy", np.asarray(arr, dtype=np.float32))
        np.save(args.save + ".footprint.npy", np.asarray(fp, dtype=np.float32))
    common.worker_report(state, contender=args.contender)


def run(size=4096, repeat=3, nan_blobs=3, skip=(), keep=None, echo=True):
    """Run the benchmark; returns (rows, agreement dict)."""
    here = os.path.abspath(__file__)
    tmp = keep or tempfile.mkdtemp(prefix="nm_bench_interp_")
    os.makedirs(tmp, exist_ok=True)
    cache = os.path.join(tmp, "numba_cache")
    os.makedirs(cache, exist_ok=True)
    base = ["--size", size, "--nan-blobs", nan_blobs]
    results = {}
    try:
        if "numbamosaic" not in skip:
            results["numbamosaic (cold)"] = common.run_python_worker(
                here, ["numbamosaic", "--repeat", 1] + base, env={"NUMBA_CACHE_DIR": cache}, echo=echo)
            results["numbamosaic"] = common.run_python_worker(
                here, ["numbamosaic", "--repeat", repeat, "--save", os.path.join(tmp, "numbamosaic")] + base,
                env={"NUMBA_CACHE_DIR": cache}, echo=echo)
        if "reproject" not in skip:
            results["reproject"] = common.run_python_worker(
                here, ["reproject", "--repeat", repeat, "--save", os.path.join(tmp, "reproject")] + base, echo=echo)
        common.check_errors(results)
        agreement = None
        if "numbamosaic" in results and "reproject" in results and not any(
                r.get("error") for r in results.values()):
            a = np.load(os.path.join(tmp, "numbamosaic.array.npy"), mmap_mode="r")
            fa = np.load(os.path.join(tmp, "numbamosaic.footprint.npy"), mmap_mode="r")
            b = np.load(os.path.join(tmp, "reproject.array.npy"), mmap_mode="r")
            fb = np.load(os.path.join(tmp, "reproject.footprint.npy"), mmap_mode="r")
            agreement = common.compare_images(a, fa, b, fb)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    ref = results.get("numbamosaic", {}).get("steady")
    rows = []
    for name, r in results.items():
        rows.append(dict(
            name=name, first=r.get("first"), steady=r.get("steady") if name != "numbamosaic (cold)" else None,
            import_s=r.get("import"),
            kernels=r.get("first_kernels") if name.startswith("numbamosaic") else None,
            compiled=r.get("first_kernels_cache_misses") if name.startswith("numbamosaic") else None,
            ratio=common.ratio(r.get("steady"), ref) if name != "numbamosaic (cold)" else None,
            peak_rss=r.get("peak_rss_mb"), peak_anon=r.get("peak_anon_mb"),
            added_anon=r.get("added_anon_mb"), hwm=r.get("hwm_mb"), wall=r.get("wall"),
            steady_cpu=r.get("steady_cpu") if name != "numbamosaic (cold)" else None,
            cache=r.get("numba_cache_dir"),
            error=r.get("error"),
        ))
    return rows, agreement


def report(rows, agreement, size, repeat):
    print(f"\n## reproject_interp, {size}x{size} float32 TAN -> TAN rotated {ROTATION_DEG:g} deg, bilinear, "
          f"library defaults")
    print(f"machine: {common.machine_summary()}")
    common.print_table(rows, [
        ("contender", "name"),
        ("import s", "import_s"),
        ("first call s", "first"),
        ("of which kernels s", "kernels"),
        ("kernels compiled", lambda r: common.fmt(r["compiled"], "d")),
        (f"steady s (min of {repeat})", "steady"),
        ("steady CPU s", "steady_cpu"),
        ("time / numbamosaic", lambda r: common.fmt(r["ratio"], ".2f") + ("x" if r["ratio"] else "")),
        ("peak RSS MiB", lambda r: common.fmt(r["peak_rss"], ".0f")),
        ("peak anon MiB", lambda r: common.fmt(r["peak_anon"], ".0f")),
        ("added anon MiB", lambda r: common.fmt(r["added_anon"], ".0f")),
        ("VmHWM MiB", lambda r: common.fmt(r["hwm"], ".0f")),
        ("process wall s", "wall"),
    ])
    byname = {r["name"]: r for r in rows}
    if "numbamosaic" in byname and "reproject" in byname:
        nm, rp = byname["numbamosaic"], byname["reproject"]
        if nm["steady"] and rp["steady"]:
            print(f"\nspeed-up (reproject steady / numbamosaic steady): {rp['steady'] / nm['steady']:.2f}x")
        cold = byname.get("numbamosaic (cold)")
        if cold and cold.get("cache") and nm.get("cache") and cold["cache"] != nm["cache"]:
            print("WARNING: the numbamosaic kernel sources changed between the cold and the cached run "
                  f"(cache {cold['cache']} -> {nm['cache']}): the 'cached' first call recompiled.")
        if cold and cold["first"] and nm["steady"]:
            print(f"numbamosaic compile overhead (cold first call - steady): {cold['first'] - nm['steady']:.2f} s; "
                  f"cached first call: {nm['first']:.2f} s")
    print("'import s': importing the library in a fresh process; 'of which kernels s': time inside Numba's "
          "dispatchers during the first call (compiling, or loading from the cache, including Numba's one-time "
          "start-up); 'kernels compiled': cache misses.")
    if agreement:
        print("agreement numbamosaic vs reproject (pixels both cover): "
              f"max|diff|/range = {agreement['rel_max_diff']:.3g} "
              f"(max|diff| {agreement['max_abs_diff']:.3g}, range {agreement['range']:.4g}, "
              f"rms diff {agreement['rms_diff']:.3g}, pixels differing by > 1e-4 range: "
              f"{agreement['n_diff_gt_1e-4_range']}); "
              f"coverage: numbamosaic {agreement['n_cov_a']}, reproject {agreement['n_cov_b']}, "
              f"mismatched {agreement['n_cov_mismatch']}")
    sys.stdout.flush()


def summary_rows(rows):
    """Rows for run_all's combined table."""
    byname = {r["name"]: r for r in rows}
    out = []
    nm = byname.get("numbamosaic")
    for name, r in byname.items():
        if name.startswith("numbamosaic"):
            continue
        out.append(dict(benchmark="interp 4096² bilinear", peer=name, peer_s=r["steady"],
                        numbamosaic_s=nm["steady"] if nm else None,
                        ratio=common.ratio(r["steady"], nm["steady"] if nm else None),
                        peer_anon=r["peak_anon"], numbamosaic_anon=nm["peak_anon"] if nm else None))
    return out


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=4096, help="image side (default 4096)")
    p.add_argument("--repeat", type=int, default=3, help="steady-state calls per contender (default 3)")
    p.add_argument("--nan-blobs", type=int, default=3, help="NaN discs in the input (default 3)")
    p.add_argument("--skip", default="", help="comma-separated contenders to skip (numbamosaic, reproject)")
    p.add_argument("--keep", default=None, help="keep outputs in this directory")
    p.add_argument("--save", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the results as JSON to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.worker:
        return worker(args)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rows, agreement = run(args.size, args.repeat, args.nan_blobs, skip, args.keep)
    report(rows, agreement, args.size, args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "agreement": agreement}, f, indent=1, default=str)
    return rows, agreement


if __name__ == "__main__":
    main()
