"""The ``numbamosaic`` command line, driven as a user would (subprocesses).

Images are tiny (2 x 2 tiles of 64 x 72 px) so that every command runs in a
few seconds, most of it interpreter start-up and cached-kernel loading.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import numbamosaic
from numbamosaic import cli
from numbamosaic._fitsout import provenance_header, write_mosaic
from numbamosaic.synthetic import make_survey, survey_output_wcs, write_survey

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None, timeout=300):
    """``python -m numbamosaic ARGS`` in a subprocess using this working tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["MPLBACKEND"] = "Agg"
    return subprocess.run(
        [sys.executable, "-m", "numbamosaic", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def one_line_error(proc, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("numbamosaic: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """Four small FITS tiles; returns (directory, sorted paths)."""
    d = tmp_path_factory.mktemp("survey")
    hdus = make_survey(2, 2, tile_shape=(64, 72), overlap=0.2, nan_blobs=0, seed=5, n_stars=40)
    paths = write_survey(hdus, d / "tiles")
    return d, paths


def _check_mosaic_file(path, n_inputs, method="bilinear", combine="mean"):
    with fits.open(path) as hdul:
        assert isinstance(hdul[0], fits.PrimaryHDU)
        h = hdul[0].header
        data = hdul[0].data
        assert data.ndim == 2 and data.dtype == np.dtype(">f4")  # float32 inputs stay float32
        w = WCS(h)
        assert w.has_celestial and w.wcs.ctype[0].startswith("RA---")
        assert h["NMVERSN"] == numbamosaic.__version__
        assert h["NMMETHOD"] == method
        assert h["NMCOMBIN"] == combine
        assert h["NMNINPUT"] == n_inputs
        for k in range(1, n_inputs + 1):
            assert f"NMIN{k:04d}" in h
        assert "DATE" in h
        history = "".join(str(c) for c in h["HISTORY"])
        assert f"--method {method}" in history and f"--combine {combine}" in history
        assert "FOOTPRINT" in hdul
        fp = hdul["FOOTPRINT"].data
        assert fp.shape == data.shape
        assert WCS(hdul["FOOTPRINT"].header).has_celestial
        return np.array(data, dtype=np.float32), np.array(fp, dtype=np.float32), h


# ---------------------------------------------------------------------------
# mosaic
# ---------------------------------------------------------------------------


def test_mosaic_auto_header_matches_api(survey, tmp_path):
    d, paths = survey
    out = tmp_path / "m.fits"
    p = ok(run("mosaic", *paths, "-o", out, "--no-progress"))
    assert f"wrote {out}" in p.stdout
    data, fp, h = _check_mosaic_file(out, len(paths))
    assert h["NMIN0001"] == paths[0]
    assert np.isnan(data[fp == 0]).all()  # default --blank nan
    assert (fp > 0).mean() > 0.8 and fp.max() == 4
    # the CLI writes exactly what the Python API computes on the same frame
    wcs, shape = numbamosaic.find_optimal_celestial_wcs(paths, negative_lon_cdelt="auto")
    assert data.shape == tuple(shape)
    ref, ref_fp = numbamosaic.reproject_and_coadd(paths, wcs, shape_out=shape, blank_pixel_value=np.nan)
    np.testing.assert_array_equal(data, ref)
    np.testing.assert_array_equal(fp, ref_fp)


@pytest.mark.parametrize("kind", ["text", "fits"])
def test_mosaic_with_header_file(survey, tmp_path, kind):
    d, paths = survey
    hdus = [fits.PrimaryHDU(fits.getdata(p, memmap=False), fits.getheader(p)) for p in paths]
    wcs, shape = survey_output_wcs(hdus, pixel_scale_arcsec=1.5)
    header = wcs.to_header()
    header.insert(0, ("NAXIS", 2))
    header.insert(1, ("NAXIS1", shape[1]))
    header.insert(2, ("NAXIS2", shape[0]))
    if kind == "text":
        hfile = tmp_path / "out.hdr"
        header.totextfile(hfile)
    else:
        hfile = tmp_path / "frame.fits"
        fits.PrimaryHDU(np.zeros(shape, np.float32), header=header).writeto(hfile)
    out = tmp_path / "m.fits"
    ok(run("mosaic", *paths, "-o", out, "--header", hfile, "--method", "nearest", "--combine", "median", "--blank", "0"))
    data, fp, h = _check_mosaic_file(out, len(paths), method="nearest", combine="median")
    assert data.shape == tuple(shape)
    np.testing.assert_allclose(WCS(h).wcs.crval, wcs.wcs.crval)
    np.testing.assert_allclose(WCS(h).wcs.crpix, wcs.wcs.crpix)
    assert h["NMBLANK"] == 0
    assert (data[fp == 0] == 0).all()
    assert f"--header {hfile}" in "".join(str(c) for c in h["HISTORY"])  # long lines wrap


def test_list_file_and_glob_inputs(survey, tmp_path):
    d, paths = survey
    direct = tmp_path / "direct.fits"
    ok(run("mosaic", *paths, "-o", direct))
    # @list.txt with comments, blank lines and names relative to the list file
    lst = d / "inputs.txt"
    lst.write_text("# the survey\n\n" + "\n".join(os.path.relpath(p, d) for p in paths) + "  # done\n")
    via_list = tmp_path / "list.fits"
    ok(run("mosaic", f"@{lst}", "-o", via_list))
    # a quoted glob expanded by numbamosaic (sorted), run from another directory
    via_glob = tmp_path / "glob.fits"
    ok(run("mosaic", "tiles/tile_*.fits", "-o", via_glob, cwd=d))
    a = fits.getdata(direct)
    for other in (via_list, via_glob):
        np.testing.assert_array_equal(a, fits.getdata(other))
        assert fits.getheader(other)["NMNINPUT"] == 4
    assert cli.expand_inputs([str(d / "tiles" / "*.fits")]) == sorted(paths)


def test_weights(survey, tmp_path):
    d, paths = survey
    wdir = tmp_path / "w"
    wdir.mkdir()
    wpaths = []
    for k, p in enumerate(paths):
        hdr = fits.getheader(p)
        w = np.full(fits.getdata(p).shape, 2.0, np.float32)
        if k == 0:
            w[:, :10] = 0  # a strip of tile 0 does not count
        wp = wdir / f"w{k}.fits"
        fits.PrimaryHDU(w, header=hdr).writeto(wp)
        wpaths.append(str(wp))
    plain = tmp_path / "plain.fits"
    weighted = tmp_path / "weighted.fits"
    ok(run("mosaic", *paths, "-o", plain))
    ok(run("mosaic", *paths, "--weights", str(wdir / "w*.fits"), "-o", weighted))
    d0, f0, _ = _check_mosaic_file(plain, 4)
    d1, f1, h = _check_mosaic_file(weighted, 4)
    assert "--weights (4 files)" in "".join(str(c) for c in h["HISTORY"])
    assert f1.max() == pytest.approx(8.0)
    assert (f1 < 2 * f0 - 0.5).any()  # the zero-weight strip
    full = (f1 == 2 * f0) & (f0 > 0)
    np.testing.assert_allclose(d1[full], d0[full], rtol=1e-5, atol=1e-5)
    # weights are matched in order, so their number must match
    bad = run("mosaic", *paths, "--weights", *wpaths[:3], "-o", tmp_path / "x.fits")
    assert "3 weight files for 4 inputs" in one_line_error(bad, 2)


@pytest.mark.parametrize("method", ["lanczos3", "exact", "adaptive"])
def test_other_methods(survey, tmp_path, method):
    d, paths = survey
    if method in ("exact", "adaptive"):
        try:
            getattr(numbamosaic, f"reproject_{method}")
        except (AttributeError, ImportError):
            pytest.skip(f"reproject_{method} not available")
    out = tmp_path / "m.fits"
    ok(run("mosaic", *paths, "-o", out, "--method", method, "--resolution", "2"))
    data, fp, h = _check_mosaic_file(out, 4, method=method)
    scale = np.sqrt(abs(np.linalg.det(WCS(h).pixel_scale_matrix))) * 3600
    assert scale == pytest.approx(2.0)
    assert np.isfinite(data[fp > 0]).mean() > 0.95


def test_match_background_and_clipped_mean(tmp_path):
    hdus = make_survey(2, 2, tile_shape=(64, 72), overlap=0.3, nan_blobs=0, seed=2, n_stars=30,
                       background_offsets=[0.0, 5.0, -3.0, 2.0])
    paths = write_survey(hdus, tmp_path / "tiles")
    out = tmp_path / "m.fits"
    ok(run("mosaic", *paths, "-o", out, "--match-background", "--background-reference", "0",
           "--combine", "clipped-mean", "--clip-sigma", "2.5"))
    data, fp, h = _check_mosaic_file(out, 4, combine="clipped-mean")
    assert h["NMBKGMAT"] is True and h["NMBKGMOD"] == "offset"
    # background of tile 0 kept: the sky level (median) is close to 0, not ~1
    assert abs(np.nanmedian(data[fp > 0])) < 0.5
    bad = run("mosaic", *paths, "-o", tmp_path / "y.fits", "--background-reference", "0")
    assert "--match-background" in one_line_error(bad, 2)


# ---------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------


def test_plan(survey, tmp_path):
    d, paths = survey
    hdr = tmp_path / "frame.hdr"
    p = ok(run("plan", *paths, "--combine", "median", "-o", "big.fits", "--write-header", hdr, "--memory-limit", "2GB"))
    out = p.stdout
    assert "strategy: stream" in out
    assert "estimated peak memory" in out and "budget 1.9 GiB" in out
    assert "expected size of big.fits" in out
    assert "input boxes in the output" in out
    for name in paths:
        assert name in out
    assert not os.path.exists(tmp_path / "big.fits")
    # the written header is reusable by mosaic --header (SWarp HEADER_ONLY style)
    m = tmp_path / "m.fits"
    ok(run("mosaic", *paths, "--header", hdr, "-o", m))
    h = fits.getheader(m)
    h2 = fits.Header.fromtextfile(hdr)
    assert (h["NAXIS1"], h["NAXIS2"]) == (h2["NAXIS1"], h2["NAXIS2"])


def test_plan_memory_error_is_one_line(survey):
    d, paths = survey
    p = run("plan", *paths, "--memory-limit", "10kB", "--combine", "median")
    msg = one_line_error(p, 1)
    assert "no mosaic strategy fits" in msg


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


def test_demo(tmp_path):
    target = tmp_path / "demo"
    p = ok(run("demo", target))
    assert str(target / "mosaic.fits") in p.stdout and str(target / "mosaic.png") in p.stdout
    data, fp, h = _check_mosaic_file(target / "mosaic.fits", 9)
    assert data.shape[0] > 600 and (fp > 0).mean() > 0.8
    png = target / "mosaic.png"
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((target / "tiles").glob("*.fits"))) == 9
    assert not [f for f in os.listdir(target) if f.endswith(".part") or ".part." in f]
    # running it again works (the demo replaces its own files)
    ok(run("demo", target, "--tiles", "2", "--tile-pixels", "64", "-q"))


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_missing_input_is_one_line(survey, tmp_path):
    d, paths = survey
    p = run("mosaic", paths[0], str(tmp_path / "nope.fits"), "-o", tmp_path / "m.fits")
    msg = one_line_error(p, 2)
    assert "input file not found" in msg and "nope.fits" in msg
    assert not (tmp_path / "m.fits").exists()
    msg = one_line_error(run("mosaic", str(tmp_path / "*.fits"), "-o", tmp_path / "m.fits"), 2)
    assert "no input files match" in msg
    msg = one_line_error(run("mosaic", f"@{tmp_path / 'missing.txt'}", "-o", tmp_path / "m.fits"), 2)
    assert "list file not found" in msg


def test_usage_errors(survey, tmp_path):
    d, paths = survey
    assert "required" in one_line_error(run("mosaic", *paths), 2)
    assert "--frobnicate" in one_line_error(run("mosaic", *paths, "-o", "x.fits", "--frobnicate"), 2)
    assert "invalid choice" in one_line_error(run("mosaic", *paths, "-o", "x.fits", "--method", "cubic"), 2)
    out = tmp_path / "exists.fits"
    out.write_bytes(b"")
    assert "--overwrite" in one_line_error(run("mosaic", *paths, "-o", out), 2)
    assert "--conserve flux" in one_line_error(run("mosaic", *paths, "-o", tmp_path / "c.fits", "--conserve", "flux"), 2)
    assert "--memory-limit" in one_line_error(run("mosaic", *paths, "-o", tmp_path / "c.fits", "--memory-limit", "lots"), 2)


def test_runtime_error_is_one_line_and_verbose_shows_traceback(survey, tmp_path):
    d, paths = survey
    junk = tmp_path / "junk.fits"
    junk.write_text("this is not FITS\n")
    p = run("mosaic", paths[0], junk, "-o", tmp_path / "m.fits")
    one_line_error(p, 1)
    assert not (tmp_path / "m.fits").exists()
    p = run("mosaic", paths[0], junk, "-o", tmp_path / "m.fits", "--verbose")
    assert p.returncode == 1 and "Traceback" in p.stderr


def test_mosaic_to_zarr(survey, tmp_path):
    zarr = pytest.importorskip("zarr")
    d, paths = survey
    ok(run("mosaic", *paths, "-o", tmp_path / "m.fits", "--combine", "median", "-q"))
    data, fp, h = _check_mosaic_file(tmp_path / "m.fits", len(paths), combine="median")
    out = tmp_path / "m.zarr"
    p = ok(run("mosaic", *paths, "-o", out, "--combine", "median", "--preview", tmp_path / "m.png"))
    assert f"wrote {out}" in p.stdout and (tmp_path / "m.png").stat().st_size > 0
    # the summary and the preview read the store at its final path (not the renamed temporary one)
    assert f"{np.mean(fp > 0):.0%} covered" in p.stdout and np.mean(fp > 0) > 0.5
    import matplotlib.image

    assert np.ptp(matplotlib.image.imread(tmp_path / "m.png")[..., :3]) > 0.2  # not a blank image
    g = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(g["mosaic"][...], data)  # the same mosaic as the FITS file
    np.testing.assert_array_equal(g["footprint"][...], fp)
    zh = fits.Header.fromstring(g.attrs["fits_header"], sep="\n")
    assert zh["NMCOMBIN"] == "median" and zh["NMNINPUT"] == len(paths)
    assert WCS(zh).wcs.compare(WCS(h).wcs)
    # an existing store needs --overwrite; nothing partial is ever left next to it
    assert "exists" in one_line_error(run("mosaic", *paths[:2], "-o", out), 2)
    ok(run("mosaic", *paths[:2], "-o", out, "--overwrite", "-q"))
    zh = fits.Header.fromstring(zarr.open_group(str(out), mode="r").attrs["fits_header"], sep="\n")
    assert zh["NMNINPUT"] == 2
    junk = tmp_path / "junk.fits"
    junk.write_text("this is not FITS\n")
    one_line_error(run("mosaic", paths[0], junk, "-o", tmp_path / "bad.zarr"), 1)
    assert sorted(os.listdir(tmp_path)) == ["junk.fits", "m.fits", "m.png", "m.zarr"]


def test_zarr_output_removed_on_interrupt(survey, tmp_path, monkeypatch):
    pytest.importorskip("zarr")
    d, paths = survey

    def interrupted(*args, **kwargs):
        assert kwargs["output_array"].shape == kwargs["output_footprint"].shape  # the store exists by now
        raise KeyboardInterrupt

    monkeypatch.setattr("numbamosaic.cli._mosaic.reproject_and_coadd", interrupted)
    args = cli.build_parser().parse_args(["mosaic", *paths, "-o", str(tmp_path / "m.zarr")])
    with pytest.raises(KeyboardInterrupt):
        cli.run_mosaic(args, paths)
    assert os.listdir(tmp_path) == []


def test_overwrite_replaces(survey, tmp_path):
    d, paths = survey
    out = tmp_path / "m.fits"
    ok(run("mosaic", *paths[:2], "-o", out))
    assert fits.getheader(out)["NMNINPUT"] == 2
    ok(run("mosaic", *paths, "-o", out, "--overwrite", "-q"))
    assert fits.getheader(out)["NMNINPUT"] == 4
    assert "is also an input" in one_line_error(run("mosaic", *paths, "-o", paths[0], "--overwrite"), 2)


def test_help_and_version():
    p = ok(run("--help"))
    for cmd in ("mosaic", "plan", "demo", "bench"):
        assert cmd in p.stdout
    assert ok(run("--version")).stdout.strip() == f"numbamosaic {numbamosaic.__version__}"
    p = ok(run("mosaic", "--help"))
    assert "--match-background" in p.stdout and "--scheduler" in p.stdout


def test_bench_passes_arguments_to_the_runner():
    if not (ROOT / "benchmarks").is_dir():
        pytest.skip("no benchmarks/ in this checkout")
    p = ok(run("bench", "--help"))
    assert "--quick" in p.stdout


# ---------------------------------------------------------------------------
# in-process: main(), interrupts, atomic writes
# ---------------------------------------------------------------------------


def test_main_keyboard_interrupt(monkeypatch, capsys, survey):
    d, paths = survey

    def boom(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("numbamosaic.cli._plan.cmd_plan", boom)  # commands load on dispatch
    assert cli.main(["plan", paths[0]]) == 130
    assert capsys.readouterr().err.strip() == "numbamosaic: interrupted"


def test_write_mosaic_is_atomic(tmp_path, monkeypatch):
    wcs, shape = survey_output_wcs(make_survey(1, 1, tile_shape=(16, 16), nan_blobs=0))
    data = np.zeros(shape, np.float32)
    out = tmp_path / "m.fits"
    prov = provenance_header(method="bilinear", combine="mean", inputs=["a.fits"], command="--x")
    write_mosaic(out, data, data, wcs, provenance=prov)
    before = out.read_bytes()
    with pytest.raises(FileExistsError):
        write_mosaic(out, data, data, wcs)

    def broken(self, fileobj, *a, **k):
        fileobj.write(b"SIMPLE  =                    T" + b" " * 50)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fits.HDUList, "writeto", broken)
    with pytest.raises(OSError):
        write_mosaic(out, data + 1, data, wcs, overwrite=True)
    assert out.read_bytes() == before  # the old file is untouched
    assert sorted(os.listdir(tmp_path)) == ["m.fits"]  # no temporary left behind


def test_provenance_long_names_and_many_inputs():
    names = [f"/a/very/long/directory/name/that/goes/on/and/on/for/ever/tile_{k:05d}.fits" for k in range(3)]
    h = provenance_header(method="exact", combine="sum", inputs=names, command="--method exact")
    assert h["NMNINPUT"] == 3 and h["NMIN0003"] == names[2]
    # survives a FITS round trip (CONTINUE cards)
    h2 = fits.Header.fromstring(h.tostring())
    assert h2["NMIN0001"] == names[0]


@pytest.mark.slow
def test_scheduler_option(survey, tmp_path):
    distributed = pytest.importorskip("distributed")
    d, paths = survey
    plain = tmp_path / "plain.fits"
    ok(run("mosaic", *paths, "-o", plain))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        out = tmp_path / "dist.fits"
        ok(run("mosaic", *paths, "-o", out, "--scheduler", cluster.scheduler_address))
    np.testing.assert_array_equal(fits.getdata(plain), fits.getdata(out))
    p = run("mosaic", *paths, "-o", tmp_path / "x.fits", "--scheduler", "tcp://127.0.0.1:1", "--threads", "2")
    assert "exclude each other" in one_line_error(p, 2)
