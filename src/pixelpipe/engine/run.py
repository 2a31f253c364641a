"""The skeleton both paths share -- the whole image pixelated (``whole``) and only its areas
hidden (``partial``): decode, the placeholder (timed), every variant encoded on the pool with
the thread count capped by memory, and the result with its timings. Each path supplies only
what differs: its decode scale and metadata, its pixels, and its :class:`Renders`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from ..areas import Area, FaceSearch
from ..formats import FrameTiming
from ..placeholder import Placeholder
from ..settings import EngineSettings
from .decode import Decoded, decode_frames
from .header import Source
from .hooks import Hooks
from .results import Pixelated, Variant, ms
from .translate import translate


class Renders(Protocol):
    """One image's variants, by plan: ``render(j)`` makes plan ``j``'s (one or more kinds)."""

    def render(self, j: int) -> list[Variant]: ...


@dataclass(slots=True)
class EngineRun:
    """One call of the engine, from the header read to the result."""

    src: Source
    data: bytes
    settings: EngineSettings
    hooks: Hooks
    t0: float  # when the call started
    mode: str = ""  # the source's pixel mode as stored
    icc: bytes | None = None  # the source's ICC profile
    t_decode: float = 0.0  # when decoding ended
    placeholder_s: float = 0.0  # seconds spent on the placeholder

    def decode(
        self,
        scale_for: Callable[[tuple[int, int]], int],
        metadata: Callable[[Image.Image], dict[str, Any]],
    ) -> tuple[list[Decoded], FrameTiming, dict[str, Any]]:
        """Every frame used, reduced as far as ``scale_for`` allows, and the metadata kept
        (``metadata(im)`` when ``keep_metadata`` is on, else none)."""
        im = self.src.im
        with translate("decoding"):
            self.mode = im.mode
            self.icc = im.info.get("icc_profile") or None
            meta = metadata(im) if self.settings.keep_metadata else {}
            frames, timing = decode_frames(im, self.src.frames_used, scale_for)
        return frames, timing, meta

    def decoded(self) -> None:
        """Marks the end of decoding (the ``decode`` timing)."""
        self.t_decode = time.perf_counter()

    def placeholder(self, first: Callable[[], Decoded], transform: int, wide: bool) -> Placeholder:
        """The placeholder of the frame ``first()`` gives (as the variants show it)."""
        with translate("making the placeholder"):
            start = time.perf_counter()
            found = self.hooks.placeholder(first(), transform, self.icc, wide)
            self.placeholder_s = time.perf_counter() - start
        return found

    def threads(self, per_encode: int | None) -> int:
        """Threads for encoding: as asked, or one per CPU capped by memory at ``per_encode``
        bytes per encode (None: encodes too small to count)."""
        threads = self.hooks.threads(self.settings)
        if per_encode is None:
            return threads
        return self.hooks.capped(threads, self.settings, per_encode)

    def encode(self, job: Renders, count: int, threads: int) -> tuple[Variant, ...]:
        """Plans ``0 .. count - 1`` of ``job`` on the pool, in plan order."""
        with translate("encoding"):
            groups = self.hooks.run(job.render, count, threads)
        return tuple(v for group in groups for v in group)

    def result(
        self,
        variants: tuple[Variant, ...],
        size: tuple[int, int],
        placeholder: Placeholder,
        decode_scale: int,
        areas: tuple[Area, ...] = (),
        detect_ms: float | None = None,
        face_search: FaceSearch | None = None,
    ) -> Pixelated:
        """The result: ``variants`` of a source displayed at ``size``, decoded at
        1/``decode_scale``. ``detect_ms``: the face detector's time, reported apart from
        pixelating and encoding."""
        t_end = time.perf_counter()
        timings = {"decode": ms(self.t_decode - self.t0)}
        if detect_ms is None:
            timings["pixelate_encode"] = ms(t_end - self.t_decode)
        else:
            timings["detect"] = round(detect_ms, 3)
            timings["pixelate_encode"] = round((t_end - self.t_decode) * 1000 - detect_ms, 3)
        timings["placeholder"] = ms(self.placeholder_s)
        timings["total"] = ms(t_end - self.t0)
        return Pixelated(
            source=self.src.info(self.mode, *size, len(self.data)),
            variants=variants,
            decode_scale=decode_scale,
            timings_ms=timings,
            placeholder=placeholder,
            areas=areas,
            face_search=face_search,
        )
