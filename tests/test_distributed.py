"""The distributed driver equals the threaded driver bit for bit (issue 4).

One LocalCluster (2 worker processes x 1 thread) is shared by the module.
"""

import os
import signal
import time

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import numbamosaic as nm

distributed = pytest.importorskip("distributed")


def _wcs(crval=(30.0, 40.0), rot=0.0, cdelt=0.001, shape=(100, 120)):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    w.wcs.crpix = [shape[1] / 2 + 0.3, shape[0] / 2 - 0.2]
    t = np.radians(rot)
    w.wcs.cd = cdelt * np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])
    w.wcs.set()
    return w


OFFSETS = [5.0, 0.0, -3.0, 2.0]
SHAPE_OUT = (220, 260)


@pytest.fixture(scope="module")
def survey():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:100, 0:120]
    inputs = []
    for k, (dx, dy) in enumerate([(0, 0), (0.08, 0), (0, 0.07), (0.08, 0.07)]):
        d = (np.sin(xx / 7.0) + np.cos(yy / 5.0) + OFFSETS[k] + 0.01 * rng.normal(size=(100, 120))).astype(np.float32)
        d[40:44, 50:53] = np.nan
        inputs.append((d, _wcs(crval=(30 + dx / np.cos(np.radians(40)), 40 + dy), rot=0.7 * k)))
    return inputs, _wcs(crval=(30.05, 40.035), shape=SHAPE_OUT)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with Client(cluster) as c:
            yield c


def test_no_client_is_a_clear_error(survey):
    # runs first in this module, before the shared cluster exists
    inputs, wout = survey
    try:
        distributed.get_client()
        pytest.skip("a client is active in this process")
    except ValueError:
        pass
    with pytest.raises(ValueError, match="current-scheduler"):
        nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, parallel="current-scheduler")


@pytest.mark.parametrize(
    "kw",
    [
        dict(combine_function="mean"),
        dict(combine_function="median"),
        dict(combine_function="first"),
        dict(combine_function="clipped-mean"),
        dict(combine_function="mean", match_background=True),
        dict(combine_function="mean", match_background=True, background_reference=0, background_model="plane"),
    ],
)
def test_current_scheduler_equals_threads(survey, client, kw):
    inputs, wout = survey
    a, fa = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, parallel="current-scheduler", **kw)
    b, fb = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, parallel=2, **kw)
    assert np.array_equal(a, b) and np.array_equal(fa, fb)
    assert (fa > 0).sum() > 0.5 * fa.size


def test_weights_and_client_object(survey, client):
    inputs, wout = survey
    weights = [np.linspace(0.5, 2.0, 120, dtype=np.float32)[None, :].repeat(100, 0) * (k + 1) for k in range(4)]
    a, fa = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, input_weights=weights, parallel=client)
    b, fb = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, input_weights=weights, parallel=False)
    assert np.array_equal(a, b) and np.array_equal(fa, fb)
    assert fa.max() > 4  # weights reached the footprint


def test_fits_inputs_by_reference_and_memmap_output(survey, client, tmp_path):
    inputs, wout = survey
    paths = []
    for k, (d, w) in enumerate(inputs):
        p = tmp_path / f"in{k}.fits"
        fits.PrimaryHDU(d, header=w.to_header()).writeto(p)
        paths.append(str(p))
    out = np.memmap(tmp_path / "out.dat", dtype=np.float32, mode="w+", shape=SHAPE_OUT)
    fp = np.memmap(tmp_path / "fp.dat", dtype=np.float32, mode="w+", shape=SHAPE_OUT)
    before = set(os.listdir(tmp_path))
    nm.reproject_and_coadd(paths, wout, shape_out=SHAPE_OUT, output_array=out, output_footprint=fp,
                           parallel="current-scheduler", tmpdir=str(tmp_path))
    b, fb = nm.reproject_and_coadd(paths, wout, shape_out=SHAPE_OUT, parallel=2)
    assert np.array_equal(np.asarray(out), b) and np.array_equal(np.asarray(fp), fb)
    # and the FITS round trip (big-endian memmaps read in place) matches the in-memory arrays
    c, fc = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, parallel=2)
    np.testing.assert_allclose(b, c, rtol=0, atol=1e-5)
    assert set(os.listdir(tmp_path)) == before  # no temporary files left


