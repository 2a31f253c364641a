"""The pixelation engine: image bytes in, pixelated variants out. No AWS, no files.

For each grid size n the result matches the original design — resize to n x n with bilinear
filtering, then back to the original size with nearest-neighbour — computed the cheap way:

1. check the byte limit, then read only the header and check the pixel limit (all frames);
2. decode **once**, at a reduced scale when that cannot change the result by more than one
   level (JPEG DCT scaling via ``draft``, otherwise ``Image.reduce``);
3. per size, resize that once-decoded image to the tiny grid (bilinear), apply the EXIF
   orientation *to the grid*, convert it to the output's pixel mode (all cheap: the grid is
   small), then scale it up with nearest-neighbour and encode.

Metadata is dropped by default except the ICC profile (privacy is a main use); the output never
carries a stale orientation tag because orientation has been applied to the pixels.
"""

from __future__ import annotations

import io
import math
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, ImageCms, UnidentifiedImageError

from . import __version__
from .areas import Area, block_grid, face_areas, hide, region_areas
from .blocks import BlockLayout, Canvas, save_bytes
from .errors import (
    CorruptImage,
    EncodeError,
    ImageError,
    ImageTooLarge,
    PixelpipeError,
    UnsupportedImage,
    byte_limit_reason,
)
from .formats import BY_NAME, ORIENTED_ON_LOAD, OutputFormat, output_format_for, readable_formats
from .keys import output_name
from .placeholder import Placeholder, work_size
from .placeholder import make as make_placeholder
from .resources import available_cpus, memory_budget
from .settings import BlockShape, EngineSettings, Frames, OutputMode

ENGINE_VERSION = __version__

# Decode at 1/s scale only while the decoded image keeps at least this many pixels per grid
# block along each axis. tests/test_engine_parity.py proves the result then stays within one
# level of mean absolute difference from the full-resolution computation.
PARITY_OVERSAMPLE = 4
# ...and at least this many pixels along each axis: with only a few blocks the per-block
# rounding of a coarse decode no longer averages out (grids of 1, 2 or 4 blocks need it).
PARITY_MIN_SIDE = 128

# Most frames (or pages) pixelated from one input. Every frame costs its grids and a few
# Pillow images whatever its size (~2 ms and ~50 KiB per frame with the default sizes), so a
# file of tiny frames -- two million fit in 50 MiB -- is refused however few pixels it has.
MAX_FRAMES = 5000

# Largest ICC profile copied into the outputs. Real ones, CMYK press profiles included, are
# far smaller; a JPEG, WebP or TIFF can carry many megabytes of "profile", which would
# otherwise be written again into every variant.
MAX_ICC_BYTES = 4 << 20

# Largest grid for which a palette image is built in pure Python (exact, no quantisation).
_PALETTE_MAX_PIXELS = 1 << 16

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112

Kind = Literal["full", "grid"]
Unit = Literal["grid", "px"]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What the engine learnt about the input."""

    format: str  # Pillow's format name, e.g. "JPEG"
    mode: str  # pixel mode as stored, e.g. "RGB", "P", "I;16"
    width: int  # displayed size, after EXIF orientation
    height: int
    frames: int  # frames (or pages) in the file
    orientation: int  # EXIF orientation that was applied (1 = none)
    bytes: int


@dataclass(frozen=True, slots=True)
class Variant:
    """One encoded output image."""

    size: int  # grid size n, or block size in pixels (see ``unit``)
    unit: Unit
    kind: Kind  # "full": input's size; "grid": the tiny grid image itself
    grid: tuple[int, int]  # blocks across, blocks down
    width: int
    height: int
    format: str  # pixelpipe's format name, e.g. "jpeg"
    extension: str  # e.g. ".jpg"
    content_type: str
    frames: int
    data: bytes = field(repr=False)

    @property
    def label(self) -> str:
        """``8x8``, ``8x8-grid``, ``16px`` or ``16px-grid``: the part that names the output."""
        base = f"{self.size}x{self.size}" if self.unit == "grid" else f"{self.size}px"
        return base if self.kind == "full" else f"{base}-grid"

    def filename(self, source_name: str) -> str:
        """The output file name for ``source_name``: ``pixelated-8x8-cat.jpg``.

        As in the original project; when the output format differs from the input's, only
        the extension changes.
        """
        return f"pixelated-{self.label}-{output_name(source_name, self.format, self.extension)}"


@dataclass(frozen=True, slots=True)
class Pixelated:
    """The engine's result for one input."""

    source: SourceInfo
    variants: tuple[Variant, ...]
    decode_scale: int  # 1 = full resolution; 8 = decoded at 1/8 scale
    timings_ms: dict[str, float]
    engine_version: str = ENGINE_VERSION
    placeholder: Placeholder | None = None  # of the first frame, as the variants show it
    # What was hidden when only regions and faces were asked for (the first frame's areas,
    # with faces found in any frame; see areas.py). Empty when the whole image is pixelated.
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True, slots=True)
class _Plan:
    size: int
    unit: Unit
    grid: tuple[int, int]  # blocks in the displayed orientation
    canvas: tuple[int, int]  # nearest-neighbour target before cropping to the image size


