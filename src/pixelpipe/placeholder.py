"""Placeholders: what a web page shows while an image loads, computed from a tiny copy of it.

:func:`make` takes the small, upright copy of the displayed image that the engine derives
from its one reduced decode (at most :data:`WORK_SIDE` pixels per side, see
:func:`work_size`) and returns a :class:`Placeholder` with

* ``blurhash`` -- the BlurHash string (woltapp/blurhash's algorithm: a DCT of the image in
  linear light, components chosen from the aspect ratio: 4x3 for 4:3 or 3:2, 4x2 for 16:9);
* ``thumbhash`` -- the ThumbHash (evanw/thumbhash's format: LPQ(A) DCT in sRGB, aspect ratio
  and alpha in its header), base64;
* ``data_uri`` -- ``data:image/png;base64,...`` of a tiny pixelated copy (16 px on its longer
  side, smaller if needed), at most :data:`MAX_DATA_URI` characters;
* ``color`` -- the average colour, ``#rrggbb`` (sRGB, weighted by opacity);
* ``width``, ``height`` -- the displayed image's size.

Both encoders are written here from the published algorithms rather than taken from a
package: the Python packages on PyPI are either pure Python and 4-20x slower on the same
input (they evaluate a cosine per pixel per term; bench/bench_placeholder.py), or C
extensions without wheels for Lambda's arm64 platform (woltapp's ``blurhash-python``). These
run the DCT as separable row and column passes (``sum(map(mul, ...))``, cosine tables cached)
over a 32-pixel copy for BlurHash and a 16-pixel one for ThumbHash: 1-2 ms for all four
fields. The tests decode their output with independent decoders and compare the encoders
with the reference ones.

One deliberate choice inside the ThumbHash format: its header stores the aspect ratio as
``7 / k`` (``5 / k`` with alpha) for a whole number ``k``. The reference encoder rounds
``7 / ratio`` to get ``k``, which can put the decoded ratio 12.5 % off (a 1.55:1 image decodes
as 1.75:1); this one picks the ``k`` whose ratio is nearest, so 1:1, 5:4, 4:3, 3:2, 16:10,
16:9 (and their portraits) all decode within 10 %. No ``k`` gets within 10 % of some ratios:
1.56-1.59:1, 1.95-2.12:1 and panoramas over 2.6:1. Any ThumbHash decoder reads the header the
same way.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from operator import mul
from typing import Any

from PIL import Image

# Longest side of the copy the placeholder is computed from. ThumbHash wants at most 100 px;
# its 7 luminance and BlurHash's 4 components need far fewer, and the cost grows with the
# square. Measured (bench/bench_placeholder.py): from 32 px, BlurHash decodes within a few
# levels (mean) of its 100-px self.
WORK_SIDE = 32
# ThumbHash keeps 4 bits per term: from a 16-px copy it decodes within ~1 level (mean) of
# its 100-px self (bench/bench_placeholder.py), at a quarter of the 32-px cost.
THUMBHASH_SIDE = 16
# Longest side of the data URI's image, and its limit in characters (the whole URI).
DATA_URI_SIDE = 16
MAX_DATA_URI = 1024
_DATA_URI_SIDES = (DATA_URI_SIDE, 12, 8, 4)  # tried in turn until the URI fits
# BlurHash components along the longer side (the shorter side gets fewer, by aspect ratio).
BLURHASH_COMPONENTS = 4

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The manifest's ``placeholder`` field."""

    blurhash: str
    thumbhash: str
    data_uri: str
    color: str
    width: int
    height: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def work_size(width: int, height: int) -> tuple[int, int]:
    """The size of the copy to compute from: ``width`` x ``height`` fitted in WORK_SIDE."""
    return fit(width, height, WORK_SIDE)


def fit(width: int, height: int, side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) so that its longer side is ``side``."""
    longer = max(width, height)
    if longer <= side:
        return width, height
    if width >= height:
        return side, max(1, _round(side * height / width))
    return max(1, _round(side * width / height)), side


def make(small: Image.Image, width: int, height: int) -> Placeholder:
    """The placeholder of an image displayed at ``width`` x ``height``, from ``small``: its
    upright copy, RGB or RGBA, at most WORK_SIDE px per side (see :func:`work_size`)."""
    if small.mode not in ("RGB", "RGBA"):
        raise ValueError(f"placeholder input must be RGB or RGBA, not {small.mode}")
    if max(small.size) > WORK_SIDE:
        raise ValueError(f"placeholder input {small.size} is over {WORK_SIDE} px per side")
    if small.mode == "RGBA" and small.getchannel("A").getextrema()[0] == 255:
        small = small.convert("RGB")  # opaque after all: no alpha anywhere
    opaque = small if small.mode == "RGB" else _on_white(small)
    nx, ny = blurhash_components(width, height)
    return Placeholder(
        blurhash=blurhash(opaque, nx, ny),
        thumbhash=base64.b64encode(
            thumbhash(_shrink(small, THUMBHASH_SIDE), width / height)
        ).decode("ascii"),
        data_uri=data_uri(small),
        color=average_color(small),
        width=width,
        height=height,
    )


# --------------------------------------------------------------------------------------------
# Average colour


def average_color(img: Image.Image) -> str:
    """``#rrggbb``: the mean sRGB colour, each pixel weighted by its opacity."""
    data = img.tobytes()
    if img.mode == "RGB":
        n = img.width * img.height
        r, g, b = (sum(data[c::3]) / n for c in range(3))
    else:
        alpha = data[3::4]
        total = sum(alpha)
        if total == 0:  # fully transparent: the colours as stored
            n = img.width * img.height
            r, g, b = (sum(data[c::4]) / n for c in range(3))
        else:
            r, g, b = (sum(map(mul, data[c::4], alpha)) / total for c in range(3))
    return "#" + "".join(f"{min(255, _round(v)):02x}" for v in (r, g, b))


