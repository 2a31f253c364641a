"""Only the image's areas hidden (regions and faces); every other pixel is the source's.

Decoded at full resolution (a reduced decode would blur what is kept), each frame oriented
upright, areas found on the displayed frames, then one full-size image per variant: a copy of
the frame with its areas hidden (:mod:`.hide`), encoded by the format's encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image

from ..areas import Area, face_areas, region_areas
from ..resources import give_back_memory
from ..settings import EngineSettings
from .bands import encode_together, together_bytes
from .convert import to_output_mode
from .decode import Decoded
from .encode import Output, encode
from .header import Source
from .hide import AreaPatch, anonymises, area_patches, hidden_in_place, hide_areas, hide_box
from .limits import (
    BASE_BYTES,
    DETECT_BYTES_PER_WORKING_PX,
    DETECT_KEPT_BYTES,
    DETECT_MAX_BYTES,
    JobMemory,
    check_memory,
    frame_bytes,
    usable,
)
from .metadata import jpeg_tables, kept_metadata, private_metadata
from .orient import upright
from .parallel import Runner, run_threads
from .plan import GridPlan, decode_scale, plan_grids
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

    def together(
        self,
        threads: int,
        spare: int = 1 << 62,
        known: dict[tuple[int, str], list[AreaPatch]] | None = None,
        run: Runner = run_threads,
    ) -> tuple[Variant, ...] | None:
        """Every variant at once, what no area touches encoded once (:mod:`.bands`), or None
        when that does not apply (several frames, a format or option it does not write):
        then each variant is rendered whole. ``known``: the first frame's patches
        (``area_patches``) already made, by (size, unit); ``run``: the pool (``Hooks.run``)."""
        if len(self.shown) != 1:
            return None
        frame, areas = self.shown[0], self.areas[0]
        with errors("pixelating"):
            patches = []
            for p in self.plans:
                hidden = (known or {}).get((p.size, p.unit)) or area_patches(
                    frame, areas, self.settings, p.size, p.unit
                )
                patches.append([(a.box, hide_box(frame, hidden, a.box)) for a in areas])
        with errors("encoding"):
            blobs = encode_together(
                frame,
                patches,
                self.out,
                (self.sixteen, self.wide, self.icc),
                threads,
                release=lambda: _release(frame),  # once in the writer's hands
                lean_over=spare,  # what the budget leaves for a writer's own buffers
                run=run,
            )
        if blobs is None:
            return None
        return tuple(
            plan.variant("full", frame.size, 1, self.out.fmt, blob)
            for plan, blob in zip(self.plans, blobs, strict=True)
        )


def _reduced(frame: Image.Image, scale: int) -> Decoded:
    """``frame`` reduced by ``scale`` (box averages), as a decode reduced by it would be."""
    return Decoded(frame.reduce(scale) if scale > 1 else frame, frame.size, scale)


def _release(frame: Image.Image) -> None:
    """Free the full-resolution frame, and give its memory back to the OS."""
    frame.close()
    give_back_memory()


def admit_areas(src: Source, data_bytes: int, settings: EngineSettings, budget: int) -> None:
    """Refuse, from the header alone, an area job that cannot fit ``budget`` even on one
    thread (``NotEnoughMemory``: how much it needs, what to raise)."""
    whole, together = area_memory(src, data_bytes, settings)
    check_memory(together or whole, budget, 1, _what_for(src))


def pixelate_areas(run: EngineRun) -> Pixelated:
    """Every variant of ``run.src`` with its regions and faces hidden."""
    src, settings = run.src, run.settings
    # The previous job's freed outputs can still be resident in the C heap (glibc trims on
    # free only over a threshold of up to 64 MB): given back so this job's peak is not on them.
    give_back_memory()
    # Refused before decoding (read_header's admit) when the job cannot fit; here the same
    # estimate caps the threads.
    whole, together = area_memory(src, len(run.data), settings)
    budget, what = run.hooks.memory_budget(), _what_for(src)
    with translate("decoding"):
        keep_tables = jpeg_tables(src.im, src.out_format, settings)
    decoded, timing, meta = run.decode(
        lambda size: 1, lambda im: private_metadata(kept_metadata(im))
    )
    with translate("decoding"):
        shown = [upright(f.image, src.transform) for f in decoded]
        del decoded
        if shown[0] is not src.im:
            src.im.close()  # the frame as stored, converted or oriented since: its memory
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

    # Hidden in the frame itself for that moment, not in a full-size copy.
    most_patches = area_patches(shown[0], areas[0], settings, most.size, most.unit)
    # Reduced first, as the whole-image path reduces its decode: the placeholder is 32 px
    # (resizing the full frame to it took ~30 ms at 12 MP, reducing it by 11 first ~10 ms).
    scale = decode_scale(shown[0].size, False, settings)
    with hidden_in_place(shown[0], most_patches) as hidden:
        placeholder = run.placeholder(lambda: _reduced(hidden, scale), 1, wide)
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
    with translate("encoding"):
        need = together or whole
        threads = check_memory(need, budget, run.threads(None), what)
        # What the encoding may hold beyond its estimate (the detector is done by then).
        spare = usable(budget) - need.held - need.encode - threads * need.per_thread
        known: dict[tuple[int, str], list[AreaPatch]] = {(most.size, most.unit): most_patches}
        variants = job.together(threads, spare, known, run.hooks.run)
    del most_patches  # the variant-by-variant path hides whole copies: not held through it
    if variants is None:
        # Variant by variant, as many at once as fit the memory budget (a count asked for
        # included).
        threads = check_memory(whole, budget, run.hooks.threads(settings), what)
        variants = run.encode(job, len(plans), threads)
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


def area_memory(
    src: Source, data_bytes: int, settings: EngineSettings
) -> tuple[JobMemory, JobMemory | None]:
    """What hiding areas in ``src`` holds at its peak, from the header (before decoding):
    variant by variant, and with the band writers (None when they would not apply). Both
    hold the frames at full resolution in their work mode, the encoded input, every variant's
    output and, with faces on, the detector's working memory; variant by variant adds per
    variant encoded at once a hidden full-size copy and its encoder's buffers (the registry's
    ``encode_bytes_per_px``), the band writers what :func:`.bands.together_bytes` says."""
    pixels = sum(w * h for w, h in src.sizes)
    fmt = src.out_format
    if fmt.pil == src.format:  # re-encoded in its own format: about the input's size each
        per_output = data_bytes + data_bytes // 4
    else:  # another format: its pixels' bytes when lossless, half a byte each when lossy
        per_output = pixels // 2 if fmt.lossy else pixels * 3
    width, height = src.sizes[0]
    outputs = len(plan_grids(width, height, settings)) * per_output
    detect = kept = 0
    if settings.faces:
        side = settings.face_working_size
        scale = min(1.0, side / max(width, height))  # the reduced copy the detector sees
        working = max(1, round(width * scale)) * max(1, round(height * scale))
        detect = min(DETECT_BYTES_PER_WORKING_PX * working, DETECT_MAX_BYTES)
        kept = DETECT_KEPT_BYTES
    frames, orienting = frame_bytes(src.im.mode, pixels)
    held, before = BASE_BYTES + data_bytes + frames, max(orienting, detect)
    whole = JobMemory(held, kept + outputs, fmt.encode_bytes_per_px * pixels, before)
    bands = together_bytes(fmt, settings, src.frames_used, (width, height), per_output)
    together = None
    if bands is not None:
        together = JobMemory(held, kept + outputs + bands[0], bands[1], before)
    return whole, together


def _what_for(src: Source) -> str:
    (width, height), count = src.sizes[0], len(src.sizes)
    size = f"{width}x{height}" if count == 1 else f"{count}-frame {width}x{height}"
    return f"hiding areas in this {size} image at full resolution"


def _union(areas: list[list[Area]]) -> list[Area]:
    """The first frame's areas, then any other frame's not among them."""
    union = list(areas[0])
    for frame_areas in areas[1:]:
        union.extend(a for a in frame_areas if a not in union)
    return union
