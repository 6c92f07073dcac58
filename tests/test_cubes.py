"""Cubes on a 2-D WCS (reproject's broadcasting) in reproject_interp, reproject_exact and reproject_adaptive.

Every plane of a cube must equal the 2-D reprojection of that plane bit for
bit (the cube kernels share the 2-D kernels' arithmetic, with the geometry
computed once for all planes), and reproject's cube result to the 2-D
tolerances: bilinear 1e-5 of the range, exact 1e-6 (relative, fully covered
pixels, as tests/test_exact.py), adaptive ``TOL`` of tests/test_adaptive.py.
"""

import numpy as np
import pytest

import numbamosaic as nm
from conftest import centred_tan_wcs

reproject = pytest.importorskip("reproject")

ADAPTIVE_TOL = 1e-4  # of the data range, as tests/test_adaptive.py


def make_wcs(crval, scale, rot=0.0, n=32):
    """An n x n TAN WCS centred on ``crval`` (the suite's shared helper)."""
    return centred_tan_wcs((n, n), crval, scale, rot)


WIN = make_wcs((10, 20), 1e-3)
WOUT = make_wcs((10.002, 20.001), 1.1e-3, rot=20, n=40)


def _cube(nan=True):
    rng = np.random.default_rng(6)
    cube = (rng.normal(size=(2, 3, 32, 32)) + 5).astype(np.float32)
    if nan:
        cube[1, 2, 4, 9] = np.nan
        cube[0, 1, 10:12, 20] = np.nan
    return cube


def _planes_equal_2d(fn, cube, value, footprint, wout=WOUT, shape=(40, 40), **kw):
    for idx in np.ndindex(cube.shape[:-2]):  # every plane equals its own 2-D reprojection, bit for bit
        v2, f2 = fn((cube[idx], WIN), wout, shape_out=shape, **kw)
        np.testing.assert_array_equal(value[idx], v2)
        np.testing.assert_array_equal(footprint[idx], f2)


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_interp_cube_planes_equal_2d_and_reproject(order):
    cube = _cube()
    value, footprint = nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), order=order)
    assert value.shape == footprint.shape == (2, 3, 40, 40) and value.dtype == np.float32
    _planes_equal_2d(nm.reproject_interp, cube, value, footprint, order=order)
    rv, rf = reproject.reproject_interp((cube, WIN), WOUT, shape_out=(2, 3, 40, 40), order=order)
    both = np.isfinite(value) & np.isfinite(rv)
    assert both.sum() > 0.3 * value.size
    assert np.max(np.abs(value[both] - rv[both])) <= 1e-5 * (np.nanmax(rv) - np.nanmin(rv))
    if order == "bilinear":
        np.testing.assert_array_equal(np.isfinite(value), np.isfinite(rv))


@pytest.mark.parametrize("conserve", ["surface-brightness", "flux"])
def test_exact_cube_planes_equal_2d_and_reproject(conserve):
    cube = _cube()
    value, footprint = nm.reproject_exact((cube, WIN), WOUT, shape_out=(2, 3, 40, 40), conserve=conserve)
    assert value.shape == footprint.shape == (2, 3, 40, 40) and value.dtype == np.float32
    _planes_equal_2d(nm.reproject_exact, cube, value, footprint, conserve=conserve)
    if conserve == "flux":
        return  # reproject has no flux mode (tests/test_exact.py checks it against naive sums)
    clean = _cube(nan=False)
    value, footprint = nm.reproject_exact((clean, WIN), WOUT, shape_out=(40, 40))
    rv, rf = reproject.reproject_exact((clean, WIN), WOUT, shape_out=(2, 3, 40, 40))
    full = (rf > 0.999) & (footprint > 0.999)
    assert full.sum() > 0.3 * value.size
    assert np.max(np.abs(value[full] - rv[full]) / np.abs(rv[full])) < 1e-6
    assert np.max(np.abs(footprint - np.nan_to_num(rf))) < 1e-6


