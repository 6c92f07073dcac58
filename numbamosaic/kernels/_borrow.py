"""Borrowed array views: array arguments without reference counting.

Numba reference-counts arrays: every array handed to a non-inlined function,
or aliased by an inlined helper whose control flow defeats Numba's refcount
pruning, costs an atomic increment and decrement.  In per-pixel or per-row
code that is measurable on one thread (the exact kernel spent ~40 % of its
time there) and worse on several: threads reading the same input image
update the same counter, so its cache line bounces between cores.

:func:`borrowed` returns the same array with a null memory-manager handle
(``meminfo``), which makes those operations no-ops (``NRT_incref`` tests for
null).  The caller must keep the original array alive while the view is in
use: kernels only pass these views down to the functions they call, never
return or store them.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrowed(typingctx, arr):
    """The same array without its memory-manager handle (see module docstring)."""
    if not isinstance(arr, types.Array):
        return None
    sig = arr(arr)

    def codegen(context, builder, signature, args):
        ary = context.make_array(arr)(context, builder, value=args[0])
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return sig, codegen
