"""Hidden-area variants written together: what no area touches is encoded once.

Every variant of a redacted image is the same full-size frame with a different patch pasted
over each area. Split the frame into horizontal *bands*: the rows an area touches (the union
over all variants, widened to the codec's row unit) and the rows between them, which are the
source's in every variant. Each writer here encodes the shared rows once and, per variant,
only its bands, then assembles every variant's file from the pieces:

* ``encode_jpeg_bands``: one libjpeg encode (through Pillow) of a stack holding every distinct
  MCU row once (the other variants' band rows, then the frame with the first variant's
  patches) with a restart marker after every MCU row; the entropy-coded segments are split
  at the markers and each variant's file is its header (one set of optimised Huffman
  tables, the caller's quantisation tables and metadata) and its segments in picture order.
  The decoded pixels are those of encoding each full variant with the same options: restart
  markers reset the DC prediction and libjpeg's colour conversion and chroma downsampling
  never look across an MCU row.
* ``encode_png_bands``: each run of rows filtered (per row, see ``pngfilter.png_filter``)
  and deflated on its own (zlib-ng), ending on a full flush, so the compressed runs
  concatenate; the shared runs are compressed once, the zlib checksum is combined
  arithmetically. In a band, too, the columns no area touches are filtered and compressed
  once, only the areas' columns per variant (``_png_band``). Lossless: the decoded pixels
  are the variant's exactly.

Both return None when they do not apply (a mode, option or size they do not handle); the
caller then encodes each variant whole.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import EncodeError
from ..formats import OutputFormat
from ..settings import EngineSettings
from .blocks import (
    _adler_combine,
    _chunk,
    _jpeg_mcu_height,
    _jpeg_unhandled,
    _split_jpeg,
    jpeg_file,
    save_bytes,
    with_height,
)
from .convert import _PALETTE_MAX_PIXELS, to_output_mode
from .encode import Output, save_kwargs
from .parallel import Runner, join_threads, run_threads
from .pngfilter import (
    LEVEL,
    Buffer,
    adler32,
    apply_filters,
    choose_filters,
    deflate_pieces,
    deflate_rows,
    idat,
)

Box = tuple[int, int, int, int]  # x, y, width, height
# Called once the frame's pixels are no longer needed (see encode_together).
Release = Callable[[], None] | None
# One variant's areas, in paint order: (box, the hidden pixels of that box, in the frame's mode).
Patches = Sequence[tuple[Box, Image.Image]]

# PNG: mode -> (raw mode in PNG byte order, bytes per pixel, colour type, bit depth).
_PNG_MODES = {
    "L": ("L", 1, 0, 8),
    "LA": ("LA", 2, 4, 8),
    "RGB": ("RGB", 3, 2, 8),
    "RGBA": ("RGBA", 4, 6, 8),
    "I;16": ("I;16B", 2, 0, 16),
}
# Below this, variants are encoded whole: the four filters here came within -1..+3 % of
# Pillow's files from 2 MP up, but up to +5.5 % on a dithered 0.1 MP image (Pillow's Paeth
# filter), and a small image costs little to encode five times.
_PNG_MIN_PIXELS = 1 << 20
_PNG_RUN_ROWS = 128  # shared rows are compressed in runs of this many: bounded memory, threads
_PNG_SHARE_MIN_ROW = 4096  # bytes a row: from there a band's columns outside the areas are shared
_JPEG_MAX_SIDE = 65500
_IEND = _chunk(b"IEND", b"")


@dataclass(frozen=True, slots=True)
class _Layout:
    """The frame's rows in units of ``unit`` rows: which are shared, which are bands."""

    height: int
    unit: int
    bands: list[tuple[int, int]]  # [start, end) in units, disjoint, sorted

    @property
    def units(self) -> int:
        return math.ceil(self.height / self.unit)

    def runs(self) -> list[tuple[int, int, bool]]:
        """(start, end, is_band) in units, covering the frame top to bottom."""
        out: list[tuple[int, int, bool]] = []
        at = 0
        for start, end in self.bands:
            if start > at:
                out.append((at, start, False))
            out.append((start, end, True))
            at = end
        if at < self.units:
            out.append((at, self.units, False))
        return out

    def rows(self, start: int, end: int) -> tuple[int, int]:
        """Pixel rows of units [start, end), clipped to the frame."""
        return start * self.unit, min(self.height, end * self.unit)