def test_exact_cube_curved_edges_and_seam():
    # a CAR input across its longitude seam, coarse output pixels: curved sub-cell
    # edges and the seam's shifted copies, recorded once and replayed per plane
    from astropy.wcs import WCS

    win = WCS(naxis=2)
    win.wcs.ctype = ["RA---CAR", "DEC--CAR"]
    win.wcs.crval = [0.0, 0.0]
    win.wcs.crpix = [12.5, 8.5]
    win.wcs.cdelt = [-15.0, 10.0]
    wout = WCS(naxis=2)
    wout.wcs.ctype = ["RA---ZEA", "DEC--ZEA"]
    wout.wcs.crval = [0.0, 80.0]
    wout.wcs.crpix = [8.5, 8.5]
    wout.wcs.cdelt = [-4.0, 4.0]
    rng = np.random.default_rng(2)
    cube = rng.normal(size=(3, 16, 24)).astype(np.float32)
    cube[1, 14, 3] = np.nan
    value, footprint = nm.reproject_exact((cube, win), wout, shape_out=(16, 16))
    assert np.isfinite(value).mean() > 0.9  # (nsub 16, curved edges, seam period 24 px: exact.subdivision_policy)
    for z in range(3):
        v2, f2 = nm.reproject_exact((cube[z], win), wout, shape_out=(16, 16))
        np.testing.assert_array_equal(value[z], v2)
        np.testing.assert_array_equal(footprint[z], f2)


def test_adaptive_cube_planes_equal_2d_and_reproject():
    cube = _cube()
    kw = dict(despike_jacobian=True, boundary_mode="ignore", bad_value_mode="ignore")
    value, footprint = nm.reproject_adaptive((cube, WIN), WOUT, shape_out=(40, 40), **kw)
    assert value.shape == footprint.shape == (2, 3, 40, 40) and value.dtype == np.float32
    _planes_equal_2d(nm.reproject_adaptive, cube, value, footprint, **kw)
    clean = _cube(nan=False)
    value = nm.reproject_adaptive((clean, WIN), WOUT, shape_out=(40, 40), return_footprint=False)
    rv = reproject.reproject_adaptive((clean, WIN), WOUT, shape_out=(2, 3, 40, 40), return_footprint=False)
    both = np.isfinite(value) & np.isfinite(rv)
    assert both.sum() > 0.3 * value.size
    np.testing.assert_allclose(value[both], rv[both], rtol=0, atol=ADAPTIVE_TOL * np.ptp(clean))


@pytest.mark.parametrize("method", ["interp", "exact", "adaptive"])
def test_cube_into_memmap_and_strided_outputs(method, tmp_path):
    fn = {"interp": nm.reproject_interp, "exact": nm.reproject_exact, "adaptive": nm.reproject_adaptive}[method]
    cube = _cube()
    ref, ref_fp = fn((cube, WIN), WOUT, shape_out=(40, 40))
    mm = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float32, shape=(2, 3, 40, 40))
    mf = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.float32, shape=(2, 3, 40, 40))
    out, fp = fn((cube, WIN), WOUT, shape_out=(40, 40), output_array=mm, output_footprint=mf, parallel=1)
    assert out is mm and fp is mf
    mm.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), ref)
    np.testing.assert_array_equal(mf, ref_fp)
    # a Fortran-ordered output cannot be viewed as planes: written through a copy
    ref64 = fn((cube, WIN), WOUT, shape_out=(40, 40), output_array=np.zeros((2, 3, 40, 40)), return_footprint=False)
    fo = np.asfortranarray(np.zeros((2, 3, 40, 40)))
    out = fn((cube, WIN), WOUT, shape_out=(40, 40), output_array=fo, return_footprint=False)
    assert out is fo
    np.testing.assert_array_equal(fo, ref64)
    np.testing.assert_allclose(fo, ref, rtol=1e-6, equal_nan=True)


