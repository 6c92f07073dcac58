"""return_type='dask' (lazy results equal to the eager ones bit for bit) and input forms."""

import numpy as np
import pytest

import numbamosaic as nm
from conftest import centred_tan_wcs

da = pytest.importorskip("dask.array")


def make_wcs(crval, scale, rot=0.0, n=32):
    """An n x n TAN WCS centred on ``crval`` (the suite's shared helper)."""
    return centred_tan_wcs((n, n), crval, scale, rot)


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(32, 32)).astype(np.float32)
    data[5, 7] = np.nan
    return data, make_wcs((10, 20), 1e-3), make_wcs((10.002, 20.001), 1.1e-3, rot=20, n=40)


@pytest.mark.parametrize("method", ["interp", "exact", "adaptive"])
def test_lazy_equals_eager_bitwise(case, method):
    data, win, wout = case
    func = getattr(nm, f"reproject_{method}")
    eager = func((data, win), wout, shape_out=(40, 40))
    lazy = func((data, win), wout, shape_out=(40, 40), return_type="dask", block_size=(16, 12))
    assert isinstance(lazy[0], da.Array) and lazy[0].chunks[0] == (16, 16, 8)
    for scheduler in ("threads", "synchronous"):
        value, footprint = da.compute(*lazy, scheduler=scheduler)
        assert value.dtype == eager[0].dtype == np.float32
        np.testing.assert_array_equal(value, eager[0])
        np.testing.assert_array_equal(footprint, eager[1])
    only = func((data, win), wout, shape_out=(40, 40), return_type="dask", return_footprint=False)
    np.testing.assert_array_equal(only.compute(), eager[0])


def test_lazy_errors(case):
    data, win, wout = case
    with pytest.raises(ValueError, match="dask_method"):
        nm.reproject_interp((data, win), wout, shape_out=(40, 40), return_type="dask", dask_method="bogus")
    with pytest.raises(ValueError, match="return_type"):
        nm.reproject_interp((data, win), wout, shape_out=(40, 40), return_type="zarr")
    with pytest.raises(ValueError, match="output_array"):
        nm.reproject_interp((data, win), wout, shape_out=(40, 40), return_type="dask", output_array=np.empty((40, 40)))


class _Recorder:
    """An array that records which slices dask reads from it."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.rows = set()

    def __getitem__(self, index):
        ys = index[0] if isinstance(index, tuple) else index
        self.rows.update(range(*ys.indices(self.shape[0])))
        return self.array[index]


def test_dask_input_computes_only_what_the_output_needs():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 64)).astype(np.float32)
    win = make_wcs((10, 20), 1e-3, n=64)
    wout = make_wcs((10, 20.012), 0.9e-3, rot=10, n=16)  # near the input's top edge
    rec = _Recorder(x)
    lazy_in = da.from_array(rec, chunks=16, asarray=False)
    got = nm.reproject_interp((lazy_in, win), wout, shape_out=(16, 16))
    ref = nm.reproject_interp((x, win), wout, shape_out=(16, 16))
    assert 0 < len(rec.rows) < 40  # of 64 rows
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-6 * np.ptp(x))
    np.testing.assert_array_equal(got[1], ref[1])
    # the same through the mosaic, with a NumPy input next to it
    other = (x, make_wcs((10.001, 20.0), 1e-3, n=64))
    rec.rows.clear()
    m = nm.reproject_and_coadd([(lazy_in, win), other], wout, shape_out=(16, 16), reproject_function=nm.reproject_interp)
    r = nm.reproject_and_coadd([(x, win), other], wout, shape_out=(16, 16), reproject_function=nm.reproject_interp)
    assert 0 < len(rec.rows) < 40
    np.testing.assert_allclose(m[0], r[0], rtol=0, atol=1e-6 * np.ptp(x))


class _PlaneRecorder(_Recorder):
    """A cube ``(nz, ny, nx)`` that records which rows of its planes dask reads."""

    def __getitem__(self, index):
        ys = index[1] if isinstance(index, tuple) and len(index) > 1 else slice(None)
        self.rows.update(range(*ys.indices(self.shape[1])))
        return self.array[index]


def test_dask_cube_input_computes_only_what_the_output_needs():
    """A dask cube (leading axes on a 2-D WCS): only the input box the output reaches is
    computed, every plane of it, in the single-image functions and in the cube mosaic."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 64, 64)).astype(np.float32)
    win = make_wcs((10, 20), 1e-3, n=64)
    wout = make_wcs((10, 20.012), 0.9e-3, rot=10, n=16)  # near the input's top edge
    rec = _PlaneRecorder(x)
    lazy_in = da.from_array(rec, chunks=(3, 16, 16), asarray=False)
    for fn in (nm.reproject_interp, nm.reproject_exact, nm.reproject_adaptive):
        rec.rows.clear()
        got = fn((lazy_in, win), wout, shape_out=(3, 16, 16))
        ref = fn((x, win), wout, shape_out=(3, 16, 16))
        assert 0 < len(rec.rows) < 40, fn.__name__  # of 64 rows
        np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-5 * np.ptp(x), err_msg=fn.__name__)
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-6, err_msg=fn.__name__)
    other = (x, make_wcs((10.001, 20.0), 1e-3, n=64))
    rec.rows.clear()
    m = nm.reproject_and_coadd([(lazy_in, win), other], wout, shape_out=(3, 16, 16),
                               reproject_function=nm.reproject_interp)
    r = nm.reproject_and_coadd([(x, win), other], wout, shape_out=(3, 16, 16), reproject_function=nm.reproject_interp)
    assert 0 < len(rec.rows) < 40
    np.testing.assert_allclose(m[0], r[0], rtol=0, atol=1e-5 * np.ptp(x))
    np.testing.assert_allclose(m[1], r[1], rtol=0, atol=1e-6)