def encode_together(
    frame: Image.Image,
    variants: Sequence[Patches],
    out: Output,
    convert: tuple[bool, bool, bytes | None],
    threads: int = 1,
    release: Release = None,
    lean_over: int = 1 << 62,
    run: Runner = run_threads,
) -> list[bytes] | None:
    """Every variant of one single-frame image (``frame`` and ``variants``' patches in the
    work mode) in ``out``'s format, or None when no band writer applies: the caller then
    encodes each variant whole. ``convert`` is (16-bit source, wide gamut, ICC profile).

    ``release``: called as soon as the writer no longer needs ``frame``'s pixels (they are in
    its stack or compressed runs), so that the caller can free them before the encode holds
    its own buffers; once called, a writer that cannot finish raises ``EncodeError`` rather
    than returning None (the caller has nothing left to encode whole). ``lean_over``: the
    bytes over which a writer takes its leanest way (JPEG: no stack, see
    :func:`encode_jpeg_bands`). ``run``: the engine's pool (``Hooks.run``), on which a writer
    spreads its independent pieces over ``threads`` threads."""
    writer = BAND_WRITERS.get(out.fmt.block_writer or "")
    if writer is None:
        return None
    fmt = out.fmt
    if fmt.palette and frame.width * frame.height <= _PALETTE_MAX_PIXELS:
        return None  # the whole variant may be written as a palette image: not here
    fmt = dataclasses.replace(fmt, palette=False)
    sixteen, wide, icc = convert
    # Converting is pixel by pixel (palettes excepted, above): converting the frame once
    # and each patch gives the pixels of converting each variant whole.
    (ready,), out_icc = to_output_mode([frame], fmt, sixteen, wide, icc)
    patches = [
        [(box, to_output_mode([p], fmt, sixteen, wide, icc)[0][0]) for box, p in v]
        for v in variants
    ]
    ready.info = {}
    if release is not None and ready is not frame:
        outer = release

        def release_both() -> None:
            ready.close()
            outer()

        release = release_both
    return writer(ready, patches, _Writing(out, out_icc, threads, release, lean_over, run))


@dataclass(frozen=True, slots=True)
class _Writing:
    """What a band writer is given beside the frame and the patches (see encode_together)."""

    out: Output
    icc: bytes | None
    threads: int
    release: Release
    lean_over: int
    run: Runner


def _jpeg_writer(
    frame: Image.Image, variants: Sequence[Patches], w: _Writing
) -> list[bytes] | None:
    out = w.out
    kwargs = save_kwargs(out.fmt, out.settings, w.icc, out.meta, frame.mode)
    kwargs.update(out.fmt.format_kwargs([frame], out.timing, out.meta))
    return encode_jpeg_bands(frame, variants, kwargs, w.release, w.lean_over)


def _png_writer(frame: Image.Image, variants: Sequence[Patches], w: _Writing) -> list[bytes] | None:
    out = w.out
    if out.meta or out.settings.encoder_options:
        return None  # kept metadata or the user's own PNG options: Pillow writes those
    if frame.width * frame.height < _PNG_MIN_PIXELS:
        return None  # small: cheap to encode whole, where Pillow's Paeth filter pays most
    return encode_png_bands(frame, variants, w.icc, w.threads, w.release, w.run)


BandWriter = Callable[[Image.Image, Sequence[Patches], _Writing], list[bytes] | None]
BAND_WRITERS: Mapping[str, BandWriter] = {"jpeg-mcu-rows": _jpeg_writer, "png-rows": _png_writer}


def together_bytes(
    fmt: OutputFormat,
    settings: EngineSettings,
    frames: int,
    size: tuple[int, int],
    per_output: int,
) -> tuple[int, int] | None:
    """What :func:`encode_together` holds beside the frame and the finished files, as far
    as the header tells: (bytes whatever the thread count, bytes per thread), or None when
    it would not apply. ``per_output``: one output's estimated size."""
    writer = fmt.block_writer or ""
    width, height = size
    if frames != 1 or writer not in BAND_WRITERS:
        return None
    if fmt.palette and width * height <= _PALETTE_MAX_PIXELS:
        return None
    return _TOGETHER_BYTES[writer](settings, width, height, per_output)


