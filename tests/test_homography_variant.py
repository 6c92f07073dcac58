"""The homography literal ``hom`` of the resampling kernels selects code, never arithmetic.

Kernels called with ``hom=1`` (``wcs._native.homography_flag``: the
transform is a homography, TAN -> TAN without distortion) are compiled
without the projection chain (``wcs._native.map_point``/``map_row``,
``kernels.exact._measure.area_factor``); with ``hom=0`` they handle any
transform.  On a homography both variants must give the same bytes: each
method's mosaic is computed with the flag the library chooses (1) and again
with the flag forced to 0, and the results compared bitwise.
"""

import numpy as np
import pytest
from astropy.wcs import WCS

import numbamosaic as nm
from numbamosaic import _resamplers, adaptive, exact
from numbamosaic.kernels import _adaptive, _interp
from numbamosaic.kernels.exact import _measure, _rows
from numbamosaic.synthetic import make_survey, survey_output_wcs
from numbamosaic.wcs import build_transform, homography_flag

# method -> (module whose homography_flag the driver calls, reproject_function, kernels that take hom)
METHODS = {
    "bilinear": (_resamplers, None, [_interp.interp_tile]),
    "exact": (exact, nm.reproject_exact, [_rows.exact_tile]),
    "adaptive": (adaptive, nm.reproject_adaptive, [_adaptive.adaptive_tile]),
}


@pytest.fixture(scope="module")
def survey():
    hdus = make_survey(2, 1, tile_shape=(40, 40), seed=4)
    wcs_out, shape_out = survey_output_wcs(hdus)
    return [(h.data, WCS(h.header)) for h in hdus], wcs_out, shape_out


def test_flag_is_one_for_homographies_only(survey):
    pairs, wcs_out, _ = survey
    assert homography_flag(build_transform(pairs[0][1], wcs_out).vector) == 1
    sin = wcs_out.deepcopy()
    sin.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    sin.wcs.set()
    assert homography_flag(build_transform(pairs[0][1], sin).vector) == 0


@pytest.mark.parametrize("method", sorted(METHODS))
def test_homography_variant_equals_the_general_one(survey, method, monkeypatch):
    module, fn, kernels = METHODS[method]
    pairs, wcs_out, shape_out = survey

    def run():
        return nm.reproject_and_coadd(pairs, wcs_out, shape_out=shape_out, reproject_function=fn, parallel=False)

    fast, fast_fp = run()
    monkeypatch.setattr(module, "homography_flag", lambda vector: 0)
    general, general_fp = run()
    # the general variant really ran: each kernel holds a signature with the literal 0 last
    for k in kernels:
        assert any(str(sig[-1]) == "Literal[int](0)" for sig in k._compiled), (k, list(k._compiled))
        assert any(str(sig[-1]) == "Literal[int](1)" for sig in k._compiled), (k, list(k._compiled))
    assert np.count_nonzero(fast_fp) > 0.5 * fast_fp.size
    assert fast.tobytes() == general.tobytes()
    assert fast_fp.tobytes() == general_fp.tobytes()


def test_area_factors_homography_equals_general(survey):
    # the exact method's solid-angle factors (subdivision probes, seam refinement):
    # the gnomonic-only variant and the general one, at points on and off the image
    pairs, wcs_out, _ = survey
    tr = build_transform(pairs[0][1], wcs_out)
    rng = np.random.default_rng(1)
    x = rng.uniform(-20.0, 60.0, 500)
    y = rng.uniform(-20.0, 60.0, 500)
    x[:3] = np.nan
    out = {}
    for hom in (1, 0):
        out[hom] = np.empty(x.size)
        _measure.area_factors(tr.vector, x, y, out[hom], hom)
    assert np.isfinite(out[1][3:]).all() and np.isnan(out[1][:3]).all()
    assert out[1].tobytes() == out[0].tobytes()
