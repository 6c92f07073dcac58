"""Tests of ``reproject_adaptive`` (DeForest 2004 adaptive resampling).

Agreement with reproject 0.21's ``reproject_adaptive`` on small star fields
(every kernel, boundary and bad-value mode, conserve_flux, centred and
despiked Jacobians), anti-aliasing and flux-conservation properties, thread
count independence, option validation and dtypes.
"""

import itertools
import pickle

import numpy as np
import pytest
from astropy.wcs import WCS

from conftest import make_wcs, sky_position, star_field
from numbamosaic.adaptive import AdaptiveResampler, reproject_adaptive

reproject = pytest.importorskip("reproject")

TOL = 1e-4  # of the data range


def assert_agrees(kw, input_data, wcs_out, shape_out):
    ref, ref_fp = reproject.reproject_adaptive(input_data, wcs_out, shape_out=shape_out, **kw)
    out, fp = reproject_adaptive(input_data, wcs_out, shape_out=shape_out, **kw)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_array_equal(fp, ref_fp)
    finite = np.isfinite(ref)
    assert finite.sum() > 0.2 * ref.size
    data = input_data[0]
    scale = np.nanmax(data) - np.nanmin(data)
    if kw.get("conserve_flux"):
        scale *= max(1.0, float(np.nanmax(np.abs(ref)) / np.nanmax(np.abs(data))))
    np.testing.assert_allclose(out[finite], ref[finite], rtol=0, atol=TOL * scale)
    return out


@pytest.fixture(scope="module")
def field():
    return star_field((48, 48), n_stars=25, seed=4)


WIN = dict(shape=(48, 48), cdelt=1e-3, crval=(150.0, 30.0))

CASES = {
    "rotation": dict(shape=(44, 44), cdelt=1e-3, rot=30.0, crval=(150.001, 30.002)),
    "downsample": dict(shape=(30, 30), cdelt=1.7e-3, rot=10.0, crval=(150.0, 30.001)),
    "upsample": dict(shape=(60, 60), cdelt=0.6e-3, rot=-20.0, crval=(149.999, 30.0)),
}


@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_reproject(field, case, kernel):
    assert_agrees(dict(kernel=kernel), (field, make_wcs(**WIN)), make_wcs(**CASES[case]), CASES[case]["shape"])


@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
def test_matches_reproject_galactic_to_icrs(field, kernel):
    glon, glat = sky_position(150.0, 30.0, "icrs", "galactic")
    win = make_wcs(frame="galactic", crval=(glon, glat), shape=(48, 48), cdelt=1e-3, rot=5.0)
    wout = make_wcs(shape=(40, 40), cdelt=1.2e-3, rot=3.0)
    assert_agrees(dict(kernel=kernel), (field, win), wout, (40, 40))


@pytest.mark.parametrize(
    "kw",
    [
        dict(conserve_flux=True),
        dict(center_jacobian=True),
        dict(center_jacobian=True, kernel="hann", conserve_flux=True),
        dict(roundtrip_coords=False, kernel_width=1.6, sample_region_width=5),
        dict(despike_jacobian=True),
    ],
    ids=lambda kw: ",".join(kw),
)
def test_matches_reproject_options(field, kw):
    c = CASES["downsample"]
    assert_agrees(kw, (field, make_wcs(**WIN)), make_wcs(**c), c["shape"])


# an output larger than the input, up-sampled and overlapping one corner
WIDE = dict(shape=(70, 70), cdelt=0.5e-3, rot=25.0, crval=(150.0 + 0.02 / np.cos(np.radians(30)), 30.02))


