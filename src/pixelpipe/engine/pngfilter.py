"""PNG rows for the band writer (``bands.encode_png_bands``): the row filters (per row None,
Sub, Up, Average or Paeth, chosen by libpng's heuristic on sampled bytes; computed by Pillow
in C, Paeth by numpy where it is installed) and their deflate (zlib-ng, level 6, Z_RLE) in
pieces that end on a full flush."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import struct
import types
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PIL import Image, ImageChops

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt

    Bytes = npt.NDArray[np.uint8]

# zlib-ng (a dependency): the same deflate format and, with Z_RLE, the same bytes as zlib for
# ~35 % less CPU; without it (an install that skipped it) the standard zlib writes the same.
_deflate: types.ModuleType = zlib
with contextlib.suppress(ImportError):
    from zlib_ng import zlib_ng as _deflate

LEVEL = 6  # what the PNG format's save options ask of Pillow (level 6, Z_RLE)
_IDAT_CRC = zlib.crc32(b"IDAT")
Buffer = bytes | memoryview

_ABS = [min(v, 256 - v) for v in range(256)]  # |filtered byte| as a signed byte: PNG's cost
# Paeth is taken for a row only when its estimated cost is below this share of the best other
# filter's: on photographs it often wins by a little, where its CPU buys almost nothing
# (docs/PERFORMANCE.md); on smooth pictures it wins by far.
_PAETH_SHARE = (9, 10)
PAETH = 4
_PROBE_EVERY = 16  # rows: whether Paeth pays in a run is first estimated on every 16th row
_CHUNK = 64 << 10  # bytes numpy works through at once (its temporaries stay in the cache)


def png_filter(raw: bytes, stride: int, bpp: int) -> bytes:
    """Rows of ``raw`` with a PNG filter byte each: per row the filter whose output has the
    smallest sum of absolute (signed) bytes, libpng's heuristic, among None, Sub, Up,
    Average and, where numpy is installed, Paeth (taken only when it beats the best of the
    others by a tenth, ``_PAETH_SHARE``, and only in runs where it does so on a quarter of
    every 16th row, estimated by Pillow, so that numpy is imported only where Paeth pays:
    ``choose_filters``); a run's first row None or Sub, which do not look
    at the row above, so a run is independent of the rows before it. The costs are
    estimated on every 4th byte of each row (``_row_costs``), then each filter computed over
    full rows only for the rows it was chosen for: None to Average by Pillow in C on the
    bytes seen as a one-byte-per-pixel image (``_filtered``), Paeth by numpy
    (``_paeth_rows``). Without numpy the files are larger where Paeth pays (smooth
    pictures: +14 %), never different in their pixels."""
    return apply_filters(raw, stride, bpp, choose_filters(raw, stride, bpp))


@functools.cache
def _has_numpy() -> bool:
    """Whether numpy is installed (found, not imported: importing it costs ~110 ms of CPU and
    ~11 MB, paid only where Paeth pays)."""
    return importlib.util.find_spec("numpy") is not None


@functools.cache
def _numpy() -> types.ModuleType | None:
    """numpy, or None where it is not installed (the core install does not require it; the
    faces extra and the Lambda zip with faces have it): imported on first use only."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - the dev install has numpy
        return None
    return numpy


