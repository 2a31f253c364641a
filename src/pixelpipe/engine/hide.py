"""Hiding areas of a frame: each area pixelated on its own, or filled.

An area (:class:`pixelpipe.areas.Area`) is a box in the pixels of the displayed image.

* A **region** (a rectangle) is pixelated with the original design's semantics applied to the
  area alone: resized to n x n with bilinear filtering, then back to the area's size with
  nearest-neighbour (``--shape square``: n square blocks along the area's longer side;
  ``--block-px P``: P-pixel blocks from the area's top-left corner).
* A **face** hides the pixels inside its head ellipse or its detector box. Its blocks are
  counted on the detector's face box: size n makes blocks ``ceil(face width / n)`` px wide
  (``--shape grid``: ``ceil(face height / n)`` px high, else square), so the face is at most
  n blocks across;
  ``--block-px P``: P-px blocks. The lattice starts at the face box's corner and extends over
  the whole area; each block is the exact average of its pixels inside the area's bounding
  box (``blocks_across`` counts them).

``--style fill`` paints the area (for faces: the ellipse and the box) solid black instead.
Everything outside the areas keeps the source's pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from PIL import Image

from ..areas import Area, Box
from ..settings import (
    ANON_FACE_BLOCKS,
    ANON_REGION_BLOCKS,
    BlockShape,
    EngineSettings,
    RedactStyle,
)
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
    for area, patch, mask in area_patches(frame, areas, settings, size, unit):
        out.paste(patch, area.box[:2], mask)
    return out


# An area, its box's pixels as hidden, and the mask of what is hidden in it (None: all of it).
AreaPatch = tuple[Area, Image.Image, Image.Image | None]


def area_patches(
    frame: Image.Image, areas: Sequence[Area], settings: EngineSettings, size: int, unit: str
) -> list[AreaPatch]:
    """Each area's box as hidden at ``size`` (from the source's pixels), with its mask."""
    patches = []
    for area in areas:
        x, y, w, h = area.box
        if settings.style is RedactStyle.FILL:
            patch = Image.new(frame.mode, (w, h), _FILL.get(frame.mode, 0))
        elif area.face is not None:
            patch = _pixelate_face(frame, area, face_blocks(area, settings.shape, size, unit))
        else:
            crop = frame.crop((x, y, x + w, y + h))
            patch = _pixelate_patch(crop, settings.shape, size, unit)
        patches.append((area, patch, None if area.ellipse is None else _mask(area)))
    return patches


def hide_box(frame: Image.Image, patches: Sequence[AreaPatch], box: Box) -> Image.Image:
    """The pixels of ``box`` exactly as :func:`hide_areas` leaves them: the source's, with
    every area that overlaps the box pasted in order through its mask. Pasting such boxes
    in any order over the source gives :func:`hide_areas`' frame (a face's ellipse never
    shows through another area's box)."""
    x, y, w, h = box
    out = frame.crop((x, y, x + w, y + h))
    for area, patch, mask in patches:
        ax, ay, aw, ah = area.box
        x0, y0, x1, y1 = max(x, ax), max(y, ay), min(x + w, ax + aw), min(y + h, ay + ah)
        if x1 <= x0 or y1 <= y0:
            continue
        part = (x0 - ax, y0 - ay, x1 - ax, y1 - ay)
        out.paste(patch.crop(part), (x0 - x, y0 - y), None if mask is None else mask.crop(part))
    return out


@contextmanager
def hidden_in_place(frame: Image.Image, patches: Sequence[AreaPatch]) -> Iterator[Image.Image]:
    """``frame`` itself with ``patches`` (:func:`area_patches` of it) pasted as
    :func:`hide_areas` pastes them, for the time of the ``with`` block; then its own pixels
    again. What it holds is the areas' pixels (twice), not a copy of the frame: at 100 MP a
    copy is 400 MB."""
    kept = [(area.box, frame.crop(_corners(area.box))) for area, _, _ in patches]
    try:
        for area, patch, mask in patches:
            frame.paste(patch, area.box[:2], mask)
        yield frame
    finally:
        for box, crop in reversed(kept):
            frame.paste(crop, box[:2])