def _jpeg_bytes(
    settings: EngineSettings, width: int, height: int, per_output: int
) -> tuple[int, int] | None:
    # Lean (the caller's budget decides, see encode_jpeg_bands): the frame is changed in
    # place and encoded without a stack; pieces of ~8 MiB and one output's bytes beside it.
    return (16 << 20) + 2 * per_output, 0


def _png_bytes(
    settings: EngineSettings, width: int, height: int, per_output: int
) -> tuple[int, int] | None:
    if settings.keep_metadata or settings.encoder_options or width * height < _PNG_MIN_PIXELS:
        return None
    # The compressed runs (about one output) beside the files; per thread one run of rows
    # at up to 8 bytes a pixel (RGBA or 16-bit) and its filtered candidates (~6 copies).
    return per_output, 6 * _PNG_RUN_ROWS * width * 8


_TOGETHER_BYTES: Mapping[str, Callable[[EngineSettings, int, int, int], tuple[int, int] | None]] = {
    "jpeg-mcu-rows": _jpeg_bytes,
    "png-rows": _png_bytes,
}


def band_layout(boxes: Sequence[Box], height: int, unit: int) -> _Layout:
    """The rows any of ``boxes`` touches, widened to whole ``unit``-row units and merged."""
    spans = sorted((y // unit, math.ceil((y + h) / unit)) for _, y, _, h in boxes if h > 0)
    bands: list[tuple[int, int]] = []
    for start, end in spans:
        if bands and start <= bands[-1][1]:
            bands[-1] = (bands[-1][0], max(bands[-1][1], end))
        else:
            bands.append((start, end))
    return _Layout(height, unit, bands)


def band_image(
    frame: Image.Image,
    patches: Patches,
    top: int,
    bottom: int,
    left: int = 0,
    right: int | None = None,
) -> Image.Image:
    """Rows [top, bottom) (columns [left, right), default all) of ``frame`` with the patches
    pasted in order, each clipped to them (a band may be cut into pieces of a few rows)."""
    right = frame.width if right is None else right
    band = frame.crop((left, top, right, bottom))
    for (x, y, w, h), patch in patches:
        if y < bottom and y + h > top and x < right and x + w > left:
            band.paste(patch, (x - left, y - top))
    return band


def _check(frame: Image.Image, variants: Sequence[Patches]) -> bool:
    """Every patch is in the frame's mode and exactly its box's size."""
    for patches in variants:
        for (x, y, w, h), patch in patches:
            if patch.mode != frame.mode or patch.size != (w, h) or w <= 0 or h <= 0:
                return False
            if x < 0 or y < 0 or x + w > frame.width or y + h > frame.height:
                return False
    return True


def encode_jpeg_bands(
    frame: Image.Image,
    variants: Sequence[Patches],
    options: Mapping[str, Any],
    release: Release = None,
    lean_over: int = 1 << 62,
) -> list[bytes] | None:
    """Baseline JPEG of each variant (``frame`` with its patches), or None (see module).
    With ``release``, a stack over ``lean_over`` bytes is not built: the variants are
    written the lean way (:func:`_encode_jpeg_lean`)."""
    if frame.mode not in ("L", "RGB", "CMYK") or _jpeg_unhandled(options):
        return None
    if options.get("smooth"):
        return None  # libjpeg's smoothing looks across MCU rows
    if not _check(frame, variants):
        return None
    kwargs = {**options, "restart_marker_rows": 1, "restart_marker_blocks": 0}
    mcu_h = _jpeg_mcu_height(frame.mode, kwargs)
    if mcu_h is None:
        return None
    layout = band_layout([box for v in variants for box, _ in v], frame.height, mcu_h)
    if release is not None and _stack_bytes(layout, len(variants), frame.width) > lean_over:
        return _encode_jpeg_lean(frame, variants, kwargs, layout, release)
    band_units = sum(end - start for start, end in layout.bands)
    extra = band_units * (len(variants) - 1)  # MCU rows of the other variants' bands
    total = extra + layout.units
    if total * mcu_h > _JPEG_MAX_SIDE:
        return None
    stack = _jpeg_stack(frame, variants, layout, extra)
    height = frame.height
    if release is not None:  # every pixel needed is in the stack now
        release()
    parsed = _split_jpeg(save_bytes(stack, "JPEG", **kwargs))
    del stack
    if parsed is None or len(parsed[2]) != total:
        if release is not None:
            raise EncodeError("the JPEG band writer could not split its own file")
        return None
    header, sof_height_at, segments = parsed
    head = with_height(header, sof_height_at, height)
    return [
        jpeg_file(head, [segments[k] for k in rows])
        for rows in _jpeg_order(layout, len(variants), extra)
    ]


def _jpeg_stack(
    frame: Image.Image, variants: Sequence[Patches], layout: _Layout, extra: int
) -> Image.Image:
    """The image encoded once: on top, each band of the variants after the first (MCU rows,
    see ``_jpeg_order``), then the whole frame with the first variant's patches. The frame
    goes last and whole (one copy, no crops), so libjpeg pads its short last MCU row, if any,
    as it pads the variant's own picture."""
    mcu_h = layout.unit
    top = extra * mcu_h
    stack = Image.new(frame.mode, (frame.width, top + frame.height), None)  # all pasted over
    at = 0
    for start, end in layout.bands:
        y0, y1 = layout.rows(start, end)
        for patches in variants[1:]:
            _paste_padded(stack, band_image(frame, patches, y0, y1), at, (end - start) * mcu_h)
            at += (end - start) * mcu_h
    stack.paste(frame, (0, top))
    for (x, y, _, _), patch in variants[0] if variants else ():
        stack.paste(patch, (x, top + y))
    return stack


def _jpeg_order(layout: _Layout, count: int, extra: int) -> list[list[int]]:
    """Per variant, the stack MCU row of each of its MCU rows (see ``_jpeg_stack``)."""
    order = [list(range(extra, extra + layout.units)) for _ in range(count)]
    at = 0
    for start, end in layout.bands:
        for i in range(1, count):
            order[i][start:end] = range(at, at + end - start)
            at += end - start
    return order


def _stack_bytes(layout: _Layout, variants: int, width: int) -> int:
    """What building the stack holds beside the frame: the stack (the frame's rows, and
    every band again per variant but one; RGB as RGBX) and one band's rows while it is
    pasted in, with a tenth more for the allocator."""
    bands = sum(end - start for start, end in layout.bands)
    longest = max((end - start for start, end in layout.bands), default=0)
    rows = (layout.units + bands * (variants - 1) + longest) * layout.unit
    return rows * width * 4 * 11 // 10


def _encode_jpeg_lean(
    frame: Image.Image,
    variants: Sequence[Patches],
    kwargs: Mapping[str, Any],
    layout: _Layout,
    release: Callable[[], None],
) -> list[bytes] | None:
    """Every variant in the frame's memory and a few MiB: the first variant's patches pasted
    into ``frame`` itself (which is then encoded whole), every other variant's bands encoded
    a few MCU rows at a time. The pieces are encoded separately, so libjpeg's standard
    Huffman tables replace optimised ones (the same pixels, files a few per cent larger):
    with a restart marker after every MCU row, the entropy-coded segments of separate
    encodes with the same tables, quantisation and sampling concatenate. ``frame`` is
    changed, then released."""
    boxes = [[box for box, _ in v] for v in variants]
    if any(b != boxes[0] for b in boxes):
        return None  # every variant must cover the same boxes (the areas, at its size)
    kwargs = {**kwargs, "optimize": False}
    for box, patch in variants[0]:
        frame.paste(patch, box[:2])
    parsed = _split_jpeg(save_bytes(frame, "JPEG", **kwargs))
    if parsed is None or len(parsed[2]) != layout.units:
        raise EncodeError("the JPEG band writer could not split its own file")
    header, _, shared = parsed
    unit, width = layout.unit, frame.width
    step = max(1, (8 << 20) // max(1, 4 * width * unit))  # MCU rows per piece: ~8 MiB
    files = [jpeg_file(header, shared)]
    for patches in variants[1:]:
        segments = list(shared)
        for start, end, is_band in layout.runs():
            for first in range(start, end, step) if is_band else ():
                top, bottom = layout.rows(first, min(end, first + step))
                piece = band_image(frame, patches, top, bottom)
                got = _split_jpeg(save_bytes(piece, "JPEG", **kwargs))
                if got is None or len(got[2]) != min(end, first + step) - first:
                    raise EncodeError("the JPEG band writer could not split its own file")
                segments[first : min(end, first + step)] = got[2]
        files.append(jpeg_file(header, segments))
    release()
    return files


def _paste_padded(stack: Image.Image, piece: Image.Image, y: int, height: int) -> None:
    """``piece`` into ``stack`` at row ``y``, its last row repeated down to ``height`` rows.

    Only the frame's last MCU row can be short, and only when an area reaches into it does it
    come here (each variant has its own, and only one can be the stack's last). libjpeg would
    pad it the same way for luma (the last pixel row repeated), so luma is exact; subsampled
    chroma it pads by repeating the last *downsampled* row, an average of the last two pixel
    rows, where this pads with the last row's: the decoder's chroma upsampling of the last
    visible rows then differs slightly from encoding the variant whole (measured in
    tests/test_area_encode.py, and as close to the source).
    """
    stack.paste(piece, (0, y))
    if piece.height < height:
        last = piece.crop((0, piece.height - 1, piece.width, piece.height))
        stack.paste(last.resize((piece.width, height - piece.height)), (0, y + piece.height))


# One run of rows compressed: its IDAT chunk in three pieces (see _idat), the adler-32 (a, b)
# of its filtered bytes and their length.
_Run = tuple[tuple[bytes, bytes, bytes], int, int, int]


def encode_png_bands(
    frame: Image.Image,
    variants: Sequence[Patches],
    icc: bytes | None = None,
    threads: int = 1,
    release: Release = None,
    run: Runner = run_threads,
) -> list[bytes] | None:
    """PNG of each variant (``frame`` with its patches), or None (see module). The runs are
    compressed, then the files copied together (``join_threads``: allocated in this
    thread), on ``run``'s pool over ``threads`` threads (zlib-ng, Pillow's chops and
    ``ctypes.memmove`` release the GIL)."""
    if frame.mode not in _PNG_MODES or not _check(frame, variants):
        return None
    rawmode, bpp, color_type, depth = _PNG_MODES[frame.mode]
    boxes = sorted({box for v in variants for box, _ in v})
    layout = band_layout(boxes, frame.height, 1)
    jobs: list[tuple[int, int, bool]] = []  # (top, bottom, in a band)
    step = _PNG_RUN_ROWS  # bands too: a face's band is thousands of rows at 100 MP
    for start, end, is_band in layout.runs():
        jobs.extend((y, min(end, y + step), is_band) for y in range(start, end, step))

    def compress(k: int) -> list[_Run]:
        top, bottom, is_band = jobs[k]
        if is_band:
            return _png_band(frame, variants, boxes, top, bottom, (rawmode, bpp))
        return [_png_run(frame.crop((0, top, frame.width, bottom)), rawmode, bpp)]

    done: list[list[_Run]] = run(compress, len(jobs), threads)
    width, height = frame.size
    if release is not None:  # every row is compressed now
        release()
    head = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))]
    if icc:
        head.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    head.append(_chunk(b"IDAT", b"\x78\x9c"))  # the zlib header
    # A shared run is one _Run for every variant; a band's, one per variant.
    pieces = [[r[v] if len(r) > 1 else r[0] for r in done] for v in range(len(variants))]
    return join_threads([_png_file(head, p) for p in pieces], threads, run)


