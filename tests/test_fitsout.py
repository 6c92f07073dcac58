"""Mosaics streamed into FITS files (``mosaic_to_fits``, ``FitsMosaic``, the CLI's writer).

Tiny inputs (2 x 2 tiles of 64 x 72 px, bilinear float32 FITS, as in
test_cli.py) so that no new kernel variant is compiled.
"""

import errno
import os

import numpy as np
import pytest
from astropy.io import fits

import numbamosaic
from numbamosaic import _fitsout, cli, mosaic_to_fits, plan_mosaic, reproject_and_coadd
from numbamosaic._fitsout import DiskFullError, FitsMosaic, provenance_header, write_mosaic
from numbamosaic.synthetic import make_survey, survey_output_wcs, write_survey


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    d = tmp_path_factory.mktemp("fitsout")
    hdus = make_survey(2, 2, tile_shape=(64, 72), overlap=0.2, nan_blobs=0, seed=5, n_stars=40)
    paths = [str(p) for p in write_survey(hdus, d / "tiles")]
    wcs, shape = survey_output_wcs(hdus)
    # a margin of empty output around the tiles: some tiles have no input at all
    wcs = wcs.deepcopy()
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + 24, wcs.wcs.crpix[1] + 40]
    shape = (shape[0] + 80, shape[1] + 48)
    wcs.array_shape = shape
    return paths, wcs, shape


def _no_fallocate(fd, offset, length):
    raise OSError(errno.EOPNOTSUPP, "Operation not supported")


def _cards(header):
    return [(c.keyword, c.value) for c in header.cards if c.keyword != "DATE"]


@pytest.mark.parametrize("mode", ["reserved", "sparse"])
def test_streamed_file_is_bitwise_the_in_memory_mosaic(survey, tmp_path, monkeypatch, mode):
    paths, wcs, shape = survey
    if mode == "sparse":  # a file system without fallocate: the file is only extended
        monkeypatch.setattr(os, "posix_fallocate", _no_fallocate)
    kw = dict(shape_out=shape, tile_size=32, parallel=2, blank_pixel_value=np.nan)
    ref, ref_fp = reproject_and_coadd(paths, wcs, **kw)
    assert not ref_fp[:32, :32].any()  # the margin leaves whole tiles without inputs
    out = tmp_path / "m.fits"
    prov = provenance_header(method="bilinear", combine="mean", inputs=paths, command="--test")
    assert mosaic_to_fits(paths, wcs, out, provenance=prov, **kw) == str(out)
    assert os.listdir(tmp_path) == ["m.fits"]
    with fits.open(out) as hdul:
        hdul.verify("exception")
        data, fp = hdul[0].data, hdul["FOOTPRINT"].data
        assert data.dtype == np.dtype(">f4") and fp.dtype == np.dtype(">f4")
        # bitwise: the same bytes as the in-memory mosaic (NaN blanks included)
        assert np.array_equal(data.astype("<f4").view("<u4"), ref.view("<u4"))
        assert np.array_equal(fp.astype("<f4").view("<u4"), ref_fp.view("<u4"))
        streamed = [h.header for h in hdul]
    # the same headers, card for card, as the in-memory writer
    write_mosaic(tmp_path / "ref.fits", ref, ref_fp, wcs, provenance=prov)
    with fits.open(tmp_path / "ref.fits") as hdul:
        assert [_cards(h) for h in streamed] == [_cards(h.header) for h in hdul]
    assert streamed[0]["NMIN0004"] == paths[3] and streamed[1]["EXTNAME"] == "FOOTPRINT"
    # the planner knows the outputs are file areas: full-width strips, no output memory
    big = (4000, 4000)
    with FitsMosaic(tmp_path / "p.fits", big, np.float32, wcs) as fm:
        plan = plan_mosaic(paths, wcs, shape_out=big, output_array=fm.array, output_footprint=fm.footprint)
    in_memory = plan_mosaic(paths, wcs, shape_out=big)
    assert plan.outputs == "file" and in_memory.outputs == "memory"
    assert plan.tile_shape[1] == big[1] and plan.tile_shape[0] * big[1] <= 512 * 512
    assert in_memory.peak_memory > 2 * 4000 * 4000 * 4 > 8 * plan.peak_memory
    assert sorted(os.listdir(tmp_path)) == ["m.fits", "ref.fits"]


