"""Shared benchmark machinery: fresh-subprocess runs, timing, peak memory, tables.

Every contender runs in its **own fresh subprocess** so that its memory
figures are not polluted by the driver or by other contenders, and so that
import and JIT-compile costs are visible.

Memory is measured in two independent ways:

* **polled** by the driver: every ``poll_interval`` seconds (10 ms) it reads
  ``/proc/<pid>/status`` of the contender *and all its descendants* and keeps
  the maximum of the summed ``VmRSS`` (resident set: anonymous + file-backed
  pages, including memory-mapped files) and of the summed ``RssAnon``
  (anonymous memory only: heap arrays and the like, *not* pages of
  memory-mapped files).  Spikes shorter than the interval can be missed.
* **kernel high-water marks**: ``VmHWM`` (peak resident set kept by the
  kernel; polled for every process of the tree and, for Python workers, read
  by the worker itself just before it exits, which is exact).  ``ru_maxrss``
  from ``os.wait4`` is recorded too but not shown: on Linux the forking
  driver's own high-water mark is folded into the child's at exec.

Python workers also report their ``RssAnon`` right before the timed work
(``baseline``: interpreter, imports and input data), so the driver can report
the memory the operation *added*.

Worker protocol: a worker prints one line ``BENCH_RESULT <json>`` on stdout
(see :func:`worker_report`); :func:`run_python_worker` parses it.
"""

import contextlib
import gc
import importlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

RESULT_TAG = "BENCH_RESULT "
MB = 1024.0 * 1024.0


# --------------------------------------------------------------------------
# /proc helpers
# --------------------------------------------------------------------------

def read_status(pid="self"):
    """``VmRSS``, ``VmHWM``, ``RssAnon``, ``RssFile`` of a process, in MiB.

    Returns an empty dict if the process is gone.
    """
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(rest.split()[0]) / 1024.0
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


def _descendants(pid):
    """PIDs of all live descendants of ``pid`` (from /proc task children)."""
    result = []
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                try:
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        kids = [int(k) for k in f.read().split()]
                except (FileNotFoundError, ProcessLookupError):
                    kids = []
                result.extend(kids)
                stack.extend(kids)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return result


# --------------------------------------------------------------------------
# Running and measuring a command
# --------------------------------------------------------------------------

def measure_command(cmd, cwd=None, env=None, poll_interval=0.01, timeout=None, echo=False):
    """Run ``cmd`` in a fresh process and measure wall time and peak memory.

    Parameters
    ----------
    cmd : list of str
        Command line.
    cwd : str, optional
        Working directory.
    env : dict, optional
        Extra environment variables (added to ``os.environ``).
    poll_interval : float, optional
        Seconds between memory polls.
    timeout : float, optional
        Kill the process after this many seconds.
    echo : bool, optional
        Print the command before running it.

    Returns
    -------
    dict
        ``wall`` (s), ``returncode``, ``stdout``, ``stderr``,
        ``peak_rss_mb`` and ``peak_anon_mb`` (polled, summed over the process
        tree), ``hwm_mb`` (largest ``VmHWM`` seen of any process of the tree,
        last poll before exit), ``maxrss_mb`` (``ru_maxrss`` from ``wait4``:
        beware, Linux folds the *driver's* high-water mark into it at
        fork/exec, so it is only meaningful when larger than the driver's),
        ``cpu`` (user +
        system seconds of the process and its waited-for descendants),
        ``cmd``.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    if echo:
        print("  $", " ".join(shlex.quote(c) for c in cmd), flush=True)
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=fo, stderr=fe)
        pid = proc.pid
        peak_rss = peak_anon = 0.0
        hwm = {}
        status = None
        rusage = None
        while True:
            wpid, status, rusage = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                break
            rss = anon = 0.0
            for p in [pid] + _descendants(pid):
                s = read_status(p)
                rss += s.get("VmRSS", 0.0)
                anon += s.get("RssAnon", 0.0)
                hwm[p] = max(hwm.get(p, 0.0), s.get("VmHWM", 0.0))
            peak_rss = max(peak_rss, rss)
            peak_anon = max(peak_anon, anon)
            if timeout is not None and time.perf_counter() - t0 > timeout:
                proc.kill()
            time.sleep(poll_interval)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        stdout, stderr = fo.read(), fe.read()
    return {
        "cmd": cmd,
        "wall": wall,
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "peak_rss_mb": peak_rss,
        "peak_anon_mb": peak_anon,
        "maxrss_mb": rusage.ru_maxrss / 1024.0,
        "hwm_mb": max(hwm.values()) if hwm else 0.0,
        "cpu": rusage.ru_utime + rusage.ru_stime,
    }


def run_python_worker(script, args, env=None, timeout=None, echo=False):
    """Run ``python script --worker args...`` and merge its reported result.

    Returns the :func:`measure_command` dict updated with the worker's
    ``BENCH_RESULT`` JSON, or with ``error`` if the worker failed.
    """
    cmd = [sys.executable, script, "--worker"] + [str(a) for a in args]
    m = measure_command(cmd, env=env, timeout=timeout, echo=echo)
    result = None
    for line in m["stdout"].splitlines():
        if line.startswith(RESULT_TAG):
            result = json.loads(line[len(RESULT_TAG):])
    if result is None or m["returncode"] != 0:
        tail = "\n".join(m["stderr"].strip().splitlines()[-15:])
        m["error"] = f"worker exited with {m['returncode']}: {tail}"
        if result is not None:
            m.update(result)
        return m
    m.update(result)
    m["hwm_mb"] = max(m.get("hwm_mb", 0.0), m.get("vmhwm_mb", 0.0))
    if "baseline_anon_mb" in m:
        m["added_anon_mb"] = m["peak_anon_mb"] - m["baseline_anon_mb"]
    return m


# --------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------

class WorkerState:
    """Collects a worker's timings and memory marks; see :func:`worker_report`."""

    def __init__(self):
        self.result = {}

    def mark_baseline(self):
        """Record the anonymous memory before the timed work."""
        gc.collect()
        s = read_status()
        self.result["baseline_anon_mb"] = s.get("RssAnon", 0.0)
        self.result["baseline_rss_mb"] = s.get("VmRSS", 0.0)

    def time_call(self, key, fn, *args, **kwargs):
        """Call ``fn``; store its wall time under ``key`` and its CPU time
        (user + system, all threads) under ``key + '_cpu'``; return its result."""
        c0 = cpu_time()
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.result[key] = time.perf_counter() - t0
        self.result[key + "_cpu"] = cpu_time() - c0
        return out


    def time_import(self, module, key="import"):
        """Import ``module`` (fresh process: its whole import cost) and store
        the wall time under ``key``; returns the module."""
        t0 = time.perf_counter()
        mod = importlib.import_module(module)
        self.result[key] = time.perf_counter() - t0
        return mod

    @contextlib.contextmanager
    def kernel_time(self, key):
        """Time spent inside Numba's dispatchers (compiling, or loading from
        the on-disk cache, including Numba's one-time start-up) during the
        block, stored under ``key``; the numbamosaic dispatchers' cache hits
        and misses of the block under ``key + '_cache_hits'`` / ``'_cache_misses'``.

        Instruments ``numba.core.dispatcher.Dispatcher.compile`` for the
        block (benchmark workers only): outermost calls are summed, so a
        kernel compiling its callees counts once."""
        h0, m0 = numba_cache_stats()
        with dispatcher_loads() as loads:
            try:
                yield
            finally:
                h1, m1 = numba_cache_stats()
                self.result[key] = sum(t for _, t in loads)
                self.result[key + "_cache_hits"] = h1 - h0
                self.result[key + "_cache_misses"] = m1 - m0


