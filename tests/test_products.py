"""Survey products of reproject_and_coadd (issue 15): variance, count, context, flags, exposure,
weight types, masks and flux scales, against Monte-Carlo and naive NumPy references."""

import numpy as np
import pytest
from astropy.io import fits

from conftest import centred_tan_wcs
from numbamosaic import plan_mosaic, reproject_adaptive, reproject_and_coadd, reproject_exact, reproject_interp

SHAPE_IN = (16, 16)
SHAPE_OUT = (20, 20)


def _geometry(n=2):
    wout = centred_tan_wcs(SHAPE_OUT, (150, 30), 1e-3, 0)
    ws = [centred_tan_wcs(SHAPE_IN, (150 + 0.002 * (k - 0.5), 30 + 0.0013 * (k - 0.5)), 1.1e-3, 17 * k + 5) for k in range(n)]
    return wout, ws


CASES = [
    # (method kwargs, combine, how the noise is described)
    ({"order": "nearest-neighbor"}, "mean", "ivar"),
    ({"order": "bilinear"}, "mean", "ivar"),  # inverse-variance weighted mean
    ({"order": "bilinear"}, "mean", "variances"),  # plain mean, variance maps given
    ({"order": "bilinear"}, "sum", "variances"),
    ({"order": "bicubic"}, "mean", "ivar"),
    ({"order": "bicubic"}, "sum", "variances"),
    ({"reproject_function": reproject_exact}, "mean", "ivar"),
    ({"reproject_function": reproject_exact}, "mean", "variances"),
    ({"reproject_function": reproject_exact}, "sum", "variances"),
    ({"reproject_function": reproject_adaptive}, "mean", "ivar"),
    ({"reproject_function": reproject_adaptive}, "mean", "variances"),
    ({"reproject_function": reproject_adaptive, "conserve_flux": True}, "sum", "variances"),
]


def _case_id(m, c, n):
    f = m.get("reproject_function")
    return f"{m['order'].split('-')[0] if f is None else f.__name__.split('_')[1]}-{c}-{n}"


@pytest.mark.parametrize("method,combine,noise", CASES, ids=[_case_id(*c) for c in CASES])
def test_variance_monte_carlo(method, combine, noise):
    """Over 200 noise realisations of known per-pixel variance, the empirical variance of the output
    equals the propagated one within its statistical error (per pixel, and pooled over pixels with
    the standard error measured across realisations, which accounts for correlated pixels)."""
    rng = np.random.default_rng(12)
    wout, ws = _geometry()
    var = [rng.uniform(0.3, 3.0, size=SHAPE_IN).astype(np.float32) for _ in ws]
    kw = dict(method, combine_function=combine, parallel=False, return_products=["variance", "count"])
    if noise == "ivar":
        kw.update(input_weights=[(1 / v).astype(np.float32) for v in var], weights_type="ivar")
    else:
        kw.update(input_variances=var, input_weights=[rng.uniform(0.5, 1.5, size=SHAPE_IN).astype(np.float32) for _ in ws])
    R = 200
    vals = np.empty((R,) + SHAPE_OUT)
    prop = None
    for r in range(R):
        ins = [(rng.normal(size=SHAPE_IN).astype(np.float32) * np.sqrt(v), w) for v, w in zip(var, ws)]
        res = reproject_and_coadd(ins, wout, shape_out=SHAPE_OUT, **kw)
        vals[r] = res.array
        if prop is None:
            prop = np.asarray(res.variance, dtype=float)
            good = (res.count > 0) & np.isfinite(prop)
        else:  # the propagated variance does not depend on the data
            np.testing.assert_array_equal(res.variance[good], prop[good])
    assert good.sum() > 200 and (res.count == 2).sum() > 50
    z2 = vals[:, good] ** 2 / prop[good]  # the true mean is 0: E[z2] = 1
    per_pixel = z2.mean(axis=0)
    # chi^2_R / R per pixel: sd sqrt(2 / R) = 0.1
    assert np.all(np.abs(per_pixel - 1) < 6 * np.sqrt(2 / R)), (per_pixel.min(), per_pixel.max())
    pooled = z2.mean(axis=1)  # one independent number per realisation
    se = pooled.std(ddof=1) / np.sqrt(R)
    assert abs(pooled.mean() - 1) < 4 * se + 1e-3, (pooled.mean(), se)


