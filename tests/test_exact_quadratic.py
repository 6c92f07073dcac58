"""Quadratic solid-angle model of the exact kernel (ZPN inputs, issue 13).

On coarse ZPN pixels the solid angle per input pixel is far from linear over
a pixel; the kernel models it by a quadratic over each sub-cell (analytic
area factor and second derivatives, :func:`numbamosaic.kernels.exact.area_quadratic`),
integrated over every piece with second moments.  Checked here against
independent references: the cell integrals against fan triangulation of the
clipped pieces (naive Sutherland-Hodgman) with a rule exact for quadratics;
the area factor and its second derivatives against solid angles from
astropy's unit vectors; whole images against the linear model at the many
sub-cells it needs for the same bound.  ``test_exact_truth.py`` checks the
same pixels against ground truth.
"""

import sys
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest
from astropy.wcs import WCS

import naive
import numbamosaic as nm
import numbamosaic.exact as nx
from numbamosaic import reproject_exact
from numbamosaic.kernels.exact import _rows, area_quadratic, cell_integrals, poly_moments2
from numbamosaic.synthetic import make_survey, survey_output_wcs
from numbamosaic.wcs._transform import build_transform
from test_exact import _random_quads, _slots

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_realwcs import _astropy_map, smooth_sky  # noqa: E402

QUAD = (0.7, 0.013, -0.021, 0.0031, -0.0047, 0.0022)  # jA, jx, jy, qa, qb, qc


def _model(x, y, jA, jx, jy, qa, qb, qc):
    return jA + jx * x + jy * y + qa * x * x + qb * x * y + qc * y * y


def _naive_integral(px, py, coef):
    """Integral of the quadratic model over polygon ``(px, py)`` (signed): fan
    triangles from vertex 0, each by its edge midpoints (exact for quadratics)."""
    tot = 0.0
    for k in range(1, len(px) - 1):
        x = (px[0], px[k], px[k + 1])
        y = (py[0], py[k], py[k + 1])
        a = 0.5 * ((x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0]))
        mids = [(0.5 * (x[i] + x[(i + 1) % 3]), 0.5 * (y[i] + y[(i + 1) % 3])) for i in range(3)]
        tot += a / 3.0 * sum(_model(mx, my, *coef) for mx, my in mids)
    return tot


@pytest.mark.parametrize("ncol,nrow", [(1, 1), (2, 2), (2, 1), (3, 2), (5, 4)])
def test_quadratic_cell_integrals(ncol, nrow):
    # edge by edge (the kernel's walkers) and Sutherland-Hodgman pieces with
    # second moments, against naive clipping and a quadrature exact for quadratics
    rng = np.random.default_rng(100 + ncol * 10 + nrow)
    checked = 0
    for px, py in _random_quads(rng, 120, ncol, nrow):
        a = cell_integrals(px, py, ncol, nrow, *QUAD[:3], True, False, *QUAD[3:])
        b = cell_integrals(px, py, ncol, nrow, *QUAD[:3], False, False, *QUAD[3:])
        g = cell_integrals(px, py, ncol, nrow, *QUAD[:3], True, True, *QUAD[3:])
        ref = np.zeros((ncol, nrow))
        for k in range(ncol):
            for r in range(nrow):
                cx, cy = naive.clip_polygon(px, py, k, k + 1.0, r, r + 1.0)
                if len(cx) >= 3:
                    ref[k, r] = _naive_integral(cx, cy, QUAD)
        scale = max(1.0, np.abs(ref).sum())
        for got in (a, b, g):
            assert np.max(np.abs(got - ref)) < 5e-15 * scale
        # the linear part is unchanged by zero quadratic terms
        lin = cell_integrals(px, py, ncol, nrow, *QUAD[:3], True)
        assert np.array_equal(lin, cell_integrals(px, py, ncol, nrow, *QUAD[:3], True, False, 0.0, 0.0, 0.0))
        checked += 1
    assert checked > 50


def test_second_moments_of_polygon():
    # poly_moments2 against the fan quadrature, about an arbitrary point
    rng = np.random.default_rng(3)
    for px, py in _random_quads(rng, 40, 3, 3):
        cx, cy = 1.3, 0.4
        A, Mx, My, Mxx, Mxy, Myy = poly_moments2(_slots((px, py)), 0, 4, cx, cy)
        for coef, got in (((1, 0, 0, 0, 0, 0), A), ((0, 1, 0, 0, 0, 0), Mx), ((0, 0, 0, 1, 0, 0), Mxx),
                          ((0, 0, 0, 0, 1, 0), Mxy), ((0, 0, 0, 0, 0, 1), Myy), ((0, 0, 1, 0, 0, 0), My)):
            ref = _naive_integral(px - cx, py - cy, coef)
            assert abs(got - ref) < 1e-14 * max(1.0, abs(ref))


