"""What a setting may be: the choices of the enumerated settings and the output formats.

Below both ``settings`` (which validates against them) and ``settings_table`` (whose ``--help``
and docs list them), so that each choice is written once.
"""

from __future__ import annotations

from enum import StrEnum


class BlockShape(StrEnum):
    """How a grid size maps onto a non-square image."""

    GRID = "grid"  # n x n blocks whatever the aspect ratio (the original design)
    SQUARE = "square"  # n blocks along the longer side, square blocks

    def grid(self, n: int, width: int, height: int) -> tuple[int, int]:
        """Blocks across and down for grid size ``n`` on a ``width`` x ``height`` picture."""
        if self is BlockShape.GRID:
            return (n, n)
        if width >= height:
            return (n, max(1, round(n * height / width)))
        return (max(1, round(n * width / height)), n)


class OutputMode(StrEnum):
    """Which images each variant produces."""

    FULL = "full"  # the pixelated image at the input's size (the original design)
    GRID = "grid"  # the tiny grid image itself (previews, ML)
    BOTH = "both"


class RedactStyle(StrEnum):
    """How an area (a region or a face) is hidden."""

    PIXELATE = "pixelate"  # the area pixelated at each variant's size
    FILL = "fill"  # the area painted solid black: nothing of it survives


class Frames(StrEnum):
    """Which frames of an animated or multi-page input are pixelated."""

    ALL = "all"
    FIRST = "first"


# Output formats a user can ask for. The registry in formats.py knows how to write each.
OUTPUT_FORMATS: tuple[str, ...] = (
    "source",
    "jpeg",
    "png",
    "webp",
    "avif",
    "gif",
    "tiff",
    "bmp",
)
