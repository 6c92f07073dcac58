"""Inputs: every entry point parses its arguments here, with one set of rules and messages.

* :func:`parse_input_data` / :func:`parse_input_shape`: one input (file name,
  HDUList, image HDU, NDData, ``(array, WCS)``, PNG/JPEG with AVM tags) to
  ``(array, wcs)`` or, reading no pixels, ``(shape, wcs, is_fits)``; the
  split of reproject's ``utils.parse_input_data``/``parse_input_shape``.
* :func:`parse_output_projection`: ``output_projection``/``shape_out``.
* :func:`read_fits_image`: a FITS image as a memory map of the file (or read,
  when scaled or compressed), with the HDU rule of :func:`select_image_hdu`.
* :func:`as_kernel_array` / :func:`kernel_dtype`: the float type and array
  the kernels take (zero-copy where possible).
* :func:`check_wcs`, :func:`check_shape`, :func:`check_celestial_2d`,
  :func:`check_data_2d`: validation with errors naming the argument, the
  input index and the file.

Modules: :mod:`._parse` (input forms), :mod:`._fits` (FITS files),
:mod:`._avm` (PNG/JPEG with AVM tags), :mod:`._wcscheck` (WCS sanity).
"""

from ._avm import is_avm_image, read_avm_image
from ._fits import file_name, image_dtype, read_fits_image, select_image_hdu
from ._parse import (
    array_shape_of_wcs,
    as_high_level_wcs,
    as_kernel_array,
    check_celestial_2d,
    check_data_2d,
    check_shape,
    is_fits_wcs,
    is_nddata,
    is_path,
    is_single_input,
    kernel_dtype,
    parse_input_data,
    parse_input_shape,
    parse_output_projection,
)
from ._wcscheck import check_wcs

__all__ = [
    "array_shape_of_wcs", "as_high_level_wcs", "as_kernel_array", "check_celestial_2d", "check_data_2d",
    "check_shape", "check_wcs", "file_name", "image_dtype", "is_avm_image", "is_fits_wcs", "is_nddata", "is_path",
    "is_single_input", "kernel_dtype", "parse_input_data", "parse_input_shape", "parse_output_projection",
    "read_avm_image", "read_fits_image", "select_image_hdu",
]
