"""Per-process start-up: what importing and running commands loads, and warmup.

* ``import numbamosaic``, the CLI module and each command import only what
  they use (checked in a fresh subprocess: ``sys.modules`` after each step,
  against what ``import numba`` alone loads).
* :func:`numbamosaic.warmup` really compiles: after it ran in one process,
  a fresh process with the same ``NUMBA_CACHE_DIR`` loads every kernel it
  calls from the cache and compiles none (Numba's dispatcher statistics).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from numbamosaic import _warmup
from numbamosaic.cli import main

ROOT = Path(__file__).resolve().parent.parent

#: modules no step below may import unless it needs them (astropy.wcs needs astropy.coordinates)
STAGES = textwrap.dedent(
    """
    import contextlib, io, json, sys
    import numba  # baseline: what Numba itself imports (e.g. the top-level scipy package)

    HEAVY = ("astropy.coordinates", "astropy.nddata", "astropy.visualization", "dask", "distributed", "zarr",
             "matplotlib", "tqdm", "scipy", "pandas", "IPython")
    base = set(sys.modules)

    def heavy():
        found = set()
        for m in set(sys.modules) - base:
            if m.startswith(HEAVY) and not m.startswith("scipy._lib"):
                parts = m.split(".")
                found.add(".".join(parts[:2]) if parts[0] in ("astropy", "scipy") else parts[0])
        return sorted(found)

    report = {}
    import numbamosaic
    report["import numbamosaic"] = heavy()
    from numbamosaic.cli import main
    report["import numbamosaic.cli"] = heavy()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(["mosaic", "--help"])
    report["mosaic --help"] = heavy()
    tiles, out = sys.argv[1:-1], sys.argv[-1]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["plan", *tiles]) == 0
    report["plan"] = heavy()
    assert main(["mosaic", *tiles, "-o", out, "--no-progress", "-q"]) == 0
    report["mosaic"] = heavy()
    print("STAGES " + json.dumps(report))
    """
)


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def _run(script, *args, **env):
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          timeout=900, env=_env(**env))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    from numbamosaic.synthetic import make_survey, write_survey

    d = tmp_path_factory.mktemp("tiles")
    return write_survey(make_survey(2, 1, tile_shape=(32, 32), seed=3), str(d))


def test_imports_are_only_what_each_step_uses(tiles, tmp_path):
    out = _run(STAGES, *tiles, tmp_path / "m.fits")
    stages = json.loads(out.split("STAGES ", 1)[1])
    for step in ("import numbamosaic", "import numbamosaic.cli", "mosaic --help"):
        assert stages[step] == [], (step, stages[step])
    # WCS work needs astropy.wcs, which imports astropy.coordinates; Numba's first compile or cache load
    # imports scipy.linalg (its BLAS check).  Nothing else: no nddata/scipy.sparse, dask, zarr, tqdm, matplotlib
    for step in ("plan", "mosaic"):
        assert set(stages[step]) <= {"astropy.coordinates", "scipy.linalg"}, (step, stages[step])


FIRST_CALL = textwrap.dedent(
    """
    import sys
    import numpy as np
    from astropy.wcs import WCS
    from numba.core.dispatcher import Dispatcher
    import numbamosaic as nm

    def wcs(crval, rot, n):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = crval
        w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
        t = np.radians(rot)
        w.wcs.cd = 3e-4 * np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])
        return w

    rng = np.random.default_rng(5)
    inputs = [(rng.normal(size=(40, 48)).astype(np.float32), wcs([10.0, -20.0], 4.0, 44)),
              (rng.normal(size=(40, 48)).astype(np.float32), wcs([10.003, -20.0], -9.0, 44))]
    out, fp = nm.reproject_and_coadd(inputs, wcs([10.0015, -20.0], 0.0, 56), shape_out=(56, 56),
                                     combine_function="mean", parallel=1)
    assert fp.max() == 2 and np.isfinite(out).sum() > 1000
    hits = misses = 0
    for name, mod in list(sys.modules.items()):
        if name.startswith("numbamosaic") and mod is not None:
            for obj in vars(mod).values():
                obj = getattr(obj, "dispatcher", obj)  # kernels/_entry.Entry wraps a dispatcher
                if isinstance(obj, Dispatcher) and obj.stats.cache_path:
                    hits += sum(obj.stats.cache_hits.values())
                    misses += sum(obj.stats.cache_misses.values())
                    if obj.stats.cache_misses:
                        print("MISS", name, obj.py_func.__name__, dict(obj.stats.cache_misses))
    print("CACHE", hits, misses)
    """
)


def test_warmup_fills_the_cache_for_a_fresh_process(tmp_path):
    cache = str(tmp_path / "numba-cache")
    out = _run(
        "import numbamosaic as nm, json; "
        "r = nm.warmup(methods=['bilinear'], combines=['mean'], files=False, single=False); "
        "print('WARM', json.dumps(r['cache_dir']))",
        NUMBA_CACHE_DIR=cache,
    )
    assert json.loads(out.split("WARM ", 1)[1]).startswith(cache)
    out = _run(FIRST_CALL, NUMBA_CACHE_DIR=cache)
    hits, misses = map(int, out.split("CACHE ", 1)[1].split()[:2])
    assert misses == 0, out
    assert hits >= 2, out


def test_warmup_command_and_arguments(monkeypatch, capsys):
    with pytest.raises(ValueError, match="methods"):
        _warmup.warmup(methods=["cubic"])
    with pytest.raises(ValueError, match="dtypes"):
        _warmup.warmup(methods=["bilinear"], dtypes=["int8"])
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return {"seconds": 0.5, "steps": [("x", 0.5)], "cache_dir": "/somewhere"}

    monkeypatch.setattr(_warmup, "warmup", fake)
    assert main(["warmup", "--method", "bilinear", "exact", "--combine", "median", "--dtype", "float64", "-q"]) == 0
    assert main(["warmup"]) == 0
    assert calls == [dict(methods=["bilinear", "exact"], combines=["median"], dtypes=["float64"],
                          match_background=False, verbose=False),
                     dict(methods=None, combines=None, dtypes=["float32"], match_background=False, verbose=True)]
    out = capsys.readouterr().out
    assert out.count("/somewhere") == 1, out  # -q prints nothing
    assert main(["warmup", "--method", "cubic"]) == 2
