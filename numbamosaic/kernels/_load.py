"""Reading pixels of big-endian FITS data without converting the array.

FITS stores data big-endian and astropy memory-maps it as ``>f4``/``>f8``,
which Numba cannot index.  Instead of converting whole inputs (a full copy
per image), the input layer hands kernels a native ``uint32``/``uint64`` view
of the same bytes, and :func:`load` byte-swaps and bit-casts each value as it
is read.  Native float arrays are read directly: the choice is made at
compile time from the array's dtype, so native data pay nothing.

Convention: kernels only ever see float32, float64, or unsigned views that
stand for big-endian floats (``io.as_kernel_array`` guarantees it).
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from ._jit import OVERLOAD_OPTIONS, inline_kernel


@intrinsic
def _swap_u32_to_f32(typingctx, x):
    if x != types.uint32:
        return None
    sig = types.float32(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.bswap(args[0]), ir.FloatType())

    return sig, codegen


@intrinsic
def _swap_u64_to_f64(typingctx, x):
    if x != types.uint64:
        return None
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(builder.bswap(args[0]), ir.DoubleType())

    return sig, codegen


def decode(x):
    """Value of one stored element as a float (pure-Python reference)."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(decode, jit_options=OVERLOAD_OPTIONS)
def _decode_impl(x):
    if x == types.uint32:
        return lambda x: _swap_u32_to_f32(x)
    if x == types.uint64:
        return lambda x: _swap_u64_to_f64(x)
    if isinstance(x, types.Float):
        return lambda x: x
    return None


@inline_kernel
def load(a, j, i):
    """``a[j, i]`` as a float, decoding big-endian views (see module docstring)."""
    return decode(a[j, i])
