"""End to end, as users run it: FITS files in -> FITS file out, each run a fresh process.

Contenders on the synthetic survey of :func:`bench_mosaic.setup_problem`
(float32 2048² TAN tiles, 4×4 = 16 tiles -> 7621×7624, 8×8 = 64 tiles ->
15001×15003), bilinear mean, output grid given as a header file:

``numbamosaic CLI``
    ``python -m numbamosaic mosaic @inputs.txt --header hdr.txt -o out.fits``
    (FITS written tile by tile, with its FOOTPRINT extension), once with an
    empty Numba cache (*cold*: ``NUMBA_CACHE_DIR`` is a new directory, so
    the run compiles every kernel it uses) and once more with that cache
    (*warm*).
``numbamosaic CLI exact``
    The same command with ``--method exact`` (cold with its own empty cache,
    then warm), against Montage below.
``CLI where the time goes`` (warm cache)
    A fresh ``python`` process that imports ``numbamosaic.cli`` (*import s*),
    then runs the same command line in-process with Numba's dispatchers
    timed (*kernels s*: loading the cached machine code, or compiling) and
    the rest (*other s*: reading headers, planning, resampling, writing).
``Montage`` (exact)
    ``mImgtbl`` + ``mProjExec`` (``mProjectPP``: exact plane-to-plane
    overlap for TAN) + ``mImgtbl`` + ``mAdd -a mean`` on a Montage template
    of the same grid, each a fresh process (Montage 6 is single-threaded);
    times are summed, peak memory is the largest of the steps.  It writes
    per-input projected images and area files to disk before ``mAdd``.
``SWarp``
    ``SWarp files... -RESAMPLING_TYPE BILINEAR -COMBINE_TYPE AVERAGE
    -SUBTRACT_BACK N -FSCALASTRO_TYPE NONE`` with a ``coadd.head`` of the same
    grid; ``NTHREADS 0`` (SWarp's default: all cores) and ``NTHREADS 2``.
    It writes ``coadd.fits`` and ``coadd.weight.fits``.
``API first call`` (16 tiles)
    A fresh ``python`` process that imports ``numbamosaic`` and calls
    ``reproject_and_coadd(files, wcs, shape_out=shape)`` once (cold and warm
    cache), against reproject 0.21's ``reproject_and_coadd`` with
    ``reproject_interp`` in its own fresh process.  *call s* is the call
    alone; *wall s* is the whole process (interpreter, imports, call).

For every run: wall time of the whole process, CPU time (user + system of
the process tree), and peak resident memory (``VmHWM``, the kernel's
high-water mark of resident pages, anonymous + file-backed; polled every
10 ms for the command-line tools, read by the Python workers themselves
before they exit).  The load average is printed: the numbers mean little on
a busy machine.

Usage::

    python benchmarks/bench_e2e.py                       # 16 and 64 tiles (~5 min on 2 cores)
    python benchmarks/bench_e2e.py --tiles 16 --skip reproject
    python benchmarks/bench_e2e.py --data /tmp/e2e       # keep (and reuse) the surveys
    python benchmarks/bench_e2e.py --quick               # 512² tiles: a smoke test
    python benchmarks/bench_e2e.py --tiles 16 --skip 64  # skip is a comma list (see --help)

Ratios: *SWarp / this* is SWarp's wall time (``NTHREADS 2``) over the
numbamosaic CLI's (bilinear rows), *Montage / this* Montage's over the
numbamosaic CLI's (exact rows), *reproject / this* reproject's call over the
numbamosaic API's first call; peak RSS likewise.  > 1 means numbamosaic is
faster (or smaller).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_mosaic  # noqa: E402
import common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------
# Problem set-up (reused from --data when already there)
# --------------------------------------------------------------------------

def survey(data_dir, n_tiles, tile_size):
    grid = int(round(n_tiles ** 0.5))
    if grid * grid != n_tiles:
        raise SystemExit(f"--tiles: {n_tiles} is not a square number")
    d = os.path.join(data_dir, f"survey{n_tiles}_{tile_size}")
    marker = os.path.join(d, "ready.json")
    if os.path.exists(marker):
        with open(marker) as f:
            return json.load(f)
    os.makedirs(d, exist_ok=True)
    print(f"writing the {n_tiles}-tile survey ({tile_size}² float32 tiles) to {d} ...", flush=True)
    p = bench_mosaic.setup_problem(d, grid=grid, tile_size=tile_size)
    prob = dict(workdir=d, paths=p["paths"], shape=list(p["shape"]), header_file=p["header_file"],
                list_file=p["list_file"], n_tiles=n_tiles)
    with open(os.path.join(d, "coadd.head"), "w") as f:
        f.write(bench_mosaic.swarp_head_text(p["header"]))
    with open(marker, "w") as f:
        json.dump(prob, f)
    return prob


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------

def _env():
    env = {"PYTHONPATH": ROOT + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    return env


def _cli_args(prob, out, method="bilinear"):
    return ["mosaic", "@" + prob["list_file"], "--header", prob["header_file"], "-o", out, "--overwrite",
            "--no-progress", "-q", "--method", method]


def run_cli(prob, cache_dir, out_dir, echo=True, method="bilinear"):
    out = os.path.join(out_dir, "numbamosaic.fits")
    cmd = [sys.executable, "-m", "numbamosaic"] + _cli_args(prob, out, method)
    env = _env()
    env["NUMBA_CACHE_DIR"] = cache_dir
    r = common.measure_command(cmd, env=env, echo=echo)
    if r["returncode"] != 0:
        r["error"] = r["stderr"][-2000:]
    return r


def run_swarp(prob, nthreads, out_dir, echo=True):
    d = os.path.join(out_dir, f"swarp{nthreads}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "resamp"))
    shutil.copy(os.path.join(prob["workdir"], "coadd.head"), os.path.join(d, "coadd.head"))
    cmd = ["SWarp"] + prob["paths"] + [
        "-c", "/dev/null",
        "-IMAGEOUT_NAME", "coadd.fits", "-WEIGHTOUT_NAME", "coadd.weight.fits",
        "-RESAMPLING_TYPE", "BILINEAR", "-COMBINE_TYPE", "AVERAGE",
        "-SUBTRACT_BACK", "N", "-NTHREADS", str(nthreads), "-FSCALASTRO_TYPE", "NONE",
        "-RESAMPLE_DIR", "resamp", "-VMEM_DIR", "resamp", "-WRITE_XML", "N", "-VERBOSE_TYPE", "QUIET",
    ]
    r = common.measure_command(cmd, cwd=d, echo=echo)
    if r["returncode"] != 0:
        r["error"] = r["stderr"][-2000:]
    shutil.rmtree(os.path.join(d, "resamp"), ignore_errors=True)
    return r


def run_cli_breakdown(prob, cache_dir, out_dir, echo=True, method="bilinear"):
    """The CLI in a fresh worker process: import, kernel loading and the rest timed apart."""
    env = _env()
    env["NUMBA_CACHE_DIR"] = cache_dir
    args = ["cli", "--inputs", prob["list_file"], "--header", prob["header_file"], "--out",
            os.path.join(out_dir, "numbamosaic.fits"), "--method", method]
    return common.run_python_worker(os.path.abspath(__file__), args, env=env, echo=echo)


def run_montage(prob, out_dir, echo=True):
    """Montage's exact mosaic (mean): mImgtbl, mProjExec, mImgtbl, mAdd, each a fresh process."""
    d = os.path.join(out_dir, "montage")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "proj"))
    template = os.path.join(d, "template.hdr")
    with open(prob["header_file"]) as f:
        header = f.read()
    from astropy.io import fits

    with open(template, "w") as f:
        f.write(bench_mosaic.montage_template_text(fits.Header.fromstring(header, sep="\n")))
    indir = os.path.dirname(prob["paths"][0])
    steps = []
    for cmd in (["mImgtbl", indir, "images.tbl"],
                ["mProjExec", "-p", indir, "images.tbl", template, "proj", "stats.tbl"],
                ["mImgtbl", "proj", "proj.tbl"],
                ["mAdd", "-e", "-p", "proj", "-a", "mean", "proj.tbl", template, "mosaic.fits"]):
        r = common.measure_command(cmd, cwd=d, echo=echo)
        steps.append(r)
        if r["returncode"] != 0 or '"ERROR"' in r["stdout"]:
            shutil.rmtree(d, ignore_errors=True)
            return dict(r, error=f"{cmd[0]}: {r['stdout'][-500:]} {r['stderr'][-500:]}")
    shutil.rmtree(d, ignore_errors=True)
    return {
        "wall": sum(x["wall"] for x in steps),
        "cpu": sum(x["cpu"] for x in steps),
        "hwm_mb": max(x["hwm_mb"] for x in steps),
        "peak_rss_mb": max(x["peak_rss_mb"] for x in steps),
        "steps": {x["cmd"][0] + (f"({x['cmd'][1]})" if x["cmd"][0] == "mImgtbl" else ""): round(x["wall"], 2)
                  for x in steps},
        "returncode": 0,
    }


