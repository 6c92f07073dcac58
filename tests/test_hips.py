"""HiPS generation against reproject's reproject_to_hips, astropy-healpix and reproject_and_coadd."""

import glob
import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import numbamosaic
from numbamosaic.hips import load_properties, mosaic_to_hips, reproject_to_hips, tile_header, tile_path
from numbamosaic.hips._layout import reduce2x2

astropy_healpix = pytest.importorskip("astropy_healpix")
reproject = pytest.importorskip("reproject")
rp_hips = pytest.importorskip("reproject.hips")


def _image(ra, dec, n=64, scale=0.05, seed=0):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [n / 2 + 0.5, n / 2 + 0.5]
    w.wcs.cdelt = [-scale, scale]
    yy, xx = np.mgrid[:n, :n]
    rng = np.random.default_rng(seed)
    return (np.sin(xx / 7.0) + np.cos(yy / 5.0) + 0.05 * rng.standard_normal((n, n))).astype(np.float32), w


def _tiles(d):
    return sorted(os.path.relpath(p, d) for p in glob.glob(os.path.join(d, "Norder*", "Dir*", "Npix*.fits")))


def test_tile_frames_are_healpix_pixels():
    """Every tile header's pixel centres are the HEALPix centres of order level + log2(T)."""
    from astropy.coordinates import ICRS

    t = 8
    hp = astropy_healpix.HEALPix(nside=2 * t, order="nested", frame=ICRS())
    r, c = np.mgrid[:t, :t]
    for index in range(48):
        w = WCS(tile_header(ICRS(), 1, index, t))
        sky = w.pixel_to_world(c.ravel(), r.ravel())
        face, ipf = divmod(index, 4)
        ix0 = t * (ipf & 1)
        iy0 = t * ((ipf >> 1) & 1)
        ix = (ix0 + t - 1 - r).ravel()
        iy = (iy0 + c).ravel()
        spread = lambda v: sum(((v >> b) & 1) << (2 * b) for b in range(4))  # noqa: E731
        pix = face * (2 * t) ** 2 + spread(ix) + 2 * spread(iy)
        assert hp.healpix_to_skycoord(pix).separation(sky).deg.max() < 1e-8, index


@pytest.mark.parametrize("system", ["equatorial", "galactic", "ecliptic"])
def test_tile_file_cards_equal_astropy_header(system):
    """The tile files' card images (formatted once per frame, PCi_j per order) are those of
    the order's HPX header built by astropy (``_base_header``, as before the memo)."""
    from numbamosaic.hips._layout import FitsTileWriter, _base_header, hips_frame

    frame = hips_frame(system)
    for tile_size in (64, 256, 512):
        writer = FitsTileWriter(frame, tile_size)
        for order in range(0, 13):
            h = _base_header(frame, order, tile_size)
            head = [fits.Card("SIMPLE", True), fits.Card("BITPIX", -32), fits.Card("NAXIS", 2),
                    fits.Card("NAXIS1", tile_size), fits.Card("NAXIS2", tile_size)]
            cards = [c for c in h.cards if c.keyword not in ("CRVAL1", "CRPIX1", "CRPIX2", "WCSAXES")]
            want = ("".join(c.image for c in head),
                    "".join(c.image for c in cards) + fits.Card("ORDER", order).image)
            assert writer._template(order) == want, (system, tile_size, order)


