"""PNG and JPEG inputs with AVM (Astronomy Visualization Metadata) tags.

As in reproject, the pixels are read with Pillow and the WCS with pyavm
(``AVM.from_image(path).to_wcs()``); the rows are flipped (image files store
the top row first, FITS the bottom one) and colour channels become the
leading axis: ``(channels, ny, nx)``.  Greyscale images give ``(ny, nx)``
(reproject 0.21 cannot read them).  Both packages are optional (the ``avm``
extra) and imported only when such a file is given.

References
----------
Hurt, R. L. et al. 2008, "The Astronomy Visualization Metadata standard",
https://www.virtualastronomy.org/avm_metadata.php
"""

import numpy as np

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def is_avm_image(path):
    """True when ``path`` is a PNG or JPEG file (by its magic bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head == PNG_MAGIC or head[:3] == JPEG_MAGIC


def read_avm_image(path, name="input_data"):
    """Return ``(array, wcs)`` of a PNG/JPEG file with AVM tags."""
    try:
        from PIL import Image
        from pyavm import AVM
    except ImportError as exc:
        raise ImportError(
            f"{name}: reading PNG/JPEG images needs pillow and pyavm (pip install 'numbamosaic[avm]'): {exc}"
        ) from None
    try:
        wcs = AVM.from_image(str(path)).to_wcs()
    except Exception as exc:
        raise ValueError(f"{name}: {str(path)!r} has no usable AVM spatial tags ({exc})") from None
    with Image.open(path) as im:
        data = np.array(im)
    if data.ndim == 3:
        data = data.transpose(2, 0, 1)[:, ::-1]
    else:
        data = data[::-1]
    return data, wcs
