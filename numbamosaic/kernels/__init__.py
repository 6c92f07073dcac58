"""Numba kernels: per-pixel math shared by every driver."""
