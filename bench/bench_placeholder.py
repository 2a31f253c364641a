"""Placeholder benchmark: what the manifest's ``placeholder`` costs, and what it is worth.

Not a test. ``.venv/bin/python bench/bench_placeholder.py`` measures, on this machine and in
this run:

1. **share of a 12 MP job** -- ``pixelate(data)`` with the default settings on the 12 MP
   photo-like JPEG, PNG and WebP of bench_engine.py's corpus (bench/.cache/), ``--repeat``
   runs after a warm-up: the job's wall and CPU time, the placeholder's (the engine's
   ``timings_ms["placeholder"]`` and the hook's thread CPU time, measured inside those same
   jobs: the small copy of the reduced decode, orientation, BlurHash, ThumbHash, data URI,
   colour) and their ratios; and ``placeholder_of`` (what ``pixelpipe placeholder`` runs per
   file) on the same inputs;
2. **encoders** -- pixelpipe's BlurHash and ThumbHash against the PyPI packages that do the
   same in pure Python (``blurhash``, ``thumbhash``; in the dev extra), on the same copies;
3. **work size** -- how far the decoded placeholders move when computed from a smaller copy
   than the 100 px ThumbHash allows: mean absolute difference in levels of the decoded
   pictures (BlurHash decoded by PyPI's ``blurhash``; ThumbHash by evanw's reference decoder
   in tests/decoders/ when Node and its node_modules are there).

Best of ``--repeat`` runs (wall and CPU time), as bench_engine.py reports; ``--doc FILE``
also writes the tables between the ``<!-- bench_placeholder -->`` markers of that file.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from bench_engine import corpus, photo_like
from pixelpipe import placeholder as ph
from pixelpipe.engine import Hooks, available_cpus, pixelate, placeholder_of

HERE = Path(__file__).resolve().parent
DECODERS = HERE.parent / "tests" / "decoders"
MARK = "<!-- bench_placeholder -->"


def min_ms(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs after a warm-up, in ms."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


def share_table(repeat: int) -> list[str]:
    """Wall: best of the runs (the engine's own ``timings_ms``); CPU: the job's process CPU
    time (all threads) and the placeholder hook's thread CPU time, best of the runs. CPU time
    does not grow while other work holds the CPUs, so its share is the steadier figure."""
    rows = [
        "| 12 MP input | job wall (ms) | placeholder wall (ms) | share | job CPU (ms) "
        "| placeholder CPU (ms) | share | `placeholder_of` wall (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    hook_cpu: list[float] = []
    original = Hooks.default().placeholder

    def timed(*args: Any) -> Any:
        t0 = time.thread_time()
        try:
            return original(*args)
        finally:
            hook_cpu.append((time.thread_time() - t0) * 1000)

    hooks = Hooks(placeholder=timed)
    for path in corpus([12], ["jpeg", "png", "webp"]):
        data = path.read_bytes()
        pixelate(data, hooks=hooks)  # warm-up
        walls, parts, cpus = [], [], []
        hook_cpu.clear()
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            result = pixelate(data, hooks=hooks)
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
            parts.append(result.timings_ms["placeholder"])
        job, part = min(walls), min(parts)
        job_cpu, part_cpu = min(cpus), min(hook_cpu[1:])
        only = min_ms(lambda data=data: placeholder_of(data), repeat)
        rows.append(
            f"| {path.suffix.lstrip('.').upper()} | {job:.1f} | {part:.2f} | {part / job:.2%} "
            f"| {job_cpu:.0f} | {part_cpu:.2f} | {part_cpu / job_cpu:.2%} | {only:.1f} |"
        )
    return rows


def encoder_table(repeat: int) -> list[str]:
    try:
        import blurhash
        import numpy as np
        import thumbhash
    except ImportError:
        return ["(encoders: pip install -e '.[dev]' for the PyPI packages to compare with)"]
    big = photo_like(0.3, seed=1)
    w, h = big.size
    small = big.resize(ph.work_size(w, h), Image.Resampling.BOX)
    tiny = small.resize(ph.fit(*small.size, ph.THUMBHASH_SIDE), Image.Resampling.BOX)
    nx, ny = ph.blurhash_components(w, h)
    array = np.asarray(small)
    rgba = list(tiny.convert("RGBA").tobytes())
    rows = [
        "| encoder, input | pixelpipe (ms) | PyPI package (ms) | package / pixelpipe |",
        "|---|---|---|---|",
    ]
    pairs = [
        (
            f"BlurHash {nx}x{ny}, {small.width}x{small.height} px",
            lambda: ph.blurhash(small, nx, ny),
            lambda: blurhash.encode(array, nx, ny),
            "`blurhash` 1.1.5",
        ),
        (
            f"ThumbHash, {tiny.width}x{tiny.height} px",
            lambda: ph.thumbhash(tiny, w / h),
            lambda: thumbhash.rgba_to_thumb_hash(tiny.width, tiny.height, rgba),
            "`thumbhash` 0.1.2",
        ),
        (
            f"all four fields, {small.width}x{small.height} px",
            lambda: ph.make(small, w, h),
            None,
            "",
        ),
    ]
    for label, ours, theirs, package in pairs:
        a = min_ms(ours, repeat * 4)
        if theirs is None:
            rows.append(f"| {label} | {a:.2f} | — | — |")
            continue
        b = min_ms(theirs, max(3, repeat))
        rows.append(f"| {label} | {a:.2f} | {b:.1f} ({package}) | {b / a:.0f}x |")
    return rows


def thumbhash_decoder() -> Callable[[list[str]], list[list[int]]] | None:
    node = shutil.which("node")
    if not (node and (DECODERS / "node_modules" / "thumbhash").is_dir()):
        return None

    def run(hashes: list[str]) -> list[list[int]]:
        done = subprocess.run(
            [node, str(DECODERS / "decode.mjs")],
            input=json.dumps([{"thumbhash": h} for h in hashes]),
            capture_output=True,
            text=True,
            check=True,
        )
        return [a["rgba"] for a in json.loads(done.stdout)]

    return run


def size_table() -> list[str]:
    try:
        import blurhash
        import numpy as np
    except ImportError:
        return ["(work size: pip install -e '.[dev]')"]
    decode_th = thumbhash_decoder()
    sides = (100, 64, 32, 24, 16)
    blur: dict[int, list[float]] = {s: [] for s in sides[1:]}
    thumb: dict[int, list[float]] = {s: [] for s in sides[1:]}
    for seed in range(6):
        big = photo_like(0.12, seed=seed)
        if seed % 2:
            big = big.transpose(Image.Transpose.TRANSPOSE)  # portrait too
        w, h = big.size
        copies = {s: big.resize(ph.fit(w, h, s), Image.Resampling.BOX) for s in sides}
        dw, dh = ph.fit(w, h, 32)
        nx, ny = ph.blurhash_components(w, h)
        pics = {
            s: np.array(blurhash.decode(ph.blurhash(c, nx, ny), dw, dh), dtype=float)
            for s, c in copies.items()
        }
        for s in sides[1:]:
            blur[s].append(float(np.abs(pics[s] - pics[100]).mean()))
        if decode_th:
            hashes = [base64.b64encode(ph.thumbhash(copies[s], w / h)).decode() for s in sides]
            decoded = [np.array(p, dtype=float) for p in decode_th(hashes)]
            for s, d in zip(sides[1:], decoded[1:], strict=True):
                thumb[s].append(float(np.abs(d - decoded[0]).mean()))
    rows = [
        "| copy's longer side | BlurHash vs 100 px (levels) | ThumbHash vs 100 px (levels) |",
        "|---|---|---|",
    ]
    for s in sides[1:]:
        t = f"{statistics.mean(thumb[s]):.2f}" if thumb[s] else "— (no Node decoder)"
        rows.append(f"| {s} px | {statistics.mean(blur[s]):.2f} | {t} |")
    return rows


def update_doc(path: Path, text: str) -> None:
    doc = path.read_text()
    if doc.count(MARK) != 2:
        raise SystemExit(f"{path}: needs two {MARK} lines around the results")
    head, _, rest = doc.partition(MARK)
    _, _, tail = rest.partition(MARK)
    path.write_text(f"{head}{MARK}\n{text}\n{MARK}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--doc", help="also write the tables into this Markdown file")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {available_cpus()} CPUs, Python {platform.python_version()}"
    print(f"# placeholder cost and quality ({machine}; best of {args.repeat})", flush=True)
    parts: list[str] = []
    for title, make in (
        ("Share of a 12 MP job (default settings: five full-size variants)", share_table),
        ("Encoders on the same copies", encoder_table),
        ("Work size (photo-like images, mean over 6, landscape and portrait)", size_table),
    ):
        rows = make(args.repeat) if make is not size_table else size_table()
        block = "\n".join([f"**{title}**", "", *rows])
        print(block + "\n", flush=True)
        parts.append(block)
    if args.doc:
        update_doc(
            Path(args.doc), f"_{machine}; best of {args.repeat} runs._\n\n" + "\n\n".join(parts)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
