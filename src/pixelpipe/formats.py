"""The format registry: one place for every per-format concern.

Which formats pixelpipe reads, which it writes, with what extension and content type, which
pixel modes each can store, whether it holds alpha or animation, and how to call Pillow's
encoder for it. The engine asks this module; it never hard-codes a format anywhere else.

As Pillow's plugins register their own save handlers, each output format here carries its own
save behaviour: flags (``binary_alpha``, ``palette_alpha``, ``jpeg_family``, ``block_writer``,
``single_frame``) and two small hooks, ``frames_kwargs`` (how several frames are saved) and
``quirks`` (keyword arguments one encoder needs). Input formats have their traits in
:data:`INPUTS` (how frames are counted and sized, orientation, DCT scaling).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, features

from .errors import SettingsError


@dataclass(frozen=True, slots=True)
class FrameTiming:
    """The timing of a multi-frame input, as decoded: what an animated output keeps."""

    durations: list[int]
    disposals: list[int] | None  # GIF's terms (see GIF_TO_APNG_DISPOSAL)
    loop: int | None


# Disposal is kept in GIF's terms (0 unspecified, 1 keep, 2 background, 3 previous);
# APNG's ops are 0 none, 1 background, 2 previous.
APNG_TO_GIF_DISPOSAL = {0: 1, 1: 2, 2: 3}
GIF_TO_APNG_DISPOSAL = {0: 0, 1: 0, 2: 1, 3: 2}

# frames_kwargs(frames, timing) -> save keywords for several frames, besides save_all and
# append_images; quirks(first frame, kept metadata) -> keywords this encoder needs.
FramesKwargs = Callable[[Sequence[Image.Image], FrameTiming], dict[str, Any]]
Quirks = Callable[[Image.Image, Mapping[str, Any]], dict[str, Any]]
# A writer in the engine that encodes a full-size block image from its grid (engine/blocks.py).
BlockWriter = Literal["png-rows", "jpeg-mcu-rows"]


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
    # The grid's palette may carry alpha (PNG's tRNS); otherwise only RGB grids get one.
    palette_alpha: bool = False
    # One transparent index: alpha is cut at half opacity before saving (GIF).
    binary_alpha: bool = False
    # libjpeg underneath: the source's quantisation tables apply, and the encoder takes a
    # full-size RGB image held as RGBX (a reused canvas, no copy).
    jpeg_family: bool = False
    # Full-size variants written straight from the grid by this block writer, when it can.
    block_writer: BlockWriter | None = None
    # Written as this format when only one frame is written (one MPO picture is a JPEG).
    single_frame: str | None = None
    # Save keywords for several frames (durations, loop, disposal; see the hooks below) and
    # the keywords this encoder needs whatever the frames (ICO's size, TIFF's compression).
    frames_kwargs: FramesKwargs | None = None
    quirks: Quirks | None = None

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

    def for_frames(self, count: int) -> OutputFormat:
        """The format actually written for ``count`` frames."""
        return BY_NAME[self.single_frame] if self.single_frame and count == 1 else self

    def palette_for(self, mode: str) -> bool:
        """Whether a grid in ``mode`` is written as an exact palette when it can be."""
        return self.palette and (mode == "RGB" or (mode == "RGBA" and self.palette_alpha))

    def format_kwargs(
        self, frames: Sequence[Image.Image], timing: FrameTiming, meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Save keywords for ``frames`` beyond the encoder options: this format's own."""
        kwargs: dict[str, Any] = {}
        if len(frames) > 1:
            kwargs.update(save_all=True, append_images=list(frames[1:]))
            if self.frames_kwargs is not None:
                kwargs.update(self.frames_kwargs(frames, timing))
        if self.quirks is not None:
            kwargs.update(self.quirks(frames[0], meta))
        return kwargs


def _timing(frames: Sequence[Image.Image], timing: FrameTiming) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"duration": timing.durations}
    if timing.loop is not None:
        kwargs["loop"] = timing.loop
    return kwargs


