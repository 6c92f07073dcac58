"""Survey products of reproject_and_coadd (issue 15): variance, count, context, flags, exposure,
weight types, masks and flux scales, against Monte-Carlo and naive NumPy references."""

import numpy as np
import pytest
from astropy.io import fits

from conftest import centred_tan_wcs
from numbamosaic import plan_mosaic, reproject_adaptive, reproject_and_coadd, reproject_exact

SHAPE_IN = (16, 16)
SHAPE_OUT = (20, 20)


def _geometry(n=2):
    wout = centred_tan_wcs(SHAPE_OUT, (150, 30), 1e-3, 0)
    ws = [centred_tan_wcs(SHAPE_IN, (150 + 0.002 * (k - 0.5), 30 + 0.0013 * (k - 0.5)), 1.1e-3, 17 * k + 5) for k in range(n)]
    return wout, ws


CASES = [
    # (method kwargs, combine, how the noise is described)
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
    return f"{m['order'] if f is None else f.__name__.split('_')[1]}-{c}-{n}"


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