def choose_filters(raw: bytes, stride: int, bpp: int) -> list[int]:
    """The filter of each row of ``raw`` (see :func:`png_filter`): 0 None, 1 Sub, 2 Up,
    3 Average, 4 Paeth; the first row 0 or 1."""
    rows = len(raw) // stride
    if rows == 0:
        return []
    mv = memoryview(raw)
    # The first row against a row of zeros: its Sub is then exact, first pixel included.
    head = memoryview(bytes(stride) + bytes(mv[:stride]))
    first = _row_costs(head, 1, 1, stride, bpp)[0][0]
    choice = [1 if first[1] < first[0] else 0]
    if rows == 1:
        return choice
    costs, samples = _row_costs(mv, 1, rows - 1, stride, bpp)
    choice.extend(min(range(4), key=c.__getitem__) for c in costs)
    if rows < 3 or not _has_numpy():
        return choice
    share, whole = _PAETH_SHARE

    def wins(paeth: int, y: int) -> bool:  # y: the row (its costs are costs[y - 1])
        return paeth * whole < costs[y - 1][choice[y]] * share

    # Paeth's upper-left neighbours are ``stride + bpp`` bytes back: from the third row on.
    # Estimated on every 16th row first (its own samples, by Pillow), then on every row,
    # from the samples above, by numpy, only where it won on a quarter of those.
    probe = _paeth_probe(mv, 2, rows - 2, stride, bpp, _PROBE_EVERY)
    if 4 * sum(wins(p, 2 + _PROBE_EVERY * i) for i, p in enumerate(probe)) < max(1, len(probe)):
        return choice
    if _numpy() is None:  # found but not importable
        return choice
    for y, paeth in enumerate(_paeth_sampled(*samples), start=2):
        if wins(paeth, y):
            choice[y] = PAETH
    return choice


def apply_filters(raw: bytes, stride: int, bpp: int, choice: Sequence[int]) -> bytes:
    """Rows of ``raw``, each with its filter byte, under the filters ``choice`` gives (one
    per row, the first 0 or 1: see :func:`choose_filters`)."""
    rows = len(choice)
    if rows == 0:
        return b""
    mv = memoryview(raw)
    tags = [bytes((k,)) for k in range(5)]
    data: dict[int, tuple[int, memoryview, memoryview]] = {}
    if choice[0] == 1:
        head = memoryview(bytes(stride) + bytes(mv[:stride]))
        data[-1] = (0, memoryview(_filtered(1, head, 1, 1, stride, bpp).tobytes()), head[stride:])
    for k in set(choice[1:]) - {0, PAETH}:
        lo = choice.index(k, 1)
        hi = rows - list(choice[::-1]).index(k)
        body = memoryview(_filtered(k, mv, lo, hi - lo, stride, bpp).tobytes())
        data[k] = (lo, body, memoryview(_first_pixels(k, mv, lo, hi - lo, stride, bpp)))
    paeth: dict[int, memoryview] = {}  # row -> its Paeth bytes (first pixel included)
    for lo, hi in _spans_of(choice, PAETH):
        body = _paeth_rows(raw, lo, hi - lo, stride, bpp).data
        paeth.update((y, body[(y - lo) * stride : (y - lo + 1) * stride]) for y in range(lo, hi))
    parts: list[bytes | memoryview] = []
    for y, k in enumerate(choice):
        parts.append(tags[k])
        if k == 0:
            parts.append(mv[y * stride : (y + 1) * stride])
        elif y == 0:
            parts.append(data[-1][1])
        elif k == PAETH:
            parts.append(paeth[y])
        elif k == 2:
            lo, body, _ = data[k]
            parts.append(body[(y - lo) * stride : (y - lo + 1) * stride])
        else:  # Sub, Average: the first pixel apart (its left neighbour is 0, not the row above's)
            lo, body, col = data[k]
            at = y - lo
            parts.append(col[at * bpp : (at + 1) * bpp])
            parts.append(body[at * stride + bpp : (at + 1) * stride])
    return b"".join(parts)


def _spans_of(choice: Sequence[int], k: int) -> list[tuple[int, int]]:
    """The rows [lo, hi) of each unbroken stretch of filter ``k`` in ``choice``."""
    spans: list[tuple[int, int]] = []
    for y, c in enumerate(choice):
        if c != k:
            continue
        if spans and spans[-1][1] == y:
            spans[-1] = (spans[-1][0], y + 1)
        else:
            spans.append((y, y + 1))
    return spans


