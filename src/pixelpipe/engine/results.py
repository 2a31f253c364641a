"""What the engine returns: the source as read, and one :class:`Variant` per output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._version import __version__
from ..areas import Area, FaceSearch
from ..keys import output_name
from ..placeholder import Placeholder

ENGINE_VERSION = __version__

Kind = Literal["full", "grid"]
Unit = Literal["grid", "px", "fill"]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the engine learnt about the input."""

    format: str  # Pillow's format name, e.g. "JPEG"
    mode: str  # pixel mode as stored, e.g. "RGB", "P", "I;16"
    width: int  # displayed size, after EXIF orientation
    height: int
    frames: int  # frames (or pages) in the file
    orientation: int  # EXIF orientation that was applied (1 = none)
    bytes: int


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoded output image."""

    size: int  # grid size n, or block size in pixels (see ``unit``); 0 for fill
    unit: Unit  # "fill": regions and faces painted black (one output, whatever the sizes)
    kind: Kind  # "full": input's size; "grid": the tiny grid image itself
    grid: tuple[int, int]  # blocks across, blocks down
    width: int
    height: int
    format: str  # pixelpipe's format name, e.g. "jpeg"
    extension: str  # e.g. ".jpg"
    content_type: str
    frames: int
    data: bytes = field(repr=False)
    # Area jobs: whether every face is at most ANON_FACE_BLOCKS blocks across and every region
    # at most ANON_REGION_BLOCKS along its longer side (fill: always). None: whole image.
    anonymised: bool | None = None

    @property
    def label(self) -> str:
        """``8x8``, ``8x8-grid``, ``16px``, ``16px-grid`` or ``fill``: the part that names the
        output."""
        if self.unit == "fill":
            return "fill"
        base = f"{self.size}x{self.size}" if self.unit == "grid" else f"{self.size}px"
        return base if self.kind == "full" else f"{base}-grid"

    def filename(self, source_name: str) -> str:
        """The output file name for ``source_name``: ``pixelated-8x8-cat.jpg``.

        As in the original project; when the output format differs from the input's, only
        the extension changes.
        """
        return f"pixelated-{self.label}-{output_name(source_name, self.format, self.extension)}"


@dataclass(frozen=True, slots=True)
class Pixelated:
    """The engine's result for one input."""

    source: SourceInfo
    variants: tuple[Variant, ...]
    decode_scale: int  # 1 = full resolution; 8 = decoded at 1/8 scale
    timings_ms: dict[str, float]
    engine_version: str = ENGINE_VERSION
    placeholder: Placeholder | None = None  # of the first frame, as the variants show it
    # What was hidden when only regions and faces were asked for (the first frame's areas,
    # with faces found in any frame; see areas.py). Empty when the whole image is pixelated.
    areas: tuple[Area, ...] = ()
    # With faces: the detector and the smallest face covered reliably (None without faces).
    face_search: FaceSearch | None = None

    @property
    def face_min_px(self) -> int | None:
        """The smallest face width (pixels of the displayed image) detection covered reliably
        here; faces narrower may have been missed. None when faces were not looked for."""
        return None if self.face_search is None else self.face_search.min_face_px

    @property
    def anonymised_labels(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The labels of the outputs that anonymise and of those that do not (area jobs;
        both empty for a whole image)."""
        yes = tuple(v.label for v in self.variants if v.anonymised)
        no = tuple(v.label for v in self.variants if v.anonymised is False)
        return yes, no


def ms(seconds: float) -> float:
    """A duration in seconds as the milliseconds ``timings_ms`` holds."""
    return round(seconds * 1000, 3)
