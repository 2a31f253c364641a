"""The whole image pixelated: decode once (reduced), then per grid size convert and encode.

For each grid size n the result matches the original design -- resize to n x n with bilinear
filtering, then back to the original size with nearest-neighbour -- computed the cheap way:
the decode is reduced as far as that cannot change the result by more than one level, and
every per-size step but the last happens on the tiny grid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..settings import EngineSettings
from .blocks import BlockLayout
from .convert import to_output_mode
from .decode import decode_frames
from .encode import CanvasPool, Output, encode, encode_full
from .grids import FrameGrids, pixelate_frame
from .header import Source
from .limits import check_side
from .metadata import kept_metadata
from .parallel import Hooks
from .plan import decode_scale, variant_kinds
from .preview import is_wide
from .results import Kind, Pixelated, Variant, ms, source_info, variant
from .translate import errors, translate


@dataclass(frozen=True, slots=True)
class _Job:
    """What every variant of one image shares."""

    per_frame: list[FrameGrids]
    kinds: list[Kind]
    out: Output
    sixteen: bool
    wide: bool
    icc: bytes | None
    canvases: CanvasPool

    def render(self, j: int) -> list[Variant]:
        """Every kind of variant for plan ``j``: convert, then build and encode."""
        plan = self.per_frame[0][1][j][0]
        # Frame i's grid for plan j, and where it goes: its own size (TIFF pages may differ).
        grids = [frame_grids[j][1] for _, frame_grids in self.per_frame]
        layouts = [
            BlockLayout(frame_grids[j][0].grid, frame_grids[j][0].canvas, shown)
            for shown, frame_grids in self.per_frame
        ]
        with errors("converting"):
            ready, out_icc = to_output_mode(grids, self.out.fmt, self.sixteen, self.wide, self.icc)
        width, height = self.per_frame[0][0]
        variants: list[Variant] = []
        for kind in self.kinds:
            with errors("encoding"):
                size = (width, height) if kind == "full" else ready[0].size
                check_side(*size, self.out.fmt)
                if kind == "grid":
                    blob = encode(ready, self.out, out_icc)
                else:
                    blob = encode_full(ready, layouts, self.out, out_icc, self.canvases)
            variants.append(variant(plan, kind, size, len(ready), self.out.fmt, blob))
        return variants


def pixelate_whole(
    src: Source, data: bytes, settings: EngineSettings, hooks: Hooks, t0: float
) -> Pixelated:
    """Every variant of the whole image ``src`` (its header read, its limits checked)."""
    im, transform, swap = src.im, src.transform, src.swap
    with translate("decoding"):
        source_mode = im.mode
        icc = im.info.get("icc_profile") or None
        meta = kept_metadata(im) if settings.keep_metadata else {}
        frames, timing = decode_frames(
            im, src.frames_used, lambda size: decode_scale(size, swap, settings)
        )
    t_decode = time.perf_counter()
    wide = is_wide(source_mode, frames[0].image)
    with translate("making the placeholder"):
        t_placeholder = time.perf_counter()
        placeholder = hooks.placeholder(frames[0], transform, icc, wide)
        t_placeholder = time.perf_counter() - t_placeholder
    decoded_at = frames[0].scale
    with translate("pixelating"):
        per_frame = [pixelate_frame(f, transform, settings) for f in frames]
        del frames
    width, height = per_frame[0][0]
    kinds = variant_kinds(settings.output)
    job = _Job(
        per_frame=per_frame,
        kinds=kinds,
        out=Output(src.out_format, settings, meta, timing),
        sixteen=source_mode.startswith("I;16"),
        wide=wide,
        icc=icc,
        # Full-size memory for variants that are built before encoding; one per thread at most.
        canvases=CanvasPool((width, height), rgb=src.out_format.jpeg_family),
    )
    threads = hooks.threads(settings)
    if "full" in kinds:
        per_encode = src.out_format.encode_bytes_per_px * width * height * src.frames_used
        threads = hooks.capped(threads, settings, per_encode)
    with translate("encoding"):
        groups = hooks.run(job.render, len(per_frame[0][1]), threads)
    variants = [v for group in groups for v in group]
    t_end = time.perf_counter()
    return Pixelated(
        source=source_info(src, source_mode, width, height, len(data)),
        variants=tuple(variants),
        decode_scale=decoded_at,
        timings_ms={
            "decode": ms(t_decode - t0),
            "pixelate_encode": ms(t_end - t_decode),
            "placeholder": ms(t_placeholder),
            "total": ms(t_end - t0),
        },
        placeholder=placeholder,
    )