def _paeth_rows(raw: bytes, lo: int, n: int, stride: int, bpp: int) -> Bytes:
    """Rows [lo, lo + n) of ``raw`` (``lo`` >= 1) under Paeth, by numpy over the rows seen as
    one line of bytes: the left neighbour ``bpp`` bytes back, the row above ``stride``, the
    upper left ``stride + bpp`` (a row's first pixel apart: its left and upper-left are 0,
    so Paeth predicts it from above, as Up)."""
    np = _numpy()
    assert np is not None  # Paeth is chosen only with numpy
    arr = np.frombuffer(raw, np.uint8)
    at, end = lo * stride, (lo + n) * stride
    out: Bytes = np.empty(n * stride, np.uint8)
    _paeth(
        arr[at + bpp : end],
        arr[at : end - bpp],
        arr[at - stride + bpp : end - stride],
        arr[at - stride : end - stride - bpp],
        out[bpp:],
    )
    plain = arr[at:end].reshape(n, stride)[:, :bpp]
    above = arr[at - stride : end - stride].reshape(n, stride)[:, :bpp]
    np.subtract(plain, above, out=out.reshape(n, stride)[:, :bpp])
    return out


def _paeth(x: Bytes, a: Bytes, b: Bytes, c: Bytes, out: Bytes) -> None:
    """``out`` = x - Paeth(a, b, c), bytewise (a left, b above, c upper left; one-dimensional
    arrays), branch-free. Paeth predicts whichever of a, b, c is nearest p = a + b - c (ties:
    a, then b). With lo, hi = min(a, b), max(a, b) and c clamped into [lo, hi] (cc):
    d1 = cc - lo and d2 = hi - cc; the prediction is lo when 2 * d2 <= d1, else hi when
    2 * d1 <= d2, else cc (c itself when it lies strictly between a and b; outside, one of
    the first two holds). Checked against the PNG specification's formula over all 2^24
    (a, b, c). In chunks of ``_CHUNK`` bytes into scratch arrays made once: ~0.8 ns a byte,
    a third of the time of whole-array temporaries (each a fresh mapping of pages)."""
    np = _numpy()
    assert np is not None
    size = min(_CHUNK, len(x))
    lo_, hi_, cc_, half_ = (np.empty(size, np.uint8) for _ in range(4))
    to_lo_, to_hi_ = np.empty(size, bool), np.empty(size, bool)
    for start in range(0, len(x), size):
        end = min(len(x), start + size)
        k = end - start
        lo, hi, cc, half, to_lo, to_hi = (t[:k] for t in (lo_, hi_, cc_, half_, to_lo_, to_hi_))
        a_, b_ = a[start:end], b[start:end]
        np.minimum(a_, b_, out=lo)
        np.maximum(a_, b_, out=hi)
        np.maximum(c[start:end], lo, out=cc)
        np.minimum(cc, hi, out=cc)
        np.subtract(cc, lo, out=lo)  # d1
        np.subtract(hi, cc, out=hi)  # d2
        np.right_shift(lo, 1, out=half)
        np.less_equal(hi, half, out=to_lo)
        np.right_shift(hi, 1, out=half)
        np.less_equal(lo, half, out=to_hi)
        np.multiply(lo, to_lo, out=lo)
        np.multiply(hi, to_hi, out=hi)
        np.subtract(cc, lo, out=cc)
        np.add(cc, hi, out=cc)
        np.subtract(x[start:end], cc, out=out[start:end])


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
) -> tuple[list[tuple[int, ...]], tuple[Image.Image, Image.Image, Image.Image]]:
    """Per row of [lo, lo + n) (``lo`` >= 1), about the sum of |byte| (as signed bytes) under
    None, Sub, Up and Average: every 4th byte's (channel 0 of the rows seen as RGBA, no
    resampling), as up to 64 column means, summed (``_sums``); and the samples (the bytes,
    their left neighbours, the row above's)."""
    quarter = stride // 4

    def sample(at: int) -> Image.Image:
        if quarter < 16:
            return _view(mv[at:], stride, n)
        view = mv[at:]
        rgba = Image.frombuffer("RGBA", (quarter, n), view, "raw", "RGBA", stride, 1)  # type: ignore[arg-type]
        return rgba.getchannel(0)

    at = lo * stride
    plain, left, above = sample(at), sample(at - bpp), sample(at - stride)
    sums = [
        _sums(plain if k == 0 else _predict(k, plain, left, above), n, plain.width)
        for k in range(4)
    ]
    return list(zip(*sums, strict=True)), (plain, left, above)


