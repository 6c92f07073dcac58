"""Distributed vs threaded mosaic on the 16-tile survey (issue 4).

Runs ``reproject_and_coadd`` on the benchmark survey (FITS files on disk, read
by reference on the workers) three ways in one process, each warmed up first
(kernels compiled / loaded from cache on the client and on every worker) and
timed as the best of ``--repeat`` calls:

* local threads (``parallel=2``),
* ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``,
* the same cluster with background matching.

It checks the distributed mosaics are bitwise identical to the threaded ones
and prints the time ratio and the task counts.

Usage::

    python benchmarks/bench_distributed.py [--grid 4] [--tile-size 2048] [--combine mean]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def best_of(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=int, default=4, help="survey is grid x grid tiles (default 4)")
    p.add_argument("--tile-size", type=int, default=2048)
    p.add_argument("--combine", default="mean")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)

    from distributed import Client, LocalCluster

    import numbamosaic as nm
    from numbamosaic.mosaic._coadd import _prepare
    from numbamosaic.synthetic import make_survey, survey_output_wcs, write_survey

    hdus = make_survey(nx_tiles=args.grid, ny_tiles=args.grid, tile_shape=(args.tile_size, args.tile_size))
    wcs_out, shape = survey_output_wcs(hdus)
    tmp = tempfile.mkdtemp(prefix="nm_bench_dist_")
    paths = write_survey(hdus, tmp)
    del hdus
    job = _prepare(paths, wcs_out, shape_out=shape, combine_function=args.combine)
    members = [m for m in job.members if m]
    print(f"survey: {len(paths)} tiles of {args.tile_size}^2 -> {shape[0]} x {shape[1]}; "
          f"{len(members)} tile tasks of {job.plan.tile_shape[0]}^2, {sum(map(len, members))} task-input edges, "
          f"{sum(len(m) > 1 for m in members)} background tasks; cpu count {os.cpu_count()}", flush=True)

    def local(**kw):
        return nm.reproject_and_coadd(paths, wcs_out, shape_out=shape, combine_function=args.combine, parallel=2, **kw)

    local()  # warm-up
    t_local, ref = best_of(local, args.repeat)
    t_local_bg, ref_bg = best_of(lambda: local(match_background=True), args.repeat)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:

        def dist(**kw):
            return nm.reproject_and_coadd(paths, wcs_out, shape_out=shape, combine_function=args.combine,
                                          parallel=client, **kw)

        dist()  # warm-up: workers compile or load the kernels and open the files
        t_dist, out = best_of(dist, args.repeat)
        t_dist_bg, out_bg = best_of(lambda: dist(match_background=True), args.repeat)
    same = np.array_equal(out[0], ref[0]) and np.array_equal(out[1], ref[1])
    same_bg = np.array_equal(out_bg[0], ref_bg[0]) and np.array_equal(out_bg[1], ref_bg[1])
    load = os.getloadavg()[0]
    print(f"\n| run ({args.combine}) | local 2 threads s | 2 workers x 1 thread s | distributed / local | bitwise equal |")
    print("|---|---|---|---|---|")
    print(f"| mosaic | {t_local:.2f} | {t_dist:.2f} | {t_dist / t_local:.2f}x | {same} |")
    print(f"| mosaic + background matching | {t_local_bg:.2f} | {t_dist_bg:.2f} | {t_dist_bg / t_local_bg:.2f}x | {same_bg} |")
    print(f"\nbest of {args.repeat} after warm-up; load average {load:.2f}")
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return 0 if (same and same_bg) else 1


if __name__ == "__main__":
    sys.exit(main())
