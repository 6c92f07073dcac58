"""Background matching: additive offsets (or planes) from pairwise overlaps.

Model: input ``i`` carries an additive background ``b_i(x, y)`` (a constant,
or a plane ``c_i + a_i x + s_i y`` in output pixels, as Montage's
``mBgModel``).  For every overlapping pair the difference of the two
resampled images is sampled on a regular lattice of their common pixels
(deterministic, capped per tile), and a robust estimate of ``b_i - b_j`` is
taken: the median (constant model) or a plane fitted by least squares with
iterative 3-sigma clipping (plane model).

The global solution minimises ``sum_ij n_ij (b_i - b_j - d_ij)^2`` over all
pairs, a weighted graph-Laplacian system solved by conjugate gradients (no
dense N x N matrix: fast and deterministic for thousands of images).  The
gauge is fixed per connected component: corrections average to zero
(``background_reference=None``) or are zero for the reference image
(``background_reference=k``, including ``0``, which reproject 0.21 ignores).
"""

import numpy as np

from ..kernels._jit import kernel

TARGET_LATTICE_POINTS = 4_000_000


def sample_stride(shape_out):
    """Global lattice spacing: about 4 million candidate pixels over the output."""
    n = int(np.prod(shape_out))
    return max(1, int(round(np.sqrt(n / TARGET_LATTICE_POINTS))))


@kernel
def pair_samples(vals, wts, a, b, stride, oy, ox, outd, outx, outy):
    """Differences ``layer a - layer b`` where both have weight > 0.

    Samples the output pixels whose coordinates are multiples of ``stride``
    (a global lattice, so the samples do not depend on the tiling); returns
    the count.  Positions are output pixel coordinates.
    """
    ny = vals.shape[1]
    nx = vals.shape[2]
    n = 0
    cap = outd.shape[0]
    j0 = (-oy) % stride
    i0 = (-ox) % stride
    for j in range(j0, ny, stride):
        for i in range(i0, nx, stride):
            if wts[a, j, i] > 0.0 and wts[b, j, i] > 0.0:
                va = vals[a, j, i]
                vb = vals[b, j, i]
                if va == va and vb == vb:
                    if n < cap:
                        outd[n] = va - vb
                        outx[n] = i + ox
                        outy[n] = j + oy
                        n += 1
    return n


