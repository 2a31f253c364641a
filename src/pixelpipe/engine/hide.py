"""Hiding areas of a frame: each area pixelated on its own, or filled.

An area (:class:`pixelpipe.areas.Area`) is a box in the pixels of the displayed image. It is
pixelated with the original design's semantics applied to the area alone: resized to n x n
with bilinear filtering, then back to the area's size with nearest-neighbour (``--shape
square``: n square blocks along the area's longer side; ``--block-px P``: P-pixel blocks from
the area's top-left corner). ``--style fill`` paints the area solid black instead. Everything
outside the areas keeps the source's pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def hidden_in_place(
    frame: Image.Image, areas: Sequence[Area], settings: EngineSettings, size: int, unit: str
) -> Iterator[Image.Image]:
    """``frame`` itself with its areas hidden as :func:`hide_areas` hides them, for the time
    of the ``with`` block; then its own pixels again. What it holds is the areas' pixels
    (twice), not a copy of the frame: at 100 MP a copy is 400 MB."""
    if not areas:
        yield frame
        return
    boxes = [(x, y, x + w, y + h) for x, y, w, h in (a.box for a in areas)]
    kept = [frame.crop(box) for box in boxes]
    patches = []
    for area, crop in zip(areas, kept, strict=True):
        _, _, w, h = area.box
        local = Area((0, 0, w, h), area.source)
        patches.append(hide_areas(crop, [local], settings, size, unit))
    try:
        for box, patch in zip(boxes, patches, strict=True):
            frame.paste(patch, box[:2])
        yield frame
    finally:
        for box, crop in reversed(list(zip(boxes, kept, strict=True))):
            frame.paste(crop, box[:2])


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