def test_cube_no_overlap_is_blank():
    cube = _cube()
    far = make_wcs((200, -40), 1e-3)
    for fn in (nm.reproject_interp, nm.reproject_exact, nm.reproject_adaptive):
        value, footprint = fn((cube, WIN), far, shape_out=(8, 8))
        assert value.shape == (2, 3, 8, 8) and np.isnan(value).all() and (footprint == 0).all()


def test_cube_errors():
    cube = np.zeros((2, 32, 32), np.float32)
    with pytest.raises(ValueError, match="leading axes"):
        nm.reproject_interp((cube, WIN), WIN, shape_out=(3, 32, 32))
    with pytest.raises(ValueError, match="leading axes"):
        nm.reproject_exact((cube, WIN), WIN, shape_out=(3, 32, 32))


def _spy_sinks(monkeypatch):
    """The sink codes the cube-mosaic tile kernel is called with (a list filled as it runs)."""
    from numbamosaic.mosaic import _cubes as MC

    sinks = []
    real = MC.cube_kernel

    def spy(*args, **kw):
        sinks.append(args[10])
        return real(*args, **kw)

    monkeypatch.setattr(MC, "cube_kernel", spy)
    return sinks


def _assert_planes_equal_2d(value, footprint, inputs, wout, combine, weights):
    """Each plane of a cube mosaic equals the 2-D mosaic of that plane bit for bit, signs of zero included."""
    for z in range(value.shape[0]):
        v2, f2 = nm.reproject_and_coadd([(d[z], w) for d, w in inputs], wout, shape_out=value.shape[1:],
                                        combine_function=combine, input_weights=weights, blank_pixel_value=-7.5)
        np.testing.assert_array_equal(value[z], v2)
        np.testing.assert_array_equal(footprint[z], f2)
        assert np.array_equal(np.signbit(value[z]), np.signbit(v2))


def _mosaic_inputs(lead=(3,)):
    rng = np.random.default_rng(11)
    wa = make_wcs((10.0, 20.0), 1e-3, rot=5)
    wb = make_wcs((10.012, 20.004), 1e-3, rot=-7)
    a = (rng.normal(size=lead + (32, 32)) + 5).astype(np.float32)
    b = (rng.normal(size=lead + (32, 32)) + 6).astype(np.float32)
    a[(0,) * len(lead) + (3, 4)] = np.nan
    return [(a, wa), (b, wb)], make_wcs((10.006, 20.002), 1e-3, n=48)


@pytest.mark.parametrize("method,combine", [("interp", "mean"), ("exact", "sum"), ("adaptive", "max"), ("interp", "first")])
def test_coadd_cube_planes_equal_2d_mosaics_and_reproject(method, combine):
    fn = {"interp": nm.reproject_interp, "exact": nm.reproject_exact, "adaptive": nm.reproject_adaptive}[method]
    inputs, wout = _mosaic_inputs()
    weights = [np.linspace(0.5, 1.5, 32 * 32).reshape(32, 32), np.ones((32, 32))] if combine == "mean" else None
    value, footprint = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=fn,
                                              combine_function=combine, input_weights=weights, tile_size=(16, 32))
    assert value.shape == footprint.shape == (3, 48, 48) and value.dtype == np.float32
    for z in range(3):  # each plane is the 2-D mosaic of that plane's images, bit for bit
        v2, f2 = nm.reproject_and_coadd([(d[z], w) for d, w in inputs], wout, shape_out=(48, 48), reproject_function=fn,
                                        combine_function=combine, input_weights=weights)
        np.testing.assert_array_equal(value[z], v2)
        np.testing.assert_array_equal(footprint[z], f2)
    if method == "exact":
        return  # reproject's exact footprints count NaN pixels (a listed difference): compared in 2-D tests
    rfn = {"interp": reproject.reproject_interp, "adaptive": reproject.reproject_adaptive}[method]
    from reproject.mosaicking import reproject_and_coadd

    if weights is not None:  # reproject cannot broadcast one weight image over the planes: compare without
        value, footprint = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=fn,
                                                  combine_function=combine)
    rv, rf = reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=rfn, combine_function=combine)
    tol = 1e-5 if method == "interp" else ADAPTIVE_TOL
    both = (footprint > 0) & (rf > 0)
    assert both.sum() > 0.5 * value.size
    np.testing.assert_allclose(value[both], rv[both], rtol=0, atol=tol * (np.nanmax(rv) - np.nanmin(rv)))


