"""Threading layer: parallel kernels launched from several Python threads at once.

Numba's ``workqueue`` layer aborts the whole process when two threads (e.g.
dask's threaded scheduler) launch ``prange`` kernels concurrently.  numbamosaic
sets no global layer: TBB/OpenMP run the launches side by side, and under
``workqueue`` ``_threads.parallel_launch`` serialises them.  The launches run
in a subprocess so that an abort would fail this test instead of killing
pytest.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from astropy.wcs import WCS

import numbamosaic as nm
from numbamosaic._threads import resolve_threads

SCRIPT = textwrap.dedent(
    """
    import threading
    import numpy as np
    import numba
    from astropy.wcs import WCS
    import numbamosaic as nm

    def wcs(rot):
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [10.0, 20.0]
        w.wcs.crpix = [32.5, 32.5]
        t = np.radians(rot)
        w.wcs.cd = 1e-3 * np.array([[-np.cos(t), np.sin(t)], [np.sin(t), np.cos(t)]])
        return w

    data = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    ref = nm.reproject_interp((data, wcs(0)), wcs(7), shape_out=(64, 64), order="bicubic", parallel=2)[0]
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                out = nm.reproject_interp((data, wcs(0)), wcs(7), shape_out=(64, 64), order="bicubic", parallel=2)[0]
                results.append(np.array_equal(out, ref, equal_nan=True))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("LAYER", numba.threading_layer())
    print("OK", len(results), all(results), errors)
    """
)


@pytest.mark.parametrize("layer", [None, "workqueue"])
def test_concurrent_parallel_kernels_do_not_abort(layer):
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer:
        env["NUMBA_THREADING_LAYER"] = layer
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OK 20 True []" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    active = [line for line in proc.stdout.splitlines() if line.startswith("LAYER")][0].split()[1]
    assert active == (layer or active), active


def test_thread_count_does_not_change_results():
    w_in = WCS(naxis=2)
    w_in.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    w_in.wcs.crval = [150.0, -30.0]
    w_in.wcs.crpix = [40.5, 40.5]
    w_in.wcs.cdelt = [-2e-3, 2e-3]
    w_out = w_in.deepcopy()
    w_out.wcs.ctype = ["GLON-TAN", "GLAT-TAN"]
    w_out.wcs.crval = [264.25, 19.7]  # ICRS (150, -30) in Galactic coordinates
    data = np.random.default_rng(1).normal(size=(80, 80))
    outs = [nm.reproject_interp((data, w_in), w_out, shape_out=(90, 90), parallel=p)[0] for p in (False, 1, 2)]
    assert np.isfinite(outs[0]).sum() > 1000
    for o in outs[1:]:
        assert np.array_equal(o, outs[0], equal_nan=True)


def test_resolve_threads():
    import numba

    assert resolve_threads(False) == 1
    assert resolve_threads(True) == numba.config.NUMBA_NUM_THREADS
    assert resolve_threads(3) == min(3, numba.config.NUMBA_NUM_THREADS)

    with pytest.raises(ValueError, match="parallel"):
        resolve_threads(0)
    with pytest.raises(ValueError, match="parallel"):
        resolve_threads("many")


def test_numba_threads_holds_the_launch_lock_under_workqueue(monkeypatch):
    import threading

    from numbamosaic import _threads

    def try_lock(results):
        got = _threads._LAUNCH_LOCK.acquire(blocking=False)
        results.append(got)
        if got:
            _threads._LAUNCH_LOCK.release()

    def from_other_thread():
        results = []
        t = threading.Thread(target=try_lock, args=(results,))
        t.start()
        t.join()
        return results[0]

    monkeypatch.setattr(_threads, "_THREADSAFE", False)  # as if the active layer were workqueue
    with _threads.numba_threads(1):
        assert not from_other_thread()  # another thread cannot launch meanwhile
        with _threads.parallel_launch():  # re-entrant in the same thread (prefilter inside a task)
            pass
    assert from_other_thread()
    with _threads.numba_threads(1, launch=False):  # serial work around its own parallel_launch calls
        assert from_other_thread()
    monkeypatch.setattr(_threads, "_THREADSAFE", True)
    with _threads.numba_threads(1):
        assert from_other_thread()
