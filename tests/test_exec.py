"""The execution layer (issue 16.1): ``run_work`` over the serial and thread executors.

The dask executor runs the same work functions; its bitwise parity with the
threads is tested in ``test_distributed.py`` and ``test_parity.py``.
"""

import threading
import time

import numpy as np
import pytest
from astropy.wcs import WCS

import numbamosaic as nm
from numbamosaic import _single
from numbamosaic._exec import SerialExecutor, ThreadExecutor, WorkItem, executor_for, run_work


def _items(n):
    return [WorkItem((k, k + 1, 0, 1), tuple(range(k % 3 + 1)), key=k) for k in range(n)]


@pytest.mark.parametrize("executor", [SerialExecutor(), ThreadExecutor(1), ThreadExecutor(3)])
def test_every_item_once_with_its_members(executor):
    inputs = {i: f"input{i}" for i in range(3)}
    seen = []

    def work(item, members):
        seen.append(threading.get_ident())
        return item.key, dict(members)

    items = _items(40)
    got = list(run_work(items, work, executor, inputs))
    assert sorted(item.key for item, _ in got) == list(range(40))
    for item, (key, members) in got:
        assert key == item.key and members == {i: inputs[i] for i in item.members}
    if isinstance(executor, SerialExecutor):
        assert [item.key for item, _ in got] == list(range(40))  # item order
        assert set(seen) == {threading.get_ident()}


def test_thread_errors_propagate_and_stop_the_pool():
    started = []

    def work(item, members):
        started.append(item.key)
        if item.key == 2:
            raise ValueError("boom")
        time.sleep(0.01)  # 200 items take >= 1 s on 2 threads: the error is seen long before
        return item.key

    with pytest.raises(ValueError, match="boom"):
        list(run_work(_items(200), work, ThreadExecutor(2), {i: i for i in range(3)}))
    assert len(started) < 200  # the items not started are cancelled


