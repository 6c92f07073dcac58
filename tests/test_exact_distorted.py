"""Exact reprojection of distorted images: curved pixel edges (issue 13).

On a SIP image the output pixel edges map into the input as curves bulging
by ~1e-6 of a pixel; straight chords between pixel corners are wrong by
~2e-6 of the local input range, which the old policy fixed with 14-16
straight sub-cells per side (196-256 transforms per pixel).  The automatic
policy now keeps one sub-cell and follows each edge as a parabola whose
bulge comes from the neighbouring lattice points (no extra transforms).
Checked against a brute-force result (24 x 24 straight sub-cells), against
a pixel-by-pixel reference built from astropy alone (outlines of 64 points a
side, Sutherland-Hodgman clipping, astropy solid angles), and for flux
conservation (neighbours follow the same curve: no gaps, no overlaps).
"""

import math
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import pixel_to_pixel
from conftest import centred_tan_wcs

import naive
from numbamosaic import reproject_exact
from numbamosaic.exact import AUTO_TOLERANCE, subdivision_policy
from numbamosaic.wcs import build_transform

DATA = Path(__file__).resolve().parent / "data"


def sip_crop(n=40):
    """The central ``n x n`` pixels of the IRAC-like SIP header (same polynomials about CRPIX)."""
    hdr = fits.Header.fromtextfile(DATA / "irac_like_sip.hdr")
    hdr["NAXIS1"] = hdr["NAXIS2"] = n
    hdr["CRPIX1"] = hdr["CRPIX2"] = n / 2 + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(hdr)


def problem(n_out=36, rot=25.0):
    w_in = sip_crop()
    w_out = centred_tan_wcs((n_out, n_out), w_in.wcs.crval, 1.22 / 3600, rot=rot)
    data = np.random.default_rng(5).random(w_in.array_shape)  # full contrast between neighbours
    return data, w_in, w_out, (n_out, n_out)


def astropy_solid_angle(w, h=0.1):
    """Solid angle per unit input pixel area at ``(x, y)``, from astropy's pixel->world (central differences)."""

    def unit(x, y):
        lon, lat = np.radians(w.all_pix2world([[x, y]], 0)[0])
        return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])

    def J(x, y):
        du = (unit(x + h, y) - unit(x - h, y)) / (2 * h)
        dv = (unit(x, y + h) - unit(x, y - h)) / (2 * h)
        return float(np.linalg.norm(np.cross(du, dv)))

    return J


def curved_reference(data, w_in, w_out, pixels, k=64):
    """Surface brightness and footprint of output ``pixels`` ((j, i) pairs): each outline
    sampled at ``k`` points a side through astropy, clipped with every input pixel."""
    J = astropy_solid_angle(w_in)
    t = (np.arange(k) + 0.0) / k
    out = []
    for j, i in pixels:
        cx = np.concatenate([i - 0.5 + t, np.full(k, i + 0.5), i + 0.5 - t, np.full(k, i - 0.5)])
        cy = np.concatenate([np.full(k, j - 0.5), j - 0.5 + t, np.full(k, j + 0.5), j + 0.5 - t])
        px, py = pixel_to_pixel(w_out, w_in, cx, cy)
        a, gx, gy = naive.polygon_area_centroid(px, py)
        W = abs(a) * J(gx, gy)
        s = V = 0.0
        for iy in range(math.floor(py.min() + 0.5), math.floor(py.max() + 0.5) + 1):
            for ix in range(math.floor(px.min() + 0.5), math.floor(px.max() + 0.5) + 1):
                qa, qx, qy = naive.polygon_area_centroid(*naive.clip_polygon(px, py, ix - 0.5, ix + 0.5, iy - 0.5, iy + 0.5))
                if qa != 0.0:
                    w = abs(qa) * J(qx, qy)
                    s += data[iy, ix] * w
                    V += w
        out.append((s / V, V / W))
    return np.array(out)


def test_sip_curved_edges_without_subcells():
    data, w_in, w_out, shape = problem()
    nsub, curve, bound = subdivision_policy(build_transform(w_in, w_out, roundtrip=False), data.shape)
    assert nsub == 1 and curve > 0 and bound <= AUTO_TOLERANCE  # one transform per output pixel
    auto, fa = reproject_exact((data, w_in), w_out, shape_out=shape)
    straight, fs = reproject_exact((data, w_in), w_out, shape_out=shape, subdivisions=1)
    brute, fb = reproject_exact((data, w_in), w_out, shape_out=shape, subdivisions=24)
    full = fb > 0.999
    assert full.sum() > 0.5 * full.size
    err_auto = np.max(np.abs(auto - brute)[full])  # input range is 1
    err_straight = np.max(np.abs(straight - brute)[full])
    assert err_auto < AUTO_TOLERANCE and err_auto < bound
    assert err_straight > 1e-6 > 10 * err_auto  # the curvature is real and the test can see it
    assert np.max(np.abs(fa - fb)) < 1e-7
    # pixel by pixel from astropy alone (its transforms and solid angles)
    pix = [(17, 17), (17, 18), (18, 17), (5, 20), (30, 12), (20, 31)]
    ref = curved_reference(data, w_in, w_out, pix)
    assert all(fa[p] > 0.999 for p in pix)  # inside the input
    got = np.array([(auto[p], fa[p]) for p in pix])
    assert np.max(np.abs(got - ref)) < AUTO_TOLERANCE
    assert np.max(np.abs(np.array([straight[p] for p in pix]) - ref[:, 0])) > 3 * AUTO_TOLERANCE


def test_sip_curved_edges_conserve_flux():
    # an output covering the whole input: every input pixel is shared out
    # exactly once whether the edges are curved or straight (neighbours
    # follow the same curves: no gaps, no overlaps); the small common deficit
    # is the linear solid-angle model's
    data, w_in, w_out, shape = problem(n_out=58, rot=25.0)
    nsub, curve, _ = subdivision_policy(build_transform(w_in, w_out, roundtrip=False), data.shape)
    assert curve > 0
    a, f = reproject_exact((data, w_in), w_out, shape_out=shape, conserve="flux")
    b, g = reproject_exact((data, w_in), w_out, shape_out=shape, conserve="flux", subdivisions=1)
    assert np.isnan(a[0, 0]) and np.isnan(a[-1, -1])  # the input is inside
    assert abs(np.nansum(a) / data.sum() - 1.0) < 1e-7
    assert abs(np.nansum(a) - np.nansum(b)) < 1e-11 * data.sum()
    assert np.max(np.abs(a - b)[np.isfinite(b)]) > 1e-7  # curved differs pixel by pixel
