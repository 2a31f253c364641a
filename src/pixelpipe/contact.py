"""Contact sheet for ``pixelpipe demo``: each original beside its variants, labelled.

Pure Pillow. Every image is decoded from the bytes it is given (first frame, EXIF orientation
applied), fitted into a ``thumb`` x ``thumb`` box and composited onto a light checkerboard so
transparency shows. Bytes that cannot be decoded render as a grey "cannot display" box; bad
image data never raises. The same input always gives the same PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from PIL import Image, ImageDraw, ImageFont, ImageOps

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

PAD = 16  # sheet margin and gap between rows
GAP = 12  # gap between thumbnails in a row
BG = (250, 250, 250)
INK = (25, 25, 25)
MUTED = (85, 85, 85)
FRAME = (190, 190, 190)
BROKEN = (200, 200, 200)
CHECKER = ((236, 236, 236), (206, 206, 206))
CHECK = 8  # checkerboard square, in pixels
HEADER_SIZE, TITLE_SIZE, CAPTION_SIZE = 22, 16, 13
_HIGH_DEPTH = {"I", "F", "I;16", "I;16L", "I;16B", "I;16N"}


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One source image and its variants."""

    title: str  # e.g. the source key "street.jpg"
    original: bytes  # encoded source image
    variants: Sequence[tuple[str, bytes]]  # (label like "8x8", encoded variant image)
    note: str = ""  # e.g. "1600x1067 · 5 variants · 0.42 s" or a failure reason


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _fit(text: str, font: Font, width: int) -> str:
    """``text``, cut short with an ellipsis so that it is at most ``width`` pixels wide."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _decode(data: bytes, thumb: int) -> Image.Image | None:
    """First frame of ``data``, upright, as RGBA fitted into ``thumb`` x ``thumb``; None if bad."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft(None, (thumb, thumb))  # JPEG: decode at a reduced scale, much faster
            frame = ImageOps.exif_transpose(im)
            if frame.mode in _HIGH_DEPTH:  # stretch deep greyscale to 8 bits for display
                f = frame.convert("F")
                lo, hi = cast(tuple[float, float], f.getextrema())
                scale = 255.0 / (hi - lo or 1.0)
                frame = f.point(lambda v: (v - lo) * scale).convert("L")
            rgba = frame.convert("RGBA")
    except Exception:  # any undecodable, truncated or over-limit input: show a grey box
        return None
    w, h = rgba.size
    scale = min(thumb / w, thumb / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Enlarging (tiny grid variants) stays crisp; shrinking is smoothed.
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
    return rgba.resize(size, resample, reducing_gap=3.0)


def _checkerboard(size: tuple[int, int]) -> Image.Image:
    board = Image.new("RGBA", size, CHECKER[0])
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], CHECK):
        for x in range((y // CHECK) % 2 * CHECK, size[0], 2 * CHECK):
            draw.rectangle((x, y, x + CHECK - 1, y + CHECK - 1), fill=CHECKER[1])
    return board


def _cell(sheet: Image.Image, im: Image.Image | None, caption: str, box: tuple[int, ...]) -> None:
    """Draw ``im`` centred in ``box`` (x, y, width, height) with ``caption`` centred under it."""
    x, y, w, h = box
    draw = ImageDraw.Draw(sheet)
    if im is None:
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=BROKEN, outline=FRAME)
        draw.text((x + w // 2, y + h // 2), "cannot display", INK, _font(CAPTION_SIZE), "mm")
    else:
        ix, iy = x + (w - im.width) // 2, y + (h - im.height) // 2
        sheet.paste(Image.alpha_composite(_checkerboard(im.size), im).convert("RGB"), (ix, iy))
        draw.rectangle((ix - 1, iy - 1, ix + im.width, iy + im.height), outline=FRAME)
    font = _font(CAPTION_SIZE)
    draw.text((x + w // 2, y + h + 6), _fit(caption, font, w), INK, font, "mt")


def render_sheet(rows: Sequence[SheetRow], *, thumb: int = 200, title: str = "pixelpipe") -> bytes:
    """A PNG contact sheet: a ``title`` header, then one labelled row per :class:`SheetRow`."""
    if thumb < 32:
        raise ValueError(f"thumb must be at least 32 pixels, got {thumb}")
    header_h, label_h, caption_h = HEADER_SIZE + 18, TITLE_SIZE + 10, CAPTION_SIZE + 12
    decoded = [
        [(c, _decode(d, thumb)) for c, d in [("original", r.original), *r.variants]] for r in rows
    ]
    # A row is as tall as its tallest thumbnail, so rows of landscape images stay compact.
    box_hs = [max(im.height if im else thumb for _, im in cells) for cells in decoded]
    cols = max((len(cells) for cells in decoded), default=1)
    text_w = [_font(HEADER_SIZE).getlength(title)]
    text_w += [_font(TITLE_SIZE).getlength(f"{r.title}   {r.note}") for r in rows]
    width = max(2 * PAD + cols * thumb + (cols - 1) * GAP, 2 * PAD + int(max(text_w)) + 1)
    height = PAD + header_h + sum(label_h + h + caption_h + PAD for h in box_hs)
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), title, fill=INK, font=_font(HEADER_SIZE), anchor="lt")
    y = PAD + header_h
    for row, cells, box_h in zip(rows, decoded, box_hs, strict=True):
        draw.line((PAD, y - PAD // 2, width - PAD, y - PAD // 2), fill=FRAME)
        draw.text((PAD, y), row.title, fill=INK, font=_font(TITLE_SIZE), anchor="lt")
        if row.note:
            nx = PAD + _font(TITLE_SIZE).getlength(row.title + "   ")
            draw.text((nx, y), row.note, fill=MUTED, font=_font(TITLE_SIZE), anchor="lt")
        for i, (caption, im) in enumerate(cells):
            _cell(sheet, im, caption, (PAD + i * (thumb + GAP), y + label_h, thumb, box_h))
        y += label_h + box_h + caption_h + PAD
    buf = io.BytesIO()
    sheet.save(buf, "PNG")
    return buf.getvalue()
