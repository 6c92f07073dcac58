"""Tests of the synthetic survey generator (numbamosaic.synthetic)."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from numbamosaic.synthetic import (
    make_star_field,
    make_survey,
    render_stars,
    survey_output_wcs,
    tile_wcs,
    write_survey,
)

SMALL = dict(tile_shape=(128, 160), overlap=0.25)


def _local_maxima(img, threshold):
    """(y, x) of pixels above threshold that are the maximum of their 3x3 box."""
    core = img[1:-1, 1:-1]
    ok = np.isfinite(core) & (core > threshold)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                nb = img[1 + dy : img.shape[0] - 1 + dy, 1 + dx : img.shape[1] - 1 + dx]
                ok &= ~(nb > core)
    y, x = np.nonzero(ok)
    return y + 1, x + 1


def test_determinism_same_seed_same_bytes():
    a = make_survey(2, 2, seed=3, **SMALL)
    b = make_survey(2, 2, seed=3, **SMALL)
    assert len(a) == len(b) == 4
    for ha, hb in zip(a, b):
        assert ha.data.dtype == np.float32
        assert ha.data.tobytes() == hb.data.tobytes()
        assert ha.header.tostring() == hb.header.tostring()
    c = make_survey(2, 2, seed=4, **SMALL)
    assert a[0].data.tobytes() != c[0].data.tobytes()


def test_header_and_layout():
    hdus = make_survey(3, 2, max_rotation_deg=1.5, **SMALL)
    assert len(hdus) == 6
    rots = []
    for k, h in enumerate(hdus):
        w = WCS(h.header)
        assert w.wcs.ctype[0] == "RA---TAN" and w.wcs.ctype[1] == "DEC--TAN"
        assert h.data.shape == (128, 160)
        assert (h.header["TILEIY"], h.header["TILEIX"]) == divmod(k, 3)
        scale = np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix))) * 3600
        assert scale == pytest.approx(1.0)
        rot = h.header["ROTDEG"]
        assert abs(rot) <= 1.5
        rots.append(rot)
    assert len(set(rots)) == 6  # distinct random rotations
    # Neighbours along x are (1 - overlap) tile widths apart.
    c0 = WCS(hdus[0].header).pixel_to_world(79.5, 63.5)
    c1 = WCS(hdus[1].header).pixel_to_world(79.5, 63.5)
    assert c0.separation(c1).arcsec == pytest.approx(160 * 0.75, rel=1e-3)
    g = make_survey(1, 1, frame="galactic", **SMALL)[0]
    assert WCS(g.header).wcs.ctype[0] == "GLON-TAN"
    assert make_survey(1, 1, dtype=np.float64, **SMALL)[0].data.dtype == np.float64


def test_nan_blobs_present():
    hdus = make_survey(2, 2, nan_blobs=2, **SMALL)
    for h in hdus:
        n = np.isnan(h.data).sum()
        assert 0 < n < 0.5 * h.data.size
    for h in make_survey(2, 2, nan_blobs=0, **SMALL):
        assert not np.isnan(h.data).any()


def test_background_offsets_applied():
    offsets = [0.0, 5.0, -3.0, 10.5]
    base = make_survey(2, 2, nan_blobs=1, **SMALL)
    shifted = make_survey(2, 2, nan_blobs=1, background_offsets=offsets, **SMALL)
    for h0, h1, off in zip(base, shifted, offsets):
        assert h1.header["BKGOFF"] == off
        np.testing.assert_array_equal(np.isnan(h0.data), np.isnan(h1.data))
        diff = (h1.data - h0.data)[np.isfinite(h0.data)]
        np.testing.assert_allclose(diff, off, atol=1e-3)
    # A scalar applies to all tiles; a wrong length is an error.
    s = make_survey(1, 2, background_offsets=2.0, nan_blobs=0, **SMALL)
    b = make_survey(1, 2, nan_blobs=0, **SMALL)
    np.testing.assert_allclose(s[1].data - b[1].data, 2.0, atol=1e-3)
    with pytest.raises(ValueError, match="background_offsets"):
        make_survey(2, 2, background_offsets=[1.0, 2.0], **SMALL)


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_overlaps_agree_between_neighbours(noise):
    reproject = pytest.importorskip("reproject")
    hdus = make_survey(2, 1, nan_blobs=0, noise=noise, seed=7, density=5e-3, tile_shape=(160, 160), overlap=0.4)
    a, b = hdus
    wa = WCS(a.header)
    b_on_a, fp = reproject.reproject_interp((b.data, WCS(b.header)), wa, shape_out=a.data.shape, order="bicubic")
    # Overlap region: full coverage by b, away from b's edges.
    inside = (fp > 0.99) & np.isfinite(b_on_a)
    inside[:4] = inside[-4:] = False
    inside[:, :4] = inside[:, -4:] = False
    assert inside.sum() > 0.3 * inside.size
    ys, xs = _local_maxima(np.where(inside, a.data, np.nan), threshold=6.0)
    r = 4
    stars = [(y, x) for y, x in zip(ys, xs) if inside[y - r : y + r + 1, x - r : x + r + 1].all()]
    assert len(stars) >= 5
    for y, x in stars:
        fa = a.data[y - r : y + r + 1, x - r : x + r + 1].sum()
        fb = b_on_a[y - r : y + r + 1, x - r : x + r + 1].sum()
        # Aperture noise: 81 pixels, two independent images.
        tol = 5 * noise * np.sqrt(2 * (2 * r + 1) ** 2) + 0.03 * abs(fa) + 0.5
        assert abs(fa - fb) < tol, (y, x, fa, fb)
    # Pixel-wise: the difference is noise (plus small interpolation error).
    diff = (a.data - b_on_a)[inside]
    assert abs(np.median(diff)) < 0.1 + 0.1 * noise
    if noise:
        assert np.std(diff) < 2.0 * noise
    else:
        # Noise-free tiles agree to interpolation error (a pixel of
        # misregistration would give differences of several units here).
        assert np.std(diff) < 0.1


def test_survey_output_wcs_covers_tiles():
    hdus = make_survey(3, 2, max_rotation_deg=3.0, **SMALL)
    w, shape = survey_output_wcs(hdus)
    assert w.array_shape == shape
    for h in hdus:
        wt = WCS(h.header)
        ny, nx = h.data.shape
        xs = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
        ys = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
        x, y = w.world_to_pixel(wt.pixel_to_world(xs, ys))
        assert x.min() >= -0.5 and x.max() <= shape[1] - 0.5
        assert y.min() >= -0.5 and y.max() <= shape[0] - 0.5
    # Roughly the union's size: 160 + 2*120 wide, 128 + 96 high (+ rotation, pad).
    assert 400 <= shape[1] <= 430 and 224 <= shape[0] <= 250
    w2, shape2 = survey_output_wcs(hdus, pixel_scale_arcsec=2.0)
    assert abs(shape2[1] - shape[1] / 2) < 6


def test_write_survey(tmp_path):
    hdus = make_survey(2, 1, **SMALL)
    paths = write_survey(hdus, tmp_path / "tiles")
    assert len(paths) == 2
    for p, h in zip(paths, hdus):
        with fits.open(p) as f:
            np.testing.assert_array_equal(f[0].data, h.data)
            assert WCS(f[0].header).wcs.ctype[0] == "RA---TAN"


def test_make_star_field_and_render_flux():
    w = tile_wcs((10.0, 20.0), (64, 80), pixel_scale_arcsec=2.0, rotation_deg=30.0)
    img = make_star_field((64, 80), w, n_stars=20, noise=0.5, nan_blobs=1, seed=2)
    assert img.shape == (64, 80) and img.dtype == np.float32
    assert np.isnan(img).any()
    np.testing.assert_array_equal(img, make_star_field((64, 80), w, n_stars=20, noise=0.5, nan_blobs=1, seed=2))
    # One star: flux conserved (surface brightness x pixel area) and centroid at the WCS position.
    lon, lat = w.wcs_pix2world([[30.3, 20.7]], 0)[0]
    one = render_stars((64, 80), w, {"lon": [lon], "lat": [lat], "flux": [1000.0]}, fwhm_arcsec=6.0)
    yy, xx = np.indices(one.shape)
    s = one.sum()
    assert s * 4.0 == pytest.approx(1000.0, rel=1e-4)
    assert (one * xx).sum() / s == pytest.approx(30.3, abs=1e-3)
    assert (one * yy).sum() / s == pytest.approx(20.7, abs=1e-3)


def test_full_size_generation_is_fast():
    import time

    t0 = time.perf_counter()
    hdus = make_survey(2, 1, tile_shape=(2048, 2048))
    dt = time.perf_counter() - t0
    assert len(hdus) == 2 and hdus[0].data.shape == (2048, 2048)
    assert dt < 10.0  # ~0.1 s per tile when the machine is quiet