def test_zarr_outputs(survey, client, tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr")
    from numbamosaic._exec import _dask

    chosen = []
    real = _dask._zarr_target

    def spy(*args):
        chosen.append(real(*args))
        return chosen[-1]

    monkeypatch.setattr(_dask, "_zarr_target", spy)
    inputs, wout = survey
    out = zarr.create_array(store=str(tmp_path / "out.zarr"), shape=SHAPE_OUT, chunks=(50, 64), dtype="f4")
    fp = zarr.create_array(store=str(tmp_path / "fp.zarr"), shape=SHAPE_OUT, chunks=(50, 64), dtype="f4")
    a, fa = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, combine_function="median", parallel=client,
                                   output_array=out, output_footprint=fp)
    assert a is out and fa is fp
    b, fb = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, combine_function="median", parallel=2)
    assert np.array_equal(zarr.open_array(str(tmp_path / "out.zarr"), mode="r")[...], b, equal_nan=True)
    assert np.array_equal(zarr.open_array(str(tmp_path / "fp.zarr"), mode="r")[...], fb)
    assert not [p for p in os.listdir(tmp_path / "out.zarr") if p.startswith(".numbamosaic")]  # probe removed
    # the workers see these stores, so they wrote the tiles themselves ...
    assert chosen == [True]
    # ... stores in the client's memory cannot be reached: the client writes what the workers return
    mem_out, mem_fp = zarr.zeros(SHAPE_OUT, chunks=(50, 64), dtype="f4"), zarr.zeros(SHAPE_OUT, chunks=(50, 64), dtype="f4")
    c, fc = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, combine_function="median", parallel=client,
                                   output_array=mem_out, output_footprint=mem_fp)
    assert chosen == [True, False]
    assert np.array_equal(mem_out[...], b, equal_nan=True) and np.array_equal(mem_fp[...], fb)


def test_fits_file_output(survey, client, tmp_path, monkeypatch):
    from numbamosaic._exec import _dask

    chosen = []
    real = _dask._file_area_target

    def spy(*args):
        chosen.append(real(*args))
        return chosen[-1]

    monkeypatch.setattr(_dask, "_file_area_target", spy)
    inputs, wout = survey
    path = tmp_path / "m.fits"
    nm.mosaic_to_fits(inputs, wout, path, shape_out=SHAPE_OUT, combine_function="median", parallel=client)
    b, fb = nm.reproject_and_coadd(inputs, wout, shape_out=SHAPE_OUT, combine_function="median", parallel=2,
                                   blank_pixel_value=np.nan)
    with fits.open(path) as hdul:
        hdul.verify("exception")
        assert np.array_equal(hdul[0].data, b, equal_nan=True) and np.array_equal(hdul["FOOTPRINT"].data, fb)
    assert chosen == [True]  # the workers see the file: they wrote the tiles
    assert os.listdir(tmp_path) == ["m.fits"]


def test_single_image_functions(survey, client):
    inputs, wout = survey
    for order in ("bilinear", "bicubic"):
        a, fa = nm.reproject_interp(inputs[0], wout, shape_out=SHAPE_OUT, order=order, parallel="current-scheduler")
        b, fb = nm.reproject_interp(inputs[0], wout, shape_out=SHAPE_OUT, order=order, parallel=2)
        assert np.array_equal(a, b, equal_nan=True) and np.array_equal(fa, fb)


def test_killed_worker_gives_identical_mosaic(client, monkeypatch):
    # A worker dies holding the only copy of scattered inputs: dask's active memory
    # manager drops the replicas no waiting task needs (every 2 s), which made the
    # earlier form of this test (a kill while tiles were in flight) fail whenever it
    # ran before the kill.  Here it runs at once and the kill lands before the tiles
    # are submitted, so inputs are always lost: the driver must scatter them again
    # and resubmit the cancelled tiles.
    from numbamosaic._exec import _dask

    rng = np.random.default_rng(3)
    inputs = []
    for k in range(6):
        d = rng.normal(size=(300, 300)).astype(np.float32)
        inputs.append((d, _wcs(crval=(30 + 0.1 * (k % 3), 40 + 0.1 * (k // 3)), rot=k, shape=(300, 300))))
    wout = _wcs(crval=(30.1, 40.05), shape=(420, 560))
    ref, fref = nm.reproject_and_coadd(inputs, wout, shape_out=(420, 560), combine_function="median", parallel=2, tile_size=32)
    pids = client.run(os.getpid)
    holders = {}
    real_scatter, real_restore = _dask._scatter_inputs, _dask._Scattered.restore
    restored = []

    def scatter(c, groups):
        scattered = real_scatter(c, groups)
        c.amm.run_once()  # one replica of each input, none needed yet
        for _ in range(100):
            holders.update(c.who_has(list(scattered.futures.values())))
            if all(len(h) == 1 for h in holders.values()):
                break
            time.sleep(0.05)
        victim = sorted(holders.values())[0][0]  # holds the only copy of at least one input
        os.kill(pids[victim], signal.SIGKILL)
        for _ in range(200):  # until the client knows the input is lost
            if any(f.status != "finished" for f in scattered.futures.values()):
                break
            time.sleep(0.05)
        return scattered

    monkeypatch.setattr(_dask, "_scatter_inputs", scatter)
    monkeypatch.setattr(_dask._Scattered, "restore", lambda self: restored.append(real_restore(self)) or restored[-1])
    out, fp = nm.reproject_and_coadd(inputs, wout, shape_out=(420, 560), combine_function="median",
                                     parallel=client, tile_size=32)
    assert holders and all(len(h) == 1 for h in holders.values())
    assert restored and restored[0] >= 1  # lost inputs were scattered again
    assert np.array_equal(out, ref) and np.array_equal(fp, fref)
