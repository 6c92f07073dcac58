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


# ----------------------------------------------------------------------------- WCS sanity


def _bad_header(kind):
    h = make_wcs().to_header()
    if kind == "singular-cd":
        for k in ("PC1_1", "PC1_2", "PC2_1", "PC2_2", "CDELT1", "CDELT2"):
            h.remove(k, ignore_missing=True)
        h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = 1e-4, 2e-4, 1e-4, 2e-4
    elif kind == "cdelt-zero":
        h["CDELT1"] = 0.0
    elif kind == "crval2-95":
        h["CRVAL2"] = 95.0
    return h


def _bad_wcs(kind):
    w = make_wcs(use_cd=kind == "singular-cd")
    if kind == "nan-crval":
        w.wcs.crval = [np.nan, 30.0]
    elif kind == "singular-cd":
        w.wcs.cd = [[1e-4, 2e-4], [1e-4, 2e-4]]
    elif kind == "cdelt-zero":
        w.wcs.cdelt = [0.0, 2e-3]
    elif kind == "crval2-95":
        w.wcs.crval = [150.0, 95.0]
    return w


BAD_WCS = {"nan-crval": "CRVAL", "singular-cd": "singular", "cdelt-zero": "singular", "crval2-95": "Ill-conditioned"}


@pytest.mark.parametrize("kind", sorted(BAD_WCS))
def test_invalid_wcs_rejected_everywhere(kind, tmp_path, stars):
    """Every entry point refuses a broken WCS with a ValueError naming the
    argument, the input index and the file (no silent all-NaN output, no
    wcslib C file/line)."""
    from astropy.io import fits

    from numbamosaic import find_optimal_celestial_wcs

    good, bad = make_wcs(), _bad_wcs(kind)
    expect = BAD_WCS[kind]
    path = tmp_path / "bad.fits"
    if kind == "nan-crval":  # FITS headers cannot hold NaN: an in-memory input
        bad_input, file_words = (stars, bad), ()
    else:
        fits.PrimaryHDU(stars.astype(np.float32), header=_bad_header(kind)).writeto(path)
        bad_input, file_words = str(path), ("bad.fits",)

    def raises(call, *names):
        with pytest.raises(ValueError) as err:
            call()
        msg = str(err.value)
        for n in (*names, expect):
            assert n in msg, msg
        assert "cextern" not in msg and "line" not in msg.split(":")[0], msg

    raises(lambda: reproject_interp((stars, bad), good, shape_out=(8, 8)), "input_data")
    raises(lambda: reproject_exact((stars, good), bad, shape_out=(8, 8)), "output_projection")
    inputs = [(stars, good), bad_input]
    raises(lambda: reproject_and_coadd(inputs, good, shape_out=(8, 8)), "input_data[1]", *file_words)
    raises(lambda: reproject_and_coadd([(stars, good)], bad, shape_out=(8, 8)), "output_projection")
    raises(lambda: find_optimal_celestial_wcs(inputs), "input_data[1]", *file_words)


# ----------------------------------------------------------------------------- arguments


