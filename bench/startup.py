"""Start-up cost of the ``pixelpipe`` command (issue 14): what a file command imports and how
long a whole process takes, measured in fresh processes.

    python bench/startup.py [--src DIR] [--runs 9] [--png FILE]

* ``python -X importtime``: the total import time of ``pixelpipe.cli`` and, for
  ``pixelpipe pixelate``, of everything the command imported (boto3/botocore should be
  absent);
* whole-process wall time, best and median of ``--runs``: ``pixelpipe --version``,
  ``pixelpipe pixelate --help``, and ``pixelpipe pixelate`` on one small JPEG;
* with ``--png FILE`` (e.g. bench/.cache/photo-12mp.png) and Node + sharp installed
  (bench/node_modules), the whole process of ``pixelpipe pixelate FILE`` against the whole
  process of sharp's decode-once script (bench/sharp_job.mjs, repeat 0: one job), with PNG
  palette (pixelpipe's settings) and with sharp's default PNG settings.

``--src DIR`` runs another checkout's ``src`` (e.g. the commit before a change) with this
interpreter, to compare. Figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
ENTRY = "import sys; from pixelpipe.cli import main; sys.argv[0] = 'pixelpipe'; main()"


def env_for(src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPIPE_")}
    if src:
        env["PYTHONPATH"] = src
    return env


def wall(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - t0) * 1000)
    return min(times), statistics.median(times)


def importtime(args: list[str], env: dict[str, str]) -> tuple[float, list[str]]:
    """Total import ms (sum of the top-level imports' cumulative times) and top packages."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    total, packages = 0, set()
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        packages.add(m[3].split(".")[0])
        if len(m[2]) == 1:  # top level: depth 0
            total += int(m[1])
    heavy = sorted(packages & {"boto3", "botocore", "PIL", "rich", "click", "moto"})
    return total / 1000, heavy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", help="another checkout's src/ to measure instead")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--png", type=Path, help="a large PNG for the whole-process comparison")
    args = ap.parse_args()
    env = env_for(args.src)
    py = [sys.executable, "-c", ENTRY]
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "cat.jpg"
        Image.new("RGB", (320, 240), (200, 120, 40)).save(photo)
        out = str(Path(tmp) / "out")
        cases = {
            "pixelpipe --version": ["--version"],
            "pixelpipe pixelate --help": ["pixelate", "--help"],
            "pixelpipe pixelate cat.jpg (320x240)": ["pixelate", str(photo), "-o", out, "-j", "1"],
        }
        print(f"# {sys.executable}, PYTHONPATH={args.src or '(installed)'}, {args.runs} runs")
        for name, cmd in cases.items():
            ms, heavy = min(importtime(cmd, env) for _ in range(3))
            best, median = wall([*py, *cmd], env, args.runs)
            print(
                f"{name}: imports {ms:.0f} ms ({', '.join(heavy) or 'none of boto3/PIL/rich'}); "
                f"whole process best {best:.0f} ms, median {median:.0f} ms"
            )
        if args.png:
            compare(args.png, py, env, Path(tmp), max(3, args.runs // 3))


def compare(png: Path, py: list[str], env: dict[str, str], tmp: Path, runs: int) -> None:
    from pixelpipe import pixelate

    cmd = [*py, "pixelate", str(png), "-o", str(tmp / "big"), "-j", "1"]
    best, median = wall(cmd, env, runs)
    pp_bytes = sum(p.stat().st_size for p in (tmp / "big").iterdir())
    print(f"pixelpipe pixelate {png.name}: best {best:.0f} ms, median {median:.0f} ms, "
          f"{pp_bytes:,} bytes")  # fmt: skip
    if not (HERE / "node_modules" / "sharp").is_dir():
        print("# sharp not installed (npm ci --prefix bench): no comparison")
        return
    scale = pixelate(png.read_bytes()).decode_scale
    for label, extra in (("palette for 8x8/16x16", []), ("default PNG", ["default"])):
        job = ["node", str(HERE / "sharp_job.mjs"), str(png), "png", str(scale), "0", *extra]
        best_s, median_s = wall(job, env, runs)
        done = subprocess.run(job, capture_output=True, text=True, check=True)
        sharp_bytes = int(re.search(r'"bytes":(\d+)', done.stdout)[1])  # type: ignore[index]
        print(
            f"sharp ({label}), one job, whole process: best {best_s:.0f} ms, median "
            f"{median_s:.0f} ms, {sharp_bytes:,} bytes; pixelpipe/sharp wall {best / best_s:.2f}, "
            f"bytes {pp_bytes / sharp_bytes:.2f}"
        )


if __name__ == "__main__":
    main()