def test_default_provenance_and_overwrite(survey, tmp_path):
    paths, wcs, shape = survey
    out = tmp_path / "m.fits"
    mosaic_to_fits(paths[:2], wcs, out, shape_out=shape, combine_function="max")
    h = fits.getheader(out)
    assert (h["NMCOMBIN"], h["NMMETHOD"], h["NMNINPUT"], h["NMIN0002"]) == ("max", "bilinear", 2, paths[1])
    with pytest.raises(FileExistsError):
        mosaic_to_fits(paths, wcs, out, shape_out=shape)
    mosaic_to_fits(paths, wcs, out, shape_out=shape, overwrite=True)
    assert fits.getheader(out)["NMNINPUT"] == 4
    assert os.listdir(tmp_path) == ["m.fits"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_nothing_left_on_error_or_interrupt(survey, tmp_path, exc):
    paths, wcs, shape = survey
    out = tmp_path / "m.fits"
    out.write_bytes(b"old")
    seen = []

    def progress(it):
        for k in it:
            seen.append(k)
            assert any(n.endswith(".part") for n in os.listdir(tmp_path))  # being written
            raise exc("stop")

    with pytest.raises(exc):
        mosaic_to_fits(paths, wcs, out, shape_out=shape, overwrite=True, tile_size=32, progress_bar=progress)
    assert seen and os.listdir(tmp_path) == ["m.fits"] and out.read_bytes() == b"old"


def test_full_disk(survey, tmp_path, monkeypatch, capsys):
    paths, wcs, shape = survey
    out = tmp_path / "m.fits"

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    # 1. the file cannot be reserved: refused before any work, with the sizes
    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(DiskFullError, match="disk full") as info:
        mosaic_to_fits(paths, wcs, out, shape_out=shape)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(out)
    assert os.listdir(tmp_path) == []
    # 2. no fallocate and the disk fills up while tiles are written (pwrite)
    monkeypatch.setattr(os, "posix_fallocate", _no_fallocate)
    real_pwrite, calls = os.pwrite, []

    def pwrite(fd, data, pos):
        calls.append(pos)
        if len(calls) > 5:  # two headers, a few strips, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, pos)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with pytest.raises(DiskFullError, match="disk full"):
        mosaic_to_fits(paths, wcs, out, shape_out=shape, tile_size=32)
    assert os.listdir(tmp_path) == []
    # 3. the command line says so in one line naming the file, exit status 1
    calls.clear()
    assert cli.main(["mosaic", *paths, "-o", str(out), "--tile-size", "32", "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("numbamosaic: error: disk full") and str(out) in err and "\n" not in err
    assert os.listdir(tmp_path) == []


def test_area_checks(tmp_path, survey):
    paths, wcs, shape = survey
    with FitsMosaic(tmp_path / "a.fits", (4, 5), np.float64, wcs) as fm:
        a = fm.array
        assert a.shape == (4, 5) and a.dtype == np.dtype(">f8") and numbamosaic._common.is_chunked_output(a)
        a[1:3, 0:5] = np.arange(10.0).reshape(2, 5)
        fm.footprint[0:4, 2:4] = 2.0
        with pytest.raises(ValueError):
            a[0:1, 0:2] = np.zeros((2, 2))
        with pytest.raises(TypeError):
            a[0] = 1.0
        fm.commit()
        assert fm.covered_pixels == 8
    data = fits.getdata(tmp_path / "a.fits")
    assert data.dtype == np.dtype(">f8")
    np.testing.assert_array_equal(data[1:3], np.arange(10.0).reshape(2, 5))
    assert not data[0].any() and not data[3].any()
    assert fits.getdata(tmp_path / "a.fits", "FOOTPRINT").sum() == 16
    assert _fitsout.fits_size((4, 5), np.float64) >= os.path.getsize(tmp_path / "a.fits")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
def test_unsigned_areas_round_trip(tmp_path, survey, dtype):
    """Unsigned extensions (stored signed with BZERO, the top bit flipped in the write block; bytes as they are):
    2-D and 3-D tiles, full-width and partial boxes, scalars (0 = the stored -2**(bits-1)), big-endian
    and wider integer tiles read back as the values written."""
    paths, wcs, shape = survey
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(1)
    a2 = rng.integers(0, top, (6, 7), endpoint=True).astype(dtype)
    a2[0, :3] = [0, top, 1 << (8 * np.dtype(dtype).itemsize - 1)]
    a3 = rng.integers(0, top, (2, 6, 7), endpoint=True).astype(dtype)
    with FitsMosaic(tmp_path / "u.fits", (6, 7), np.float32, wcs, extensions=[("U2", dtype, (6, 7), None)]) as fm:
        u2 = fm.extensions["U2"]
        u2[0:4, 0:7] = a2[:4]  # full width: one pwrite
        u2[4:6, 2:7] = a2[4:, 2:].astype(np.int64)  # partial rows, a wider integer type
        u2[4:6, 0:2] = a2[4:, :2].astype(np.dtype(dtype).newbyteorder(">"))  # big-endian values
        u3 = fm.append_image("U3", dtype, (2, 6, 7))
        u3[0:2, 0:3, 0:7] = a3[:, :3]
        u3[0:2, 3:6, 0:7] = 0  # a scalar zero is written (its stored bytes are not zero)
        fm.commit()
    with fits.open(tmp_path / "u.fits") as hdul:
        got2, got3 = hdul["U2"].data, hdul["U3"].data
        assert got2.dtype == dtype and got3.dtype == dtype
        assert hdul["U2"].header.get("BZERO", 0) == (0 if dtype == np.uint8 else top // 2 + 1)
        np.testing.assert_array_equal(got2, a2)
        np.testing.assert_array_equal(got3[:, :3], a3[:, :3])
        assert not got3[:, 3:].any()


def test_full_tmpfs(survey, tmp_path):
    """A real full file system: a 1 MiB tmpfs (needs root to mount; skipped otherwise)."""
    import subprocess

    paths, wcs, shape = survey
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        (mnt / "filler").write_bytes(b"\0" * (1024 * 1024 - 200 * 1024))  # ~200 KiB left: the file needs ~300
        with pytest.raises(DiskFullError, match="disk full") as info:
            mosaic_to_fits(paths, wcs, mnt / "m.fits", shape_out=shape)
        assert info.value.filename == str(mnt / "m.fits") and "free" in str(info.value)
        assert os.listdir(mnt) == ["filler"]
        (mnt / "filler").unlink()
        mosaic_to_fits(paths, wcs, mnt / "m.fits", shape_out=shape)  # fits once there is room
        with fits.open(mnt / "m.fits") as hdul:
            hdul.verify("exception")
        assert os.listdir(mnt) == ["m.fits"]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_outputs_are_written_once_everywhere(survey):
    """Fresh outputs are not pre-filled any more: every pixel must come from the
    kernels (single image: the box) or the threads (mosaic: empty tiles too)."""
    from numbamosaic import reproject_interp

    paths, wcs, shape = survey
    with fits.open(paths[0]) as hdul:
        data, header = hdul[0].data.astype(np.float32), hdul[0].header
    fresh = reproject_interp((data, header), wcs, shape_out=shape)
    dirty = (np.full(shape, 7.0, np.float32), np.full(shape, 7.0, np.float32))
    got = reproject_interp((data, header), wcs, shape_out=shape, output_array=dirty[0], output_footprint=dirty[1])
    assert np.isnan(fresh[0]).any() and (fresh[1] == 0).any()  # the output reaches beyond the input
    for a, b in zip(got, fresh):
        assert np.array_equal(a, b, equal_nan=True)
    kw = dict(shape_out=shape, tile_size=32, parallel=2)
    ref = reproject_and_coadd(paths, wcs, **kw)
    dirty = (np.full(shape, 7.0, np.float32), np.full(shape, 7.0, np.float32))
    got = reproject_and_coadd(paths, wcs, output_array=dirty[0], output_footprint=dirty[1], **kw)
    for a, b in zip(got, ref):
        assert np.array_equal(a, b, equal_nan=True)