def _avm_png(tmp_path, data, wcs, name):
    Image = pytest.importorskip("PIL.Image")
    AVM = pytest.importorskip("pyavm").AVM
    plain = tmp_path / f"plain-{name}"
    Image.fromarray(data).save(plain)
    out = tmp_path / name
    AVM.from_wcs(wcs, shape=data.shape[:2]).embed(str(plain), str(out))
    return out


def test_png_with_avm_tags_read_as_reproject(tmp_path):
    from reproject.utils import parse_input_data as rp_parse

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)
    wcs = make_wcs((150.0, 2.0), 1e-3, rot=0, n=32)
    path = _avm_png(tmp_path, rgb, wcs, "rgb.png")
    from numbamosaic.io import parse_input_data

    ours, theirs = parse_input_data(str(path)), rp_parse(str(path))
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].shape == (3, 24, 32)
    pix = np.array([[0.0, 0.0], [31.0, 23.0], [10.5, 4.2]])
    np.testing.assert_allclose(ours[1].wcs_pix2world(pix, 0), theirs[1].wcs_pix2world(pix, 0), rtol=0, atol=1e-12)
    # the RGB image reprojects as a cube (3, ny, nx); onto its own WCS it is unchanged
    rgb_out = nm.reproject_interp(str(path), theirs[1], shape_out=(24, 32), return_footprint=False)
    np.testing.assert_array_equal(rgb_out, theirs[0].astype(np.float32))
    # a greyscale image (reproject cannot read it) reprojects as a 2-D image
    grey = _avm_png(tmp_path, rgb[..., 0], wcs, "grey.png")
    value = nm.reproject_interp(str(grey), theirs[1], shape_out=(24, 32), return_footprint=False)
    np.testing.assert_array_equal(value, rgb[::-1, :, 0].astype(np.float32))


def test_hdu_selection_follows_reproject(tmp_path):
    from astropy.io import fits
    from reproject.utils import parse_input_data as rp_parse

    from numbamosaic.io import parse_input_data

    w = make_wcs((10, 20), 1e-3)
    primary = fits.PrimaryHDU(np.full((32, 32), 1.0, np.float32), header=w.to_header())
    sci = fits.ImageHDU(np.full((32, 32), 2.0, np.float32), header=w.to_header(), name="SCI")
    path = tmp_path / "two.fits"
    fits.HDUList([primary, sci]).writeto(path)
    for hdu_in in (0, 1, "SCI", ("SCI", 1)):
        with fits.open(path) as hdul:
            theirs = np.array(rp_parse(hdul, hdu_in=hdu_in)[0])
        np.testing.assert_array_equal(parse_input_data(str(path), hdu_in=hdu_in)[0], theirs)
    # the single-image functions default to hdu_in=0, as reproject's
    value = nm.reproject_interp(str(path), w, shape_out=(32, 32), return_footprint=False)
    assert np.nanmax(value) == 1.0
    # more than one image HDU and no hdu_in: an error, as in reproject
    with pytest.raises(ValueError, match="hdu_in"):
        nm.reproject_and_coadd([str(path)], w, shape_out=(32, 32))
