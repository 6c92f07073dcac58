"""The homography literal ``hom`` of the resampling kernels selects code, never arithmetic.

Kernels called with ``hom=1`` (``wcs._native.homography_flag``: the
transform is a homography, TAN -> TAN without distortion) are compiled
without the projection chain (``wcs._native.map_point``/``map_row``,
``kernels.exact._measure.area_factor``); with ``hom=0`` they handle any
transform.  On a homography both variants must give the same bytes: each
method's mosaic is computed with the flag the library chooses (1) and again
with the flag forced to 0, and the results compared bitwise.
"""

import inspect

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
    # the general variant really ran: each kernel holds a signature with hom the literal 0
    for k in kernels:
        i = list(inspect.signature(k.dispatcher.py_func).parameters).index("hom")
        assert any(str(sig[i]) == "Literal[int](0)" for sig in k._compiled), (k, list(k._compiled))
        assert any(str(sig[i]) == "Literal[int](1)" for sig in k._compiled), (k, list(k._compiled))
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


def _tan(crval, cdelt, shape):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = list(crval)
    w.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    w.wcs.cdelt = [-cdelt, cdelt]
    w.wcs.set()
    return w


def test_exact_homography_variant_hands_refined_rows_to_the_general_one(monkeypatch):
    # Huge TAN pixels: some output sub-cells have corners on the input image and corners
    # beyond 90 deg from the input's tangent point (no image there: NaN), so the row
    # function refines them.  The homography variant is compiled without the refinement
    # (kernels._reduced): it stops at that row and the driver does the rest with hom=0.
    # The result must be the bytes of the general variant alone.
    win, wout = _tan((0.0, 0.0), 60.0, (11, 11)), _tan((60.0, 0.0), 30.0, (8, 8))
    data = np.random.default_rng(0).normal(size=(11, 11))
    left = []
    rest_boxes = exact.rest_boxes

    def spy(stop, opts, y0, y1, x0, x1):
        boxes = rest_boxes(stop, opts, y0, y1, x0, x1)
        left.extend(boxes)
        return boxes

    monkeypatch.setattr(exact, "rest_boxes", spy)
    assert homography_flag(build_transform(win, wout).vector) == 1
    fast, fast_fp = nm.reproject_exact((data, win), wout, shape_out=(8, 8), parallel=False)
    assert left, "the homography variant did not stop: the test no longer covers the hand-over"
    monkeypatch.setattr(exact, "homography_flag", lambda vector: 0)
    left.clear()
    general, general_fp = nm.reproject_exact((data, win), wout, shape_out=(8, 8), parallel=False)
    assert not left
    assert np.isfinite(fast).sum() > 0
    assert fast.tobytes() == general.tobytes()
    assert fast_fp.tobytes() == general_fp.tobytes()


def test_rest_boxes_cover_what_the_kernel_left():
    # exact_tile stops at row ys of the column chunk starting at xs: the rest of that chunk,
    # then every column after it
    opts = np.zeros(_rows.OPTS_LEN)
    opts[_rows.O_NSUB] = 512  # chunks of LATTICE_POINTS // 512 = 8 columns
    chunk = _rows.LATTICE_POINTS // 512
    assert _rows.rest_boxes((20, 30), opts, 10, 20, 30, 60) == []
    assert _rows.rest_boxes((14, 38), opts, 10, 20, 30, 60) == [(14, 20, 38, 38 + chunk), (10, 20, 38 + chunk, 60)]
    assert _rows.rest_boxes((10, 30), opts, 10, 20, 30, 35) == [(10, 20, 30, 35)]
    # every output pixel of the box once: done rows + the boxes
    done = np.zeros((10, 30), int)
    done[:, :8] = 1  # the first chunk, all rows
    done[:4, 8:16] = 1  # the second chunk up to row 14
    for ya, yb, xa, xb in _rows.rest_boxes((14, 38), opts, 10, 20, 30, 60):
        done[ya - 10:yb - 10, xa - 30:xb - 30] += 1
    assert (done == 1).all()


@pytest.mark.parametrize("options", [{}, {"conserve_flux": True}])
def test_adaptive_reduced_variant_equals_the_complete_one(survey, options, monkeypatch):
    # default options compile the reduced adaptive kernel (plain = 1: Gaussian, strict rules,
    # no weights, no centred Jacobian or despiking; kernels._reduced); forcing plain = 0
    # runs the complete one, which must give the same bytes
    pairs, wcs_out, shape_out = survey
    data, wcs_in = pairs[0]
    R = adaptive.AdaptiveResampler(**options)
    assert _adaptive.plain_flag(R.params, np.empty((0, 0))) == 1
    assert _adaptive.plain_flag(adaptive.AdaptiveResampler(kernel="hann").params, np.empty((0, 0))) == 0
    assert _adaptive.plain_flag(R.params, np.ones((2, 2))) == 0

    def run():
        return nm.reproject_adaptive((data, wcs_in), wcs_out, shape_out=shape_out, parallel=False, **options)

    reduced, reduced_fp = run()
    monkeypatch.setattr(_adaptive, "plain_flag", lambda prm, wdata: 0)
    complete, complete_fp = run()
    i = list(inspect.signature(_adaptive.adaptive_tile.dispatcher.py_func).parameters).index("plain")
    plains = {str(sig[i]) for sig in _adaptive.adaptive_tile._compiled}
    assert {"Literal[int](0)", "Literal[int](1)"} <= plains
    assert np.count_nonzero(reduced_fp) > 0.3 * reduced_fp.size
    assert reduced.tobytes() == complete.tobytes()
    assert reduced_fp.tobytes() == complete_fp.tobytes()