def cli_worker(args):
    """Inside the measured process: import the CLI, then run it with Numba's dispatchers timed."""
    state = common.WorkerState()
    cli = state.time_import("numbamosaic.cli", key="import")
    prob = {"list_file": args.inputs, "header_file": args.header}
    t0 = time.perf_counter()
    with state.kernel_time("kernels"):
        status = cli.main(_cli_args(prob, args.out, args.method))
    state.result["run"] = time.perf_counter() - t0
    state.result["other"] = state.result["run"] - state.result["kernels"]
    if status:
        raise SystemExit(f"numbamosaic exited with {status}")
    common.worker_report(state, contender="numbamosaic CLI")


def run_api(prob, contender, cache_dir=None, echo=True):
    env = _env()
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
    args = [contender, "--inputs", prob["list_file"], "--header", prob["header_file"]]
    return common.run_python_worker(os.path.abspath(__file__), args, env=env, echo=echo)


def worker(args):
    """Inside the measured process: import, then one reproject_and_coadd call."""
    if args.contender == "cli":
        return cli_worker(args)
    t_start = time.perf_counter()
    from astropy.io import fits
    from astropy.wcs import WCS

    state = common.WorkerState()
    with open(args.inputs) as f:
        files = [line.strip() for line in f if line.strip()]
    header = fits.Header.fromtextfile(args.header)
    wcs_out = WCS(header)
    shape = (header["NAXIS2"], header["NAXIS1"])
    t0 = time.perf_counter()
    if args.contender == "numbamosaic":
        from numbamosaic import reproject_and_coadd as coadd

        kwargs = {}
    else:
        from reproject import reproject_interp
        from reproject.mosaicking import reproject_and_coadd as coadd

        kwargs = dict(reproject_function=reproject_interp)
    state.result["import"] = time.perf_counter() - t0
    state.mark_baseline()
    state.time_call("call", coadd, files, wcs_out, shape_out=shape, **kwargs)
    state.result["in_process"] = time.perf_counter() - t_start
    common.worker_report(state, contender=args.contender)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def run(tiles=(16, 64), data_dir=None, skip=(), tile_size=2048, echo=True):
    skip = set(skip)
    own_data = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix="numbamosaic-e2e-")
    rows = []
    try:
        for n in tiles:
            prob = survey(data_dir, n, tile_size)
            out_dir = os.path.join(prob["workdir"], "out")
            os.makedirs(out_dir, exist_ok=True)
            label = f"{n} tiles -> {prob['shape'][1]}x{prob['shape'][0]}"
            cache = tempfile.mkdtemp(prefix="numba-cache-e2e-")
            cache_exact = tempfile.mkdtemp(prefix="numba-cache-e2e-exact-")
            try:
                if "numbamosaic" not in skip:
                    for kind in ("cold", "warm"):  # the same new cache directory twice
                        r = run_cli(prob, cache, out_dir, echo=echo)
                        rows.append(dict(r, survey=label, tiles=n, contender="numbamosaic CLI", cache=kind))
                    r = run_cli_breakdown(prob, cache, out_dir, echo=echo)
                    rows.append(dict(r, survey=label, tiles=n, contender="numbamosaic CLI, timed inside", cache="warm"))
                    if "exact" not in skip:
                        for kind in ("cold", "warm"):
                            r = run_cli(prob, cache_exact, out_dir, echo=echo, method="exact")
                            rows.append(dict(r, survey=label, tiles=n, contender="numbamosaic CLI exact", cache=kind))
                        r = run_cli_breakdown(prob, cache_exact, out_dir, echo=echo, method="exact")
                        rows.append(dict(r, survey=label, tiles=n, contender="numbamosaic CLI exact, timed inside",
                                         cache="warm"))
                if "montage" not in skip and "exact" not in skip and shutil.which("mProjExec") and shutil.which("mAdd"):
                    r = run_montage(prob, out_dir, echo=echo)
                    rows.append(dict(r, survey=label, tiles=n, contender="Montage exact", cache="—"))
                if "swarp" not in skip and shutil.which("SWarp"):
                    for nt in (0, 2):
                        r = run_swarp(prob, nt, out_dir, echo=echo)
                        rows.append(dict(r, survey=label, tiles=n, contender=f"SWarp NTHREADS {nt}", cache="—"))
                if n == min(tiles):
                    if "api" not in skip and "numbamosaic" not in skip:
                        api_cache = tempfile.mkdtemp(prefix="numba-cache-e2e-api-")
                        try:
                            for kind in ("cold", "warm"):
                                r = run_api(prob, "numbamosaic", api_cache, echo=echo)
                                rows.append(dict(r, survey=label, tiles=n, contender="numbamosaic API first call", cache=kind))
                        finally:
                            shutil.rmtree(api_cache, ignore_errors=True)
                    if "reproject" not in skip:
                        r = run_api(prob, "reproject", echo=echo)
                        rows.append(dict(r, survey=label, tiles=n, contender="reproject API", cache="—"))
            finally:
                shutil.rmtree(cache, ignore_errors=True)
                shutil.rmtree(cache_exact, ignore_errors=True)
                shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        if own_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    for r in rows:
        if r.get("error"):
            print(f"!! {r['contender']} ({r['survey']}, {r['cache']}): {r['error']}", file=sys.stderr, flush=True)
    return rows


