"""Where arrays enter the kernels: one compiled variant per dtype, whatever the layout or flags.

Numba specialises a function on the exact type of each argument, and an
array's type includes its layout (C-contiguous, Fortran, or any: ``'A'``) and
whether it is read-only.  Called directly, a kernel would compile a new
variant (tens of seconds for the exact kernel) the first time a user passes a
read-only memmap, a strided cutout (``data[100:900, 50:700]``, ``data[::2]``)
or a Fortran-ordered array, and again for each combination.

:func:`entry` wraps a kernel's dispatcher so that every call is typed
canonically before dispatch:

* every array argument is typed with layout ``'A'`` (strided access works for
  any layout, so no copy is ever made, even of a huge memory-mapped input);
* array arguments the kernel does not write are typed read-only (a writable
  array converts to read-only safely, not the reverse); the kernel's
  outputs, named in ``writes``, are typed writable (and a read-only array
  passed there is refused by Numba);
* Python and NumPy scalars are typed ``int64``, ``float64`` or ``boolean``
  whatever their exact NumPy type;
* an empty placeholder array (shape ``(0, 0)``: "no weights") named in
  ``like`` is replaced by an empty array of the dtype of the argument it is
  paired with (``like=(("wdata", "data"),)``), so that helpers the kernel
  calls on both (``_interp._bilinear`` on data and weights) compile one
  variant, not one for the data's dtype and another for the placeholder's
  (measured: ``_bilinear_careful`` and its decoder compiled twice, ~0.7 CPU s,
  in every cold command-line run: big-endian data, float32 placeholder);
* integer arguments named in ``literal`` (a method selector such as the
  interpolation order) are typed as Numba literals (``Literal[int](1)``):
  the kernel is compiled once per value *used*, and code for the other
  values is never typed or compiled (the kernels select it with overloads
  on the literal, see ``_interp.sample_row``).  A process that uses one
  interpolation order compiles that order only.  Such an argument may also
  be ``None`` (typed ``none``): code behind ``if arg is None`` is then
  selected before type inference (see ``kernels._reduced``).

The canonical signature is compiled once (or loaded from the on-disk cache)
with :meth:`numba.core.dispatcher.Dispatcher.compile`, and the call goes to
that compiled entry point.  The dtype of an array (``float32``, ``float64``,
or the unsigned view of big-endian floats, see ``_load``) still selects a
variant: those are different machine code.

Typing every input ``'A'`` costs a multiplication by the stride in each
array index instead of a constant element size.  Measured on the kernels'
hot loops (see the commit log and ``tests/test_compile_budget.py``) this
changed steady speed by less than the noise of the machine (a few per cent),
while a ``'C'`` variant next to the ``'A'`` one would double compile time
for anyone who passes both kinds of array.

The wrapped dispatcher stays available as ``.dispatcher`` (its
``signatures`` are what the compile budget test counts).
"""

import inspect
import threading

import numba
import numpy as np
from numba.core import types

_LOCK = threading.Lock()


_ARRAY_TYPES = {}  # (dtype, ndim, aligned, readonly) -> Numba array type
_LITERALS = {}  # int -> Numba literal type (types.literal costs ~15 us a call)


def _canonical(value, readonly, literal=False):
    if literal:
        if value is None:
            return types.none
        v = int(value)
        t = _LITERALS.get(v)
        if t is None:
            t = _LITERALS.setdefault(v, types.literal(v))
        return t
    if isinstance(value, np.ndarray):
        # memoised: building a Numba type costs ~15 us (typeof + Array + interning), and a
        # mosaic of many small tiles makes thousands of kernel calls (measured: 79% of a
        # 4-input 128^2 coadd's 18 ms went here)
        key = (value.dtype, value.ndim, value.flags.aligned, readonly)
        t = _ARRAY_TYPES.get(key)
        if t is None:
            u = numba.typeof(value)
            t = _ARRAY_TYPES.setdefault(key, types.Array(u.dtype, u.ndim, "A", readonly=readonly, aligned=u.aligned))
        return t
    if isinstance(value, (bool, np.bool_)):
        return types.boolean
    if isinstance(value, (int, np.integer)):
        return types.int64
    if isinstance(value, (float, np.floating)):
        return types.float64
    return numba.typeof(value)