def _fresh_policy(monkeypatch):
    """Forget the policy's choices: they are cached per transform, and transforms are
    remembered per pair of WCS objects, so a patched policy would not be asked again."""
    monkeypatch.setattr(nx, "_AUTO_CACHE", weakref.WeakKeyDictionary())


def _zpn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(_astropy_map("1904-66_ZPN.hdr")), WCS(_astropy_map("1904-66_ZEA.hdr"))


def _zpn_sky():
    """The ZPN and ZEA WCS of :func:`_zpn` and the smooth sky sampled at the ZPN pixel centres."""
    w_in, w_out = _zpn()
    y, x = np.mgrid[0:192, 0:192]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lon, lat = w_in.pixel_to_world_values(x, y)
    return w_in, w_out, smooth_sky(lon, lat)


def _astropy_area(w, x, y, d=1e-3):
    """Solid angle per input pixel at ``(x, y)`` from astropy's unit vectors
    (central differences of step ``d`` pixels, steradians)."""
    def unit(a, b):
        lon, lat = np.radians(w.wcs_pix2world([[a, b]], 0)[0])
        return np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])

    du = (unit(x + d, y) - unit(x - d, y)) / (2 * d)
    dv = (unit(x, y + d) - unit(x, y - d)) / (2 * d)
    return np.linalg.norm(np.cross(du, dv))


def test_zpn_area_factor_against_astropy():
    # the analytic area factor (one ZPN inversion) in ratios of astropy's solid
    # angles, and its quadratic terms against astropy's second differences
    w_in, w_out = _zpn()
    tr = build_transform(w_in, w_out, roundtrip=False)
    pts = [(10.0, 10.0), (95.5, 60.25), (180.0, 181.0), (30.0, 170.0), (185.0, 5.0)]
    ref0 = _astropy_area(w_in, *pts[0])
    s0 = area_quadratic(tr.vector, *pts[0])[0]
    for x, y in pts:
        s, qa, qb, qc = area_quadratic(tr.vector, x, y)
        assert abs((s / s0) / (_astropy_area(w_in, x, y) / ref0) - 1.0) < 1e-8
        A = lambda a, b: _astropy_area(w_in, a, b) / ref0 * s0  # noqa: E731
        c = A(x, y)

        def diffs(h):
            return np.array([(A(x + h, y) - 2 * c + A(x - h, y)) / (2 * h * h),
                             (A(x + h, y + h) - A(x + h, y - h) - A(x - h, y + h) + A(x - h, y - h)) / (4 * h * h),
                             (A(x, y + h) - 2 * c + A(x, y - h)) / (2 * h * h)])

        ref = (4 * diffs(1.0) - diffs(2.0)) / 3  # Richardson: fourth order in the step
        scale = np.abs(ref).max()
        assert scale > 1e-6 * s  # a real curvature, resolved by the differences
        assert np.abs(np.array([qa, qb, qc]) - ref).max() < 1e-4 * scale, ((qa, qb, qc), ref)


def test_policy_measures_the_quadratic_model():
    # the quadratic model is chosen for ZPN, its measured error is far below the
    # linear model's, and the policy needs far fewer sub-cells for the same bound
    w_in, w_out = _zpn()
    tr = build_transform(w_in, w_out, roundtrip=False)
    assert nx.quadratic_model(tr)
    X, Y = nx._probe_corners(tr, (192, 192))
    lin = nx.jacobian_error(tr, X, Y, 1)
    quad = nx.jacobian_error(tr, X, Y, 1, True)
    assert lin > 1e-6 and quad < lin / 30
    nsub, _, bound = nx.subdivision_policy(tr, (192, 192))
    assert nsub <= 2 and bound <= nx.AUTO_TOLERANCE
    # within the bound over whole pixels: area factors at pixel corners only
    assert quad <= nx.J_TOLERANCE and nx.area_model(tr, (192, 192)) == 3
    # other projections keep the linear model (TAN: bit-identical mosaics)
    t2 = build_transform(w_out, w_in, roundtrip=False)
    assert not nx.quadratic_model(t2)


def test_quadratic_model_matches_finely_subdivided_linear(monkeypatch):
    # whole output images: the quadratic model at its few sub-cells against the
    # linear model at the many (9 x 9) it needs for the same 1e-7 bound
    w_in, w_out, data = _zpn_sky()
    w_cut = w_out[40:100, 60:140]
    a, fa = reproject_exact((data, w_in), w_cut, shape_out=(60, 80))
    monkeypatch.setattr(nx, "quadratic_model", lambda tr: False)
    _fresh_policy(monkeypatch)
    b, fb = reproject_exact((data, w_in), w_cut, shape_out=(60, 80))
    ok = np.isfinite(b)
    assert ok.sum() > 4000 and np.array_equal(ok, np.isfinite(a))
    assert not np.array_equal(a[ok], b[ok])  # the linear model really ran
    rng = np.nanmax(data) - np.nanmin(data)
    assert np.max(np.abs(a - b)[ok]) < 2e-7 * rng
    assert np.max(np.abs(fa - fb)[ok]) < 1e-12


