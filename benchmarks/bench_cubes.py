"""Cube benchmark: a 128-plane float32 cube reprojected and mosaicked, numbamosaic vs reproject 0.21.

Problem (deterministic): a ``PLANES x SIZE x SIZE`` float32 cube (default
128 x 1024 x 1024, 512 MiB; a star field whose planes are scaled and shifted
copies, with noise and NaN blobs) on a TAN grid of 1"/px, written once to an
``.npy`` file that every worker memory-maps (as a FITS cube would be).

Cases (each contender in its own fresh process, see ``common.py``):

* ``interp``: ``reproject_interp`` (bilinear) onto a TAN grid rotated by 20
  degrees and shifted by ~30";
* ``exact``: ``reproject_exact`` onto the same grid;
* ``mosaic``: ``reproject_and_coadd`` (bilinear, mean) of two such cubes
  offset by half their width onto a grid covering both;
* ``interp-memmap`` / ``mosaic-memmap`` (numbamosaic only): the same with
  ``output_array``/``output_footprint`` memory-mapped files, to show that
  the anonymous memory stays bounded.

numbamosaic runs every plane, with a warm Numba cache (first call in a
fresh process = cache load + run; reported separately), on all cores
(``parallel=True``, its default).  reproject runs with its defaults
(``parallel=False``); on a small loaded machine it would take too long on
every plane, so it runs ``--reproject-planes`` planes (default 8; exact 2) and
its time is **scaled** by ``PLANES / planes`` (its cost is linear in the
planes: one plane's work repeated; say so when quoting).  Reported: wall and
CPU seconds of the call, peak RSS and anonymous memory of the process.

Usage::

    python benchmarks/bench_cubes.py                           # 128 x 1024^2
    python benchmarks/bench_cubes.py --planes 16 --size 512 --cases interp,exact
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

CENTER = (150.0, 2.0)
ROTATION_DEG = 20.0
SHIFT_DEG = (0.008, 0.006)


def wcs_for(size, which):
    from numbamosaic.synthetic import tile_wcs

    if which == "in":
        return tile_wcs(CENTER, (size, size), 1.0, 0.0)
    if which == "in2":  # the second mosaic input: half a width east
        return tile_wcs((CENTER[0] + 0.5 * size / 3600.0, CENTER[1]), (size, size), 1.0, 0.0)
    if which == "out":
        return tile_wcs((CENTER[0] + SHIFT_DEG[0], CENTER[1] + SHIFT_DEG[1]), (size, size), 1.0, ROTATION_DEG)
    # mosaic frame: covers both inputs
    return tile_wcs((CENTER[0] + 0.25 * size / 3600.0, CENTER[1]), (size, size * 3 // 2), 1.0, 0.0)


def make_cube(path, planes, size):
    """Write the cube to ``path`` (``.npy``) plane by plane (bounded memory)."""
    from numbamosaic.synthetic import make_star_field

    base = make_star_field((size, size), wcs_for(size, "in"), noise=0.0, nan_blobs=3, seed=1)
    rng = np.random.default_rng(2)
    cube = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(planes, size, size))
    for z in range(planes):
        cube[z] = base * np.float32(1.0 + 0.01 * z) + rng.normal(size=(size, size)).astype(np.float32)
    cube.flush()
    del cube


def worker(args):
    state = common.WorkerState()
    name = args.contender
    mod = state.time_import(name)
    cube = np.load(args.cube, mmap_mode="r")[: args.use_planes]
    size = cube.shape[-1]
    nz = cube.shape[0]
    case = args.case
    memmap = case.endswith("-memmap")
    base_case = case.replace("-memmap", "")
    if base_case == "mosaic":
        from_mod = mod.reproject_and_coadd if name == "numbamosaic" else __import__(
            "reproject.mosaicking", fromlist=["reproject_and_coadd"]).reproject_and_coadd
        wout = wcs_for(size, "mosaic")
        shape = (nz, size, size * 3 // 2)
        inputs = [(cube, wcs_for(size, "in")), (cube, wcs_for(size, "in2"))]

        def call(**kw):
            return from_mod(inputs, wout, shape_out=shape, reproject_function=mod.reproject_interp, **kw)
    else:
        fn = mod.reproject_interp if base_case == "interp" else mod.reproject_exact
        wout = wcs_for(size, "out")
        shape = (nz, size, size)

        def call(**kw):
            return fn((cube, wcs_for(size, "in")), wout, shape_out=shape, **kw)

    kw = {}
    if memmap:
        kw["output_array"] = np.lib.format.open_memmap(args.save + ".out.npy", mode="w+", dtype=np.float32, shape=shape)
        kw["output_footprint"] = np.lib.format.open_memmap(args.save + ".fp.npy", mode="w+", dtype=np.float32,
                                                           shape=shape)
    state.mark_baseline()
    with state.kernel_time("first_kernels"):
        out = state.time_call("first", call, **kw)
    if args.repeat:
        out = None
        common.gc.collect()
        c = common.cpu_time()
        t = common.time.perf_counter()
        out = call(**kw)
        state.result["steady"] = common.time.perf_counter() - t
        state.result["steady_cpu"] = common.cpu_time() - c
    arr = out[0]
    state.result["planes"] = nz
    state.result["finite"] = float(np.isfinite(np.asarray(arr[0])).mean())
    if args.save and not memmap:
        k = min(nz, args.compare_planes)
        np.save(args.save + ".array.npy", np.asarray(arr[:k], dtype=np.float32))
        np.save(args.save + ".footprint.npy", np.asarray(out[1][:k], dtype=np.float32))
    common.worker_report(state, contender=name)


def run(planes, size, cases, reproject_planes, keep=None, echo=True):
    here = os.path.abspath(__file__)
    tmp = keep or tempfile.mkdtemp(prefix="nm_bench_cubes_")
    os.makedirs(tmp, exist_ok=True)
    cache = os.path.join(tmp, "numba_cache")
    os.makedirs(cache, exist_ok=True)
    cube = os.path.join(tmp, "cube.npy")
    if not os.path.exists(cube):
        make_cube(cube, planes, size)
    rows = []
    try:
        for case in cases:
            runs = [("numbamosaic", planes, 1)]
            if not case.endswith("-memmap"):
                rp = max(1, reproject_planes if case != "exact" else max(1, reproject_planes // 4))
                runs.append(("reproject", min(planes, rp), 0))
            res = {}
            for name, use, repeat in runs:
                save = os.path.join(tmp, f"{case}-{name}")
                r = common.run_python_worker(here, [
                    name, "--case", case, "--cube", cube, "--use-planes", use, "--repeat", repeat, "--save", save,
                    "--compare-planes", min(use, 2)], env={"NUMBA_CACHE_DIR": cache} if name == "numbamosaic" else None,
                    echo=echo)
                res[name] = r
                if r.get("error"):
                    print(r["error"], file=sys.stderr)
                    continue
                t = r.get("steady") if repeat else r.get("first")
                tc = r.get("steady_cpu") if repeat else r.get("first_cpu")
                scale = planes / use
                rows.append(dict(case=case, name=name, planes=use, wall=t, cpu=tc, scaled_wall=t * scale,
                                 scaled_cpu=tc * scale, first=r.get("first"), peak_rss=r.get("peak_rss_mb"),
                                 peak_anon=r.get("peak_anon_mb"), added_anon=r.get("added_anon_mb")))
            if "reproject" in res and not any(r.get("error") for r in res.values()):
                a = np.load(os.path.join(tmp, f"{case}-numbamosaic.array.npy"))
                b = np.load(os.path.join(tmp, f"{case}-reproject.array.npy"))
                k = min(len(a), len(b))
                both = np.isfinite(a[:k]) & np.isfinite(b[:k])
                rng = float(np.nanmax(b[:k]) - np.nanmin(b[:k]))
                diff = float(np.max(np.abs(a[:k][both] - b[:k][both]) / rng)) if both.any() else float("nan")
                rows[-1]["agreement"] = diff
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report(rows, planes, size):
    print(f"\n## cubes: {planes} x {size}^2 float32 (memory-mapped input), numbamosaic (all planes, warm cache, "
          "steady call) vs reproject 0.21 (defaults; a subset of planes, time scaled to all planes)")
    print(f"machine: {common.machine_summary()}")
    common.print_table(rows, [
        ("case", "case"),
        ("contender", "name"),
        ("planes run", lambda r: str(r["planes"])),
        ("wall s", "wall"),
        ("CPU s", "cpu"),
        (f"wall s, {planes} planes", "scaled_wall"),
        (f"CPU s, {planes} planes", "scaled_cpu"),
        ("peak RSS MiB", lambda r: common.fmt(r["peak_rss"], ".0f")),
        ("peak anon MiB", lambda r: common.fmt(r["peak_anon"], ".0f")),
        ("added anon MiB", lambda r: common.fmt(r["added_anon"], ".0f")),
        ("max|diff|/range", lambda r: common.fmt(r.get("agreement"), ".2g")),
    ])
    by = {(r["case"], r["name"]): r for r in rows}
    for case in sorted({r["case"] for r in rows}):
        nm, rp = by.get((case, "numbamosaic")), by.get((case, "reproject"))
        if nm and rp:
            print(f"{case}: speed-up (wall, reproject scaled to {planes} planes / numbamosaic) "
                  f"{rp['scaled_wall'] / nm['wall']:.1f}x; CPU {rp['scaled_cpu'] / nm['cpu']:.1f}x")
    sys.stdout.flush()


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)
    p.add_argument("--cube", default=None, help=argparse.SUPPRESS)
    p.add_argument("--use-planes", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--save", default=None, help=argparse.SUPPRESS)
    p.add_argument("--compare-planes", type=int, default=2, help=argparse.SUPPRESS)
    p.add_argument("--planes", type=int, default=128, help="planes of the cube (default 128)")
    p.add_argument("--size", type=int, default=1024, help="plane side (default 1024)")
    p.add_argument("--cases", default="interp,exact,mosaic,interp-memmap,mosaic-memmap",
                   help="comma-separated cases (interp, exact, mosaic, interp-memmap, mosaic-memmap)")
    p.add_argument("--reproject-planes", type=int, default=8,
                   help="planes reproject runs (exact: a quarter of it), time scaled (default 8)")
    p.add_argument("--keep", default=None, help="keep the cube and outputs in this directory")
    p.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.worker:
        return worker(args)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    rows = run(args.planes, args.size, cases, args.reproject_planes, args.keep)
    report(rows, args.planes, args.size)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return rows


if __name__ == "__main__":
    main()