_SCALARS = (bool, np.bool_, int, np.integer, float, np.floating)


def _call_key(args, literal):
    """A key that determines the canonical signature of a call, cheap to build and to hash
    (Python-level ``__hash__`` of Numba types made the signature lookup ~10 us a call), or
    None for arguments whose type depends on more than their Python type (tuples, ...)."""
    key = []
    for a, lit in zip(args, literal):
        if lit:
            key.append(None if a is None else int(a))
        elif isinstance(a, np.ndarray):
            key.append((a.dtype, a.ndim, a.flags.aligned))
        elif isinstance(a, _SCALARS):
            key.append(type(a))
        elif a is None:  # an optional argument (e.g. the exact kernels' quad)
            key.append(None)
        else:
            return None
    return tuple(key)


class Entry:
    """A kernel called with canonical argument types (see the module docstring).

    Parameters
    ----------
    dispatcher : numba Dispatcher
        The compiled kernel.
    writes : sequence of str
        Names of the array arguments the kernel writes into.
    literal : sequence of str
        Names of integer arguments typed as literals (one variant per value used).
    like : sequence of (str, str)
        ``(placeholder, reference)`` argument pairs: an empty ``placeholder``
        array takes the dtype of ``reference``.
    """

    def __init__(self, dispatcher, writes=(), literal=(), like=()):
        self.dispatcher = dispatcher
        names = list(inspect.signature(dispatcher.py_func).parameters)
        unknown = (set(writes) | set(literal) | {n for pair in like for n in pair}) - set(names)
        if unknown:
            raise ValueError(f"{dispatcher.py_func.__name__}: no argument(s) {sorted(unknown)}")
        self._like = tuple((names.index(a), names.index(b)) for a, b in like)
        self._readonly = tuple(n not in writes for n in names)
        self._literal = tuple(n in literal for n in names)
        self._compiled = {}  # canonical signature -> compiled entry point
        self._by_key = {}  # _call_key -> compiled entry point
        self.__name__ = dispatcher.py_func.__name__
        self.__qualname__ = dispatcher.py_func.__qualname__
        self.__doc__ = dispatcher.py_func.__doc__
        self.__wrapped__ = dispatcher.py_func

    def signature(self, *args):
        """The canonical Numba signature of a call with ``args``."""
        if len(args) != len(self._readonly):
            raise TypeError(f"{self.__name__}() takes {len(self._readonly)} arguments ({len(args)} given)")
        return tuple(_canonical(a, ro, lit) for a, ro, lit in zip(args, self._readonly, self._literal))

    def __call__(self, *args):
        for i, j in self._like:
            a, ref = args[i], args[j]
            if isinstance(a, np.ndarray) and a.size == 0 and isinstance(ref, np.ndarray) and a.dtype != ref.dtype:
                args = args[:i] + (np.empty(a.shape, ref.dtype),) + args[i + 1:]
        if len(args) != len(self._readonly):
            raise TypeError(f"{self.__name__}() takes {len(self._readonly)} arguments ({len(args)} given)")
        key = _call_key(args, self._literal)
        fn = self._by_key.get(key) if key is not None else None
        if fn is None:
            sig = self.signature(*args)
            fn = self._compiled.get(sig)
            if fn is None:
                with _LOCK:  # one compilation per signature, even from many threads
                    fn = self._compiled.get(sig)
                    if fn is None:
                        fn = self.dispatcher.compile(sig)
                        self._compiled[sig] = fn
            if key is not None:
                self._by_key[key] = fn
        return fn(*args)

    def __repr__(self):
        return f"<kernel entry {self.__qualname__} of {self.dispatcher!r}>"


def entry(writes=(), literal=(), like=()):
    """Decorator: wrap a compiled kernel in an :class:`Entry` (see the module docstring)."""

    def deco(dispatcher):
        return Entry(dispatcher, writes, literal, like)

    return deco
