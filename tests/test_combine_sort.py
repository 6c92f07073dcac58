"""The median kernels' in-place sort against NumPy, for stacks shallower and deeper than 32.

``kernels._combine._median_inplace`` insertion-sorts stacks of up to 32
values and Shell-sorts deeper ones (no ``np.sort``: its compile cost, see the
function's docstring).  The median and footprint of :func:`stack_median` must
equal ``np.nanmedian`` of the weighted-in values and their summed weights,
bit for bit, at every depth.
"""

import numpy as np
import pytest

from numbamosaic.kernels._combine import stack_median


@pytest.mark.parametrize("depth", [1, 2, 3, 32, 33, 34, 100, 257])
def test_stack_median_matches_numpy(depth):
    rng = np.random.default_rng(depth)
    vals = rng.normal(size=(depth, 5, 6))
    vals[:, 0, 0] = 1.0  # ties
    vals[rng.random(vals.shape) < 0.1] = np.nan
    wts = (rng.random(vals.shape) > 0.2) * rng.uniform(0.5, 2.0, vals.shape)
    wts[:, 0, 1] = 0.0  # no contribution: blank
    out = np.empty((5, 6))
    fp = np.empty((5, 6))
    stack_median(vals, wts, depth, out, fp, -7.0)
    used = (wts > 0) & ~np.isnan(vals)
    ref = np.full((5, 6), -7.0)
    for j, i in zip(*np.nonzero(used.any(axis=0))):
        ref[j, i] = np.median(vals[used[:, j, i], j, i])
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fp, np.where(used, wts, 0.0).sum(axis=0))