def plan_grids(width: int, height: int, settings: EngineSettings) -> list[_Plan]:
    """The grid of every variant for a displayed image of ``width`` x ``height``."""
    plans: list[_Plan] = []
    if settings.block_px:
        for p in settings.block_px:
            gw, gh = max(1, math.ceil(width / p)), max(1, math.ceil(height / p))
            plans.append(_Plan(p, "px", (gw, gh), (gw * p, gh * p)))
        return plans
    for n in settings.sizes:
        if settings.shape is BlockShape.SQUARE:
            if width >= height:
                grid = (n, max(1, round(n * height / width)))
            else:
                grid = (max(1, round(n * width / height)), n)
        else:
            grid = (n, n)
        plans.append(_Plan(n, "grid", grid, (width, height)))
    return plans


# --------------------------------------------------------------------------------------------
# Errors: Pillow raises many exception types; none of them leaves the engine raw.


@contextmanager
def _translate(stage: str) -> Iterator[None]:
    """Quiet Pillow's warnings and translate its exceptions, in the calling thread."""
    with _errors(stage), warnings.catch_warnings():
        # We check our own pixel limit first; Pillow's warning adds nothing.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextmanager
def _errors(stage: str) -> Iterator[None]:
    """Translate exceptions only: safe in encoding threads (catch_warnings is not)."""
    try:
        yield
    except PixelpipeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"decompression bomb refused: {_short(exc)}") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage("not a recognised image format") from exc
    except MemoryError as exc:
        raise ImageTooLarge(f"out of memory while {stage}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        msg = _short(exc)
        if stage == "encoding":
            raise EncodeError(f"could not encode: {msg}") from exc
        if "truncated" in msg.lower():
            raise CorruptImage(f"truncated image data ({msg})") from exc
        raise CorruptImage(f"corrupt image data while {stage} ({msg})") from exc
    except Exception as exc:  # a codec bug must still not escape raw
        if stage == "encoding":
            raise EncodeError(f"could not encode: {_short(exc)}") from exc
        raise CorruptImage(f"could not process image while {stage}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------------------------
# Public API


def pixelate(data: bytes, settings: EngineSettings | None = None) -> Pixelated:
    """Pixelate one encoded image at every size in ``settings``.

    Raises an :class:`~pixelpipe.errors.ImageError` subclass with a one-line reason when the
    input is unsupported, corrupt or over a limit, or a variant cannot be encoded.
    """
    settings = settings or EngineSettings()
    t0 = time.perf_counter()
    if len(data) == 0:
        raise UnsupportedImage("empty file (0 bytes)")
    if len(data) > settings.max_bytes:
        raise ImageTooLarge(byte_limit_reason(len(data), settings.max_bytes))
    with _translate("reading the header"), _pillow_bomb_limit(settings.max_pixels):
        im = Image.open(io.BytesIO(data), formats=readable_formats())
        im_format = im.format or "unknown"
        n_frames = _count_frames(im, MAX_FRAMES)
    out_format = output_format_for(settings.format, im_format)
    animated_out = out_format.animation and settings.frames is Frames.ALL
    frames_used = n_frames if animated_out else 1
    if frames_used > MAX_FRAMES:
        many = "more than " if n_frames == MAX_FRAMES + 1 else ""
        raise ImageTooLarge(
            f"image has {many}{n_frames - bool(many):,} frames, over the {MAX_FRAMES:,}-frame "
            "limit (--frames first takes the first frame only)"
        )
    if n_frames > MAX_FRAMES:  # only the first frame is used: count them all, for the record
        with _translate("reading the header"):
            n_frames = max(1, int(getattr(im, "n_frames", 1)))
            im.seek(0)
    if out_format.name == "mpo" and frames_used == 1:
        out_format = BY_NAME["jpeg"]  # one picture is a plain JPEG, named and typed as one
    with _translate("reading the header"):
        sizes = _frame_sizes(im, frames_used)
    total = sum(w * h for w, h in sizes)
    if total > settings.max_pixels:
        fw, fh = sizes[0]
        what = f"{fw}x{fh}" if frames_used == 1 else f"{frames_used} frames ({fw}x{fh}, ...)"
        raise ImageTooLarge(
            f"image is {what} = {_fmt_mp(total)}, over the {_fmt_mp(settings.max_pixels)} limit"
        )
    if frames_used > 1:
        # Each frame's grids (n x n whatever its size) stay in memory until every frame is
        # done: count a frame as the larger of its pixels and its grids', so thousands of
        # tiny frames cannot ask for gigabytes of 1024 x 1024 grids.
        grid_px = {
            s: sum(p.grid[0] * p.grid[1] for p in plan_grids(*s, settings)) for s in set(sizes)
        }
        cost = sum(max(w * h, grid_px[w, h]) for w, h in sizes)
        if cost > settings.max_pixels:
            fw, fh = sizes[0]
            raise ImageTooLarge(
                f"image is {frames_used} frames ({fw}x{fh}, ...) with their grids = "
                f"{_fmt_mp(cost)}, over the {_fmt_mp(settings.max_pixels)} limit"
            )

    with _translate("reading metadata"):
        orientation = _orientation(im)
    # Some plugins (TIFF) rotate while loading and report the displayed size already.
    transform = 1 if im_format in ORIENTED_ON_LOAD else orientation
    swap = transform in (5, 6, 7, 8)

    if settings.output is not OutputMode.GRID:  # refuse before decoding, not after
        _check_side(*((sizes[0][1], sizes[0][0]) if swap else sizes[0]), out_format)
    if settings.hides_areas:
        return _pixelate_areas(
            im, data, n_frames, frames_used, orientation, out_format, settings, t0
        )

    def scale_for(size: tuple[int, int]) -> int:
        """Largest reduction leaving PARITY_OVERSAMPLE px per block, PARITY_MIN_SIDE px."""
        plans = plan_grids(*((size[1], size[0]) if swap else size), settings)
        need_w = max(p.grid[1] if swap else p.grid[0] for p in plans) * PARITY_OVERSAMPLE
        need_h = max(p.grid[0] if swap else p.grid[1] for p in plans) * PARITY_OVERSAMPLE
        need_w, need_h = max(need_w, PARITY_MIN_SIDE), max(need_h, PARITY_MIN_SIDE)
        return max(1, min(size[0] // need_w, size[1] // need_h))

    with _translate("decoding"):
        source_mode = im.mode
        icc = im.info.get("icc_profile") or None
        meta = _kept_metadata(im) if settings.keep_metadata else {}
        frames, frame_info = _decode_frames(im, frames_used, scale_for)
    decode_scale = frames[0].scale
    t_decode = time.perf_counter()

    sixteen = source_mode.startswith("I;16")
    # 16-bit data (I;16, or 32-bit I holding values over 255) is scaled, not clipped, to 8 bits.
    first = frames[0].image
    wide = sixteen or (first.mode == "I" and int(first.getextrema()[1]) > 255)  # type: ignore[arg-type]
    with _translate("making the placeholder"):
        t_placeholder = time.perf_counter()
        placeholder = _placeholder(frames[0], transform, icc, wide)
        t_placeholder = time.perf_counter() - t_placeholder
    with _translate("pixelating"):
        per_frame = [_pixelate_frame(f, transform, settings) for f in frames]
        del frames
    width, height = per_frame[0][0]

    kinds: list[Kind] = {
        OutputMode.FULL: ["full"],
        OutputMode.GRID: ["grid"],
        OutputMode.BOTH: ["full", "grid"],
    }[settings.output]  # type: ignore[assignment]
    # Full-size memory for variants that are built before encoding; one per thread at most.
    canvases = _CanvasPool((width, height), rgb=out_format.pil in ("JPEG", "MPO"))

    def render(j: int) -> list[Variant]:
        """Every kind of variant for plan ``j``: convert, then build and encode."""
        plan = per_frame[0][1][j][0]
        # Frame i's grid for plan j, and where it goes: its own size (TIFF pages may differ).
        grids = [frame_grids[j][1] for _, frame_grids in per_frame]
        layouts = [
            BlockLayout(frame_grids[j][0].grid, frame_grids[j][0].canvas, shown)
            for shown, frame_grids in per_frame
        ]
        with _errors("converting"):
            ready, out_icc = _to_output_mode(grids, out_format, sixteen, wide, icc)
        out: list[Variant] = []
        for kind in kinds:
            with _errors("encoding"):
                out_w, out_h = (width, height) if kind == "full" else ready[0].size
                _check_side(out_w, out_h, out_format)
                blob = None
                if kind == "full" and len(ready) == 1:
                    # Fast paths: PNG and JPEG written from the grid, never built at full size.
                    if out_format.name == "png" and not meta:
                        blob = layouts[0].encode_png(ready[0], out_icc)
                    elif out_format.pil == "JPEG":
                        kwargs = _save_kwargs(out_format, settings, out_icc, meta, ready[0].mode)
                        blob = layouts[0].encode_jpeg(ready[0], kwargs)
                if blob is None:
                    if kind == "grid":
                        blob = _encode(ready, out_format, settings, out_icc, meta, frame_info)
                    elif len(ready) == 1:
                        with canvases.take() as canvas:
                            images = [layouts[0].upscale(ready[0], canvas)]
                            blob = _encode(images, out_format, settings, out_icc, meta, frame_info)
                    else:
                        images = [lay.upscale(g) for lay, g in zip(layouts, ready, strict=True)]
                        blob = _encode(images, out_format, settings, out_icc, meta, frame_info)
            out.append(
                Variant(
                    size=plan.size,
                    unit=plan.unit,
                    kind=kind,
                    grid=plan.grid,
                    width=out_w,
                    height=out_h,
                    format=out_format.name,
                    extension=out_format.extension,
                    content_type=out_format.content_type,
                    frames=len(ready),
                    data=blob,
                )
            )
        return out

    # Variants are independent and Pillow's codecs and zlib release the GIL while they
    # work: encode them on several cores at once.
    count = len(per_frame[0][1])
    threads = settings.threads or available_cpus()
    if not settings.threads and "full" in kinds:
        # Auto: no more full-size encodes at once than half the memory budget holds (a 24 MP
        # lossless WebP takes ~380 MB to write; two at once would not fit a 1 GB Lambda).
        per_encode = out_format.encode_bytes_per_px * width * height * frames_used
        threads = max(1, min(threads, memory_budget() // 2 // per_encode))
    with _translate("encoding"):
        variants = [v for group in _map(render, count, threads) for v in group]
    t_end = time.perf_counter()
    return Pixelated(
        source=SourceInfo(
            format=im_format,
            mode=source_mode,
            width=width,
            height=height,
            frames=n_frames,
            orientation=orientation,
            bytes=len(data),
        ),
        variants=tuple(variants),
        decode_scale=decode_scale,
        timings_ms={
            "decode": round((t_decode - t0) * 1000, 3),
            "pixelate_encode": round((t_end - t_decode) * 1000, 3),
            "placeholder": round(t_placeholder * 1000, 3),
            "total": round((t_end - t0) * 1000, 3),
        },
        placeholder=placeholder,
    )


def placeholder_of(data: bytes, settings: EngineSettings | None = None) -> Placeholder:
    """Only the placeholder of one encoded image (``pixelpipe placeholder``): the same checks
    and the same reduced decode of the first frame as :func:`pixelate` with ``settings`` --
    so the same placeholder as its manifest -- with the tiny grid images instead of any
    full-size variant."""
    settings = settings or EngineSettings()
    one: dict[str, Any] = {"frames": Frames.FIRST, "format": "png", "keep_metadata": False}
    if not settings.hides_areas:
        one["output"] = OutputMode.GRID
    elif settings.block_px:  # the redacted picture's: only its most hidden variant is made
        one["block_px"] = (max(settings.block_px),)
    else:
        one["sizes"] = (min(settings.sizes),)
    quick = settings.replace(**one)
    found = pixelate(data, quick).placeholder
    if found is None:  # pixelate always makes one; this keeps the type honest
        raise CorruptImage("no placeholder could be computed")
    return found


def _pixelate_areas(
    im: Image.Image,
    data: bytes,
    n_frames: int,
    frames_used: int,
    orientation: int,
    out_format: OutputFormat,
    settings: EngineSettings,
    t0: float,
) -> Pixelated:
    """Only the regions and faces are pixelated; every other pixel is the source's.

    Decoded at full resolution (a reduced decode would blur what is kept), each frame
    oriented upright, areas found on the displayed frames, then one full-size image per
    variant: a copy of the frame with its areas hidden, encoded by the format's encoder.
    """
    im_format = im.format or "unknown"
    transform = 1 if im_format in ORIENTED_ON_LOAD else orientation
    threads = settings.threads or available_cpus()
    with _translate("decoding"):
        source_mode = im.mode
        icc = im.info.get("icc_profile") or None
        meta = _private_metadata(_kept_metadata(im)) if settings.keep_metadata else {}
        keep_tables = _jpeg_tables(im, out_format, settings)
        decoded, frame_info = _decode_frames(im, frames_used, lambda size: 1)
        shown = [
            f.image.transpose(_TRANSPOSE[transform]) if transform in _TRANSPOSE else f.image
            for f in decoded
        ]
        del decoded
    width, height = shown[0].size
    areas = [region_areas(settings.regions, *f.size) for f in shown]
    t_decode = time.perf_counter()
    detect_ms = 0.0
    if settings.faces:
        with _translate("detecting faces"):
            found, detect_ms = face_areas(shown, settings, threads)
        areas = [a + f for a, f in zip(areas, found, strict=True)]
    sixteen = source_mode.startswith("I;16")
    wide = sixteen or (shown[0].mode == "I" and int(shown[0].getextrema()[1]) > 255)  # type: ignore[arg-type]
    plans = plan_grids(width, height, settings)
    with _translate("making the placeholder"):
        # From the first frame as the most hidden variant shows it (fewest grid blocks or
        # largest pixel blocks): a placeholder must not give away what the variants hide.
        t_placeholder = time.perf_counter()
        most = min(plans, key=lambda p: p.size if p.unit == "grid" else -p.size)
        hidden = hide(shown[0], areas[0], settings, most.size, most.unit)
        placeholder = _placeholder(_Decoded(hidden, hidden.size, 1), 1, icc, wide)
        del hidden
        t_placeholder = time.perf_counter() - t_placeholder
    encoding = settings.replace(encoder_options={**keep_tables, **settings.encoder_options})

    def render(j: int) -> list[Variant]:
        plan = plans[j]
        with _errors("pixelating"):
            hidden = [
                hide(f, a, settings, plan.size, plan.unit)
                for f, a in zip(shown, areas, strict=True)
            ]
        with _errors("converting"):
            ready, out_icc = _to_output_mode(hidden, out_format, sixteen, wide, icc)
        with _errors("encoding"):
            blob = _encode(ready, out_format, encoding, out_icc, meta, frame_info)
        return [
            Variant(
                size=plan.size,
                unit=plan.unit,
                kind="full",
                grid=plan.grid,
                width=width,
                height=height,
                format=out_format.name,
                extension=out_format.extension,
                content_type=out_format.content_type,
                frames=len(ready),
                data=blob,
            )
        ]

    per_encode = out_format.encode_bytes_per_px * width * height * frames_used
    if not settings.threads:
        threads = max(1, min(threads, memory_budget() // 2 // (2 * per_encode)))
    with _translate("encoding"):
        variants = [v for group in _map(render, len(plans), threads) for v in group]
    t_end = time.perf_counter()
    union = list(areas[0])
    for frame_areas in areas[1:]:
        union.extend(a for a in frame_areas if a not in union)
    return Pixelated(
        source=SourceInfo(
            format=im_format,
            mode=source_mode,
            width=width,
            height=height,
            frames=n_frames,
            orientation=orientation,
            bytes=len(data),
        ),
        variants=tuple(variants),
        decode_scale=1,
        timings_ms={
            "decode": round((t_decode - t0) * 1000, 3),
            "detect": round(detect_ms, 3),
            "pixelate_encode": round((t_end - t_decode) * 1000 - detect_ms, 3),
            "placeholder": round(t_placeholder * 1000, 3),
            "total": round((t_end - t0) * 1000, 3),
        },
        placeholder=placeholder,
        areas=tuple(union),
    )


def _jpeg_tables(im: Image.Image, fmt: OutputFormat, settings: EngineSettings) -> dict[str, Any]:
    """JPEG in, JPEG out, no quality asked for: re-encode with the source's own quantisation
    tables and sampling, so the pixels kept from the source change as little as a JPEG
    re-encode allows (instead of dropping to quality 75 and 4:2:0)."""
    if (
        settings.quality is not None
        or fmt.pil not in ("JPEG", "MPO")
        or im.format not in ("JPEG", "MPO")
    ):
        return {}
    tables = getattr(im, "quantization", None)
    if not tables or im.mode == "CMYK":
        return {}
    from PIL import JpegImagePlugin

    options: dict[str, Any] = {"qtables": [list(t) for _, t in sorted(tables.items())]}
    sampling = JpegImagePlugin.get_sampling(im)
    if sampling >= 0:
        options["subsampling"] = sampling
    return options


# EXIF tags that can hold a picture of the original or where faces were: MakerNote (camera
# makers store previews and face-detection boxes there).
_PRIVATE_EXIF = (0x927C,)


def _private_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Kept metadata fit for an image with hidden areas: XMP goes (it carries face regions
    and names: mwg-rs:Regions, MP:RegionInfo, Iptc4xmpExt:PersonInImage); EXIF loses its
    MakerNote. EXIF's thumbnail (IFD1) is never copied (``_kept_metadata`` writes IFD0 and
    its sub-IFDs only)."""
    out = {k: v for k, v in meta.items() if k != "xmp"}
    if "exif" in out:
        exif = Image.Exif()
        exif.load(out["exif"])
        sub = exif.get_ifd(0x8769)
        for tag in _PRIVATE_EXIF:
            sub.pop(tag, None)
        out["exif"] = exif.tobytes()
    return out


# --------------------------------------------------------------------------------------------
# Placeholder


def _placeholder(frame: _Decoded, transform: int, icc: bytes | None, wide: bool) -> Placeholder:
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
    small = img.resize(work_size(fw, fh), Image.Resampling.BOX, box=box)
    if transform in _TRANSPOSE:
        small = small.transpose(_TRANSPOSE[transform])
    if small.mode == "CMYK":
        small = _cmyk_to_rgb(small, icc)[0]
    elif small.mode in ("I", "F"):
        small = _to_8bit(small, wide)
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA" if "A" in small.mode else "RGB")
    shown = (fh, fw) if transform in (5, 6, 7, 8) else (fw, fh)
    return make_placeholder(small, *shown)


# --------------------------------------------------------------------------------------------
# Parallel variants

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _map(fn: Callable[[int], list[Variant]], count: int, threads: int) -> list[Any]:
    """``[fn(0), ..., fn(count - 1)]`` on up to ``threads`` threads. The first exception is
    raised once every started task has finished."""
    threads = min(count, threads)
    if threads <= 1:
        return [fn(i) for i in range(count)]
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, "pixelpipe-encode")
    futures = [pool.submit(fn, i) for i in range(count)]
    wait(futures)
    return [f.result() for f in futures]


class _CanvasPool:
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


_BOMB_LOCK = threading.Lock()


@contextmanager
def _pillow_bomb_limit(max_pixels: int) -> Iterator[None]:
    """Let the configured pixel limit decide, even above Pillow's own bomb threshold.

    Pillow refuses images over 2 x ``Image.MAX_IMAGE_PIXELS`` while opening them. When the
    user configured a larger limit, raise Pillow's for the duration of the open (the engine
    checks its own limit right after, from the header).
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is None or max_pixels <= 2 * current:
        yield
        return
    with _BOMB_LOCK:
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = current


def _check_side(width: int, height: int, fmt: OutputFormat) -> None:
    if max(width, height) > fmt.max_side:
        raise EncodeError(
            f"{width}x{height} is larger than {fmt.name.upper()} can store "
            f"({fmt.max_side} px per side); choose another --format"
        )


# --------------------------------------------------------------------------------------------
# Decoding


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except (TypeError, ValueError):
        return 1
    return value if value in _TRANSPOSE else 1


# Disposal is kept in GIF's terms (0 unspecified, 1 keep, 2 background, 3 previous);
# APNG's ops are 0 none, 1 background, 2 previous.
_APNG_TO_GIF_DISPOSAL = {0: 1, 1: 2, 2: 3}
_GIF_TO_APNG_DISPOSAL = {0: 0, 1: 0, 2: 1, 3: 2}


@dataclass(frozen=True, slots=True)
class _FrameInfo:
    durations: list[int]
    disposals: list[int] | None  # GIF's terms, see above
    loop: int | None


@dataclass(frozen=True, slots=True)
class _Decoded:
    image: Image.Image  # in a work mode, reduced by ``scale``
    size: tuple[int, int]  # the frame's size as stored (before reduction)
    scale: int


def _count_frames(im: Image.Image, cap: int) -> int:
    """Frames (or pages) in ``im``; over ``cap`` comes back as ``cap + 1``. Pillow counts GIF
    frames and TIFF pages by reading every one: stop after ``cap`` instead. (One frame at a
    time: a TIFF seek past the end records the target frame as the page count.)"""
    if im.format not in ("GIF", "TIFF"):
        return max(1, int(getattr(im, "n_frames", 1)))
    count = 1
    try:
        while count <= cap:
            im.seek(count)
            count += 1
    except EOFError:
        pass
    im.seek(0)
    return count


def _frame_sizes(im: Image.Image, count: int) -> list[tuple[int, int]]:
    """Each frame's size, read from headers only. Pages of a TIFF or MPO may differ."""
    if count == 1 or im.format not in ("TIFF", "MPO"):
        return [im.size] * count
    sizes = []
    for index in range(count):
        im.seek(index)
        sizes.append(im.size)
    im.seek(0)
    return sizes


def _decode_frames(
    im: Image.Image, count: int, scale_for: Callable[[tuple[int, int]], int]
) -> tuple[list[_Decoded], _FrameInfo]:
    """Decode ``count`` frames in a work mode, each reduced as far as ``scale_for`` allows."""
    frames: list[_Decoded] = []
    durations: list[int] = []
    disposals: list[int] = []
    if count == 1 and im.format == "JPEG" and (scale := scale_for(im.size)) > 1:
        # DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 for a fraction of the cost.
        full = im.size
        im.draft(im.mode, (im.width // scale, im.height // scale))
        im.load()
        done = max(1, round(full[0] / im.width))
        frame = _work_mode(im)
        if scale // done > 1:
            frame = frame.reduce(scale // done)
            done *= scale // done
        frames.append(_Decoded(frame, full, done))
    for index in range(len(frames), count):
        if index:
            im.seek(index)
        im.load()
        size = im.size
        frame = _work_mode(im)
        if frame is im and count > 1:
            frame = im.copy()  # the next seek() reuses im's buffer
        scale = scale_for(size)
        if scale > 1:
            frame = frame.reduce(scale)
        frames.append(_Decoded(frame, size, scale))
        # Timing as Pillow reports it once the frame is loaded (WebP fills it in on load).
        durations.append(int(im.info.get("duration", 0) or 0))
        disposal = getattr(im, "disposal_method", None)  # GIF: 0..3
        if disposal is None and im.info.get("disposal") is not None:
            disposal = _APNG_TO_GIF_DISPOSAL.get(int(im.info["disposal"]), 1)
        if disposal is not None:
            disposals.append(int(disposal))
    info = _FrameInfo(
        durations=durations,
        disposals=disposals if count > 1 and len(disposals) == count else None,
        loop=im.info.get("loop"),
    )
    return frames, info


def _pixelate_frame(
    frame: _Decoded, transform: int, settings: EngineSettings
) -> tuple[tuple[int, int], list[tuple[_Plan, Image.Image]]]:
    """Bilinear-resize one decoded frame to every grid; grids come out displayed upright."""
    img, (fw, fh), scale = frame.image, frame.size, frame.scale
    swap = transform in (5, 6, 7, 8)
    shown = (fh, fw) if swap else (fw, fh)
    if settings.block_px and transform in _TRANSPOSE:
        # Pixel blocks are laid out from the displayed top-left corner: orient first.
        img = img.transpose(_TRANSPOSE[transform])
        (fw, fh), transform, swap = shown, 1, False
    grids = []
    for plan in plan_grids(*shown, settings):
        if plan.unit == "px":
            g = block_grid(img, plan.size, (fw, fh), scale)
        else:
            file_grid = (plan.grid[1], plan.grid[0]) if swap else plan.grid
            box = (0.0, 0.0, fw / scale, fh / scale)
            g = img.resize(file_grid, Image.Resampling.BILINEAR, box=box)
        if transform in _TRANSPOSE:
            g = g.transpose(_TRANSPOSE[transform])
        grids.append((plan, g))
    return shown, grids


def _work_mode(frame: Image.Image) -> Image.Image:
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


# --------------------------------------------------------------------------------------------
# Output modes and metadata


def _to_output_mode(
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
            g, out_icc = _cmyk_to_rgb(g, icc)
        elif work in ("LA", "RGBA") and target in ("L", "RGB"):
            g = _flatten(g, target)
        elif work in ("I", "F") and target in ("L", "RGB"):
            g = _to_8bit(g, wide)
            if target == "RGB":
                g = g.convert("RGB")
        elif g.mode != target:
            g = g.convert(target)
        if fmt.name == "gif" and g.mode == "RGBA":
            g = _binary_alpha(g)
        if fmt.palette and (g.mode == "RGB" or (g.mode == "RGBA" and fmt.name == "png")):
            g = _exact_palette(g) or g
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


def _cmyk_to_rgb(g: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
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


def _to_8bit(g: Image.Image, wide: bool) -> Image.Image:
    if g.mode == "I" and wide:  # 16-bit data: keep the top byte
        return g.point(lambda v: v * (1 / 256)).convert("L")
    return g.convert("L")  # 8-bit range I, and F: Pillow clips to 0..255


def _exact_palette(g: Image.Image) -> Image.Image | None:
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
    if mode == "P":
        return space == b"RGB "
    return space == b"RGB "


# TIFF structure tags: they describe the *source* file's layout (size, strips, compression)
# and must never be copied into another file, where Pillow's TIFF writer would obey them.
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320}
    | {322, 323, 324, 325, 338, 339, 340, 341, 347, 513, 514, 530, 531, 532}
)
_IFD_POINTERS = (0x8769, 0x8825, 0xA005)  # Exif, GPS, Interoperability sub-IFDs


def _kept_metadata(im: Image.Image) -> dict[str, Any]:
    """Metadata to copy when the user asked to keep it: EXIF (GPS included) minus the
    orientation and file-layout tags, XMP minus orientation, comments."""
    meta: dict[str, Any] = {}
    source = im.getexif()  # Pillow's cached object: read it, never change it
    exif = Image.Exif()
    for tag, value in source.items():
        if tag == _ORIENTATION_TAG or tag in _LAYOUT_TAGS:
            continue
        exif[tag] = source.get_ifd(tag) if tag in _IFD_POINTERS else value
    if len(exif):
        meta["exif"] = exif.tobytes()
    xmp = im.info.get("xmp")
    if xmp:
        if isinstance(xmp, str):
            xmp = xmp.encode()
        # Orientation has been applied to the pixels: drop XMP's copy of it too.
        xmp = re.sub(rb'\s*tiff:Orientation="?\d"?', b"", xmp)
        xmp = re.sub(rb"<tiff:Orientation>\d</tiff:Orientation>", b"", xmp)
        meta["xmp"] = xmp
    comment = im.info.get("comment")
    if comment:
        meta["comment"] = comment
    return meta


# --------------------------------------------------------------------------------------------
# Upscaling and encoding


def _save_kwargs(
    fmt: OutputFormat,
    settings: EngineSettings,
    icc: bytes | None,
    meta: dict[str, Any],
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


def _encode(
    images: list[Image.Image],
    fmt: OutputFormat,
    settings: EngineSettings,
    icc: bytes | None,
    meta: dict[str, Any],
    info: _FrameInfo,
) -> bytes:
    kwargs = _save_kwargs(fmt, settings, icc, meta, images[0].mode)
    first = images[0]
    for img in images:
        img.info = {}  # nothing from the source leaks through Pillow's info fallbacks
    if len(images) > 1:
        kwargs.update(save_all=True, append_images=images[1:])
        if fmt.name in ("gif", "png", "webp", "avif"):
            kwargs["duration"] = info.durations
            if info.loop is not None:
                kwargs["loop"] = info.loop
        if fmt.name == "gif":
            # Frames are complete pictures: one with transparent pixels must clear what the
            # previous frame left (disposal 2), or that frame would show through.
            kept = info.disposals or [0] * len(images)
            kwargs["disposal"] = [
                2 if _has_transparency(im) else d for im, d in zip(images, kept, strict=True)
            ]
        elif fmt.name == "png" and info.disposals is not None:
            kwargs["disposal"] = [_GIF_TO_APNG_DISPOSAL.get(d, 0) for d in info.disposals]
        if fmt.name == "png":
            kwargs["blend"] = 0  # OP_SOURCE: every frame is complete, so disposal is exact
            kwargs["default_image"] = False
    if fmt.name == "tiff" and "exif" in meta:
        # libtiff cannot write the GPS IFD Pillow hands it ("Error setting from dictionary");
        # Pillow's own TIFF writer can, and it is the one used for uncompressed files.
        kwargs["compression"] = "raw"
    if fmt.name == "ico":
        kwargs["sizes"] = [first.size]  # Pillow's default list would shrink it to a square
    try:
        return save_bytes(first, fmt.pil, **kwargs)
    except TypeError:
        if not isinstance(kwargs.get("disposal"), list):
            raise
        # Pillow merges identical consecutive GIF frames; when every frame is the same it
        # writes one, but hands it the whole per-frame disposal list (Pillow 11-13).
        return save_bytes(first, fmt.pil, **{**kwargs, "disposal": kwargs["disposal"][0]})


def _has_transparency(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA"):
        return bool(im.getextrema()[-1][0] < 255)  # type: ignore[index]
    if im.mode == "P" and im.palette is not None and im.palette.mode == "RGBA":
        return bool(im.convert("RGBA").getextrema()[-1][0] < 255)  # type: ignore[index]
    return "transparency" in im.info


# --------------------------------------------------------------------------------------------


def _fmt_mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} pixels"


__all__ = [
    "ENGINE_VERSION",
    "PARITY_OVERSAMPLE",
    "ImageError",
    "Pixelated",
    "SourceInfo",
    "Variant",
    "output_name",
    "pixelate",
    "placeholder_of",
    "plan_grids",
]