@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
@pytest.mark.parametrize(
    "kw",
    [
        dict(boundary_mode="strict"),
        dict(boundary_mode="constant", boundary_fill_value=20.0),
        dict(boundary_mode="grid-constant", boundary_fill_value=20.0),
        dict(boundary_mode="ignore"),
        dict(boundary_mode="ignore_threshold", boundary_ignore_threshold=0.3),
        dict(boundary_mode="nearest"),
        dict(x_cyclic=True),
        dict(boundary_mode="ignore", y_cyclic=True),
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_boundary_modes_match_reproject(field, kw, kernel):
    assert_agrees(dict(kw, kernel=kernel), (field, make_wcs(**WIN)), make_wcs(**WIDE), WIDE["shape"])


@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
@pytest.mark.parametrize("mode", ["strict", "ignore", "constant"])
def test_bad_value_modes_match_reproject(field, mode, kernel):
    data = field.copy()
    data[10, 12] = np.nan
    data[30, 30] = np.inf
    data[20, 40] = -np.inf
    c = CASES["downsample"]
    kw = dict(bad_value_mode=mode, bad_fill_value=-3.0, kernel=kernel)
    ref = reproject.reproject_adaptive((data, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"], **kw)[0]
    out = reproject_adaptive((data, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"], **kw)[0]
    # an infinite input blanks its outputs (NaN) where reproject gives +-inf
    np.testing.assert_array_equal(np.isnan(out), ~np.isfinite(ref))
    assert not np.isinf(out).any()
    if mode == "strict":
        clean = reproject_adaptive((field, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"], kernel=kernel)[0]
        assert np.isnan(out).sum() > np.isnan(clean).sum()
        assert np.isinf(ref).any()
    finite = np.isfinite(ref)
    np.testing.assert_allclose(out[finite], ref[finite], rtol=0, atol=TOL * np.ptp(field))


def _all_sky_car():
    wcs_in = WCS(naxis=2)
    wcs_in.wcs.ctype = "RA---CAR", "DEC--CAR"
    wcs_in.wcs.crpix = 18.5, 9.5
    wcs_in.wcs.crval = 180, 0
    wcs_in.wcs.cdelt = 10, 10
    wcs_out = WCS(naxis=2)
    wcs_out.wcs.ctype = "RA---CAR", "DEC--CAR"
    wcs_out.wcs.crpix = 20, 20
    wcs_out.wcs.crval = 10, 0
    wcs_out.wcs.cdelt = 5, 1
    return np.arange(18 * 36, dtype=float).reshape((18, 36)), wcs_in, wcs_out


@pytest.mark.parametrize("center_jacobian", [False, True])
def test_despike_jacobian_at_wrap(center_jacobian):
    data, wcs_in, wcs_out = _all_sky_car()
    kw = dict(roundtrip_coords=False, x_cyclic=True, center_jacobian=center_jacobian, return_footprint=False)
    plain = reproject_adaptive((data, wcs_in), wcs_out, (40, 40), **kw)
    despiked = reproject_adaptive((data, wcs_in), wcs_out, (40, 40), despike_jacobian=True, **kw)
    ref = reproject.reproject_adaptive((data, wcs_in), wcs_out, (40, 40), despike_jacobian=True, **kw)
    finite = np.isfinite(plain)
    assert finite.sum() < plain.size  # the wrap line is NaN without despiking
    np.testing.assert_array_equal(plain[finite], despiked[finite])
    assert np.all(np.isfinite(despiked))
    np.testing.assert_allclose(despiked, ref, rtol=0, atol=TOL * np.ptp(data))


def _stripes_wcs(crpix, cdelt, rot=0.0):
    return make_wcs(crval=(150.0, 0.0), crpix=crpix, cdelt=cdelt, rot=rot)


@pytest.mark.parametrize("center_jacobian", [False, True])
@pytest.mark.parametrize("kernel", ["gaussian", "hann"])
def test_stripes_downsampled_by_two_average_out(kernel, center_jacobian):
    data = (np.arange(40 * 40).reshape(40, 40) % 2).astype(float)
    wcs_in = _stripes_wcs((21, 21), (1e-3, 1e-3))
    # FITS applies PC before CDELT, so the 90-degree case still halves input x
    for rot in (0.0, 90.0):
        wcs_out = _stripes_wcs((3, 5), (2e-3, 1e-3), rot=rot)
        out = reproject_adaptive(
            (data, wcs_in), wcs_out, shape_out=(11, 6), kernel=kernel, center_jacobian=center_jacobian,
            return_footprint=False,
        )
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out, 0.5, rtol=0.002)


def test_stripes_along_the_stretch_survive():
    # down-sampling along the stripes keeps them (Hann): no blurring across
    data = (np.arange(40 * 40).reshape(40, 40) % 2).astype(float)
    wcs_in = _stripes_wcs((21, 21), (1e-3, 1e-3))
    wcs_out = _stripes_wcs((16, 5), (1e-3, 2e-3))  # output x = input x - 5
    out = reproject_adaptive((data, wcs_in), wcs_out, shape_out=(11, 30), kernel="hann", return_footprint=False)
    ref = np.broadcast_to((np.arange(30) + 5) % 2, out.shape)
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_point_source_flux_is_conserved():
    data = np.zeros((20, 20))
    data[12, 13] = 1.0
    d = 1e-4
    wcs_in = make_wcs(crval=(150.0, 30.0), crpix=(11, 11), cdelt=(d, d))
    rotations = [0.0, 45.0, 80.0, 90.0]
    scales = list(itertools.product(np.logspace(-0.2, 0.2, 3), np.logspace(-0.3, 0.3, 3)))
    shears = list(itertools.product(np.linspace(-0.7, 0.7, 3), np.linspace(-0.2, 0.2, 3)))
    translations = list(itertools.product(np.linspace(0, 8, 3), np.linspace(0, 0.42, 3)))
    worst = 0.0
    for i, (rot, (sx, sy), (hx, hy)) in enumerate(itertools.product(rotations, scales, shears)):
        tx, ty = translations[i % len(translations)]
        a = np.radians(rot)
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        pc = R @ np.array([[1, hx], [0, 1]]) @ np.array([[1, 0], [hy, 1]])
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [150.0, 30.0]
        w.wcs.crpix = [23 + tx, 23 + ty]
        w.wcs.cd = pc * (np.array([sx, sy]) * d)[:, None]
        out = reproject_adaptive(
            (data, wcs_in), w, shape_out=(50, 50), return_footprint=False, roundtrip_coords=False,
            kernel="gaussian", sample_region_width=5, conserve_flux=True, boundary_mode="ignore",
        )
        worst = max(worst, abs(np.nansum(out) - 1.0))
    assert worst < 0.004


def test_serial_equals_parallel_bitwise(field):
    from numbamosaic.kernels import _adaptive as K
    from numbamosaic.kernels._sinks import SINK_SUM, SINK_WRITE
    from numbamosaic.wcs import build_transform, homography_flag

    c = CASES["rotation"]
    for kw in (dict(), dict(kernel="hann", center_jacobian=True, despike_jacobian=True, boundary_mode="constant")):
        args = ((field, make_wcs(**WIN)), make_wcs(**c))
        one = reproject_adaptive(*args, shape_out=c["shape"], parallel=False, **kw)
        two = reproject_adaptive(*args, shape_out=c["shape"], parallel=2, **kw)
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
    # kernel level: any block shape and any split of the box into strips (as the executors
    # run it on threads), with a weight image and SUM sink
    R = AdaptiveResampler(despike_jacobian=True, boundary_mode="ignore", shape_out=(44, 44))
    tr = build_transform(make_wcs(**WIN), make_wcs(**c))
    wimg = np.linspace(0.5, 1.5, field.size).reshape(field.shape)
    bg = np.array([0.3, 0.01, -0.02])
    results = []
    for brows, bcols, cuts in [(32, 256, (2, 40)), (3, 5, (2, 40)), (7, 4, (2, 17, 40)), (1, 64, (2, 3, 11, 12, 40))]:
        p = R.params.copy()
        p[K.P_BROWS], p[K.P_BCOLS] = brows, bcols
        val = np.zeros((44, 44))
        wt = np.zeros((44, 44))
        for ya, yb in zip(cuts[:-1], cuts[1:]):
            K.adaptive_tile(field, wimg, tr.vector, tr.grid, p, ya, yb, 1, 43, val, wt, 0, 0, SINK_SUM, bg,
                            homography_flag(tr.vector), K.plain_flag(p, wimg))
        results.append((val, wt))
    assert np.count_nonzero(results[0][1]) > 500
    for val, wt in results[1:]:
        np.testing.assert_array_equal(val, results[0][0])
        np.testing.assert_array_equal(wt, results[0][1])
    # tile through the resampler protocol matches the public function
    val = np.full((44, 44), np.nan)
    wt = np.zeros((44, 44))
    R2 = AdaptiveResampler()
    R2.tile(field, R2.prepare(field), np.empty((0, 0)), tr, 0, 44, 0, 44, val, wt, 0, 0, SINK_WRITE, np.zeros(3))
    np.testing.assert_array_equal(val, reproject_adaptive(*args, shape_out=(44, 44))[0])


def test_weight_image_uses_the_same_kernel_weights(field):
    from numbamosaic.kernels._sinks import SINK_WRITE
    from numbamosaic.wcs import build_transform

    c = CASES["downsample"]
    wimg = star_field((48, 48), n_stars=5, seed=9, noise=0)
    tr = build_transform(make_wcs(**WIN), make_wcs(**c))
    R = AdaptiveResampler(kernel="hann")
    val = np.empty(c["shape"])
    wt = np.empty(c["shape"])
    R.tile(field, None, wimg, tr, 0, c["shape"][0], 0, c["shape"][1], val, wt, 0, 0, SINK_WRITE, np.zeros(3))
    expect = reproject_adaptive((wimg, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"], kernel="hann")[0]
    ok = np.isfinite(val)
    np.testing.assert_allclose(wt[ok], expect[ok], rtol=1e-12)


def test_float32_in_float32_out(field):
    # serial only: one more kernel specialisation to compile, not two
    c = CASES["rotation"]
    args = ((field.astype(np.float32), make_wcs(**WIN)), make_wcs(**c))
    out, fp = reproject_adaptive(*args, shape_out=c["shape"], parallel=False)
    assert out.dtype == np.float32 and fp.dtype == np.float32
    out64 = reproject_adaptive((field, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"])[0]
    finite = np.isfinite(out64)
    np.testing.assert_array_equal(np.isfinite(out), finite)
    np.testing.assert_allclose(out[finite], out64[finite], rtol=1e-6)
    given = np.zeros(c["shape"], dtype=np.float32)
    res = reproject_adaptive(*args, shape_out=c["shape"], output_array=given, return_footprint=False, parallel=False)
    assert res is given
    np.testing.assert_array_equal(given, out)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(kernel="boxcar"), "kernel"),
        (dict(kernel=3), "kernel"),
        (dict(kernel_width=0), "kernel_width"),
        (dict(kernel_width=np.nan), "kernel_width"),
        (dict(sample_region_width=-1), "sample_region_width"),
        (dict(boundary_mode="wrap"), "boundary_mode"),
        (dict(boundary_ignore_threshold=1.5), "boundary_ignore_threshold"),
        (dict(boundary_fill_value="zero"), "boundary_fill_value"),
        (dict(bad_value_mode="drop"), "bad_value_mode"),
        (dict(bad_fill_value=None), "bad_fill_value"),
        (dict(x_cyclic="yes"), "x_cyclic"),
        (dict(center_jacobian=2), "center_jacobian"),
        (dict(parallel=-1), "parallel"),
        (dict(return_type="zarr"), "return_type"),
        (dict(dask_method="eager"), "dask_method"),
    ],
)
def test_bad_options_raise_naming_the_argument(kw, name):
    # options are checked before the input is even parsed
    with pytest.raises(ValueError, match=name):
        reproject_adaptive(("not", "an image"), None, **kw)


def test_case_insensitive_names_and_unknown_keyword(field):
    c = CASES["rotation"]
    args = ((field, make_wcs(**WIN)), make_wcs(**c))
    a = reproject_adaptive(*args, shape_out=c["shape"], kernel="Hanning", boundary_mode="IGNORE")[0]
    b = reproject_adaptive(*args, shape_out=c["shape"], kernel="hann", boundary_mode="ignore")[0]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="kernal"):
        reproject_adaptive(*args, shape_out=c["shape"], kernal="hann")


def test_current_scheduler_dispatches_to_distributed(field, monkeypatch):
    import numbamosaic.adaptive
    from numbamosaic._exec import DaskExecutor

    calls = {}

    def run_single(resampler, data, tr, box, out, fp, executor):
        calls.update(resampler=resampler, box=box, executor=executor)

    monkeypatch.setattr(numbamosaic.adaptive, "run_single", run_single)
    c = CASES["rotation"]
    reproject_adaptive((field, make_wcs(**WIN)), make_wcs(**c), shape_out=c["shape"], parallel="current-scheduler", kernel="HANN")
    assert isinstance(calls["executor"], DaskExecutor) and calls["executor"].spec == "current-scheduler"
    r = calls["resampler"]
    assert isinstance(r, AdaptiveResampler) and r.options["kernel"] == "hann" and r._shape_out == tuple(c["shape"])
    pickle.loads(pickle.dumps(r))  # the resampler travels to the workers


@pytest.mark.slow
def test_distributed_equals_threads(field):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    # float32 data: the cluster's serial kernels then share the float32 test's compilation
    args = ((field.astype(np.float32), make_wcs(**WIN)), make_wcs(**WIDE))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as lc, Client(lc):
        for kw in (dict(), dict(boundary_mode="constant", kernel="hann")):
            a, fa = reproject_adaptive(*args, shape_out=WIDE["shape"], parallel=False, **kw)
            b, fb = reproject_adaptive(*args, shape_out=WIDE["shape"], parallel="current-scheduler", **kw)
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(fa, fb)


def _gaussian_pixel_direct(data, xc, yc, jac, kernel_width, sample_region_width):
    """One Gaussian output pixel with one ``exp`` per sample (box inside the input, strict modes)."""
    from numbamosaic.kernels import _adaptive as K

    pa, pb, pc, pd, p0 = K.padded_filter(*jac)
    det = pa * pd - pb * pc
    ja, jb, jc, jd = pd / det, -pb / det, -pc / det, pa / det
    h = sample_region_width / (2.0 * (1.0 / p0))
    xs = np.arange(np.ceil(xc - h - K.EDGE_TOL), np.floor(xc + h + K.EDGE_TOL) + 1)
    ys = np.arange(np.ceil(yc - h - K.EDGE_TOL), np.floor(yc + h + K.EDGE_TOL) + 1)
    dx, dy = np.meshgrid(xs - xc, ys - yc)
    tx = ja * dx + jb * dy
    ty = jc * dx + jd * dy
    w = np.exp(-(tx * tx + ty * ty) * (2.0 / kernel_width**2))
    v = data[np.ix_(ys.astype(int), xs.astype(int))]
    return np.sum(w * v) / np.sum(w)


@pytest.mark.parametrize("kernel_width, sample_region_width", [(1.3, 4), (0.2, 4), (1.0, 9), (2.5, 3), (0.5, 7)])
def test_gaussian_weight_recurrence_matches_one_exp_per_sample(kernel_width, sample_region_width):
    # the kernel builds Gaussian weights by product recurrences (six exp() per
    # pixel), or one exp() per sample when exponents get large (narrow
    # kernels, anisotropic filters): both agree with the direct formula
    from numbamosaic.adaptive import make_params, parse_adaptive_options
    from numbamosaic.kernels import _adaptive as K

    rng = np.random.default_rng(11)
    data = rng.normal(size=(300, 300)) + 5.0
    prm = make_params(parse_adaptive_options(kernel_width=kernel_width, sample_region_width=sample_region_width))
    nowt = np.empty((0, 0))
    worst = 0.0
    for _ in range(150):
        th, phi = rng.uniform(0, 2 * np.pi, 2)
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        rot2 = np.array([[np.cos(phi), -np.sin(phi)], [np.sin(phi), np.cos(phi)]])
        s = 10 ** rng.uniform(-0.5, 0.9)  # magnified up to ~8x down-sampled
        jac = rot @ np.diag([s, s * 10 ** rng.uniform(0, 0.45)]) @ rot2
        if rng.random() < 0.2:
            jac[:, 0] *= -1  # a reflection
        xc, yc = rng.uniform(140, 160, 2)
        v, f = K.resample_pixel(data, nowt, prm, xc, yc, *jac.ravel())
        ref = _gaussian_pixel_direct(data, xc, yc, jac.ravel(), kernel_width, sample_region_width)
        assert f == 1.0
        worst = max(worst, abs(v - ref) / abs(ref))
    assert worst < 1e-13
