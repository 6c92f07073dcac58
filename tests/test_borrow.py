"""Borrowed array views (``kernels._borrow``): no refcounting, no early free."""

import numpy as np
from numba import njit

from numbamosaic.kernels._borrow import borrowed, keep_alive


@njit
def _fill_then_sum_new(a, n):
    b = np.zeros(n)  # same size: gets the block of an array freed just before
    for i in range(n):
        a[i] = 1.0
    return b.sum()


@njit
def _with_keep_alive(n):
    xs = np.zeros(n)
    r = _fill_then_sum_new(borrowed(xs), n)
    keep_alive((xs,))
    return r, xs.sum()


def test_keep_alive_prevents_early_free():
    # Without keep_alive, Numba frees ``xs`` after its last use, the ``borrowed(xs)``
    # call; the callee's new array then reuses its memory and sums to 256 (measured
    # with Numba 0.68).  With it, the callee's array is fresh and ``xs`` holds the writes.
    r, s = _with_keep_alive(256)
    assert r == 0.0 and s == 256.0


@njit
def _borrowed_view_reads_and_writes(a):
    b = borrowed(a)
    b[0] = 7.0
    return b[1] + b.shape[0]


def test_borrowed_view_is_the_same_memory():
    a = np.array([1.0, 2.0, 3.0])
    assert _borrowed_view_reads_and_writes(a) == 5.0
    assert a[0] == 7.0