def test_bad_arguments_named_before_work(stars):
    """Each bad argument raises a TypeError/ValueError naming it, before any
    input is parsed or output allocated (a 200000^2 output would be refused
    first otherwise)."""
    from numbamosaic.mosaic import _coadd

    w = make_wcs()
    good = [(stars, w), (stars, w)]
    huge = dict(shape_out=(200000, 200000))
    cases = [
        (dict(tile_size=0), ValueError, "tile_size"),
        (dict(tile_size=-5), ValueError, "tile_size"),
        (dict(tile_size="big"), TypeError, "tile_size"),
        (dict(clip_sigma=-1), ValueError, "clip_sigma"),
        (dict(clip_sigma=0), ValueError, "clip_sigma"),
        (dict(clip_sigma="a"), TypeError, "clip_sigma"),
        (dict(clip_iters=-1), ValueError, "clip_iters"),
        (dict(clip_iters=2.5), TypeError, "clip_iters"),
        (dict(progress_bar=42), TypeError, "progress_bar"),
        (dict(blank_pixel_value="x"), TypeError, "blank_pixel_value"),
        (dict(hdu_in=1.5), TypeError, "hdu_in"),
        (dict(tmpdir="/no/such/dir"), ValueError, "tmpdir"),
        (dict(ordr="bicubic"), TypeError, "ordr"),
        (dict(input_weights=[np.ones((64, 64))]), ValueError, "input_weights"),
    ]
    calls = []
    orig = _coadd.make_sources
    _coadd.make_sources = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        for kw, exc, word in cases:
            with pytest.raises(exc, match=word):
                reproject_and_coadd(good, w, **huge, **kw)
        with pytest.raises(TypeError, match="input_data.*None"):
            reproject_and_coadd(None, w, **huge)
    finally:
        _coadd.make_sources = orig
    assert calls == []  # no input was parsed
    # negative weights: named with the input index
    with pytest.raises(ValueError, match=r"input_weights\[1\].*>= 0"):
        reproject_and_coadd(good, w, shape_out=(8, 8), input_weights=[np.ones((64, 64)), -np.ones((64, 64))])
    # misspelt keywords of the single-image functions raise, as reproject's do
    with pytest.raises(TypeError, match="ordr"):
        reproject_interp((stars, w), w, shape_out=(8, 8), ordr="bicubic")
    with pytest.raises(TypeError, match="conserv"):
        reproject_exact((stars, w), w, shape_out=(8, 8), conserv="flux")
    with pytest.raises(TypeError, match="return_footprint"):
        reproject_interp((stars, w), w, shape_out=(8, 8), return_footprint="yes")


def test_broken_files_named(tmp_path, stars):
    """A truncated file in a list names its index and path (library and CLI
    paths share it); an empty file as output_projection names the path."""
    from astropy.io import fits

    from numbamosaic import plan_mosaic

    w = make_wcs()
    good, cut = tmp_path / "good.fits", tmp_path / "cut.fits"
    fits.PrimaryHDU(stars.astype(np.float32), header=w.to_header()).writeto(good)
    raw = good.read_bytes()
    cut.write_bytes(raw[: len(raw) - 4000])
    with pytest.raises(ValueError, match=r"input_data\[1\] \('.*cut.fits'\).*truncated"):
        plan_mosaic([str(good), str(cut)], w, shape_out=(8, 8))
    with pytest.raises(ValueError, match=r"input_data \('.*cut.fits'\).*truncated"):
        reproject_interp(str(cut), w, shape_out=(8, 8))
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"output_projection \('.*empty.fits'\)"):
        reproject_and_coadd([str(good)], str(empty), shape_out=(8, 8))


# ----------------------------------------------------------------------------- memory and disk


def test_huge_output_refused_fast_and_small(stars):
    """A 200000 x 200000 mosaic is refused in milliseconds and constant memory
    (no tile grid is enumerated), and the single-image functions refuse an
    output that does not fit in memory instead of allocating it."""
    import time
    import tracemalloc

    from numbamosaic import MosaicMemoryError, plan_mosaic

    w = make_wcs()
    inputs = [(stars, w)] * 3
    plan_mosaic(inputs, w, shape_out=(64, 64))  # warm: imports, psutil
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(MosaicMemoryError, match="no mosaic strategy fits"):
        plan_mosaic(inputs, w, shape_out=(200000, 200000), memory_limit="1GB")
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 20e6, (seconds, peak)
    for func in (reproject_interp, reproject_exact):
        with pytest.raises(MosaicMemoryError, match="output_array"):
            func((stars, w), w, shape_out=(200000, 200000))
    # with the outputs passed by the caller nothing is allocated, so nothing is refused
    out = np.empty((70, 70), np.float32)
    assert reproject_interp((stars, w), w, shape_out=(70, 70), output_array=out, return_footprint=False) is out