def _sampled(stride: int) -> int:
    """How many bytes of a ``stride``-byte row ``_row_costs`` looks at."""
    return stride if stride // 4 < 16 else stride // 4


def _sums(filtered: Image.Image, rows: int, width: int) -> list[int]:
    """Per row of ``filtered`` (sampled bytes, ``width`` a row): its |bytes| as up to 64
    column means, summed (one scale for every filter)."""
    step = max(1, width // 64)
    means = filtered.point(_ABS).reduce((step, 1)).tobytes()
    cols = len(means) // rows
    return [sum(means[y * cols : (y + 1) * cols]) for y in range(rows)]


def _paeth_probe(mv: memoryview, lo: int, n: int, stride: int, bpp: int, every: int) -> list[int]:
    """``_row_costs``' estimate under Paeth, on the same bytes, for rows lo, lo + every, ...
    (``n // every`` of them; ``lo`` >= 2: the upper-left neighbours are ``stride + bpp``
    bytes back), by Pillow alone (``_paeth_image``): numpy is imported only where Paeth
    then pays."""
    rows, width = n // every, _sampled(stride)
    if rows == 0:
        return []

    def sample(at: int) -> Image.Image:  # as _row_costs samples, every ``every`` rows
        if width == stride:
            return _view(mv[at:], every * stride, rows, stride)
        rgba = ("RGBA", (width, rows), mv[at:], "raw", "RGBA", every * stride, 1)
        return Image.frombuffer(*rgba).getchannel(0)  # type: ignore[arg-type]

    at = lo * stride
    x, a, b, c = (sample(at - back) for back in (0, bpp, stride, stride + bpp))
    return _sums(_paeth_image(x, a, b, c), rows, width)


_HALF = [v >> 1 for v in range(256)]
_ZERO = [255] + [0] * 255  # 255 where a byte is 0


def _paeth_image(x: Image.Image, a: Image.Image, b: Image.Image, c: Image.Image) -> Image.Image:
    """``_paeth`` by Pillow's chops (``L`` images): x - Paeth(a, b, c). Slower than numpy
    (17 passes), for the small probe only. ``multiply`` by 0 or 255 keeps a byte or zeroes it
    (exactly); ``subtract`` clips at 0, so it is 0 where the first is not above the second."""
    lo, hi = ImageChops.darker(a, b), ImageChops.lighter(a, b)
    cc = ImageChops.darker(ImageChops.lighter(c, lo), hi)
    d1, d2 = ImageChops.subtract(cc, lo), ImageChops.subtract(hi, cc)
    to_lo = ImageChops.subtract(d2, d1.point(_HALF)).point(_ZERO)  # d2 <= d1 // 2
    to_hi = ImageChops.subtract(d1, d2.point(_HALF)).point(_ZERO)  # d1 <= d2 // 2
    down = ImageChops.subtract_modulo(cc, ImageChops.multiply(d1, to_lo))
    return ImageChops.subtract_modulo(
        x, ImageChops.add_modulo(down, ImageChops.multiply(d2, to_hi))
    )


def _paeth_sampled(plain: Image.Image, left: Image.Image, above: Image.Image) -> list[int]:
    """``_row_costs``' estimate under Paeth from its samples, for their rows but the first
    (a row's upper-left neighbours are the left ones of the row above)."""
    np = _numpy()
    assert np is not None
    width, rows = plain.size
    x, a, b = (np.asarray(im)[1:].reshape(-1) for im in (plain, left, above))
    c = np.asarray(left)[:-1].reshape(-1)
    residual = np.empty_like(x)
    _paeth(x, a, b, c, residual)
    return _sums(Image.fromarray(residual.reshape(rows - 1, width)), rows - 1, width)
