"""Bitwise checksums of representative outputs, to verify parity after refactors.

Runs a small deterministic set of reprojections and mosaics (the synthetic
survey of :mod:`numbamosaic.synthetic`, 2x2 tiles of 256^2) and prints the
SHA-256 of every output array's bytes.  A refactor that must not change
results (JIT options, inlining, layout normalisation...) is checked with::

    python -m benchmarks.checksums --compare      # against benchmarks/checksums.json
    python -m benchmarks.checksums --write        # record the current tree's checksums

Cases: interp mean and median, exact mean, adaptive mean mosaics of the
survey; a single-image ``reproject_interp`` (bicubic) and ``reproject_exact``
of one tile; the same interp mosaic from big-endian, float64, read-only,
strided and Fortran-ordered inputs (which must equal their native float32
C-contiguous counterpart where the values are the same).  Each case runs
serially and with 2 threads; both must give the same bytes.

The whole run compiles the kernels it needs: use a warm cache to make it fast.

The stored checksums belong to one machine kind: on 2026-12-03 the project's VM
moved to another CPU (AVX2/FMA, no AVX-512) and every data checksum of the file
recorded the day before differed, for caf83a4 as for the commits it had been
recorded with (footprints equal).  The inputs hash the same with NumPy's SIMD
dispatch disabled, so the difference comes from the machine's math code paths
(e.g. glibc's CPU-specific ``exp``/``sin`` variants), not from a change of
numbamosaic.  ``--compare`` is therefore for a before/after check on one
machine: run ``--write`` on the base commit first, then ``--compare`` on the
change.  The file was re-recorded on that day at git 5ceb1ff (equal to caf83a4's
run of the same machine).
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = os.path.join(HERE, "checksums.json")


def _sha(a):
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    h = hashlib.sha256(str(a.dtype).encode())
    h.update(a.tobytes())
    return h.hexdigest()[:24]


def _survey():
    from numbamosaic.synthetic import make_survey, survey_output_wcs

    hdus = make_survey(2, 2, tile_shape=(256, 256), seed=3)
    wcs_out, shape_out = survey_output_wcs(hdus)
    return hdus, wcs_out, shape_out


def cases():
    """Yield ``(name, callable)`` pairs; each callable takes ``parallel``."""
    from astropy.wcs import WCS

    import numbamosaic as nm

    hdus, wcs_out, shape_out = _survey()
    pairs = [(h.data, WCS(h.header)) for h in hdus]

    def coadd(fn, combine, inputs=pairs, **kw):
        return lambda parallel: nm.reproject_and_coadd(
            inputs, wcs_out, shape_out=shape_out, reproject_function=fn,
            combine_function=combine, parallel=parallel, **kw)

    yield "interp-mean", coadd(nm.reproject_interp, "mean")
    yield "interp-median", coadd(nm.reproject_interp, "median")
    yield "exact-mean", coadd(nm.reproject_exact, "mean")
    yield "adaptive-mean", coadd(nm.reproject_adaptive, "mean")

    d0, w0 = pairs[0]
    yield "single-interp-bicubic", lambda parallel: nm.reproject_interp(
        (d0, w0), wcs_out, shape_out=shape_out, order="bicubic", parallel=parallel)
    yield "single-exact", lambda parallel: nm.reproject_exact(
        (d0, w0), wcs_out, shape_out=shape_out, parallel=parallel)

    # Input layouts and flags: same values, different memory -> same bytes out.
    def readonly(a):
        a = a.copy()
        a.flags.writeable = False
        return a

    variants = {
        "bigendian": lambda a: a.astype(">f4"),
        "readonly": readonly,
        "fortran": np.asfortranarray,
        "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    }
    for vname, f in variants.items():
        yield f"interp-mean-{vname}", coadd(nm.reproject_interp, "mean", inputs=[(f(d), w) for d, w in pairs])
    yield "interp-mean-f8", coadd(nm.reproject_interp, "mean", inputs=[(d.astype("f8"), w) for d, w in pairs])


def compute():
    out = {}
    for name, fn in cases():
        got = []
        for parallel in (False, 2):
            arr, fp = fn(parallel)
            got.append(f"{_sha(arr)}:{_sha(fp)}")
        if got[0] != got[1]:
            got[0] += " (THREADS DIFFER: " + got[1] + ")"
        out[name] = got[0]
        print(f"{name:28s} {got[0]}", flush=True)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help=f"store the checksums in {STORE}")
    p.add_argument("--compare", action="store_true", help=f"compare with {STORE}; exit 1 on a difference")
    args = p.parse_args(argv)
    got = compute()
    status = 0
    if args.compare:
        with open(STORE) as f:
            ref = json.load(f)
        for name, value in got.items():
            if ref.get(name) != value:
                print(f"DIFFERS: {name}: stored {ref.get(name)} now {value}")
                status = 1
        print("bitwise parity: " + ("OK" if status == 0 else "BROKEN"))
    if args.write:
        with open(STORE, "w") as f:
            json.dump(got, f, indent=1, sort_keys=True)
            f.write("\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
