"""Ground truth for ``reproject_exact`` at seams and on coarse pixels: numbamosaic vs reproject 0.21.

The sky is analytic (:func:`bench_realwcs.smooth_sky`: 40 Gaussians of 2-15
deg on the sphere, plus 1); the input images sample it at their pixel
centres (NaN outside the projection's domain).  Two references per output
pixel, both independent of numbamosaic and reproject
(:func:`tests.naive.sampled_exact`: the output pixel sampled at ``k x k``
points weighted by the output's solid angle):

* **pixels**: the input as exact reprojection defines it, a constant value
  over each input pixel (the quantity both libraries compute);
* **sky**: the analytic sky itself averaged over the output pixel (what an
  observer wants; includes the input's own pixelisation).

Cases (``--cases``):

* ``ait-seam``: all-sky Hammer-Aitoff (512 x 256, 0.63 deg) -> all-sky
  plate carree of 1 deg whose pixels straddle l = 180 (the AIT seam);
* ``hpx-seam``: all-sky HEALPix HPX (512 x 256, 0.70 deg) -> the same
  plate carree: pixels straddling the polar facet edges (l = 0, +-90, 180
  above |b| = 41.8 deg);
* ``car-coarse``: the AIT map -> the plate carree, 100 random pixels away
  from the seam;
* ``zpn-coarse``: Parkes 1904-66 ZPN (Calabretta & Greisen 2002, 192^2 of 4
  arcmin, astropy's test header) -> its ZEA twin, 100 random pixels.

For each, over the pixels both the library and the reference cover, the
largest and median ``|value - truth| / range`` (range of the input); the
largest footprint error; and the number of pixels the library leaves NaN
though the reference covers them, numbamosaic and reproject.  The
sampling error of the reference is estimated by repeating it with ``k / 2``.

Usage::

    python benchmarks/truth_exact.py               # all cases, k = 256
    python benchmarks/truth_exact.py --k 128 --cases ait-seam
"""

import argparse
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import bench_realwcs  # noqa: E402
import naive  # noqa: E402

CASES = ("ait-seam", "hpx-seam", "car-coarse", "zpn-coarse")


def problem(case):
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case == "zpn-coarse":
            wcs_in = WCS(bench_realwcs._astropy_map("1904-66_ZPN.hdr"))
            wcs_out = WCS(bench_realwcs._astropy_map("1904-66_ZEA.hdr"))
            shape_in = shape_out = (192, 192)
        else:
            ctype = "HPX" if case == "hpx-seam" else "AIT"
            cdelt = 0.703125 if ctype == "HPX" else 0.6328
            wcs_in = WCS(bench_realwcs._allsky_header(ctype, 512, 256, cdelt))
            h = bench_realwcs._allsky_header("CAR", 360, 180, 1.0)
            h["CRPIX1"] = 181.0  # pixel centres at integer longitudes: pixels straddle l = 0, 90, 180
            wcs_out = WCS(h)
            shape_in, shape_out = (256, 512), (180, 360)
        y, x = np.mgrid[0 : shape_in[0], 0 : shape_in[1]]
        lon, lat = wcs_in.pixel_to_world_values(x, y)
    data = bench_realwcs.smooth_sky(lon, lat)
    return data, wcs_in, wcs_out, shape_out


def pixels(case, wcs_out, shape_out, n=100, seed=0):
    ny, nx = shape_out
    j, i = np.mgrid[0:ny, 0:nx]
    lon, lat = wcs_out.wcs_pix2world(i, j, 0)
    lon = np.mod(lon + 180.0, 360.0) - 180.0
    if case == "ait-seam":
        sel = (np.abs(np.abs(lon) - 180.0) < 1e-6) & (np.abs(lat) < 89.0)
    elif case == "hpx-seam":
        seam = np.isclose(np.mod(lon, 90.0), 0.0) | np.isclose(np.mod(lon, 90.0), 90.0)
        sel = seam & (np.abs(lat) > 43.0) & (np.abs(lat) < 89.0)
    elif case == "car-coarse":
        sel = (np.abs(np.abs(lon) - 180.0) > 20.0) & (np.abs(lat) < 80.0)
    else:
        sel = np.ones(shape_out, bool)
        sel[:10] = sel[-10:] = False
        sel[:, :10] = sel[:, -10:] = False
    jj, ii = np.nonzero(sel)
    rng = np.random.default_rng(seed)
    if case.endswith("coarse") and jj.size > n:
        k = rng.choice(jj.size, n, replace=False)
        jj, ii = jj[k], ii[k]
    return list(zip(jj.tolist(), ii.tolist()))


def run(case, k):
    import reproject

    import numbamosaic

    data, wcs_in, wcs_out, shape_out = problem(case)
    pix = pixels(case, wcs_out, shape_out)
    rng = float(np.nanmax(data) - np.nanmin(data))
    t_pix, f_pix = naive.sampled_exact(data, wcs_in, wcs_out, pix, k=k)
    t_half, _ = naive.sampled_exact(data, wcs_in, wcs_out, pix, k=k // 2)
    t_sky, _ = naive.sampled_exact(data, wcs_in, wcs_out, pix, k=k, sky=bench_realwcs.smooth_sky)
    idx = tuple(np.array(pix).T)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, fn, kw in (("numbamosaic", numbamosaic.reproject_exact, {}), ("reproject", reproject.reproject_exact, {"parallel": False})):
            a, f = fn((data, wcs_in), wcs_out, shape_out=shape_out, **kw)
            v = np.asarray(a, float)[idx]
            fp = np.asarray(f, float)[idx]
            both = np.isfinite(v) & np.isfinite(t_pix)
            e = np.abs(v - t_pix)[both] / rng
            s = np.abs(v - t_sky)[both] / rng
            def stat(f, a):
                return float(f(a)) if a.size else float("nan")

            rows.append(dict(case=case, who=name, n=int(np.isfinite(t_pix).sum()), max_pix=stat(np.max, e), med_pix=stat(np.median, e),
                             max_sky=stat(np.max, s), med_sky=stat(np.median, s),
                             fp_err=float(np.abs(np.nan_to_num(fp) - f_pix).max()),
                             nan=int(np.count_nonzero(~np.isfinite(v) & np.isfinite(t_pix)))))
    ok = np.isfinite(t_pix) & np.isfinite(t_half)
    ref = float(np.abs(t_pix - t_half)[ok].max() / rng)
    return rows, ref


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--k", type=int, default=256, help="samples per output pixel side (default 256)")
    args = p.parse_args(argv)
    print(f"reference: {args.k}^2 samples per output pixel; values relative to the input's range")
    print("| case | pixels | library | max err vs pixels | median | max err vs sky | median | max footprint err | NaN where covered | reference error (k vs k/2) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        rows, ref = run(case.strip(), args.k)
        for r in rows:
            print(f"| {r['case']} | {r['n']} | {r['who']} | {r['max_pix']:.2g} | {r['med_pix']:.2g} | {r['max_sky']:.2g} | "
                  f"{r['med_sky']:.2g} | {r['fp_err']:.2g} | {r['nan']} | {ref:.2g} |", flush=True)


if __name__ == "__main__":
    main()
