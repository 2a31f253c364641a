"""What hiding only regions or faces costs, against pixelating the whole image, in one run.

    .venv/bin/python bench/bench_areas.py [--repeat 3]

For 2 MP and 12 MP photo-like images (JPEG and PNG, with two faces pasted from
scikit-image's pictures when the test data is importable), each job in this process, best of
``--repeat``: the whole image (the default path: reduced decode, block writers), one region,
and faces (detector included). Prints wall ms, CPU ms and the ratio to the whole-image job.
The areas path decodes at full resolution and encodes each variant as a full photo, so it is
bound by the codec: that is the ratio this prints.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import photo_like  # noqa: E402
from pixelpipe import EngineSettings, pixelate  # noqa: E402


def image(width: int, height: int) -> Image.Image:
    im = photo_like(width, height, seed=4)
    try:
        from face_images import scene

        sc = scene(max(64, width // 12), "original", count=2)
        im.paste(sc.image.resize((width // 2, height // 2)), (width // 4, height // 4))
    except Exception as exc:  # scikit-image missing: faces find nothing, the rest is the same
        print(f"(no faces pasted: {exc})", file=sys.stderr)
    return im


def best(data: bytes, settings: EngineSettings, repeat: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        pixelate(data, settings)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    jobs = {
        "whole image": EngineSettings(),
        "one region": EngineSettings(regions=((100, 100, 400, 300),)),
        "faces": EngineSettings(faces=True),
    }
    print("| input | job | wall ms | CPU ms | wall / whole |")
    print("|---|---|---:|---:|---:|")
    for label, (w, h) in {"2 MP": (1632, 1224), "12 MP": (4000, 3000)}.items():
        im = image(w, h)
        for fmt in ("JPEG", "PNG"):
            buf = io.BytesIO()
            im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            data = buf.getvalue()
            base = None
            for job, settings in jobs.items():
                wall, cpu = best(data, settings, args.repeat)
                base = base or wall
                print(f"| {label} {fmt} | {job} | {wall:.0f} | {cpu:.0f} | {wall / base:.1f} |")


if __name__ == "__main__":
    main()