def _naive_positions(wout, w_in):
    """Input pixel position of every output pixel centre, through astropy."""
    yy, xx = np.mgrid[: SHAPE_OUT[0], : SHAPE_OUT[1]]
    world = wout.pixel_to_world(xx, yy)
    return w_in.world_to_pixel(world)


def test_count_context_flags_exposure_vs_naive():
    """Nearest-neighbour mosaic with NaN pixels, zero weights, integer DQ masks and bad_bits: count,
    exposure, context and OR/AND flags equal a naive NumPy evaluation; any thread count gives the
    same bytes."""
    rng = np.random.default_rng(3)
    wout, ws = _geometry(3)
    n = len(ws)
    data = [rng.normal(size=SHAPE_IN).astype(np.float32) for _ in ws]
    weights = [rng.uniform(0.5, 2, size=SHAPE_IN).astype(np.float32) for _ in ws]
    dqs = [rng.choice(np.array([0, 0, 0, 1, 2, 4, 8, 6], np.int16), size=SHAPE_IN) for _ in ws]
    for d, w in zip(data, weights):
        d[rng.random(SHAPE_IN) < 0.05] = np.nan
        w[rng.random(SHAPE_IN) < 0.05] = 0
    times = [10.0, 20.0, 40.0]
    bad = 2 | 8
    ins = list(zip(data, ws))
    kw = dict(order="nearest-neighbor", input_weights=weights, input_masks=dqs, bad_bits=[2, 8], exposure_times=times,
              return_products=True, shape_out=SHAPE_OUT)
    res = reproject_and_coadd(ins, wout, parallel=False, **kw)
    res2 = reproject_and_coadd(ins, wout, parallel=2, tile_size=8, **kw)
    for p in ("array", "footprint", "count", "exposure", "flags"):
        np.testing.assert_array_equal(getattr(res, p), getattr(res2, p))
    and_flags = reproject_and_coadd(ins, wout, parallel=False, flags_combine="and", **kw).flags

    count = np.zeros(SHAPE_OUT, int)
    expo = np.zeros(SHAPE_OUT)
    f_or = np.zeros(SHAPE_OUT, np.uint32)
    f_and = np.full(SHAPE_OUT, 0xFFFFFFFF, np.uint32)
    seen = np.zeros(SHAPE_OUT, bool)
    contrib = np.zeros((n,) + SHAPE_OUT, bool)
    for i in range(n):
        x, y = _naive_positions(wout, ws[i])
        ny, nx = SHAPE_IN
        inside = (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
        ix = np.clip(np.floor(np.clip(x, 0, nx - 1) + 0.5).astype(int), 0, nx - 1)
        iy = np.clip(np.floor(np.clip(y, 0, ny - 1) + 0.5).astype(int), 0, ny - 1)
        dq = dqs[i].astype(np.uint16).astype(np.uint32)[iy, ix]
        ok = inside & np.isfinite(data[i][iy, ix]) & (weights[i][iy, ix] > 0) & ((dq & bad) == 0)
        contrib[i] = ok
        count += ok
        expo += ok * times[i]
        f_or[inside] |= dq[inside]
        f_and[inside] &= dq[inside]
        seen |= inside
    f_and[~seen] = 0
    np.testing.assert_array_equal(res.count, count)
    np.testing.assert_array_equal(res.exposure, expo.astype(np.float32))
    np.testing.assert_array_equal(res.flags, f_or)
    np.testing.assert_array_equal(and_flags, f_and)
    assert 0 < (count == 3).sum() and (count == 0).sum() > 0 and f_or.any() and f_and.any()
    for i in range(n):
        np.testing.assert_array_equal(res.context.input_map(i), contrib[i])
        np.testing.assert_array_equal(res2.context.input_map(i), contrib[i])
    for y, x in [(10, 10), (0, 0), (5, 15)]:
        assert res.context.inputs_at(y, x) == [i for i in range(n) if contrib[i, y, x]]
    # masked samples are dropped from the mosaic itself: blank where nothing good remains
    assert np.all((res.footprint > 0) == (count > 0))


def test_weight_types_scales_and_plain_parity():
    """Products leave the mosaic bitwise equal to the plain call; ivar, variance and rms maps encoding
    the same (dyadic) weights give identical mosaics and variances, equal to relative weights; flux
    scales from a header keyword scale values by s and variances by s^2; CCDData conversion."""
    rng = np.random.default_rng(5)
    wout, ws = _geometry()
    data = [rng.normal(size=SHAPE_IN).astype(np.float32) for _ in ws]
    ivar = [rng.choice(np.array([0.25, 1, 4, 16], np.float32), size=SHAPE_IN) for _ in ws]
    ins = list(zip(data, ws))
    kw = dict(shape_out=SHAPE_OUT, parallel=False)
    plain = reproject_and_coadd(ins, wout, input_weights=ivar, **kw)
    as_w = reproject_and_coadd(ins, wout, input_weights=ivar, return_products=True, **kw)
    res = {}
    for wt, maps in (("ivar", ivar), ("variance", [1 / w for w in ivar]), ("rms", [1 / np.sqrt(w) for w in ivar])):
        res[wt] = reproject_and_coadd(ins, wout, input_weights=maps, weights_type=wt, return_products=True, **kw)
    for r in [as_w] + list(res.values()):
        np.testing.assert_array_equal(r.array, plain[0])
        np.testing.assert_array_equal(r.footprint, plain[1])
    np.testing.assert_array_equal(res["variance"].variance, res["ivar"].variance)
    np.testing.assert_array_equal(res["rms"].variance, res["ivar"].variance)
    assert as_w.variance is None and np.isfinite(res["ivar"].variance[res["ivar"].count > 0]).all()

    hdus = []
    for d, w in ins:
        h = fits.ImageHDU(d, header=w.to_header())
        h.header["FLXSCALE"] = 2.0
        hdus.append(h)
    scaled = reproject_and_coadd(hdus, wout, input_weights=ivar, weights_type="ivar", input_scales="FLXSCALE",
                                 return_products=True, **kw)
    np.testing.assert_array_equal(scaled.array, 2 * plain[0])
    # ivar weights of scaled data are divided by s^2: the mean's weights are relative, the variance x4
    np.testing.assert_allclose(scaled.variance, 4 * res["ivar"].variance, rtol=1e-6)
    with pytest.raises(ValueError, match="input_scales: keyword 'NOPE' not found in the header of input_data\\[0\\]"):
        reproject_and_coadd(hdus, wout, input_scales="NOPE", **kw)
    with pytest.raises(ValueError, match="needs input_weights"):
        reproject_and_coadd(ins, wout, weights_type="rms", **kw)
    with pytest.raises(ValueError, match="exposure needs exposure_times"):
        reproject_and_coadd(ins, wout, return_products=["exposure"], **kw)

    ccd = res["ivar"].to_ccddata(unit="adu")
    good = res["ivar"].count > 0
    np.testing.assert_array_equal(ccd.uncertainty.array, res["ivar"].variance)
    assert type(ccd.uncertainty).__name__ == "VarianceUncertainty"
    np.testing.assert_array_equal(ccd.mask, ~good)
    # the planner counts the products
    p0 = plan_mosaic(ins, wout, input_weights=ivar, **kw)
    p1 = plan_mosaic(ins, wout, input_weights=ivar, weights_type="ivar", return_products=True, **kw)
    assert p1.peak_memory > p0.peak_memory


def test_product_outputs_memmap_and_zarr(tmp_path):
    """Caller-provided product outputs (np.memmap, zarr with chunks that force tile alignment) receive
    exactly the in-memory products; threads give the same bytes."""
    zarr = pytest.importorskip("zarr")
    rng = np.random.default_rng(8)
    wout, ws = _geometry(3)
    ins = [(rng.normal(size=SHAPE_IN).astype(np.float32), w) for w in ws]
    ivar = [rng.uniform(0.5, 2, size=SHAPE_IN).astype(np.float32) for _ in ws]
    kw = dict(shape_out=SHAPE_OUT, input_weights=ivar, weights_type="ivar", exposure_times=[1.0, 2.0, 3.0], tile_size=8)
    ref = reproject_and_coadd(ins, wout, parallel=False, return_products=True, **kw)
    mm = {
        "variance": np.memmap(tmp_path / "v.dat", dtype=np.float32, mode="w+", shape=SHAPE_OUT),
        "count": zarr.create_array(store=str(tmp_path / "c.zarr"), shape=SHAPE_OUT, chunks=(12, 12), dtype="int32"),
        "context": zarr.create_array(store=str(tmp_path / "x.zarr"), shape=(1,) + SHAPE_OUT, chunks=(1, 12, 12), dtype="uint32"),
        "exposure": np.zeros(SHAPE_OUT, np.float32),
    }
    got = reproject_and_coadd(ins, wout, parallel=2, return_products=True, product_outputs=mm, **kw)
    assert got.variance is mm["variance"] and got.count is mm["count"]
    np.testing.assert_array_equal(np.asarray(mm["variance"]), ref.variance)
    np.testing.assert_array_equal(mm["count"][...], ref.count)
    np.testing.assert_array_equal(mm["context"][...], ref.context.bits)
    np.testing.assert_array_equal(mm["exposure"], ref.exposure)
    np.testing.assert_array_equal(got.array, ref.array)


# --------------------------------------------------------------------------- FITS outputs and the command line


@pytest.fixture(scope="module")
def noisy_survey(tmp_path_factory):
    """Four small FITS tiles with FLXSCALE/EXPTIME keywords, RMS maps (with the tiles' WCS) and DQ files."""
    from numbamosaic.synthetic import make_survey, write_survey

    d = tmp_path_factory.mktemp("noisy")
    paths = write_survey(make_survey(2, 2, tile_shape=(40, 44), overlap=0.25, nan_blobs=0, seed=7, n_stars=20), d / "tiles")
    rng = np.random.default_rng(21)
    rms, dq = [], []
    for k, p in enumerate(paths):
        with fits.open(p, mode="update") as h:
            h[0].header["FLXSCALE"] = 1 + 0.25 * k
            h[0].header["EXPTIME"] = 30.0 * (k + 1)
            hdr, shape = h[0].header.copy(), h[0].data.shape
        rms.append(str(d / f"rms{k}.fits"))
        fits.writeto(rms[-1], rng.uniform(0.5, 2, shape).astype(np.float32), hdr)
        dq.append(str(d / f"dq{k}.fits"))
        fits.writeto(dq[-1], rng.choice(np.array([0, 0, 0, 0, 1, 2, 8], np.int16), shape))
    header = d / "frame.hdr"
    wcs, shape = _frame(paths)
    h = wcs.to_header()
    h.insert(0, ("NAXIS", 2))
    h.insert(1, ("NAXIS1", shape[1]))
    h.insert(2, ("NAXIS2", shape[0]))
    h.totextfile(str(header))
    # the frame as the command line reads it (the text header's rounding included)
    return paths, rms, dq, header, fits.Header.fromtextfile(str(header)), shape


def _frame(paths):
    from numbamosaic import find_optimal_celestial_wcs

    return find_optimal_celestial_wcs(paths, negative_lon_cdelt="auto")


def _cli(*args):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(__import__("os").environ)
    env["PYTHONPATH"] = str(root) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, "-m", "numbamosaic", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def _api(paths, rms, dq, wcs, shape, **extra):
    kw = dict(input_weights=rms, weights_type="rms", input_masks=dq, bad_bits=2 | 8, input_scales="FLXSCALE",
              exposure_times="EXPTIME", return_products=True, blank_pixel_value=np.nan)
    kw.update(extra)
    return reproject_and_coadd(paths, wcs, shape_out=shape, **kw)


def _check_file_products(path, ref, n, err=False):
    from numbamosaic.mosaic import Context

    with fits.open(path) as h:
        np.testing.assert_array_equal(h[0].data, ref.array)
        np.testing.assert_array_equal(h["FOOTPRINT"].data, ref.footprint)
        if err:
            assert "VARIANCE" not in h
            np.testing.assert_array_equal(h["ERR"].data, np.sqrt(ref.variance))
        else:
            np.testing.assert_array_equal(h["VARIANCE"].data, ref.variance)
        np.testing.assert_array_equal(h["COUNT"].data, ref.count)
        np.testing.assert_array_equal(h["EXPOSURE"].data, ref.exposure)
        # COUNT and CONTEXT in the smallest types holding their values (n <= 255 inputs, <= 8 tile members)
        assert h["FLAGS"].data.dtype == np.uint32 and h["COUNT"].data.dtype == np.uint8
        assert h["CONTEXT"].data.dtype == np.uint8 and h["CONTEXT"].data.shape[0] == 1
        np.testing.assert_array_equal(h["FLAGS"].data, ref.flags)
        ctx = Context.from_fits(h)
        assert h["COUNT"].data.max() == n and ref.flags.any()
        for i in range(n):  # the context's content, whatever the tiling
            np.testing.assert_array_equal(ctx.input_map(i), ref.context.input_map(i))
        for y, x in [(0, 0), (20, 30), (40, 40)]:
            assert ctx.inputs_at(y, x) == ref.context.inputs_at(y, x)
        assert h["CTXTILES"].header["TILEX"] == h[0].data.shape[1]  # FITS outputs are written in strips


def test_mosaic_to_fits_products(noisy_survey, tmp_path):
    """mosaic_to_fits streams the product extensions: equal to the in-memory products bitwise
    (ERR = sqrt of the float32 variance), the context through its CTXTILES table."""
    from numbamosaic import mosaic_to_fits

    paths, rms, dq, header, wcs, shape = noisy_survey
    ref = _api(paths, rms, dq, wcs, shape)
    out = tmp_path / "m.fits"
    kw = dict(input_weights=rms, weights_type="rms", input_masks=dq, bad_bits=[2, 8], input_scales="FLXSCALE",
              exposure_times="EXPTIME", parallel=2)
    mosaic_to_fits(paths, wcs, out, shape_out=shape, products=["err", "count", "exposure", "flags", "context"], **kw)
    _check_file_products(out, ref, len(paths), err=True)
    with pytest.raises(ValueError, match="exclude each other"):
        mosaic_to_fits(paths, wcs, tmp_path / "x.fits", shape_out=shape, products=["err", "variance"], **kw)
    assert not (tmp_path / "x.fits").exists()


def test_cli_products_equal_api(noisy_survey, tmp_path):
    """``numbamosaic mosaic`` with --weight-type, --mask, --bad-bits, --flux-scale-keyword,
    --exptime-keyword and --products all writes VARIANCE, COUNT, EXPOSURE, FLAGS, CONTEXT (+CTXTILES)
    equal to the API's products bitwise."""
    paths, rms, dq, header, wcs, shape = noisy_survey
    out = tmp_path / "cli.fits"
    p = _cli("mosaic", *paths, "-o", out, "--header", header, "--weights", *rms, "--weight-type", "MAP_RMS",
             "--mask", *dq, "--bad-bits", "2,8", "--flux-scale-keyword", "FLXSCALE", "--exptime-keyword", "EXPTIME",
             "--products", "all", "--threads", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    ref = _api(paths, rms, dq, wcs, shape)
    _check_file_products(out, ref, len(paths))
    history = "".join(str(c) for c in fits.getheader(out)["HISTORY"])
    assert "--weight-type rms" in history and "--products all" in history


def test_cli_product_usage_errors(noisy_survey, tmp_path, capsys):
    """Bad product options are one-line usage errors (exit 2) before any work: no output file."""
    from numbamosaic import cli

    paths, rms, dq, header, wcs, shape = noisy_survey
    out = tmp_path / "e.fits"
    base = ("mosaic", *paths, "-o", out, "--header", header)
    cases = [
        (("--weight-type", "sigma"), "expected weight, ivar, variance or rms"),
        (("--weight-type", "rms"), "--weight-type rms needs --weights"),
        (("--mask", *dq[:2]), "--mask: 2 mask files for 4 inputs"),
        (("--bad-bits", "4"), "--bad-bits needs --mask"),
        (("--mask", *dq, "--bad-bits", "two"), "expected an integer or bit values"),
        (("--flux-scale-keyword", "NOPE"), "keyword 'NOPE' not found in the header of input_data[0]"),
        (("--flux-scales", "1", "2"), "--flux-scales: 2 values for 4 inputs"),
        (("--flux-scales", "1", "2", "3", "4", "--flux-scale-keyword", "FLXSCALE"), "exclude each other"),
        (("--exposure-times", "-1", "2", "3", "4"), "expected a finite number >= 0"),
        (("--products", "variance"), "--products: variance needs noise maps"),
        (("--products", "exposure,flags"), "exposure needs --exptime-keyword"),
        (("--products", "count,depth"), "expected 'all' or a comma-separated list"),
        (("--products", "variance,err"), "variance and err exclude each other"),
        (("--products", "count", "--combine", "median"), "--combine median: weight types, masks"),
        (("--products", "count", "-o", tmp_path / "e.zarr"), "FITS outputs only"),
    ]
    for extra, msg in cases:  # in-process: main() returns the exit status
        code = cli.main([str(a) for a in base + extra])
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and msg in lines[0], (extra, err)
    assert not out.exists() and not (tmp_path / "e.zarr").exists()


@pytest.mark.parametrize("method", [{"order": "bicubic"}, {"reproject_function": reproject_exact}],
                         ids=["bicubic", "exact"])
def test_products_on_dask_equal_threads(method, tmp_path, monkeypatch):
    """On dask.distributed (LocalCluster, threads in this process) the mosaic and every product are
    bitwise those of the threaded run, with masks, bad_bits, scales, exposure times and a noise-type
    weight map; the context (larger tiles on dask) holds the same inputs per pixel; FITS product
    extensions written through mosaic_to_fits on dask equal the threaded ones."""
    distributed = pytest.importorskip("distributed")
    from numbamosaic import mosaic_to_fits

    rng = np.random.default_rng(30)
    wout, ws = _geometry(3)
    ins = [(rng.normal(size=SHAPE_IN).astype(np.float32), w) for w in ws]
    kw = dict(method, shape_out=SHAPE_OUT, input_weights=[rng.uniform(0.5, 2, size=SHAPE_IN).astype(np.float32) for _ in ws],
              weights_type="variance", input_masks=[rng.choice(np.array([0, 0, 0, 1, 2], np.int16), size=SHAPE_IN) for _ in ws],
              bad_bits=2, input_scales=[1.0, 2.0, 0.5], exposure_times=[5.0, 6.0, 7.0], tile_size=4)
    ref = reproject_and_coadd(ins, wout, parallel=2, return_products=True, **kw)
    from numbamosaic.mosaic import _coadd

    monkeypatch.setattr(_coadd, "TASKS_PER_THREAD", 1)  # so that this small mosaic gets larger tiles on dask
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            got = reproject_and_coadd(ins, wout, parallel=client, return_products=True, **kw)
            mosaic_to_fits(ins, wout, tmp_path / "d.fits", products=["variance", "count", "exposure", "flags", "context"],
                           parallel=client, **kw)
    for p in ("array", "footprint", "variance", "count", "exposure", "flags"):
        np.testing.assert_array_equal(getattr(got, p), getattr(ref, p), err_msg=p)
    assert np.isfinite(ref.variance).sum() > 100 and ref.flags.any() and (ref.count == 3).any()
    assert len(got.context.tiles) < len(ref.context.tiles)  # the dask executor made larger tiles
    for i in range(len(ws)):
        np.testing.assert_array_equal(got.context.input_map(i), ref.context.input_map(i))
    for y, x in [(3, 4), (10, 10), (19, 0)]:
        assert got.context.inputs_at(y, x) == ref.context.inputs_at(y, x)
    from numbamosaic.mosaic import Context

    with fits.open(tmp_path / "d.fits") as h:
        for p in ("variance", "count", "exposure", "flags"):
            np.testing.assert_array_equal(h[p.upper()].data, getattr(ref, p), err_msg=p)
        np.testing.assert_array_equal(Context.from_fits(h).input_map(1), ref.context.input_map(1))


SINGLE_CASES = [
    ("bilinear", lambda d, w, s, v: reproject_interp(d, w, shape_out=s, order="bilinear", input_variance=v, parallel=False)),
    ("bicubic", lambda d, w, s, v: reproject_interp(d, w, shape_out=s, order="bicubic", input_variance=v, parallel=False)),
    ("exact", lambda d, w, s, v: reproject_exact(d, w, shape_out=s, input_variance=v, parallel=False)),
    ("exact-flux", lambda d, w, s, v: reproject_exact(d, w, shape_out=s, conserve="flux", input_variance=v, parallel=False)),
    ("adaptive", lambda d, w, s, v: reproject_adaptive(d, w, shape_out=s, input_variance=v, parallel=False)),
]


@pytest.mark.parametrize("name,call", SINGLE_CASES, ids=[c[0] for c in SINGLE_CASES])
def test_single_image_variance_monte_carlo(name, call):
    """Single-image functions with input_variance return (array, footprint, variance): the array is
    the plain call's bitwise, and over 200 noise realisations the empirical variance of the output
    agrees with the propagated one within its statistical error."""
    rng = np.random.default_rng(41)
    wout, (w_in,) = _geometry(1)
    var = rng.uniform(0.3, 3.0, size=SHAPE_IN).astype(np.float32)
    data0 = rng.normal(size=SHAPE_IN).astype(np.float32)
    arr, fp, prop = call((data0, w_in), wout, SHAPE_OUT, var)
    plain = call((data0, w_in), wout, SHAPE_OUT, None)
    np.testing.assert_array_equal(arr, plain[0])
    np.testing.assert_array_equal(fp, plain[1])
    assert prop.dtype == arr.dtype and np.array_equal(np.isnan(prop), np.isnan(arr))
    good = np.isfinite(prop)
    assert good.sum() > 150
    R = 200
    vals = np.empty((R, good.sum()))
    for r in range(R):
        noisy = (rng.normal(size=SHAPE_IN) * np.sqrt(var)).astype(np.float32)
        vals[r] = call((noisy, w_in), wout, SHAPE_OUT, None)[0][good]
    z2 = vals ** 2 / prop[good]
    per_pixel = z2.mean(axis=0)
    assert np.all(np.abs(per_pixel - 1) < 6 * np.sqrt(2 / R)), (per_pixel.min(), per_pixel.max())
    pooled = z2.mean(axis=1)
    assert abs(pooled.mean() - 1) < 4 * pooled.std(ddof=1) / np.sqrt(R) + 1e-3, pooled.mean()
    # return_footprint=False: (array, variance); clear errors before work
    a2, v2 = (reproject_interp if "interp" in name or name.startswith("bi") else (reproject_exact if "exact" in name else reproject_adaptive))(
        (data0, w_in), wout, shape_out=SHAPE_OUT, return_footprint=False, input_variance=var,
        **({"order": name} if name.startswith("bi") else {}), **({"conserve": "flux"} if name == "exact-flux" else {}))
    np.testing.assert_array_equal(v2, prop)
    with pytest.raises(ValueError, match="input_variance: shape"):
        call((data0, w_in), wout, SHAPE_OUT, var[:4])


def test_fits_product_types():
    """FITS COUNT and CONTEXT use the smallest type holding every value (the files' values are the API's)."""
    from numbamosaic.mosaic._tofits import context_dtype, count_dtype

    assert [count_dtype(n) for n in (1, 255, 256, 32767, 32768, None)] == [
        np.uint8, np.uint8, np.int16, np.int16, np.int32, np.int32]
    assert [context_dtype(p, d) for p, d in ((1, 1), (1, 8), (1, 9), (1, 16), (1, 17), (1, 32), (2, 33), (1, None))] == [
        np.uint8, np.uint8, np.uint16, np.uint16, np.uint32, np.uint32, np.uint32, np.uint32]
