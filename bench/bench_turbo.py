"""Areas hidden in the DCT domain (libturbojpeg's transform API) against today's area path,
in one run: the feasibility evidence for issue 22 item 1 (docs/PERFORMANCE.md).

    PYTHONPATH=src .venv/bin/python bench/bench_turbo.py [--repeat 3] [--sizes 2,12]

For photo-like JPEGs (q90; 4:2:0, 4:2:2, 4:4:4, grayscale, progressive, width and height
not multiples of 16) and one region (plus a region at the image's bottom-right edge): the
whole-image job and today's area job through ``pixelpipe.pixelate`` (five variants), and
the coefficient path (:mod:`pixelpipe.engine.turbo`): the same five variants' area pixels
from the engine's own ``area_patches``/``hide_box``, each area's MCU-aligned crop encoded
with the source's tables and read back as coefficients, then one ``tjTransform`` writing all
five files. CPU ms (best of ``--repeat``) with ratios to the whole-image job, bytes against
today's, and over the pixels outside the areas the share that differ from the source's
decode (and inside the areas, the 99th percentile of the difference against today's).
Needs libturbojpeg (Debian ``libturbojpeg0``) and numpy.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
SIZES = {"2": (1632, 1224), "12": (4000, 3000)}
FIVE = (8, 16, 32, 48, 64)


def coefficient_path(
    data: bytes,
    regions: tuple[tuple[int, int, int, int], ...],
    crops: bool = False,
    progressive: bool = False,
) -> list[bytes]:
    """The five variants of ``data`` with ``regions`` hidden, through tjTransform. With
    ``crops``, nothing is decoded whole: each area's pixels come from a lossless crop of
    one MCU more around it, decoded on its own (regions need no other pixels)."""
    from pixelpipe import EngineSettings
    from pixelpipe.areas import region_areas
    from pixelpipe.engine import turbo
    from pixelpipe.engine.hide import area_patches, hide_box
    from pixelpipe.engine.metadata import jpeg_tables
    from pixelpipe.formats import BY_NAME

    settings = EngineSettings(sizes=FIVE, regions=regions)
    im = Image.open(io.BytesIO(data))
    sampling = turbo.sampling_of(data)
    assert sampling is not None
    options = jpeg_tables(im, BY_NAME["jpeg"], settings)
    mw, mh = sampling.mcu
    areas = region_areas(settings.regions, *im.size)
    if crops:  # one area per frame piece: its aligned box, a margin of one MCU around it
        pieces = []
        for a in areas:
            at = turbo.aligned(a.box, sampling.mcu, im.size)
            x0, y0 = max(0, at[0] - mw), max(0, at[1] - mh)
            x1 = min(im.size[0], at[0] + at[2] + mw)
            y1 = min(im.size[1], at[1] + at[3] + mh)
            small = Image.open(io.BytesIO(turbo.crop(data, (x0, y0, x1 - x0, y1 - y0))))
            piece = small.convert(im.mode)
            shifted = replace(a, box=(a.box[0] - x0, a.box[1] - y0, *a.box[2:]))
            pieces.append((piece, [shifted], (x0, y0), at, a.box))
    else:
        frame = im.convert(im.mode)  # decoded whole, as today's area path (orientation 1)
        pieces = [
            (frame, areas, (0, 0), turbo.aligned(a.box, sampling.mcu, im.size), a.box)
            for a in areas
        ]
    variants = []
    for size in FIVE:
        blocks: turbo.Blocks = {}
        for piece, local, (ox, oy), at, box in pieces:
            hidden = area_patches(piece, local, settings, size, "grid")
            crop = hide_box(piece, hidden, (at[0] - ox, at[1] - oy, at[2], at[3]))
            for comp, rows in turbo.area_blocks(crop, at, [box], sampling, options).items():
                for row, got in rows.items():
                    blocks.setdefault(comp, {}).setdefault(row, []).extend(got)
        variants.append(blocks)
    return turbo.write_variants(data, variants, progressive)


def _decode(blob: bytes) -> Any:
    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"), dtype=np.int16)


def compare(data: bytes, boxes: list[tuple[int, int, int, int]], outs: list[bytes]) -> Any:
    source = _decode(data)
    outside = np.ones(source.shape[:2], dtype=bool)
    for x, y, w, h in boxes:
        outside[y : y + h, x : x + w] = False
    share = 0.0
    for blob in outs:
        diff = np.abs(_decode(blob) - source).max(axis=2)[outside]
        share = max(share, float((diff > 0).mean()))
    return share, outside


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        c0 = time.process_time()
        out = fn()
        best = min(best, (time.process_time() - c0) * 1000)
    return best, out


def inputs(sizes: list[str]) -> list[tuple[str, bytes]]:
    from conftest import photo_like

    out = []
    for key in sizes:
        w, h = SIZES[key]
        im = photo_like(w, h, seed=4)
        for label, kw in (
            ("4:2:0", {"subsampling": 2}),
            ("4:2:2", {"subsampling": 1}),
            ("4:4:4", {"subsampling": 0}),
            ("progressive 4:2:0", {"subsampling": 2, "progressive": True}),
        ):
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=90, **kw)
            out.append((f"{key} MP {label}", buf.getvalue()))
        buf = io.BytesIO()
        im.convert("L").save(buf, "JPEG", quality=90)
        out.append((f"{key} MP grey", buf.getvalue()))
    buf = io.BytesIO()
    photo_like(1001, 757, seed=5).save(buf, "JPEG", quality=90)
    out.append(("1001x757 4:2:0", buf.getvalue()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="2,12")
    args = parser.parse_args()
    from pixelpipe import EngineSettings, pixelate
    from pixelpipe.engine import turbo

    if turbo.library() is None:
        raise SystemExit("libturbojpeg is not installed (apt-get install libturbojpeg0)")
    print(
        "| input | region | whole CPU ms | today CPU ms | today / whole | turbo CPU ms |"
        " turbo / whole | crops only CPU ms | crops / whole | bytes / today |"
        " progressive bytes / today |"
        " outside changed, today | outside changed, turbo |"
        " inside p99 vs today |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, data in inputs(args.sizes.split(",")):
        w, h = Image.open(io.BytesIO(data)).size
        for where, region in (
            ("inner", (100, 100, 400, 300)),
            ("edge", (w - 333, h - 211, 333, 211)),
        ):
            whole_ms, _ = timed(lambda d=data: pixelate(d, EngineSettings(sizes=FIVE)), args.repeat)
            s = EngineSettings(sizes=FIVE, regions=(region,))
            today_ms, today = timed(lambda d=data, s=s: pixelate(d, s), args.repeat)
            turbo_ms, outs = timed(lambda d=data, r=region: coefficient_path(d, (r,)), args.repeat)
            crops_ms, crop_outs = timed(
                lambda d=data, r=region: coefficient_path(d, (r,), crops=True), args.repeat
            )
            assert crop_outs == outs, "the crops' variants differ from the whole decode's"
            today_outs = [v.data for v in today.variants]
            changed_today, _ = compare(data, [region], today_outs)
            changed_turbo, outside = compare(data, [region], outs)
            p99 = 0.0
            for a, b in zip(outs, today_outs, strict=True):
                d = np.abs(_decode(a) - _decode(b)).max(axis=2)[~outside]
                p99 = max(p99, float(np.percentile(d, 99)))
            size = sum(map(len, outs)) / sum(map(len, today_outs))
            prog = coefficient_path(data, (region,), progressive=True)
            prog_size = sum(map(len, prog)) / sum(map(len, today_outs))
            print(
                f"| {label} | {where} | {whole_ms:.0f} | {today_ms:.0f}"
                f" | {today_ms / whole_ms:.2f}x"
                f" | {turbo_ms:.0f} | {turbo_ms / whole_ms:.2f}x"
                f" | {crops_ms:.0f} | {crops_ms / whole_ms:.2f}x | {size:.3f} | {prog_size:.3f}"
                f" | {changed_today * 100:.2f} % | {changed_turbo * 100:.3f} % | {p99:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
