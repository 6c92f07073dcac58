"""``numbamosaic demo``: a small synthetic survey, its mosaic and a PNG preview."""

import os
import time

from ..synthetic import make_survey, write_survey
from ._frame import describe_frame
from ._mosaic import run_mosaic
from ._parser import UsageError, build_parser, say
from ._preview import write_preview


def _mosaic_args(args, paths, output):
    """The parsed options of ``numbamosaic mosaic`` for the demo: its defaults plus the demo's choices."""
    argv = ["mosaic", f"--output={output}", f"--method={args.method}", f"--combine={args.combine}"]
    if args.threads:
        argv.append(f"--threads={args.threads}")
    if args.progress is not None:
        argv.append("--progress" if args.progress else "--no-progress")
    if getattr(args, "quiet", False):
        argv.append("--quiet")
    return build_parser().parse_args(argv + ["--", *paths])


def cmd_demo(args):
    """``numbamosaic demo``: synthetic survey -> mosaic.fits + mosaic.png."""
    directory = args.directory
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"demo directory is a file: {directory}")
    os.makedirs(directory, exist_ok=True)
    t0 = time.perf_counter()
    n, px = args.tiles, args.tile_pixels
    hdus = make_survey(n, n, tile_shape=(px, px), seed=args.seed, nan_blobs=1)
    paths = write_survey(hdus, os.path.join(directory, "tiles"))
    t_survey = time.perf_counter() - t0
    r = run_mosaic(_mosaic_args(args, paths, os.path.join(directory, "mosaic.fits")), paths, overwrite=True)
    png = os.path.join(directory, "mosaic.png")
    preview = None
    try:
        write_preview(png, r["array"], r["footprint"], r["wcs"], title=f"numbamosaic demo: {args.combine} of {len(paths)} tiles")
        preview = png
    except ImportError:
        pass
    ny, nx = r["shape"]
    lines = [
        f"numbamosaic demo: synthetic survey of {n} x {n} tiles of {px} x {px} px "
        f"({t_survey:.1f} s) -> {os.path.join(directory, 'tiles')}/",
        f"  output frame (automatic): {describe_frame(r['wcs'], r['shape'])}",
        f"  mosaic: {args.combine} of {len(paths)} tiles, {args.method}, {nx} x {ny} {r['dtype'].name}, "
        f"{r['seconds']:.1f} s (including first-use compilation)",
        f"  wrote {r['path']}  (primary: mosaic + WCS + provenance; extension FOOTPRINT: coverage)",
    ]
    if preview:
        lines.append(f"  wrote {preview}  (preview: image with RA/Dec grid, footprint)")
    else:
        lines.append("  no PNG preview: matplotlib is not installed (pip install matplotlib)")
    tiles_glob = os.path.join(directory, "tiles", "*.fits")
    lines.append(f"  next: numbamosaic mosaic '{tiles_glob}' -o my-mosaic.fits --combine median --method lanczos3")
    say(args, "\n".join(lines))
    return 0
