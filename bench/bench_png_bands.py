"""PNG band writer (engine/bands.encode_png_bands) on the evidence images, against Pillow's
own PNG (level 6, Z_RLE: what the PNG format asks of it) and against another tree's writer,
in one run.

    .venv/bin/python bench/bench_png_bands.py [--today /work/main/src] [--repeat 3]

Images: scikit-image's astronaut, coffee, chelsea, rocket and camera (also upscaled 4x,
bicubic: a smooth picture), and tests/conftest.py's photo-like image at 2 and 12 MP (seed 4,
as bench_areas.py). Each tree's writer runs in its own process on one variant without
patches (the whole picture through the writer, one thread); columns: the writer's bytes
against Pillow's and against today's, and its CPU ms (best of ``--repeat``) and the ratio to
today's; "no numpy": this tree's writer as an install without numpy runs it (no Paeth).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def images() -> dict[str, Image.Image]:
    from skimage import data

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import photo_like

    out = {
        name: Image.fromarray(getattr(data, name)())
        for name in ("astronaut", "coffee", "chelsea", "rocket", "camera")
    }
    out["camera 4x"] = out["camera"].resize((2048, 2048), Image.Resampling.BICUBIC)
    out["photo-like 2 MP"] = photo_like(1632, 1224, seed=4)
    out["photo-like 12 MP"] = photo_like(4000, 3000, seed=4)
    return out


def child(repeat: int, no_numpy: bool) -> None:
    from pixelpipe.engine.bands import encode_png_bands

    if no_numpy:
        from pixelpipe.engine import pngfilter

        pngfilter._has_numpy = lambda: False  # type: ignore[assignment]
        pngfilter._numpy = lambda: None  # type: ignore[assignment]

    doc = {}
    for name, im in images().items():
        best, size = float("inf"), 0
        for _ in range(repeat):
            c0 = time.process_time()
            files = encode_png_bands(im, [[]])
            best = min(best, time.process_time() - c0)
            assert files is not None
            size = len(files[0])
        doc[name] = (size, best * 1000)
    print(json.dumps(doc))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=Path, default=Path("/work/main/src"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--no-numpy", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.repeat, args.no_numpy)
        return
    got = {}
    runs = (("new", ROOT / "src", []), ("no numpy", ROOT / "src", ["--no-numpy"]))
    for tree, src, extra in (*runs, ("today", args.today, [])):
        env = {**os.environ, "PYTHONPATH": str(src)}
        cmd = [sys.executable, __file__, "--child", "--repeat", str(args.repeat), *extra]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        got[tree] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        "| image | size | Pillow bytes | new / Pillow | no numpy / Pillow | today / Pillow |"
        " new / today | new CPU ms | no numpy CPU ms | today CPU ms | new / today CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, im in images().items():
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=6, compress_type=3)
        pil = len(buf.getvalue())
        (nb, nc), (tb, tc) = got["new"][name], got["today"][name]
        ob, oc = got["no numpy"][name]
        print(
            f"| {name} | {im.width}x{im.height} {im.mode} | {pil:,} | {nb / pil:.3f} | "
            f"{ob / pil:.3f} | {tb / pil:.3f} | {nb / tb:.4f} | {nc:.0f} | {oc:.0f} | "
            f"{tc:.0f} | {nc / tc:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
