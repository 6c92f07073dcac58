"""Run the interp, mosaic and end-to-end benchmarks and print a table of ratios vs peers.

Usage::

    python benchmarks/run_all.py                 # full size (several minutes)
    python benchmarks/run_all.py --only e2e      # CLI vs SWarp, API first call vs reproject
    python benchmarks/run_all.py --quick         # small sizes, smoke test (~1-2 min)
    python benchmarks/run_all.py --methods interp,exact --tiles 4 --combine mean,median
    numbamosaic bench [same options]             # from a source checkout

Each figure comes from a fresh subprocess per contender (see
``benchmarks/README.md``).  Peers that are not installed (SWarp, Montage,
reproject) are skipped.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_e2e  # noqa: E402
import bench_interp  # noqa: E402
import bench_mosaic  # noqa: E402
import common  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes (interp 1024², mosaic tiles 512²)")
    p.add_argument("--size", type=int, default=None, help="interp image side (default 4096; 1024 with --quick)")
    p.add_argument("--repeat", type=int, default=None, help="interp steady repeats (default 3; 1 with --quick)")
    p.add_argument("--tile-size", type=int, default=None, help="mosaic tile side (default 2048; 512 with --quick)")
    p.add_argument("--tiles", type=int, default=None, help="mosaic: use only N tiles (e.g. 4)")
    p.add_argument("--methods", default="interp", help="mosaic methods: interp,exact,adaptive")
    p.add_argument("--combine", default="mean", help="mosaic combine: mean,median")
    p.add_argument("--skip", default="", help="contenders to skip: numbamosaic,reproject,swarp,montage")
    p.add_argument("--only", choices=("interp", "mosaic", "e2e"), default=None, help="run only one benchmark")
    p.add_argument("--e2e-tiles", default=None, help="end-to-end surveys (default 16,64; 16 with --quick); 'none' skips them")
    p.add_argument("--data", default=None, help="end to end: directory for the surveys (kept and reused)")
    p.add_argument("--no-memory-scenario", action="store_true", help="skip the mosaic memory scenario")
    p.add_argument("--json", default=None, help="write all rows as JSON to this file")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # ``numbamosaic bench -- --quick`` passes the separator through
        argv = argv[1:]
    args = p.parse_args(argv)

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    size = args.size or (1024 if args.quick else 4096)
    repeat = args.repeat or (1 if args.quick else 3)
    tile_size = args.tile_size or (512 if args.quick else 2048)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    combines = [c.strip() for c in args.combine.split(",") if c.strip()]
    print(f"machine: {common.machine_summary()}", flush=True)

    summary = []
    everything = {}
    if args.only in (None, "interp"):
        rows, agreement = bench_interp.run(size=size, repeat=repeat, skip=skip)
        bench_interp.report(rows, agreement, size, repeat)
        for r in bench_interp.summary_rows(rows):
            r["benchmark"] = f"interp {size}² bilinear"
            summary.append(r)
        everything["interp"] = {"rows": rows, "agreement": agreement}
    if args.only in (None, "mosaic"):
        rows = bench_mosaic.run(methods, combines, args.tiles, skip, not args.no_memory_scenario,
                                tile_size=tile_size)
        bench_mosaic.report(rows)
        summary.extend(bench_mosaic.summary_rows(rows))
        everything["mosaic"] = rows

    if args.only in (None, "e2e") and (args.e2e_tiles or "").lower() != "none":
        e2e_tiles = [int(t) for t in (args.e2e_tiles or ("16" if args.quick else "16,64")).split(",") if t.strip()]
        e2e_skip = [{"swarp": "swarp", "reproject": "reproject", "numbamosaic": "numbamosaic"}[s] for s in skip
                    if s in ("swarp", "reproject", "numbamosaic")]
        rows = bench_e2e.run(e2e_tiles, args.data, e2e_skip, tile_size=tile_size)
        bench_e2e.report(rows)
        everything["e2e"] = [{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in rows]

    common.print_table(summary, [
        ("benchmark", "benchmark"), ("peer", "peer"),
        ("peer s", "peer_s"), ("numbamosaic s", "numbamosaic_s"),
        ("peer time / numbamosaic", lambda r: (common.fmt(r["ratio"], ".2f") + "x") if r["ratio"] else "—"),
        ("peer peak anon MiB", lambda r: common.fmt(r["peer_anon"], ".0f")),
        ("numbamosaic peak anon MiB", lambda r: common.fmt(r["numbamosaic_anon"], ".0f")),
    ], title="## Summary: time ratios against the peers found (> 1 means numbamosaic is faster)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
