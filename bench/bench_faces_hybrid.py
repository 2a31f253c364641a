"""Evaluated and not built: "int8 finds, fp32 confirms" (docs/PERFORMANCE.md, "The int8 model").

Not a test, and not pixelpipe's detector: an experiment kept so that it can be run again (for
example with another int8 model). Every pass (strips, coarse run, detail tiles, verification)
runs the int8 model that ``python -m pixelpipe.faces install`` derives; then each face found is
run again through the fp32 model in a window around it, and the fp32 detection in the window
that overlaps the int8 box best (IoU >= 0.3) replaces it: its box, landmarks and score. fp32
scoring it under ``min_score`` drops it; fp32 not finding it at all (decoded down to 0.1) keeps
the int8 detection when it scored >= 0.5. Variants:

* **in-run**: inside each model run, fp32 on sub-windows of the run's own pixels (the same
  pixels and the same 32-px grid as the int8 run), the face's box grown by ``grow`` face sizes
  (at least ``pad`` px) on each side; overlapping windows are merged.
* **post-merge**: once per face after the passes' merge, in a window of the photo at the scale
  of the run that found it and on that run's 32-px grid (``face <= N``: at a smaller scale, the
  face at most N px, when it was found larger). The run's scale and origin are carried with
  each detection by a subclass of ``tiles.Found`` patched in for this script only.

For each: the checks of tests/test_faces.py (every face of 24-320 px found, nothing else, its
head wholly hidden), 16 px recall, LFW (tests' ``lfw_scene``), the face-free pictures, and then
in one interleaved run fp32, int8 and the hybrid's detection CPU and recall on a 12 MP portrait
(tests/test_face_tiles.py's) and, with ``--crowd DIR``, on your crowd photos (``NAME.json``
truth boxes beside them, as bench_faces.py --crowd).

    PYTHONPATH=src .venv/bin/python bench/bench_faces_hybrid.py --crowd /path/to/crowd
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import face_images as fi  # noqa: E402
from pixelpipe import faces  # noqa: E402
from pixelpipe.faces import detector as D  # noqa: E402
from pixelpipe.faces import tiles as T  # noqa: E402
from pixelpipe.faces.model import find_int8, find_model  # noqa: E402

FLOOR = 0.1  # fp32 decoded down to this in a window: "found, but weak" vs "not found"
KEEP_INT8 = 0.5  # not found by fp32 at all: the int8 detection stays from this score


class Framed(T.Found):
    """``tiles.Found`` with the run each detection came from: n x 3 (scale, origin x, origin y
    in the pixels of the photo at that scale)."""

    def __init__(self, boxes: Any, scores: Any, points: Any, frames: Any = None) -> None:
        super().__init__(boxes, scores, points)
        self.frames = np.tile([1.0, 0.0, 0.0], (len(scores), 1)) if frames is None else frames

    @classmethod
    def empty(cls) -> Framed:
        return cls(np.empty((0, 4)), np.empty(0), np.empty((0, 5, 2)), np.empty((0, 3)))

    @classmethod
    def join(cls, parts: list[Any]) -> Framed:
        parts = [p for p in parts if len(p.scores)]
        if not parts:
            return cls.empty()
        return cls(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in ("boxes", "scores")),
            np.concatenate([p.points for p in parts]),
            np.concatenate([getattr(p, "frames", np.tile([1.0, 0, 0], (len(p.scores), 1)))
                            for p in parts]),
        )  # fmt: skip

    def mapped(self, dx: float, dy: float, fx: float, fy: float) -> Framed:
        b = (self.boxes + np.array([dx, dy, dx, dy])) * np.array([fx, fy, fx, fy])
        p = (self.points + np.array([dx, dy])) * np.array([fx, fy])
        frames = (self.frames + np.array([0.0, dx, dy])) * np.array([1 / fx, 1.0, 1.0])
        return Framed(b, self.scores, p, frames)

    def take(self, keep: Any) -> Framed:
        return Framed(self.boxes[keep], self.scores[keep], self.points[keep], self.frames[keep])


@contextmanager
def framed() -> Iterator[None]:
    original = T.Found
    T.Found = Framed  # type: ignore[misc]
    try:
        yield
    finally:
        T.Found = original  # type: ignore[misc]


@dataclass
class Stats:
    confirm_px: int = 0
    confirm_runs: int = 0
    confirmed: int = 0
    weak: int = 0  # fp32 found it under min_score: dropped
    unfound: int = 0  # fp32 found nothing there
    detections: list[int] = field(default_factory=list)


@dataclass
class Hybrid:
    label: str
    where: str  # "in-run" or "post-merge"
    grow: float
    pad: int
    target: float = 0.0  # post-merge: confirm at a scale where the face is at most this
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        fp32 = find_model()
        assert fp32 is not None
        int8 = find_int8(fp32)
        assert int8 is not None, "python -m pixelpipe.faces install derives the int8 model"
        self.s32 = faces.Detector(fp32)._session(1)[1]
        self.s8 = faces.Detector(int8)._session(1)[1]

    def __call__(self, image: Image.Image, min_score: float = D.DEFAULT_MIN_SCORE) -> list[Any]:
        plan = T.plan(image.width, image.height, D.DEFAULT_WORKING_SIZE, 0)
        image = D._resizable(image)
        working, _, _ = D.working_copy(image, D.DEFAULT_WORKING_SIZE)
        run8 = D._runner(self.s8, min_score)
        if self.where == "in-run":
            run = self._in_run(run8, min_score)
            found = T.run_passes(image, working, plan, run, D._nms, D._rgb_array).found
        else:
            with framed():
                run = _framed_runner(run8)
                found = T.run_passes(image, working, plan, run, D._nms, D._rgb_array).found
                found = T.merge(self._post_merge(image, found, min_score), D._nms)
        self.stats.detections.append(len(found.scores))
        rows = D._rows(found)
        return [f for f in map(D._face, *rows, [image.size] * len(rows[1])) if f is not None]

    def _decide(self, box: Any, score: float, own: T.Found, f: T.Found, min_score: float) -> Any:
        m = T._best_iou(box, f.boxes)
        if m is None:
            self.stats.unfound += 1
            return own if score >= KEEP_INT8 else None
        if f.scores[m] < min_score:
            self.stats.weak += 1
            return None
        self.stats.confirmed += 1
        return f.take([m])

    def _windows(self, boxes: Any, w: int, h: int) -> list[list[int]]:
        out = []
        for x1, y1, x2, y2 in boxes:
            g = max(self.pad, self.grow * max(x2 - x1, y2 - y1))
            left, top = max(0, int((x1 - g) // 32) * 32), max(0, int((y1 - g) // 32) * 32)
            right, bottom = (
                min(w, math.ceil((x2 + g) / 32) * 32),
                min(h, math.ceil((y2 + g) / 32) * 32),
            )
            out.append([left, top, right, bottom])
        return out

    def _in_run(self, run8: T.Runner, min_score: float) -> T.Runner:
        run32 = D._runner(self.s32, FLOOR)

        def run(pixels: Any) -> tuple[T.Found, Any]:
            found, heat = run8(pixels)
            if not len(found.scores):
                return found, heat
            h, w = pixels.shape[:2]
            own = self._windows(found.boxes, w, h)
            merged = _merge_windows([list(x) for x in own])
            results = []
            for a, b, c, d in merged:
                f, _ = run32(pixels[b:d, a:c])
                self.stats.confirm_px += (c - a) * (d - b)
                self.stats.confirm_runs += 1
                results.append(f.mapped(a, b, 1.0, 1.0))
            kept = []
            for i, o in enumerate(own):
                k = next(k for k, m in enumerate(merged) if _inside(o, m))
                one = self._decide(found.boxes[i], found.scores[i], found.take([i]), results[k],
                                   min_score)  # fmt: skip
                if one is not None:
                    kept.append(one)
            out = T.Found.join(kept)
            return out.take(D._nms(out.boxes, out.scores, D.NMS_IOU)), heat

        return run

    def _post_merge(self, image: Image.Image, found: Framed, min_score: float) -> T.Found:
        run32 = D._runner(self.s32, FLOOR)
        width, height = image.size
        kept = []
        for i, box in enumerate(found.boxes):
            r, ox, oy = found.frames[i]
            side = max(box[2] - box[0], box[3] - box[1])
            if self.target and self.target / side < r:
                r, ox, oy = self.target / side, 0.0, 0.0
            lw, lh = max(1, round(width * r)), max(1, round(height * r))
            x1, y1, x2, y2 = box * np.array([lw / width, lh / height, lw / width, lh / height])
            g = max(self.pad, self.grow * max(x2 - x1, y2 - y1))
            a = max(0, round(ox + 32 * math.floor((x1 - g - ox) / 32)))
            b = max(0, round(oy + 32 * math.floor((y1 - g - oy) / 32)))
            c = min(lw, round(ox + 32 * math.ceil((x2 + g - ox) / 32)))
            d = min(lh, round(oy + 32 * math.ceil((y2 + g - oy) / 32)))
            fx, fy = width / lw, height / lh
            crop = image.resize((c - a, d - b), Image.Resampling.BILINEAR,
                                box=(a * fx, b * fy, c * fx, d * fy), reducing_gap=2.0)  # fmt: skip
            f, _ = run32(D._rgb_array(crop))
            self.stats.confirm_px += (c - a) * (d - b)
            self.stats.confirm_runs += 1
            one = self._decide(box, found.scores[i], found.take([i]), f.mapped(a, b, fx, fy),
                               min_score)  # fmt: skip
            if one is not None:
                kept.append(one)
        return T.Found.join(kept)


def _framed_runner(run8: T.Runner) -> T.Runner:
    def run(pixels: Any) -> tuple[T.Found, Any]:
        found, heat = run8(pixels)
        return Framed(found.boxes, found.scores, found.points), heat

    return run


def _inside(inner: list[int], outer: list[int]) -> bool:
    return bool(outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2]
                and outer[3] >= inner[3])  # fmt: skip


def _merge_windows(wins: list[list[int]]) -> list[list[int]]:
    changed = True
    while changed:
        changed = False
        for i in range(len(wins)):
            for j in range(i + 1, len(wins)):
                a, b = wins[i], wins[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    wins[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del wins[j]
                    changed = True
                    break
            if changed:
                break
    return wins


# --- the checks ---------------------------------------------------------------------------------


def box(f: Any) -> tuple[int, int, int, int]:
    return f.x, f.y, f.w, f.h


def evidence_failures(detect: Callable[[Image.Image], list[Any]]) -> list[str]:
    """tests/test_faces.py's test_every_face_of_24_px_and_up_is_found_with_its_head_covered,
    every size and variant (the test stops at a size's first failure)."""
    out = []
    for px in [p for p in fi.SIZES if p >= 24]:
        for variant in fi.VARIANTS:
            s = fi.scene(px, variant)
            found = detect(s.image)
            problems = []
            if len(found) != len(s.faces):
                problems.append(f"{len(found)} found")
            for t in s.faces:
                f = max(found, key=lambda f, t=t: fi.iou(box(f), t.face), default=None)
                if f is None or fi.iou(box(f), t.face) < 0.4:
                    problems.append(f"{t.source} missed")
                    continue
                head = faces.head_ellipse(f, faces.DEFAULT_PADDING, s.image.size)
                hidden = fi.ellipse_mask(head, s.image.size)
                hidden[f.y : f.y + f.h, f.x : f.x + f.w] = True
                n = int((fi.head_mask(t, s.image.size) & ~hidden).sum())
                if n:
                    problems.append(f"{n} px of a head uncovered")
            if problems:
                out.append(f"{px} {variant}: {', '.join(problems)}")
    return out


def recall_16(detect: Callable[[Image.Image], list[Any]]) -> int:
    n = 0
    for variant in fi.VARIANTS:
        s = fi.scene(16, variant)
        found = detect(s.image)
        n += sum(any(fi.iou(box(f), t.face) >= 0.4 for f in found) for t in s.faces)
    return n


def lfw(detect: Callable[[Image.Image], list[Any]]) -> str:
    cells = []
    for px in (32, 64):
        s = fi.lfw_scene(px)
        found = detect(s.image)
        hits = sum(any(fi.iou(box(f), t.face) >= 0.3 for f in found) for t in s.faces)
        cells.append(f"{hits}/{len(found)}/{len(detect(fi.lfw_scene(px, faces=False).image))}")
    return " ".join(cells)


def face_free(detect: Callable[[Image.Image], list[Any]]) -> int:
    return sum(len(detect(fi.face_free_image(case))) for case in fi.FACE_FREE_CASES)


def photos(crowd: Path | None) -> dict[str, tuple[Image.Image, list[Any]]]:
    from test_face_tiles import portrait

    image, truths = portrait()
    out = {"12 MP portrait (6 faces of 200 px)": (image, list(truths))}
    for path in sorted(crowd.iterdir()) if crowd else []:
        truth = path.with_suffix(".json")
        if path.suffix.lower() in (".jpg", ".jpeg", ".png") and truth.is_file():
            with Image.open(path) as im:
                picture = im.convert("RGB")
            boxes = json.loads(truth.read_text())
            boxes = boxes.get("faces", boxes) if isinstance(boxes, dict) else boxes
            out[f"{path.name} {picture.width}x{picture.height}"] = (picture, boxes)
    return out


def hits(found: list[Any], truths: list[Any]) -> int:
    return sum(
        any(fi.iou(box(f), tuple(round(v) for v in t[:4])) >= 0.3 for f in found) for t in truths
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--crowd", type=Path, help="folder of photos with NAME.json face boxes")
    parser.add_argument("--no-evidence", action="store_true", help="only the CPU table")
    args = parser.parse_args()
    fp32, int8 = find_model(), None
    int8 = find_int8(fp32) if fp32 else None
    if fp32 is None or int8 is None:
        sys.exit("needs the fp32 and the int8 model: python -m pixelpipe.faces install")
    plain = {"fp32": faces.Detector(fp32), "int8": faces.Detector(int8)}
    hybrids = [
        Hybrid("in-run, grow 2, pad 64", "in-run", 2.0, 64),
        Hybrid("post-merge, grow 2, pad 64", "post-merge", 2.0, 64),
        Hybrid("post-merge, grow 0.5, pad 32", "post-merge", 0.5, 32),
        Hybrid("post-merge, grow 2, pad 64, face <= 64", "post-merge", 2.0, 64, 64.0),
    ]
    detectors: dict[str, Callable[[Image.Image], list[Any]]] = {**plain}
    detectors.update({h.label: h for h in hybrids})
    if not args.no_evidence:
        print(
            "\n| detector | evidence heads (24-320 px x 6 variants) | 16 px | LFW 32 / 64 px "
            "(hits/detections/on non-faces) | face-free detections | fp32 weak / not found |"
        )
        print("|---|---|---:|---|---:|---|")
        for label, d in detectors.items():
            fails = evidence_failures(d)
            st = d.stats if isinstance(d, Hybrid) else None
            print(f"| {label} | {'all covered' if not fails else '; '.join(fails)} | "
                  f"{recall_16(d)}/24 | {lfw(d)} | {face_free(d)} | "
                  f"{f'{st.weak} / {st.unfound}' if st else '-'} |", flush=True)  # fmt: skip
    print("\n| photo | detector | detection CPU ms | / fp32 | faces found | confirm runs | "
          "confirm px |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, (image, truths) in photos(args.crowd).items():
        found = {k: d(image) for k, d in detectors.items()}  # loads, warms up
        for h in hybrids:
            h.stats = Stats()
        cpu: dict[str, list[float]] = {k: [] for k in detectors}
        for _ in range(args.repeat):
            for k, d in detectors.items():
                c = time.process_time()
                d(image)
                cpu[k].append((time.process_time() - c) * 1e3)
        base = statistics.median(cpu["fp32"])
        for k, d in detectors.items():
            ms = statistics.median(cpu[k])
            st = d.stats if isinstance(d, Hybrid) else None
            runs = f"{st.confirm_runs // args.repeat}" if st else "-"
            px = f"{st.confirm_px // args.repeat / 1e6:.2f} MP" if st else "-"
            recall = f"{hits(found[k], truths)}/{len(truths)}"
            print(f"| {name} | {k} | {ms:.0f} | {ms / base:.2f} | {recall} | {runs} | {px} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
