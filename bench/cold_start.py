"""Cold import of the Lambda handler from an unzipped package, as Lambda's read-only
/var/task runs it: a fresh ``python -I -S -B`` process per run (-B: nothing is written, so a
package without bytecode compiles every module every time).

    python bench/cold_start.py dist/pixelpipe-lambda.zip [--python python3.13] [--runs 7]

Prints the zip's size and files, then min / median / max of ``import pixelpipe.handler``
(inside the process) and of the whole process, in ms. Figures: docs/DEPLOY.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

CODE = (
    "import sys, time\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "t = time.perf_counter()\n"
    "import pixelpipe.handler\n"
    "print((time.perf_counter() - t) * 1000)\n"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zip", type=Path)
    ap.add_argument("--python", default="python3.13")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with zipfile.ZipFile(args.zip) as zf:
        infos = zf.infolist()
        unzipped = sum(i.file_size for i in infos)
        pycs = sum(1 for i in infos if i.filename.endswith(".pyc"))
        with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
            zf.extractall(tmp)
            imports, wholes = [], []
            env = {"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
            for _ in range(args.runs):
                t0 = time.perf_counter()
                out = subprocess.run(
                    [args.python, "-I", "-S", "-B", "-c", CODE, tmp],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                wholes.append((time.perf_counter() - t0) * 1000)
                imports.append(float(out.stdout.strip()))
    size = args.zip.stat().st_size
    print(
        f"{args.zip}: {size / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped, "
        f"{len(infos)} files ({pycs} .pyc)"
    )
    for name, values in (("import pixelpipe.handler", imports), ("whole process", wholes)):
        print(
            f"  {name}: min {min(values):.0f} ms, median {statistics.median(values):.0f} ms, "
            f"max {max(values):.0f} ms ({args.runs} runs, {args.python})"
        )


if __name__ == "__main__":
    main()
