"""Per frame: the once-decoded image resized to every variant's grid, displayed upright."""

from __future__ import annotations

from PIL import Image

from ..areas import block_grid
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
