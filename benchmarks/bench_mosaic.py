"""Mosaic benchmark: numbamosaic vs reproject 0.21 vs SWarp vs Montage.

The synthetic survey of :func:`numbamosaic.synthetic.make_survey` (4×4
float32 2048² TAN tiles, 10% overlap, ±1.5° rotations, 1″/px, stars, noise,
NaN blobs) is written as FITS files into a temporary directory and mosaicked
into the TAN grid of :func:`numbamosaic.synthetic.survey_output_wcs`
(7621×7624 for 16 tiles).  Contenders, each in a fresh subprocess:

``numbamosaic``
    ``numbamosaic.reproject_and_coadd(files, wcs, shape_out,
    reproject_function=numbamosaic.reproject_<method>, combine_function=...)``
    on its defaults (``parallel=True``: all cores).  Called twice in the same
    process: *first* (includes loading or compiling the Numba kernels) and
    *steady*.
``reproject``
    ``reproject.mosaicking.reproject_and_coadd`` with
    ``reproject.reproject_<method>``, on its defaults (one call).
``swarp`` (method ``interp`` only)
    SWarp 2.41 with ``RESAMPLING_TYPE BILINEAR``, ``COMBINE_TYPE AVERAGE`` or
    ``MEDIAN``, ``SUBTRACT_BACK N``, ``NTHREADS 2``, ``FSCALASTRO_TYPE NONE``
    (surface brightness, like reproject), output grid from a ``coadd.head``
    file written from the same WCS.
``montage`` (method ``exact`` or, if ``exact`` is not requested, listed under
``interp``)
    ``mImgtbl`` + ``mProjExec`` (which picks ``mProjectPP``, plane-to-plane
    area overlap, for TAN) + ``mImgtbl`` + ``mAdd -e -a mean|median`` with a
    template ``.hdr`` written from the same WCS.  The projection step is run
    once and its time is added to each ``mAdd`` combine.

Times: the Python contenders' times are the call itself (inputs are read
from the FITS files inside the call; the mosaic stays in memory).  SWarp and
Montage times are whole command runs, which also write their outputs (and
intermediates) to disk.  Memory: peak RSS and peak anonymous memory of the
process tree (polled), the kernel's ``VmHWM``, and for Python workers the anonymous
memory *added* over the post-import baseline.  Agreement: max |diff| / data
range against reproject's output for the same method and combine (over the
pixels both cover) and the number of pixels covered by only one of the two.

Memory scenario (``--memory-scenario``, on by default): numbamosaic with
``np.memmap`` ``output_array``/``output_footprint`` and
``intermediate_memmap=True`` (mean and median), and median with
``memory_limit='300MB'``, ``intermediate_memmap='auto'``.

Usage::

    python benchmarks/bench_mosaic.py                          # interp, mean
    python benchmarks/bench_mosaic.py --methods exact --tiles 4
    python benchmarks/bench_mosaic.py --combine mean,median --skip reproject
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

METHODS = ("interp", "exact", "adaptive")
COMBINES = ("mean", "median")
PYTHON_CONTENDERS = ("numbamosaic", "reproject")


# --------------------------------------------------------------------------
# Problem set-up
# --------------------------------------------------------------------------

def select_tiles(hdus, n, nx=4):
    """A subset of ``n`` tiles: a k×k block if ``n`` is a square, else the first n."""
    if n is None or n >= len(hdus):
        return hdus
    k = int(round(n ** 0.5))
    if k * k == n and k <= nx:
        return [hdus[j * nx + i] for j in range(k) for i in range(k)]
    return hdus[:n]


def setup_problem(workdir, tiles=None, seed=0, tile_size=2048, grid=4):
    """Write the survey and the output headers; returns a description dict."""
    from astropy.io import fits

    from numbamosaic.synthetic import make_survey, survey_output_wcs, write_survey

    hdus = make_survey(grid, grid, tile_shape=(tile_size, tile_size), seed=seed)
    hdus = select_tiles(hdus, tiles, nx=grid)
    indir = os.path.join(workdir, "in")
    paths = write_survey(hdus, indir)
    wcs, shape = survey_output_wcs(hdus)
    del hdus
    hdr = wcs.to_header()
    # Python workers.
    fits_hdr = fits.Header()
    fits_hdr["NAXIS"] = 2
    fits_hdr["NAXIS1"] = shape[1]
    fits_hdr["NAXIS2"] = shape[0]
    fits_hdr.extend(hdr)
    header_file = os.path.join(workdir, "output_header.txt")
    fits_hdr.totextfile(header_file, overwrite=True)
    list_file = os.path.join(workdir, "inputs.txt")
    with open(list_file, "w") as f:
        f.write("\n".join(paths) + "\n")
    return dict(workdir=workdir, indir=indir, paths=paths, wcs=wcs, shape=shape,
                header_file=header_file, list_file=list_file, header=fits_hdr)


def swarp_head_text(header):
    """Text of a SWarp ``.head`` file (FITS cards, one per line, END)."""
    cards = [str(c) for c in header.cards if c.keyword not in ("WCSAXES", "MJDREF")]
    return "\n".join(cards + ["END"]) + "\n"


def montage_template_text(header):
    """Text of a Montage template header from a north-up TAN WCS header."""
    h = header
    pc12 = h.get("PC1_2", 0.0)
    pc21 = h.get("PC2_1", 0.0)
    if pc12 or pc21:
        raise ValueError("montage template: only north-up (diagonal PC) output headers are supported")
    lines = [
        "SIMPLE  = T",
        "BITPIX  = -64",
        "NAXIS   = 2",
        f"NAXIS1  = {h['NAXIS1']}",
        f"NAXIS2  = {h['NAXIS2']}",
        f"CTYPE1  = '{h['CTYPE1']}'",
        f"CTYPE2  = '{h['CTYPE2']}'",
        "EQUINOX = 2000",
        f"CRVAL1  = {h['CRVAL1']!r}",
        f"CRVAL2  = {h['CRVAL2']!r}",
        f"CRPIX1  = {h['CRPIX1']!r}",
        f"CRPIX2  = {h['CRPIX2']!r}",
        f"CDELT1  = {h['CDELT1'] * h.get('PC1_1', 1.0)!r}",
        f"CDELT2  = {h['CDELT2'] * h.get('PC2_2', 1.0)!r}",
        "CROTA2  = 0.0",
        "END",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Python worker (runs inside the measured subprocess)
# --------------------------------------------------------------------------

def worker(args):
    state = common.WorkerState()
    if args.contender not in ("numbamosaic", "reproject"):
        raise SystemExit(f"unknown contender {args.contender}")
    lib = state.time_import(args.contender)  # first thing in the fresh process: the library's import cost

    from astropy.io import fits
    from astropy.wcs import WCS

    with open(args.inputs) as f:
        files = [line.strip() for line in f if line.strip()]
    header = fits.Header.fromtextfile(args.header)
    wcs_out = WCS(header)
    shape = (header["NAXIS2"], header["NAXIS1"])
    if args.contender == "numbamosaic":
        coadd = lib.reproject_and_coadd
    else:
        from reproject.mosaicking import reproject_and_coadd as coadd
    rfun = getattr(lib, f"reproject_{args.method}")
    kwargs = dict(reproject_function=rfun, combine_function=args.combine)
    if args.intermediate_memmap is not None:
        kwargs["intermediate_memmap"] = {"true": True, "false": False}.get(
            args.intermediate_memmap.lower(), args.intermediate_memmap)
    if args.memory_limit:
        kwargs["memory_limit"] = args.memory_limit
    if args.tmpdir and args.contender == "numbamosaic":
        kwargs["tmpdir"] = args.tmpdir
    memmaps = None
    if args.memmap_output:
        d = args.tmpdir or tempfile.gettempdir()
        memmaps = (
            np.memmap(os.path.join(d, "output_array.dat"), dtype=np.float32, mode="w+", shape=shape),
            np.memmap(os.path.join(d, "output_footprint.dat"), dtype=np.float32, mode="w+", shape=shape),
        )
        kwargs["output_array"], kwargs["output_footprint"] = memmaps
    state.mark_baseline()
    with state.kernel_time("first_kernels"):
        out = state.time_call("first", coadd, files, wcs_out, shape_out=shape, **kwargs)
    if args.calls > 1:
        del out
        common.gc.collect()
        out = state.time_call("second", coadd, files, wcs_out, shape_out=shape, **kwargs)
    if args.save:
        arr, fp = out
        np.save(args.save + ".array.npy", np.asarray(arr, dtype=np.float32))
        np.save(args.save + ".footprint.npy", np.asarray(fp, dtype=np.float32))
    common.worker_report(state, contender=args.contender, method=args.method, combine=args.combine)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------

def have(*tools):
    return all(shutil.which(t) for t in tools)


def run_python(prob, contender, method, combine, calls=1, save=None, extra=(), echo=True, env=None):
    here = os.path.abspath(__file__)
    args = [contender, "--method", method, "--combine", combine, "--inputs", prob["list_file"],
            "--header", prob["header_file"], "--calls", calls]
    if save:
        args += ["--save", save]
    args += list(extra)
    r = common.run_python_worker(here, args, echo=echo, env=env)
    r["time"] = r.get("second", r.get("first"))
    r["time_cpu"] = r.get("second_cpu", r.get("first_cpu"))
    return r


def run_swarp(prob, combine, echo=True):
    d = os.path.join(prob["workdir"], f"swarp_{combine}")
    os.makedirs(os.path.join(d, "resamp"), exist_ok=True)
    with open(os.path.join(d, "coadd.head"), "w") as f:
        f.write(swarp_head_text(prob["header"]))
    cmd = ["SWarp"] + prob["paths"] + [
        "-c", "/dev/null",
        "-IMAGEOUT_NAME", "coadd.fits", "-WEIGHTOUT_NAME", "coadd.weight.fits",
        "-RESAMPLING_TYPE", "BILINEAR",
        "-COMBINE_TYPE", {"mean": "AVERAGE", "median": "MEDIAN"}[combine],
        "-SUBTRACT_BACK", "N", "-NTHREADS", "2", "-FSCALASTRO_TYPE", "NONE",
        "-RESAMPLE_DIR", "resamp", "-VMEM_DIR", "resamp", "-WRITE_XML", "N",
        "-VERBOSE_TYPE", "QUIET",
    ]
    r = common.measure_command(cmd, cwd=d, echo=echo)
    r["time"] = r["wall"]
    r["time_cpu"] = r["cpu"]
    if r["returncode"] != 0:
        r["error"] = r["stderr"][-2000:]
        return r
    r["output"] = (os.path.join(d, "coadd.fits"), os.path.join(d, "coadd.weight.fits"))
    return r


_montage_proj = {}


def run_montage(prob, combine, echo=True):
    d = os.path.join(prob["workdir"], "montage")
    os.makedirs(d, exist_ok=True)
    template = os.path.join(d, "template.hdr")
    with open(template, "w") as f:
        f.write(montage_template_text(prob["header"]))
    steps = []
    key = prob["workdir"]
    if key not in _montage_proj:
        os.makedirs(os.path.join(d, "proj"), exist_ok=True)
        proj_steps = [
            ["mImgtbl", prob["indir"], "images.tbl"],
            ["mProjExec", "-p", prob["indir"], "images.tbl", template, "proj", "stats.tbl"],
            ["mImgtbl", "proj", "proj.tbl"],
        ]
        done = []
        for cmd in proj_steps:
            r = common.measure_command(cmd, cwd=d, echo=echo)
            done.append(r)
            if r["returncode"] != 0 or '"ERROR"' in r["stdout"]:
                res = dict(error=f"{cmd[0]}: {r['stdout'][-500:]} {r['stderr'][-500:]}")
                return res
        _montage_proj[key] = done
    steps.extend(_montage_proj[key])
    out = os.path.join(d, f"mosaic_{combine}.fits")
    cmd = ["mAdd", "-e", "-p", "proj", "-a", combine, "proj.tbl", template, out]
    r = common.measure_command(cmd, cwd=d, echo=echo)
    if r["returncode"] != 0 or '"ERROR"' in r["stdout"]:
        return dict(error=f"mAdd: {r['stdout'][-500:]} {r['stderr'][-500:]}")
    steps.append(r)
    res = {
        "time": sum(s["wall"] for s in steps),
        "time_cpu": sum(s["cpu"] for s in steps),
        "wall": sum(s["wall"] for s in steps),
        "steps": {s["cmd"][0] + ("" if s["cmd"][0] != "mImgtbl" else f"({s['cmd'][1]})"): round(s["wall"], 2)
                  for s in steps},
        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
        "peak_anon_mb": max(s["peak_anon_mb"] for s in steps),
        "maxrss_mb": max(s["maxrss_mb"] for s in steps),
        "hwm_mb": max(s["hwm_mb"] for s in steps),
        "output": (out, out.replace(".fits", "_area.fits")),
    }
    return res


def load_output(prob, r, contender):
    """(array, coverage) of a contender's output (memmapped where possible)."""
    from astropy.io import fits

    if contender in PYTHON_CONTENDERS or contender.startswith("numbamosaic"):
        a = np.load(r["save"] + ".array.npy", mmap_mode="r")
        f = np.load(r["save"] + ".footprint.npy", mmap_mode="r")
        return a, f
    img, cov = r["output"]
    a = fits.getdata(img, memmap=True)
    c = fits.getdata(cov, memmap=True)
    if a.shape != tuple(prob["shape"]):
        raise ValueError(f"{contender}: output shape {a.shape} != expected {prob['shape']}")
    return a, c