def _png_run(rows: Image.Image, rawmode: str, bpp: int) -> _Run:
    """``rows`` filtered and compressed on their own, one IDAT chunk."""
    data, a, b, length = deflate_rows(rows.tobytes("raw", rawmode), rows.width * bpp, bpp)
    return idat(data), a, b, length


def _png_band(
    frame: Image.Image,
    variants: Sequence[Patches],
    boxes: Sequence[Box],
    top: int,
    bottom: int,
    raw: tuple[str, int],
) -> list[_Run]:
    """Rows [top, bottom) of a band, one _Run per variant. What no box touches is the same
    in every variant: the columns outside the boxes, but for the pixel right of each (Sub,
    Average and Paeth read their left neighbour, Up, Average and Paeth the row above, which
    is the band's, or for the run's first row, filtered None or Sub, none). Those columns are
    filtered and compressed once, on the rows with every box blanked (zeros), which also
    choose each row's filter: nothing a box hides, in any variant, decides a shared byte or
    a filter. Per variant only the boxes' columns (``_spans``) are filtered, with those
    filters, and compressed; the pieces end on full flushes and are interleaved row by row.
    Where the boxes' columns are most of the row, or the rows are short (each piece ends
    a deflate block: ~20-40 bytes a row, +4..14 % on a 330-px-wide band), each variant is
    compressed whole."""
    rawmode, bpp = raw
    width, rows = frame.width, bottom - top
    touching = [b for b in boxes if b[1] < bottom and b[1] + b[3] > top]
    spans = _spans(touching, width)
    if (
        len(variants) < 2
        or width * bpp < _PNG_SHARE_MIN_ROW
        or 2 * sum(end - start for start, end in spans) > width
    ):
        return [_png_run(band_image(frame, v, top, bottom), rawmode, bpp) for v in variants]
    blank = frame.crop((0, top, width, bottom))
    for x, y, w, h in touching:
        y0, y1 = max(y, top), min(y + h, bottom)
        blank.paste(Image.new(frame.mode, (w, y1 - y0)), (x, y0 - top))
    stride = width * bpp
    plain = blank.tobytes("raw", rawmode)
    del blank
    choice = choose_filters(plain, stride, bpp)
    shared = memoryview(apply_filters(plain, stride, bpp, choice))
    del plain
    # The variants' pieces in the filtered rows (after each row's filter byte), row by row.
    cuts = [(r * (stride + 1) + 1 + s * bpp, e - s) for r in range(rows) for s, e in spans]
    gaps, at = [], 0
    for offset, length in cuts:
        gaps.append(shared[at:offset])
        at = offset + length * bpp
    gaps.append(shared[at:])
    packed_gaps = deflate_pieces(gaps)
    out = []
    for patches in variants:
        own = []
        for start, end in spans:
            lead = 1 if start else 0  # the left neighbour of the span's first pixel
            piece = band_image(frame, patches, top, bottom, start - lead, end)
            line = (end - start + lead) * bpp
            filtered = memoryview(apply_filters(piece.tobytes("raw", rawmode), line, bpp, choice))
            own.append((filtered, line + 1, 1 + lead * bpp))
        mine = [f[r * n + skip : (r + 1) * n] for r in range(rows) for f, n, skip in own]
        packed = deflate_pieces(mine)
        filtered_rows = b"".join(_interleave(gaps, mine))
        adler = adler32(filtered_rows)
        data = b"".join(_interleave(packed_gaps, packed))
        out.append((idat(data), adler & 0xFFFF, adler >> 16, len(filtered_rows)))
    return out


