"""Face detector benchmark and evidence: cost (cold start, per image) and accuracy.

Not a test. ``make bench-faces`` (or ``.venv/bin/python bench/bench_faces.py``) prints, on this
machine and in this run:

* **cold start**: in a fresh process each time, ``import onnxruntime`` and the model load
  (read, input shape made dynamic, session built), median of ``--repeat`` processes;
* **per image**: a ``faces.Detector`` on a 2 MP (1632 x 1224) and a 12 MP (4000 x 3000) scene with
  faces, at 1 and 2 threads, model already loaded: median and best of ``--repeat`` runs, and
  the part spent making the reduced working copy;
* with ``--accuracy``: recall by face size and variant on tests/face_images.py's scenes at
  the default settings, the face-free pictures' detections and highest score, the padding each
  detected face needs to cover its hand-drawn head box, and recall in 12 MP photos by face size
  in the photo's pixels for several working sizes.

* with ``--crowd DIR``: recall by face width (photo pixels) and the detection's CPU on your
  own photos: every ``*.jpg`` / ``*.png`` in DIR with a truth file beside it (``NAME.json``:
  a list of ``[x, y, w, h]`` or ``[x, y, w, h, "label"]`` face boxes in the photo's pixels;
  a face counts as found when a detection overlaps it by IoU >= 0.3), for the base pass alone
  (no detail tiles: ``min_face_size`` larger than any face) and the default settings, and
  recall per label. Crowd photos of real people are rarely free to commit: keep them local.

* ``--precision``: the fp32 model against the int8 one that ``python -m pixelpipe.faces
  install`` derives, interleaved in this process (CPU per detection, faces found, ratio);
  ``PIXELPIPE_FACE_PRECISION=int8`` runs every other table on the int8 model.

``--doc`` prints the tables as Markdown (docs/PERFORMANCE.md, docs/faces-evidence.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import face_images as fi  # noqa: E402
from pixelpipe import faces  # noqa: E402

detect = faces.default_detector()

COLD = """
import json, time
t0, c0 = time.perf_counter(), time.process_time()
import onnxruntime
t1, c1 = time.perf_counter(), time.process_time()
from pixelpipe import faces
detect = faces.Detector(threads={threads})
detect.load()
t2, c2 = time.perf_counter(), time.process_time()
from PIL import Image
image = Image.new("RGB", (1632, 1224), "gray")
detect(image)
t3 = time.perf_counter()
detect(image)
t4 = time.perf_counter()
print(json.dumps({{"import_ms": (t1 - t0) * 1e3, "load_ms": (t2 - t1) * 1e3,
                  "cpu_ms": (c2 - c0) * 1e3, "first_ms": (t3 - t2) * 1e3,
                  "second_ms": (t4 - t3) * 1e3}}))