@pytest.mark.parametrize("combine", ["mean", "sum", "first", "last", "min", "max"])
def test_coadd_cube_single_input_tiles_equal_2d(combine, monkeypatch):
    """Tiles covered by one input are combined and finished straight into the outputs
    (``kernels._cube.finish_row``): every plane must still equal its 2-D mosaic (accumulators,
    ``finalize_tile``) bit for bit, blank value, weights, a NaN in one plane, negative values
    and zeros included, and the path must be taken."""
    from numbamosaic.mosaic import _cubes as MC

    inputs, wout = _mosaic_inputs()
    (a, wa), (b, wb) = inputs
    a = a - np.float32(5.0)  # values of both signs
    a[1, 10:14, 6:9] = np.nan  # a blank patch in one plane only
    a[2, 20, 20] = -0.0
    b[0, 5, 5] = 0.0
    inputs = [(a, wa), (b, wb)]
    weights = [np.linspace(0.5, 1.5, 32 * 32).reshape(32, 32), np.ones((32, 32))] if combine == "mean" else None
    sinks = _spy_sinks(monkeypatch)
    value, footprint = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), combine_function=combine,
                                              input_weights=weights, blank_pixel_value=-7.5, tile_size=(8, 8),
                                              parallel=2)
    assert MC.ONE_SINKS[combine] in sinks and any(s not in MC.ONE_SINKS.values() for s in sinks)
    assert np.any(footprint == 0) and np.any(np.isnan(a))
    _assert_planes_equal_2d(value, footprint, inputs, wout, combine, weights)


@pytest.mark.parametrize("combine", ["mean", "sum", "first", "last", "min", "max"])
def test_coadd_cube_multi_input_tiles_equal_2d(combine, monkeypatch):
    """Tiles covered by several inputs: the first writes fresh accumulators
    (``kernels._cube.first_row``, no reset pass), the last finishes into the outputs
    (``last_row``), the rest of the tile is reset/finished around them.  Every plane must
    equal its 2-D mosaic (reset accumulators, ``finalize_tile``) bit for bit, signs of zero
    included: a plane of -0.0 in the first input where the second is blank gives +0.0
    (0 + -0.0) in a reset accumulator, -0.0 if the first product were stored as it is."""
    from numbamosaic.mosaic import _cubes as MC

    inputs, wout = _mosaic_inputs()
    (a, wa), (b, wb) = inputs
    rng = np.random.default_rng(5)
    c = (rng.normal(size=(3, 20, 20)) - 1).astype(np.float32)
    wc = make_wcs((10.006, 20.002), 1e-3, rot=12, n=20)
    a = a - np.float32(5.0)
    a[2] = -0.0  # a plane of negative zeros in the first input
    b[2, :, :20] = np.nan  # where the second input is blank
    b[1, 3:9, 4:7] = np.nan
    c[0, 5:8, 5:8] = np.nan
    inputs = [(a, wa), (b, wb), (c, wc)]
    weights = None
    if combine == "mean":
        weights = [np.linspace(0.5, 1.5, 32 * 32).reshape(32, 32), np.ones((32, 32)), np.full((20, 20), 0.25)]
    sinks = _spy_sinks(monkeypatch)
    code, sink, _ = MC.CUBE_COMBINES[combine]
    results = []
    for parallel in (1, 2):
        results.append(nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), combine_function=combine,
                                              input_weights=weights, blank_pixel_value=-7.5, tile_size=(8, 8),
                                              parallel=parallel))
    assert {MC.KC.SINK_FIRST_OF + sink, MC.KC.SINK_LAST_OF + code, sink} <= set(sinks)
    value, footprint = results[0]
    assert results[1][0].tobytes() == value.tobytes() and results[1][1].tobytes() == footprint.tobytes()
    assert np.any(footprint == 0)
    if combine in ("mean", "sum"):
        assert np.any((value[2] == 0) & ~np.signbit(value[2]) & (footprint[2] > 0))
    _assert_planes_equal_2d(value, footprint, inputs, wout, combine, weights)