def test_planner_tile_bookkeeping_matches_naive():
    """Tile members, maximal depth and resident mapped bytes computed from each
    input's tile ranges equal the naive per-tile enumeration (random boxes,
    margins, tile shapes and thread counts)."""
    from numbamosaic.mosaic._plan import max_depth, resident_bytes, resident_input_bytes, tile_members, tiles_for

    rng = np.random.default_rng(0)
    for _ in range(200):
        ny, nx = (int(v) for v in rng.integers(10, 300, 2))
        boxes = {}
        for i in range(int(rng.integers(1, 30))):
            y0, x0 = int(rng.integers(0, ny - 1)), int(rng.integers(0, nx - 1))
            boxes[i] = (y0, int(rng.integers(y0 + 1, ny + 1)), x0, int(rng.integers(x0 + 1, nx + 1)))
        tile = tuple(int(t) for t in rng.integers(8, 100, 2))
        margin, threads = int(rng.integers(0, 5)), int(rng.integers(1, 4))
        tiles = tiles_for((ny, nx), tile)
        naive = [
            [i for i, (b0, b1, c0, c1) in sorted(boxes.items()) if b0 - margin < y1 and b1 + margin > y0 and c0 - margin < x1 and c1 + margin > x0]
            for (y0, y1, x0, x1) in tiles
        ]
        assert tile_members(tiles, boxes, margin) == naive
        assert max_depth((ny, nx), tile, boxes, margin) == (max(len(m) for m in naive), len(tiles))
        nbytes = {i: int(rng.integers(1, 1000)) for i in boxes if rng.random() < 0.7}
        assert resident_bytes((ny, nx), tile, boxes, margin, nbytes, threads) == resident_input_bytes(naive, nbytes, threads)


def test_custom_function_unwritable_tmpdir_checked_first(tmp_path, stars):
    """intermediate_memmap=True with a tmpdir where no file can be created
    fails before the custom reproject_function runs."""
    import os

    import reproject

    calls = []

    def custom(*args, **kwargs):
        calls.append(1)
        return reproject.reproject_interp(*args, **kwargs)

    if os.geteuid() == 0:
        ro = "/sys"  # root ignores permission bits; sysfs refuses new files
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
    w = make_wcs()
    with pytest.raises(ValueError, match="tmpdir.*cannot create files"):
        reproject_and_coadd([(stars, w)], w, shape_out=(64, 64), reproject_function=custom,
                            intermediate_memmap=True, tmpdir=str(ro))
    assert calls == []


# ----------------------------------------------------------------------------- open files

MANY_SCRIPT = """
import resource, sys, warnings
import numpy as np
warnings.simplefilter("error", ResourceWarning)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from astropy.io import fits
from numbamosaic import reproject_and_coadd
from pathlib import Path
paths = Path(sys.argv[1]).read_text().split()
header = fits.Header.fromtextfile(sys.argv[2])
out, fp = reproject_and_coadd(paths, header, combine_function=sys.argv[4])
np.save(sys.argv[3], np.stack([out, fp]))
import os
print(len(os.listdir("/proc/self/fd")))
"""


def _write_fits(path, header_bytes, data):
    body = data.astype(">f4").tobytes()
    with open(path, "wb") as f:
        f.write(header_bytes + body + b"\0" * (-len(body) % 2880))


