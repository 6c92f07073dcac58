"""Cubes on dask.distributed equal cubes on threads bit for bit (issue 12).

Single-image functions and ``reproject_and_coadd`` with ``parallel=client`` /
``'current-scheduler'``: the cube's strips or the mosaic's tiles run as tasks
(``numbamosaic._exec._dask``) and come back to the caller.  One LocalCluster
(2 worker processes x 1 thread) is shared by the module, as in
tests/test_distributed.py.  Small cubes: the point is the plumbing (state per
worker, strips and tiles returned and written, backgrounds and custom
cutouts shipped), the kernels are the threads' ones.
"""

import numpy as np
import pytest

import numbamosaic as nm
from conftest import centred_tan_wcs

distributed = pytest.importorskip("distributed")

WIN = centred_tan_wcs((32, 32), (10, 20), 1e-3)
WOUT = centred_tan_wcs((40, 40), (10.002, 20.001), 1.1e-3, rot=20)
FNS = {"interp": nm.reproject_interp, "exact": nm.reproject_exact, "adaptive": nm.reproject_adaptive}


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            yield c


def _cube(dtype=np.float32):
    rng = np.random.default_rng(3)
    cube = (rng.normal(size=(2, 3, 32, 32)) + 5).astype(dtype)
    cube[1, 2, 4, 9] = np.nan
    return cube


@pytest.mark.parametrize("method,kw", [("interp", {}), ("interp", {"order": "bicubic"}), ("exact", {}),
                                       ("adaptive", {"despike_jacobian": True})])
def test_single_cube_on_dask_equals_threads(client, method, kw, monkeypatch):
    from numbamosaic import _cube as cube_driver

    fn = FNS[method]
    cube = _cube()
    ref, ref_fp = fn((cube, WIN), WOUT, shape_out=(40, 40), parallel=2, **kw)
    # strips cut small, so that several tasks return pieces of the cube
    monkeypatch.setattr(cube_driver, "CUBE_TASK_BYTES", 6 * 40 * 4 * 2 * 5)
    value, footprint = fn((cube, WIN), WOUT, shape_out=(40, 40), parallel=client, **kw)
    assert value.shape == (2, 3, 40, 40)
    np.testing.assert_array_equal(value, ref)
    np.testing.assert_array_equal(footprint, ref_fp)
    value = fn((cube, WIN), WOUT, shape_out=(2, 3, 40, 40), parallel="current-scheduler", return_footprint=False, **kw)
    np.testing.assert_array_equal(value, ref)


def test_single_cube_on_dask_outputs_and_dtypes(client, tmp_path):
    cube = _cube(np.float64)
    ref, ref_fp = nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), parallel=1)
    assert ref.dtype == np.float64
    mm = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float64, shape=(2, 3, 40, 40))
    fo = np.asfortranarray(np.zeros((2, 3, 40, 40)))  # no plane view: written through a copy
    out, fp = nm.reproject_interp((cube, WIN), WOUT, shape_out=(40, 40), parallel=client, output_array=mm,
                                  output_footprint=fo)
    assert out is mm and fp is fo
    np.testing.assert_array_equal(mm, ref)
    np.testing.assert_array_equal(fo, ref_fp)


def test_lazy_cube_computed_on_the_cluster(client):
    cube = _cube()
    ref, ref_fp = nm.reproject_exact((cube, WIN), WOUT, shape_out=(40, 40))
    value, footprint = nm.reproject_exact((cube, WIN), WOUT, shape_out=(40, 40), return_type="dask",
                                          block_size=(16, 16))
    v, f = client.compute([value, footprint], sync=True)
    np.testing.assert_array_equal(v, ref)
    np.testing.assert_array_equal(f, ref_fp)


def _mosaic_inputs():
    rng = np.random.default_rng(11)
    wa = centred_tan_wcs((32, 32), (10.0, 20.0), 1e-3, 5)
    wb = centred_tan_wcs((32, 32), (10.012, 20.004), 1e-3, -7)
    wc = centred_tan_wcs((32, 32), (10.004, 20.012), 1e-3, 3)
    data = [(rng.normal(size=(3, 32, 32)) + 5 + k).astype(np.float32) for k in range(3)]
    data[0][0, 3, 4] = np.nan
    return [(data[0], wa), (data[1], wb), (data[2], wc)], centred_tan_wcs((64, 64), (10.006, 20.006), 1e-3)


@pytest.mark.parametrize("kw", [
    dict(combine_function="mean"),
    dict(combine_function="first", reproject_function=nm.reproject_exact),
    dict(combine_function="max", reproject_function=nm.reproject_adaptive),
    dict(combine_function="mean", match_background=True),
    dict(combine_function="sum", match_background=True, background_model="plane", background_reference=0),
    dict(combine_function="mean", input_weights="ramp"),
    dict(combine_function="mean", reproject_function="reproject", match_background=True),
])
def test_cube_mosaic_on_dask_equals_threads(client, kw):
    inputs, wout = _mosaic_inputs()
    kw = dict(kw)
    if kw.get("input_weights") == "ramp":
        kw["input_weights"] = [np.linspace(0.5, 1.5, 32 * 32).reshape(32, 32) * (k + 1) for k in range(3)]
    if kw.get("reproject_function") == "reproject":
        kw["reproject_function"] = pytest.importorskip("reproject").reproject_interp
    a, fa = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 64, 64), parallel="current-scheduler",
                                   tile_size=(16, 32), **kw)
    b, fb = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 64, 64), parallel=2, tile_size=(16, 32), **kw)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert (fa > 0).mean() > 0.3  # the inputs cover about half the output


def test_cube_mosaic_on_dask_into_zarr(client, tmp_path):
    zarr = pytest.importorskip("zarr")
    inputs, wout = _mosaic_inputs()
    ref, ref_fp = nm.reproject_and_coadd(inputs, wout, shape_out=(3, 64, 64), parallel=1)
    za = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=(3, 64, 64), chunks=(3, 16, 32), dtype="f4")
    zf = zarr.open_array(str(tmp_path / "f.zarr"), mode="w", shape=(3, 64, 64), chunks=(1, 32, 32), dtype="f4")
    nm.reproject_and_coadd(inputs, wout, shape_out=(3, 64, 64), output_array=za, output_footprint=zf, parallel=client)
    np.testing.assert_array_equal(za[...], ref)
    np.testing.assert_array_equal(zf[...], ref_fp)
