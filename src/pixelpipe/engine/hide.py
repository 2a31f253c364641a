"""Hiding areas of a frame: each area pixelated on its own, or filled.

An area (:class:`pixelpipe.areas.Area`) is a box in the pixels of the displayed image. It is
pixelated with the original design's semantics applied to the area alone: resized to n x n
with bilinear filtering, then back to the area's size with nearest-neighbour (``--shape
square``: n square blocks along the area's longer side; ``--block-px P``: P-pixel blocks from
the area's top-left corner). ``--style fill`` paints the area solid black instead. Everything
outside the areas keeps the source's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image

from ..areas import Area
from ..settings import BlockShape, EngineSettings, RedactStyle
from .grids import block_grid

# Solid black, opaque, in each work mode (CMYK black is full K ink; 0 would be white).
_FILL: dict[str, Any] = {"LA": (0, 255), "RGB": (0, 0, 0), "RGBA": (0, 0, 0, 255)}
_FILL["CMYK"] = (0, 0, 0, 255)


def hide_areas(
    frame: Image.Image, areas: Sequence[Area], settings: EngineSettings, size: int, unit: str
) -> Image.Image:
    """A copy of ``frame`` with every area pixelated at ``size`` (a grid size, or a block size
    in pixels when ``unit`` is ``px``), or filled. Each area is computed from the source's
    pixels, so overlapping areas never show a less hidden version of each other."""
    out = frame.copy()
    for area in areas:
        x, y, w, h = area.box
        if settings.style is RedactStyle.FILL:
            patch = Image.new(frame.mode, (w, h), _FILL.get(frame.mode, 0))
        else:
            crop = frame.crop((x, y, x + w, y + h))
            patch = _pixelate_patch(crop, settings.shape, size, unit)
        out.paste(patch, (x, y))
    return out


def _pixelate_patch(crop: Image.Image, shape: BlockShape, size: int, unit: str) -> Image.Image:
    w, h = crop.size
    if unit == "px":
        # P-pixel blocks from the area's corner; each block averages exactly its own pixels.
        grid = block_grid(crop, size, (w, h), 1)
        return grid.resize((grid.width * size, grid.height * size), Image.Resampling.NEAREST).crop(
            (0, 0, w, h)
        )
    small = crop.resize(shape.grid(size, w, h), Image.Resampling.BILINEAR)
    return small.resize((w, h), Image.Resampling.NEAREST)
