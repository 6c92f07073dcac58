"""One bitwise parity matrix: method x combine x executor x dtype x output kind.

The result of a reprojection or mosaic must not depend on how it is run:
serial or threaded, one tile or many, dask.distributed, the byte order of
the input, or where the output lives (a new array, a ``np.memmap``, a
``zarr`` array).  Every cell is compared bit for bit (NaN included) with
the serial run on 32 x 32 tiles into new arrays (the default tiling of this
tiny output is one tile for interpolation, 32 x 32 for exact and adaptive).

The full product (6 methods x 9 combines x 3 dtypes x 6 executor/output
variants) would be ~1,000 runs; a Latin square keeps it to ~300 tiny runs
(~10 s) and still covers every pair of axes: every method meets every
combine and dtype, and, through ``VARIANTS[(combine + method) % 6]``, every
combine and every method meets every executor/output variant.

Two invariants across dtypes come for free:

* ``>f4`` (FITS byte order) gives the same bits as ``f4``;
* the kernels compute in float64 whatever the input dtype, so an ``f8``
  input holding the same values rounds to the ``f4`` result, except for
  the stack combines (median, clipped mean), whose layers are kept in the
  input dtype, and the spline orders, whose coefficients are.

``single`` stands for the single-image function of the method
(``reproject_interp``/``_exact``/``_adaptive``), run with ``parallel=False``
as reference and ``parallel=2`` in the variants.
"""

import functools

import numpy as np
import pytest
from astropy.wcs import WCS

import numbamosaic as nm
from numbamosaic.synthetic import make_survey, survey_output_wcs

METHODS = {
    "nearest": (nm.reproject_interp, {"order": "nearest-neighbor"}),
    "bilinear": (nm.reproject_interp, {"order": "bilinear"}),
    "bicubic": (nm.reproject_interp, {"order": "bicubic"}),
    "lanczos3": (nm.reproject_interp, {"order": "lanczos3"}),
    "exact": (nm.reproject_exact, {}),
    "adaptive": (nm.reproject_adaptive, {}),
}
COMBINES = ["single", "mean", "sum", "first", "last", "min", "max", "median", "clipped-mean"]
STACKED = {"median", "clipped-mean"}
#: spline coefficients are computed in the input's precision
INPUT_PRECISION_METHODS = {"bicubic"}
DTYPES = ["f4", ">f4", "f8"]
#: (executor, output kind, tile_size): tiles of 16, 24 x 40 and 64 pixels cut the
#: 48 x 55 output into 12, 4 and 1 tiles (the reference: 32 x 32, 4 tiles; None: the
#: planner's default); zarr chunks (16 x 24) force their own tiling
VARIANTS = [
    ("threads", "ndarray", 16),
    ("serial", "memmap", (24, 40)),
    ("threads", "zarr", None),
    ("threads", "ndarray", 64),
    ("threads", "memmap", 16),
    ("serial", "zarr", None),
]


@functools.lru_cache(maxsize=None)
def survey():
    """Four overlapping 24 x 28 tiles (rotated, blank blobs, stars) and a 48 x 55 output."""
    hdus = make_survey(2, 2, tile_shape=(24, 28), overlap=0.3, max_rotation_deg=15.0, nan_blobs=1, seed=12,
                       noise=0.5, density=3e-2)
    wcs_out, shape_out = survey_output_wcs(hdus)
    return [(h.data, WCS(h.header)) for h in hdus], wcs_out, shape_out


def inputs_as(dtype):
    inputs, _, _ = survey()
    return [(d.astype(dtype), w) for d, w in inputs]


