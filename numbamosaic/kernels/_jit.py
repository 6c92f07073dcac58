"""The one JIT policy of numbamosaic: every compiled function uses these decorators.

Every Numba function in the package is declared with one of

``@kernel``
    ``numba.njit(nogil=True, cache=True, error_model="numpy")``: an ordinary
    compiled function (its own symbol; callers call it).
``@inline_kernel``
    The same options plus ``inline="always"`` (Numba IR inlining), for
    **small scalar leaf helpers** (a few lines, no loops over arrays, no
    calls to other non-trivial functions), and for a hot-path helper with a
    **single call site** where inlining was measured to matter (the exact
    kernel's per-sub-cell clipping chain, see ``kernels/exact/``).  IR inlining copies the helper's
    whole body into every call site before type inference, so a large
    helper inlined at many sites multiplies compile time and the size of
    every cache entry that embeds it.  LLVM still inlines small ordinary
    ``@kernel`` calls by itself where it pays.

    It is also the rule for **thin glue levels**: a function of a few
    lines that only calls other compiled functions (``pixel_to_native``,
    ``in_to_out``...), or a loop level with one caller (``_interp_rows``).
    Every separately compiled function is a separate LLVM module into which
    Numba links the code of all its callees, then re-optimises and emits
    machine code for the whole (and writes it to its own cache file): each
    glue level above the WCS chain re-compiled the ~25 projections once
    more.  Inlining the glue levels cut a cold bilinear mosaic's compile
    from 14.7 to 11.7 CPU s (LLVM 7.2 -> 4.3 s; ``benchmarks/profile_compile.py``).
``@parallel_kernel``
    The same options plus ``parallel=True``, for the kernels that still use
    ``prange`` (the spline prefilter and the HEALPix kernels); everything else
    runs serial kernels on the executor's threads.

Selector overloads (``SELECTOR_OVERLOAD``)
    ``numba.extending.overload`` implementations that only *choose* which
    function to call from the literal value of an argument (the
    homography selectors ``map_point``/``map_row`` of ``wcs._native``) are
    inlined into their caller (``inline="always"``): an ordinary overload
    implementation is one more separately compiled function, and one that
    calls the projection chain would link and re-optimise the chain once
    more.

``tests/test_jit_policy.py`` fails on any raw ``njit``/``jit`` decorator
outside this module and on ``inline=`` outside :data:`inline_kernel`.

Decisions, and why
------------------
``nogil=True``
    Mosaics run serial kernels on a pool of Python threads (one output tile
    per thread) and dask workers run them in their worker threads: the GIL
    must be released for those threads to run in parallel.
``cache=True``
    Compiling the kernels costs tens of seconds on a small machine; users
    run short processes (one CLI call, a fresh dask worker).  The cache
    directory is keyed by the kernels' sources (``numbamosaic._cache``), so
    an edit of a callee in another module cannot leave stale machine code.
``error_model="numpy"``
    One error model for every function (an inlined or called helper is
    compiled with the model of its own decorator, so mixing models only
    produces surprises).  ``"numpy"`` lets a floating-point division by zero
    give ``inf``/``nan`` as NumPy does instead of raising
    ``ZeroDivisionError``: no branch and no exception path per division,
    which keeps the inner loops small and vectorisable.  The kernels test
    their denominators where it matters; results where a division by zero
    did not raise before are unchanged (IEEE arithmetic is the same, checked
    bitwise with ``python -m benchmarks.checksums --compare``).
No ``fastmath``
    Not even the flags without ``nnan``/``ninf``: blank pixels are NaN and
    the kernels test ``v == v`` and ``v != v``, which ``nnan`` lets LLVM fold
    away; ``reassoc``/``contract`` would let LLVM reorder sums and fuse
    multiply-adds differently depending on vectorisation, and results must
    be bitwise identical for any thread count, tiling and machine run.
Constant arguments
    Numba types a constant argument of a call between compiled functions
    as a literal (``Literal[int](8)``) and compiles the callee once per
    constant: ``pixel_to_native(tr, T_OUT, ...)`` and
    ``pixel_to_native(tr, T_IN, ...)`` compiled the whole projection chain
    twice.  Offsets, axes and slot numbers are therefore passed as
    ``np.int64(CONSTANT)`` (an ordinary ``int64``; LLVM still folds it).
No explicit signatures
    Eager signatures compile (or load from the cache) at import time, which
    every user pays even for methods they do not use.  Instead the variants a
    call compiles are governed: arrays enter kernels through
    :mod:`numbamosaic.kernels._entry` (one type per dtype whatever the
    layout, read-only flag or byte order of the caller's array), and
    ``tests/test_compile_budget.py`` caps the signatures of every kernel.

IR inlining without the callee copies (:func:`_inline_function`)
    Numba's ``InlineInlinables`` pass builds a fresh IR of the callee for
    every call site (``InlineWorker.run_untyped_passes``) and then
    ``InlineWorker.inline_ir`` deep-copies that IR twice, block by block;
    each block's copy copies the callee's whole variable scope, so the cost
    grows as blocks x variables of the callee.  For the exact kernel's
    clipping chain inlined into ``_exact_row`` that was most of its
    ``inline_inlinables`` pass (~1.7 of 2.3 CPU s; cProfile: 7.2 of 7.9
    profiled s in ``copy_ir``).  The fresh IR has no other holder (and
    ``InlineInlinables``, the only caller of ``inline_function``, discards
    the "unmutated copy" ``inline_ir`` returns), so :func:`_inline_function`
    runs ``inline_ir`` with the copies made identities.  The inlined IR is
    the same, hence the same machine code (outputs checked bitwise).  It is
    in force only while a numbamosaic dispatcher compiles
    (:func:`_copy_free_inlining`: no process-wide change at import, other
    code compiles with Numba's own inliner), and not applied when Numba's
    ``inline_closurecall`` lacks the expected names.
    Known upstream: numba/numba#8989 ("Spurious deep copies in inlining"),
    numba/numba-cuda#689 (the same change for numba-cuda).

References
----------
Numba documentation, "Compiling Python code with @jit" (options ``nogil``,
``cache``, ``error_model``, ``fastmath``) and "Notes on Inlining".
Numba issue #8989, "Spurious deep copies in inlining",
https://github.com/numba/numba/issues/8989.
"""

