"""Exact (area-overlap) resampling kernels, output-pixel centric.

For every output pixel the kernel builds the pixel's outline in *input pixel
coordinates* and intersects it with the unit squares of the input pixels it
covers.  Working in input pixel units keeps full double precision whatever
the angular pixel size (micro-arcsecond pixels included): coordinates are
O(image size), differences O(1), and nothing is computed from nearly equal
unit vectors.

Geometry
    The outline is sampled on a lattice of ``nsub x nsub`` sub-cells per
    output pixel (corners at ``p - 0.5 + k / nsub``).  Each sub-cell is a
    quadrilateral with straight edges in input pixel coordinates; with
    ``nsub > 1`` curved images of the output pixel edges are followed
    closely.  (For TAN -> TAN both pixel families are bounded by great
    circles, which are straight in the gnomonic plane, so ``nsub = 1`` is
    geometrically exact there.)  Lattice points are evaluated once per row
    block (in column chunks of ``LATTICE_POINTS``) with
    :func:`numbamosaic.wcs._native.out_to_in` and shared between
    neighbouring pixels and rows, and the lattice coordinate of a point
    depends only on its global pixel index, so neighbouring output pixels
    (also in other tiles or threads) share bit-identical corners and their
    fractions partition each input pixel exactly.  For TAN -> TAN without
    distortion (homography mode) a lattice row is one branch-free
    (vectorised) loop with the same arithmetic as ``out_to_in`` and
    :func:`input_area_factor` (no per-point calls, bit-identical values).

Curved edges
    Where the mapping bends the output pixel edges (distortions, other
    projections, coarse pixels), a sub-cell edge ``p1 -> p2`` is modelled as
    the parabola through its end points and the midpoint interpolated from
    the lattice points on either side along the same lattice line (4-point,
    cubic: ``(9 (p1 + p2) - (p0 + p3)) / 16``), so the bulge costs no extra
    transform: the lattice carries a halo of one row above and below and one
    pixel left and right (:mod:`._curves`).  Each edge is followed by ``m``
    chords, ``m`` the smallest count (at most ``MAXM``) bringing the area
    between parabola and chords, ``2/3 |d x S| / m^2``, below
    ``opts[O_CURVE]`` times the squared chord; ``m`` and the chord points
    depend only on the edge's own lattice points, so both neighbours of an
    edge follow the same polyline (to rounding: its points are shifted to
    each sub-cell's local origin).  The outline (more than 4 vertices) goes
    through the same clipping paths; its area and moments come from the
    shoelace formula.  ``opts[O_CURVE] = 0`` (the policy's choice when no
    edge bends measurably, e.g. TAN -> TAN) leaves the lattice without halo
    and the arithmetic of straight quadrilaterals unchanged.

Seams
    A sub-cell across the longitude seam of a cylindrical input (CAR, CEA,
    MER) is unwrapped by the seam's period in input pixels and clipped with
    its shifted copies, so it collects the pixels on both sides.  Sub-cells
    of the wrong orientation (folded or torn by another projection's seam)
    and large sub-cells whose centre does not map near the middle of their
    corners are dropped (they count neither as covered nor as area).

Clipping
    A sub-cell inside a single input pixel is that pixel's only piece (its
    weight is the sub-cell's own solid angle).  A sub-cell whose box of
    input pixels is at most ``MAXB`` wide and high is integrated edge by
    edge (:func:`_clip_boxer`, :func:`_edge_cells`): by Green's theorem the
    integral of the (linear) solid-angle model over polygon and input pixel
    is a sum over the polygon's edges of integrals along the edge, each edge
    walked through the pixel cells it crosses, with no polygon built.
    Larger sub-cells (big output pixels) use Sutherland-Hodgman against
    axis-aligned lines, as a sweep: the sub-cell is split at each input row
    boundary into row strips, each strip at the column boundaries into
    pieces (:func:`split_half` yields both sides of a cut in one pass, with
    shared vertices); areas and first moments come from the shoelace
    formula with vertices relative to the input pixel centre
    (:func:`poly_moments`).  Both polygon orientations are handled (the
    orientation sign of the sub-cell is applied).  The three agree to
    rounding (~1e-16 of the output pixel's area per piece; the edge-by-edge
    integrals have no cancellation between coordinates of the size of an
    input pixel, so sub-cells much smaller than an input pixel keep
    ~1e-16 / size relative precision, where clipping with moments about
    the input pixel centre would lose ~1e-16 / size^2).

Performance notes
    The per-row functions receive *borrowed* array views
    (:func:`~numbamosaic.kernels._borrow.borrowed`, no reference-count
    handle), so calls taking arrays cost no atomic reference-count updates
    per pixel (which took ~40 % of the time).  :func:`_clip_cell` has one
    call site (the seam copies of a periodic input loop around it).  The
    per-sub-cell hot path (:func:`_clip_cell` -> :func:`_clip_boxer` ->
    :func:`_edge_2x2`, one call site each) is inlined; the rare paths
    (:func:`_sweep_cell` with :func:`_sweep_strip`, :func:`_edge_cells`,
    :func:`split_half`, :func:`poly_moments`) are ordinary calls.  Measured (serial, 1024^2
    survey tile into the survey's mosaic grid, big-endian input, loaded
    2-core machine, ``bench_kern.py`` in the commit log): everything inlined
    as before, 111 s CPU to compile, 98-101 ns per covered output pixel;
    this layout 34 s, 100-101 ns; everything but the leaves as calls 28 s
    but 121-128 ns (the calls per sub-cell with arrays by value cost ~20 %).
    ``error_model="numpy"`` drops the zero-division checks (every division
    here is guarded or by a nonzero constant).  Values and footprints go to
    the sink once per row (:func:`~numbamosaic.kernels._sinks.deposit_row`).
    Boxes of at most 2 x 2 input pixels (output pixels about as large as
    input pixels, the usual mosaic) take a dedicated edge walker
    (:func:`_edge_2x2`) with a single possible crossing per axis.
    Measured (serial CPU time, TAN -> TAN 1024^2, 1"/px, rotated 20 deg):
    ~100 ns per output pixel, from ~295 with per-pixel calls and polygon
    clipping throughout; ~75 ns with the 2 x 2 walker (a 2048^2 survey tile
    into the mosaic grid, big-endian input).

Spherical measure
    An area in input pixels is not a solid angle: the solid angle per input
    pixel ``J(x, y)`` varies over the image (e.g. ``(1 + R^2)^-3/2`` for TAN).
    In native mode ``J`` is evaluated at every lattice point
    (:func:`input_area_factor`: projection area factor, analytic for TAN and
    by finite differences in the projection plane otherwise, times the SIP
    Jacobian), fitted by
    a linear model over each sub-cell (the corners' mean, and the gradient
    that matches the differences along both diagonals: exact for a linear
    ``J``), and integrated exactly over every
    piece using its area and centroid.  The result is second-order accurate
    in the sub-cell size.  In control-grid mode ``J = 1`` (plain input pixel
    areas).

    For ZPN inputs without distortion (``opts[O_JAC]`` 2, or 3: one model
    per output pixel when its error over a whole pixel is within the bound)
    the model is quadratic: the area factor of a zenithal projection is radial in the
    plane, ``sin(zeta) / (rho rho')`` with ``rho(zeta)`` the ZPN polynomial
    (Calabretta & Greisen 2002, Sect. 5.1), so it and its second derivatives
    are analytic at the cost of one inversion per lattice point
    (:func:`area_quadratic`, where the finite differences took four).  A
    sub-cell's quadratic terms are its corners' mean; the linear part is
    fitted as above to the corner values with the quadratic part removed
    (exact for a quadratic ``J``, third order otherwise), and the model is
    integrated with the pieces' second moments (:func:`poly_moments2`,
    Simpson's rule along straight edge pieces, 4-point Gauss-Legendre along
    parabolic ones, :func:`._curves._second_moments` for the sub-cell).  On
    Parkes' 4-arcmin ZPN pixels the linear model needed 9 x 9 sub-cells
    for the 1e-7 bound; the quadratic one needs far fewer (the policy
    measures it: ``numbamosaic.exact.jacobian_error``).  Its code is
    compiled only for the calls that use it: the kernels' ``quad``
    (:func:`quad_flag`, :mod:`._quadratic`) is True for these inputs and
    None for every other, whose kernels hold none of it.

Per output pixel, with pieces ``k`` of valid (finite) input pixels ``i``:

* ``W`` = solid angle of the output pixel (sum over its sub-cells);
* ``V = sum w_k`` (solid angle of valid coverage);
* surface brightness: ``value = sum v_i w_k / V``; flux: ``value = sum v_i
  w_k / J_i`` with ``J_i`` the model solid angle of input pixel ``i``;
* footprint ``= V / W`` (clamped to 1), times the area-weighted mean of the
  input weights ``wdata`` when given;
* pixels with ``V <= MIN_COVER * W`` (no coverage, or rounding slivers along
  coincident edges) are NaN with footprint 0.

Output pixels are owned by one row block of one serial tile or strip (the
executor never gives a pixel to two threads), so results are bitwise
identical for any thread count.

Modules
    :mod:`._polygon` (``split_half``, ``poly_moments``, scratch slots),
    :mod:`._curves` (bulges and chords of curved edges),
    :mod:`._edges` (edge-by-edge integration, ``_clip_boxer``),
    :mod:`._sweep` (``_clip_cell``, ``_sweep_strip``), :mod:`._quadratic`
    (the quadratic solid-angle model's code and its selectors on the
    ``quad`` literal), :mod:`._measure`
    (``input_area_factor``, the lattice rows), :mod:`._rows` (the row loop
    and the tile entry point ``exact_tile``, option
    layout ``O_*``) and :mod:`._reference` (allocating helpers for tests).
"""

from ._measure import area_factors, area_quadratic, area_quadratics, input_area_factor
from ._polygon import MAXV, poly_moments, poly_moments2, split_half
from ._edges import MAXB
from ._reference import cell_integrals, overlap_area
from ._rows import (
    LATTICE_POINTS,
    O_CURVE,
    O_FLUX,
    O_JAC,
    O_NSUB,
    O_ORIENT,
    O_PX,
    O_PY,
    OPTS_LEN,
    exact_tile,
    quad_flag,
    rest_boxes,
)

__all__ = [
    "LATTICE_POINTS", "MAXB", "MAXV", "O_CURVE", "O_FLUX", "O_JAC", "O_NSUB", "O_ORIENT", "O_PX", "O_PY", "OPTS_LEN",
    "area_factors", "area_quadratic", "area_quadratics", "cell_integrals", "exact_tile", "input_area_factor", "overlap_area", "poly_moments",
    "poly_moments2", "quad_flag", "rest_boxes", "split_half",
]
