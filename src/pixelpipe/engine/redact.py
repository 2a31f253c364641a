"""Only the regions and faces hidden; every other pixel is the source's.

Decoded at full resolution (a reduced decode would blur what is kept), each frame oriented
upright, areas found on the displayed frames, then one full-size image per variant: a copy of
the frame with its areas hidden, encoded by the format's encoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PIL import Image

from ..areas import Area, face_areas, hide, region_areas
from ..settings import EngineSettings
from .bands import encode_together
from .convert import to_output_mode
from .decode import Decoded, decode_frames
from .encode import Output, encode
from .header import Source
from .metadata import jpeg_tables, kept_metadata, private_metadata
from .orient import upright
from .parallel import Hooks
from .plan import GridPlan, plan_grids
from .preview import is_wide
from .results import Pixelated, Variant, ms, source_info, variant
from .translate import errors, translate


@dataclass(frozen=True, slots=True)
class _Job:
    """What every variant of one redacted image shares."""

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
                hide(f, a, self.settings, plan.size, plan.unit)
                for f, a in zip(self.shown, self.areas, strict=True)
            ]
        with errors("converting"):
            ready, out_icc = to_output_mode(hidden, self.out.fmt, self.sixteen, self.wide, self.icc)
        with errors("encoding"):
            blob = encode(ready, self.out, out_icc)
        size = self.shown[0].size
        return [variant(plan, "full", size, len(ready), self.out.fmt, blob)]

    def together(self, threads: int) -> list[Variant] | None:
        """Every variant at once, what no area touches encoded once (engine/bands.py), or
        None when that does not apply (several frames, a format or option it does not
        write): then each variant is rendered whole."""
        if len(self.shown) != 1:
            return None
        frame, areas = self.shown[0], self.areas[0]
        with errors("pixelating"):
            patches = [
                [(a.box, _patch(frame, a, self.settings, p)) for a in areas] for p in self.plans
            ]
        with errors("encoding"):
            blobs = encode_together(
                frame, patches, self.out, (self.sixteen, self.wide, self.icc), threads
            )
        if blobs is None:
            return None
        return [
            variant(plan, "full", frame.size, 1, self.out.fmt, blob)
            for plan, blob in zip(self.plans, blobs, strict=True)
        ]


def _patch(frame: Image.Image, area: Area, settings: EngineSettings, plan: GridPlan) -> Image.Image:
    """``area`` of ``frame`` as ``hide`` hides it: each area's pixels come from its own box."""
    x, y, w, h = area.box
    crop = frame.crop((x, y, x + w, y + h))
    return hide(crop, [Area((0, 0, w, h), area.source)], settings, plan.size, plan.unit)


def pixelate_areas(
    src: Source, data: bytes, settings: EngineSettings, hooks: Hooks, t0: float
) -> Pixelated:
    """Every variant of ``src`` with its regions and faces hidden."""
    im, out_format = src.im, src.out_format
    threads = hooks.threads(settings)
    with translate("decoding"):
        source_mode = im.mode
        icc = im.info.get("icc_profile") or None
        meta = private_metadata(kept_metadata(im)) if settings.keep_metadata else {}
        keep_tables = jpeg_tables(im, out_format, settings)
        decoded, timing = decode_frames(im, src.frames_used, lambda size: 1)
        shown = [upright(f.image, src.transform) for f in decoded]
        del decoded
    width, height = shown[0].size
    areas = [region_areas(settings.regions, *f.size) for f in shown]
    t_decode = time.perf_counter()
    detect_ms = 0.0
    if settings.faces:
        with translate("detecting faces"):
            found, detect_ms = face_areas(shown, settings, threads)
        areas = [a + f for a, f in zip(areas, found, strict=True)]
    wide = is_wide(source_mode, shown[0])
    plans = plan_grids(width, height, settings)
    with translate("making the placeholder"):
        # From the first frame as the most hidden variant shows it (fewest grid blocks or
        # largest pixel blocks): a placeholder must not give away what the variants hide.
        t_placeholder = time.perf_counter()
        most = min(plans, key=lambda p: p.size if p.unit == "grid" else -p.size)
        hidden = hide(shown[0], areas[0], settings, most.size, most.unit)
        placeholder = hooks.placeholder(Decoded(hidden, hidden.size, 1), 1, icc, wide)
        del hidden
        t_placeholder = time.perf_counter() - t_placeholder
    encoding = settings.replace(encoder_options={**keep_tables, **settings.encoder_options})
    job = _Job(
        shown,
        areas,
        plans,
        settings,
        Output(out_format, encoding, meta, timing),
        source_mode.startswith("I;16"),
        wide,
        icc,
    )
    per_encode = out_format.encode_bytes_per_px * width * height * src.frames_used
    threads = hooks.capped(threads, settings, 2 * per_encode)
    with translate("encoding"):
        variants = job.together(threads) or [
            v for group in hooks.run(job.render, len(plans), threads) for v in group
        ]
    t_end = time.perf_counter()
    return Pixelated(
        source=source_info(src, source_mode, width, height, len(data)),
        variants=tuple(variants),
        decode_scale=1,
        timings_ms={
            "decode": ms(t_decode - t0),
            "detect": round(detect_ms, 3),
            "pixelate_encode": round((t_end - t_decode) * 1000 - detect_ms, 3),
            "placeholder": ms(t_placeholder),
            "total": ms(t_end - t0),
        },
        placeholder=placeholder,
        areas=tuple(_union(areas)),
    )


def _union(areas: list[list[Area]]) -> list[Area]:
    """The first frame's areas, then any other frame's not among them."""
    union = list(areas[0])
    for frame_areas in areas[1:]:
        union.extend(a for a in frame_areas if a not in union)
    return union