def _shrink(img: Image.Image, side: int) -> Image.Image:
    size = fit(img.width, img.height, side)
    return img if size == img.size else img.resize(size, Image.Resampling.BOX)


def _on_white(img: Image.Image) -> Image.Image:
    bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, img).convert("RGB")


# --------------------------------------------------------------------------------------------
# BlurHash (https://github.com/woltapp/blurhash, "Algorithm.md")


def blurhash_components(width: int, height: int) -> tuple[int, int]:
    """4 components along the longer side, 4 x shorter/longer (rounded, at least 1) along the
    shorter: 4x4 square, 4x3 for 4:3 or 3:2, 4x2 for 16:9, 4x1 for 3:1 (README)."""
    n = BLURHASH_COMPONENTS
    if width >= height:
        return n, max(1, min(n, _round(n * height / width)))
    return max(1, min(n, _round(n * width / height))), n


_SRGB_TO_LINEAR = [
    v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    for v in (i / 255 for i in range(256))
]


def _linear_to_srgb(value: float) -> int:
    v = min(1.0, max(0.0, value))
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def blurhash(img: Image.Image, nx: int, ny: int) -> str:
    """The BlurHash of an RGB image with ``nx`` x ``ny`` components (1..9 each)."""
    if not (1 <= nx <= 9 and 1 <= ny <= 9):
        raise ValueError("BlurHash components must be 1..9")
    w, h = img.size
    data = img.tobytes()
    lin = _SRGB_TO_LINEAR
    channels = [[lin[v] for v in data[c::3]] for c in range(3)]
    cos_x = _cosines(nx, w, 0.0)
    cos_y = _cosines(ny, h, 0.0)
    # Separable DCT: per row and x-component first, then down the columns.
    rows = []
    for ch in channels:
        lines = [ch[y * w : y * w + w] for y in range(h)]
        rows.append([_project(lines, cos, k == 0) for k, cos in enumerate(cos_x[:nx])])
    scale = 1 / (w * h)
    factors: list[tuple[float, float, float]] = []
    for j in range(ny):
        for i in range(nx):
            norm = (1 if i == 0 and j == 0 else 2) * scale
            r, g, b = (norm * sum(map(mul, rows[c][i], cos_y[j])) for c in range(3))
            factors.append((r, g, b))
    dc, ac = factors[0], factors[1:]
    out = _base83((nx - 1) + (ny - 1) * 9, 1)
    if ac:
        actual_max = max(abs(v) for f in ac for v in f)
        quantised = max(0, min(82, math.floor(actual_max * 166 - 0.5)))
        maximum = (quantised + 1) / 166
        out += _base83(quantised, 1)
    else:
        maximum = 1.0
        out += _base83(0, 1)
    r, g, b = (_linear_to_srgb(v) for v in dc)
    out += _base83((r << 16) + (g << 8) + b, 4)
    for f in ac:
        qr, qg, qb = (max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5))) for v in f)
        out += _base83(qr * 19 * 19 + qg * 19 + qb, 2)
    return out


def _sign_pow(value: float, exp: float) -> float:
    return math.copysign(abs(value) ** exp, value)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i)) % 83] for i in range(1, length + 1))


# --------------------------------------------------------------------------------------------
# ThumbHash (https://github.com/evanw/thumbhash, "rgbaToThumbHash")


