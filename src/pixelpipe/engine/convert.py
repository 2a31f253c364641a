"""The small grid images converted to what the output format stores, and their ICC profile.

All of this happens on the grids (or, for hidden areas, on one copy per variant), never on a
full-size image built for the purpose.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageCms

from ..formats import OutputFormat

# Largest ICC profile copied into the outputs. Real ones, CMYK press profiles included, are
# far smaller; a JPEG, WebP or TIFF can carry many megabytes of "profile", which would
# otherwise be written again into every variant.
MAX_ICC_BYTES = 4 << 20

# Largest grid for which a palette image is built in pure Python (exact, no quantisation).
_PALETTE_MAX_PIXELS = 1 << 16


def to_output_mode(
    grids: Sequence[Image.Image],
    fmt: OutputFormat,
    sixteen: bool,
    wide: bool,
    icc: bytes | None,
) -> tuple[list[Image.Image], bytes | None]:
    """Convert the (small) grid images to what ``fmt`` stores; decide on the ICC profile."""
    work = grids[0].mode
    target = fmt.target_mode(work, sixteen)
    out: list[Image.Image] = []
    out_icc = icc
    for g in grids:
        if work == "CMYK" and target != "CMYK":
            g, out_icc = cmyk_to_rgb(g, icc)
        elif work in ("LA", "RGBA") and target in ("L", "RGB"):
            g = _flatten(g, target)
        elif work in ("I", "F") and target in ("L", "RGB"):
            g = to_8bit(g, wide)
            if target == "RGB":
                g = g.convert("RGB")
        elif g.mode != target:
            g = g.convert(target)
        if fmt.binary_alpha and g.mode == "RGBA":
            g = _binary_alpha(g)
        if fmt.palette_for(g.mode):
            g = exact_palette(g) or g
        out.append(g)
    if out_icc is not None and (
        len(out_icc) > MAX_ICC_BYTES or not _icc_matches(out_icc, out[0].mode)
    ):
        out_icc = None
    return out, out_icc


def _binary_alpha(g: Image.Image) -> Image.Image:
    """GIF has one transparent index: below half opacity is transparent, the rest opaque
    (Pillow would otherwise make every partly transparent pixel opaque)."""
    r, gr, b, a = g.split()
    return Image.merge("RGBA", (r, gr, b, a.point(lambda v: 255 if v >= 128 else 0)))


def cmyk_to_rgb(g: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(g, src, dst, outputMode="RGB")
            if converted is not None:
                return converted, None
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return g.convert("RGB"), None


def _flatten(g: Image.Image, target: str) -> Image.Image:
    rgba = g.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, rgba).convert(target)


def to_8bit(g: Image.Image, wide: bool) -> Image.Image:
    if g.mode == "I" and wide:  # 16-bit data: keep the top byte
        return g.point(lambda v: v * (1 / 256)).convert("L")
    return g.convert("L")  # 8-bit range I, and F: Pillow clips to 0..255


def exact_palette(g: Image.Image) -> Image.Image | None:
    """``g`` as an indexed image with exactly its colours, or None if it has over 256."""
    if g.width * g.height > _PALETTE_MAX_PIXELS:
        return None
    colors = g.getcolors(256)
    if colors is None:
        return None
    index = {c: i for i, (_, c) in enumerate(colors)}
    p = Image.new("P", g.size)
    p.putdata([index[c] for c in g.get_flattened_data()])
    flat: list[int] = []
    for _, c in colors:
        flat.extend(c)  # type: ignore[arg-type]
    p.putpalette(flat, rawmode=g.mode)
    return p


def _icc_matches(icc: bytes, mode: str) -> bool:
    space = icc[16:20] if len(icc) >= 20 else b""
    if mode in ("L", "LA", "I", "I;16", "F"):
        return space == b"GRAY"
    if mode == "CMYK":
        return space == b"CMYK"
    return space == b"RGB "
