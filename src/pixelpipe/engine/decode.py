"""Decode the frames once, each in a mode Pillow resamples, reduced as far as allowed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ..formats import APNG_TO_GIF_DISPOSAL, FrameTiming, input_format


@dataclass(frozen=True, slots=True)
class Decoded:
    image: Image.Image  # in a work mode, reduced by ``scale``
    size: tuple[int, int]  # the frame's size as stored (before reduction)
    scale: int


def decode_frames(
    im: Image.Image, count: int, scale_for: Callable[[tuple[int, int]], int]
) -> tuple[list[Decoded], FrameTiming]:
    """Decode ``count`` frames in a work mode, each reduced as far as ``scale_for`` allows."""
    frames: list[Decoded] = []
    durations: list[int] = []
    disposals: list[int] = []
    if count == 1 and input_format(im.format).dct_scaling and (scale := scale_for(im.size)) > 1:
        frames.append(_draft(im, scale))
    for index in range(len(frames), count):
        if index:
            im.seek(index)
        im.load()
        size = im.size
        frame = work_mode(im)
        if frame is im and count > 1:
            frame = im.copy()  # the next seek() reuses im's buffer
        scale = scale_for(size)
        if scale > 1:
            frame = frame.reduce(scale)
        frames.append(Decoded(frame, size, scale))
        # Timing as Pillow reports it once the frame is loaded (WebP fills it in on load).
        durations.append(int(im.info.get("duration", 0) or 0))
        disposal = getattr(im, "disposal_method", None)  # GIF: 0..3
        if disposal is None and im.info.get("disposal") is not None:
            disposal = APNG_TO_GIF_DISPOSAL.get(int(im.info["disposal"]), 1)
        if disposal is not None:
            disposals.append(int(disposal))
    timing = FrameTiming(
        durations=durations,
        disposals=disposals if count > 1 and len(disposals) == count else None,
        loop=im.info.get("loop"),
    )
    return frames, timing


def _draft(im: Image.Image, scale: int) -> Decoded:
    """DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 for a fraction of the cost; the rest
    of ``scale`` by ``reduce``."""
    full = im.size
    im.draft(im.mode, (im.width // scale, im.height // scale))
    im.load()
    done = max(1, round(full[0] / im.width))
    frame = work_mode(im)
    if scale // done > 1:
        frame = frame.reduce(scale // done)
        done *= scale // done
    return Decoded(frame, full, done)


def work_mode(frame: Image.Image) -> Image.Image:
    """``frame`` in a mode that Pillow resamples with bilinear filtering."""
    mode = frame.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):
        return frame
    if mode == "1":
        return frame.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in frame.info
        if frame.palette is not None and frame.palette.mode == "RGBA":
            has_alpha = True
        return frame.convert("RGBA" if has_alpha else "RGB")
    if mode.startswith("I;"):
        return frame.convert("I")
    if mode in ("La", "RGBa"):
        return frame.convert(mode.upper())
    return frame.convert("RGBA" if "A" in mode else "RGB")
