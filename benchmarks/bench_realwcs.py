"""Distorted real-world WCS: numbamosaic vs reproject 0.21 on TPV and SIP images.

Distorted cases, synthetic star fields rendered on the synthetic-but-realistic
headers shipped in ``tests/data`` (see their COMMENT cards), each reprojected
onto a north-up TAN frame of the same pixel scale (``find_optimal_celestial_wcs``):

* ``tpv``: a DECam-like CCD with a third-order TPV polynomial
  (``decam_tpv.hdr``; the first ``--tpv-size`` x ``--tpv-size`` pixels of the
  2046 x 4094 chip, default 1024, ``--tpv-size 0`` for the whole chip);
* ``sip``: a Spitzer IRAC-like 256 x 256 TAN-SIP image with AP/BP
  (``irac_like_sip.hdr``).

Coarse-pixel cases (issue 13), a smooth synthetic sky (a sum of Gaussians on
the sphere, sampled at the pixel centres; NaN outside the projection's domain):

* ``zpn``: the Parkes 1904-66 ZPN header of Calabretta & Greisen (2002), 192^2
  pixels of 4 arcmin, shipped with astropy's tests (``maps/1904-66_ZPN.hdr``),
  onto its ZEA twin (``maps/1904-66_ZEA.hdr``);
* ``ait``: a ROSAT-like all-sky Hammer-Aitoff map, 1024 x 512 pixels of
  0.32 deg, onto an all-sky plate carree of 0.5 deg (720 x 360);
* ``hpx``: a WMAP-like all-sky HEALPix (HPX) map, 1024 x 512 pixels of 0.35
  deg, onto the same plate carree;
* ``qsc``: a COBE-like all-sky quadrilateralized spherical cube (QSC) net,
  720 x 540 pixels of 0.5 deg (4 x 3 faces, the blank ones NaN), onto the
  same plate carree;
* ``xph``: an all-sky HEALPix polar "butterfly" (XPH, Calabretta & Lowe 2013),
  540 x 540 pixels of 0.5 deg centred on the north pole, onto the same plate
  carree.

Each is reprojected with ``reproject_interp`` (bilinear) and
``reproject_exact``, by numbamosaic (native TPV/SIP evaluation, all cores)
and by reproject (astropy WCS, ``parallel=False``).  Every contender runs in
its own fresh process (``common.py``): first call (numbamosaic: kernels
loaded from the on-disk cache, or compiled if the cache is cold) and the
minimum of ``--repeat`` steady calls.  Agreement: max |diff| / range over
pixels both cover (footprint > 0.999 for exact), and coverage mismatches.

Usage::

    python benchmarks/bench_realwcs.py                  # both cases, 3 repeats
    python benchmarks/bench_realwcs.py --tpv-size 0     # the whole DECam chip
    python benchmarks/bench_realwcs.py --cases sip --methods exact
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data")
HEADERS = {"tpv": "decam_tpv.hdr", "sip": "irac_like_sip.hdr"}
COARSE = ("zpn", "ait", "hpx", "qsc", "xph")
#: all-sky layouts at 0.5 deg: (nx, ny, CRVAL2); QSC's cube net is 4 x 3 faces of 90 deg,
#: XPH's butterfly fits in +-135 deg with its reference point at the pole (Calabretta & Lowe 2013)
LAYOUTS = {"qsc": (720, 540, 0.0), "xph": (540, 540, 90.0)}


def _astropy_map(name):
    """A header of astropy's test maps (Calabretta & Greisen's 1904-66 set)."""
    import astropy
    from astropy.io import fits

    path = os.path.join(os.path.dirname(astropy.__file__), "wcs", "tests", "data", "maps", name)
    with open(path) as f:
        return fits.Header.fromstring(f.read())


def _allsky_header(ctype, nx, ny, cdelt, crval2=0.0):
    from astropy.io import fits

    h = fits.Header()
    h.update(NAXIS=2, NAXIS1=nx, NAXIS2=ny, CTYPE1=f"GLON-{ctype}", CTYPE2=f"GLAT-{ctype}",
             CRPIX1=nx / 2 + 0.5, CRPIX2=ny / 2 + 0.5, CDELT1=-cdelt, CDELT2=cdelt, CRVAL1=0.0, CRVAL2=crval2)
    return h


def smooth_sky(lon, lat, n=40, seed=3):
    """A smooth synthetic sky: ``n`` Gaussians (widths 2-15 deg) on the sphere, plus 1."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    c = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z])
    sig = np.radians(rng.uniform(2, 15, n))
    amp = rng.uniform(0.2, 1.0, n)
    lo, la = np.radians(lon), np.radians(lat)
    u = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    ang = np.arccos(np.clip(u @ c, -1, 1))
    return 1.0 + (amp * np.exp(-0.5 * (ang / sig) ** 2)).sum(axis=-1)


