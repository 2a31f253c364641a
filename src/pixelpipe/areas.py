"""The areas an image's variants hide: explicit regions and detected faces. No AWS, no files,
no pixels (hiding an area is the engine's: :mod:`pixelpipe.engine.hide`).

An *area* is a box in the pixels of the displayed (orientation-corrected) image, with where it
came from: a region the user gave (``--region``, the ``pixelpipe-regions`` metadata) or a face
the detector found (``--faces``). "Area" is the one word for a hidden part of an image, in code
and docs; the manifest lists them under ``areas``.

Faces come from :mod:`pixelpipe.faces`; what is hidden of a face is its head: an ellipse
placed from the face box and its landmarks (``faces.head_ellipse``: turn and tilt, the back of
a turned head, hair above), grown by ``face_padding``, together with the detector's box
(``face``), which the size of the blocks is counted on (``n`` blocks across the face's
width). A face's ``box`` bounds both. In a multi-frame input the faces found in any frame
are hidden in every frame of that size: a face the detector misses in one frame of an
animation is still covered by its neighbours' detections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from PIL import Image

from .errors import AreaError
from .parse import Box, format_regions, parse_regions
from .settings import EngineSettings

if TYPE_CHECKING:  # pragma: no cover
    from .faces import Detector, Ellipse

AreaSource = Literal["region", "face"]
AreaShape = Literal["rect", "ellipse"]

# User metadata an uploader may set on a source object (``aws s3 cp --metadata``, any SDK):
# more areas to hide, and whether faces are hidden (overriding the deployment's FACES).
META_REGIONS = "pixelpipe-regions"  # x,y,w,h;x,y,w,h in pixels of the displayed image
META_FACES = "pixelpipe-faces"  # true | false


@dataclass(frozen=True, slots=True)
class Area:
    """One hidden area, as the manifest lists it (``ellipse`` excepted).

    ``box``: the bounding box of what is hidden (clipped to the image); ``shape``: ``rect``
    (the whole box, regions) or ``ellipse`` (faces: the pixels inside ``ellipse`` or inside
    ``face``, the detector's box on which the blocks are laid out: the union of the two, which
    ``box`` bounds)."""

    box: Box
    source: AreaSource
    score: float | None = None  # faces: the detector's confidence
    detector: str | None = None  # faces: the detector's name and version
    frame: int | None = None  # faces in multi-frame inputs: first frame it was found in
    face: Box | None = None  # faces: the detector's box (displayed pixels)
    shape: AreaShape = "rect"
    ellipse: Ellipse | None = field(default=None, compare=False)  # faces: the head hidden

    @property
    def anchor(self) -> Box:
        """The box the blocks are counted on and laid out from: a face's detector box, a
        region's box."""
        return self.box if self.face is None else self.face


def clip(box: Box, width: int, height: int) -> Box | None:
    """``box`` cut to the image, or None when nothing of it is inside."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _bounds(ellipse: Ellipse, face: Box, width: int, height: int) -> Box | None:
    """The box around a face's ellipse and its detector box, cut to the image."""
    left, top, right, bottom = ellipse.bounds()
    x, y, w, h = face
    x0, y0 = min(math.floor(left), x), min(math.floor(top), y)
    x1, y1 = max(math.ceil(right), x + w), max(math.ceil(bottom), y + h)
    return clip((x0, y0, x1 - x0, y1 - y0), width, height)


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


@dataclass(frozen=True, slots=True)
class FaceSearch:
    """How faces were looked for in one image: the detector's name and version, and the
    smallest face width (pixels of the image) covered reliably in every frame."""

    detector: str
    min_face_px: int

    def to_json(self) -> dict[str, object]:
        return {"detector": self.detector, "min_face_px": self.min_face_px}


def face_areas(
    frames: Sequence[Image.Image],
    settings: EngineSettings,
    threads: int,
    detector: Detector | None = None,
) -> tuple[list[list[Area]], float, FaceSearch]:
    """Faces in each displayed frame, as head ellipses; the faces of every frame of one size
    apply to all frames of that size. Returns the areas per frame, the detector's time in ms
    and how faces were looked for.

    ``detector``: the process's (``faces.default_detector()``) unless one is given. When it
    cannot run here, an ``AreaError`` saying what to install: fail closed."""
    import time

    from .faces import default_detector, head_ellipse

    detector = default_detector() if detector is None else detector
    reason = detector.unavailable_reason()
    if reason:  # the entry points checked at start-up; the environment may have changed since
        raise AreaError(reason)
    t0 = time.perf_counter()
    name = f"{detector.name} {detector.version}"
    by_size: dict[tuple[int, int], list[Area]] = {}
    sizes = {"working_size": settings.face_working_size, "min_face_size": settings.face_min_size}
    covered = max(detector.min_face_px(*f.size, **sizes) for f in frames) if frames else 0
    for index, frame in enumerate(frames):
        found = detector(frame, **sizes, threads=threads)
        group = by_size.setdefault(frame.size, [])
        for face in found:
            ellipse = head_ellipse(face, settings.face_padding, frame.size)
            own = (face.x, face.y, face.w, face.h)
            box = _bounds(ellipse, own, frame.width, frame.height)
            if box is None or any(a.face == own for a in group):
                continue  # (never None: the face box is inside the frame)
            at = index if len(frames) > 1 else None
            group.append(Area(box, "face", face.score, name, at, own, "ellipse", ellipse))
    ms = (time.perf_counter() - t0) * 1000
    return [list(by_size.get(f.size, [])) for f in frames], ms, FaceSearch(name, covered)


__all__ = [
    "META_FACES",
    "META_REGIONS",
    "Area",
    "Box",
    "FaceSearch",
    "clip",
    "face_areas",
    "format_regions",
    "parse_regions",
    "region_areas",
]