class PairCollector:
    """Accumulates difference samples per input pair across tiles.

    Samples are kept per tile and concatenated in tile order, so estimates do
    not depend on the order in which tiles finish.
    """

    def __init__(self, stride, positions=True):
        self.stride = stride
        self.positions = positions  # keep pixel positions (plane model only)
        self.samples = {}

    def add_tile(self, vals, wts, members, oy, ox):
        """Samples of one tile stack (``members[k]`` is layer k's input)."""
        return self.add_cube_tile(vals, wts, members, 1, oy, ox)

    def add_cube_tile(self, vals, wts, members, planes, oy, ox):
        """Samples of one cube tile stack: layer ``p * planes + z`` is plane ``z`` of
        ``members[p]``.  Each pair's differences are sampled plane by plane at the
        same lattice pixels and pooled over the planes (reproject fits one offset
        per input over the whole cube)."""
        k = len(members)
        if k < 2:
            return {}
        th, tw = vals.shape[1], vals.shape[2]
        stride = self.stride
        cap = ((th + stride - 1) // stride + 1) * ((tw + stride - 1) // stride + 1)
        found = {}
        for p in range(k):
            for q in range(p + 1, k):
                parts = []
                for z in range(planes):
                    d = np.empty(cap)
                    x = np.empty(cap)
                    y = np.empty(cap)
                    n = pair_samples(vals, wts, p * planes + z, q * planes + z, stride, oy, ox, d, x, y)
                    if n:
                        parts.append((d[:n], x[:n], y[:n]))
                if parts:
                    d, x, y = (np.concatenate(c) for c in zip(*parts)) if len(parts) > 1 else parts[0]
                    i, j = members[p], members[q]
                    if i > j:
                        i, j = j, i
                        d = -d
                    found[(i, j)] = (d, x, y) if self.positions else (d, None, None)
        return found

    def merge(self, tile_index, found):
        for key, val in found.items():
            self.samples.setdefault(key, []).append((tile_index, val))

    def pair_estimates(self, model):
        """Per pair: (i, j, n, params) with params (c, a, s)."""
        out = []
        for (i, j) in sorted(self.samples):
            parts = [v for _, v in sorted(self.samples[(i, j)], key=lambda t: t[0])]
            d = np.concatenate([p[0] for p in parts])
            if d.size == 0:
                continue
            if model == "offset":
                out.append((i, j, d.size, np.array([np.median(d), 0.0, 0.0])))
            else:
                x = np.concatenate([p[1] for p in parts])
                y = np.concatenate([p[2] for p in parts])
                out.append((i, j, d.size, _robust_plane(d, x, y)))
        return out


def _robust_plane(d, x, y, nsigma=3.0, maxiter=10):
    """Least-squares plane ``d = c + a x + s y`` with iterative sigma clipping."""
    keep = np.ones(d.size, dtype=bool)
    params = np.array([np.median(d), 0.0, 0.0])
    if d.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return params
    xc, yc = x.mean(), y.mean()
    A = np.stack([np.ones_like(d), x - xc, y - yc], axis=1)
    for _ in range(maxiter):
        sol, *_ = np.linalg.lstsq(A[keep], d[keep], rcond=None)
        r = d - A @ sol
        s = 1.4826 * np.median(np.abs(r[keep] - np.median(r[keep])))
        new = np.abs(r) <= nsigma * s if s > 0 else keep
        if np.array_equal(new, keep) or new.sum() < 3:
            break
        keep = new
    c, a, s_ = sol
    return np.array([c - a * xc - s_ * yc, a, s_])


def _components(n, edges):
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)])


def _laplacian_solve(n, ii, jj, w, d, tol=1e-13, maxiter=None):
    """Minimum-norm solution of the weighted Laplacian system by CG."""
    b = np.zeros(n)
    np.add.at(b, ii, w * d)
    np.add.at(b, jj, -w * d)

    def matvec(c):
        r = w * (c[ii] - c[jj])
        out = np.zeros(n)
        np.add.at(out, ii, r)
        np.add.at(out, jj, -r)
        return out

    x = np.zeros(n)
    r = b.copy()
    p = r.copy()
    rs = r @ r
    bnorm = np.sqrt(rs)
    if bnorm == 0:
        return x
    for _ in range(maxiter or 10 * n + 100):
        Ap = matvec(p)
        denom = p @ Ap
        if denom <= 0:
            break
        alpha = rs / denom
        x += alpha * p
        r -= alpha * Ap
        rs_new = r @ r
        if np.sqrt(rs_new) <= tol * bnorm:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def solve_backgrounds(n, estimates, reference=None):
    """Background model per input (``(n, 3)``: c, a, s) from pair estimates.

    Parameters
    ----------
    n : int
        Number of inputs (indices 0..n-1; inputs without overlaps get 0).
    estimates : list of (i, j, count, params)
        From :meth:`PairCollector.pair_estimates`.
    reference : int or None
        Input whose correction is zero; ``None`` makes corrections average to
        zero within each group of connected images.
    """
    out = np.zeros((n, 3))
    if not estimates:
        return out
    ii = np.array([e[0] for e in estimates])
    jj = np.array([e[1] for e in estimates])
    w = np.array([float(e[2]) for e in estimates])
    w = w / w.max()
    P = np.stack([e[3] for e in estimates])
    for k in range(3):
        if k > 0 and not np.any(P[:, k]):
            continue
        out[:, k] = _laplacian_solve(n, ii, jj, w, P[:, k])
    comp = _components(n, zip(ii, jj))
    for c in np.unique(comp):
        members = comp == c
        if reference is not None and members[reference]:
            out[members] -= out[reference]
        else:
            out[members] -= out[members].mean(axis=0)
    return out
