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

The steps, one module each: ``header`` (open, limits from ``limits``), ``plan`` (grids, decode
scale), ``decode``, ``grids`` (grids and P-pixel block grids), ``hide`` (hiding an area:
pixelated or filled), ``preview`` (the placeholder's pixels), ``convert`` (output modes,
palettes, ICC), ``metadata``, ``encode`` (Pillow's encoders with each format's own save
behaviour from the registry, or the block writers in ``blocks``), ``parallel`` (the thread
pool). ``run`` is the skeleton of one call; ``whole`` (the whole image pixelated) and
``partial`` (only its areas hidden) fill it in. Every pixel operation lives in this package;
every per-format decision is the format registry's (:mod:`pixelpipe.formats`).

What the engine does not find out itself -- the thread pool, the CPU count, the memory budget,
the placeholder maker -- is given to it as :class:`Hooks` (a parameter with real defaults, as
httpx takes a transport): tests and benchmarks pass their own instead of patching the engine.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from ..errors import CorruptImage, ImageError
from ..keys import output_name
from ..placeholder import Placeholder
from ..resources import available_cpus, memory_budget
from ..settings import EngineSettings, Frames, OutputMode
from .convert import MAX_ICC_BYTES
from .header import Source, read_header
from .hooks import Hooks
from .limits import MAX_FRAMES
from .partial import admit_areas, pixelate_areas
from .plan import PARITY_MIN_SIDE, PARITY_OVERSAMPLE, GridPlan, plan_grids
from .results import ENGINE_VERSION, Kind, Pixelated, SourceInfo, Unit, Variant
from .run import EngineRun
from .whole import pixelate_whole

if TYPE_CHECKING:  # pragma: no cover
    from ..faces import Detector


def pixelate(
    data: bytes,
    settings: EngineSettings | None = None,
    *,
    hooks: Hooks | None = None,
    detector: Detector | None = None,
) -> Pixelated:
    """Pixelate one encoded image at every size in ``settings``; ``hooks``: the pool, CPU
    count, memory budget, placeholder maker and face detector to use (default
    :meth:`Hooks.default`); ``detector``: shorthand for ``hooks`` with that detector.

    Raises an :class:`~pixelpipe.errors.ImageError` subclass with a one-line reason when the
    input is unsupported, corrupt or over a limit, or a variant cannot be encoded.
    """
    settings = settings or EngineSettings()
    t0 = time.perf_counter()
    hooks = hooks or Hooks.default()
    admit = None
    if settings.hides_areas:  # full resolution: refused from the header when it cannot fit
        budget = hooks.memory_budget()

        def admit(src: Source) -> None:
            admit_areas(src, len(data), settings, budget)

    src = read_header(data, settings, admit)
    if detector is not None:
        hooks = dataclasses.replace(hooks, detector=detector)
    run = EngineRun(src, data, settings, hooks, t0)
    if settings.hides_areas:
        return pixelate_areas(run)
    return pixelate_whole(run)


def placeholder_of(
    data: bytes, settings: EngineSettings | None = None, *, hooks: Hooks | None = None
) -> Placeholder:
    """Only the placeholder of one encoded image (``pixelpipe placeholder``): the same checks
    and the same reduced decode of the first frame as :func:`pixelate` with ``settings`` --
    so the same placeholder as its manifest -- with the tiny grid images instead of any
    full-size variant."""
    settings = settings or EngineSettings()
    one: dict[str, Any] = {"frames": Frames.FIRST, "format": "png", "keep_metadata": False}
    if not settings.hides_areas:
        one["output"] = OutputMode.GRID
    elif settings.block_px:  # the most hidden variant's (areas hidden): only it is made
        one["block_px"] = (max(settings.block_px),)
    else:
        one["sizes"] = (min(settings.grid_sizes),)
    quick = settings.replace(**one)
    found = pixelate(data, quick, hooks=hooks).placeholder
    if found is None:  # pixelate always makes one; this keeps the type honest
        raise CorruptImage("no placeholder could be computed")
    return found


__all__ = [
    "ENGINE_VERSION",
    "MAX_FRAMES",
    "MAX_ICC_BYTES",
    "PARITY_MIN_SIDE",
    "PARITY_OVERSAMPLE",
    "GridPlan",
    "Hooks",
    "ImageError",
    "Kind",
    "Pixelated",
    "SourceInfo",
    "Unit",
    "Variant",
    "available_cpus",
    "memory_budget",
    "output_name",
    "pixelate",
    "placeholder_of",
    "plan_grids",
]
