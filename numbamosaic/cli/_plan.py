"""``numbamosaic plan``: what ``mosaic`` would do (frame, strategy, memory, input boxes), without doing it."""

from .._fitsout import _wcs_header, fits_size
from ..mosaic import plan_mosaic
from .._budget import size_text
from ._frame import _output_frame, describe_frame
from ._inputs import expand_inputs
from ._mosaic import _coadd_kwargs, _product_kwargs


def cmd_plan(args):
    """``numbamosaic plan``."""
    inputs = expand_inputs(args.inputs)
    weights = expand_inputs(args.weights, "weight") if args.weights else None
    kwargs = _coadd_kwargs(args, len(inputs), weights)
    kwargs.update(_product_kwargs(args, inputs, weights)[0])  # the planner counts the products
    wcs, shape, frame = _output_frame(args, inputs)
    plan = plan_mosaic(inputs, wcs, shape_out=shape, **kwargs)
    out = [
        f"{len(inputs)} input(s); method {args.method}, combine {args.combine}",
        f"output frame ({frame}): {describe_frame(wcs, shape)}",
    ]
    out += plan.summary_lines()
    size = fits_size(shape, plan.dtype)
    target = args.output or "the output file"
    out.append(f"expected size of {target}: {size_text(size)} (data + FOOTPRINT extension, {plan.dtype.name})")
    out.append("input boxes in the output (0-based, y0:y1, x0:x1):")
    width = max(len(p) for p in inputs)
    for k, name in enumerate(inputs):
        box = plan.bboxes.get(k)
        if box is None:
            out.append(f"  {k:4d} {name:<{width}s}  outside the output")
        else:
            y0, y1, x0, x1 = box
            out.append(f"  {k:4d} {name:<{width}s}  {y0}:{y1}, {x0}:{x1}  ({y1 - y0} x {x1 - x0} px)")
    if args.write_header:
        h = _wcs_header(wcs)
        h.insert(0, ("NAXIS", 2))
        h.insert(1, ("NAXIS1", int(shape[1])))
        h.insert(2, ("NAXIS2", int(shape[0])))
        h.totextfile(args.write_header, overwrite=True)
        out.append(f"wrote the output header to {args.write_header} (use: numbamosaic mosaic ... --header {args.write_header})")
    print("\n".join(out), flush=True)
    return 0
