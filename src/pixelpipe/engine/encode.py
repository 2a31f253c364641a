"""Encoding: Pillow's encoders with the format's own save behaviour, or a block writer.

Image ``info`` is cleared before saving, so nothing from the source leaks through Pillow's
fallbacks; only the ICC profile and the kept metadata are passed, explicitly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..formats import FrameTiming, OutputFormat
from ..settings import EngineSettings
from .blocks import BlockLayout, Canvas, save_bytes


@dataclass(frozen=True, slots=True)
class Output:
    """How every variant of one image is written."""

    fmt: OutputFormat
    settings: EngineSettings
    meta: Mapping[str, Any]  # kept metadata (empty by default)
    timing: FrameTiming


def save_kwargs(
    fmt: OutputFormat,
    settings: EngineSettings,
    icc: bytes | None,
    meta: Mapping[str, Any],
    mode: str = "",
) -> dict[str, Any]:
    kwargs = fmt.save_kwargs(settings.quality, settings.encoder_options)
    if mode == "CMYK" and "subsampling" in kwargs and "subsampling" not in settings.encoder_options:
        # Chroma subsampling is for luma/chroma: CMYK's channels are inks, each as sharp as
        # the others (4:2:0 on magenta and yellow tripled the 99th-percentile error).
        kwargs["subsampling"] = 0
    if icc:
        kwargs["icc_profile"] = icc
    kwargs.update(meta)
    return kwargs


def encode(images: Sequence[Image.Image], out: Output, icc: bytes | None) -> bytes:
    """``images`` (one per frame) in ``out.fmt`` through Pillow's encoder."""
    kwargs = save_kwargs(out.fmt, out.settings, icc, out.meta, images[0].mode)
    for img in images:
        img.info = {}  # nothing from the source leaks through Pillow's info fallbacks
    kwargs.update(out.fmt.format_kwargs(images, out.timing, out.meta))
    first = images[0]
    try:
        return save_bytes(first, out.fmt.pil, **kwargs)
    except TypeError:
        if not isinstance(kwargs.get("disposal"), list):
            raise
        # Pillow merges identical consecutive GIF frames; when every frame is the same it
        # writes one, but hands it the whole per-frame disposal list (Pillow 11-13).
        return save_bytes(first, out.fmt.pil, **{**kwargs, "disposal": kwargs["disposal"][0]})


# A block writer: the full-size image from its grid, or None when it does not apply.
Writer = Callable[[BlockLayout, Image.Image, Output, bytes | None], bytes | None]


def _png_rows(layout: BlockLayout, g: Image.Image, out: Output, icc: bytes | None) -> bytes | None:
    return None if out.meta else layout.encode_png(g, icc)


def _jpeg_mcu_rows(
    layout: BlockLayout, g: Image.Image, out: Output, icc: bytes | None
) -> bytes | None:
    return layout.encode_jpeg(g, save_kwargs(out.fmt, out.settings, icc, out.meta, g.mode))


BLOCK_WRITERS: Mapping[str, Writer] = {"png-rows": _png_rows, "jpeg-mcu-rows": _jpeg_mcu_rows}


def encode_full(
    ready: Sequence[Image.Image],
    layouts: Sequence[BlockLayout],
    out: Output,
    icc: bytes | None,
    canvases: CanvasPool,
) -> bytes:
    """The full-size variant of the grids ``ready`` (one per frame)."""
    if len(ready) > 1:
        return encode([lay.upscale(g) for lay, g in zip(layouts, ready, strict=True)], out, icc)
    # Fast paths: PNG and JPEG written from the grid, never built at full size.
    writer = BLOCK_WRITERS.get(out.fmt.block_writer or "")
    blob = writer(layouts[0], ready[0], out, icc) if writer else None
    if blob is not None:
        return blob
    with canvases.take() as canvas:
        return encode([layouts[0].upscale(ready[0], canvas)], out, icc)


class CanvasPool:
    """Canvases of one size, each lent to one thread at a time, made only when needed."""

    def __init__(self, size: tuple[int, int], rgb: bool) -> None:
        self.size, self.rgb = size, rgb
        self.free: list[Canvas] = []
        self.lock = threading.Lock()

    @contextmanager
    def take(self) -> Iterator[Canvas]:
        with self.lock:
            canvas = self.free.pop() if self.free else None
        if canvas is None:
            canvas = Canvas(self.size, rgb=self.rgb)
        try:
            yield canvas
        finally:
            with self.lock:
                self.free.append(canvas)
