"""Survey products (issue 15): mean + variance + count + context vs the plain mean, and SWarp MAP_WEIGHT.

The 16-tile survey of :func:`bench_e2e.survey` (float32 2048² TAN tiles ->
7621×7624), each tile with an inverse-variance map (float32, the tile's WCS;
a smooth gain pattern times a per-tile level, a few dead columns at 0), bilinear,
output grid given as a header file.  Every contender is a fresh process:

``mean``
    ``numbamosaic mosaic @inputs --weights @weights -o plain.fits``: the
    weighted mean and its FOOTPRINT (relative weights: no products).
``mean+var+count+ctx``
    The same with ``--weight-type ivar --products variance,count,context``:
    the weighted mean plus VARIANCE, COUNT, CONTEXT (+ CTXTILES), all
    streamed into the one FITS file.  Target (issue 15): <= 1.5x ``mean``.
``SWarp MAP_WEIGHT``
    ``SWarp ... -WEIGHT_TYPE MAP_WEIGHT -WEIGHT_IMAGE w1,w2,...
    -COMBINE_TYPE WEIGHTED -RESAMPLING_TYPE BILINEAR -SUBTRACT_BACK N
    -FSCALASTRO_TYPE NONE -NTHREADS 2``: the weighted mean and its weight map
    (``coadd.weight.fits``), SWarp's counterpart of the variance.

The numbamosaic contenders run with an empty Numba cache first (*cold*: the
run compiles its kernels) and then twice with that cache (*warm*), the two
contenders interleaved (mean, products, mean, products, ...) so that the
machine's load affects both alike.  SWarp runs twice.  For every run: wall
time, CPU time (user + system of the process tree) and peak resident memory
(``VmHWM``, polled every 10 ms).  Ratios: products / mean (CPU and wall,
best warm run of each) and SWarp wall / products wall.

Usage::

    python benchmarks/bench_products.py                  # 2048² tiles (~3 min on 2 cores)
    python benchmarks/bench_products.py --data /tmp/e2e  # keep (and reuse) the survey
    python benchmarks/bench_products.py --quick          # 512² tiles: a smoke test
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_e2e  # noqa: E402
import common  # noqa: E402

N_TILES = 16


def ivar_maps(prob):
    """Write one inverse-variance map per tile (with the tile's header); returns (paths, list file)."""
    from astropy.io import fits

    d = os.path.join(prob["workdir"], "ivar")
    list_file = os.path.join(prob["workdir"], "weights.txt")
    paths = [os.path.join(d, f"ivar_{k:03d}.fits") for k in range(len(prob["paths"]))]
    if os.path.exists(list_file):
        return paths, list_file
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(15)
    for k, (src, dst) in enumerate(zip(prob["paths"], paths)):
        with fits.open(src) as h:
            header = h[0].header.copy()
            ny, nx = h[0].data.shape
        y, x = np.ogrid[:ny, :nx]
        gain = 1.0 + 0.3 * np.cos(2 * np.pi * x / nx) * np.cos(2 * np.pi * y / ny)  # vignetting-like
        ivar = (rng.uniform(0.5, 2.0) * gain).astype(np.float32)
        ivar[:, rng.integers(0, nx, 3)] = 0  # dead columns: no data
        fits.writeto(dst, ivar, header, overwrite=True)
    with open(list_file, "w") as f:
        f.write("\n".join(paths) + "\n")
    return paths, list_file


def run_cli(prob, weights_list, cache_dir, out, products, echo=True):
    cmd = [sys.executable, "-m", "numbamosaic", "mosaic", "@" + prob["list_file"], "--header", prob["header_file"],
           "--weights", "@" + weights_list, "-o", out, "--overwrite", "--no-progress", "-q"]
    if products:
        cmd += ["--weight-type", "ivar", "--products", "variance,count,context"]
    env = bench_e2e._env()
    env["NUMBA_CACHE_DIR"] = cache_dir
    r = common.measure_command(cmd, env=env, echo=echo)
    if r["returncode"] != 0:
        r["error"] = r["stderr"][-2000:]
    return r


def run_swarp(prob, weight_paths, out_dir, echo=True):
    d = os.path.join(out_dir, "swarp")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "resamp"))
    shutil.copy(os.path.join(prob["workdir"], "coadd.head"), os.path.join(d, "coadd.head"))
    cmd = ["SWarp"] + prob["paths"] + [
        "-c", "/dev/null",
        "-IMAGEOUT_NAME", "coadd.fits", "-WEIGHTOUT_NAME", "coadd.weight.fits",
        "-WEIGHT_TYPE", "MAP_WEIGHT", "-WEIGHT_IMAGE", ",".join(weight_paths),
        "-RESAMPLING_TYPE", "BILINEAR", "-COMBINE_TYPE", "WEIGHTED",
        "-SUBTRACT_BACK", "N", "-NTHREADS", "2", "-FSCALASTRO_TYPE", "NONE",
        "-RESAMPLE_DIR", "resamp", "-VMEM_DIR", "resamp", "-WRITE_XML", "N", "-VERBOSE_TYPE", "QUIET",
    ]
    r = common.measure_command(cmd, cwd=d, echo=echo)
    if r["returncode"] != 0:
        r["error"] = r["stderr"][-2000:]
    shutil.rmtree(os.path.join(d, "resamp"), ignore_errors=True)
    return r


