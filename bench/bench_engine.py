"""Engine benchmark: pixelpipe side by side with the original design, sharp and the codec floor.

Not a test. ``make bench`` (or ``.venv/bin/python bench/bench_engine.py``) generates a
photo-like corpus at 0.3, 2, 12 and 24 MP as JPEG, PNG and WebP (cached in bench/.cache/) and
measures, on this machine and in this run, per image:

* **straightforward** -- the original design: for each of the five sizes, open and decode,
  resize to n x n (bilinear), resize back (nearest), save in the input's format with Pillow's
  defaults; five full decodes, one thread;
* **sharp** -- the same job with sharp/libvips as well as sharp can do it (bench/sharp_job.mjs:
  one decode with shrink-on-load to pixelpipe's decode scale, five outputs concurrently, the
  same encoder settings as pixelpipe). Installed by this script with ``npm install --prefix
  bench`` into bench/node_modules (git-ignored); skipped, with a message, without Node/npm;
* **sharp, default PNG** -- for PNG inputs, the same sharp job with sharp's default PNG
  settings (no palette: sharp's palette quantises the full-size image, most of its PNG time),
  reported in a table of its own so that time and bytes are seen together;
* **floor** -- the codec's unavoidable cost: decode at the scale pixelpipe decodes at, plus
  Pillow encoding the five finished full-size outputs (built beforehand, not timed) with
  pixelpipe's encoder settings, on as many threads as pixelpipe uses;
* **pixelpipe** -- ``pixelpipe.pixelate(data)`` with its defaults.

Every measurement runs in a fresh process (so peak RSS is that job's): a warm-up run, then the
best wall and CPU time (all threads) of ``--repeat`` runs; a job whose warm-up takes over 2 s is
measured once. Ratios are pixelpipe / other: below 1 means pixelpipe is faster (or smaller).
Quality is the same everywhere: JPEG 75 (Pillow's default), WebP 80 lossy for the
straightforward approach (Pillow's default) and lossless (effort 0) for pixelpipe, sharp and
the floor.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

import pixelpipe
from pixelpipe.engine import available_cpus
from pixelpipe.engine.blocks import save_bytes
from pixelpipe.formats import BY_NAME
from pixelpipe.settings import EngineSettings

SIZES = (8, 16, 32, 48, 64)
MEGAPIXELS = (0.3, 2, 12, 24)
FORMATS = {"jpeg": ("JPEG", "jpg", {"quality": 90}), "png": ("PNG", "png", {}),
           "webp": ("WEBP", "webp", {"quality": 90})}  # fmt: skip
HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
APPROACHES = ("straightforward", "sharp", "floor", "pixelpipe")
SHARP_PNG_DEFAULT = "sharp-png-default"  # PNG inputs only, its own table
SLOW_MS = 2000  # a warm-up slower than this is the only run


def photo_like(megapixels: float, seed: int = 0) -> Image.Image:
    """A deterministic 4:3 image of about ``megapixels``: see :func:`scene`."""
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    return scene(w, int(w * 3 / 4), seed)


def scene(w: int, h: int, seed: int = 0) -> Image.Image:
    """A deterministic w x h image with smooth gradients, hard edges and sensor-like noise."""
    import numpy as np  # here: the measured processes should not carry it

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


def corpus(megapixels: list[float], formats: list[str]) -> list[Path]:
    CACHE.mkdir(exist_ok=True)
    paths = []
    for mp in megapixels:
        im = None
        for fmt in formats:
            pil, ext, kwargs = FORMATS[fmt]
            path = CACHE / f"photo-{mp:g}mp.{ext}"
            if not path.exists():
                im = im or photo_like(mp)
                im.save(path, pil, **kwargs)
            paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# The jobs (each returns the total output bytes)


def straightforward(data: bytes) -> Callable[[], int]:
    def run() -> int:
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

    return run


def engine(data: bytes) -> Callable[[], int]:
    return lambda: sum(len(v.data) for v in pixelpipe.pixelate(data).variants)


def floor(data: bytes) -> Callable[[], int]:
    """Decode at pixelpipe's scale + encode pixelpipe's five finished outputs, nothing else."""
    result = pixelpipe.pixelate(data)
    scale = result.decode_scale
    fmt = BY_NAME[result.variants[0].format]
    kwargs = fmt.save_kwargs(None, {})
    grids = pixelpipe.pixelate(data, EngineSettings(output="grid", format="png")).variants
    size = (result.source.width, result.source.height)
    outputs = []
    for g in grids:
        with Image.open(io.BytesIO(g.data)) as im:
            im = im if fmt.name == "png" else im.convert("RGB")
            outputs.append(im.resize(size, Image.Resampling.NEAREST))
    pool = ThreadPoolExecutor(min(len(outputs), available_cpus()))

    def run() -> int:
        with Image.open(io.BytesIO(data)) as im:
            if im.format == "JPEG" and scale > 1:
                im.draft(im.mode, (im.width // scale, im.height // scale))
            im.load()
        sizes = pool.map(lambda o: len(save_bytes(o, fmt.pil, **kwargs)), outputs)
        return sum(sizes)

    return run


JOBS = {"straightforward": straightforward, "pixelpipe": engine, "floor": floor}


def measure(approach: str, path: Path, repeat: int) -> dict[str, float]:
    """Run in a fresh process: best wall and CPU ms, peak RSS MB, output bytes."""
    run = JOBS[approach](path.read_bytes())

    def timed() -> tuple[float, float, int]:
        w0, c0 = time.perf_counter(), time.process_time()
        out = run()
        return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000, out

    wall, cpu, out = timed()
    if wall < SLOW_MS:
        wall = cpu = float("inf")
        for _ in range(repeat):
            w, c, out = timed()
            wall, cpu = min(wall, w), min(cpu, c)
    return {"wall_ms": wall, "cpu_ms": cpu, "rss_mb": peak_rss_mb(), "bytes": out}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: ru_maxrss would include the parent's peak,
    which Linux carries across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------
# The harness


def ensure_sharp() -> str | None:
    """None when sharp is ready, else why it is skipped."""
    if not (shutil.which("node") and shutil.which("npm")):
        return "sharp skipped: node and npm not found (install Node.js >= 18 to compare)"
    if not (HERE / "node_modules" / "sharp").is_dir():
        print("# installing sharp into bench/node_modules (npm ci --prefix bench) ...", flush=True)
        done = subprocess.run(
            ["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["npm failed"])[-1]
            return f"sharp skipped: npm could not install it ({last})"
    return None


def child(args: list[str]) -> dict[str, float]:
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ})
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["failed"]
        last = next((x for x in lines if "Error" in x), lines[-1])
        raise RuntimeError(f"{' '.join(args[:3])}...: {last}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_one(approach: str, path: Path, fmt: str, scale: int, repeat: int) -> dict[str, float]:
    if approach in ("sharp", SHARP_PNG_DEFAULT):
        script = HERE / "sharp_job.mjs"
        extra = ["default"] if approach == SHARP_PNG_DEFAULT else []
        return child(["node", str(script), str(path), fmt, str(scale), str(repeat), *extra])
    me = Path(__file__).resolve()
    return child([sys.executable, str(me), "--measure", approach, str(path), f"--repeat={repeat}"])


def fmt_ms(r: dict[str, float] | None) -> str:
    return "-" if r is None else f"{r['wall_ms']:.0f} / {r['cpu_ms']:.0f}"


def ratio(pp: dict[str, float], other: dict[str, float] | None, key: str) -> str:
    return "-" if other is None else f"{pp[key] / other[key]:.2f}"


Row = tuple[str, float, Any, dict[str, dict[str, float] | None]]


def tables(rows: list[Row]) -> list[str]:
    """The results as Markdown: time, CPU ratios, bytes and memory, the targets."""
    out = ["### Time: wall / CPU ms (CPU: all threads); ratios pixelpipe / other (wall)", ""]
    out.append("| image | MP | straightforward | sharp | floor | pixelpipe | "
               "pp/straightforward | pp/sharp | pp/floor |")  # fmt: skip
    out.append("|" + "---|" * 9)
    for name, mp, _, res in rows:
        pp = _pp(res)
        out.append(
            f"| {name} | {mp:.1f} | {fmt_ms(res['straightforward'])} | {fmt_ms(res['sharp'])} | "
            f"{fmt_ms(res['floor'])} | {fmt_ms(pp)} | "
            f"{ratio(pp, res['straightforward'], 'wall_ms')} | "
            f"{ratio(pp, res['sharp'], 'wall_ms')} | {ratio(pp, res['floor'], 'wall_ms')} |"
        )
    out += ["", "### CPU ratios, pixelpipe / other (all threads' CPU time)", ""]
    out += ["| image | pp/straightforward | pp/sharp | pp/floor |", "|---|---|---|---|"]
    for name, _, _, res in rows:
        pp = _pp(res)
        out.append(
            f"| {name} | {ratio(pp, res['straightforward'], 'cpu_ms')} | "
            f"{ratio(pp, res['sharp'], 'cpu_ms')} | {ratio(pp, res['floor'], 'cpu_ms')} |"
        )
    out += ["", "### Output bytes (five variants) and peak RSS of the process", ""]
    out.append(
        "| image | straightforward B | sharp B | pixelpipe B | pp/straightforward | pp/sharp | "
        "RSS MB straightforward / sharp / pixelpipe | decoded RGB MB |"
    )
    out.append("|" + "---|" * 8)
    for name, _, probe, res in rows:
        pp = _pp(res)
        rss = " / ".join(_get(res[a], "rss_mb", "{:.0f}") for a in APPROACHES if a != "floor")
        rgb = probe.source.width * probe.source.height * 3 / 2**20
        out.append(
            f"| {name} | {_get(res['straightforward'], 'bytes', '{:,.0f}')} | "
            f"{_get(res['sharp'], 'bytes', '{:,.0f}')} | {pp['bytes']:,.0f} | "
            f"{ratio(pp, res['straightforward'], 'bytes')} | {ratio(pp, res['sharp'], 'bytes')} "
            f"| {rss} | {rgb:.0f} |"
        )
    png = [(name, res) for name, _, probe, res in rows if probe.source.format == "PNG"]
    if any(res.get(SHARP_PNG_DEFAULT) for _, res in png):
        out += ["", "### PNG: sharp with pixelpipe's settings and with its defaults", ""]
        out.append(
            "| image | sharp, palette for 8x8/16x16: wall ms / bytes | sharp, default PNG: "
            "wall ms / bytes | pixelpipe: wall ms / bytes | pp/sharp-default wall | "
            "pp/sharp-default bytes |"
        )
        out.append("|" + "---|" * 6)
        for name, res in png:
            pp, plain, pal = _pp(res), res.get(SHARP_PNG_DEFAULT), res["sharp"]
            out.append(
                f"| {name} | {_wall_bytes(pal)} | {_wall_bytes(plain)} | {_wall_bytes(pp)} | "
                f"{ratio(pp, plain, 'wall_ms')} | {ratio(pp, plain, 'bytes')} |"
            )
    return [*out, "", *targets(rows)]


def _wall_bytes(r: dict[str, float] | None) -> str:
    return "-" if r is None else f"{r['wall_ms']:.0f} / {r['bytes']:,.0f}"


def targets(rows: list[Row]) -> list[str]:
    """Issue #6's targets, checked against this run's figures."""
    out = ["### Targets (issue #6)", "", "| target | pixelpipe / other, wall | met |"]
    out.append("|---|---|---|")

    def check(what: str, value: float | None, ok: bool) -> None:
        shown = "not measured" if value is None else f"{value:.2f}"
        out.append(f"| {what} | {shown} | {'yes' if value is not None and ok else 'NO'} |")

    for name, mp, probe, res in rows:
        pp = _pp(res)
        if round(mp) == 12 and probe.source.format in ("JPEG", "PNG"):
            for other, limit, label in (
                ("straightforward", 0.25, ">= 4x faster than straightforward (<= 0.25)"),
                ("sharp", 1.0, "faster than sharp (< 1.00)"),
                ("floor", 1.3, "<= 1.3x the codec floor (<= 1.30)"),
            ):  # fmt: skip
                r = res[other]
                value = None if r is None else pp["wall_ms"] / r["wall_ms"]
                ok = value is not None and (value < limit if other == "sharp" else value <= limit)
                check(f"{name}: {label}", value, ok)
        if round(mp) == 24 and probe.source.format == "JPEG":
            rgb = probe.source.width * probe.source.height * 3 / 2**20
            check(
                f"{name}: peak RSS / decoded RGB <= 3", pp["rss_mb"] / rgb, pp["rss_mb"] <= 3 * rgb
            )
    return out


