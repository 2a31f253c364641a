"""What hiding one region or faces costs, against pixelating the whole image and against the
previous area path, in one run.

    .venv/bin/python bench/bench_areas.py [--repeat 2] [--today /work/main/src] [--sizes 2,12]
        [--formats JPEG,PNG] [--jobs "whole image,one region,faces"] [--rounds 1]

For 2 MP and 12 MP photo-like images (JPEG q90 and PNG, with two faces pasted from
scikit-image's pictures when the test data is importable), three jobs: the whole image (the
default path: reduced decode, block writers), one region, and faces (detector included).
Every job runs in a fresh Python process (best of ``--repeat`` in it), so each has its own
peak RSS; this tree's job and the same job on ``--today``'s sources (a checkout of the
previous code, e.g. main before the band writers) alternate, job by job; with ``--rounds``,
the whole sequence runs that many times and each cell is the median. Columns: wall and
CPU ms, both as ratios to this tree's whole-image job on the same input, the detector's own
ms, the process's peak RSS, the bytes of all variants and their ratio to today's, and, over
the pixels outside the areas, the share that differ from the source's decode and the 99th
percentile of the difference (levels, largest channel).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The same five variants in every job and in both trees (with areas and no sizes given,
# pixelpipe now writes 3x3 and 5x5 only: two outputs against five would not compare).
FIVE = {"sizes": (8, 16, 32, 48, 64)}
JOBS: dict[str, dict[str, Any]] = {
    "whole image": FIVE,
    "one region": {**FIVE, "regions": ((100, 100, 400, 300),)},
    "faces": {**FIVE, "faces": True},
}
SIZES = {"2": (1632, 1224), "12": (4000, 3000)}


def make_inputs(
    directory: Path, sizes: list[str], formats: tuple[str, ...] = ("JPEG", "PNG")
) -> list[tuple[str, Path]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import photo_like

    out = []
    for key in sizes:
        width, height = SIZES[key]
        im = photo_like(width, height, seed=4)
        try:
            from face_images import scene

            sc = scene(max(64, width // 12), "original", count=2)
            im.paste(sc.image.resize((width // 2, height // 2)), (width // 4, height // 4))
        except Exception as exc:  # scikit-image missing: faces find nothing, the rest is the same
            print(f"(no faces pasted: {exc})", file=sys.stderr)
        for fmt in formats:
            path = directory / f"{key}mp.{fmt.lower()}"
            im.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            out.append((f"{key} MP {fmt}", path))
    return out


def child(path: str, job: str, repeat: int) -> None:
    """One job in this process: prints its measurements as JSON."""
    from bench_engine import peak_rss_mb
    from pixelpipe import EngineSettings, pixelate

    data = Path(path).read_bytes()
    settings = EngineSettings(**JOBS[job])
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        result = None
        t0, c0 = time.perf_counter(), time.process_time()
        result = pixelate(data, settings)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    assert result is not None
    rss = peak_rss_mb()
    doc = {
        "wall": min(wall),
        "cpu": min(cpu),
        "detect": result.timings_ms.get("detect", 0.0),
        "rss": rss,
        "bytes": sum(len(v.data) for v in result.variants),
    }
    if result.areas:
        doc.update(_outside(data, result))
    print(json.dumps(doc))


def _outside(data: bytes, result: Any) -> dict[str, float]:
    """Over the pixels outside every area, in every full-size variant: the share that differ
    from the source's decode and the 99th percentile of the difference."""
    import numpy as np
    from PIL import Image

    source = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
    outside = np.ones(source.shape[:2], dtype=bool)
    for area in result.areas:
        x, y, w, h = area.box
        outside[y : y + h, x : x + w] = False
    share, p99 = 0.0, 0.0
    for v in result.variants:
        if v.kind != "full":
            continue
        got = np.asarray(Image.open(io.BytesIO(v.data)).convert("RGB"), dtype=np.int16)
        diff = np.abs(got - source).max(axis=2)[outside]
        share = max(share, float((diff > 0).mean()))
        p99 = max(p99, float(np.percentile(diff, 99)))
    return {"changed": share, "p99": p99}


def run(src: Path, path: Path, job: str, repeat: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--child", str(path), job, "--repeat", str(repeat)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{job} on {path.name} with {src} failed: {done.stderr.strip()[-400:]}")
    doc: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--today", type=Path, default=Path("/work/main/src"))
    parser.add_argument("--sizes", default="2,12")
    parser.add_argument("--formats", default="JPEG,PNG")
    parser.add_argument("--jobs", default=",".join(JOBS), help="whole image comes first")
    parser.add_argument("--rounds", type=int, default=1, help="medians over this many rounds")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "JOB"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.repeat)
        return
    trees = {"new": ROOT / "src", "today": args.today}
    print(
        "| input | job | code | wall ms | CPU ms | wall / whole | CPU / whole | detect ms |"
        " peak RSS MB | bytes | bytes / today | outside changed | outside p99 |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        formats = tuple(args.formats.split(","))
        jobs = args.jobs.split(",")
        for label, path in make_inputs(Path(tmp), args.sizes.split(","), formats):
            # Every round runs each job in both trees, alternating; the medians are printed.
            rounds = [
                {job: {name: run(src, path, job, args.repeat) for name, src in trees.items()}}
                for _ in range(args.rounds)
                for job in jobs
            ]
            got_all = {job: [r[job] for r in rounds if job in r] for job in jobs}
            base: dict[str, float] = {}
            for job in jobs:
                got = {name: _median([g[name] for g in got_all[job]]) for name in trees}
                base = base or got["new"]
                for name, r in got.items():
                    outside = (
                        f"{r['changed'] * 100:.2f} % | {r['p99']:.0f}"
                        if "changed" in r
                        else "- | -"
                    )
                    print(
                        f"| {label} | {job} | {name} | {r['wall']:.0f} | {r['cpu']:.0f} | "
                        f"{r['wall'] / base['wall']:.2f} | {r['cpu'] / base['cpu']:.2f} | "
                        f"{r['detect']:.0f} | {r['rss']:.0f} | {r['bytes'] / 1e6:.2f} M | "
                        f"{r['bytes'] / got['today']['bytes']:.3f} | {outside} |",
                        flush=True,
                    )


def _median(docs: list[dict[str, float]]) -> dict[str, float]:
    """Each measurement's median over the rounds (the same job in the same tree)."""
    return {key: statistics.median(d[key] for d in docs) for key in docs[0]}


if __name__ == "__main__":
    main()
