"""Run a representative matrix of small calls and print every kernel's compiled signatures.

Used by ``tests/test_compile_budget.py`` in a fresh process (so that the
count does not depend on what other tests compiled before); kernels come from
the on-disk cache when the suite compiled them already.  Prints one JSON
object ``{"module.kernel": [signature, ...]}`` on the last line.
"""

import json
import os
import sys
import tempfile

import numpy as np


def layouts(d, tmp):
    """The same float32 values in every memory layout and flag a user may pass."""
    ro = d.copy()
    ro.flags.writeable = False
    path = os.path.join(tmp, "mm.f4")
    d.tofile(path)
    mm = np.memmap(path, dtype=d.dtype, mode="r", shape=d.shape)
    big = np.repeat(np.repeat(d, 2, axis=0), 2, axis=1)
    return {
        "C": d,
        "readonly": ro,
        "memmap-r": mm,
        "F": np.asfortranarray(d),
        "strided": big[::2, ::2],
        "cutout": np.pad(d, 3)[3:-3, 3:-3],
        ">f4": d.astype(">f4"),
        ">f4-F": np.asfortranarray(d.astype(">f4")),
    }


def run():
    import numbamosaic as nm
    from astropy.wcs import WCS

    from numbamosaic.synthetic import make_survey, survey_output_wcs

    hdus = make_survey(2, 1, tile_shape=(24, 24), seed=5)
    wcs_out, shape_out = survey_output_wcs(hdus)
    wcs = [WCS(h.header) for h in hdus]
    tmp = tempfile.mkdtemp()
    results = {}
    added = []

    def mosaic(arrays, fn, combine, **kw):
        return nm.reproject_and_coadd(list(zip(arrays, wcs)), wcs_out, shape_out=shape_out, reproject_function=fn,
                                      combine_function=combine, parallel=False, **kw)

    per = []
    for k, h in enumerate(hdus):
        os.makedirs(os.path.join(tmp, str(k)))
        per.append(layouts(h.data, os.path.join(tmp, str(k))))
    for name in per[0]:
        arrays = [p[name] for p in per]
        r = {}
        r["interp"] = nm.reproject_interp((arrays[0], wcs[0]), wcs_out, shape_out=shape_out, parallel=False)
        r["interp-par"] = nm.reproject_interp((arrays[0], wcs[0]), wcs_out, shape_out=shape_out, parallel=2)
        r["bicubic"] = nm.reproject_interp((arrays[0], wcs[0]), wcs_out, shape_out=shape_out, order="bicubic", parallel=False)
        r["exact"] = nm.reproject_exact((arrays[0], wcs[0]), wcs_out, shape_out=shape_out, parallel=False)
        r["adaptive"] = nm.reproject_adaptive((arrays[0], wcs[0]), wcs_out, shape_out=shape_out, parallel=False)
        r["mean"] = mosaic(arrays, nm.reproject_interp, "mean")
        r["median"] = mosaic(arrays, nm.reproject_interp, "median")
        r["clipped"] = mosaic(arrays, nm.reproject_interp, "clipped-mean")
        r["exact-mean"] = mosaic(arrays, nm.reproject_exact, "mean")
        r["adaptive-max"] = mosaic(arrays, nm.reproject_adaptive, "max")
        results[name] = r
        # every layout and flag of the same dtype reuses the variants of the first
        now = signatures()
        if name in ("C", ">f4"):
            first = now
        else:
            added.extend(f"{name}: {k} +{len(v) - len(first.get(k, []))}" for k, v in now.items()
                         if len(v) != len(first.get(k, [])))
    # float64 inputs, and caller-provided outputs in other layouts
    d8 = [h.data.astype(np.float64) for h in hdus]
    results["f8"] = {"interp": nm.reproject_interp((d8[0], wcs[0]), wcs_out, shape_out=shape_out, parallel=False),
                     "mean": mosaic(d8, nm.reproject_interp, "mean")}
    before = signatures()
    outF = np.asfortranarray(np.zeros(shape_out, dtype=np.float32))
    fpF = np.zeros((2 * shape_out[0], shape_out[1]), dtype=np.float32)[::2]
    nm.reproject_interp((per[0]["C"], wcs[0]), wcs_out, shape_out=shape_out, parallel=False,
                        output_array=outF, output_footprint=fpF)
    results["outF"] = {"interp": (outF, fpF)}
    added.extend(f"outF: {k} +{len(v) - len(before.get(k, []))}" for k, v in signatures().items()
                 if len(v) != len(before.get(k, [])))
    return results, added


def signatures():
    """``{"module.name": [str(signature), ...]}`` for every compiled function of the package."""
    from numba.core.registry import CPUDispatcher

    import numbamosaic.kernels._entry as E

    out = {}
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("numbamosaic.") or mod is None:
            continue
        for name, obj in vars(mod).items():
            disp = obj.dispatcher if isinstance(obj, E.Entry) else obj
            if isinstance(disp, CPUDispatcher) and disp.py_func.__module__ == modname:
                out[f"{modname}.{name}"] = [str(s) for s in disp.signatures]
    return out


if __name__ == "__main__":
    res, added = run()
    ref = res["C"]
    diffs = []
    for name, r in res.items():
        if name in ("f8", "outF"):
            continue
        for case, got in r.items():
            for a, b in zip(ref[case], got):
                if not np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True):
                    diffs.append(f"{name}:{case}")
    a, b = ref["interp"], res["outF"]["interp"]
    if not (np.array_equal(a[0], b[0], equal_nan=True) and np.array_equal(a[1], b[1])):
        diffs.append("outF:interp")
    print(json.dumps({"differ": diffs, "added": added, "signatures": signatures()}))
