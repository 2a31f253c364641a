"""Grids: the once-decoded image resized to every variant's grid (per frame, displayed
upright), and the grid of P-pixel blocks that ``--block-px`` variants and hidden areas use."""

from __future__ import annotations

import math

from PIL import Image

from ..settings import EngineSettings
from .decode import Decoded
from .orient import TRANSPOSE, swaps
from .plan import GridPlan, plan_grids

# A frame's displayed size, and its grid image for each plan.
FrameGrids = tuple[tuple[int, int], list[tuple[GridPlan, Image.Image]]]


def pixelate_frame(frame: Decoded, transform: int, settings: EngineSettings) -> FrameGrids:
    """Bilinear-resize one decoded frame to every grid; grids come out displayed upright."""
    img, (fw, fh), scale = frame.image, frame.size, frame.scale
    swap = swaps(transform)
    shown = (fh, fw) if swap else (fw, fh)
    if settings.block_px and transform in TRANSPOSE:
        # Pixel blocks are laid out from the displayed top-left corner: orient first.
        img = img.transpose(TRANSPOSE[transform])
        (fw, fh), transform, swap = shown, 1, False
    grids = []
    for plan in plan_grids(*shown, settings):
        if plan.unit == "px":
            g = block_grid(img, plan.size, (fw, fh), scale)
        else:
            file_grid = (plan.grid[1], plan.grid[0]) if swap else plan.grid
            box = (0.0, 0.0, fw / scale, fh / scale)
            g = img.resize(file_grid, Image.Resampling.BILINEAR, box=box)
        if transform in TRANSPOSE:
            g = g.transpose(TRANSPOSE[transform])
        grids.append((plan, g))
    return shown, grids


def block_grid(img: Image.Image, p: int, size: tuple[int, int], scale: int) -> Image.Image:
    """The grid of P-pixel blocks of an image ``size`` pixels large, decoded as ``img`` at
    1/``scale``: each cell averages exactly its own P x P region. The complete blocks and the
    partial last column/row are resized separately, so a block never borrows a stretched
    share of its neighbours (which resizing the whole image to ceil(W/P) cells would do)."""
    grid = Image.new(img.mode, (max(1, math.ceil(size[0] / p)), max(1, math.ceil(size[1] / p))))
    for x0, x1, nx, cx in _spans(size[0], p):
        for y0, y1, ny, cy in _spans(size[1], p):
            box = (x0 / scale, y0 / scale, x1 / scale, y1 / scale)
            grid.paste(img.resize((nx, ny), Image.Resampling.BILINEAR, box=box), (cx, cy))
    return grid


def _spans(total: int, p: int) -> list[tuple[int, int, int, int]]:
    """(start px, end px, cells, first cell) for the complete blocks and the partial one."""
    full = total // p
    spans = [(0, full * p, full, 0)] if full else []
    if total % p:
        spans.append((full * p, total, 1, full))
    return spans