@contextlib.contextmanager
def dispatcher_loads():
    """Record the outermost Numba dispatcher compilations of the block.

    Yields a list that receives ``(qualified name, wall s)`` for each
    outermost ``numba.core.dispatcher.Dispatcher.compile`` call (compiling, or
    loading from the on-disk cache, including Numba's one-time start-up at
    the first one): a kernel compiling its callees counts once.  Instruments
    ``Dispatcher.compile`` for the block only (benchmark workers only)."""
    from numba.core.dispatcher import Dispatcher

    orig = Dispatcher.compile
    local = threading.local()
    loads = []
    lock = threading.Lock()

    def timed(disp, sig):
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        t0 = time.perf_counter()
        try:
            return orig(disp, sig)
        finally:
            local.depth = depth
            if depth == 0:
                with lock:
                    loads.append((f"{disp.py_func.__module__}.{disp.py_func.__qualname__}", time.perf_counter() - t0))

    Dispatcher.compile = timed
    try:
        yield loads
    finally:
        Dispatcher.compile = orig


def numba_cache_stats(prefix="numbamosaic"):
    """``(cache hits, cache misses)`` summed over the Numba dispatchers of the
    imported modules named ``prefix*`` (a miss is a compilation)."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover
        return 0, 0
    hits = misses = 0
    for name, mod in list(sys.modules.items()):
        if name.startswith(prefix) and mod is not None:
            for obj in list(vars(mod).values()):
                if isinstance(obj, Dispatcher):
                    hits += sum(obj.stats.cache_hits.values())
                    misses += sum(obj.stats.cache_misses.values())
    return hits, misses


def cpu_time():
    """User + system CPU seconds of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker_report(state, **extra):
    """Print the worker's ``BENCH_RESULT`` line (with its own VmHWM)."""
    s = read_status()
    res = dict(state.result)
    res.update(extra)
    res["vmhwm_mb"] = s.get("VmHWM", 0.0)
    mod = sys.modules.get("numbamosaic._cache")
    if mod is not None:
        # Kernel cache directory, named after a hash of the kernel sources:
        # two workers with different values did not share compiled kernels.
        res["numba_cache_dir"] = mod.cache_root()
    res["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(RESULT_TAG + json.dumps(res), flush=True)


# --------------------------------------------------------------------------
# Agreement
# --------------------------------------------------------------------------

def compare_images(a, cov_a, b, cov_b, rows=512):
    """Agreement of two images over the pixels both cover.

    Parameters
    ----------
    a, b : array-like (2-D, may be memmaps or FITS data)
        Images to compare.
    cov_a, cov_b : array-like of bool or float
        Coverage masks (footprint > 0, or weight > 0).
    rows : int, optional
        Rows processed at a time (bounded memory for large mosaics).

    Returns
    -------
    dict
        ``max_abs_diff``, ``range`` (of ``b`` over the common pixels),
        ``rel_max_diff`` (= max |a-b| / range), ``rms_diff``,
        ``n_diff_gt_1e-4_range`` (common pixels differing by more than
        1e-4 of the range), ``n_common``,
        ``n_cov_a``, ``n_cov_b`` and ``n_cov_mismatch`` (pixels covered by
        exactly one of the two).
    """
    ny = a.shape[0]
    max_abs = 0.0
    lo, hi = np.inf, -np.inf
    ssq = 0.0
    n_common = n_a = n_b = n_mis = 0
    for y0 in range(0, ny, rows):
        sl = slice(y0, min(ny, y0 + rows))
        ca = np.asarray(cov_a[sl]) > 0
        cb = np.asarray(cov_b[sl]) > 0
        va = np.asarray(a[sl], dtype=np.float64)
        vb = np.asarray(b[sl], dtype=np.float64)
        ca &= np.isfinite(va)
        cb &= np.isfinite(vb)
        both = ca & cb
        n_a += int(ca.sum())
        n_b += int(cb.sum())
        n_mis += int((ca ^ cb).sum())
        if both.any():
            d = np.abs(va[both] - vb[both])
            max_abs = max(max_abs, float(d.max()))
            ssq += float((d * d).sum())
            n_common += int(both.sum())
            lo = min(lo, float(vb[both].min()))
            hi = max(hi, float(vb[both].max()))
    rng = hi - lo if n_common else float("nan")
    n_big = 0
    if n_common and rng > 0:
        for y0 in range(0, ny, rows):
            sl = slice(y0, min(ny, y0 + rows))
            va = np.asarray(a[sl], dtype=np.float64)
            vb = np.asarray(b[sl], dtype=np.float64)
            both = (np.asarray(cov_a[sl]) > 0) & (np.asarray(cov_b[sl]) > 0) & np.isfinite(va) & np.isfinite(vb)
            n_big += int((np.abs(va[both] - vb[both]) > 1e-4 * rng).sum())
    return {
        "n_diff_gt_1e-4_range": n_big,
        "max_abs_diff": max_abs,
        "range": rng,
        "rel_max_diff": max_abs / rng if n_common and rng > 0 else float("nan"),
        "rms_diff": (ssq / n_common) ** 0.5 if n_common else float("nan"),
        "n_common": n_common,
        "n_cov_a": n_a,
        "n_cov_b": n_b,
        "n_cov_mismatch": n_mis,
    }


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def fmt(v, spec=".2f", na="—"):
    """Format a number, or ``na`` for None/NaN."""
    if v is None:
        return na
    if isinstance(v, float) and not np.isfinite(v):
        return na
    if isinstance(v, str):
        return v
    return format(v, spec)


def print_table(rows, columns, title=None, file=None):
    """Print ``rows`` (list of dicts) as a Markdown table.

    ``columns`` is a list of ``(header, key_or_callable)``; values are
    strings already, or are formatted with :func:`fmt`.
    """
    file = file or sys.stdout
    cells = []
    for r in rows:
        line = []
        for _, key in columns:
            v = key(r) if callable(key) else r.get(key)
            line.append(v if isinstance(v, str) else fmt(v))
        cells.append(line)
    heads = [h for h, _ in columns]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    if title:
        print(f"\n{title}\n", file=file)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths)) + " |", file=file)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=file)
    for c in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths)) + " |", file=file)
    file.flush()