def test_reproject_to_hips_matches_reproject(tmp_path):
    # on longitude 180 (face 6: reproject splits these tiles in two frames)
    data, w = _image(180.0, 0.0)
    ours, ref, one = (str(tmp_path / n) for n in ("ours", "ref", "one"))
    reproject_to_hips((data, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                      output_directory=ours, tile_size=32)
    rp_hips.reproject_to_hips((data, w), coord_system_out="equatorial",
                                     reproject_function=reproject.reproject_interp, output_directory=ref, tile_size=32)
    files = _tiles(ours)
    assert files == _tiles(ref) and len(files) > 10
    for f in files:
        a = fits.getdata(os.path.join(ours, f))
        b = fits.getdata(os.path.join(ref, f))
        assert fits.getheader(os.path.join(ours, f))["BITPIX"] == -32
        assert np.array_equal(np.isfinite(a), np.isfinite(b)), f
        ok = np.isfinite(a)
        assert np.abs(a[ok] - b[ok]).max() <= 1e-5 * np.ptp(data), f
    props = load_properties(ours)
    assert props["hips_order"] == load_properties(ref)["hips_order"] and props["hips_frame"] == "equatorial"
    # the same files whatever the thread count and the grouping of deepest tiles (a memory_limit
    # that fits groups of 4 tiles: the streaming pyramid builds the orders above)
    from numbamosaic.hips._plan import group_depth, hips_memory

    limit = hips_memory(1, 32, 1, 1, False, int(props["hips_order"]))
    assert group_depth(limit, 32, 1, 1, False, int(props["hips_order"]), 3) == 1
    with pytest.raises(numbamosaic.MosaicMemoryError, match="memory_limit"):
        reproject_to_hips((data, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                          output_directory=one, tile_size=32, threads=False, memory_limit="1MB")
    assert not os.path.exists(one)
    reproject_to_hips((data, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                      output_directory=one, tile_size=32, threads=False, memory_limit=limit)
    assert _tiles(one) == files
    for f in files:
        assert np.array_equal(fits.getdata(os.path.join(ours, f)), fits.getdata(os.path.join(one, f)), equal_nan=True)
    assert np.array_equal(fits.getdata(os.path.join(ours, "Moc.fits"), 1)["UNIQ"],
                          fits.getdata(os.path.join(one, "Moc.fits"), 1)["UNIQ"])


def test_mosaic_to_hips(tmp_path):
    inputs = [_image(83.0 + dx, -5.0 + dy, n=32, scale=0.1, seed=i)
              for i, (dx, dy) in enumerate([(0, 0), (1.5, 0.5), (0.7, 1.8)])]
    inputs[1][0][:] += 0.5
    out = str(tmp_path / "mos")
    mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=out, tile_size=16, level=4,
                   combine_function="median", tile_format="fits,png", threads=2)
    deep = [f for f in _tiles(out) if f.startswith("Norder4")]
    assert deep
    from astropy.coordinates import Galactic

    for f in deep:
        index = int(f.split("Npix")[1].split(".")[0])
        got = fits.getdata(os.path.join(out, f))
        ref, fp = numbamosaic.reproject_and_coadd(inputs, tile_header(Galactic(), 4, index, 16), shape_out=(16, 16),
                                                  combine_function="median", blank_pixel_value=np.nan)
        ref[fp == 0] = np.nan
        assert np.array_equal(got, ref.astype(np.float32), equal_nan=True), f
        assert os.path.exists(os.path.join(out, f.replace(".fits", ".png")))
    # lower orders are the 2x2 averages of their children, every order down to 0
    for order in range(3, -1, -1):
        for f in glob.glob(os.path.join(out, f"Norder{order}", "Dir*", "*.fits")):
            p = int(f.split("Npix")[1].split(".")[0])
            parent = fits.getdata(f).astype(np.float64)
            expect = np.full((16, 16), np.nan)
            for sub in range(4):
                c = tile_path(out, order + 1, 4 * p + sub, "fits")
                if os.path.exists(c):
                    red = reduce2x2(fits.getdata(c))
                    rows = slice(0, 8) if sub & 1 else slice(8, 16)
                    cols = slice(8, 16) if sub & 2 else slice(0, 8)
                    expect[rows, cols] = red
            assert np.allclose(parent, expect, equal_nan=True, rtol=0, atol=1e-6)
        assert glob.glob(os.path.join(out, f"Norder{order}", "Dir*", "*.fits"))
    # no tile without data
    for f in _tiles(out):
        assert np.isfinite(fits.getdata(os.path.join(out, f))).any()
    assert os.path.exists(os.path.join(out, "Norder3", "Allsky.fits"))
    props = load_properties(out)
    assert props["hips_frame"] == "galactic" and props["hips_order"] == "4" and props["hips_tile_format"] == "fits png"
    assert float(props["hips_pixel_scale"]) == pytest.approx(astropy_healpix.nside_to_pixel_resolution(16 * 2**4).to_value("deg"),
                                                              rel=1e-5)
    # the coverage MOC (ICRS) contains the inputs' centres and not the opposite sky
    mocpy = pytest.importorskip("mocpy")
    moc = mocpy.MOC.from_fits(os.path.join(out, "Moc.fits"))
    import astropy.units as u

    assert moc.contains_lonlat(np.array([83.0, 84.5]) * u.deg, np.array([-5.0, -4.5]) * u.deg).all()
    assert not moc.contains_lonlat(np.array([263.0]) * u.deg, np.array([5.0]) * u.deg).any()
    # reproject's own HiPS reader finds our tiles where they belong
    hips_as_dask_array = rp_hips.hips_as_dask_array
    arr, mwcs = hips_as_dask_array(out, level=4)
    f = deep[0]
    index = int(f.split("Npix")[1].split(".")[0])
    centre = WCS(tile_header(Galactic(), 4, index, 16)).pixel_to_world(7.5, 7.5)
    x, y = mwcs.world_to_pixel(centre)
    block = arr.blocks[int(y // 16), int(x // 16)].compute()
    assert np.array_equal(block, fits.getdata(os.path.join(out, f)).astype(float), equal_nan=True)
    # ours: same layout and WCS; every chunk of the map holds its tile
    from numbamosaic.hips import hips_as_dask_array as ours_dask

    oarr, owcs = ours_dask(out, level=3)
    rarr, rwcs = hips_as_dask_array(out, level=3)
    assert oarr.shape == rarr.shape and oarr.chunksize == rarr.chunksize
    assert np.allclose(owcs.wcs.crpix, rwcs.wcs.crpix) and np.allclose(owcs.pixel_scale_matrix, rwcs.pixel_scale_matrix)
    for g in _tiles(out):
        if g.startswith("Norder3"):
            k = int(g.split("Npix")[1].split(".")[0])
            c = WCS(tile_header(Galactic(), 3, k, 16)).pixel_to_world(7.5, 7.5)
            xx, yy = owcs.world_to_pixel(c)
            got = oarr.blocks[int(yy // 16), int(xx // 16)].compute()
            assert np.array_equal(got, fits.getdata(os.path.join(out, g)), equal_nan=True)
    # the whole map of order 2 equals reproject's reading
    oarr, _ = ours_dask(out, level=2)
    rarr, _ = hips_as_dask_array(out, level=2)
    whole = oarr.compute(scheduler="synchronous")
    assert np.isfinite(whole).sum() > 5
    assert np.array_equal(whole, rarr.compute(scheduler="synchronous"), equal_nan=True)
    # reading back: nearest onto a tile's own frame gives the tile; bilinear onto
    # a TAN frame equals reproject_from_healpix of the HEALPix map the tiles hold
    from numbamosaic.hips import reproject_from_hips

    h = tile_header(Galactic(), 4, index, 16)
    near, nfp = reproject_from_hips(out, h, order="nearest-neighbor")
    assert np.array_equal(near, fits.getdata(os.path.join(out, f)), equal_nan=True)
    assert np.array_equal(nfp > 0, np.isfinite(near))
    _, wtan = _image(84.0, -4.5, n=24, scale=0.15)
    back, bfp = reproject_from_hips(out, wtan, shape_out=(24, 24))
    hmap = np.full(12 * 256**2, np.nan, dtype=np.float32)
    spread = lambda v: sum(((v >> b) & 1) << (2 * b) for b in range(4))  # noqa: E731
    rr, cc = np.mgrid[:16, :16]
    for g in deep:
        k = int(g.split("Npix")[1].split(".")[0])
        hmap[k * 256 + spread(15 - rr) + 2 * spread(cc)] = fits.getdata(os.path.join(out, g))
    ref, rfp = numbamosaic.reproject_from_healpix((hmap, "galactic"), wtan, shape_out=(24, 24), nested=True)
    assert np.array_equal(back, ref, equal_nan=True) and np.array_equal(bfp, rfp) and bfp.sum() > 100
    # identical files with one thread
    one = str(tmp_path / "one")
    mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=one, tile_size=16, level=4,
                   combine_function="median", threads=1)
    for f in _tiles(out):
        assert np.array_equal(fits.getdata(os.path.join(out, f)), fits.getdata(os.path.join(one, f)), equal_nan=True)


def test_mosaic_to_hips_fused_combines(tmp_path):
    """mean, sum, first, last, min and max with reproject_interp run the fused HiPS kernel input by input (no
    reproject_and_coadd per tile): every deepest tile equals reproject_and_coadd of the inputs onto the tile's HPX
    frame (input weights with zeros, a float64 input, overlapping inputs) to one float32 rounding (the HEALPix pixel
    centres are computed natively, not through the HPX WCS), nearly every pixel bitwise; the same files on one
    thread; bicubic and biquadratic too when the inputs' coefficient images fit the budget given (else, and for
    median and other methods, reproject_and_coadd per tile)."""
    from astropy.coordinates import Galactic

    from numbamosaic.hips._generate import parse_many, tile_members
    from numbamosaic.hips._tiles import CoaddTiles, FusedCoaddTiles, coadd_tiles

    inputs = [_image(83.0 + dx, -5.0 + dy, n=32, scale=0.1, seed=i)
              for i, (dx, dy) in enumerate([(0, 0), (1.5, 0.5), (0.7, 1.8)])]
    inputs[1] = (inputs[1][0].astype(np.float64) + 0.5, inputs[1][1])
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.2, 2.0, a.shape).astype(np.float32) for a, _ in inputs]
    weights[2][:6] = 0.0
    parsed, _ = parse_many(inputs, None, None)
    members = tile_members(parsed, Galactic(), 4, 16)
    assert max(len(m) for m in members.values()) == 3
    for kw, fused in (({"combine_function": "mean"}, True), ({"combine_function": "max", "order": "nearest-neighbor"}, True),
                      ({"combine_function": "median"}, False), ({"combine_function": "mean", "order": "bicubic"}, False),
                      ({"combine_function": "mean", "reproject_function": numbamosaic.reproject_exact}, False)):
        fn = coadd_tiles(parsed, None, members, Galactic(), 4, 16, kw)
        assert isinstance(fn, FusedCoaddTiles if fused else CoaddTiles), kw
    # B-spline orders: fused when the coefficient images (one per input, its kernel dtype) fit the budget
    from numbamosaic.hips._tiles import spline_state_bytes

    need = spline_state_bytes(parsed, 3)
    assert need == 2 * 32 * 32 * 4 + 32 * 32 * 8
    for order, budget, fused in (("bicubic", need, True), ("bicubic", need - 1, False), ("biquadratic", need, True),
                                 ("bilinear", 0, True)):
        fn = coadd_tiles(parsed, None, members, Galactic(), 4, 16, {"combine_function": "mean", "order": order},
                         state_budget=budget)
        assert isinstance(fn, FusedCoaddTiles if fused else CoaddTiles), (order, budget)
    same = total = 0
    for combine, order in (("mean", "bilinear"), ("sum", "bilinear"), ("first", "bilinear"), ("last", "bilinear"),
                           ("min", "bilinear"), ("max", "bilinear"), ("mean", "bicubic"), ("max", "biquadratic")):
        out = str(tmp_path / f"{combine}-{order}")
        mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=out, tile_size=16, level=4,
                       combine_function=combine, input_weights=weights, threads=2, order=order)
        deep = [f for f in _tiles(out) if f.startswith("Norder4")]
        assert len(deep) > 3
        for f in deep:
            index = int(f.split("Npix")[1].split(".")[0])
            ref, fp = numbamosaic.reproject_and_coadd(inputs, tile_header(Galactic(), 4, index, 16), shape_out=(16, 16),
                                                      combine_function=combine, input_weights=weights,
                                                      blank_pixel_value=np.nan, order=order)
            ref = ref.astype(np.float32)
            ref[fp == 0] = np.nan
            assert fits.getheader(os.path.join(out, f))["BITPIX"] == -32
            got = fits.getdata(os.path.join(out, f)).astype(np.float32)
            assert np.array_equal(np.isnan(got), np.isnan(ref)), (combine, f)
            # one float32 rounding of the values interpolated there (the largest |value| of the 3 x 3 neighbourhood)
            pad = np.pad(np.nan_to_num(np.abs(ref)), 1)
            local = np.max([pad[i : i + 16, j : j + 16] for i in range(3) for j in range(3)], axis=0)
            ok = ~np.isnan(ref)
            diff = np.abs(got[ok].astype(np.float64) - ref[ok])
            assert np.all(diff <= np.spacing(local[ok])), (combine, f, (diff / np.spacing(local[ok])).max())
            same += int((diff == 0).sum())
            total += int(ok.sum())
        if combine == "mean":
            one = str(tmp_path / f"mean1-{order}")
            mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=one, tile_size=16, level=4,
                           combine_function=combine, input_weights=weights, threads=1, order=order)
            files = sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*.fits"), recursive=True))
            assert files == sorted(os.path.relpath(p, one) for p in glob.glob(os.path.join(one, "**", "*.fits"),
                                                                               recursive=True))
            for g in files:
                with open(os.path.join(out, g), "rb") as fa, open(os.path.join(one, g), "rb") as fb:
                    assert fa.read() == fb.read(), g
    assert total > 1000 and same >= 0.8 * total, (same, total)  # (all of them on this coarse grid)


def test_cli_hips(tmp_path):
    from numbamosaic import cli

    paths = []
    for i, (dx, dy) in enumerate([(0, 0), (1.2, 0.4)]):
        data, w = _image(83.0 + dx, -5.0 + dy, n=32, scale=0.1, seed=i)
        paths.append(str(tmp_path / f"in{i}.fits"))
        fits.PrimaryHDU(data, header=w.to_header()).writeto(paths[-1])
    out = str(tmp_path / "hips")
    args = ["hips", str(tmp_path / "in*.fits"), "-o", out, "--order", "4", "--tile-width", "16", "--format", "fits,png",
            "--combine", "median", "--match-background", "--memory-limit", "500MB", "-q"]
    assert cli.main(args) == 0
    ref = str(tmp_path / "ref")
    mosaic_to_hips([(fits.getdata(p), WCS(fits.getheader(p))) for p in paths], coord_system_out="equatorial",
                   output_directory=ref, level=4, tile_size=16, combine_function="median", match_background=True)
    files = _tiles(out)
    assert files == _tiles(ref) and files
    for f in files:
        assert np.array_equal(fits.getdata(os.path.join(out, f)), fits.getdata(os.path.join(ref, f)), equal_nan=True)
        assert os.path.exists(os.path.join(out, f.replace(".fits", ".png")))
    assert load_properties(out)["hips_tile_format"] == "fits png"
    assert cli.main(args) == 2  # exists
    assert cli.main(args + ["--overwrite", "--threads", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert cli.main(args + ["--overwrite", "--memory-limit", "lots"]) == 2
    assert os.path.exists(os.path.join(out, "properties"))  # usage errors come before the old HiPS is removed
    assert cli.main(args + ["--overwrite"]) == 0
    assert cli.main(["hips", paths[0], "-o", str(tmp_path), "--overwrite", "-q"]) == 2  # not a HiPS: kept
    # --update adds inputs in place (as update_hips); median cannot be carried forward
    import shutil

    from numbamosaic.hips import update_hips

    assert cli.main(["hips", paths[1], "-o", out, "--update", "--combine", "median", "-q"]) == 2
    api = str(tmp_path / "api")
    shutil.copytree(out, api)
    assert cli.main(["hips", paths[1], "-o", out, "--update", "--combine", "max", "-q"]) == 0
    update_hips(api, [paths[1]], combine_function="max")
    for f in _tiles(api):
        assert np.array_equal(fits.getdata(os.path.join(out, f)), fits.getdata(os.path.join(api, f)), equal_nan=True)


def test_coadd_hips_combines(tmp_path):
    """coadd_hips of two single-input HiPS = the per-pixel combination of their tiles; lower orders rebuilt."""
    dirs = []
    for i, (dx, dy) in enumerate([(0, 0), (1.0, 0.3)]):
        data, w = _image(83.0 + dx, -5.0 + dy, n=32, scale=0.1, seed=i)
        d = str(tmp_path / f"h{i}")
        reproject_to_hips((data + i, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                          output_directory=d, tile_size=16, level=4)
        dirs.append(d)
    out = str(tmp_path / "co")
    numbamosaic.coadd_hips(dirs, out, combine_function="max")
    deep = [f for f in _tiles(out) if f.startswith("Norder4")]
    assert sorted(set(f for d in dirs for f in _tiles(d) if f.startswith("Norder4"))) == deep
    overlap = 0
    for f in deep:
        parts = [fits.getdata(os.path.join(d, f)) for d in dirs if os.path.exists(os.path.join(d, f))]
        overlap += len(parts) > 1
        with np.errstate(all="ignore"):
            expect = np.fmax.reduce(parts) if len(parts) > 1 else parts[0]
        assert np.array_equal(fits.getdata(os.path.join(out, f)), expect, equal_nan=True), f
    assert overlap > 0
    for f in [f for f in _tiles(out) if f.startswith("Norder3")]:
        p = int(f.split("Npix")[1].split(".")[0])
        parent = fits.getdata(os.path.join(out, f))
        expect = np.full((16, 16), np.nan)
        for sub in range(4):
            c = tile_path(out, 4, 4 * p + sub, "fits")
            if os.path.exists(c):
                rows = slice(0, 8) if sub & 1 else slice(8, 16)
                cols = slice(8, 16) if sub & 2 else slice(0, 8)
                expect[rows, cols] = reduce2x2(fits.getdata(c))
        assert np.array_equal(parent, expect.astype(np.float32), equal_nan=True)
    with pytest.raises(ValueError, match="combine_function"):
        numbamosaic.coadd_hips(dirs, str(tmp_path / "bad"), combine_function="clipped")


def test_hips_on_dask_is_bitwise_threaded(tmp_path):
    """parallel='current-scheduler': every file (tiles of all orders, Allsky, MOC) byte for byte the threaded one,
    for the fused kernel (reproject_to_hips) and the mosaic form (median of overlapping inputs through
    reproject_and_coadd, mean through the fused kernel input by input)."""
    distributed = pytest.importorskip("distributed")
    data, w = _image(180.0, 0.0, n=48)
    inputs = [_image(83.0 + dx, -5.0 + dy, n=24, scale=0.1, seed=i) for i, (dx, dy) in enumerate([(0, 0), (1.2, 0.5)])]
    runs = {}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, \
            distributed.Client(c):
        for how in (2, "current-scheduler"):
            d = str(tmp_path / f"one{how}")
            reproject_to_hips((data, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                              output_directory=d, tile_size=16, threads=how)
            m = str(tmp_path / f"mos{how}")
            mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=m, tile_size=16, level=4,
                           combine_function="median", parallel=how, match_background=True)
            f = str(tmp_path / f"mean{how}")  # the fused input-by-input path
            mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=f, tile_size=16, level=4,
                           combine_function="mean", parallel=how, match_background=True)
            runs[how] = (d, m, f)
    for a, b in zip(runs[2], runs["current-scheduler"]):
        files = sorted(os.path.relpath(p, a) for p in glob.glob(os.path.join(a, "**", "*.fits"), recursive=True))
        assert len(files) > 5 and "Moc.fits" in files
        assert files == sorted(os.path.relpath(p, b) for p in glob.glob(os.path.join(b, "**", "*.fits"), recursive=True))
        for f in files:
            with open(os.path.join(a, f), "rb") as fa, open(os.path.join(b, f), "rb") as fb:
                assert fa.read() == fb.read(), f


def test_mosaic_to_hips_matches_backgrounds(tmp_path):
    """Cut-outs of one sky with known offsets: one set of offsets for the whole survey (not per tile), so every
    deepest tile equals reproject_and_coadd of the inputs corrected by the true offsets (input 0 the reference)."""
    from astropy.coordinates import Galactic

    img, w = _image(83.0, -5.0, n=48, scale=0.1)
    boxes = [(0, 30, 0, 30), (0, 30, 18, 48), (18, 48, 8, 40)]
    truth = [0.0, 0.5, -0.3]
    inputs = [(img[y0:y1, x0:x1] + np.float32(b), w[y0:y1, x0:x1]) for (y0, y1, x0, x1), b in zip(boxes, truth)]
    clean = [(img[y0:y1, x0:x1], w[y0:y1, x0:x1]) for (y0, y1, x0, x1) in boxes]
    out = str(tmp_path / "bg")
    mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=out, tile_size=16, level=4,
                   match_background=True, background_reference=0)
    deep = [f for f in _tiles(out) if f.startswith("Norder4")]
    assert len(deep) > 3
    for f in deep:
        index = int(f.split("Npix")[1].split(".")[0])
        ref, fp = numbamosaic.reproject_and_coadd(clean, tile_header(Galactic(), 4, index, 16), shape_out=(16, 16),
                                                  blank_pixel_value=np.nan)
        ref[fp == 0] = np.nan
        assert np.allclose(fits.getdata(os.path.join(out, f)), ref, rtol=0, atol=1e-5, equal_nan=True), f
    with pytest.raises(ValueError, match="background_model"):
        mosaic_to_hips(inputs, coord_system_out="galactic", output_directory=str(tmp_path / "p"), level=4,
                       match_background=True, background_model="plane")


def test_update_hips_equals_building_from_all_inputs(tmp_path):
    """Adding an input rewrites only the tiles it touches (and their ancestors, Allsky, MOC) and gives, byte for
    byte, the HiPS built from all inputs at once ('last': the new pixels win where the inputs overlap)."""
    from numbamosaic.hips import update_hips

    img, w = _image(83.0, -5.0, n=64, scale=0.1)
    boxes = [(0, 30, 0, 30), (0, 30, 18, 48), (20, 50, 20, 64)]
    inputs = [(img[y0:y1, x0:x1] + np.float32(0.1 * k), w[y0:y1, x0:x1]) for k, (y0, y1, x0, x1) in enumerate(boxes)]
    full, inc = str(tmp_path / "full"), str(tmp_path / "inc")
    kw = dict(coord_system_out="galactic", tile_size=16, level=5, combine_function="last")
    mosaic_to_hips(inputs, output_directory=full, **kw)
    mosaic_to_hips(inputs[:2], output_directory=inc, **kw)

    def files(d):
        return sorted(os.path.relpath(p, d) for p in glob.glob(os.path.join(d, "**", "*.fits"), recursive=True))

    before = {f: os.stat(os.path.join(inc, f)).st_ino for f in files(inc)}  # a rewrite renames a new file in
    touched = update_hips(inc, inputs[2:], combine_function="last")
    assert files(inc) == files(full)
    for f in files(full):
        with open(os.path.join(full, f), "rb") as a, open(os.path.join(inc, f), "rb") as b:
            assert a.read() == b.read(), f
    rewritten = {f for f in before if os.stat(os.path.join(inc, f)).st_ino != before[f]}
    assert {f for f in rewritten if f.startswith("Norder5")} <= {os.path.relpath(tile_path(inc, 5, i, "fits"), inc)
                                                                for i in touched}
    assert len(rewritten) < len(before)  # tiles the new input does not touch are left alone
    with pytest.raises(ValueError, match="combine_function"):
        update_hips(inc, inputs[2:], combine_function="mean")


def _hipsgen_style_copy(src, dst):
    """``src`` rewritten as older tools write a HiPS: legacy property names (maxOrder, coordsys, format), int16
    tiles with BSCALE/BZERO/BLANK, some tiles gzip-compressed, some trimmed to their data (ONAXISn/TRIMn).
    Returns the quantisation step."""
    import gzip
    import shutil

    shutil.copytree(src, dst)
    props = load_properties(src)
    legacy = {"hips_order": "maxOrder", "hips_frame": "coordsys", "hips_tile_format": "format"}
    with open(os.path.join(dst, "properties"), "w") as f:
        f.write("# written by a test\n! a Java-properties comment\n")
        for k, v in props.items():
            f.write(f"{legacy.get(k, k)} = {'C' if k == 'hips_frame' else v}\n")
    lo, hi = (float(v) for v in props["hips_data_range"].split())
    bscale, bzero = (hi - lo) / 60000.0, 0.5 * (hi + lo)
    for k, rel in enumerate(_tiles(src)):
        a = fits.getdata(os.path.join(src, rel))
        raw = np.where(np.isnan(a), -32768, np.round((np.nan_to_num(a) - bzero) / bscale)).astype(">i2")
        cards = [("SIMPLE", True), ("BITPIX", 16), ("NAXIS", 2), ("NAXIS1", 0), ("NAXIS2", 0),
                 ("BSCALE", bscale), ("BZERO", bzero), ("BLANK", -32768)]
        rows, cols = np.nonzero(raw != -32768)
        if k % 3 == 1:  # trimmed to the data's bounding box
            r0, c0 = rows.min(), cols.min()
            raw = raw[r0 : rows.max() + 1, c0 : cols.max() + 1]
            cards += [("ONAXIS1", a.shape[1]), ("ONAXIS2", a.shape[0]), ("TRIM1", int(c0)), ("TRIM2", int(r0))]
        cards[3:5] = [("NAXIS1", raw.shape[1]), ("NAXIS2", raw.shape[0])]
        text = "".join(str(fits.Card(key, value)) for key, value in cards) + "END".ljust(80)
        blob = (text + " " * (-len(text) % 2880)).encode() + raw.tobytes()
        blob += b"\0" * (-len(blob) % 2880)
        with (gzip.open if k % 3 == 2 else open)(os.path.join(dst, rel), "wb") as f:
            f.write(blob)
    return bscale


def test_reads_hips_of_other_tools(tmp_path):
    """A HiPS with legacy properties and integer, gzipped and trimmed tiles reads as the float HiPS it was made from
    (to the quantisation step): reproject_from_hips, hips_as_dask_array and coadd_hips."""
    from numbamosaic.hips import hips_as_dask_array, reproject_from_hips

    data, w = _image(83.0, -5.0, n=32, scale=0.1)
    ours, old = str(tmp_path / "ours"), str(tmp_path / "old")
    reproject_to_hips((data, w), coord_system_out="equatorial", reproject_function=numbamosaic.reproject_interp,
                      output_directory=ours, tile_size=16, level=4)
    step = _hipsgen_style_copy(ours, old)
    assert "hips_order" not in load_properties(old) and len(_tiles(old)) > 6
    _, wout = _image(83.2, -4.9, n=40, scale=0.06)
    for order in ("bilinear", "nearest-neighbor"):
        for level in (None, 3):
            a, fa = reproject_from_hips(ours, wout, shape_out=(40, 40), order=order, level=level)
            b, fb = reproject_from_hips(old, wout, shape_out=(40, 40), order=order, level=level)
            assert np.array_equal(fa, fb) and fa.sum() > 100
            ok = fa > 0
            assert np.abs(a[ok] - b[ok]).max() <= 0.51 * step
    a = hips_as_dask_array(ours, level=4)[0].compute(scheduler="synchronous")
    b = hips_as_dask_array(old, level=4)[0].compute(scheduler="synchronous")
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.nanmax(np.abs(a - b)) <= 0.51 * step
    co = str(tmp_path / "co")
    numbamosaic.coadd_hips([old], co)
    assert load_properties(co)["hips_frame"] == "equatorial" and _tiles(co) == _tiles(ours)
    good = load_properties(old)
    for bad, match in (({"maxOrder": "x"}, "hips_order"), ({"coordsys": "mars"}, "hips_frame"),
                       ({"format": "png"}, "no FITS tiles")):
        props = dict(good, **bad)
        with open(os.path.join(old, "properties"), "w") as f:
            f.writelines(f"{k} = {v}\n" for k, v in props.items())
        with pytest.raises(ValueError, match=match):
            reproject_from_hips(old, wout, shape_out=(40, 40))