def test_coadd_cube_memmap_and_zarr_outputs(tmp_path):
    zarr = pytest.importorskip("zarr")
    inputs, wout = _mosaic_inputs(lead=(2, 2))
    ref, ref_fp = nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48))
    mm = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float32, shape=(2, 2, 48, 48))
    mf = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.float32, shape=(2, 2, 48, 48))
    out, fp = nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48), output_array=mm, output_footprint=mf,
                                     parallel=2, memory_limit="200KB")
    assert out is mm and fp is mf
    np.testing.assert_array_equal(mm, ref)
    np.testing.assert_array_equal(mf, ref_fp)
    za = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(2, 2, 48, 48), chunks=(1, 2, 16, 24), dtype="f4")
    zf = zarr.open_array(str(tmp_path / "f.zarr"), mode="w", shape=(2, 2, 48, 48), chunks=(2, 2, 32, 32), dtype="f4")
    nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48), output_array=za, output_footprint=zf, parallel=2)
    np.testing.assert_array_equal(za[...], ref)
    np.testing.assert_array_equal(zf[...], ref_fp)


def test_coadd_cube_refusals_and_memory():
    inputs, wout = _mosaic_inputs()
    with pytest.raises(NotImplementedError, match="cube mosaics"):
        nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), combine_function="median")
    with pytest.raises(NotImplementedError, match="cube mosaics"):
        nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), return_products=True)
    with pytest.raises(ValueError, match="leading axes"):
        nm.reproject_and_coadd(inputs, wout, shape_out=(4, 48, 48))
    from numbamosaic.mosaic import MosaicMemoryError

    with pytest.raises(MosaicMemoryError, match="output array"):  # outputs to allocate, all planes counted
        nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), memory_limit="40KB")
    out = np.empty((3, 48, 48), np.float32)
    with pytest.raises(MosaicMemoryError, match="3 planes"):  # the smallest tile's buffers for every plane
        nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), output_array=out, output_footprint=out.copy(),
                               memory_limit="10KB", parallel=1)


def test_as_planes_views_without_copy_or_declines():
    from numbamosaic._cube import as_planes

    a = np.zeros((2, 3, 5, 7), dtype=np.float32)
    v = as_planes(a, 6)
    assert v.shape == (6, 5, 7) and np.shares_memory(v, a)
    v[4, 1, 2] = 1.0
    assert a[1, 1, 1, 2] == 1.0
    assert as_planes(np.asfortranarray(a), 6) is None  # would need a copy: the caller stages tiles


def test_cube_mosaic_dtype_follows_the_2d_rule():
    # a float64 input that does not overlap the output still makes the mosaic float64, as in 2-D
    w_out = centred_tan_wcs((20, 20), (10.0, 20.0), 1e-3)
    far = centred_tan_wcs((8, 8), (150.0, 40.0), 1e-3)
    near = (np.ones((2, 20, 20), np.float32), w_out)
    cube, _ = nm.reproject_and_coadd([near, (np.ones((2, 8, 8), np.float64), far)], w_out, shape_out=(2, 20, 20),
                                     reproject_function=nm.reproject_interp)
    plane, _ = nm.reproject_and_coadd([(near[0][0], w_out), (np.ones((8, 8), np.float64), far)], w_out,
                                      shape_out=(20, 20), reproject_function=nm.reproject_interp)
    assert cube.dtype == plane.dtype == np.float64
    fp32 = np.zeros((2, 20, 20), np.float32)
    cube, fp = nm.reproject_and_coadd([near], w_out, shape_out=(2, 20, 20), output_footprint=fp32,
                                      reproject_function=nm.reproject_interp)
    assert fp is fp32 and cube.dtype == np.float32