def check_peer_grid(prob, r, contender):
    """Max pixel offset between a peer's output WCS and ours (at the corners)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    w = WCS(fits.getheader(r["output"][0])).celestial
    ny, nx = prob["shape"]
    xs = np.array([0, nx - 1, 0, nx - 1, nx / 2])
    ys = np.array([0, 0, ny - 1, ny - 1, ny / 2])
    x2, y2 = prob["wcs"].wcs_world2pix(*w.wcs_pix2world(xs, ys, 0), 0)
    return float(np.max(np.hypot(x2 - xs, y2 - ys)))


def run(methods=("interp",), combines=("mean",), tiles=None, skip=(), memory_scenario=True,
        memory_peers=False, keep=None, echo=True, tile_size=2048):
    tmp = keep or tempfile.mkdtemp(prefix="nm_bench_mosaic_")
    os.makedirs(tmp, exist_ok=True)
    _montage_proj.clear()
    rows = []
    try:
        prob = setup_problem(tmp, tiles=tiles, tile_size=tile_size)
        n_tiles = len(prob["paths"])
        print(f"survey: {n_tiles} tiles of {tile_size}² float32 -> output {prob['shape'][0]}x{prob['shape'][1]} "
              f"({prob['shape'][0] * prob['shape'][1] / 1e6:.1f} Mpx); inputs in {prob['indir']}", flush=True)
        outputs = {}  # (method, combine, contender) -> result dict
        for method in methods:
            for combine in combines:
                for contender in PYTHON_CONTENDERS:
                    if contender in skip:
                        continue
                    save = os.path.join(tmp, f"{contender}_{method}_{combine}")
                    calls = 2 if contender == "numbamosaic" else 1
                    r = run_python(prob, contender, method, combine, calls=calls, save=save, echo=echo)
                    r["save"] = save
                    outputs[method, combine, contender] = r
                    if r.get("error"):
                        print(f"!! {contender} {method} {combine}: {r['error']}", file=sys.stderr, flush=True)
                if method == "interp" and "swarp" not in skip and have("SWarp"):
                    r = run_swarp(prob, combine, echo=echo)
                    outputs[method, combine, "swarp"] = r
                    if r.get("error"):
                        print(f"!! swarp {combine}: {r['error']}", file=sys.stderr, flush=True)
                montage_method = "exact" if "exact" in methods else "interp"
                if method == montage_method and "montage" not in skip and have("mProjExec", "mAdd", "mImgtbl"):
                    r = run_montage(prob, combine, echo=echo)
                    outputs[method, combine, "montage"] = r
                    if r.get("error"):
                        print(f"!! montage {combine}: {r['error']}", file=sys.stderr, flush=True)

        # Agreement with reproject (same method/combine), or with numbamosaic
        # where reproject has no result (e.g. reproject 0.21 has no median).
        for (method, combine, contender), r in outputs.items():
            if r.get("error"):
                continue
            if contender in ("swarp", "montage"):
                try:
                    r["grid_offset_px"] = check_peer_grid(prob, r, contender)
                except Exception as exc:  # noqa: BLE001
                    r["grid_offset_px"] = f"{exc}"
            ref_name = "reproject"
            ref = outputs.get((method, combine, "reproject"))
            if ref is None or ref.get("error"):
                ref_name = "numbamosaic"
                ref = outputs.get((method, combine, "numbamosaic"))
            nm = outputs.get((method, combine, "numbamosaic"))
            if contender in ("swarp", "montage") and ref_name != "numbamosaic" and nm and not nm.get("error"):
                try:
                    a, fa = load_output(prob, r, contender)
                    b, fb = load_output(prob, nm, "numbamosaic")
                    r["agreement_nm"] = common.compare_images(a, fa, b, fb)
                except Exception as exc:  # noqa: BLE001
                    r["agreement_error"] = repr(exc)
            if contender == ref_name or ref is None or ref.get("error"):
                continue
            try:
                a, fa = load_output(prob, r, contender)
                b, fb = load_output(prob, ref, ref_name)
                r["agreement"] = common.compare_images(a, fa, b, fb)
                r["agreement_vs"] = ref_name
            except Exception as exc:  # noqa: BLE001
                r["agreement_error"] = repr(exc)

        # Memory scenario (numbamosaic, memmaps / memory_limit).
        if memory_scenario and "numbamosaic" not in skip:
            scen = [
                ("numbamosaic memmap out + intermediate_memmap=True", "mean",
                 ["--memmap-output", "--intermediate-memmap", "True"]),
                ("numbamosaic memmap out + intermediate_memmap=True", "median",
                 ["--memmap-output", "--intermediate-memmap", "True"]),
                ("numbamosaic memory_limit=300MB, intermediate_memmap=auto", "median",
                 ["--memory-limit", "300MB", "--intermediate-memmap", "auto"]),
            ]
            if memory_peers and "reproject" not in skip:
                scen.append(("reproject memmap out + intermediate_memmap=True", "mean",
                             ["--memmap-output", "--intermediate-memmap", "True"]))
            for name, combine, extra in scen:
                contender = name.split()[0]
                sdir = os.path.join(tmp, "scratch_" + str(len(outputs)))
                os.makedirs(sdir, exist_ok=True)
                save = os.path.join(tmp, f"mem_{len(outputs)}")
                r = run_python(prob, contender, methods[0], combine, calls=2 if contender == "numbamosaic" else 1,
                               save=save,
                               extra=extra + ["--tmpdir", sdir], echo=echo)
                r["save"] = save
                r["scenario"] = name
                outputs[("memory", combine, name)] = r
                if r.get("error"):
                    print(f"!! {name} {combine}: {r['error']}", file=sys.stderr, flush=True)
                    continue
                ref = outputs.get((methods[0], combine, "numbamosaic"))
                if ref and not ref.get("error"):
                    try:
                        a, fa = load_output(prob, r, contender)
                        b, fb = load_output(prob, ref, "numbamosaic")
                        r["agreement_vs_inmemory"] = common.compare_images(a, fa, b, fb)
                    except Exception as exc:  # noqa: BLE001
                        r["agreement_error"] = repr(exc)
                shutil.rmtree(sdir, ignore_errors=True)

        for (method, combine, contender), r in outputs.items():
            nm = outputs.get((method, combine, "numbamosaic"))
            if contender == "montage" and (nm is None or nm.get("error")):
                nm = outputs.get(("interp", combine, "numbamosaic"))
            if contender == "swarp":
                nm = outputs.get(("interp", combine, "numbamosaic"))
            if method == "memory":
                nm = outputs.get((methods[0], combine, "numbamosaic"))
            nm_t = nm.get("time") if nm and not nm.get("error") else None
            ag = r.get("agreement") or r.get("agreement_vs_inmemory")
            agn = r.get("agreement_nm") or (ag if r.get("agreement_vs") == "numbamosaic" else None)
            rows.append(dict(
                method=method, combine=combine, contender=contender if method != "memory" else r["scenario"],
                first=r.get("first"), time=r.get("time"), cpu=r.get("time_cpu"), import_s=r.get("import"),
                kernels=r.get("first_kernels") if contender == "numbamosaic" else None,
                ratio=common.ratio(r.get("time"), nm_t) if contender != "numbamosaic" or method == "memory" else 1.0,
                peak_rss=r.get("peak_rss_mb"), peak_anon=r.get("peak_anon_mb"), added_anon=r.get("added_anon_mb"),
                hwm=r.get("hwm_mb"), wall=r.get("wall"),
                rel_diff=ag["rel_max_diff"] if ag else None,
                rms_diff=ag["rms_diff"] if ag else None,
                cov=f"{ag['n_cov_a']}/{ag['n_cov_b']}" if ag else None,
                cov_mismatch=ag["n_cov_mismatch"] if ag else None,
                vs=("in-memory" if method == "memory" else r.get("agreement_vs")) if ag else None,
                n_diff=ag["n_diff_gt_1e-4_range"] if ag else None,
                rel_diff_nm=agn["rel_max_diff"] if agn else None,
                cov_mismatch_nm=agn["n_cov_mismatch"] if agn else None,
                grid_offset=r.get("grid_offset_px"), steps=r.get("steps"), error=r.get("error"),
                n_tiles=n_tiles, shape=list(prob["shape"]), cache=r.get("numba_cache_dir"),
            ))
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report(rows):
    if not rows:
        return
    r0 = rows[0]
    print(f"\n## Mosaic: {r0['n_tiles']} tiles -> {r0['shape'][0]}x{r0['shape'][1]} TAN")
    print(f"machine: {common.machine_summary()}")
    common.print_table([r for r in rows if r["method"] != "memory"], [
        ("method", "method"), ("combine", "combine"), ("contender", "contender"),
        ("time s", "time"),
        ("import s", "import_s"),
        ("first call s", "first"),
        ("of which kernels s", "kernels"),
        ("CPU s", "cpu"),
        ("time / numbamosaic", lambda r: (common.fmt(r["ratio"], ".2f") + "x") if r["ratio"] else "—"),
        ("peak RSS MiB", lambda r: common.fmt(r["peak_rss"], ".0f")),
        ("peak anon MiB", lambda r: common.fmt(r["peak_anon"], ".0f")),
        ("added anon MiB", lambda r: common.fmt(r["added_anon"], ".0f")),
        ("VmHWM MiB", lambda r: common.fmt(r["hwm"], ".0f")),
        ("vs", lambda r: r["vs"] or "—"),
        ("max|diff|/range", lambda r: common.fmt(r["rel_diff"], ".3g")),
        ("px diff > 1e-4 range", lambda r: common.fmt(r["n_diff"], "d")),
        ("covered (this/vs)", lambda r: r["cov"] or "—"),
        ("coverage mismatch px", lambda r: common.fmt(r["cov_mismatch"], "d")),
        ("peer vs numbamosaic: max|diff|/range", lambda r: common.fmt(r.get("rel_diff_nm"), ".3g")),
        ("peer vs numbamosaic: coverage mismatch px", lambda r: common.fmt(r.get("cov_mismatch_nm"), "d")),
    ])
    print("\n'time s' is the steady (second) call for numbamosaic, the single call for reproject, and the whole "
          "command(s) for SWarp/Montage; 'first call s' includes Numba kernel loading/compilation ('of which kernels s': "
          "time inside Numba's dispatchers, compiling or loading from the cache); 'import s': importing the library "
          "in the fresh process.")
    for r in rows:
        if r.get("steps"):
            print(f"montage {r['combine']} steps (s): {r['steps']}")
        if isinstance(r.get("grid_offset"), float):
            print(f"{r['contender']} {r['combine']}: output grid offset vs ours {r['grid_offset']:.2g} px")
        if r.get("error"):
            print(f"error: {r['method']} {r['combine']} {r['contender']}: {r['error'].splitlines()[-1][:300]}")
    caches = {r["cache"] for r in rows if r.get("cache")}
    if len(caches) > 1:
        print(f"WARNING: the numbamosaic kernel sources changed during the run ({len(caches)} kernel caches used): "
              "some first calls include recompilation.")
    mem = [r for r in rows if r["method"] == "memory"]
    if mem:
        common.print_table(mem, [
            ("scenario", "contender"), ("combine", "combine"),
            ("time s", "time"), ("first call s", "first"), ("time / in-memory numbamosaic",
                                 lambda r: (common.fmt(r["ratio"], ".2f") + "x") if r["ratio"] else "—"),
            ("peak RSS MiB", lambda r: common.fmt(r["peak_rss"], ".0f")),
            ("peak anon MiB", lambda r: common.fmt(r["peak_anon"], ".0f")),
            ("added anon MiB", lambda r: common.fmt(r["added_anon"], ".0f")),
            ("VmHWM MiB", lambda r: common.fmt(r["hwm"], ".0f")),
            ("max|diff|/range vs in-memory", lambda r: common.fmt(r["rel_diff"], ".3g")),
            ("px diff > 1e-4 range", lambda r: common.fmt(r["n_diff"], "d")),
            ("coverage mismatch px", lambda r: common.fmt(r["cov_mismatch"], "d")),
        ], title="Memory scenario (numbamosaic; memmapped files are file-backed pages: they count in RSS, "
                 "not in anonymous memory)")
    sys.stdout.flush()


def summary_rows(rows):
    out = []
    for r in rows:
        if r["method"] == "memory" or r["contender"] == "numbamosaic":
            continue
        nm = next((x for x in rows if x["contender"] == "numbamosaic" and x["combine"] == r["combine"]
                   and x["method"] == (r["method"] if r["contender"] != "swarp" else "interp")), None)
        out.append(dict(benchmark=f"mosaic {r['n_tiles']} tiles {r['method']} {r['combine']}", peer=r["contender"],
                        peer_s=r["time"], numbamosaic_s=nm["time"] if nm else None, ratio=r["ratio"],
                        peer_anon=r["peak_anon"], numbamosaic_anon=nm["peak_anon"] if nm else None))
    return out


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--method", default="interp", help=argparse.SUPPRESS)
    p.add_argument("--inputs", help=argparse.SUPPRESS)
    p.add_argument("--header", help=argparse.SUPPRESS)
    p.add_argument("--calls", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    p.add_argument("--memmap-output", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--intermediate-memmap", default=None, help=argparse.SUPPRESS)
    p.add_argument("--memory-limit", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tmpdir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--methods", default="interp", help="comma list of interp,exact,adaptive (default interp)")
    p.add_argument("--combine", default="mean", help="comma list of mean,median (default mean)")
    p.add_argument("--tiles", type=int, default=None,
                   help="use only N tiles (a k×k block if N is a square, e.g. 4), for slow peers")
    p.add_argument("--tile-size", type=int, default=2048, help="tile side in pixels (default 2048)")
    p.add_argument("--skip", default="", help="comma list of contenders to skip: numbamosaic,reproject,swarp,montage")
    p.add_argument("--no-memory-scenario", action="store_true", help="skip the memmap/memory_limit runs")
    p.add_argument("--memory-peers", action="store_true",
                   help="also run reproject with memmap output + intermediate_memmap in the memory scenario")
    p.add_argument("--keep", default=None, help="keep inputs and outputs in this directory")
    p.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.worker:
        args.combine = args.combine.split(",")[0]
        return worker(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    combines = [c.strip() for c in args.combine.split(",") if c.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods: unknown {m!r} (choose from {METHODS})")
    for c in combines:
        if c not in COMBINES:
            raise SystemExit(f"--combine: unknown {c!r} (choose from {COMBINES})")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rows = run(methods, combines, args.tiles, skip, not args.no_memory_scenario, args.memory_peers,
               args.keep, tile_size=args.tile_size)
    report(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return rows


if __name__ == "__main__":
    main()