@pytest.mark.slow  # ~60 s of CPU: astropy builds 20,000 WCS objects from headers (~3 ms each)
def test_ten_thousand_files_under_256_open_files(tmp_path):
    """10,000 FITS inputs (32 x 32) mosaicked with at most 256 open files
    (``RLIMIT_NOFILE``), no ResourceWarning, files closed on return: the same
    mosaic as the in-memory inputs."""
    import subprocess
    import sys
    from pathlib import Path

    from astropy.io import fits
    from astropy.wcs import WCS

    n_side, side, step = 100, 32, 24  # overlapping grid: up to 4 inputs per output pixel
    h = fits.Header()
    for k, v in (("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", side), ("NAXIS2", side),
                 ("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN"), ("CRVAL1", 150.0), ("CRVAL2", 30.0),
                 ("CDELT1", -2e-4), ("CDELT2", 2e-4), ("CRPIX1", 0.0), ("CRPIX2", 0.0)):
        h[k] = v
    out_header = h.copy()
    ny = nx = (n_side - 1) * step + side
    out_header["NAXIS1"], out_header["NAXIS2"] = nx, ny
    out_header["CRPIX1"] = out_header["CRPIX2"] = ny / 2.0
    rng = np.random.default_rng(1)
    paths, memory = [], []
    for j in range(n_side):
        for i in range(n_side):
            h["CRPIX1"] = ny / 2.0 - i * step
            h["CRPIX2"] = ny / 2.0 - j * step
            data = rng.normal(10, 1, (side, side)).astype(np.float32)
            p = tmp_path / f"t{j:03d}_{i:03d}.fits"
            _write_fits(p, h.tostring().encode(), data)
            paths.append(str(p))
            memory.append((data, WCS(h)))
    (tmp_path / "list.txt").write_text("\n".join(paths))
    out_header.totextfile(tmp_path / "out.hdr")
    env = dict(__import__("os").environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", MANY_SCRIPT, tmp_path / "list.txt", tmp_path / "out.hdr", tmp_path / "r.npy", "mean"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ResourceWarning" not in proc.stderr
    assert int(proc.stdout.split()[-1]) < 64  # every input file closed on return
    got = np.load(tmp_path / "r.npy")
    ref, ref_fp = reproject_and_coadd(memory, out_header, combine_function="mean")
    np.testing.assert_array_equal(got[0], ref)
    np.testing.assert_array_equal(got[1], ref_fp)
    assert ref_fp.max() == 4 and (ref_fp > 0).all()


# ----------------------------------------------------------------------------- command line


def test_cli_output_checks_and_full_disk(tmp_path, stars):
    """-o into a directory where no file can be created: exit 2 before any
    work; a truncated input is named; a full disk is reported as such
    (ENOSPC, however deep it was raised) and leaves nothing behind."""
    import errno
    import os
    import subprocess

    from astropy.io import fits
    from test_cli import one_line_error, run

    from numbamosaic import cli

    w = make_wcs()
    good, cut = tmp_path / "good.fits", tmp_path / "cut.fits"
    fits.PrimaryHDU(stars.astype(np.float32), header=w.to_header()).writeto(good)
    cut.write_bytes(good.read_bytes()[:-4000])
    if os.geteuid() == 0:
        ro = "/sys"  # root ignores permission bits; sysfs refuses new files
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
    line = one_line_error(run("mosaic", good, "-o", f"{ro}/m.fits"), 2)
    assert "not writable" in line and str(ro) in line
    line = one_line_error(run("mosaic", good, cut, "-o", tmp_path / "m.fits"), 1)
    assert "input_data[1]" in line and "cut.fits" in line and "truncated" in line
    # the error mapping finds ENOSPC behind another exception (astropy raised AttributeError)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise AttributeError("'list' object has no attribute '_file'")  # noqa: B904
    except AttributeError as exc:
        assert cli._one_line(exc, "out.fits") == "no space left on device writing out.fits"
    # a real full disk, when this machine lets us mount a small tmpfs
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tiny)], capture_output=True).returncode:
        return
    try:
        big = tmp_path / "big.hdr"
        h = w.to_header()
        h["NAXIS"], h["NAXIS1"], h["NAXIS2"] = 2, 200, 200
        h.totextfile(big)
        line = one_line_error(run("mosaic", good, "-o", tiny / "m.fits", "--header", big), 1)
        assert ("no space left on device" in line or "disk full" in line) and str(tiny) in line
        assert os.listdir(tiny) == []
    finally:
        subprocess.run(["umount", str(tiny)], capture_output=True)