def _corners(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return x, y, x + w, y + h


def face_blocks(area: Area, shape: BlockShape, size: int, unit: str) -> tuple[int, int]:
    """A face's block width and height in pixels at ``size`` (grid n, or P px)."""
    if unit == "px":
        return size, size
    _, _, fw, fh = area.anchor
    bw = max(1, math.ceil(fw / size))
    return bw, bw if shape is BlockShape.SQUARE else max(1, math.ceil(fh / size))


def blocks_across(area: Area, shape: BlockShape, size: int, unit: str) -> int:
    """How many blocks a variant at ``size`` puts across ``area``: a face's width (its
    detector box), a region's longer side."""
    _, _, w, h = area.anchor
    if area.face is not None:
        return math.ceil(w / face_blocks(area, shape, size, unit)[0])
    if unit == "px":
        return math.ceil(max(w, h) / size)
    return size  # n x n, or n along the longer side (--shape square)


def anonymises(areas: Sequence[Area], shape: BlockShape, size: int, unit: str) -> bool:
    """Whether the variant at ``size`` anonymises: every face at most ``ANON_FACE_BLOCKS``
    blocks across, every region at most ``ANON_REGION_BLOCKS`` along its longer side (fill:
    always; no areas: nothing to hide)."""
    if unit == "fill":
        return True
    for area in areas:
        limit = ANON_FACE_BLOCKS if area.face is not None else ANON_REGION_BLOCKS
        if blocks_across(area, shape, size, unit) > limit:
            return False
    return True


def _mask(area: Area) -> Image.Image:
    """The area's ellipse and its face box as a mask of its box: 255 where hidden. The image
    shares the mask's memory (read-only: it is pasted through, never drawn on)."""
    assert area.ellipse is not None
    x, y, w, h = area.box
    # Half a pixel more all round than the ellipse: every pixel it touches is hidden (whose
    # centre is within half a pixel of it; tests/test_area_encode.py), none farther out.
    e = area.ellipse
    mask = type(e)(e.cx, e.cy, e.rx + 0.5, e.ry + 0.5, e.angle).mask(x, y, w, h)
    if area.face is not None:
        fx, fy, fw, fh = area.face
        x0, x1 = max(fx, x) - x, min(fx + fw, x + w) - x
        full = b"\xff" * max(0, x1 - x0)
        for row in range(max(fy, y) - y, min(fy + fh, y + h) - y):
            mask[row * w + x0 : row * w + x1] = full
    return Image.frombuffer("L", (w, h), mask, "raw", "L", 0, 1)


def _pixelate_face(frame: Image.Image, area: Area, block: tuple[int, int]) -> Image.Image:
    """The face area's box pixelated on the lattice of ``block`` anchored at the face box."""
    x, y, w, h = area.box
    ax, ay = area.anchor[:2]
    bw, bh = block
    ox = ax + math.floor((x - ax) / bw) * bw  # the lattice cell holding the box's corner
    oy = ay + math.floor((y - ay) / bh) * bh
    xs, ys = _cells(x, x + w, ox, bw), _cells(y, y + h, oy, bh)
    grid = Image.new(frame.mode, (xs[-1][3] + xs[-1][2], ys[-1][3] + ys[-1][2]))
    for x0, x1, nx, cx in xs:
        for y0, y1, ny, cy in ys:
            cells = frame.resize((nx, ny), Image.Resampling.BOX, box=(x0, y0, x1, y1))
            grid.paste(cells, (cx, cy))
    big = grid.resize((grid.width * bw, grid.height * bh), Image.Resampling.NEAREST)
    return big.crop((x - ox, y - oy, x - ox + w, y - oy + h))


def _cells(start: int, end: int, origin: int, p: int) -> list[tuple[int, int, int, int]]:
    """(start px, end px, cells, first cell) covering [start, end) on the lattice of ``p``-px
    cells from ``origin`` (<= start): a partial first cell, the whole ones, a partial last."""
    spans = []
    first_end = min(end, origin + p)
    if start > origin or first_end == end:
        spans.append((start, first_end, 1, 0))
        begin, cell = first_end, 1
    else:
        begin, cell = start, 0
    whole = (end - begin) // p
    if whole:
        spans.append((begin, begin + whole * p, whole, cell))
        begin, cell = begin + whole * p, cell + whole
    if begin < end:
        spans.append((begin, end, 1, cell))
    return spans


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
