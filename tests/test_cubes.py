"""Cubes on a 2-D WCS (reproject's broadcasting), reproject_interp only so far."""

import numpy as np
import pytest

import numbamosaic as nm
from conftest import centred_tan_wcs

reproject = pytest.importorskip("reproject")


def make_wcs(crval, scale, rot=0.0, n=32):
    """An n x n TAN WCS centred on ``crval`` (the suite's shared helper)."""
    return centred_tan_wcs((n, n), crval, scale, rot)


@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_cube_planes_equal_2d_and_reproject(order):
    rng = np.random.default_rng(6)
    cube = rng.normal(size=(2, 3, 32, 32)).astype(np.float32)
    cube[1, 2, 4, 9] = np.nan
    win, wout = make_wcs((10, 20), 1e-3), make_wcs((10.002, 20.001), 1.1e-3, rot=20, n=40)
    value, footprint = nm.reproject_interp((cube, win), wout, shape_out=(40, 40), order=order)
    assert value.shape == footprint.shape == (2, 3, 40, 40) and value.dtype == np.float32
    for i in range(2):
        for j in range(3):  # every plane equals its own 2-D reprojection, bit for bit
            v2, f2 = nm.reproject_interp((cube[i, j], win), wout, shape_out=(40, 40), order=order)
            np.testing.assert_array_equal(value[i, j], v2)
            np.testing.assert_array_equal(footprint[i, j], f2)
    rv, rf = reproject.reproject_interp((cube, win), wout, shape_out=(2, 3, 40, 40), order=order)
    both = np.isfinite(value) & np.isfinite(rv)
    assert np.max(np.abs(value[both] - rv[both])) <= 1e-5 * (np.nanmax(rv) - np.nanmin(rv))
    if order == "bilinear":
        np.testing.assert_array_equal(np.isfinite(value), np.isfinite(rv))


def test_cube_errors():
    cube = np.zeros((2, 32, 32), np.float32)
    w = make_wcs((10, 20), 1e-3)
    with pytest.raises(NotImplementedError, match="reproject_interp only"):
        nm.reproject_exact((cube, w), w, shape_out=(32, 32))
    with pytest.raises(ValueError, match="leading axes"):
        nm.reproject_interp((cube, w), w, shape_out=(3, 32, 32))
