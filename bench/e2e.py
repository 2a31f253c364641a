"""End to end through the local stack: images per second with 1 and 2 workers, and
upload-to-manifest latency for 2 MP and 12 MP photos.

    python bench/e2e.py            (make e2e)

Each cell is one ``bench/load.py`` run in a process of its own (moto's state is per
process), so the same checks hold: every upload has its manifest and five outputs, nothing
was written twice, nothing reached the DLQ.

* **burst**: every upload at once; images/s = uploads / (first upload to last manifest).
  Its latency includes the wait in the queue behind the other uploads.
* **one at a time**: the next upload once the last manifest is written; latency is what a
  single user waits on an idle stack (S3 -> SQS notification, worker poll, fetch, pixelate,
  five PUTs, manifest).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# size -> (uploads in a burst, uploads one at a time)
COUNTS = {"2mp": (60, 30), "12mp": (24, 15)}


def load(size: str, workers: int, uploads: int, serial: bool) -> dict[str, object]:
    args = [sys.executable, str(HERE / "load.py"), "--json", "--size", size]
    args += ["--workers", str(workers), "--uploads", str(uploads)]
    done = subprocess.run(
        [*args, "--serial"] if serial else args, capture_output=True, text=True, check=False
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"load.py {size} x{workers} failed: {tail}")
    return dict(json.loads(lines[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(COUNTS), help="2mp,12mp")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        "local stack (moto server in the load process), workers as separate processes"
    )
    print(
        "\n| image | workers | burst: uploads | images/s | p50 / p95 ms (queued) | "
        "one at a time: uploads | p50 / p95 ms | lost / duplicated |"
    )
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for size in args.sizes.split(","):
        burst_n, serial_n = COUNTS[size]
        for workers in map(int, args.workers.split(",")):
            burst = load(size, workers, burst_n, serial=False)
            one = load(size, workers, serial_n, serial=True)
            problems = [
                len(r[k])  # type: ignore[arg-type]
                for r in (burst, one)
                for k in ("lost", "duplicated", "extra", "incomplete", "failed")
            ]
            lost = len(burst["lost"]) + len(one["lost"])  # type: ignore[arg-type]
            dup = len(burst["duplicated"]) + len(one["duplicated"])  # type: ignore[arg-type]
            ok = ok and not any(problems) and burst["dlq"] == one["dlq"] == 0
            print(
                f"| {size} | {workers} | {burst_n} | {burst['throughput']:.2f} | "
                f"{burst['p50_ms']:.0f} / {burst['p95_ms']:.0f} | {serial_n} | "
                f"{one['p50_ms']:.0f} / {one['p95_ms']:.0f} | {lost} / {dup} |",
                flush=True,
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