def run(method, combine, dtype, executor="serial", output="ndarray", tile_size=None, tmp_path=None):
    """One cell of the matrix; returns ``(array, footprint)`` as new in-memory arrays."""
    fn, kw = METHODS[method]
    inputs = inputs_as(dtype)
    _, wcs_out, shape_out = survey()
    out_dtype = np.float64 if dtype == "f8" else np.float32
    if output == "ndarray":
        out = fp = None
    elif output == "memmap":
        out = np.memmap(tmp_path / "out.dat", dtype=out_dtype, mode="w+", shape=shape_out)
        fp = np.memmap(tmp_path / "fp.dat", dtype=out_dtype, mode="w+", shape=shape_out)
        out[...] = fp[...] = 7.0  # stale content must be overwritten everywhere
    else:
        zarr = pytest.importorskip("zarr")
        out = zarr.create_array(store={}, shape=shape_out, chunks=(16, 24), dtype=out_dtype, fill_value=7.0)
        fp = zarr.create_array(store={}, shape=shape_out, chunks=(16, 24), dtype=out_dtype, fill_value=7.0)
    parallel = {"serial": False, "threads": 2}.get(executor, executor)
    if combine == "single":
        if output == "zarr":  # single-image functions write NumPy arrays only
            out = fp = None
        a, f = fn(inputs[1], wcs_out, shape_out=shape_out, parallel=parallel, output_array=out,
                  output_footprint=fp, **kw)
    else:
        a, f = nm.reproject_and_coadd(inputs, wcs_out, shape_out=shape_out, reproject_function=fn,
                                      combine_function=combine, parallel=parallel, tile_size=tile_size,
                                      output_array=out, output_footprint=fp, blank_pixel_value=np.nan, **kw)
    if out is not None:
        assert a is out and f is fp
    return np.array(a[...]), np.array(f[...])


@functools.lru_cache(maxsize=None)
def reference(method, combine, dtype):
    a, f = run(method, combine, dtype, tile_size=32)
    a.flags.writeable = f.flags.writeable = False
    return a, f


def same(x, y):
    return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)


@pytest.mark.parametrize("method", list(METHODS))
def test_parity_matrix(method, tmp_path):
    m = list(METHODS).index(method)
    failures = []
    for c, combine in enumerate(COMBINES):
        executor, output, tile = VARIANTS[(c + m) % len(VARIANTS)]
        for dtype in DTYPES:
            ref = reference(method, combine, "f4" if dtype == ">f4" else dtype)
            got = run(method, combine, dtype, executor, output, tile, tmp_path)
            for name, r, g in zip(("array", "footprint"), ref, got):
                if not same(r, g):
                    failures.append(f"{combine} {dtype} {executor} {output} tile={tile}: {name}")
        # the f8 run of the same values rounds to the f4 result
        if combine not in STACKED and method not in INPUT_PRECISION_METHODS:
            for name, r4, r8 in zip(("array", "footprint"), reference(method, combine, "f4"), reference(method, combine, "f8")):
                if not same(r4, r8.astype(np.float32)):
                    failures.append(f"{combine}: f8 rounded to f4 differs from f4 ({name})")
        a, f = reference(method, combine, "f4")
        assert np.isnan(a).any() and np.isfinite(a).sum() > (0.1 if combine == "single" else 0.5) * a.size, combine
    assert not failures, "\n".join(failures)


def test_tilings_change_the_work_not_the_result():
    """The variants really run different tilings (the matrix is not vacuous)."""
    inputs, wcs_out, shape_out = survey()
    assert shape_out == (48, 55)
    tiles = {str(t): nm.plan_mosaic(inputs, wcs_out, shape_out=shape_out, tile_size=t).tile_shape
             for t in (None, 16, 32, (24, 40))}
    # by default a tiny interpolated mosaic is one tile (mosaic._plan.MIN_TILE_WORK)
    assert tiles == {"None": (48, 55), "16": (16, 16), "32": (32, 32), "(24, 40)": (24, 40)}
    assert nm.plan_mosaic(inputs, wcs_out, shape_out=shape_out, reproject_function=nm.reproject_exact).tile_shape == (32, 32)
    # and the inputs really differ between dtypes: f4 and f8 results are not identical
    a4 = reference("bilinear", "mean", "f4")[0]
    a8 = reference("bilinear", "mean", "f8")[0]
    assert a4.dtype == np.float32 and a8.dtype == np.float64 and not np.array_equal(a4, a8, equal_nan=True)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.mark.parametrize("method", ["bilinear", "exact", "adaptive"])
def test_parity_dask(method, dask_client, tmp_path):
    """The dask.distributed executor (an in-process cluster: same driver, no
    worker processes to compile kernels in) against the serial reference."""
    failures = []
    for c, combine in enumerate(COMBINES):
        output = ("ndarray", "zarr", "memmap")[c % 3]
        got = run(method, combine, "f4", dask_client, output, 16, tmp_path)
        for name, r, g in zip(("array", "footprint"), reference(method, combine, "f4"), got):
            if not same(r, g):
                failures.append(f"{combine} dask {output}: {name}")
    assert not failures, "\n".join(failures)