def test_cube_temporaries_are_checked_before_allocation(monkeypatch):
    from numbamosaic import _budget

    w = centred_tan_wcs((20, 20), (10.0, 20.0), 1e-3)
    cube = np.ones((2, 20, 20), np.float32)
    out = np.empty((2, 20, 20), np.float32)  # the caller's output: only temporaries are new
    monkeypatch.setattr(_budget, "memory_budget", lambda memory_limit=None: (1000, 1000))
    nm.reproject_interp((cube, w), w, shape_out=(2, 20, 20), order="bilinear", output_array=out,
                        return_footprint=False)  # no temporaries
    with pytest.raises(nm.MosaicMemoryError, match="cube's temporaries"):  # 3.2 kB of spline coefficients
        nm.reproject_interp((cube, w), w, shape_out=(2, 20, 20), order="bicubic", output_array=out,
                            return_footprint=False)
    with pytest.raises(nm.MosaicMemoryError, match="cube's temporaries"):  # a plane-ordered copy of the output
        out4 = np.asfortranarray(np.empty((2, 2, 20, 20), np.float32))  # (2, 2) planes cannot be viewed as (4,)
        nm.reproject_interp((np.ones((2, 2, 20, 20), np.float32), w), w, shape_out=(2, 2, 20, 20),
                            order="bilinear", output_array=out4, return_footprint=False)


# ---- return_type='dask': lazy cubes equal eager ones bit for bit -------------------------------

FNS = {"interp": nm.reproject_interp, "exact": nm.reproject_exact, "adaptive": nm.reproject_adaptive}


@pytest.mark.parametrize("method,kw", [("interp", {}), ("interp", {"order": "bicubic"}), ("exact", {}),
                                       ("adaptive", {"despike_jacobian": True, "boundary_mode": "ignore"})])
def test_lazy_cube_equals_eager(method, kw):
    pytest.importorskip("dask")
    fn = FNS[method]
    cube = _cube()
    ref, ref_fp = fn((cube, WIN), WOUT, shape_out=(40, 40), **kw)
    for block_size in [(16, 24), (2, 3, 13, 40), (-1, -1, 40, 7), None]:
        value, footprint = fn((cube, WIN), WOUT, shape_out=(40, 40), return_type="dask", block_size=block_size, **kw)
        assert value.shape == footprint.shape == (2, 3, 40, 40) and value.dtype == np.float32
        assert value.chunks[:2] == ((2,), (3,))  # reproject's rule: broadcast axes are never split
        if block_size is not None:
            assert value.chunks[2][0] == min(40, block_size[-2]) and value.chunks[3][0] == min(40, block_size[-1])
        v, f = value.compute(scheduler="threads"), footprint.compute(scheduler="sync")
        np.testing.assert_array_equal(v, ref)
        np.testing.assert_array_equal(f, ref_fp)
    value = fn((cube, WIN), WOUT, shape_out=(2, 3, 40, 40), return_type="dask", return_footprint=False,
               block_size=(8, 8), dask_method="none", **kw)
    np.testing.assert_array_equal(value.compute(), ref)


def test_lazy_cube_chunks_follow_reproject_and_errors():
    pytest.importorskip("dask")
    cube = _cube(nan=False)
    ours = nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), return_type="dask", block_size=(16, 16))
    theirs = reproject.reproject_interp((cube, WIN), WOUT, shape_out=(2, 3, 40, 40), return_type="dask",
                                        block_size=(16, 16))
    assert ours[0].chunks == theirs[0].chunks
    both = np.isfinite(ours[0].compute()) & np.isfinite(theirs[0].compute())
    rv = theirs[0].compute()
    assert both.sum() > 0.3 * rv.size
    assert np.max(np.abs(ours[0].compute()[both] - rv[both])) <= 1e-5 * (np.nanmax(rv) - np.nanmin(rv))
    with pytest.raises(ValueError, match="broadcasted dimensions"):  # reproject refuses the same
        nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), return_type="dask", block_size=(1, 3, 16, 16))
    with pytest.raises(ValueError, match="entries"):
        nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), return_type="dask", block_size=(3, 16, 16))
    # the default blocks bound the bytes of a block, all planes counted
    from numbamosaic import _lazy

    chunks = _lazy.cube_chunks((128, 4096, 4096), 4)
    assert chunks[0] == 128 and chunks[1] * chunks[2] * 128 * 4 <= _lazy.CUBE_BLOCK_BYTES
    no = nm.reproject_exact((cube, WIN), make_wcs((200, -40), 1e-3), shape_out=(8, 8), return_type="dask")
    assert np.isnan(no[0].compute()).all() and (no[1].compute() == 0).all()