def _spans(boxes: Sequence[Box], width: int) -> list[tuple[int, int]]:
    """The columns [start, end) whose filtered bytes ``boxes`` decide: each box's and the
    one right of it, merged."""
    spans: list[tuple[int, int]] = []
    for x, _, w, _ in sorted(boxes):
        end = min(width, x + w + 1)
        if spans and x <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((x, end))
    return spans


def _interleave(first: Sequence[Buffer], second: Sequence[Buffer]) -> list[Buffer]:
    """first[0], second[0], first[1], ..., first[-1] (``first`` one longer)."""
    out: list[Buffer] = [first[0]]
    for a, b in zip(second, first[1:], strict=True):
        out.extend((a, b))
    return out


def _png_file(head: list[bytes], parts: Sequence[_Run]) -> list[bytes]:
    """The PNG file's pieces from its header chunks and the IDAT chunks of its runs, in
    order (joined by ``join_threads``)."""
    a, b = 1, 0
    for _, sa, sb, length in parts:
        a, b = _adler_combine(a, b, sa, sb, length)
    final = zlib.compressobj(LEVEL, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    tail = _chunk(b"IDAT", final + struct.pack(">I", (b << 16) | a))
    return [b"\x89PNG\r\n\x1a\n", *head, *(b for p in parts for b in p[0]), tail, _IEND]
