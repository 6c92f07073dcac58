"""Acceptance tests of the mosaic planner (``plan_mosaic`` / ``MosaicPlan``).

The planner decides, before any heavy allocation, where outputs and
intermediates live, the tile size and the thread count, within a memory
budget; if nothing fits it raises :class:`MosaicMemoryError`.  Planning only
parses inputs and maps their edges, so these tests are cheap (no kernels run
except where a mosaic is actually computed).
"""

import tracemalloc

import numpy as np
import pytest

import numbamosaic
from numbamosaic import MosaicMemoryError, MosaicPlan, plan_mosaic, reproject_and_coadd
from numbamosaic.mosaic import _coadd
from numbamosaic.mosaic._plan import parse_memory
from conftest import centred_tan_wcs

OUT = (400, 400)


def _wcs(shape, crval=(150.0, 30.0), cdelt=1e-3, rot=0.0):
    return centred_tan_wcs(shape, crval, cdelt, rot)


@pytest.fixture(scope="module")
def scene():
    """Output 400 x 400; two overlapping cut-outs, one rotated input, one far away."""
    wcs = _wcs(OUT)
    rng = np.random.default_rng(0)
    img = rng.normal(size=OUT).astype(np.float32)
    inputs = [
        (img[0:180, 0:200].copy(), wcs[0:180, 0:200]),  # box (0, 180, 0, 200)
        (img[150:330, 120:320].copy(), wcs[150:330, 120:320]),  # box (150, 330, 120, 320)
        (np.ones((100, 100), np.float32), wcs[1000:1100, 0:100]),  # 1000 px away: misses the output
        (np.ones((100, 100), np.float32), _wcs((100, 100), crval=(150.02, 30.1), rot=45.0)),
    ]
    return inputs, wcs