# ---- reproject_and_coadd: custom reproject_function (the generic path) ------------------------


def test_coadd_cube_custom_function_equals_reproject_and_2d():
    from reproject.mosaicking import reproject_and_coadd

    inputs, wout = _mosaic_inputs()
    rfn = reproject.reproject_interp
    value, footprint = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=rfn)
    assert value.shape == footprint.shape == (3, 48, 48)
    rv, rf = reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=rfn)
    both = (footprint > 0) & (rf > 0)
    assert both.sum() > 0.5 * value.size
    np.testing.assert_allclose(value[both], rv[both], rtol=0, atol=1e-5 * (np.nanmax(rv) - np.nanmin(rv)))
    np.testing.assert_allclose(footprint, rf, rtol=0, atol=1e-6)
    # each plane: the 2-D generic path's mosaic of that plane, bit for bit, for a user function whose cube
    # result is its planes' (reproject's cube and plane results differ in the last bit at a few pixels)

    def custom(input_data, output_projection, shape_out=None, **kw):
        return nm.reproject_interp(input_data, output_projection, shape_out=shape_out, **kw)

    weights = [np.linspace(0.5, 1.5, 32 * 32).reshape(32, 32), np.ones((32, 32))]
    for combine in ("mean", "last"):
        value, footprint = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 48, 48), reproject_function=custom,
                                                  input_weights=weights, combine_function=combine, tile_size=(16, 32))
        for z in range(3):
            v2, f2 = nm.reproject_and_coadd([(d[z], w) for d, w in inputs], wout, shape_out=(48, 48),
                                            reproject_function=custom, input_weights=weights, combine_function=combine)
            np.testing.assert_array_equal(value[z], v2)
            np.testing.assert_array_equal(footprint[z], f2)


def test_coadd_cube_custom_function_intermediates_on_disk(tmp_path):
    inputs, wout = _mosaic_inputs(lead=(2, 2))
    calls = []

    def custom(input_data, output_projection, shape_out=None, **kw):  # a user function: reproject's, counted
        calls.append(tuple(shape_out))
        return reproject.reproject_interp(input_data, output_projection, shape_out=shape_out, **kw)

    ram, ram_fp = nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48), reproject_function=custom,
                                         order="nearest-neighbor")
    assert len(calls) == 2 and all(c[:2] == (2, 2) for c in calls)  # once per input, on the whole cube
    before = set(tmp_path.iterdir())
    disk, disk_fp = nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48), reproject_function=custom,
                                           order="nearest-neighbor", intermediate_memmap=True, tmpdir=str(tmp_path),
                                           parallel=2)
    np.testing.assert_array_equal(disk, ram)
    np.testing.assert_array_equal(disk_fp, ram_fp)
    assert set(tmp_path.iterdir()) == before  # the cutouts' files are unlinked at once
    with pytest.raises(TypeError, match="unexpected keyword"):  # reproject's function has no **kwargs
        nm.reproject_and_coadd(inputs, wout, shape_out=(2, 2, 48, 48), reproject_function=reproject.reproject_interp,
                               ordr="bilinear")


# ---- reproject_and_coadd: match_background over whole cubes -----------------------------------

BG_SHAPE = (3, 60, 80)
BG_BOXES = [(0, 40, 0, 50), (0, 40, 30, 80), (25, 60, 10, 70)]
BG_OFFSETS = np.array([2.0, -1.5, 4.0])