def ratio(a, b):
    """``a / b`` or None."""
    try:
        if a is None or b is None or not b:
            return None
        return a / b
    except TypeError:
        return None


def machine_summary():
    """One line describing the machine and the library versions."""
    import numba
    import astropy

    parts = [
        f"{platform.node()} {platform.machine()}",
        f"{os.cpu_count()} CPUs",
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"numba {numba.__version__}",
        f"astropy {astropy.__version__}",
    ]
    try:
        import reproject

        parts.append(f"reproject {reproject.__version__}")
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            total = int(f.readline().split()[1]) / MB
        parts.append(f"{total:.1f} GiB RAM")
    except OSError:
        pass
    rev = git_revision()
    if rev:
        parts.append(f"numbamosaic git {rev}")
    try:
        parts.append(f"load avg {os.getloadavg()[0]:.2f}")
    except OSError:
        pass
    return ", ".join(parts)


def git_revision():
    """Short HEAD hash of the source checkout (``+dirty`` if numbamosaic/ has changes), or None."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "numbamosaic"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("+dirty" if dirty else "")) if rev else None


def check_errors(results):
    """Print worker errors (if any); returns True if there were some."""
    bad = False
    for name, r in results.items():
        if r is not None and r.get("error"):
            print(f"!! {name}: {r['error']}", file=sys.stderr)
            bad = True
    return bad
