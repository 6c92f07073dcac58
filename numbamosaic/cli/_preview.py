"""PNG preview of a mosaic and its footprint (``mosaic --preview``, ``demo``); needs matplotlib."""

import os

import numpy as np


def _axis_labels(wcs):
    ctype = [c.strip().upper() for c in wcs.wcs.ctype]
    if ctype[0].startswith("RA"):
        return "RA", "Dec"
    if ctype[0].startswith("GLON"):
        return "Galactic longitude", "Galactic latitude"
    if ctype[0].startswith("ELON"):
        return "Ecliptic longitude", "Ecliptic latitude"
    return ctype[0].split("-")[0], ctype[1].split("-")[0]


def write_preview(path, array, footprint, wcs, title=None, max_pixels=1600):
    """Write a PNG preview: the mosaic (asinh stretch) and its footprint.

    Parameters
    ----------
    path : str
        PNG file to write.
    array, footprint : ndarray
        Mosaic and footprint (pixels with footprint 0 are shown as blank).
    wcs : astropy.wcs.WCS
        Output WCS; both panels get world-coordinate axes and a grid.
    title : str, optional
        Figure title.
    max_pixels : int
        Large mosaics are decimated so that the longer side has at most this
        many pixels (the preview stays fast and small).

    Raises
    ------
    ImportError
        matplotlib is not installed.
    """
    from astropy.visualization import AsinhStretch, AsymmetricPercentileInterval, ImageNormalize
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = np.asarray(array)
    fp = np.asarray(footprint) if footprint is not None else np.isfinite(data).astype(np.float32)
    step = max(1, int(np.ceil(max(data.shape) / float(max_pixels))))
    if step > 1:
        data, fp, wcs = data[::step, ::step], fp[::step, ::step], wcs[::step, ::step]
    shown = np.where(fp > 0, data, np.nan).astype(np.float32)
    good = shown[np.isfinite(shown)]
    if good.size:
        # sky noise mid-grey-to-black, stars visible up to the brightest cores
        norm = ImageNormalize(good, interval=AsymmetricPercentileInterval(25.0, 99.95), stretch=AsinhStretch(0.01))
    else:
        norm = None
    fig = Figure(figsize=(12.5, 5.6), dpi=110)
    fig.subplots_adjust(left=0.07, right=0.96, bottom=0.1, top=0.93, wspace=0.28)
    FigureCanvasAgg(fig)
    xl, yl = _axis_labels(wcs)
    import matplotlib

    ax = fig.add_subplot(1, 2, 1, projection=wcs)
    cmap = matplotlib.colormaps["gray"].copy()
    cmap.set_bad("#3b4a6b")
    im = ax.imshow(shown, origin="lower", cmap=cmap, norm=norm, interpolation="antialiased")
    ax.coords.grid(color="#ffcc66", alpha=0.6, linestyle="dotted")
    ax.coords[0].set_axislabel(xl)
    ax.coords[1].set_axislabel(yl)
    ax.set_title(title or "mosaic", pad=10)
    fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02)

    ax2 = fig.add_subplot(1, 2, 2, projection=wcs)
    fcmap = matplotlib.colormaps["viridis"].copy()
    fcmap.set_under("black")
    vmax = float(np.nanmax(fp)) if fp.size and np.isfinite(fp).any() else 1.0
    im2 = ax2.imshow(fp, origin="lower", cmap=fcmap, vmin=1e-6, vmax=max(vmax, 1e-6), interpolation="nearest")
    ax2.coords.grid(color="white", alpha=0.5, linestyle="dotted")
    ax2.coords[0].set_axislabel(xl)
    ax2.coords[1].set_axislabel(yl)
    ax2.set_title("footprint (summed weights)", pad=10)
    fig.colorbar(im2, ax=ax2, shrink=0.85, pad=0.02)
    tmp = path + ".part.png"
    try:
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