def _bg_inputs(planes=None):
    """Cut-outs of one smooth cube (the output grid's WCS sliced), each with its own offset,
    the same in every plane (or ``c + a x + s y`` in output pixels with ``planes``)."""
    z, y, x = np.mgrid[: BG_SHAPE[0], : BG_SHAPE[1], : BG_SHAPE[2]]
    cube = (10.0 + z + 0.02 * x - 0.03 * y + np.sin(x / 9.0) * np.cos(y / 7.0 + z)).astype(np.float32)
    wcs = centred_tan_wcs(BG_SHAPE[1:], (150.0, 20.0), 1e-3, 15.0)
    out = []
    for k, (y0, y1, x0, x1) in enumerate(BG_BOXES):
        data = cube[:, y0:y1, x0:x1].astype(np.float64)
        if planes is None:
            data = data + BG_OFFSETS[k]
        else:
            c, a, s = planes[k]
            data = data + c + a * x[:, y0:y1, x0:x1] + s * y[:, y0:y1, x0:x1]
        out.append((data.astype(np.float32), wcs[y0:y1, x0:x1]))
    return cube, wcs, out


@pytest.fixture
def captured(monkeypatch):
    """The background models the cube driver solves for (n x 3: c, a, s)."""
    from numbamosaic.mosaic import _cubes

    models = []
    real = _cubes.solve_backgrounds

    def spy(*args, **kwargs):
        models.append(np.array(real(*args, **kwargs)))
        return models[-1]

    monkeypatch.setattr(_cubes, "solve_backgrounds", spy)
    return models


@pytest.mark.parametrize("reference", [None, 0, 2])
def test_coadd_cube_match_background_recovers_offsets(captured, reference):
    cube, wcs, inputs = _bg_inputs()
    out, fp = nm.reproject_and_coadd(inputs, wcs, shape_out=BG_SHAPE, match_background=True,
                                     background_reference=reference, tile_size=(16, 16))
    (models,) = captured
    expect = BG_OFFSETS - (BG_OFFSETS.mean() if reference is None else BG_OFFSETS[reference])
    np.testing.assert_allclose(models[:, 0], expect, atol=1e-5)  # one offset per input, over all planes
    np.testing.assert_array_equal(models[:, 1:], 0.0)
    shift = BG_OFFSETS.mean() if reference is None else BG_OFFSETS[reference]
    np.testing.assert_allclose(out[fp > 0], (cube + shift)[fp > 0], rtol=0, atol=1e-4)
    assert (fp > 0).mean() > 0.9


def test_coadd_cube_match_background_equals_reproject():
    from reproject.mosaicking import reproject_and_coadd

    cube, wcs, inputs = _bg_inputs()
    for combine in ("mean", "first"):
        ours, fp = nm.reproject_and_coadd(inputs, wcs, shape_out=BG_SHAPE, match_background=True,
                                          combine_function=combine)
        theirs, rf = reproject_and_coadd(inputs, wcs, shape_out=BG_SHAPE, match_background=True,
                                         combine_function=combine, reproject_function=reproject.reproject_interp)
        both = (fp > 0) & (rf > 0)
        assert both.mean() > 0.9
        np.testing.assert_allclose(ours[both], theirs[both], rtol=0, atol=1e-5 * np.ptp(theirs[both]))
    # without matching the seams remain: the test can fail
    plain, _ = nm.reproject_and_coadd(inputs, wcs, shape_out=BG_SHAPE)
    assert np.max(np.abs(plain - theirs)[both]) > 1.0


def test_coadd_cube_background_plane_model(captured):
    planes = [(1.0, 0.01, -0.02), (0.0, 0.0, 0.0), (-2.0, -0.015, 0.01)]
    cube, wcs, inputs = _bg_inputs(planes)
    nm.reproject_and_coadd(inputs, wcs, shape_out=BG_SHAPE, match_background=True, background_model="plane",
                           background_reference=1)
    (models,) = captured
    np.testing.assert_allclose(models, np.array(planes), atol=1e-4)