def test_plan_bboxes_and_dropped(scene):
    inputs, wcs = scene
    plan = plan_mosaic(inputs, wcs, shape_out=OUT)
    assert isinstance(plan, MosaicPlan)
    assert plan.shape_out == OUT
    assert plan.dropped == [2]
    assert sorted(plan.bboxes) == [0, 1, 3]
    # cut-outs: the box is the cut-out, give or take one pixel of rounding
    for i, true in [(0, (0, 180, 0, 200)), (1, (150, 330, 120, 320))]:
        box = plan.bboxes[i]
        assert all(abs(b - t) <= 1 for b, t in zip(box, true)), (i, box)
        assert box[0] <= true[0] and box[1] >= true[1] and box[2] <= true[2] and box[3] >= true[3]
    # rotated 100 x 100 input: its box is ~100 sqrt(2) wide (grown by the rotation)
    y0, y1, x0, x1 = plan.bboxes[3]
    assert 138 <= y1 - y0 <= 146 and 138 <= x1 - x0 <= 146
    # the rotated input's centre is 0.02 deg east (left), 0.1 deg north of the output centre
    assert abs((y0 + y1) / 2 - (199.5 + 100)) < 3
    assert abs((x0 + x1) / 2 - (199.5 - 0.02 * np.cos(np.radians(30)) / 1e-3)) < 3
    assert plan.max_depth >= 2  # inputs 0 and 1 overlap
    assert plan.strategy == "stream"
    assert plan.method == "interp"
    assert plan.combine_function == "mean"
    assert plan.dtype == np.float32
    ty, tx = plan.tile_shape
    assert plan.n_tiles == -(-OUT[0] // ty) * -(-OUT[1] // tx)


def test_plan_all_inputs_miss():
    wcs = _wcs(OUT)
    far = [(np.ones((50, 50), np.float32), wcs[2000:2050, 0:50])]
    plan = plan_mosaic(far, wcs, shape_out=OUT)
    assert plan.dropped == [0] and plan.bboxes == {}
    # the mosaic of nothing is blank
    out, fp = reproject_and_coadd(far, wcs, shape_out=OUT, blank_pixel_value=-3)
    assert np.all(out == -3) and np.all(fp == 0)


def test_plan_repr_and_html(scene):
    inputs, wcs = scene
    plan = plan_mosaic(inputs, wcs, shape_out=OUT, combine_function="median", parallel=2)
    text = repr(plan)
    assert text.startswith("MosaicPlan")
    assert "400 x 400" in text and "'median'" in text
    assert "3 used, 1 outside" in text
    assert "stream" in text and "2 thread(s)" in text
    assert f"{plan.tile_shape[0]} x {plan.tile_shape[1]}" in text
    html = plan._repr_html_()
    assert html.startswith("<div>") and "<table>" in html and html.count("<tr>") == 1 + len(plan.estimates)
    assert "&#x27;median&#x27;" in html  # escaped
    assert "'median'" not in html
    assert plan.peak_memory > 0 and plan.disk_use == 0


def test_plan_runs_nothing(scene, monkeypatch):
    inputs, wcs = scene

    def forbidden(*a, **k):
        raise AssertionError("planning must not allocate outputs or run tiles")

    monkeypatch.setattr(_coadd, "_allocate_outputs", forbidden)
    monkeypatch.setattr(_coadd, "run_work", forbidden)
    plan = plan_mosaic(inputs, wcs, shape_out=OUT, combine_function="max", progress_bar=True)
    assert plan.combine_function == "max"


def test_threads_and_tile_size(scene):
    inputs, wcs = scene
    assert plan_mosaic(inputs, wcs, shape_out=OUT, parallel=False).threads == 1
    assert plan_mosaic(inputs, wcs, shape_out=OUT, parallel=2).threads == 2
    p = plan_mosaic(inputs, wcs, shape_out=OUT, tile_size=50)
    assert p.tile_shape == (50, 50) and p.n_tiles == 64
    # the default tiling does not depend on the thread count (bitwise determinism)
    assert plan_mosaic(inputs, wcs, shape_out=OUT, parallel=1).tile_shape == plan_mosaic(inputs, wcs, shape_out=OUT, parallel=2).tile_shape


def test_stacking_combines_cost_more(scene):
    inputs, wcs = scene
    mean = plan_mosaic(inputs, wcs, shape_out=OUT, tile_size=64, parallel=2)
    median = plan_mosaic(inputs, wcs, shape_out=OUT, tile_size=64, parallel=2, combine_function="median")
    assert median.peak_memory > mean.peak_memory


def test_small_memory_limit_chooses_memmap_outputs_and_smaller_tiles(scene, tmp_path):
    inputs, wcs = scene
    free = plan_mosaic(inputs, wcs, shape_out=OUT, parallel=2, tmpdir=str(tmp_path))
    assert free.outputs == "memory" and free.disk_use == 0
    out_bytes = 2 * OUT[0] * OUT[1] * 4  # float32 array + footprint
    memmap_key = [k for k in free.estimates if k.endswith("outputs-memmap")]
    assert len(memmap_key) == 1
    # a budget below what memmapped outputs need at the default tile size
    limit = free.estimates[memmap_key[0]]["memory"] - 1
    assert limit < out_bytes  # the outputs cannot be in memory
    tight = plan_mosaic(inputs, wcs, shape_out=OUT, parallel=2, memory_limit=limit, tmpdir=str(tmp_path))
    assert tight.outputs == "memmap"
    assert tight.tile_shape[0] < free.tile_shape[0]
    assert tight.peak_memory <= limit == tight.memory_budget
    assert tight.disk_use == out_bytes
    assert any("memmap" in n for n in tight.notes)
    assert "outputs: memmap" in repr(tight)
    # the mosaic itself: disk-backed, same values as in memory
    a, fa = reproject_and_coadd(inputs, wcs, shape_out=OUT, parallel=2, memory_limit=limit, tmpdir=str(tmp_path))
    b, fb = reproject_and_coadd(inputs, wcs, shape_out=OUT, parallel=2)
    assert isinstance(a, np.memmap) and not isinstance(b, np.memmap)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert list(tmp_path.iterdir()) == []


def test_caller_outputs_are_used(scene):
    inputs, wcs = scene
    out = np.zeros(OUT, np.float64)
    fp = np.zeros(OUT, np.float64)
    plan = plan_mosaic(inputs, wcs, shape_out=OUT, output_array=out, output_footprint=fp, memory_limit="300KB")
    assert plan.outputs == "caller" and plan.dtype == np.float64
    assert all(k.endswith("outputs-caller") for k in plan.estimates)


def test_tiny_memory_limit_raises_before_allocating(scene, monkeypatch):
    inputs, wcs = scene
    assert issubclass(MosaicMemoryError, MemoryError)
    assert numbamosaic.MosaicMemoryError is MosaicMemoryError
    with pytest.raises(MosaicMemoryError) as info:
        plan_mosaic(inputs, wcs, shape_out=OUT, memory_limit="1KB")
    msg = str(info.value)
    assert "1000 B" in msg and "memory_limit" in msg  # the budget, named
    assert "needs" in msg and "KiB" in msg  # what the smallest option needs
    assert "free in" in msg  # the disk side

    def forbidden(*a, **k):
        raise AssertionError("allocated before checking the budget")

    monkeypatch.setattr(_coadd, "_allocate_outputs", forbidden)
    monkeypatch.setattr(_coadd, "run_work", forbidden)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match="memory_limit"):
            reproject_and_coadd(inputs, wcs, shape_out=OUT, memory_limit="1KB")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * OUT[0] * OUT[1] * 4 // 2  # far less than the outputs


