"""Compile budget: input layouts and flags add no compiled variants; every kernel stays within its budget.

A fresh process (``tests/_variant_matrix.py``) runs a representative matrix
of small calls: float32 inputs C-contiguous, read-only, read-only
``np.memmap``, Fortran-ordered, strided, a cutout, big-endian and big-endian
Fortran-ordered; interpolation (bilinear serial and threaded, bicubic), exact
and adaptive single-image calls; mosaics with mean, median, clipped mean and
max; float64 inputs; caller-provided outputs in Fortran order and strided.
It reports each result and every compiled function's signatures; here we
check that results are bitwise identical across layouts and that no kernel
holds more signatures than :data:`BUDGET` allows (see :data:`ENTRY_KERNELS`
for what a warm cache hides).  (A fresh process, so the
counts do not depend on what other tests compiled; the kernels come from the
on-disk cache when the suite compiled them already.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# Why each number: kernels are typed canonically at their entry
# (``kernels._entry``: any layout -> 'A', inputs read-only, scalars int64 /
# float64), so only dtypes select variants.  The matrix uses three input
# dtypes: float32, float64 and big-endian float32 (a uint32 view decoded on
# load, ``kernels._load``).
BUDGET = {
    # the interpolation order is a literal (a call compiles the interpolant of its
    # order only; the row loops are inlined).  Bilinear: single-image serial calls
    # write the caller's output dtype (float32 for float32 and big-endian inputs,
    # float64 for float64), mosaics write float64 tile buffers:
    # {f4, >f4} x {f4 out, f8 buffers} + f8 x f8; bicubic: single-image {f4, >f4}
    "numbamosaic.kernels._interp.interp_tile": 7,
    # as interp_tile, without float64 inputs
    # (the row-block loop _exact_rows is inlined into exact_tile: no variants of its own).
    # The kernels' homography literal ``hom`` (wcs._native.map_point) adds a variant only
    # for transforms that are not TAN -> TAN homographies, which the matrix does not use
    "numbamosaic.kernels.exact._rows.exact_tile": 4,
    # the heavy per-row code writes float64 scratch only: one per input dtype
    "numbamosaic.kernels.exact._rows._exact_row": 2,
    # Numba types a constant argument as a literal and compiles a callee once
    # per constant: the kernels pass offsets, axes and slots as np.int64 so
    # that split_half and the WCS chain are compiled once
    "numbamosaic.kernels.exact._polygon.split_half": 1,
    "numbamosaic.wcs._native.pixel_to_native": 1,
    "numbamosaic.wcs._projections.plane_to_native": 1,
    "numbamosaic.kernels._adaptive.adaptive_tile": 4,
    "numbamosaic.kernels._adaptive._block": 4,
    # the combine kernels see float64 tile buffers or float32 stacks (the
    # output precision) and write float32 mosaics (float64 for float64 inputs)
    "numbamosaic.kernels._combine.finalize_tile": 2,
    "numbamosaic.kernels._combine.stack_median": 1,
    "numbamosaic.kernels._combine.stack_clipped_mean": 1,
    # the spline prefilter reads the input (f4 or >f4 in the matrix) and writes f4
    "numbamosaic.kernels._spline.spline_coefficients": 2,
    # per input dtype, x the row index type (int64, or uint64 from prange)
    "numbamosaic.kernels._spline._fill_row": 4,
}
#: any compiled function not listed: at most one variant per input dtype (3)
DEFAULT_BUDGET = 3
#: kernels called from Python.  A kernel loaded from the on-disk cache brings
#: its callees' machine code with it without registering their signatures, so
#: with a warm cache only these are counted for sure; the callees' budgets are
#: checked when the matrix compiles them (an empty cache).
ENTRY_KERNELS = ["numbamosaic.kernels." + name for name in (
    "_interp.interp_tile", "exact._rows.exact_tile", "_adaptive.adaptive_tile",
    "_combine.finalize_tile", "_combine.stack_median", "_combine.stack_clipped_mean",
    "_spline.spline_coefficients")]


#: the quadratic solid-angle model of exact (ZPN inputs, ``kernels.exact._quadratic``): the
#: matrix has no ZPN input, so its kernels run with ``quad`` None and none of these
#: may be compiled (checked with an empty cache, like the callees' budgets)
QUADRATIC_ONLY = [
    "numbamosaic.kernels.exact._quadratic._pixel_model",
    "numbamosaic.kernels.exact._quadratic._edge_piece_quad",
    "numbamosaic.kernels.exact._curves._second_moments",
    "numbamosaic.kernels.exact._polygon.poly_moments2",
    "numbamosaic.kernels.exact._measure.area_quadratic",
    "numbamosaic.wcs._proj_zenithal.zpn_area",
]


@pytest.fixture(scope="module")
def matrix():
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(HERE / "_variant_matrix.py")], capture_output=True, text=True,
                          env=env, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_layouts_and_flags_give_identical_results(matrix):
    assert matrix["differ"] == []


def test_layouts_and_flags_add_no_compiled_variants(matrix):
    # signatures of every compiled function after the C-contiguous float32 run
    # (resp. big-endian) == after all the other layouts and flags of that dtype
    assert matrix["added"] == []


def test_kernels_are_typed_for_any_layout(matrix):
    sigs = matrix["signatures"]
    for name in ENTRY_KERNELS:
        assert sigs.get(name), f"{name} was not compiled by the matrix (budget entry stale?)"
    for name in ("numbamosaic.kernels._interp.interp_tile", "numbamosaic.kernels.exact._rows.exact_tile",
                 "numbamosaic.kernels._combine.finalize_tile"):
        for s in sigs[name]:
            assert ", 'C'," not in s and ", 'F'," not in s, f"{name}: layout-specific signature {s}"
    # the interpolation order selects a variant (a literal): bilinear and bicubic ran, nothing else
    orders = {s.split("Literal[int](")[1].split(")")[0] for s in sigs["numbamosaic.kernels._interp.interp_tile"]}
    assert orders == {"1", "3"}


def test_linear_calls_compile_no_quadratic_model(matrix):
    sigs = matrix["signatures"]
    compiled = {name: sigs[name] for name in QUADRATIC_ONLY if sigs.get(name)}
    assert compiled == {}, f"the quadratic model was compiled for inputs that do not use it: {compiled}"
    for s in sigs["numbamosaic.kernels.exact._rows.exact_tile"]:  # (..., quad, hom): quad None, hom 1
        assert s.endswith("none, Literal[int](1))"), s


def test_compile_budget(matrix):
    over = {name: len(s) for name, s in matrix["signatures"].items() if len(s) > BUDGET.get(name, DEFAULT_BUDGET)}
    detail = {name: matrix["signatures"][name] for name in over}
    assert over == {}, f"kernels over their compile budget: {over}\n{json.dumps(detail, indent=1)}"
