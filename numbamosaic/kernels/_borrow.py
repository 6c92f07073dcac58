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
return or store them.  Function arguments are kept alive by the caller;
arrays a kernel allocates itself must be kept alive explicitly with
:func:`keep_alive` (Numba frees a variable after its last use).
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


@intrinsic
def keep_alive(typingctx, arrs):
    """Keep the arrays of the tuple ``arrs`` alive up to this point.

    Numba releases a variable right after its last use, so in
    ``f(borrowed(scratch))`` the owner ``scratch`` would be freed *before*
    ``f`` runs, and its memory could be handed to another allocation (in
    another thread) while ``f`` writes through the view.  Kernels that
    borrow arrays they allocated call ``keep_alive((a, b, ...))`` after the
    last use of the views.  It generates no code.
    """
    if not isinstance(arrs, types.BaseTuple):
        return None
    sig = types.none(arrs)

    def codegen(context, builder, signature, args):
        return context.get_dummy_value()

    return sig, codegen