def _pp(res: dict[str, dict[str, float] | None]) -> dict[str, float]:
    pp = res["pixelpipe"]
    assert pp is not None, "pixelpipe is always measured"
    return pp


def _get(r: dict[str, float] | None, key: str, fmt: str) -> str:
    return "-" if r is None else fmt.format(r[key])


MARK = ("<!-- bench_engine: start -->", "<!-- bench_engine: end -->")


def update_doc(path: Path, text: str) -> None:
    """Replace what is between the two MARK comments in ``path`` with ``text``."""
    doc = path.read_text()
    head, sep, rest = doc.partition(MARK[0])
    _, sep2, tail = rest.partition(MARK[1])
    if not (sep and sep2):
        raise SystemExit(f"{path}: no {MARK[0]} ... {MARK[1]} section to write into")
    path.write_text(f"{head}{MARK[0]}\n{text}\n{MARK[1]}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per job (best wins)")
    parser.add_argument("--mp", default=",".join(map(str, MEGAPIXELS)), help="megapixels")
    parser.add_argument("--formats", default=",".join(FORMATS), help="jpeg,png,webp")
    parser.add_argument("--only", default=",".join(APPROACHES), help="approaches to run")
    parser.add_argument("--doc", help="also write the results into this Markdown file")
    parser.add_argument("--measure", nargs=2, metavar=("APPROACH", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), args.repeat)))
        return 0

    approaches = [a for a in APPROACHES if a in args.only.split(",")]
    skip = ensure_sharp() if "sharp" in approaches else None
    if skip:
        approaches.remove("sharp")
    header = (
        f"pixelpipe {pixelpipe.__version__}, Pillow {Image.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, {available_cpus()} CPUs, "
        f"{time.strftime('%Y-%m-%d')}; best of {args.repeat}"
    )
    print(f"# {header}")
    if skip:
        print(f"# {skip}")
    paths = corpus([float(m) for m in args.mp.split(",")], args.formats.split(","))
    rows = []
    for path in paths:
        data = path.read_bytes()
        probe = pixelpipe.pixelate(data)
        fmt = probe.variants[0].format
        res: dict[str, dict[str, float] | None] = dict.fromkeys(APPROACHES)
        for a in approaches:
            res[a] = run_one(a, path, fmt, probe.decode_scale, args.repeat)
        if "sharp" in approaches and fmt == "png":
            res[SHARP_PNG_DEFAULT] = run_one(
                SHARP_PNG_DEFAULT, path, fmt, probe.decode_scale, args.repeat
            )
        mp = probe.source.width * probe.source.height / 1e6
        rows.append((path.name, mp, probe, res))
        line = ", ".join(f"{a} {fmt_ms(res[a])}" for a in approaches)  # progress
        print(f"# {path.name}: {line}", flush=True)

    out = [header, *([f"# {skip}"] if skip else []), "", *tables(rows)]
    print("\n".join(out[1:]))
    if args.doc:
        update_doc(Path(args.doc), "\n".join(out))
        print(f"\n# results written into {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
