"""Only the image's areas hidden (regions and faces); every other pixel is the source's.

Decoded at full resolution (a reduced decode would blur what is kept), each frame oriented
upright, areas found on the displayed frames, then one full-size image per variant: a copy of
the frame with its areas hidden (:mod:`.hide`), encoded by the format's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image

from ..areas import Area, face_areas, region_areas
from ..settings import EngineSettings
from .bands import encode_together
from .convert import to_output_mode
from .decode import Decoded
from .encode import Output, encode
from .hide import anonymises, area_patches, hide_areas, hide_box
from .metadata import jpeg_tables, kept_metadata, private_metadata
from .orient import upright
from .plan import GridPlan, plan_grids
from .preview import is_wide
from .results import Pixelated, Variant
from .run import EngineRun
from .translate import errors, translate


@dataclass(frozen=True, slots=True)
class AreaVariants:
    """What every variant of one image with hidden areas shares; ``render(j)`` makes plan
    ``j``'s variant."""

    shown: list[Image.Image]  # the frames, upright, at full resolution
    areas: list[list[Area]]  # per frame
    plans: list[GridPlan]
    settings: EngineSettings
    out: Output  # with the source's JPEG tables among the encoder options
    sixteen: bool
    wide: bool
    icc: bytes | None

    def render(self, j: int) -> list[Variant]:
        plan = self.plans[j]
        with errors("pixelating"):
            hidden = [
                hide_areas(f, a, self.settings, plan.size, plan.unit)
                for f, a in zip(self.shown, self.areas, strict=True)
            ]
        with errors("converting"):
            ready, out_icc = to_output_mode(hidden, self.out.fmt, self.sixteen, self.wide, self.icc)
        with errors("encoding"):
            blob = encode(ready, self.out, out_icc)
        size = self.shown[0].size
        return [plan.variant("full", size, len(ready), self.out.fmt, blob)]

    def together(self, threads: int) -> tuple[Variant, ...] | None:
        """Every variant at once, what no area touches encoded once (:mod:`.bands`), or None
        when that does not apply (several frames, a format or option it does not write):
        then each variant is rendered whole."""
        if len(self.shown) != 1:
            return None
        frame, areas = self.shown[0], self.areas[0]
        with errors("pixelating"):
            patches = []
            for p in self.plans:
                hidden = area_patches(frame, areas, self.settings, p.size, p.unit)
                patches.append([(a.box, hide_box(frame, hidden, a.box)) for a in areas])
        with errors("encoding"):
            blobs = encode_together(
                frame, patches, self.out, (self.sixteen, self.wide, self.icc), threads
            )
        if blobs is None:
            return None
        return tuple(
            plan.variant("full", frame.size, 1, self.out.fmt, blob)
            for plan, blob in zip(self.plans, blobs, strict=True)
        )


def pixelate_areas(run: EngineRun) -> Pixelated:
    """Every variant of ``run.src`` with its regions and faces hidden."""
    src, settings = run.src, run.settings
    with translate("decoding"):
        keep_tables = jpeg_tables(src.im, src.out_format, settings)
    decoded, timing, meta = run.decode(
        lambda size: 1, lambda im: private_metadata(kept_metadata(im))
    )
    with translate("decoding"):
        shown = [upright(f.image, src.transform) for f in decoded]
        del decoded
    width, height = shown[0].size
    areas = [region_areas(settings.regions, *f.size) for f in shown]
    run.decoded()
    detect_ms = 0.0
    search = None
    if settings.faces:
        with translate("detecting faces"):
            found, detect_ms, search = face_areas(
                shown, settings, run.hooks.threads(settings), run.hooks.detector
            )
        areas = [a + f for a, f in zip(areas, found, strict=True)]
    wide = is_wide(run.mode, shown[0])
    plans = plan_grids(width, height, settings)
    # From the first frame as the most hidden variant shows it (fewest grid blocks or largest
    # pixel blocks): a placeholder must not give away what the variants hide.
    most = min(plans, key=lambda p: p.size if p.unit == "grid" else -p.size)

    def first() -> Decoded:
        hidden = hide_areas(shown[0], areas[0], settings, most.size, most.unit)
        return Decoded(hidden, hidden.size, 1)

    placeholder = run.placeholder(first, 1, wide)
    encoding = settings.replace(encoder_options={**keep_tables, **settings.encoder_options})
    job = AreaVariants(
        shown,
        areas,
        plans,
        settings,
        Output(src.out_format, encoding, meta, timing),
        run.mode.startswith("I;16"),
        wide,
        run.icc,
    )
    per_encode = src.out_format.encode_bytes_per_px * width * height * src.frames_used
    with translate("encoding"):
        variants = job.together(run.threads(None))
    if variants is None:
        variants = run.encode(job, len(plans), run.threads(2 * per_encode))
    union = _union(areas)
    anon = {(p.size, p.unit): anonymises(union, settings.shape, p.size, p.unit) for p in plans}
    variants = tuple(replace(v, anonymised=anon[v.size, v.unit]) for v in variants)
    return run.result(
        variants,
        (width, height),
        placeholder,
        1,
        tuple(union),
        detect_ms=detect_ms,
        face_search=search,
    )


def _union(areas: list[list[Area]]) -> list[Area]:
    """The first frame's areas, then any other frame's not among them."""
    union = list(areas[0])
    for frame_areas in areas[1:]:
        union.extend(a for a in frame_areas if a not in union)
    return union
