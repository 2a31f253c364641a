"""The placeholder's pixels: a small upright 8-bit sRGB copy of the first decoded frame."""

from __future__ import annotations

from PIL import Image

from ..placeholder import Placeholder, work_size
from ..placeholder import make as make_placeholder
from .convert import cmyk_to_rgb, to_8bit
from .decode import Decoded
from .orient import swaps, upright


def frame_placeholder(frame: Decoded, transform: int, icc: bytes | None, wide: bool) -> Placeholder:
    """The placeholder (BlurHash, ThumbHash, data URI, colour) of the displayed image, from
    a copy of at most ``placeholder.WORK_SIDE`` px of the once-decoded first frame: no second
    decode. Upright (``transform``), 8-bit sRGB like the variants' grids.

    It must show no more than the full-size variants do: whatever changes their pixels beyond
    pixelation (areas hidden) has to be applied to ``small`` (or to ``frame.image``) before
    ``make_placeholder`` -- the same pixels, or the placeholder would give away what they hide.
    """
    img, (fw, fh), scale = frame.image, frame.size, frame.scale
    # The fractional box weights the reduced image's partial edge pixels, as for the grids.
    box = (0.0, 0.0, fw / scale, fh / scale)
    small = upright(img.resize(work_size(fw, fh), Image.Resampling.BOX, box=box), transform)
    if small.mode == "CMYK":
        small = cmyk_to_rgb(small, icc)[0]
    elif small.mode in ("I", "F"):
        small = to_8bit(small, wide)
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA" if "A" in small.mode else "RGB")
    shown = (fh, fw) if swaps(transform) else (fw, fh)
    return make_placeholder(small, *shown)


def is_wide(source_mode: str, first: Image.Image) -> bool:
    """16-bit data (I;16, or 32-bit I holding values over 255): scaled, not clipped, to 8 bits."""
    sixteen = source_mode.startswith("I;16")
    return sixteen or (first.mode == "I" and int(first.getextrema()[1]) > 255)  # type: ignore[arg-type]
