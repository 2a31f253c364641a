"""The format registry: one place for every per-format concern.

Which formats pixelpipe reads, which it writes, with what extension and content type, which
pixel modes each can store, whether it holds alpha or animation, and how to call Pillow's
encoder for it. The engine asks this module; it never hard-codes a format anywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, features

from .errors import SettingsError


@dataclass(frozen=True, slots=True)
class OutputFormat:
    """How to write one output format."""

    name: str  # pixelpipe's name, as in --format
    pil: str  # Pillow's format name
    extension: str
    content_type: str
    alpha: bool  # stores transparency
    animation: bool  # stores several frames
    lossy: bool  # quality applies
    default_quality: int | None = None
    max_side: int = 65535
    # Work mode -> mode written. Missing modes are first reduced to L / RGB / RGBA.
    modes: Mapping[str, str] = field(default_factory=dict)
    save_options: Mapping[str, Any] = field(default_factory=dict)
    # An indexed (palette) image is written as is when the grid has <= 256 colours.
    palette: bool = False
    needs_feature: str | None = None  # Pillow feature that must be compiled in
    # Written losslessly with these options unless a quality is given (then lossy).
    lossless_options: Mapping[str, Any] = field(default_factory=dict)
    # Memory one full-size variant takes while it is encoded, per output pixel: the canvas
    # plus the encoder's own buffers (measured at 24 MP; see docs/PERFORMANCE.md).
    encode_bytes_per_px: int = 8

    def target_mode(self, work_mode: str, sixteen_bit: bool) -> str:
        """The mode to write for an image processed in ``work_mode``."""
        if work_mode == "I" and sixteen_bit and "I;16" in self.modes:
            return "I;16"
        if work_mode in self.modes:
            return self.modes[work_mode]
        fallback = {"LA": "RGBA", "CMYK": "RGB", "I": "L", "F": "L", "L": "RGB"}[work_mode]
        return self.target_mode(fallback, sixteen_bit)

    def save_kwargs(self, quality: int | None, extra: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.save_options)
        if self.lossless_options and quality is None:
            kwargs.update(self.lossless_options)  # exact, and better on block images
        elif self.lossy:
            kwargs["quality"] = quality if quality is not None else self.default_quality
        kwargs.update(extra)
        if "qtables" in extra and "quality" not in extra:
            kwargs.pop("quality", None)  # libjpeg: tables and a quality scale cannot both apply
        return kwargs


_SAME = {m: m for m in ("L", "LA", "RGB", "RGBA")}

_FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat(
        "jpeg",
        "JPEG",
        ".jpg",
        "image/jpeg",
        alpha=False,
        animation=False,
        lossy=True,
        default_quality=75,  # Pillow's default, as the original design wrote
        max_side=65500,
        modes={"L": "L", "LA": "L", "RGB": "RGB", "RGBA": "RGB", "CMYK": "CMYK"},
        # 4:2:0 keeps files small; flat blocks gain nothing from full chroma resolution.
        # Optimised Huffman tables: 38 % smaller files for 35-65 % more time on the whole job
        # at 12 MP (blocks.encode_jpeg encodes only the distinct MCU rows; PERFORMANCE.md).
        save_options={"subsampling": 2, "optimize": True},
    ),
    OutputFormat(
        "png",
        "PNG",
        ".png",
        "image/png",
        alpha=True,
        animation=True,
        lossy=False,
        max_side=2**31 - 1,
        modes={**_SAME, "I": "I;16", "I;16": "I;16"},  # Pillow writes 16-bit PNG, not 32
        # Z_RLE: on block images (rows repeat) it is faster *and* smaller than the default.
        save_options={"compress_level": 6, "compress_type": 3},
        palette=True,
    ),
    OutputFormat(
        "webp",
        "WEBP",
        ".webp",
        "image/webp",
        alpha=True,
        animation=True,
        lossy=True,
        default_quality=85,
        max_side=16383,
        modes={"RGB": "RGB", "RGBA": "RGBA"},
        save_options={"method": 4},
        # Block images in lossless WebP are exact, 5x smaller than lossy at quality 80 and, at
        # effort ("quality") 0, 3x faster to write at 12 MP; efforts 50-100 cost 20-33 % more
        # time for at most 2 % smaller files (docs/PERFORMANCE.md).
        lossless_options={"lossless": True, "quality": 0},
        encode_bytes_per_px=16,  # libwebp's lossless encoder: 15 B/px measured
        needs_feature="webp",
    ),
    OutputFormat(
        "avif",
        "AVIF",
        ".avif",
        "image/avif",
        alpha=True,
        animation=True,
        lossy=True,
        default_quality=75,
        max_side=65536,
        modes={"RGB": "RGB", "RGBA": "RGBA"},
        save_options={"speed": 8},
        encode_bytes_per_px=30,  # 28 B/px measured
        needs_feature="avif",
    ),
    OutputFormat(
        "gif",
        "GIF",
        ".gif",
        "image/gif",
        alpha=True,
        animation=True,
        lossy=False,
        modes={"L": "L", "RGB": "RGB", "RGBA": "RGBA"},
        palette=True,
        encode_bytes_per_px=12,  # 11.7 B/px measured (Pillow quantises an RGB canvas)
    ),
    OutputFormat(
        "tiff",
        "TIFF",
        ".tiff",
        "image/tiff",
        alpha=True,
        animation=True,
        lossy=False,
        max_side=2**31 - 1,
        modes={**_SAME, "CMYK": "CMYK", "I": "I", "I;16": "I;16", "F": "F"},
        save_options={"compression": "tiff_adobe_deflate"},
    ),
    OutputFormat(
        "bmp",
        "BMP",
        ".bmp",
        "image/bmp",
        # Pillow writes 32-bit BMPs whose alpha common readers (Pillow included) ignore, so
        # transparent areas would come out black: flatten on white instead, as for JPEG.
        alpha=False,
        animation=False,
        lossy=False,
        modes={"L": "L", "LA": "L", "RGB": "RGB", "RGBA": "RGB"},
        palette=True,
    ),
    # The following are only reached through --format source.
    OutputFormat(
        "ico",
        "ICO",
        ".ico",
        "image/vnd.microsoft.icon",
        alpha=True,
        animation=False,
        lossy=False,
        max_side=256,
        modes={"RGB": "RGB", "RGBA": "RGBA"},
    ),
    OutputFormat(
        "mpo",
        "MPO",
        ".mpo",
        "image/mpo",
        alpha=False,
        animation=True,
        lossy=True,
        default_quality=85,
        max_side=65500,
        modes={"L": "L", "LA": "L", "RGB": "RGB", "RGBA": "RGB"},
        save_options={"subsampling": 2},
    ),
    OutputFormat(
        "heif",
        "HEIF",
        ".heic",
        "image/heic",
        alpha=True,
        animation=False,
        lossy=True,
        default_quality=80,
        modes={"RGB": "RGB", "RGBA": "RGBA"},
    ),
)

BY_NAME: Mapping[str, OutputFormat] = {f.name: f for f in _FORMATS}

# Pillow format names pixelpipe will *open*. Everything else (EPS through Ghostscript, PSD,
# exotic or legacy formats) is refused before any decoder runs: a smaller attack surface.
# (MPO files are opened by the JPEG plugin, which reports them as "MPO".)
READABLE: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "ICO", "AVIF")

# Pillow formats whose plugin applies the EXIF orientation itself while loading (and then
# reports the displayed size): the engine must not apply it a second time.
ORIENTED_ON_LOAD: frozenset[str] = frozenset({"TIFF"})

# Input format (Pillow name) -> output format written for --format source.
_SOURCE_OUTPUT = {
    "JPEG": "jpeg",
    "MPO": "mpo",
    "PNG": "png",
    "GIF": "gif",
    "WEBP": "webp",
    "TIFF": "tiff",
    "BMP": "bmp",
    "ICO": "ico",
    "AVIF": "avif",
    "HEIF": "heif",
}


@functools.cache
def heif_available() -> bool:
    """Register pillow-heif's opener (the optional ``heic`` extra) if it is installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def readable_formats() -> tuple[str, ...]:
    return READABLE + (("HEIF",) if heif_available() else ())


