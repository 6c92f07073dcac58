"""Where cold-start compile time goes: per compiled function and per compiler pass.

Runs one ``numbamosaic`` command line in this process with Numba's event API
(``numba.core.event``) listening, and prints

* per compiled function (dispatcher and signature): the time of its own
  compilation (*self*: type inference, lowering and LLVM work of that
  function, without the callees it compiled on the way) and inclusive time;
* per compiler pass (``numba:run_pass``): self time summed over all
  functions (``NativeLowering`` includes LLVM's per-function optimisation;
  ``NopythonTypeInference`` the typing of one function, without compiling
  callees);
* the time spent holding Numba's LLVM lock (all LLVM work: optimisation,
  code generation, object code for the cache).

Run it with an empty cache, or the figures are cache loads::

    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/profile_compile.py -- \\
        mosaic 'tiles/*.fits' -o /tmp/out.fits --overwrite --method exact

All times are CPU seconds of the compiling thread (``time.thread_time``),
less sensitive to other jobs on a shared machine than wall time.

References
----------
Numba documentation, "Event API" (``numba.core.event``).
"""

import argparse
import os
import sys
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Recorder:
    """Nested START/END events -> self and inclusive times per key."""

    def __init__(self):
        self.stack = []  # [key, t0, child_time]
        self.self_time = defaultdict(float)
        self.incl_time = defaultdict(float)
        self.count = defaultdict(int)
        self.pass_self = defaultdict(float)
        self.fn_pass = defaultdict(lambda: defaultdict(float))  # function -> pass -> self time
        self.save_time = defaultdict(float)
        self.llvm_self = defaultdict(float)
        self.llvm = 0.0
        self._llvm_t0 = None

    def start(self, key):
        self.stack.append([key, time.thread_time(), 0.0, 0.0])  # key, t0, nested (any), nested compiles

    def end(self):
        key, t0, child_any, child_fn = self.stack.pop()
        dt = time.thread_time() - t0
        if key[0] in ("fn", "save"):
            if key[0] == "fn":
                self.self_time[key[1]] += dt - child_fn
                self.incl_time[key[1]] += dt
                self.count[key[1]] += 1
            else:
                self.save_time[key[1]] += dt - child_fn
            for parent in reversed(self.stack):
                if parent[0][0] in ("fn", "save"):
                    parent[3] += dt
                    break
        else:
            self.pass_self[key[1]] += dt - child_any
            owner = next((e[0][1] for e in reversed(self.stack) if e[0][0] == "fn"), "-")
            self.fn_pass[owner][key[1]] += dt - child_any
        if self.stack:
            self.stack[-1][2] += dt


def install():
    """Register the listeners; returns the recorder."""
    from numba.core import event

    rec = _Recorder()

    class Compile(event.Listener):
        def on_start(self, ev):
            d = ev.data["dispatcher"]
            f = d.py_func
            name = f"{f.__module__.replace('numbamosaic.', '')}.{f.__qualname__}"
            rec.start(("fn", name))

        def on_end(self, ev):
            rec.end()

    class Pass(event.Listener):
        def on_start(self, ev):
            rec.start(("pass", ev.data["name"].split(" [")[0]))

        def on_end(self, ev):
            rec.end()

    class Llvm(event.Listener):
        def on_start(self, ev):
            rec._llvm_t0 = time.thread_time()

        def on_end(self, ev):
            if rec._llvm_t0 is not None:
                dt = time.thread_time() - rec._llvm_t0
                rec.llvm += dt
                rec._llvm_t0 = None
                owner = next((e[0] for e in reversed(rec.stack) if e[0][0] in ("fn", "save")), ("fn", "-"))
                rec.llvm_self[owner[1]] += dt

    from numba.core import caching

    save = caching.Cache.save_overload

    def timed_save(cache, sig, data):
        f = cache._py_func
        rec.start(("save", f"{f.__module__.replace('numbamosaic.', '')}.{f.__qualname__}"))
        try:
            return save(cache, sig, data)
        finally:
            rec.end()

    caching.Cache.save_overload = timed_save

    event.register("numba:compile", Compile())
    event.register("numba:run_pass", Pass())
    event.register("numba:llvm_lock", Llvm())
    return rec


def report(rec, total, top=40, out=sys.stdout):
    compiled = sum(rec.self_time.values())
    print(f"\nprocess: {total:.2f} s wall, {time.process_time():.2f} s CPU; "
          f"compiling {compiled:.2f} s in {sum(rec.count.values())} compilations "
          f"of {len(rec.count)} functions; LLVM lock held {rec.llvm:.2f} s", file=out)
    print(f"cache saves {sum(rec.save_time.values()):.2f} s (object code of each function with its callees)", file=out)
    print(f"\n{'self s':>7} {'LLVM s':>7} {'save s':>7} {'incl s':>7} {'n':>3}  function "
          "(CPU s; self and LLVM exclude callees' compiles and saves)", file=out)
    ranked = sorted(rec.self_time.items(), key=lambda kv: -(kv[1] + rec.save_time[kv[0]]))
    for name, t in ranked[:top]:
        print(f"{t:7.2f} {rec.llvm_self[name]:7.2f} {rec.save_time[name]:7.2f} {rec.incl_time[name]:7.2f} "
              f"{rec.count[name]:3d}  {name}", file=out)
    print("\nlargest passes of the 5 costliest functions (self CPU s):", file=out)
    for name, _ in ranked[:5]:
        passes = sorted(rec.fn_pass[name].items(), key=lambda kv: -kv[1])[:4]
        print(f"  {name}: " + ", ".join(f"{p} {t:.2f}" for p, t in passes), file=out)
    print(f"\n{'self s':>7}  compiler pass", file=out)
    for name, t in sorted(rec.pass_self.items(), key=lambda kv: -kv[1])[:15]:
        print(f"{t:7.2f}  {name}", file=out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--top", type=int, default=40, help="functions listed (default 40)")
    p.add_argument("cli", nargs=argparse.REMAINDER, help="numbamosaic command line (after --)")
    args = p.parse_args(argv)
    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    t0 = time.perf_counter()
    rec = install()
    if ROOT not in sys.path:
        sys.path.append(ROOT)  # a source checkout; PYTHONPATH wins
    from numbamosaic.cli import main as cli_main

    status = cli_main(cli)
    report(rec, time.perf_counter() - t0, args.top)
    return status


if __name__ == "__main__":
    sys.exit(main())
