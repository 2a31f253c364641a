"""The evidence behind pixelpipe's encoder settings: each default against its alternatives,
on the engine benchmark's 12 MP photo, one thread, best of ``--repeat``.

    python bench/encoders.py            (make encoders)

Every row is the engine's whole job (decode, grids, five full-size variants) with one
setting changed through ``encoder_options`` or ``quality``; the palette rows encode the 8x8
and 16x16 block images (64 and 256 colours) with ``BlockLayout.encode_png`` as an indexed and
as an RGB image.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from bench_engine import corpus
from pixelpipe import pixelate
from pixelpipe.engine import blocks
from pixelpipe.engine.blocks import BlockLayout
from pixelpipe.settings import EngineSettings


def best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    fn()
    times, out = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), out


def job(data: bytes, **kwargs: Any) -> Callable[[], int]:
    settings = EngineSettings(threads=1, **kwargs)
    return lambda: sum(len(v.data) for v in pixelate(data, settings).variants)


def zlib_level(level: int, fn: Callable[[], int]) -> Callable[[], int]:
    """``fn`` with the PNG row writer's zlib level set to ``level`` while it runs."""

    def run() -> int:
        saved, blocks._ZLEVEL = blocks._ZLEVEL, level
        try:
            return fn()
        finally:
            blocks._ZLEVEL = saved

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mp", type=float, default=12)
    args = parser.parse_args()
    jpg, png = corpus([args.mp], ["jpeg", "png"])
    rows: list[tuple[str, str, Callable[[], int]]] = []
    j, p = jpg.read_bytes(), png.read_bytes()
    rows += [
        ("JPEG", "optimised Huffman tables, 4:2:0 (default)", job(j)),
        ("JPEG", "standard tables", job(j, encoder_options={"optimize": False})),
        ("JPEG", "4:4:4 (no chroma subsampling)", job(j, encoder_options={"subsampling": 0})),
        ("JPEG", "progressive", job(j, encoder_options={"progressive": True})),
    ]
    for label, options in [
        ("lossless, effort 0, method 4 (default)", {}),
        ("lossless, effort 50", {"encoder_options": {"quality": 50}}),
        ("lossless, effort 100", {"encoder_options": {"quality": 100}}),
        ("lossless, effort 0, method 0", {"encoder_options": {"method": 0}}),
        ("lossless, effort 0, method 2", {"encoder_options": {"method": 2}}),
        ("lossless, effort 0, method 6", {"encoder_options": {"method": 6}}),
        ("lossy, quality 80", {"quality": 80}),
    ]:
        rows.append(("WebP", label, job(j, format="webp", **options)))
    rows += [
        ("PNG", "rows compressed once, zlib 9 (default)", job(p)),
        ("PNG", "rows compressed once, zlib 6", zlib_level(6, job(p))),
        ("PNG", "rows compressed once, zlib 1", zlib_level(1, job(p))),
        ("PNG", "same, as JPEG input", job(j, format="png")),
    ]
    grids = pixelate(p, EngineSettings(sizes=(8, 16), output="grid", format="png")).variants
    with Image.open(io.BytesIO(p)) as im:
        size = im.size
    for v in grids:
        with Image.open(io.BytesIO(v.data)) as g:
            g.load()
        layout = BlockLayout(g.size, size, size)
        for mode, image in (("indexed", g), ("RGB", g.convert("RGB"))):
            rows.append(
                (
                    "PNG",
                    f"{v.size}x{v.size} block image ({len(g.getcolors(256) or [])} colours), "
                    f"{mode}",
                    lambda layout=layout, image=image: len(layout.encode_png(image) or b""),
                )
            )
    print(f"# {jpg.name} / {png.name}; one thread; best of {args.repeat}\n")
    print("| format | setting | ms | bytes |")
    print("|---|---|---|---|")
    for fmt, label, fn in rows:
        ms, out = best(fn, args.repeat)
        print(f"| {fmt} | {label} | {ms:.0f} | {out:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
