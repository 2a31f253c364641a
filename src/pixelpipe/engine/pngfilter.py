"""PNG rows for the band writer (``bands.encode_png_bands``): the row filters (per row None,
Sub, Up or Average, chosen by libpng's heuristic on sampled bytes and computed by Pillow in
C) and their deflate (zlib-ng, level 6, Z_RLE) in pieces that end on a full flush."""

from __future__ import annotations

import contextlib
import struct
import types
import zlib
from collections.abc import Sequence

from PIL import Image, ImageChops

# zlib-ng (a dependency): the same deflate format and, with Z_RLE, the same bytes as zlib for
# ~35 % less CPU; without it (an install that skipped it) the standard zlib writes the same.
_deflate: types.ModuleType = zlib
with contextlib.suppress(ImportError):
    from zlib_ng import zlib_ng as _deflate

LEVEL = 6  # what the PNG format's save options ask of Pillow (level 6, Z_RLE)
_IDAT_CRC = zlib.crc32(b"IDAT")
Buffer = bytes | memoryview

_ABS = [min(v, 256 - v) for v in range(256)]  # |filtered byte| as a signed byte: PNG's cost


def png_filter(raw: bytes, stride: int, bpp: int) -> bytes:
    """Rows of ``raw`` with a PNG filter byte each: per row the filter whose output has the
    smallest sum of absolute (signed) bytes, libpng's heuristic, among None, Sub, Up and
    Average (the first row: None or Sub, which do not look at the row above, so a run is
    independent of the rows before it). Paeth is left out: on scikit-image's photographs
    these four come within -1..+2 % of Pillow's files, Sub and Up alone within +4 %
    (docs/PERFORMANCE.md). Computed by Pillow in C, on the bytes seen as a one-byte-per-pixel
    image: the costs on every 4th byte of each row (``_row_costs``), then each filter over
    full rows only for the rows it was chosen for (``_filtered``)."""
    return apply_filters(raw, stride, bpp, choose_filters(raw, stride, bpp))


def choose_filters(raw: bytes, stride: int, bpp: int) -> list[int]:
    """The filter of each row of ``raw`` (see :func:`png_filter`): 0 None, 1 Sub, 2 Up,
    3 Average; the first row 0 or 1."""
    rows = len(raw) // stride
    if rows == 0:
        return []
    mv = memoryview(raw)
    # The first row against a row of zeros: its Sub is then exact, first pixel included.
    head = memoryview(bytes(stride) + bytes(mv[:stride]))
    first = _row_costs(head, 1, 1, stride, bpp)[0]
    choice = [1 if first[1] < first[0] else 0]
    if rows > 1:
        costs = _row_costs(mv, 1, rows - 1, stride, bpp)
        choice.extend(min(range(4), key=c.__getitem__) for c in costs)
    return choice


def apply_filters(raw: bytes, stride: int, bpp: int, choice: Sequence[int]) -> bytes:
    """Rows of ``raw``, each with its filter byte, under the filters ``choice`` gives (one
    per row, the first 0 or 1: see :func:`choose_filters`)."""
    rows = len(choice)
    if rows == 0:
        return b""
    mv = memoryview(raw)
    head = memoryview(bytes(stride) + bytes(mv[:stride]))
    tags = [bytes((k,)) for k in range(4)]
    data: dict[int, tuple[int, memoryview, memoryview]] = {}
    if choice[0] == 1:
        data[-1] = (0, memoryview(_filtered(1, head, 1, 1, stride, bpp).tobytes()), head[stride:])
    for k in set(choice[1:]) - {0}:
        lo = choice.index(k, 1)
        hi = rows - list(choice[::-1]).index(k)
        body = memoryview(_filtered(k, mv, lo, hi - lo, stride, bpp).tobytes())
        data[k] = (lo, body, memoryview(_first_pixels(k, mv, lo, hi - lo, stride, bpp)))
    parts: list[bytes | memoryview] = []
    for y, k in enumerate(choice):
        parts.append(tags[k])
        if k == 0:
            parts.append(mv[y * stride : (y + 1) * stride])
        elif y == 0:
            parts.append(data[-1][1])
        elif k == 2:
            lo, body, _ = data[k]
            parts.append(body[(y - lo) * stride : (y - lo + 1) * stride])
        else:  # Sub, Average: the first pixel apart (its left neighbour is 0, not the row above's)
            lo, body, col = data[k]
            at = y - lo
            parts.append(col[at * bpp : (at + 1) * bpp])
            parts.append(body[at * stride + bpp : (at + 1) * stride])
    return b"".join(parts)


