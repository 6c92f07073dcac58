"""Input / output parsing of ``reproject_interp`` (shared by all methods).

Every accepted input form and output projection form must give the same
result; every dtype and byte order gives the float64 result within the
precision of the documented output dtype; bad arguments fail early with a
clear exception whose message names the offending argument.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import NDData
from astropy.wcs import WCS
from astropy.wcs.wcsapi import HighLevelWCSWrapper
from conftest import make_header, make_wcs, star_field

from numbamosaic import reproject_interp

SHAPE_IN = (48, 64)
SHAPE_OUT = (50, 60)

pytestmark = pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")


@pytest.fixture(scope="module")
def data():
    return star_field(SHAPE_IN, seed=3)


@pytest.fixture(scope="module")
def header_in():
    return make_header(shape=SHAPE_IN, rot=5.0)


@pytest.fixture(scope="module")
def header_out():
    return make_header(shape=SHAPE_OUT, rot=20.0, cdelt=1.8e-3, crval=(150.004, 29.998))


def wcs_of(header):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WCS(header)


@pytest.fixture(scope="module")
def reference(data, header_in, header_out):
    """Result for the plainest form: (float64 array, WCS) -> (WCS, shape_out)."""
    out, fp = reproject_interp((data, wcs_of(header_in)), wcs_of(header_out), shape_out=SHAPE_OUT)
    assert 0.3 < fp.mean() < 1.0  # partial overlap: the comparison covers both cases
    return out, fp


def assert_same(result, reference):
    out, fp = result
    ref, ref_fp = reference
    assert out.shape == SHAPE_OUT and fp.shape == SHAPE_OUT
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fp, ref_fp)


# --------------------------------------------------------------------------- input forms


@pytest.fixture(scope="module")
def fits_files(tmp_path_factory, data, header_in):
    d = tmp_path_factory.mktemp("io")
    single = d / "single.fits"
    fits.PrimaryHDU(data, header_in).writeto(single)
    multi = d / "multi.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(np.zeros((3, 3)), name="JUNK"), fits.ImageHDU(data, header_in, name="SCI")]
    ).writeto(multi)
    comp = d / "comp.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header_in, compression_type="GZIP_2", quantize_level=0)]).writeto(comp)
    table = d / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column(name="a", format="E", array=np.zeros(3))])]).writeto(table)
    return dict(single=single, multi=multi, comp=comp, table=table)


def input_forms(data, header_in, files):
    w = wcs_of(header_in)
    return {
        "path-str": (str(files["single"]), {}),
        "path-Path": (Path(files["single"]), {}),
        "HDUList": (fits.open(files["single"]), {}),
        "HDUList-hdu_in-int": (fits.open(files["multi"]), dict(hdu_in=2)),
        "HDUList-hdu_in-name": (fits.open(files["multi"]), dict(hdu_in="SCI")),
        "path-hdu_in": (str(files["multi"]), dict(hdu_in="SCI")),
        "PrimaryHDU": (fits.PrimaryHDU(data, header_in), {}),
        "ImageHDU": (fits.ImageHDU(data, header_in), {}),
        "CompImageHDU": (fits.CompImageHDU(data, header_in, compression_type="GZIP_2", quantize_level=0), {}),
        "CompImageHDU-file": (str(files["comp"]), dict(hdu_in=1)),
        "array-WCS": ((data, w), {}),
        "array-Header": ((data, header_in), {}),
        "array-HighLevelWCSWrapper": ((data, HighLevelWCSWrapper(w)), {}),
        "NDData": (NDData(data, wcs=w), {}),
    }


FORM_NAMES = [
    "path-str", "path-Path", "HDUList", "HDUList-hdu_in-int", "HDUList-hdu_in-name", "path-hdu_in",
    "PrimaryHDU", "ImageHDU", "CompImageHDU", "CompImageHDU-file", "array-WCS", "array-Header",
    "array-HighLevelWCSWrapper", "NDData",
]


@pytest.mark.parametrize("form", FORM_NAMES)
def test_input_forms_give_the_same_result(form, data, header_in, header_out, fits_files, reference):
    forms = input_forms(data, header_in, fits_files)
    assert set(forms) == set(FORM_NAMES)
    input_data, kw = forms[form]
    try:
        result = reproject_interp(input_data, wcs_of(header_out), shape_out=SHAPE_OUT, **kw)
    finally:
        for f, _ in forms.values():  # the HDULists this test opened
            if isinstance(f, fits.HDUList):
                f.close()
    assert_same(result, reference)


def test_non_contiguous_input_view(data, header_in, header_out, reference):
    """A strided view (one more kernel layout) gives the same result as the copy."""
    big = np.zeros((2 * SHAPE_IN[0], 2 * SHAPE_IN[1]))
    big[1::2, ::2] = data
    view = big[1::2, ::2]
    assert not view.flags.c_contiguous
    assert_same(reproject_interp((view, header_in), wcs_of(header_out), shape_out=SHAPE_OUT), reference)


# --------------------------------------------------------------------------- output projection forms


def test_output_header_with_naxis(data, header_in, header_out, reference):
    assert header_out["NAXIS1"] == SHAPE_OUT[1] and header_out["NAXIS2"] == SHAPE_OUT[0]
    assert_same(reproject_interp((data, header_in), header_out), reference)


def test_output_header_with_explicit_shape_out(data, header_in, header_out, reference):
    h = header_out.copy()
    h["NAXIS1"], h["NAXIS2"] = 7, 9  # shape_out wins over NAXISn
    assert_same(reproject_interp((data, header_in), h, shape_out=SHAPE_OUT), reference)


def test_output_wcs_with_shape_out(data, header_in, header_out, reference):
    assert_same(reproject_interp((data, header_in), wcs_of(header_out), shape_out=SHAPE_OUT), reference)


def test_output_wcs_with_array_shape(data, header_in, header_out, reference):
    w = wcs_of(header_out)
    w.array_shape = SHAPE_OUT
    assert_same(reproject_interp((data, header_in), w), reference)


def test_output_high_level_wrapper(data, header_in, header_out, reference):
    w = wcs_of(header_out)
    assert_same(reproject_interp((data, header_in), HighLevelWCSWrapper(w), shape_out=SHAPE_OUT), reference)


@pytest.mark.parametrize("as_path", [False, True])
def test_output_fits_path(as_path, tmp_path, data, header_in, header_out, reference):
    path = tmp_path / "target.fits"
    fits.PrimaryHDU(np.zeros(SHAPE_OUT, np.float32), header_out).writeto(path)
    target = path if as_path else str(path)
    assert_same(reproject_interp((data, header_in), target), reference)


# --------------------------------------------------------------------------- dtypes and byte order

NATIVE_CODES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "g"]
BIG_ENDIAN_CODES = [">i2", ">i4", ">i8", ">u2", ">u4", ">u8", ">f2", ">f4", ">f8"]
FLOAT32_OUT = {"?", "i1", "i2", "u1", "u2", "f2", "f4"}  # documented: <= 16-bit ints, f2, f4


def typed_data(base, code):
    """``base`` rescaled to a good part of the range of dtype ``code``."""
    dt = np.dtype(code)
    unit = (base - base.min()) / np.ptp(base)  # 0..1
    if dt.kind == "b":
        return (unit > 0.3).astype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        lo, hi = max(info.min, -(2.0**40)), min(info.max, 2.0**40)
        return np.round(lo + (hi - lo) * 0.999 * unit).astype(dt)
    return (base * 10).astype(dt)


@pytest.mark.parametrize("code", NATIVE_CODES + BIG_ENDIAN_CODES)
@pytest.mark.parametrize("order", ["bilinear", "bicubic"])
def test_dtype_matrix(code, order, data, header_in, header_out):
    arr = typed_data(data, code)
    assert arr.dtype == np.dtype(code)
    w_in, w_out = wcs_of(header_in), wcs_of(header_out)
    ref, ref_fp = reproject_interp((arr.astype(np.float64), w_in), w_out, shape_out=SHAPE_OUT, order=order)
    out, fp = reproject_interp((arr, w_in), w_out, shape_out=SHAPE_OUT, order=order)
    expected = np.float32 if code.lstrip("<>=") in FLOAT32_OUT else np.float64
    assert out.dtype == expected and fp.dtype == expected
    assert out.dtype.isnative
    np.testing.assert_array_equal(fp, ref_fp)
    eps = np.finfo(expected).eps
    np.testing.assert_allclose(out, ref, rtol=0, atol=8 * eps * np.nanmax(np.abs(ref)))


@pytest.mark.parametrize("bitpix_dtype", ["f4", "f8", "i2", "i4", "u2"])
@pytest.mark.parametrize("order", ["nearest-neighbor", "bilinear", "bicubic", "lanczos3"])
def test_big_endian_fits_file(bitpix_dtype, order, tmp_path, data, header_in, header_out):
    """FITS data are big-endian (memory-mapped): same result as native-endian data."""
    arr = typed_data(data, bitpix_dtype)
    path = tmp_path / "be.fits"
    fits.PrimaryHDU(arr, header_in).writeto(path)
    with fits.open(path) as hdul:
        on_disk = hdul[0].data
        if bitpix_dtype != "u2":  # u2 is stored as int16 + BZERO and read scaled
            assert on_disk.dtype.byteorder == ">"
        native = np.asarray(on_disk).astype(on_disk.dtype.newbyteorder("="))
    ref, ref_fp = reproject_interp((native, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, order=order)
    out, fp = reproject_interp(str(path), wcs_of(header_out), shape_out=SHAPE_OUT, order=order)
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(fp, ref_fp)


def test_big_endian_array_is_not_modified(data, header_in, header_out):
    arr = data.astype(">f8")
    before = arr.copy()
    reproject_interp((arr, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, order="bicubic")
    assert arr.dtype == np.dtype(">f8")
    np.testing.assert_array_equal(arr, before)


# --------------------------------------------------------------------------- bad input


def _spectral_wcs():
    w = WCS(naxis=2)
    w.wcs.ctype = ["FREQ", "STOKES"]
    w.wcs.set()
    return w


def _wcs_3d():
    w = WCS(naxis=3)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN", "FREQ"]
    w.wcs.crval = [150.0, 30.0, 1e9]
    w.wcs.cdelt = [-2e-3, 2e-3, 1e6]
    w.wcs.set()
    return w


def test_error_non_celestial_input_wcs(data, header_out):
    with pytest.raises(ValueError, match="input_data.*celestial"):
        reproject_interp((data, _spectral_wcs()), wcs_of(header_out), shape_out=SHAPE_OUT)


def test_error_non_celestial_output_wcs(data, header_in):
    with pytest.raises(ValueError, match="output_projection.*celestial"):
        reproject_interp((data, header_in), _spectral_wcs(), shape_out=SHAPE_OUT)


def test_3d_wcs_with_2d_data_uses_its_image_plane(data, header_out):
    # a third WCS axis without a data axis is degenerate: the celestial plane is used
    # (reproject refuses: "Number of dimensions in input and output WCS should match")
    got = reproject_interp((data, _wcs_3d()), wcs_of(header_out), shape_out=SHAPE_OUT, return_footprint=False)
    ref = reproject_interp((data, _wcs_3d().celestial), wcs_of(header_out), shape_out=SHAPE_OUT, return_footprint=False)
    np.testing.assert_array_equal(got, ref)


def test_error_3d_output_wcs_with_long_extra_axis(data, header_in):
    with pytest.raises(ValueError, match="output_projection.*only the two image axes"):
        reproject_interp((data, header_in), _wcs_3d(), shape_out=(3,) + SHAPE_OUT)


def test_3d_data_broadcast(header_in, header_out):
    # reproject's broadcasting: leading axes are planes (tests/test_cubes.py checks the values)
    value = reproject_interp((np.zeros((2,) + SHAPE_IN), header_in), wcs_of(header_out), shape_out=SHAPE_OUT, return_footprint=False)
    assert value.shape == (2,) + tuple(SHAPE_OUT)


@pytest.mark.parametrize(
    "shape_out,exc",
    [((10, 10, 10), ValueError), ((10, 0), ValueError), ((10, -3), ValueError), (10, TypeError), (("a", "b"), TypeError)],
)
def test_error_wrong_shape_out(shape_out, exc, data, header_in, header_out):
    with pytest.raises(exc, match="shape_out"):
        reproject_interp((data, header_in), wcs_of(header_out), shape_out=shape_out)


def test_error_wcs_without_shape(data, header_in):
    w = make_wcs(shape=SHAPE_OUT)
    assert w.array_shape is None
    with pytest.raises(ValueError, match="shape_out"):
        reproject_interp((data, header_in), w)


def test_error_header_without_naxis(data, header_in, header_out):
    h = wcs_of(header_out).to_header()
    with pytest.raises(ValueError, match="output_projection.*shape_out"):
        reproject_interp((data, header_in), h)


@pytest.mark.parametrize("name", ["output_array", "output_footprint"])
def test_error_output_arrays(name, data, header_in, header_out):
    kw = dict(shape_out=SHAPE_OUT)
    ro = np.zeros(SHAPE_OUT)
    ro.flags.writeable = False
    bad = {
        "wrong shape": (np.zeros((SHAPE_OUT[0], SHAPE_OUT[1] + 1)), ValueError),
        "transposed": (np.zeros(SHAPE_OUT[::-1]), ValueError),
        "int dtype": (np.zeros(SHAPE_OUT, dtype=np.int32), ValueError),
        "complex dtype": (np.zeros(SHAPE_OUT, dtype=complex), ValueError),
        "read-only": (ro, ValueError),
        "list": (np.zeros(SHAPE_OUT).tolist(), TypeError),
    }
    for label, (arr, exc) in bad.items():
        with pytest.raises(exc, match=name):
            reproject_interp((data, header_in), wcs_of(header_out), **kw, **{name: arr})


def test_error_output_array_unchanged_on_error(data, header_in, header_out):
    """Argument errors happen before anything is written."""
    out = np.full(SHAPE_OUT, 5.0)
    with pytest.raises(ValueError, match="order"):
        reproject_interp((data, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, order="cubic", output_array=out)
    assert np.all(out == 5.0)


@pytest.mark.parametrize("order", ["cubic", "spline", 5, -1, 1.5, True, None])
def test_error_unknown_order(order, data, header_in, header_out):
    with pytest.raises(ValueError, match="order"):
        reproject_interp((data, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, order=order)


@pytest.mark.parametrize("parallel", [-1, 0, "threads"])
def test_error_parallel(parallel, data, header_in, header_out):
    with pytest.raises(ValueError, match="parallel"):
        reproject_interp((data, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, parallel=parallel)


@pytest.mark.parametrize("as_path", [False, True])
def test_error_missing_fits_file(as_path, tmp_path, header_out):
    missing = tmp_path / "nope.fits"
    with pytest.raises(FileNotFoundError, match="input_data.*nope.fits"):
        reproject_interp(missing if as_path else str(missing), wcs_of(header_out), shape_out=SHAPE_OUT)
    with pytest.raises(FileNotFoundError, match="output_projection.*nope.fits"):
        reproject_interp((np.zeros(SHAPE_IN), header_out), missing if as_path else str(missing))


def test_error_not_a_fits_file(tmp_path, header_out):
    p = tmp_path / "junk.fits"
    p.write_text("this is not FITS")
    with pytest.raises(ValueError, match="input_data"):
        reproject_interp(str(p), wcs_of(header_out), shape_out=SHAPE_OUT)


def test_error_fits_without_image_hdu(fits_files, header_out):
    for hdu_in in (0, 1):
        with pytest.raises(ValueError, match="input_data.*image"):
            reproject_interp(str(fits_files["table"]), wcs_of(header_out), shape_out=SHAPE_OUT, hdu_in=hdu_in)


def test_error_unknown_hdu(fits_files, header_out):
    for hdu_in in (7, "NOPE"):
        with pytest.raises(ValueError, match="input_data"):
            reproject_interp(str(fits_files["multi"]), wcs_of(header_out), shape_out=SHAPE_OUT, hdu_in=hdu_in)


@pytest.mark.parametrize(
    "bad,exc",
    [(5, TypeError), ("not-a-tuple-or-file.fits", FileNotFoundError), ([1, 2], TypeError)],
)
def test_error_bad_input_type(bad, exc, header_out):
    with pytest.raises(exc, match="input_data"):
        reproject_interp(bad, wcs_of(header_out), shape_out=SHAPE_OUT)


def test_error_bad_wcs_objects(data, header_in):
    with pytest.raises(TypeError, match="input_data"):
        reproject_interp((data, 5), make_wcs(), shape_out=SHAPE_OUT)
    with pytest.raises(TypeError, match="output_projection"):
        reproject_interp((data, header_in), 5, shape_out=SHAPE_OUT)


@pytest.mark.parametrize("dtype", [complex, "U4", object])
def test_error_non_numeric_data(dtype, header_in, header_out):
    arr = np.zeros(SHAPE_IN, dtype=dtype)
    with pytest.raises(TypeError, match="input_data"):
        reproject_interp((arr, header_in), wcs_of(header_out), shape_out=SHAPE_OUT)


def test_error_nddata_without_wcs(data, header_out):
    with pytest.raises(ValueError, match="input_data.*wcs"):
        reproject_interp(NDData(data), wcs_of(header_out), shape_out=SHAPE_OUT)


def test_error_return_type(data, header_in, header_out):
    with pytest.raises(ValueError, match="return_type"):
        reproject_interp((data, header_in), wcs_of(header_out), shape_out=SHAPE_OUT, return_type="zarr")


def test_mosaic_input_loads_scaled_fits_path(tmp_path, data, header_in):
    """reproject_and_coadd(['uint16.fits', ...]) fails when the file is loaded."""
    from numbamosaic.mosaic._inputs import DataRef

    arr = typed_data(data, "u2")
    path = tmp_path / "u16.fits"
    fits.PrimaryHDU(arr, header_in).writeto(path)
    assert "BZERO" in fits.getheader(path)
    kernel_array, dtype = DataRef(path=str(path), hdu=0).load()
    assert dtype == np.float32
    np.testing.assert_array_equal(kernel_array, arr.astype(np.float32))


def test_header_memo_sees_rewritten_files_and_hands_out_copies(tmp_path, data, header_in):
    """read_fits_image remembers parsed headers per file identity: a file rewritten
    with another WCS (same path) is parsed again, and each caller gets its own WCS."""
    import os

    from numbamosaic.io import read_fits_image

    path = tmp_path / "memo.fits"
    fits.PrimaryHDU(data=data, header=header_in).writeto(path)
    _, w1, shape, _ = read_fits_image(path, with_data=False)
    w1.wcs.crval = [1.0, 2.0]  # a caller mutating its WCS does not change the next read
    d2, w2, _, _ = read_fits_image(path)
    assert tuple(w2.wcs.crval) == (header_in["CRVAL1"], header_in["CRVAL2"])
    assert isinstance(d2, np.memmap) and d2.shape == shape
    np.testing.assert_array_equal(d2, data)
    del d2

    moved = header_in.copy()
    moved["CRVAL1"] += 1.0
    fits.PrimaryHDU(data=data[::-1].copy(), header=moved).writeto(path, overwrite=True)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new mtime even on a coarse clock
    d3, w3, _, _ = read_fits_image(path)
    assert w3.wcs.crval[0] == moved["CRVAL1"]
    np.testing.assert_array_equal(d3, data[::-1])