def thumbhash(img: Image.Image, aspect: float | None = None) -> bytes:
    """The ThumbHash of an RGB or RGBA image of at most 100 x 100 pixels.

    ``aspect`` (width / height) is the displayed image's, when ``img`` is a rounded copy.
    """
    w, h = img.size
    if w > 100 or h > 100:
        raise ValueError(f"{w}x{h} does not fit in 100x100")
    aspect = aspect or w / h
    n = w * h
    # Channels as (values, factor, offset): the value is factor * v + offset, so that
    # opaque images go through Pillow's colour matrix (bytes, in C) instead of Python.
    Channel = tuple[Sequence[float], float, float]
    if img.mode == "RGB":
        has_alpha = False
        # L = (r+g+b)/3, P = (r+g)/2 - b, Q = r - g, with P and Q shifted into 0..255.
        lpq = img.convert("RGB", matrix=_LPQ_MATRIX).tobytes()
        lum: Channel = (lpq[0::3], 1 / 255, 0.0)
        p_ch: Channel = (lpq[1::3], 2 / 255, -1.0)
        q_ch: Channel = (lpq[2::3], 2 / 255, -1.0)
    else:
        data = img.tobytes()
        alpha = [v / 255 for v in data[3::4]]
        total = sum(alpha)
        has_alpha = total < n
        premult = [[a * v / 255 for a, v in zip(alpha, data[c::4], strict=True)] for c in range(3)]
        avg = [sum(ch) / total if total else 0.0 for ch in premult]
        # Composite atop the average colour, as the reference does.
        red, green, blue = (
            [avg[c] * (1 - a) + p for a, p in zip(alpha, premult[c], strict=True)] for c in range(3)
        )
        lum = ([(x + y + z) / 3 for x, y, z in zip(red, green, blue, strict=True)], 1.0, 0.0)
        p_ch = ([(x + y) / 2 - z for x, y, z in zip(red, green, blue, strict=True)], 1.0, 0.0)
        q_ch = ([x - y for x, y in zip(red, green, strict=True)], 1.0, 0.0)

    l_limit = 5 if has_alpha else 7
    landscape = aspect > 1
    ratio = aspect if aspect >= 1 else 1 / aspect
    # The shorter side's count k, the one whose ratio l_limit / k is nearest (see the
    # module's docstring; the reference rounds l_limit / ratio instead).
    short = min(range(1, l_limit + 1), key=lambda k: abs(l_limit / k / ratio - 1))
    lx, ly = (l_limit, short) if landscape else (short, l_limit)

    l_dc, l_ac, l_scale = _thumb_channel(*lum, w, h, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _thumb_channel(*p_ch, w, h, 3, 3)
    q_dc, q_ac, q_scale = _thumb_channel(*q_ch, w, h, 3, 3)
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(landscape) << 15)
    )
    out = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    acs = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _thumb_channel(alpha, 1.0, 0.0, w, h, 5, 5)
        out.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        acs.append(a_ac)
    nibbles = [_round(15 * f) for ac in acs for f in ac]
    if len(nibbles) % 2:
        nibbles.append(0)
    out.extend(lo | (hi << 4) for lo, hi in zip(nibbles[::2], nibbles[1::2], strict=True))
    return bytes(out)


# RGB -> (L, P, Q) for Image.convert: L = (r+g+b)/3, P = (r+g)/2 - b, Q = r - g, the latter
# two halved and shifted by 127.5 into 0..255.
_LPQ_MATRIX = (1 / 3, 1 / 3, 1 / 3, 0.0, 0.25, 0.25, -0.5, 127.5, 0.5, -0.5, 0.0, 127.5)


def _thumb_channel(
    values: Sequence[float], factor: float, offset: float, w: int, h: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """DC, normalised AC terms (0..1) and their scale of the channel ``factor * values +
    offset``, in ThumbHash's triangular order. (A constant offset only moves the DC term:
    every other cosine sums to zero over the samples.)"""
    cos_x = _cosines(nx, w, 0.5)
    cos_y = _cosines(ny, h, 0.5)
    lines = [values[y * w : y * w + w] for y in range(h)]
    rows = [_project(lines, cos, k == 0) for k, cos in enumerate(cos_x[:nx])]
    norm = factor / (w * h)
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = norm * sum(map(mul, rows[cx], cos_y[cy]))
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f + offset
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale


# --------------------------------------------------------------------------------------------
# Data URI


def data_uri(img: Image.Image) -> str:
    """A PNG data URI of ``img`` shrunk to DATA_URI_SIDE px, at most MAX_DATA_URI chars."""
    uri = ""
    for side in _DATA_URI_SIDES:
        tiny = _shrink(img, side)
        buf = io.BytesIO()
        tiny.save(buf, "PNG", optimize=True)
        uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        if len(uri) <= MAX_DATA_URI:
            break
    return uri  # 4 x 4 RGBA is ~100 bytes: the last size always fits


# --------------------------------------------------------------------------------------------


def _project(lines: Sequence[Sequence[float]], cos: Sequence[float], ones: bool) -> list[float]:
    """Each line's dot product with ``cos``; ``ones``: it is cos(0), all ones: plain sums."""
    if ones:
        return [sum(line) for line in lines]
    return [sum(map(mul, line, cos)) for line in lines]


@lru_cache(maxsize=64)
def _cosines(count: int, size: int, offset: float) -> tuple[tuple[float, ...], ...]:
    """cos(pi * k * (x + offset) / size) for k < count, x < size."""
    return tuple(
        tuple(math.cos(math.pi * k * (x + offset) / size) for x in range(size))
        for k in range(count)
    )


def _round(v: float) -> int:
    """Round half up, as JavaScript's Math.round (the reference encoders') does."""
    return math.floor(v + 0.5)


__all__ = [
    "WORK_SIDE",
    "Placeholder",
    "average_color",
    "blurhash",
    "blurhash_components",
    "data_uri",
    "fit",
    "make",
    "thumbhash",
    "work_size",
]
