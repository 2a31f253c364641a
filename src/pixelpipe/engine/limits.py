"""The input limits, checked from the header before anything is decoded: bytes, frames,
pixels, sides, and the memory a job at full resolution (hiding areas) would need."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from ..errors import (
    EncodeError,
    ImageTooLarge,
    NotEnoughMemory,
    UnsupportedImage,
    byte_limit_reason,
)
from ..formats import OutputFormat
from ..settings import EngineSettings
from .plan import plan_grids

# Most frames (or pages) pixelated from one input. Every frame costs its grids and a few
# Pillow images whatever its size (~2 ms and ~50 KiB per frame with the default sizes), so a
# file of tiny frames -- two million fit in 50 MiB -- is refused however few pixels it has.
MAX_FRAMES = 5000


def check_bytes(size: int, settings: EngineSettings) -> None:
    if size == 0:
        raise UnsupportedImage("empty file (0 bytes)")
    if size > settings.max_bytes:
        raise ImageTooLarge(byte_limit_reason(size, settings.max_bytes))


def check_frames(n_frames: int, frames_used: int) -> None:
    """``n_frames`` as counted (``MAX_FRAMES + 1``: more than the limit), ``frames_used`` of
    them to be pixelated."""
    if frames_used > MAX_FRAMES:
        many = "more than " if n_frames == MAX_FRAMES + 1 else ""
        raise ImageTooLarge(
            f"image has {many}{n_frames - bool(many):,} frames, over the {MAX_FRAMES:,}-frame "
            "limit (--frames first takes the first frame only)"
        )


def check_pixels(sizes: list[tuple[int, int]], settings: EngineSettings) -> None:
    """The sum over the frames to be pixelated, each of its own size; with several frames,
    each counted as the larger of its pixels and its grids'."""
    total = sum(w * h for w, h in sizes)
    fw, fh = sizes[0]
    if total > settings.max_pixels:
        what = f"{fw}x{fh}" if len(sizes) == 1 else f"{len(sizes)} frames ({fw}x{fh}, ...)"
        raise ImageTooLarge(
            f"image is {what} = {fmt_mp(total)}, over the {fmt_mp(settings.max_pixels)} limit"
        )
    if len(sizes) > 1:
        # Each frame's grids (n x n whatever its size) stay in memory until every frame is
        # done: count a frame as the larger of its pixels and its grids', so thousands of
        # tiny frames cannot ask for gigabytes of 1024 x 1024 grids.
        grid_px = {
            s: sum(p.grid[0] * p.grid[1] for p in plan_grids(*s, settings)) for s in set(sizes)
        }
        cost = sum(max(w * h, grid_px[w, h]) for w, h in sizes)
        if cost > settings.max_pixels:
            raise ImageTooLarge(
                f"image is {len(sizes)} frames ({fw}x{fh}, ...) with their grids = "
                f"{fmt_mp(cost)}, over the {fmt_mp(settings.max_pixels)} limit"
            )


def check_side(width: int, height: int, fmt: OutputFormat) -> None:
    if max(width, height) > fmt.max_side:
        raise EncodeError(
            f"{width}x{height} is larger than {fmt.name.upper()} can store "
            f"({fmt.max_side} px per side); choose another --format"
        )


_BOMB_LOCK = threading.Lock()


@contextmanager
def pillow_bomb_limit(max_pixels: int) -> Iterator[None]:
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


def fmt_mp(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} pixels"


# What an area job holds besides its pixels: the interpreter, Pillow and pixelpipe (measured
# ~60 MiB for ``pixelpipe pixelate``), with a margin for allocator slack.
BASE_BYTES = 64 << 20
# The face detector's working memory beside the frame while it runs (onnxruntime's
# activations, ~200 bytes per pixel it sees, on the reduced working copy at most
# ``face_working_size`` on its long side, run in strips of at most ~600,000 pixels by
# faces/tiles.py), bounded by DETECT_MAX_BYTES; and what it keeps afterwards (the session, its
# arena). Measured at 99 MP: ~180-230 MiB while detecting, ~70-90 MiB kept
# (docs/PERFORMANCE.md).
DETECT_BYTES_PER_WORKING_PX = 230
DETECT_MAX_BYTES = 256 << 20
DETECT_KEPT_BYTES = 96 << 20
# Bytes per pixel of a frame decoded in its work mode (Pillow keeps RGB as RGBX).
_WORK_BPP = {"1": 1, "L": 1}
_STORED_BPP = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


@dataclass(frozen=True, slots=True)
class JobMemory:
    """An estimate of one job's peak memory: ``held`` bytes throughout (the frames, the
    input), then the larger of what a step before encoding takes (``before``: orienting the
    frame, the detector) and the encoding's ``encode`` bytes plus ``per_thread`` for every
    variant encoded at once."""

    held: int
    encode: int
    per_thread: int
    before: int = 0

    def needs(self, threads: int) -> int:
        return self.held + max(self.before, self.encode + threads * self.per_thread)


def frame_bytes(mode: str, pixels: int) -> tuple[int, int]:
    """Decoded frames of ``pixels`` stored in ``mode``: in their work mode, and what
    converting or orienting them takes beside that for a moment (the stored frame, or a
    second, upright copy: the orientation is not known yet)."""
    work = _WORK_BPP.get(mode, 4) * pixels
    converting = 0 if mode in ("L", "RGB", "RGBA", "CMYK", "I", "F") else pixels
    return work, max(converting * _STORED_BPP.get(mode, 4), work)


def usable(budget: int) -> int:
    """What a job may plan to use of ``budget``: nine tenths (the rest is the runtime's and
    the estimate's margin: Lambda counts the whole sandbox)."""
    return budget * 9 // 10


def check_memory(need: JobMemory, budget: int, threads: int, what: str) -> int:
    """The threads (at most ``threads``) whose job fits in ``usable(budget)``; a
    ``NotEnoughMemory`` naming what ``what`` needs when not even one does."""
    room = usable(budget)
    if need.needs(1) <= room:
        spare = room - need.held - need.encode
        return max(1, min(threads, spare // max(1, need.per_thread)))
    raise NotEnoughMemory(
        f"{what} needs about {_mib(need.needs(1))} of memory, over the {_mib(room)} a job "
        f"may use of this process's {_mib(budget)}: raise the memory (the Lambda function's "
        "MemorySize, the container's memory limit) or lower PIXELPIPE_MAX_PIXELS to refuse "
        "such images by size"
    )


def _mib(n: int) -> str:
    return f"{-(-n >> 20):,} MiB"