def make_coarse(case):
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case == "zpn":
            wcs, wcs_out = WCS(_astropy_map("1904-66_ZPN.hdr")), WCS(_astropy_map("1904-66_ZEA.hdr"))
            shape, shape_out = (192, 192), (192, 192)
        elif case in LAYOUTS:
            nx, ny, crval2 = LAYOUTS[case]
            wcs = WCS(_allsky_header(case.upper(), nx, ny, 0.5, crval2))
            wcs_out = WCS(_allsky_header("CAR", 720, 360, 0.5))
            shape, shape_out = (ny, nx), (360, 720)
        else:
            nx, ny, cdelt = (1024, 512, 0.3164) if case == "ait" else (1024, 512, 0.3515625)
            wcs = WCS(_allsky_header(case.upper(), nx, ny, cdelt))
            wcs_out = WCS(_allsky_header("CAR", 720, 360, 0.5))
            shape, shape_out = (ny, nx), (360, 720)
        y, x = np.mgrid[0:shape[0], 0:shape[1]]
        lon, lat = wcs.pixel_to_world_values(x, y)
    data = smooth_sky(lon, lat).astype(np.float32)  # NaN outside the projection's domain
    return data, wcs, wcs_out, shape_out


def make_problem(case, tpv_size):
    """Input array, input WCS, output WCS and output shape (deterministic)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from numbamosaic import find_optimal_celestial_wcs
    from numbamosaic.synthetic import make_star_field

    if case in COARSE:
        return make_coarse(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(fits.Header.fromtextfile(os.path.join(DATA, HEADERS[case])))
    nx, ny = wcs.pixel_shape
    if case == "tpv" and tpv_size:
        nx, ny = min(nx, tpv_size), min(ny, tpv_size)
    shape = (ny, nx)
    fwhm = 1.0 if case == "tpv" else 2.0  # arcsec: ~4 and ~1.7 pixels
    data = make_star_field(shape, wcs, fwhm_arcsec=fwhm, noise=1.0, nan_blobs=2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs_out, shape_out = find_optimal_celestial_wcs([(shape, wcs)])
    return data, wcs, wcs_out, tuple(shape_out)


def worker(args):
    state = common.WorkerState()
    data, wcs_in, wcs_out, shape = make_problem(args.case, args.tpv_size)
    if args.contender == "numbamosaic":
        import numbamosaic as lib
    elif args.contender == "reproject":
        import reproject as lib
    else:
        raise SystemExit(f"unknown contender {args.contender}")
    fn = lib.reproject_interp if args.method == "interp" else lib.reproject_exact
    state.mark_baseline()
    out = state.time_call("first", fn, (data, wcs_in), wcs_out, shape_out=shape)
    steady = []
    steady_cpu = []
    for _ in range(args.repeat):
        out = None
        common.gc.collect()
        t = common.time.perf_counter()
        c = common.cpu_time()
        out = fn((data, wcs_in), wcs_out, shape_out=shape)
        steady_cpu.append(common.cpu_time() - c)
        steady.append(common.time.perf_counter() - t)
    state.result["steady_all"] = steady
    state.result["steady"] = min(steady) if steady else None
    state.result["steady_cpu"] = min(steady_cpu) if steady_cpu else None
    state.result["shape_in"] = list(data.shape)
    state.result["shape_out"] = list(shape)
    if args.save and out is not None:
        np.save(args.save + ".array.npy", np.asarray(out[0], dtype=np.float32))
        np.save(args.save + ".footprint.npy", np.asarray(out[1], dtype=np.float32))
    common.worker_report(state, contender=args.contender)


def _agreement(tmp, tag, method):
    a = np.load(os.path.join(tmp, f"numbamosaic-{tag}.array.npy"))
    fa = np.load(os.path.join(tmp, f"numbamosaic-{tag}.footprint.npy"))
    b = np.load(os.path.join(tmp, f"reproject-{tag}.array.npy"))
    fb = np.load(os.path.join(tmp, f"reproject-{tag}.footprint.npy"))
    cut = 0.999 if method == "exact" else 0.0
    both = (fa > cut) & (fb > cut) & np.isfinite(a) & np.isfinite(b)
    rng = float(np.nanmax(b[both]) - np.nanmin(b[both])) if both.any() else float("nan")
    diff = float(np.abs(a[both] - b[both]).max()) if both.any() else float("nan")
    return dict(rel_max_diff=diff / rng, n_both=int(both.sum()),
                n_cov_mismatch=int(np.count_nonzero((fa > 0) != (fb > 0))))


def run(cases, methods, repeat, tpv_size, keep=None, echo=True):
    here = os.path.abspath(__file__)
    tmp = keep or tempfile.mkdtemp(prefix="nm_bench_realwcs_")
    os.makedirs(tmp, exist_ok=True)
    rows = []
    try:
        for case in cases:
            for method in methods:
                tag = f"{case}-{method}"
                res = {}
                for contender in ("numbamosaic", "reproject"):
                    res[contender] = common.run_python_worker(
                        here, [contender, "--case", case, "--method", method, "--repeat", repeat,
                               "--tpv-size", tpv_size, "--save", os.path.join(tmp, f"{contender}-{tag}")],
                        echo=echo)
                common.check_errors(res)
                agree = None
                if not any(r.get("error") for r in res.values()):
                    agree = _agreement(tmp, tag, method)
                nm, rp = res["numbamosaic"], res["reproject"]
                rows.append(dict(
                    case=case, method=method, shape_in=nm.get("shape_in"), shape_out=nm.get("shape_out"),
                    nm_first=nm.get("first"), nm_steady=nm.get("steady"),
                    rp_first=rp.get("first"), rp_steady=rp.get("steady"),
                    nm_first_cpu=nm.get("first_cpu"), rp_first_cpu=rp.get("first_cpu"),
                    nm_steady_cpu=nm.get("steady_cpu"), rp_steady_cpu=rp.get("steady_cpu"),
                    speedup=common.ratio(rp.get("steady"), nm.get("steady")),
                    speedup_cpu=common.ratio(rp.get("steady_cpu"), nm.get("steady_cpu")),
                    nm_anon=nm.get("added_anon_mb"), rp_anon=rp.get("added_anon_mb"),
                    agreement=agree, error=nm.get("error") or rp.get("error"),
                ))
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report(rows, repeat):
    print("\n## Distorted WCS (synthetic pixels on realistic TPV / SIP headers), numbamosaic vs reproject 0.21")
    print(f"machine: {common.machine_summary()}")
    common.print_table(rows, [
        ("case", "case"),
        ("method", "method"),
        ("in -> out", lambda r: f"{r['shape_in']} -> {r['shape_out']}"),
        ("nm first s (CPU)", lambda r: f"{common.fmt(r['nm_first'], '.2f')} ({common.fmt(r['nm_first_cpu'], '.2f')})"),
        (f"nm steady s (CPU), min of {repeat}", lambda r: f"{common.fmt(r['nm_steady'], '.3f')} ({common.fmt(r['nm_steady_cpu'], '.3f')})"),
        ("rp first s (CPU)", lambda r: f"{common.fmt(r['rp_first'], '.2f')} ({common.fmt(r['rp_first_cpu'], '.2f')})"),
        ("rp steady s (CPU)", lambda r: f"{common.fmt(r['rp_steady'], '.3f')} ({common.fmt(r['rp_steady_cpu'], '.3f')})"),
        ("speed-up wall / CPU", lambda r: common.fmt(r["speedup"], ".1f") + " / " + common.fmt(r["speedup_cpu"], ".1f")),
        ("added anon MiB nm / rp", lambda r: f"{common.fmt(r['nm_anon'], '.0f')} / {common.fmt(r['rp_anon'], '.0f')}"),
        ("max|diff|/range", lambda r: common.fmt((r["agreement"] or {}).get("rel_max_diff"), ".2g")),
        ("coverage mismatches", lambda r: common.fmt((r["agreement"] or {}).get("n_cov_mismatch"), "d")),
    ])
    sys.stdout.flush()


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("contender", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--case", default="tpv", help=argparse.SUPPRESS)
    p.add_argument("--method", default="interp", help=argparse.SUPPRESS)
    p.add_argument("--cases", default="tpv,sip,zpn,ait,hpx,qsc,xph", help="comma-separated: tpv, sip, zpn, ait, hpx, qsc, xph (default all)")
    p.add_argument("--methods", default="interp,exact", help="comma-separated: interp, exact (default both)")
    p.add_argument("--tpv-size", type=int, default=1024, help="side of the DECam crop (0: whole chip)")
    p.add_argument("--repeat", type=int, default=3, help="steady-state calls per contender (default 3)")
    p.add_argument("--keep", default=None, help="keep outputs in this directory")
    p.add_argument("--save", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="also write the results as JSON to this file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    if args.worker:
        return worker(args)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = run(cases, methods, args.repeat, args.tpv_size, args.keep)
    report(rows, args.repeat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1, default=str)
    return rows


if __name__ == "__main__":
    main()