def _gif_frames(frames: Sequence[Image.Image], timing: FrameTiming) -> dict[str, Any]:
    # Frames are complete pictures: one with transparent pixels must clear what the
    # previous frame left (disposal 2), or that frame would show through.
    kept = timing.disposals or [0] * len(frames)
    disposal = [2 if _has_transparency(im) else d for im, d in zip(frames, kept, strict=True)]
    return {**_timing(frames, timing), "disposal": disposal}


def _apng_frames(frames: Sequence[Image.Image], timing: FrameTiming) -> dict[str, Any]:
    kwargs = _timing(frames, timing)
    if timing.disposals is not None:
        kwargs["disposal"] = [GIF_TO_APNG_DISPOSAL.get(d, 0) for d in timing.disposals]
    kwargs["blend"] = 0  # OP_SOURCE: every frame is complete, so disposal is exact
    kwargs["default_image"] = False
    return kwargs


def _has_transparency(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA"):
        return bool(im.getextrema()[-1][0] < 255)  # type: ignore[index]
    if im.mode == "P" and im.palette is not None and im.palette.mode == "RGBA":
        return bool(im.convert("RGBA").getextrema()[-1][0] < 255)  # type: ignore[index]
    return "transparency" in im.info


def _tiff_quirks(first: Image.Image, meta: Mapping[str, Any]) -> dict[str, Any]:
    # libtiff cannot write the GPS IFD Pillow hands it ("Error setting from dictionary");
    # Pillow's own TIFF writer can, and it is the one used for uncompressed files.
    return {"compression": "raw"} if "exif" in meta else {}


def _ico_quirks(first: Image.Image, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {"sizes": [first.size]}  # Pillow's default list would shrink it to a square


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
        jpeg_family=True,
        block_writer="jpeg-mcu-rows",
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
        palette_alpha=True,
        block_writer="png-rows",
        frames_kwargs=_apng_frames,
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
        frames_kwargs=_timing,
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
        frames_kwargs=_timing,
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
        binary_alpha=True,
        frames_kwargs=_gif_frames,
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
        quirks=_tiff_quirks,
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
        quirks=_ico_quirks,
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
        jpeg_family=True,
        single_frame="jpeg",  # one picture is a plain JPEG, named and typed as one
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


@dataclass(frozen=True, slots=True)
class InputFormat:
    """What the engine must know about reading one input format (by Pillow's name)."""

    pil: str
    # Pillow counts frames by reading every one: count them by seeking, up to a limit.
    frames_by_seeking: bool = False
    # Frames (pages) may differ in size: each one's is read from its header.
    sizes_per_frame: bool = False
    # The plugin applies the EXIF orientation itself while loading (and then reports the
    # displayed size): the engine must not apply it a second time.
    oriented_on_load: bool = False
    # libjpeg decodes at 1/2, 1/4 or 1/8 (``draft``) for a fraction of the cost.
    dct_scaling: bool = False
    # Carries JPEG quantisation tables and sampling that a JPEG re-encode can reuse.
    jpeg_tables: bool = False


_INPUTS: tuple[InputFormat, ...] = (
    InputFormat("JPEG", dct_scaling=True, jpeg_tables=True),
    InputFormat("MPO", sizes_per_frame=True, jpeg_tables=True),
    InputFormat("GIF", frames_by_seeking=True),
    InputFormat("TIFF", frames_by_seeking=True, sizes_per_frame=True, oriented_on_load=True),
)
INPUTS: Mapping[str, InputFormat] = {f.pil: f for f in _INPUTS}


def input_format(pil_name: str | None) -> InputFormat:
    """The traits of the input format Pillow calls ``pil_name`` (none special if unknown)."""
    name = pil_name or "unknown"
    return INPUTS.get(name) or InputFormat(name)


# Pillow formats whose plugin applies the EXIF orientation itself while loading.
ORIENTED_ON_LOAD: frozenset[str] = frozenset(f.pil for f in _INPUTS if f.oriented_on_load)

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
    "APNG_TO_GIF_DISPOSAL",
    "BY_NAME",
    "GIF_TO_APNG_DISPOSAL",
    "INPUTS",
    "ORIENTED_ON_LOAD",
    "READABLE",
    "FrameTiming",
    "InputFormat",
    "OutputFormat",
    "ensure_writable",
    "heif_available",
    "input_format",
    "output_format_for",
    "readable_formats",
]
