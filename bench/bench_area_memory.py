"""Peak memory of area jobs (one region, faces) next to the whole-image job, at 12, 48 and ~99
MP, JPEG and PNG, through the CLI as an operator runs it, under a Lambda-sized budget.

    .venv/bin/python bench/bench_area_memory.py [--sizes 12,48,99] [--memory-mb 1024]
        [--today /work/main/src] [--keep DIR]

Every job is one ``pixelpipe pixelate`` process (``-j 1``) run by ``/usr/bin/time`` (its
maximum resident set size), with ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` set so that the engine's
memory budget is the function's. Inputs are photo-like pictures (tests/conftest.py's, drawn at
a quarter of the size and enlarged) with two faces from tests/face_images.py pasted in; the
face job checks that every pasted face lies inside a hidden area. With ``--today``, the same
jobs run on that source tree too (e.g. main before this branch), job by job alternating.
Columns: exit status (``refused``: the engine's one-line refusal before decoding), wall
seconds, peak RSS in MB and its ratio to the whole-image job of the same tree and input.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"12": (4000, 3000), "48": (8000, 6000), "99": (11500, 8600)}
JOBS: dict[str, list[str]] = {
    "whole image": [],
    "one region": ["--region", "100,100,500,500"],
    "faces": ["--faces"],
}


def make_input(directory: Path, key: str, fmt: str) -> tuple[Path, list[tuple[int, ...]]]:
    """The ``key`` MP picture in ``fmt`` and the face boxes pasted into it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from PIL import Image, ImageOps

    from conftest import photo_like
    from face_images import scene

    width, height = SIZES[key]
    path = directory / f"{key}mp.{fmt.lower()}"
    faces_path = path.with_suffix(".faces.json")
    if path.exists() and faces_path.exists():
        return path, [tuple(b) for b in json.loads(faces_path.read_text())]
    # Drawn at 1/8 and enlarged: smooth enough that the ~99 MP PNG stays under the default
    # 50 MiB input limit (a noisy one would be refused by size before memory matters).
    im = photo_like(width // 8, height // 8, seed=4).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    sc = scene(256, "original", count=2)
    k = min(width / 2 / sc.image.width, height / 2 / sc.image.height)
    pasted = sc.image.resize(
        (round(sc.image.width * k), round(sc.image.height * k)), Image.Resampling.BICUBIC
    )
    im.paste(pasted, (width // 4, height // 4))
    faces = [
        (
            width // 4 + int(t.face[0] * k),
            height // 4 + int(t.face[1] * k),
            int(t.face[2] * k),
            int(t.face[3] * k),
        )
        for t in sc.faces
    ]
    if fmt == "PNG":  # 6 bits per channel: the ~99 MP PNG stays under the 50 MiB limit
        im = ImageOps.posterize(im, 6)
    im.save(path, fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 6}))
    faces_path.write_text(json.dumps(faces))
    return path, faces


def run_job(src: Path, path: Path, job: str, memory_mb: int, out: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "pixelpipe", "pixelate", str(path)]
    cmd += ["-o", str(out), "-j", "1", "--max-bytes", "200MiB", *JOBS[job]]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = done.stderr.strip().splitlines()
    rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    reason = next((ln for ln in lines if ": " in ln and "Command" not in ln), "")
    status = "ok" if done.returncode == 0 else ("refused" if "memory" in reason else "failed")
    if "signal" in done.stderr or done.returncode < 0:
        status = "killed"
    return {"status": status, "wall": wall, "rss": rss, "reason": reason}


def faces_hidden(out: Path, source: Path, faces: list[tuple[int, ...]]) -> str:
    """``yes`` when every output differs from the source inside every pasted face box."""
    import numpy as np
    from PIL import Image

    ref = np.asarray(Image.open(source).convert("RGB"), dtype=np.int16)
    outputs = sorted(out.glob("pixelated-*"))
    if not outputs:
        return "-"
    for o in outputs:
        got = np.asarray(Image.open(o).convert("RGB"), dtype=np.int16)
        for x, y, w, h in faces:
            # A hidden face: its pixels are blocks of the area, not the source's (mean
            # difference over the face box well above JPEG noise).
            if np.abs(got[y : y + h, x : x + w] - ref[y : y + h, x : x + w]).mean() < 4:
                return f"NO ({o.name})"
    return "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,48,99")
    parser.add_argument("--formats", default="JPEG,PNG")
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--today", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep inputs in this folder")
    parser.add_argument("--check-faces", action="store_true", help="check every face hidden")
    args = parser.parse_args()
    trees = {"new": ROOT / "src"}
    if args.today:
        trees["today"] = args.today
    print(f"AWS_LAMBDA_FUNCTION_MEMORY_SIZE={args.memory_mb}")
    print("| input | job | code | status | wall s | peak RSS MB | RSS / whole | faces hidden |")
    print("|---|---|---|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = args.keep or Path(tmp)
        inputs.mkdir(parents=True, exist_ok=True)
        for key in args.sizes.split(","):
            for fmt in args.formats.split(","):
                path, faces = make_input(inputs, key, fmt)
                mb = path.stat().st_size / 2**20
                label = f"{key} MP {fmt} ({mb:.0f} MiB)"
                whole: dict[str, float] = {}
                for job in args.jobs.split(","):
                    for name, src in trees.items():
                        out = Path(tmp) / f"out-{name}"
                        for old in out.glob("*"):
                            old.unlink()
                        r = run_job(src, path, job, args.memory_mb, out)
                        rss = float(r["rss"])  # type: ignore[arg-type]
                        whole.setdefault(name, rss)
                        hidden = "-"
                        if job == "faces" and r["status"] == "ok" and args.check_faces:
                            hidden = faces_hidden(out, path, faces)
                        print(
                            f"| {label} | {job} | {name} | {r['status']} | {r['wall']:.1f} | "
                            f"{rss:.0f} | {rss / whole[name]:.2f} | {hidden} |",
                            flush=True,
                        )
                        if r["status"] != "ok":
                            print(f"|   | {r['reason'][:200]} |", flush=True)


if __name__ == "__main__":
    main()
