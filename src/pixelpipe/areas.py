"""Hiding parts of an image: explicit regions and detected faces. No AWS, no files.

An *area* is a box in the pixels of the displayed (orientation-corrected) image. Every area is
pixelated with the original design's semantics applied to the area alone: resized to n x n
with bilinear filtering, then back to the area's size with nearest-neighbour (``--shape
square``: n square blocks along the area's longer side; ``--block-px P``: P-pixel blocks from
the area's top-left corner). ``--style fill`` paints the area solid black instead. Everything
outside the areas keeps the source's pixels.

Faces come from :mod:`pixelpipe.faces`; each face box is grown by a padding so that hair, ears
and chin are covered. In a multi-frame input the faces found in any frame are hidden in every
frame of that size: a face the detector misses in one frame of an animation is still covered
by its neighbours' detections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image

from .errors import AreaError
from .parse import Box, format_regions, parse_regions
from .settings import BlockShape, EngineSettings, RedactStyle

if TYPE_CHECKING:  # pragma: no cover
    from .faces import Detector

AreaSource = Literal["region", "face"]

# User metadata an uploader may set on a source object (``aws s3 cp --metadata``, any SDK):
# more areas to hide, and whether faces are hidden (overriding the deployment's FACES).
META_REGIONS = "pixelpipe-regions"  # x,y,w,h;x,y,w,h in pixels of the displayed image
META_FACES = "pixelpipe-faces"  # true | false

# Solid black, opaque, in each work mode (CMYK black is full K ink; 0 would be white).
_FILL: dict[str, Any] = {"LA": (0, 255), "RGB": (0, 0, 0), "RGBA": (0, 0, 0, 255)}
_FILL["CMYK"] = (0, 0, 0, 255)


@dataclass(frozen=True, slots=True)
class Area:
    """One hidden area, as the manifest lists it."""

    box: Box
    source: AreaSource
    score: float | None = None  # faces: the detector's confidence
    detector: str | None = None  # faces: the detector's name and version
    frame: int | None = None  # faces in multi-frame inputs: first frame it was found in

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"box": list(self.box), "source": self.source}
        if self.source == "face":
            doc["score"] = None if self.score is None else round(self.score, 3)
            doc["detector"] = self.detector
            if self.frame is not None:
                doc["frame"] = self.frame
        return doc


def clip(box: Box, width: int, height: int) -> Box | None:
    """``box`` cut to the image, or None when nothing of it is inside."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def region_areas(boxes: Sequence[Box], width: int, height: int) -> list[Area]:
    """Explicit regions on a ``width`` x ``height`` image; one wholly outside is an error
    (coordinates meant for another orientation or size must not pass unnoticed)."""
    areas = []
    for box in boxes:
        clipped = clip(box, width, height)
        if clipped is None:
            raise AreaError(
                f"region {','.join(map(str, box))} lies outside the {width}x{height} image "
                "(regions are in pixels of the displayed, orientation-corrected image)"
            )
        areas.append(Area(clipped, "region"))
    return areas


def face_areas(
    frames: Sequence[Image.Image],
    settings: EngineSettings,
    threads: int,
    detector: Detector | None = None,
) -> tuple[list[list[Area]], float]:
    """Faces in each displayed frame, padded; the faces of every frame of one size apply to
    all frames of that size. Returns the areas per frame and the detector's time in ms.

    ``detector``: the process's (``faces.default_detector()``) unless one is given. When it
    cannot run here, an ``AreaError`` saying what to install: fail closed."""
    import time

    from .faces import default_detector, pad

    detector = default_detector() if detector is None else detector
    reason = detector.unavailable_reason()
    if reason:  # the entry points checked at start-up; the environment may have changed since
        raise AreaError(reason)
    t0 = time.perf_counter()
    name = f"{detector.name} {detector.version}"
    by_size: dict[tuple[int, int], list[Area]] = {}
    for index, frame in enumerate(frames):
        found = detector(frame, working_size=settings.face_working_size, threads=threads)
        group = by_size.setdefault(frame.size, [])
        for face in found:
            box = pad(face, settings.face_padding, frame.width, frame.height)
            if any(a.box == box for a in group):
                continue
            group.append(Area(box, "face", face.score, name, index if len(frames) > 1 else None))
    ms = (time.perf_counter() - t0) * 1000
    return [list(by_size.get(f.size, [])) for f in frames], ms


def hide(
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


__all__ = [
    "META_FACES",
    "META_REGIONS",
    "Area",
    "Box",
    "block_grid",
    "clip",
    "face_areas",
    "format_regions",
    "hide",
    "parse_regions",
    "region_areas",
]
