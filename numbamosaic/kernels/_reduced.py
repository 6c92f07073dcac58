"""Reduced kernel variants for the common case: code a call cannot reach is not compiled.

Most of a cold run's time is Numba compiling code the call never executes: the exact
kernel's seam refinement and curved edges for a TAN -> TAN mosaic, the adaptive kernel's
Hann filter, boundary and bad-value rules and Jacobian variants for the default options.
A kernel compiled for the common case leaves that code out; any other case compiles the
complete kernel (see ``kernels.exact._rows.exact_tile`` and ``kernels._adaptive.adaptive_tile``
for when each is used and what happens when the reduced one meets a case it lacks).

Mechanism.  The kernel takes a literal flag (``kernels._entry``, ``literal=``) and turns it
into an argument ``full`` of its inner functions with :func:`full_arg`: ``None`` for the
reduced variant, an integer for the complete one.  Code for the other cases sits behind
``if full is not None`` (first term of the condition), and a case the reduced variant cannot
handle is detected behind ``if full is None``.  Numba removes a branch on ``arg is None`` /
``arg is not None`` before type inference when the argument is typed ``None`` (its
dead-branch pruning of optional arguments, ``numba.core.analysis.dead_branch_prune``; it
follows the argument into IR-inlined helpers), so the reduced variant never types, inlines,
lowers or links that code.  Unlike a selector overload (``kernels._jit.SELECTOR_OVERLOAD``),
a pruned branch costs nothing per site (an inlined overload costs ~0.07 CPU s of Numba's
``inline_overloads`` per call site, measured with ``benchmarks/profile_compile.py``).  The
complete variant keeps every branch (``full is not None`` is a constant True there), so both
variants have the same arithmetic on the cases they share.
"""

import numpy as np
from numba import types
from numba.extending import overload

from ._jit import SELECTOR_OVERLOAD


def full_arg(flag):
    """The ``full`` argument for a kernel's literal flag: ``None`` when ``flag`` is the literal 1
    (the reduced variant), 0 otherwise.  Pure-Python stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(full_arg, prefer_literal=True, **SELECTOR_OVERLOAD)
def _full_arg_impl(flag):
    if isinstance(flag, types.IntegerLiteral) and flag.literal_value == 1:
        return lambda flag: None
    return lambda flag: np.int64(0)
