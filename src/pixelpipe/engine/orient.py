"""EXIF orientation: read from the header, applied to small images (grids, placeholder)."""

from __future__ import annotations

from PIL import Image

TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
ORIENTATION_TAG = 0x0112


def orientation(im: Image.Image) -> int:
    """The EXIF orientation of ``im`` (1 when absent or invalid)."""
    try:
        value = int(im.getexif().get(ORIENTATION_TAG, 1))
    except (TypeError, ValueError):
        return 1
    return value if value in TRANSPOSE else 1


def swaps(transform: int) -> bool:
    """Whether ``transform`` exchanges width and height."""
    return transform in (5, 6, 7, 8)


def upright(img: Image.Image, transform: int) -> Image.Image:
    """``img`` with ``transform`` applied (itself when there is none)."""
    return img.transpose(TRANSPOSE[transform]) if transform in TRANSPOSE else img