def deflate_rows(raw: bytes, stride: int, bpp: int) -> tuple[bytes, int, int, int]:
    """Rows ``raw`` (``stride`` bytes each) PNG-filtered and deflated on their own, ending on
    a full flush: (raw deflate, adler a, adler b, filtered length)."""
    filtered = png_filter(raw, stride, bpp)
    comp = _deflate.compressobj(LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
    data = comp.compress(filtered) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = _deflate.adler32(filtered)
    return data, adler & 0xFFFF, adler >> 16, len(filtered)


def deflate_pieces(pieces: Sequence[Buffer]) -> list[bytes]:
    """Each of ``pieces`` deflated so that it can stand anywhere in a stream: ending on a
    full flush (no reference to what came before it)."""
    comp = _deflate.compressobj(LEVEL, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
    return [comp.compress(p) + comp.flush(zlib.Z_FULL_FLUSH) for p in pieces]


def adler32(data: bytes) -> int:
    """The adler-32 of ``data`` (zlib-ng's, when installed)."""
    value: int = _deflate.adler32(data)
    return value


def idat(data: bytes) -> tuple[bytes, bytes, bytes]:
    """An IDAT chunk of ``data`` in three pieces (length and type, ``data``, CRC): joined
    only into the files, ``data`` is copied once per file."""
    crc = _deflate.crc32(data, _IDAT_CRC)
    return struct.pack(">I", len(data)) + b"IDAT", data, struct.pack(">I", crc)


def _view(data: bytes | memoryview, stride: int, rows: int, width: int = 0) -> Image.Image:
    """``rows`` rows of ``stride`` bytes from the start of ``data`` as a one-byte-per-pixel
    image ``width`` (default: ``stride``) wide, without a copy (read-only). Pillow maps any
    buffer (its stubs name bytes only): a memoryview's slice is a view at an offset."""
    size = (width or stride, rows)
    return Image.frombuffer("L", size, data, "raw", "L", stride, 1)  # type: ignore[arg-type]


def _predict(k: int, plain: Image.Image, left: Image.Image, above: Image.Image) -> Image.Image:
    """Filter ``k`` (1 Sub, 2 Up, 3 Average) of ``plain``; ``left`` and ``above`` its bytes'
    neighbours. Average's floor((left + above) / 2): Pillow's blend at 0.5 computes
    left + 0.5 * (above - left) in float and truncates, which is exactly that (and twice as
    fast as ``ImageChops.add(..., scale=2.0)``)."""
    if k == 1:
        return ImageChops.subtract_modulo(plain, left)
    if k == 2:
        return ImageChops.subtract_modulo(plain, above)
    return ImageChops.subtract_modulo(plain, Image.blend(left, above, 0.5))


def _filtered(k: int, mv: memoryview, lo: int, n: int, stride: int, bpp: int) -> Image.Image:
    """Rows [lo, lo + n) of ``mv`` (``lo`` >= 1) under filter ``k`` (1..3), from views of
    ``mv`` itself: the row above is ``stride`` bytes back, the left neighbour ``bpp`` bytes
    back (for a row's first pixel that is the end of the row above: see ``_first_pixels``)."""
    at = lo * stride
    return _predict(
        k,
        _view(mv[at:], stride, n),
        _view(mv[at - bpp :], stride, n),
        _view(mv[at - stride :], stride, n),
    )


def _first_pixels(k: int, mv: memoryview, lo: int, n: int, stride: int, bpp: int) -> bytes:
    """The first ``bpp`` bytes of rows [lo, lo + n) under Sub (1) or Average (3), whose left
    neighbour there is 0; Up (2): empty (not needed)."""
    if k == 2:
        return b""
    plain = _view(mv[lo * stride :], stride, n, bpp)
    if k == 1:
        return plain.tobytes()
    above = _view(mv[(lo - 1) * stride :], stride, n, bpp)
    return _predict(3, plain, Image.new("L", plain.size), above).tobytes()


def _row_costs(
    mv: memoryview, lo: int, n: int, stride: int, bpp: int
) -> list[tuple[int, int, int, int]]:
    """Per row of [lo, lo + n) (``lo`` >= 1), about the sum of |byte| (as signed bytes) under
    None, Sub, Up and Average: every 4th byte's (channel 0 of the rows seen as RGBA, no
    resampling), as up to 64 column means, summed."""
    quarter = stride // 4

    def sample(at: int) -> Image.Image:
        if quarter < 16:
            return _view(mv[at:], stride, n)
        view = mv[at:]
        rgba = Image.frombuffer("RGBA", (quarter, n), view, "raw", "RGBA", stride, 1)  # type: ignore[arg-type]
        return rgba.getchannel(0)

    at = lo * stride
    plain, left, above = sample(at), sample(at - bpp), sample(at - stride)
    width = plain.width
    step = max(1, width // 64)
    sums = []
    for k in range(4):
        filtered = plain if k == 0 else _predict(k, plain, left, above)
        means = filtered.point(_ABS).reduce((step, 1)).tobytes()
        cols = len(means) // n
        sums.append([sum(means[y * cols : (y + 1) * cols]) for y in range(n)])
    return list(zip(*sums, strict=True))
