"""Hostile, broken and edge-case inputs (issue 11): a clear error or a right answer.

References: the same computation with NaN in place of inf (inf must behave
like a blank pixel), the in-memory mosaic for file inputs, and the
argument-checking contract of the public functions (messages name the
argument, the input index and the file).
"""

import numpy as np
import pytest
from conftest import make_wcs, star_field

from numbamosaic import reproject_adaptive, reproject_and_coadd, reproject_exact, reproject_interp

BAD = (30, 33)


@pytest.fixture(scope="module")
def stars():
    return star_field((64, 64), seed=4)


# ----------------------------------------------------------------------------- inf is blank


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_inf_pixel_behaves_like_nan_for_every_method(bad, stars):
    """One infinite pixel gives exactly the output of one NaN pixel (local
    blanking), for every interpolation order, exact and adaptive, and in a
    coadd; finite data are untouched (the clean run is compared too)."""
    w_in = make_wcs()
    w_out = make_wcs(rot=17.0, cdelt=1.7e-3, crval=(150.001, 30.002), shape=(70, 70))
    with_nan, with_inf = stars.copy(), stars.copy()
    with_nan[BAD] = np.nan
    with_inf[BAD] = bad
    runs = [(reproject_interp, dict(order=o)) for o in ("nearest-neighbor", "bilinear", "biquadratic", "bicubic", "lanczos3")]
    runs += [(reproject_exact, {}), (reproject_adaptive, {})]
    for func, kw in runs:
        ref, ref_fp = func((with_nan, w_in), w_out, shape_out=(70, 70), **kw)
        out, fp = func((with_inf, w_in), w_out, shape_out=(70, 70), **kw)
        np.testing.assert_array_equal(out, ref, err_msg=f"{func.__name__} {kw}")
        np.testing.assert_array_equal(fp, ref_fp, err_msg=f"{func.__name__} {kw}")
        clean_fp = func((stars, w_in), w_out, shape_out=(70, 70), **kw)[1]
        assert 0 < (fp < clean_fp).sum() < 60, f"{func.__name__} {kw}"  # local: a stencil's worth
    other = star_field((64, 64), seed=5)
    for order in ("bicubic", "biquadratic"):
        for combine in ("mean", "median"):
            kw = dict(shape_out=(70, 70), order=order, combine_function=combine, blank_pixel_value=np.nan)
            ref = reproject_and_coadd([(with_nan, w_in), (other, w_in)], w_out, **kw)
            out = reproject_and_coadd([(with_inf, w_in), (other, w_in)], w_out, **kw)
            np.testing.assert_array_equal(out[0], ref[0])
            np.testing.assert_array_equal(out[1], ref[1])
            assert (out[1] > 0).sum() > 0.5 * out[1].size