def _can_write(fmt: OutputFormat) -> bool:
    if fmt.needs_feature and not features.check(fmt.needs_feature):
        return False
    if fmt.pil == "HEIF":
        heif_available()
    Image.init()
    return fmt.pil in Image.SAVE


def ensure_writable(name: str) -> OutputFormat:
    """The output format called ``name``, or SettingsError if this Pillow cannot write it."""
    fmt = BY_NAME.get(name)
    if fmt is None:
        raise SettingsError(f"unknown output format {name!r}")
    if not _can_write(fmt):
        raise SettingsError(
            f"this Pillow build cannot write {name.upper()}"
            + (f" (needs {fmt.needs_feature} support)" if fmt.needs_feature else "")
        )
    return fmt


def output_format_for(requested: str, source_format: str | None) -> OutputFormat:
    """Resolve ``--format`` (``source`` included) for an input of ``source_format``."""
    if requested != "source":
        return ensure_writable(requested)
    name = _SOURCE_OUTPUT.get(source_format or "", "png")
    fmt = BY_NAME[name]
    return fmt if _can_write(fmt) else BY_NAME["png"]


__all__ = [
    "BY_NAME",
    "ORIENTED_ON_LOAD",
    "READABLE",
    "OutputFormat",
    "ensure_writable",
    "heif_available",
    "output_format_for",
    "readable_formats",
]
