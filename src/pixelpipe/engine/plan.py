"""Planning before decoding: each variant's grid, and how far the decode may be reduced."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import EngineSettings, OutputMode, RedactStyle
from .results import Kind, Unit, Variant

if TYPE_CHECKING:
    from ..formats import OutputFormat

# Decode at 1/s scale only while the decoded image keeps at least this many pixels per grid
# block along each axis. tests/test_engine_parity.py proves the result then stays within one
# level of mean absolute difference from the full-resolution computation.
PARITY_OVERSAMPLE = 4
# ...and at least this many pixels along each axis: with only a few blocks the per-block
# rounding of a coarse decode no longer averages out (grids of 1, 2 or 4 blocks need it).
PARITY_MIN_SIDE = 128


@dataclass(frozen=True, slots=True)
class GridPlan:
    """One variant's grid."""

    size: int
    unit: Unit
    grid: tuple[int, int]  # blocks in the displayed orientation
    canvas: tuple[int, int]  # nearest-neighbour target before cropping to the image size

    def variant(
        self, kind: Kind, shape: tuple[int, int], frames: int, fmt: OutputFormat, data: bytes
    ) -> Variant:
        """This plan's variant of ``kind``: ``shape`` pixels, ``frames`` frames, ``data``."""
        return Variant(
            size=self.size,
            unit=self.unit,
            kind=kind,
            grid=self.grid,
            width=shape[0],
            height=shape[1],
            format=fmt.name,
            extension=fmt.extension,
            content_type=fmt.content_type,
            frames=frames,
            data=data,
        )


def plan_grids(width: int, height: int, settings: EngineSettings) -> list[GridPlan]:
    """The grid of every variant for a displayed image of ``width`` x ``height``.

    Areas filled black make one variant (``fill``): the sizes would change nothing in it."""
    plans: list[GridPlan] = []
    if settings.hides_areas and settings.style is RedactStyle.FILL:
        return [GridPlan(0, "fill", (0, 0), (width, height))]
    if settings.block_px:
        for p in settings.block_px:
            gw, gh = max(1, math.ceil(width / p)), max(1, math.ceil(height / p))
            plans.append(GridPlan(p, "px", (gw, gh), (gw * p, gh * p)))
        return plans
    for n in settings.grid_sizes:
        plans.append(GridPlan(n, "grid", settings.shape.grid(n, width, height), (width, height)))
    return plans


def decode_scale(size: tuple[int, int], swap: bool, settings: EngineSettings) -> int:
    """Largest reduction of a stored ``size`` frame leaving PARITY_OVERSAMPLE px per block and
    PARITY_MIN_SIDE px per side (``swap``: the frame is displayed turned by 90 degrees)."""
    plans = plan_grids(*((size[1], size[0]) if swap else size), settings)
    need_w = max(p.grid[1] if swap else p.grid[0] for p in plans) * PARITY_OVERSAMPLE
    need_h = max(p.grid[0] if swap else p.grid[1] for p in plans) * PARITY_OVERSAMPLE
    need_w, need_h = max(need_w, PARITY_MIN_SIDE), max(need_h, PARITY_MIN_SIDE)
    return max(1, min(size[0] // need_w, size[1] // need_h))


def variant_kinds(output: OutputMode) -> list[Kind]:
    """The kinds of variant made per grid: full-size, the grid itself, or both."""
    kinds: dict[OutputMode, list[Kind]] = {
        OutputMode.FULL: ["full"],
        OutputMode.GRID: ["grid"],
        OutputMode.BOTH: ["full", "grid"],
    }
    return kinds[output]