"""


def cold_start(repeat: int, threads: int = 1) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", COLD.format(threads=threads)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def per_image(repeat: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    scenes = {
        "2 MP (1632x1224)": fi.scene(96, size=(1632, 1224), count=6),
        "12 MP (4000x3000)": fi.scene(200, size=(4000, 3000), count=6),
    }
    for label, s in scenes.items():
        start = time.perf_counter()
        for _ in range(repeat):
            faces.working_copy(s.image, faces.DEFAULT_WORKING_SIZE)
        reduce_ms = (time.perf_counter() - start) / repeat * 1e3
        for threads in (1, 2):
            detect(s.image, threads=threads)  # loads the model, warms up
            times, cpu = [], []
            found = 0
            for _ in range(repeat):
                t, c = time.perf_counter(), time.process_time()
                found = len(detect(s.image, threads=threads))
                times.append((time.perf_counter() - t) * 1e3)
                cpu.append((time.process_time() - c) * 1e3)
            rows.append(
                {
                    "image": label,
                    "threads": threads,
                    "median_ms": statistics.median(times),
                    "best_ms": min(times),
                    "cpu_ms": statistics.median(cpu),
                    "reduce_ms": reduce_ms,
                    "faces": f"{found}/{len(s.faces)}",
                }
            )
    return rows


def accuracy() -> dict[str, object]:
    recall: dict[int, dict[str, tuple[int, int]]] = {}
    false_pos = 0
    needs: list[tuple[str, int, str, float]] = []
    min_iou = 1.0
    for px in fi.SIZES:
        recall[px] = {}
        for variant in fi.VARIANTS:
            s = fi.scene(px, variant)
            found = detect(s.image)
            used = set()
            hits = 0
            for truth in s.faces:
                scored = [
                    (fi.iou((f.x, f.y, f.w, f.h), truth.face), i) for i, f in enumerate(found)
                ]
                best, index = max(scored, default=(0.0, -1))
                if best >= 0.4:
                    hits += 1
                    used.add(index)
                    min_iou = min(min_iou, best) if px >= 24 else min_iou
                    face = found[index]
                    needs.append((truth.source, px, variant, _padding_needed(face, truth.head)))
            false_pos += len(found) - len(used)
            recall[px][variant] = (hits, len(s.faces))
    free = []
    for name, image in fi.face_free():
        low = detect(image, min_score=0.05)
        free.append((name, len([f for f in low if f.score >= faces.DEFAULT_MIN_SCORE]),
                     max((f.score for f in low), default=0.0)))  # fmt: skip
    big = {}
    for working_size in (1280, 1632, 2048):
        big[working_size] = {}
        for px in (32, 40, 48, 56, 64, 80):
            s = fi.scene(px, size=(4000, 3000), count=12, background_index=1)
            found = detect(s.image, working_size=working_size)
            hits = sum(
                any(fi.iou((f.x, f.y, f.w, f.h), t.face) >= 0.3 for f in found) for t in s.faces
            )
            big[working_size][px] = (hits, len(s.faces), len(found))
    lfw = {}
    for px in (32, 48, 64, 96):
        s = fi.lfw_scene(px)
        found = detect(s.image)
        hits = sum(any(fi.iou((f.x, f.y, f.w, f.h), t.face) >= 0.3 for f in found) for t in s.faces)
        non_faces = len(detect(fi.lfw_scene(px, faces=False).image))
        lfw[px] = (hits, len(found), non_faces)
    return {"recall": recall, "lfw": lfw, "false_positives_synthetic": false_pos, "face_free": free,
            "padding": needs, "min_iou_24": min_iou, "big": big}  # fmt: skip


def precision(repeat: int) -> None:
    """fp32 vs int8, interleaved, one thread: median CPU per detection and faces found."""
    from pixelpipe.faces.model import find_int8, find_model

    fp32 = find_model()
    int8 = None if fp32 is None else find_int8(fp32)
    if fp32 is None or int8 is None:
        print("\nno int8 model here (python -m pixelpipe.faces install derives it)")
        return
    models = {"fp32": faces.Detector(fp32), "int8": faces.Detector(int8)}
    scenes = {
        "2 MP, 6 faces of 96 px": fi.scene(96, size=(1632, 1224), count=6),
        "12 MP, 6 faces of 200 px": fi.scene(200, size=(4000, 3000), count=6),
        "12 MP, 12 faces of 40 px": fi.scene(40, size=(4000, 3000), count=12, background_index=1),
    }
    print("\n| image | fp32 CPU ms | int8 CPU ms | int8 / fp32 | faces fp32 | faces int8 |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, s in scenes.items():
        cpu: dict[str, list[float]] = {k: [] for k in models}
        found = {k: len(d(s.image)) for k, d in models.items()}  # loads, warms up
        for _ in range(repeat):
            for k, d in models.items():
                c = time.process_time()
                d(s.image)
                cpu[k].append((time.process_time() - c) * 1e3)
        a, b = statistics.median(cpu["fp32"]), statistics.median(cpu["int8"])
        print(f"| {label} | {a:.0f} | {b:.0f} | {b / a:.2f} | "
              f"{found['fp32']}/{len(s.faces)} | {found['int8']}/{len(s.faces)} |")  # fmt: skip


BINS = ((0, 18), (18, 22), (22, 26), (26, 32), (32, 40), (40, 60), (60, 10**6))


def _found(truth: list[float], found: list[faces.Face]) -> bool:
    box = (round(truth[0]), round(truth[1]), round(truth[2]), round(truth[3]))
    return any(fi.iou((f.x, f.y, f.w, f.h), box) >= 0.3 for f in found)


def crowd(folder: Path) -> None:
    """Recall by face width on photos with truth files (``--crowd``), base pass vs default."""
    from PIL import Image

    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    heads = " | ".join(f"{a}-{b - 1}" if b < 10**6 else f">={a}" for a, b in BINS)
    print(f"\n| photo | settings | {heads} | all | by label | CPU ms | runs | detail tiles "
          "| min_face_px |")  # fmt: skip
    print("|---|---|" + "---:|" * (len(BINS) + 6))
    for path in photos:
        truth_file = path.with_suffix(".json")
        if not truth_file.is_file():
            continue
        truths = json.loads(truth_file.read_text())
        truths = truths.get("faces", truths) if isinstance(truths, dict) else truths
        with Image.open(path) as im:
            image = im.convert("RGB")
        for label, min_face in (("base pass only", 10**5), ("default", 0)):
            detect(image, min_face_size=min_face)  # warm
            c = time.process_time()
            result = detect.detect(image, min_face_size=min_face)
            cpu = (time.process_time() - c) * 1e3
            ok = [_found(t, result.faces) for t in truths]
            cells = []
            for lo, hi in BINS:
                sel = [o for o, t in zip(ok, truths, strict=True) if lo <= t[2] < hi]
                cells.append(f"{sum(sel)}/{len(sel)}" if sel else "-")
            labels: dict[str, list[bool]] = {}
            for o, t in zip(ok, truths, strict=True):
                labels.setdefault(str(t[4]) if len(t) > 4 else "-", []).append(o)
            per = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(labels.items()))
            print(f"| {path.name} {image.width}x{image.height} | {label} | {' | '.join(cells)} | "
                  f"{sum(ok)}/{len(ok)} ({100 * sum(ok) / max(1, len(ok)):.1f} %) | {per} | "
                  f"{cpu:.0f} | {result.base_runs} | {result.detail_tiles}/{result.detail_grid} "
                  f"| {result.min_face_px} |", flush=True)  # fmt: skip


def _padding_needed(face: faces.Face, head: fi.Box) -> float:
    """The smallest ``padding`` for which ``faces.head_ellipse`` covers ``head``'s inscribed
    ellipse (72 points of its outline; ignoring clipping), to 0.001."""
    x, y, w, h = head
    outline = [
        (x + w / 2 + w / 2 * math.cos(t), y + h / 2 + h / 2 * math.sin(t))
        for t in (2 * math.pi * k / 72 for k in range(72))
    ]
    lo, hi = 0.0, 2.0
    if all(faces.head_ellipse(face, lo).contains(px, py) for px, py in outline):
        return 0.0
    while hi - lo > 0.001:
        mid = (lo + hi) / 2
        if all(faces.head_ellipse(face, mid).contains(px, py) for px, py in outline):
            hi = mid
        else:
            lo = mid
    return hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--doc", action="store_true", help="Markdown tables")
    parser.add_argument("--crowd", type=Path, help="folder of photos with NAME.json face boxes")
    parser.add_argument("--crowd-only", action="store_true", help="only the --crowd table")
    parser.add_argument("--precision", action="store_true", help="only fp32 vs int8")
    args = parser.parse_args()
    if args.precision:
        precision(args.repeat)
        return
    if args.crowd and args.crowd_only:
        crowd(args.crowd)
        return
    print(f"model: {detect.version}; working size {faces.DEFAULT_WORKING_SIZE}, "
          f"min score {faces.DEFAULT_MIN_SCORE}, padding {faces.DEFAULT_PADDING}")  # fmt: skip
    cold = {t: cold_start(args.repeat, t) for t in (1, 2)}
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print("\n| threads | import onnxruntime ms | model load ms | cold start ms | its CPU ms "
          "| first 2 MP detection ms | second |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for t, c in cold.items():
        print(f"| {t} | {c['import_ms']:.0f} | {c['load_ms']:.0f} | "
              f"{c['import_ms'] + c['load_ms']:.0f} | {c['cpu_ms']:.0f} | "
              f"{c['first_ms']:.0f} | {c['second_ms']:.0f} |")  # fmt: skip
    print("\n| image | threads | detect ms (median) | best | CPU ms | working copy ms | faces |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in per_image(args.repeat):
        print(f"| {r['image']} | {r['threads']} | {r['median_ms']:.0f} | {r['best_ms']:.0f} | "
              f"{r['cpu_ms']:.0f} | {r['reduce_ms']:.0f} | {r['faces']} |")  # fmt: skip
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.crowd:
        crowd(args.crowd)
    if not args.accuracy:
        return
    acc = accuracy()
    recall = acc["recall"]
    assert isinstance(recall, dict)
    print("\nRecall by face width (px, cheek to cheek) and variant, 4 faces each:\n")
    print("| face px | " + " | ".join(fi.VARIANTS) + " | all |")
    print("|---:|" + "---:|" * (len(fi.VARIANTS) + 1))
    for px, row in recall.items():
        hits = sum(h for h, _ in row.values())
        total = sum(n for _, n in row.values())
        cells = " | ".join(f"{h}/{n}" for h, n in row.values())
        print(f"| {px} | {cells} | {hits / total:.2f} |")
    print(f"\nfalse positives on the synthetic scenes: {acc['false_positives_synthetic']}; "
          f"lowest IoU of a found face >= 24 px: {acc['min_iou_24']:.2f}")  # fmt: skip
    free = acc["face_free"]
    assert isinstance(free, list)
    print(f"\nface-free pictures: {len(free)}, detections at {faces.DEFAULT_MIN_SCORE}: "
          f"{sum(n for _, n, _ in free)}; highest score of any candidate: "
          f"{max(s for _, _, s in free):.3f} ({max(free, key=lambda r: r[2])[0]})")  # fmt: skip
    needs = acc["padding"]
    assert isinstance(needs, list)
    print("\nPadding needed for the head ellipse to cover the head (faces >= 24 px):\n")
    print("| variant | astronaut max | camera max | all: median | p90 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant in fi.VARIANTS:
        sel = [n for n in needs if n[2] == variant and n[1] >= 24]
        vals = sorted(n[3] for n in sel)
        ast = max(n[3] for n in sel if n[0] == "astronaut")
        cam = max(n[3] for n in sel if n[0] == "camera")
        print(f"| {variant} | {ast:.2f} | {cam:.2f} | {statistics.median(vals):.2f} | "
              f"{vals[int(0.9 * (len(vals) - 1))]:.2f} | {vals[-1]:.2f} |")  # fmt: skip
    lfw = acc["lfw"]
    assert isinstance(lfw, dict)
    print("\nLFW subset (100 people, tight 25 px grey crops enlarged; 100 non-face crops):\n")
    print("| face px | faces found | detections | detections on non-faces |")
    print("|---:|---:|---:|---:|")
    for px, (hits, n, non) in lfw.items():
        print(f"| {px} | {hits}/100 | {n} | {non} |")
    big = acc["big"]
    assert isinstance(big, dict)
    sizes = list(next(iter(big.values())))
    print("\nRecall in a 12 MP photo (4000x3000, 12 faces) by face width in the photo's pixels:\n")
    print("| working size | " + " | ".join(f"{p} px" for p in sizes) + " |")
    print("|---:|" + "---:|" * len(sizes))
    for ws, row in big.items():
        print(f"| {ws} | " + " | ".join(f"{h}/{n}" for h, n, _ in row.values()) + " |")


if __name__ == "__main__":
    main()