def test_threads_are_kept_and_nested_jobs_run():
    """The pool of a thread count is started once and reused; a work item that runs a threaded job of
    its own gets its own threads (on the shared pool, both workers would wait for items queued behind
    them: a deadlock)."""
    from numbamosaic._exec._local import shared_pool

    def who(item, members):
        return threading.get_ident()

    first = {r for _, r in run_work(_items(20), who, ThreadExecutor(2), {i: i for i in range(3)})}
    second = {r for _, r in run_work(_items(20), who, ThreadExecutor(2), {i: i for i in range(3)})}
    assert shared_pool(2) is shared_pool(2) and first | second <= {t.ident for t in shared_pool(2)._threads}

    def inner(item, members):
        time.sleep(0.001)
        return item.key

    def outer(item, members):
        return sum(r for _, r in run_work(_items(8), inner, ThreadExecutor(2), {i: i for i in range(3)}))

    got = []
    runner = threading.Thread(target=lambda: got.extend(run_work(_items(6), outer, ThreadExecutor(2),
                                                                 {i: i for i in range(3)})), daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "nested threaded jobs deadlocked"
    assert sorted(r for _, r in got) == [28] * 6


def test_executor_for():
    assert isinstance(executor_for(False), SerialExecutor)
    assert isinstance(executor_for(1), SerialExecutor)
    ex = executor_for(2)
    assert isinstance(ex, ThreadExecutor) and ex.threads == 2
    assert executor_for("current-scheduler").spec == "current-scheduler"  # resolved when it runs


def test_strips_cover_the_box_once():
    for box in [(0, 1, 0, 5), (3, 100, 2, 9), (0, 1000, 0, 1), (0, 300, 0, 64)]:
        for threads in (1, 2, 7):
            for min_pixels in (0, 1000, 10**6):
                items = _single.strips(box, threads, min_pixels)
                rows = np.concatenate([np.arange(it.box[0], it.box[1]) for it in items])
                assert np.array_equal(rows, np.arange(box[0], box[1]))
                assert all(it.box[2:] == box[2:] and it.members == (0,) for it in items)
                width = box[3] - box[2]
                assert all((it.box[1] - it.box[0]) * width >= min_pixels for it in items[:-1])


def test_small_jobs_are_few_work_items():
    """A small bilinear image is one strip and a small mosaic a few tiles (per-item overhead); big
    ones keep their items (unchanged for outputs of 512^2 and more)."""
    from numbamosaic._resamplers import InterpResampler
    from numbamosaic.mosaic._plan import make_plan

    bilinear = InterpResampler(order=1)
    assert len(_single.strips((0, 64, 0, 64), 2, _single.strip_pixels(bilinear))) == 1
    assert len(_single.strips((0, 4096, 0, 4096), 2, _single.strip_pixels(bilinear))) == 8
    assert _single.strip_pixels(InterpResampler(order=4)) < _single.strip_pixels(bilinear)

    def tiles(shape, cost):
        plan = make_plan(shape, np.float32, {0: (0, shape[0], 0, shape[1])}, [], "mean", "interp", 2, 0, 0, 2, False,
                         False, pixel_cost=cost)
        return plan.tile_shape, plan.n_tiles

    assert tiles((48, 55), None) == ((32, 32), 4)  # no cost given: MIN_TILES tiles of >= 32^2 pixels
    assert tiles((48, 55), 1.0) == ((48, 55), 1)
    assert tiles((228, 228), 1.0) == ((128, 128), 4)
    for shape in [(512, 512), (1000, 3000), (4096, 4096)]:
        assert tiles(shape, 1.0) == tiles(shape, None)


@pytest.mark.parametrize("method", ["bicubic", "exact", "adaptive"])
def test_single_image_does_not_depend_on_the_strips(method, monkeypatch):
    w_in = WCS(naxis=2)
    w_in.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w_in.wcs.crval = [10.0, 20.0]
    w_in.wcs.crpix = [30.5, 30.5]
    w_in.wcs.cdelt = [-1e-3, 1e-3]
    w_out = w_in.deepcopy()
    w_out.wcs.crpix = [33.5, 28.5]
    w_out.wcs.pc = [[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]
    data = np.random.default_rng(4).normal(size=(60, 60)).astype(np.float32)
    fn = {"bicubic": lambda **kw: nm.reproject_interp(order="bicubic", **kw),
          "exact": nm.reproject_exact, "adaptive": nm.reproject_adaptive}[method]
    results = []
    for per_thread, min_rows, min_work, parallel in [(1, 1000, 0, False), (4, 16, 0, 2), (50, 1, 0, 2), (3, 1, 0, 3),
                                                     (4, 16, _single.MIN_STRIP_WORK, 2)]:
        monkeypatch.setattr(_single, "STRIPS_PER_THREAD", per_thread)
        monkeypatch.setattr(_single, "MIN_STRIP_ROWS", min_rows)
        monkeypatch.setattr(_single, "MIN_STRIP_WORK", min_work)
        results.append(fn(input_data=(data, w_in), output_projection=w_out, shape_out=(64, 64), parallel=parallel))
    assert np.isfinite(results[0][0]).sum() > 2000
    for a, f in results[1:]:
        assert np.array_equal(a, results[0][0], equal_nan=True) and np.array_equal(f, results[0][1])


def test_tile_work_blanks_boxes_without_inputs_on_every_target(tmp_path):
    from numbamosaic._exec._targets import ArrayTarget, FileTarget, ReturnTarget, release_files
    from numbamosaic.mosaic._tiles import TileWork

    box, shape = (2, 5, 1, 7), (8, 9)
    item = WorkItem(box, ())

    def work(target):
        return TileWork(None, "mean", -7.0, 0, 3.0, 5, target)(item, {})

    out, fp = np.full(shape, 3.0, np.float32), np.full(shape, 3.0, np.float32)
    assert work(ArrayTarget(out, fp, np.float32)) is None
    o, f = work(ReturnTarget(np.float32))
    paths = [str(tmp_path / n) for n in ("o.bin", "f.bin")]
    for p in paths:
        np.full(shape, 3.0, np.float32).tofile(p)
    assert work(FileTarget((paths[0], 0, np.float32), (paths[1], 0, np.float32), shape)) is None
    release_files(paths)
    files = [np.fromfile(p, np.float32).reshape(shape) for p in paths]
    for value, weight in ((out, fp), (o, f), files):
        v = value[box[0]:box[1], box[2]:box[3]] if value.shape == shape else value
        w = weight[box[0]:box[1], box[2]:box[3]] if weight.shape == shape else weight
        assert v.shape == w.shape == (3, 6) and (v == -7.0).all() and (w == 0).all()
    assert (out[:2] == 3.0).all() and (files[0][:2] == 3.0).all()  # outside the box untouched