def check_outputs(plain, prods, swarp_dir):
    """The products run's mosaic equals the plain one bitwise; 1/VARIANCE against SWarp's weight map."""
    from astropy.io import fits

    out = {}
    with fits.open(plain, memmap=True) as a, fits.open(prods, memmap=True) as b:
        rows = slice(a[0].data.shape[0] // 2 - 256, a[0].data.shape[0] // 2 + 256)
        out["mosaic_equal"] = bool(np.array_equal(a[0].data, b[0].data, equal_nan=True))
        count = np.asarray(b["COUNT"].data[rows])
        var = np.asarray(b["VARIANCE"].data[rows], dtype=float)
        out["max_count"] = int(count.max())
        out["ctx_planes"] = int(b["CONTEXT"].header["NAXIS3"])
        sw = os.path.join(swarp_dir, "coadd.weight.fits")
        if os.path.exists(sw):
            w = np.asarray(fits.getdata(sw)[rows], dtype=float)
            good = (count > 0) & (w > 0) & np.isfinite(var)
            # SWarp's weight of a weighted mean is the summed (resampled) weights ~ 1/variance
            out["median_swarp_weight_x_variance"] = float(np.median(w[good] * var[good])) if good.any() else None
    return out


def run(data_dir=None, tile_size=2048, echo=False, warm_runs=2):
    own_data = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="numbamosaic-products-")
    rows, checks = [], {}
    try:
        prob = bench_e2e.survey(data_dir, N_TILES, tile_size)
        weight_paths, weights_list = ivar_maps(prob)
        out_dir = os.path.join(prob["workdir"], "out-products")
        os.makedirs(out_dir, exist_ok=True)
        label = f"{N_TILES} tiles -> {prob['shape'][1]}x{prob['shape'][0]}"
        caches = {c: tempfile.mkdtemp(prefix=f"numba-cache-products-{c}-") for c in ("mean", "products")}
        outs = {c: os.path.join(out_dir, f"{c}.fits") for c in caches}
        try:
            for run_no in range(1 + warm_runs):  # cold, then warm; contenders interleaved
                kind = "cold" if run_no == 0 else "warm"
                for c in ("mean", "products"):
                    r = run_cli(prob, weights_list, caches[c], outs[c], c == "products", echo=echo)
                    name = "mean" if c == "mean" else "mean+var+count+ctx"
                    rows.append(dict(r, survey=label, contender=name, cache=kind))
            if shutil.which("SWarp"):
                for _ in range(2):
                    r = run_swarp(prob, weight_paths, out_dir, echo=echo)
                    rows.append(dict(r, survey=label, contender="SWarp MAP_WEIGHT", cache="—"))
            if all(os.path.exists(p) for p in outs.values()):
                checks = check_outputs(outs["mean"], outs["products"], os.path.join(out_dir, "swarp"))
        finally:
            for c in caches.values():
                shutil.rmtree(c, ignore_errors=True)
            shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        if own_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    for r in rows:
        if r.get("error"):
            print(f"!! {r['contender']} ({r['cache']}): {r['error']}", file=sys.stderr, flush=True)
    return rows, checks


def _best(rows, contender, key, cache="warm"):
    vals = [r[key] for r in rows if r["contender"] == contender and r["cache"] == cache and not r.get("error")]
    return min(vals) if vals else None


def report(rows, checks):
    print(f"\nload average now: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for r in rows:
        r["hwm"] = max(r.get("hwm_mb", 0.0), r.get("vmhwm_mb", 0.0))
    common.print_table(rows, [
        ("survey", "survey"), ("contender", "contender"), ("cache", "cache"),
        ("wall s", lambda r: common.fmt(r.get("wall"), ".2f") if not r.get("error") else "error"),
        ("CPU s", lambda r: common.fmt(r.get("cpu"), ".1f")),
        ("peak RSS (VmHWM) MiB", lambda r: common.fmt(r.get("hwm"), ".0f")),
    ], title="## Survey products, each run a fresh process")
    prod, mean, sw = "mean+var+count+ctx", "mean", "SWarp MAP_WEIGHT"
    lines = [
        ("products / mean, warm CPU", common.ratio(_best(rows, prod, "cpu"), _best(rows, mean, "cpu"))),
        ("products / mean, warm wall", common.ratio(_best(rows, prod, "wall"), _best(rows, mean, "wall"))),
        ("products / mean, cold wall", common.ratio(_best(rows, prod, "wall", "cold"), _best(rows, mean, "wall", "cold"))),
        ("SWarp wall / products warm wall", common.ratio(_best(rows, sw, "wall", "—"), _best(rows, prod, "wall"))),
        ("SWarp CPU / products warm CPU", common.ratio(_best(rows, sw, "cpu", "—"), _best(rows, prod, "cpu"))),
        ("products peak RSS / SWarp's", common.ratio(_best(rows, prod, "hwm"), _best(rows, sw, "hwm", "—"))),
    ]
    print("\n## Ratios (target: products / mean <= 1.5)\n")
    for name, v in lines:
        print(f"- {name}: {common.fmt(v, '.2f')}")
    for k, v in checks.items():
        print(f"- {k}: {v}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tile-size", type=int, default=None, help="input tile side (default 2048; 512 with --quick)")
    p.add_argument("--quick", action="store_true", help="512² tiles: a smoke test")
    p.add_argument("--warm-runs", type=int, default=2, help="warm runs per numbamosaic contender (default 2)")
    p.add_argument("--data", default=None, help="directory for the survey (kept and reused); default a temporary one")
    p.add_argument("--json", default=None, help="write the rows as JSON to this file")
    args = p.parse_args(argv)
    tile_size = args.tile_size or (512 if args.quick else 2048)
    print(f"machine: {common.machine_summary()}", flush=True)
    rows, checks = run(args.data, tile_size=tile_size, warm_runs=args.warm_runs)
    report(rows, checks)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=[{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in rows],
                           checks=checks), f, indent=1, default=str)
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
