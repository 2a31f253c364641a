"""JPEG-from-JPEG area variants through libturbojpeg's transform API (a spike, not yet wired
into the engine: see docs/PERFORMANCE.md, "Areas in the DCT domain").

``tjTransform`` with ``TJXOP_NONE`` and a ``customFilter`` callback entropy-decodes the source
once and writes one JPEG per variant from its DCT coefficients: every block no area touches
keeps the source's exact coefficients (lossless, as ``jpegtran`` keeps them); the blocks an
area touches are overwritten with the coefficients libjpeg computes for the variant's pixels.
Those come from a small MCU-aligned crop of the variant encoded by Pillow with the source's
quantisation tables and sampling, read back with a ``TJXOPT_NOOUTPUT`` transform: the same
colour conversion, downsampling, DCT and quantisation as encoding the whole variant.

libturbojpeg (Debian ``libturbojpeg0``, TurboJPEG 2.x API) is loaded with ctypes when present;
:func:`library` is None otherwise. Every TurboJPEG error is a return code (``TurboError``),
never a process abort; warnings are errors (``TJFLAG_STOPONWARNING``) and progressive scans
are limited (``TJFLAG_LIMITSCANS``), so a corrupt or hostile file fails here and the caller
keeps the pixel path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

TJXOP_NONE = 0
TJXOPT_PERFECT = 1
TJXOPT_CROP = 4
TJXOPT_NOOUTPUT = 16
TJXOPT_PROGRESSIVE = 32
TJXOPT_COPYNONE = 64
TJFLAG_STOPONWARNING = 8192
TJFLAG_LIMITSCANS = 32768
_FLAGS = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS
_NAMES = ("libturbojpeg.so.0", "libturbojpeg.so")


class TurboError(Exception):
    """TurboJPEG refused or failed: the caller keeps the pixel path."""


class _Region(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("w", ctypes.c_int), ("h", ctypes.c_int)]


class _Transform(ctypes.Structure):
    pass


_Filter = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.POINTER(ctypes.c_short),
    _Region,
    _Region,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.POINTER(_Transform),
)
_Transform._fields_ = [
    ("r", _Region),
    ("op", ctypes.c_int),
    ("options", ctypes.c_int),
    ("data", ctypes.c_void_p),
    ("customFilter", _Filter),
]


@functools.cache
def library() -> ctypes.CDLL | None:
    """libturbojpeg, its transform functions typed, or None when it is not installed."""
    for name in (*_NAMES, ctypes.util.find_library("turbojpeg")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.tjInitTransform.restype = ctypes.c_void_p
            lib.tjInitTransform.argtypes = []
            lib.tjTransform.restype = ctypes.c_int
            lib.tjTransform.argtypes = [
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_ulong,
                ctypes.c_int,
                ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)),
                ctypes.POINTER(ctypes.c_ulong),
                ctypes.POINTER(_Transform),
                ctypes.c_int,
            ]
            lib.tjDestroy.argtypes = [ctypes.c_void_p]
            lib.tjFree.argtypes = [ctypes.POINTER(ctypes.c_ubyte)]
            lib.tjGetErrorStr2.restype = ctypes.c_char_p
            lib.tjGetErrorStr2.argtypes = [ctypes.c_void_p]
        except (OSError, AttributeError):
            continue
        return lib
    return None


Box = tuple[int, int, int, int]  # x, y, width, height
# Per transform: component -> block row -> [(first block column, 128 bytes per block)].
Blocks = dict[int, dict[int, list[tuple[int, bytes]]]]


def _transform(
    data: bytes, count: int, options: int, edit: Any, region: Box | None = None
) -> list[bytes]:
    """``count`` transforms of ``data`` (TJXOP_NONE, ``options``), ``edit`` called as the
    custom filter (coefficient row pointer, block row, blocks wide, component, transform)."""
    lib = library()
    if lib is None:
        raise TurboError("libturbojpeg is not installed")
    failed: list[BaseException] = []

    def callback(
        coeffs: Any, array: _Region, plane: _Region, comp: int, index: int, _t: Any
    ) -> int:
        try:
            edit(coeffs, array.y // 8, array.w // 8, comp, index)
        except BaseException as exc:  # never let an exception cross the C frames
            failed.append(exc)
            return -1
        return 0

    hook = _Filter(callback)  # kept alive until tjTransform returns
    transforms = (_Transform * count)()
    for t in transforms:
        t.op, t.options = TJXOP_NONE, options
        if edit is not None:
            t.customFilter = hook
        if region is not None:
            t.r.x, t.r.y, t.r.w, t.r.h = region
            t.options |= TJXOPT_CROP
    bufs = (ctypes.POINTER(ctypes.c_ubyte) * count)()
    sizes = (ctypes.c_ulong * count)()
    handle = lib.tjInitTransform()
    if not handle:
        raise TurboError("tjInitTransform failed")
    try:
        rc = lib.tjTransform(handle, data, len(data), count, bufs, sizes, transforms, _FLAGS)
        if rc != 0 or failed:
            why = lib.tjGetErrorStr2(handle) or b"?"
            raise TurboError(f"tjTransform: {why.decode(errors='replace')}") from (
                failed[0] if failed else None
            )
        if options & TJXOPT_NOOUTPUT:
            return []
        return [ctypes.string_at(bufs[i], sizes[i]) for i in range(count)]
    finally:
        for i in range(count):
            if bufs[i]:
                lib.tjFree(bufs[i])
        lib.tjDestroy(handle)


def read_coefficients(data: bytes) -> list[list[bytes]]:
    """Every component's quantised DCT coefficients, one bytes object per block row (64
    int16 per block, natural order, native byte order)."""
    rows: list[list[bytes]] = []

    def edit(coeffs: Any, row: int, wide: int, comp: int, _index: int) -> None:
        while len(rows) <= comp:
            rows.append([])
        rows[comp].append(ctypes.string_at(coeffs, wide * 128))

    _transform(data, 1, TJXOPT_NOOUTPUT, edit)
    return rows


def write_variants(
    data: bytes, variants: Sequence[Blocks], progressive: bool = False
) -> list[bytes]:
    """One JPEG per entry of ``variants``: ``data``'s coefficients with the given blocks
    replaced; no APPn/COM markers copied (``TJXOPT_COPYNONE``)."""
    options = TJXOPT_COPYNONE | (TJXOPT_PROGRESSIVE if progressive else 0)

    def edit(coeffs: Any, row: int, wide: int, comp: int, index: int) -> None:
        base = ctypes.addressof(coeffs.contents)
        for col, blocks in variants[index].get(comp, {}).get(row, ()):
            if col < 0 or col * 64 + len(blocks) // 2 > wide * 64:
                raise TurboError("a replaced block lies outside the component")
            ctypes.memmove(base + col * 128, blocks, len(blocks))

    return _transform(data, len(variants), options, edit)


def crop(data: bytes, box: Box) -> bytes:
    """The MCU-aligned ``box`` of ``data`` as a JPEG of its own, losslessly (its
    coefficients copied): decoded, its pixels equal the whole image's decode except within
    one chroma sample of the crop's edges (upsampling looks across them)."""
    return _transform(data, 1, TJXOPT_COPYNONE, None, box)[0]