def test_intermediates_auto_go_to_disk_when_needed():
    # a user reproject_function needs per-input cutouts: 3 inputs covering the
    # whole 400 x 400 output are 3 x 400 x 400 x 8 B = 3.8 MB of intermediates
    import reproject

    wcs = _wcs(OUT)
    coarse = _wcs((200, 200), cdelt=2e-3)
    inputs = [(np.full((200, 200), k, np.float32), coarse) for k in range(3)]
    out = np.zeros(OUT, np.float32)
    fp = np.zeros(OUT, np.float32)
    kw = dict(shape_out=OUT, output_array=out, output_footprint=fp, reproject_function=reproject.reproject_interp)
    roomy = plan_mosaic(inputs, wcs, intermediate_memmap="auto", **kw)
    assert roomy.strategy == "intermediates" and not roomy.intermediates_on_disk
    tight = plan_mosaic(inputs, wcs, intermediate_memmap="auto", memory_limit="2MB", **kw)
    assert tight.strategy == "intermediates" and tight.intermediates_on_disk
    assert tight.disk_use >= 3 * OUT[0] * OUT[1] * 8
    assert "memory-mapped" in repr(tight)
    forced = plan_mosaic(inputs, wcs, intermediate_memmap=True, **kw)
    assert forced.intermediates_on_disk
    with pytest.raises(MosaicMemoryError, match="intermediate_memmap"):
        plan_mosaic(inputs, wcs, intermediate_memmap=False, memory_limit="2MB", **kw)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("300MB", 300 * 10**6),
        ("2GiB", 2 * 2**30),
        ("1.5 kB", 1500),
        ("64KiB", 65536),
        (" 2 GB ", 2 * 10**9),
        ("100", 100),
        (12345, 12345),
        (np.int64(4096), 4096),
        (1e9, 10**9),
    ],
)
def test_parse_memory(value, expected):
    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["lots", "-5MB", "", "5XB", "1.2.3MB", ".", "1e9", 0, -1, True, [1], float("nan"), float("inf")])
def test_parse_memory_rejects(value):
    with pytest.raises(ValueError, match="memory_limit"):
        parse_memory(value)


def test_memory_limit_strings_through_the_api(scene):
    inputs, wcs = scene
    assert plan_mosaic(inputs, wcs, shape_out=OUT, memory_limit="300MB").memory_budget == 300 * 10**6
    assert plan_mosaic(inputs, wcs, shape_out=OUT, memory_limit="2GiB").memory_budget == 2 * 2**30
    assert plan_mosaic(inputs, wcs, shape_out=OUT, memory_limit=10**8).memory_budget == 10**8
    default = plan_mosaic(inputs, wcs, shape_out=OUT)
    assert 0 < default.memory_budget < default.available_memory
    with pytest.raises(ValueError, match="memory_limit"):
        plan_mosaic(inputs, wcs, shape_out=OUT, memory_limit="a lot")
    with pytest.raises(ValueError, match="memory_limit"):
        reproject_and_coadd(inputs, wcs, shape_out=OUT, memory_limit="-1GB")