def _ref(rows, r, contender, cache=None):
    return next((x for x in rows if x["survey"] == r["survey"] and x["contender"] == contender
                 and (cache is None or x["cache"] == cache) and not x.get("error")), None)


def report(rows):
    print(f"\nload average now: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    out = []
    for r in rows:
        sw = _ref(rows, r, "SWarp NTHREADS 2") or _ref(rows, r, "SWarp NTHREADS 0")
        mt = _ref(rows, r, "Montage exact")
        rp = _ref(rows, r, "reproject API")
        line = dict(r)
        line["hwm"] = max(r.get("hwm_mb", 0.0), r.get("vmhwm_mb", 0.0))
        line["call"] = r.get("call")
        peer = sw if r["contender"] == "numbamosaic CLI" else (mt if r["contender"] == "numbamosaic CLI exact" else None)
        if peer:
            line["vs_peer"] = common.ratio(peer["wall"], r["wall"])
            line["vs_peer_cpu"] = common.ratio(peer["cpu"], r["cpu"])
            line["mem_vs_peer"] = common.ratio(max(peer.get("hwm_mb", 0.0), peer.get("vmhwm_mb", 0.0)), line["hwm"])
        if rp and r["contender"] == "numbamosaic API first call":
            line["vs_reproject"] = common.ratio(rp.get("call"), r.get("call"))
        out.append(line)
    common.print_table(out, [
        ("survey", "survey"), ("contender", "contender"), ("cache", "cache"),
        ("wall s", lambda r: common.fmt(r.get("wall"), ".2f") if not r.get("error") else "error"),
        ("call s", lambda r: common.fmt(r.get("call"), ".2f")),
        ("CPU s", lambda r: common.fmt(r.get("cpu"), ".1f")),
        ("peak RSS (VmHWM) MiB", lambda r: common.fmt(r.get("hwm"), ".0f")),
        ("import s", lambda r: common.fmt(r.get("import"), ".2f")),
        ("kernels s", lambda r: common.fmt(r.get("kernels"), ".2f")),
        ("other s", lambda r: common.fmt(r.get("other"), ".2f")),
        ("peer wall / this", lambda r: (common.fmt(r["vs_peer"], ".2f") + "x") if r.get("vs_peer") else "—"),
        ("peer CPU / this", lambda r: (common.fmt(r["vs_peer_cpu"], ".2f") + "x") if r.get("vs_peer_cpu") else "—"),
        ("peer RSS / this", lambda r: common.fmt(r.get("mem_vs_peer"), ".2f")),
        ("reproject call / this call", lambda r: (common.fmt(r["vs_reproject"], ".0f") + "x") if r.get("vs_reproject") else "—"),
    ], title="## End to end, each run a fresh process (peer: SWarp NTHREADS 2 for the bilinear CLI, "
             "Montage for the exact CLI)")
    for r in rows:
        if r.get("steps"):
            print(f"{r['contender']} steps (wall s): {r['steps']}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiles", default="16,64", help="survey sizes, square numbers (default 16,64)")
    p.add_argument("--tile-size", type=int, default=None, help="input tile side (default 2048; 512 with --quick)")
    p.add_argument("--quick", action="store_true", help="512² tiles, 16 tiles only")
    p.add_argument("--data", default=None, help="directory for the surveys (kept and reused); default a temporary one")
    p.add_argument("--skip", default="", help="comma list: numbamosaic,exact,montage,swarp,api,reproject")
    p.add_argument("--json", default=None, help="write the rows as JSON to this file")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--inputs", help=argparse.SUPPRESS)
    p.add_argument("--header", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--method", default="bilinear", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    tiles = [int(t) for t in args.tiles.split(",") if t.strip()]
    if args.quick:
        tiles = tiles[:1]
    tile_size = args.tile_size or (512 if args.quick else 2048)
    print(f"machine: {common.machine_summary()}", flush=True)
    rows = run(tiles, args.data, [s.strip() for s in args.skip.split(",") if s.strip()], tile_size=tile_size)
    report(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in rows], f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
