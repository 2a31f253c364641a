"""The whole image pixelated: decode once (reduced), then per grid size convert and encode.

For each grid size n the result matches the original design -- resize to n x n with bilinear
filtering, then back to the original size with nearest-neighbour -- computed the cheap way:
the decode is reduced as far as that cannot change the result by more than one level, and
every per-size step but the last happens on the tiny grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from .blocks import BlockLayout
from .convert import to_output_mode
from .encode import CanvasPool, Output, encode, encode_full
from .grids import FrameGrids, pixelate_frame
from .limits import check_side
from .metadata import kept_metadata
from .plan import decode_scale, variant_kinds
from .preview import is_wide
from .results import Kind, Pixelated, Variant
from .run import EngineRun
from .translate import errors, translate


@dataclass(frozen=True, slots=True)
class WholeVariants:
    """What every variant of one wholly pixelated image shares; ``render(j)`` makes plan
    ``j``'s variants."""

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
            variants.append(plan.variant(kind, size, len(ready), self.out.fmt, blob))
        return variants


def pixelate_whole(run: EngineRun) -> Pixelated:
    """Every variant of the whole image ``run.src`` (its header read, its limits checked)."""
    src, settings = run.src, run.settings
    frames, timing, meta = run.decode(
        lambda size: decode_scale(size, src.swap, settings), kept_metadata
    )
    run.decoded()
    wide = is_wide(run.mode, frames[0].image)
    placeholder = run.placeholder(lambda: frames[0], src.transform, wide)
    decoded_at = frames[0].scale
    with translate("pixelating"):
        per_frame = [pixelate_frame(f, src.transform, settings) for f in frames]
        frames.clear()  # the decoded frames' memory, before encoding
    width, height = per_frame[0][0]
    kinds = variant_kinds(settings.output)
    job = WholeVariants(
        per_frame=per_frame,
        kinds=kinds,
        out=Output(src.out_format, settings, meta, timing),
        sixteen=run.mode.startswith("I;16"),
        wide=wide,
        icc=run.icc,
        # Full-size memory for variants that are built before encoding; one per thread at most.
        canvases=CanvasPool((width, height), rgb=src.out_format.jpeg_family),
    )
    per_encode = src.out_format.encode_bytes_per_px * width * height * src.frames_used
    threads = run.threads(per_encode if "full" in kinds else None)
    variants = run.encode(job, len(per_frame[0][1]), threads)
    return run.result(variants, (width, height), placeholder, decoded_at)