@pytest.mark.parametrize("nsub", [1, 2, 3])
def test_pixel_model_matches_sub_cell_model(monkeypatch, nsub):
    # the quadratic model fitted per output pixel (area factors at pixel corners
    # only, the policy's choice here) against the model fitted per sub-cell, at
    # several sub-cell counts (curved edges as the policy sets them)
    w_in, w_out, data = _zpn_sky()
    w_cut = w_out[100:150, 20:90]
    out = {}
    for mode in (3, 2):
        monkeypatch.setattr(nx, "_policy", lambda tr, shape, m=mode: (nsub, nx.EDGE_TOLERANCE, 0.0, m))
        _fresh_policy(monkeypatch)
        out[mode] = reproject_exact((data, w_in), w_cut, shape_out=(50, 70))
    ok = np.isfinite(out[2][0])
    assert ok.sum() > 3000 and np.array_equal(ok, np.isfinite(out[3][0]))
    assert not np.array_equal(out[3][0][ok], out[2][0][ok])  # two models really ran
    rng = np.nanmax(data) - np.nanmin(data)
    assert np.max(np.abs(out[3][0] - out[2][0])[ok]) < 1e-8 * rng
    assert np.max(np.abs(out[3][1] - out[2][1])) < 1e-12


def test_quadratic_model_conserves_flux(monkeypatch):
    # conserve='flux' divides each piece by its input pixel's model solid angle:
    # the quadratic model's mean over the pixel, so every isolated input pixel
    # of value 1 adds up to 1 in the output (the linear model misses the
    # curvature term of that mean by ~1e-5 on these pixels)
    w_in, w_out = _zpn()
    tr = build_transform(w_in, w_out, roundtrip=False)
    jj, ii = (a.ravel() for a in np.mgrid[20:180:23, 20:180:23])
    xo, yo = tr.in_to_out(ii.astype(float), jj.astype(float))
    inside = (xo > 5) & (xo < 186) & (yo > 5) & (yo < 186)
    assert inside.sum() >= 20
    data = np.zeros((192, 192))
    data[jj[inside], ii[inside]] = 1.0
    errs = []
    for model in (nx.quadratic_model, lambda t: False):
        monkeypatch.setattr(nx, "quadratic_model", model)
        _fresh_policy(monkeypatch)
        out, _ = reproject_exact((data, w_in), w_out, shape_out=(192, 192), conserve="flux")
        errs.append(abs(np.nansum(out) / inside.sum() - 1.0))
    assert errs[0] < 1e-8 and errs[1] > 1e-6, errs


def test_quadratic_model_cube_planes_match_images():
    # the cube driver records the same pieces (quadratic weights included)
    w_in, w_out = _zpn()
    rng = np.random.default_rng(5)
    cube = rng.random((2, 192, 192))
    cube[1, 50:60, 70:90] = np.nan
    w_cut = w_out[30:70, 50:110]
    c, fc = reproject_exact((cube, w_in), w_cut, shape_out=(2, 40, 60))
    for z in range(2):
        a, fa = reproject_exact((cube[z], w_in), w_cut, shape_out=(40, 60))
        assert np.array_equal(a, c[z], equal_nan=True)
        assert np.array_equal(fa, fc[z])


def test_quad_literal_selects_code_never_arithmetic(monkeypatch):
    # the kernels' quad (kernels.exact._quadratic): the library passes None for every
    # input but ZPN, whose kernels then hold none of the quadratic model's code; a
    # linear-model call compiled with that code (quad forced to True, zero quadratic terms)
    # must give the same bytes (TAN -> TAN survey, every pixel and its footprint)
    hdus = make_survey(2, 1, tile_shape=(40, 40), seed=4)
    wcs_out, shape_out = survey_output_wcs(hdus)
    pairs = [(h.data, WCS(h.header)) for h in hdus]

    def run(**kw):
        return nm.reproject_and_coadd(pairs, wcs_out, shape_out=shape_out, reproject_function=nm.reproject_exact,
                                      parallel=False, **kw)

    for kw in ({}, {"conserve": "flux"}):
        a, fa = run(**kw)
        monkeypatch.setattr(nx, "quad_flag", lambda opts: True)
        b, fb = run(**kw)
        monkeypatch.undo()
        assert np.count_nonzero(fa) > 0.5 * fa.size
        assert a.tobytes() == b.tobytes() and fa.tobytes() == fb.tobytes()
    # both variants ran: quad is the second-last argument of exact_tile's signatures
    quads = {str(sig[-2]) for sig in _rows.exact_tile._compiled}
    assert {"none", "bool"} <= quads, quads