import copy

from numba import njit
from numba.core import inline_closurecall as _icc
from numba.core.compiler_lock import global_compiler_lock


class _NoCopy:
    """Stands for the module :mod:`copy` in ``numba.core.inline_closurecall``
    while :func:`_inline_function` inlines an IR nothing else holds:
    ``deepcopy`` returns its argument."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(x, memo=None):
        return x


def _inline_function(self, caller_ir, block, i, function, arg_typs=None):
    """``InlineWorker.inline_function`` without ``inline_ir``'s two deep
    copies of the freshly built callee IR (see the module docstring; the
    compiler lock is held, so no other compilation sees the swapped name)."""
    callee_ir = self.run_untyped_passes(function)
    freevars = function.__code__.co_freevars
    saved = _icc.copy
    _icc.copy = _NoCopy
    try:
        return self.inline_ir(caller_ir, block, i, callee_ir, freevars, arg_typs=arg_typs)
    finally:
        _icc.copy = saved


#: Numba has the names :func:`_inline_function` relies on (checked once; else nothing is changed)
_PATCHABLE = getattr(_icc, "copy", None) is copy and hasattr(getattr(_icc, "InlineWorker", None), "run_untyped_passes")


def _copy_free_inlining(dispatcher):
    """Make ``dispatcher`` compile with :func:`_inline_function` as Numba's
    ``InlineWorker.inline_function``, and only while it compiles.

    Nothing changes at import: the swap is made inside ``dispatcher.compile``
    (compiling or loading from the cache), under Numba's global compiler lock
    (re-entrant: the callees compiled meanwhile see the same swap; any other
    thread's compilation waits for the lock), and undone before the lock is
    released, so code that is not numbamosaic's always compiles with Numba's
    own inliner.
    """
    if not _PATCHABLE:
        return dispatcher

    def compile(sig):
        with global_compiler_lock:
            saved = _icc.InlineWorker.inline_function
            _icc.InlineWorker.inline_function = _inline_function
            try:  # looked up on the class at each call: a profiler's wrapper of it applies
                return type(dispatcher).compile(dispatcher, sig)
            finally:
                _icc.InlineWorker.inline_function = saved

    dispatcher.compile = compile
    return dispatcher


def _policy(**options):
    """A decorator compiling with ``options`` and the copy-free inliner."""
    jit = njit(**options)
    return lambda func: _copy_free_inlining(jit(func))

#: options shared by every compiled function of the package
JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy")

#: options for ``numba.extending.overload`` implementations (not cached by Numba)
OVERLOAD_OPTIONS = dict(nogil=True, error_model="numpy")

#: keyword arguments of ``overload`` for the selector overloads (see the module docstring)
SELECTOR_OVERLOAD = dict(jit_options=OVERLOAD_OPTIONS, inline="always")

kernel = _policy(**JIT_OPTIONS)
inline_kernel = _policy(inline="always", **JIT_OPTIONS)
parallel_kernel = _policy(parallel=True, **JIT_OPTIONS)
