"""Property-based tests (hypothesis) of the invariants the engine promises.

* Tiling and threads: any tile shape and any thread count give the bits of
  the untiled serial mosaic (reassembly and determinism).
* Bounding boxes: whatever the inputs' placement (partly off the output,
  rotated, rescaled), the tiles partition the output and the planned boxes
  lose no pixel: a mosaic equals the pixel-by-pixel naive reference
  (``tests/naive.py``), which uses no box at all.
* Exact reprojection conserves flux (``conserve='flux'``) and a constant
  surface brightness, for any rotation, scale ratio and sub-pixel offset.

Examples are few and tiny (kernels are compiled once per dtype; no example
compiles anything new); ``derandomize=True`` makes every run draw the same
examples, so CI failures reproduce, and ``database=None`` writes nothing.
"""

import functools

import numpy as np
import pytest
from astropy.wcs import WCS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import naive
import numbamosaic as nm
from conftest import make_wcs, star_field
from numbamosaic.synthetic import make_survey, survey_output_wcs

SETTINGS = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)
def survey():
    hdus = make_survey(2, 2, tile_shape=(24, 28), overlap=0.3, max_rotation_deg=15.0, nan_blobs=1, seed=12,
                       noise=0.5, density=3e-2)
    wcs_out, shape_out = survey_output_wcs(hdus)
    return [(h.data, WCS(h.header)) for h in hdus], wcs_out, shape_out


METHODS = {"bilinear": (nm.reproject_interp, {}), "exact": (nm.reproject_exact, {}),
           "adaptive": (nm.reproject_adaptive, {})}


@functools.lru_cache(maxsize=None)
def untiled(method, combine):
    inputs, wcs_out, shape_out = survey()
    fn, kw = METHODS[method]
    return nm.reproject_and_coadd(inputs, wcs_out, shape_out=shape_out, reproject_function=fn, combine_function=combine,
                                  parallel=False, tile_size=max(shape_out), blank_pixel_value=np.nan, **kw)


@settings(max_examples=20, **SETTINGS)
@given(
    method=st.sampled_from(sorted(METHODS)),
    combine=st.sampled_from(["mean", "sum", "first", "max", "median", "clipped-mean"]),
    tile=st.tuples(st.integers(3, 60), st.integers(3, 60)),
    parallel=st.sampled_from([False, 1, 2, 3]),
)
def test_any_tiling_and_thread_count_gives_the_untiled_bits(method, combine, tile, parallel):
    inputs, wcs_out, shape_out = survey()
    fn, kw = METHODS[method]
    ref, ref_fp = untiled(method, combine)
    plan = nm.plan_mosaic(inputs, wcs_out, shape_out=shape_out, combine_function=combine, tile_size=tile)
    assert plan.tile_shape == (min(tile[0], shape_out[0]), min(tile[1], shape_out[1]))
    out, fp = nm.reproject_and_coadd(inputs, wcs_out, shape_out=shape_out, reproject_function=fn, combine_function=combine,
                                     parallel=parallel, tile_size=tile, blank_pixel_value=np.nan, **kw)
    assert np.array_equal(out, ref, equal_nan=True) and np.array_equal(fp, ref_fp)


placement = st.tuples(
    st.floats(-30.0, 30.0),  # centre offset in output pixels (x)
    st.floats(-30.0, 30.0),  # (y)
    st.floats(0.0, 360.0),  # rotation, degrees
    st.floats(0.6, 1.6),  # pixel scale relative to the output's
)


@settings(max_examples=12, **SETTINGS)
@given(places=st.lists(placement, min_size=1, max_size=3), tile=st.tuples(st.integers(4, 40), st.integers(4, 40)),
       order=st.sampled_from(["nearest-neighbor", "bilinear"]))
def test_planned_boxes_lose_no_pixel(places, tile, order):
    shape_out = (36, 40)
    scale = 2e-3
    wcs_out = make_wcs(shape=shape_out, cdelt=scale)
    inputs = []
    for k, (dx, dy, rot, s) in enumerate(places):
        crval = wcs_out.pixel_to_world_values(19.5 + dx, 17.5 + dy)
        inputs.append((star_field((18, 22), seed=k), make_wcs(shape=(18, 22), crval=crval, cdelt=s * scale, rot=rot)))
    plan = nm.plan_mosaic(inputs, wcs_out, shape_out=shape_out, tile_size=tile)
    # the tiles partition the output: every pixel in exactly one tile
    ty, tx = plan.tile_shape
    cover = np.zeros(shape_out, int)
    for y0 in range(0, shape_out[0], ty):
        for x0 in range(0, shape_out[1], tx):
            cover[y0:y0 + ty, x0:x0 + tx] += 1
    assert plan.n_tiles == cover[::ty, ::tx].size and np.all(cover == 1)
    # no pixel is lost at the edges of the boxes: the mosaic equals the naive reference
    singles = [naive.reproject_interp(d, w, wcs_out, shape_out, order) for d, w in inputs]
    ref, ref_fp = naive.coadd([a for a, _ in singles], [f for _, f in singles], "first")
    out, fp = nm.reproject_and_coadd(inputs, wcs_out, shape_out=shape_out, combine_function="first", order=order,
                                     tile_size=tile, blank_pixel_value=np.nan)
    np.testing.assert_array_equal(fp, ref_fp)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-9)


@settings(max_examples=15, **SETTINGS)
@given(rot=st.floats(0.0, 360.0), ratio=st.floats(0.4, 2.5), dx=st.floats(-0.5, 0.5), dy=st.floats(-0.5, 0.5),
       seed=st.integers(0, 1000))
def test_exact_conserves_flux_and_surface_brightness(rot, ratio, dx, dy, seed):
    scale = 1e-3
    w_in = make_wcs(shape=(10, 12), cdelt=scale, rot=rot)
    n = int(np.ceil(16 / ratio)) + 4  # the output contains the input with a margin
    w_out = make_wcs(shape=(n, n), cdelt=ratio * scale, crpix=((n + 1) / 2 + dx, (n + 1) / 2 + dy))
    data = np.random.default_rng(seed).uniform(0.5, 2.0, (10, 12))
    out, fp = nm.reproject_exact((data, w_in), w_out, shape_out=(n, n), conserve="flux")
    assert np.isnan(out[0]).all() and np.isnan(out[:, -1]).all()  # the margin is empty
    assert abs(np.nansum(out) / data.sum() - 1.0) < 1e-9
    const, fpc = nm.reproject_exact((np.full((10, 12), 2.5), w_in), w_out, shape_out=(n, n))
    np.testing.assert_array_equal(fpc, fp)
    covered = fp > 0
    assert (fp < 1)[covered].any()  # partly covered edge pixels are part of the test
    np.testing.assert_allclose(const[covered], 2.5, rtol=1e-12)
    # the footprints add up to the input's area (in output pixels; TAN, tiny field)
    assert fp.sum() == pytest.approx(120 / ratio**2, rel=1e-6)