@dataclass(frozen=True, slots=True)
class Sampling:
    """The source's components: (horizontal, vertical) sampling factors, and the MCU."""

    factors: tuple[tuple[int, int], ...]

    @property
    def mcu(self) -> tuple[int, int]:
        return 8 * max(h for h, _ in self.factors), 8 * max(v for _, v in self.factors)


def sampling_of(data: bytes) -> Sampling | None:
    """The SOF's sampling factors (baseline, extended or progressive Huffman), or None."""
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            n = data[at + 9]
            comps = data[at + 10 : at + 10 + 3 * n]
            return Sampling(tuple((comps[3 * i + 1] >> 4, comps[3 * i + 1] & 15) for i in range(n)))
        if marker == 0xDA:
            return None
        at += 2 + length
    return None


def aligned(box: Box, mcu: tuple[int, int], size: tuple[int, int]) -> Box:
    """``box`` widened to whole MCUs (clipped to the image)."""
    x, y, w, h = box
    mw, mh = mcu
    x0, y0 = x // mw * mw, y // mh * mh
    x1, y1 = min(size[0], -(-(x + w) // mw) * mw), min(size[1], -(-(y + h) // mh) * mh)
    return x0, y0, x1 - x0, y1 - y0


def area_blocks(
    crop: Image.Image,
    at: Box,
    hidden: Sequence[Box],
    sampling: Sampling,
    options: Mapping[str, Any],
) -> Blocks:
    """The blocks of the MCU-aligned box ``at`` that any of ``hidden`` touches, with the
    coefficients of ``crop`` (the variant's pixels of ``at``) as libjpeg encodes them with
    ``options`` (the source's quantisation tables and sampling)."""
    buf = io.BytesIO()
    crop.save(buf, "JPEG", **options)
    coeffs = read_coefficients(buf.getvalue())
    mw, mh = sampling.mcu
    out: Blocks = {}
    for comp, (h, v) in enumerate(sampling.factors):
        px_w, px_h = 8 * (mw // 8) // h, 8 * (mh // 8) // v  # pixels per block
        ox, oy = at[0] // px_w, at[1] // px_h  # the crop's first block in the component
        rows = out.setdefault(comp, {})
        for x, y, w, hh in hidden:
            bx0, bx1 = max(x, at[0]) // px_w, -(-min(x + w, at[0] + at[2]) // px_w)
            by0, by1 = max(y, at[1]) // px_h, -(-min(y + hh, at[1] + at[3]) // px_h)
            for by in range(by0, by1):
                line = coeffs[comp][by - oy]
                piece = line[(bx0 - ox) * 128 : (bx1 - ox) * 128]
                rows.setdefault(by, []).append((bx0, piece))
    return out
