"""Engine benchmark: pixelpipe against the straightforward approach of the original design.

Not a test. Run ``make bench`` (or ``.venv/bin/python bench/bench_engine.py``). It generates a
photo-like corpus at 0.3, 2, 12 and 24 MP as JPEG and PNG (cached under bench/.cache/), then,
in one process, single-threaded, measures per image:

* straightforward: for each size, open + decode, resize to n x n (bilinear), resize back
  (nearest), save in the input's format -- five full decodes, as the original Lambda did;
* pixelpipe: ``pixelpipe.pixelate`` with the default settings (same five sizes, same format).

Each figure is the best of ``--repeat`` runs (default 3). Ratios are straightforward/pixelpipe
time (higher is better) and pixelpipe/straightforward output bytes (lower is better).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import pixelpipe

SIZES = (8, 16, 32, 48, 64)
MEGAPIXELS = (0.3, 2, 12, 24)
CACHE = Path(__file__).parent / ".cache"


def photo_like(megapixels: float, seed: int = 0) -> Image.Image:
    """A deterministic 4:3 image with smooth gradients, edges and sensor-like noise."""
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    x /= w
    y /= h
    base = 110 * np.sin(6 * x + 2 * y) * np.cos(5 * y - x) + 128
    img = np.stack([base, np.roll(base, h // 7, 0), 255 - base], -1)
    for _ in range(25):  # hard-edged shapes, as in real scenes
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        img[y0 : y0 + h // 8, x0 : x0 + w // 10] = rng.integers(0, 256, 3)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def corpus() -> list[tuple[str, bytes]]:
    CACHE.mkdir(exist_ok=True)
    items = []
    for mp in MEGAPIXELS:
        im = None
        for fmt, ext in (("JPEG", "jpg"), ("PNG", "png")):
            path = CACHE / f"photo-{mp}mp.{ext}"
            if not path.exists():
                im = im or photo_like(mp)
                kwargs = {"quality": 90} if fmt == "JPEG" else {}
                im.save(path, fmt, **kwargs)
            items.append((path.name, path.read_bytes()))
    return items


def straightforward(data: bytes) -> int:
    """The original design: decode, resize, resize, save -- once per size."""
    total = 0
    for n in SIZES:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            small = im.resize((n, n), Image.Resampling.BILINEAR)
            out = small.resize(im.size, Image.Resampling.NEAREST)
        buf = io.BytesIO()
        out.save(buf, fmt)
        total += buf.tell()
    return total


def engine(data: bytes) -> int:
    result = pixelpipe.pixelate(data)
    return sum(len(v.data) for v in result.variants)


def best_ms(fn: Callable[[bytes], int], data: bytes, repeat: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(repeat):
        t0 = time.process_time()
        size = fn(data)
        best = min(best, (time.process_time() - t0) * 1000)
    return best, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(
        f"# pixelpipe {pixelpipe.__version__}, Pillow {Image.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}, CPU time, best of "
        f"{args.repeat}"
    )
    print()
    header = (
        "| image | MP | straightforward ms | pixelpipe ms | speed-up | "
        "straightforward bytes | pixelpipe bytes | bytes ratio |"
    )
    print(header)
    print("|" + "---|" * 8)
    for name, data in corpus():
        with Image.open(io.BytesIO(data)) as im:
            mp = im.width * im.height / 1e6
        s_ms, s_bytes = best_ms(straightforward, data, args.repeat)
        p_ms, p_bytes = best_ms(engine, data, args.repeat)
        print(
            f"| {name} | {mp:.1f} | {s_ms:.0f} | {p_ms:.0f} | {s_ms / p_ms:.2f}x | "
            f"{s_bytes:,} | {p_bytes:,} | {p_bytes / s_bytes:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
