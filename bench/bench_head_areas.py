"""Head-tight face areas (issue #21 item 2): the head ellipse against the old padded rectangle.

Prints, for the old area (the face box grown by 0.9 face heights at the sides, 1.25x that
above, 0.4x below: ``faces.pad`` before #21) and the new one (``faces.head_ellipse`` at the
default padding), measured in the same run:

* on tests/face_images.py's scenes (astronaut frontal, camera profile; 6 variants; faces of
  16..320 px): the share of each hand-drawn head hidden (the head taken as the ellipse
  inscribed in its box: the box's corners are background), the faces whose whole head is
  hidden, and the hidden pixels per face-box pixel (frontal: astronaut upright, flipped, dark,
  blurred; all);
* on real photos: scikit-image's astronaut (512 x 512, one frontal face), any picture
  given with ``--photo`` (local evidence, e.g. a group photo; never committed), and with
  ``--crowd PHOTO`` two crowds made of that photo's heads (each detected face cropped with its
  hair, scaled and pasted edge to edge in rows: 1600 x 1200 with faces of 30-118 px, 4000 x
  3000 with 20-118 px; fixed seed): the share of
  the picture hidden, the share outside the faces' boxes grown by 30 % at each side (1.6x) and
  by 60 % at each side (2.2x) that changes, and whether every detected face box is inside
  what is hidden.

    python bench/bench_head_areas.py [--photo PATH ...] [--crowd PATH] [--sizes 24,48,...]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "src"))

import face_images as fi  # noqa: E402
from pixelpipe import faces  # noqa: E402

OLD_PADDING, OLD_TOP, OLD_BOTTOM = 0.9, 1.25, 0.4


def old_mask(face: faces.Face, size: tuple[int, int]) -> np.ndarray:
    """What #13..#20 hid: the padded rectangle."""
    grow = OLD_PADDING * face.h
    x1, y1 = max(0, math.floor(face.x - grow)), max(0, math.floor(face.y - OLD_TOP * grow))
    x2 = min(size[0], math.ceil(face.x + face.w + grow))
    y2 = min(size[1], math.ceil(face.y + face.h + OLD_BOTTOM * grow))
    mask = np.zeros((size[1], size[0]), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def new_mask(face: faces.Face, size: tuple[int, int]) -> np.ndarray:
    """What #21 hides: the head ellipse and the detector's box."""
    mask = fi.ellipse_mask(faces.head_ellipse(face, faces.DEFAULT_PADDING, size), size)
    return mask | box_mask((face.x, face.y, face.w, face.h), size)


def box_mask(box: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    x, y, w, h = box
    mask = np.zeros((size[1], size[0]), dtype=bool)
    mask[max(0, math.floor(y)) : math.ceil(y + h), max(0, math.floor(x)) : math.ceil(x + w)] = True
    return mask


def evidence(detect: faces.Detector, sizes: list[int]) -> None:
    rows: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    whole = {"old": [0, 0], "new": [0, 0]}
    for px in sizes:
        for variant in fi.VARIANTS:
            s = fi.scene(px, variant)
            found = detect(s.image)
            for truth in s.faces:
                best = max(
                    found, key=lambda f: fi.iou((f.x, f.y, f.w, f.h), truth.face), default=None
                )
                if best is None or fi.iou((best.x, best.y, best.w, best.h), truth.face) < 0.4:
                    continue
                head = fi.head_mask(truth, s.image.size)
                frontal = truth.source == "astronaut" and not variant.startswith("rot")
                for name, make in (("old", old_mask), ("new", new_mask)):
                    mask = make(best, s.image.size)
                    share = float((head & mask).sum() / head.sum())
                    ratio = float(mask.sum() / (best.w * best.h))
                    r = rows[name]
                    r.setdefault("share", []).append(share)
                    r.setdefault("ratio", []).append(ratio)
                    r.setdefault("frontal" if frontal else "turned", []).append(ratio)
                    whole[name][0] += share == 1.0
                    whole[name][1] += 1
    print(f"\nHand-drawn heads, faces of {sizes[0]}..{sizes[-1]} px, {len(fi.VARIANTS)} variants "
          f"(padding: old {OLD_PADDING}, new {faces.DEFAULT_PADDING}):\n")  # fmt: skip
    print("| area | heads wholly hidden | least share of a head hidden | hidden / face box: "
          "frontal median | frontal max | turned or rotated max | all median |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("old", "new"):
        r = rows[name]
        print(f"| {name} | {whole[name][0]}/{whole[name][1]} | {min(r['share']):.4f} | "
              f"{statistics.median(r['frontal']):.2f} | {max(r['frontal']):.2f} | "
              f"{max(r['turned']):.2f} | {statistics.median(r['ratio']):.2f} |")  # fmt: skip
    old_med, new_med = (
        statistics.median(rows["old"]["ratio"]),
        statistics.median(rows["new"]["ratio"]),
    )
    print(f"\nnew / old hidden pixels (median per face): {new_med / old_med:.2f}x")


def photo(detect: faces.Detector, name: str, image: Image.Image) -> None:
    image = image.convert("RGB")
    size = image.size
    found = detect(image)
    total = size[0] * size[1]
    widths = sorted(f.w for f in found)
    shown = widths if len(widths) <= 12 else f"{widths[0]}..{widths[-1]}" if widths else "-"
    print(f"\n{name}: {size[0]}x{size[1]}, {len(found)} faces (widths {shown})\n")
    print("| area | picture hidden | changed outside boxes +30 %/side | outside +60 %/side | "
          "face boxes inside the hidden area |")  # fmt: skip
    print("|---|---:|---:|---:|---:|")
    near = {g: np.zeros((size[1], size[0]), dtype=bool) for g in (0.3, 0.6)}
    for f in found:
        for g, mask in near.items():
            mask |= box_mask(
                (f.x - g * f.w, f.y - g * f.h, f.w * (1 + 2 * g), f.h * (1 + 2 * g)), size
            )
    for label, make in (("old", old_mask), ("new", new_mask)):
        hidden = np.zeros((size[1], size[0]), dtype=bool)
        for f in found:
            hidden |= make(f, size)
        inside = sum(bool(hidden[f.y : f.y + f.h, f.x : f.x + f.w].all()) for f in found)
        out30, out60 = ((hidden & ~near[g]).sum() / total for g in (0.3, 0.6))
        print(f"| {label} | {hidden.sum() / total:.1%} | {out30:.2%} | {out60:.2%} | "
              f"{inside}/{len(found)} |")  # fmt: skip


def crowd(detect: faces.Detector, image: Image.Image, size: tuple[int, int], lo: int, hi: int
          ) -> Image.Image:  # fmt: skip
    """``image``'s heads (each face box grown 0.55 of its width at the sides, 0.75 of its height
    above, 0.35 below) pasted edge to edge in rows, face widths ``lo``..``hi`` px (one per row,
    +-10 % per face), over ``image`` stretched to ``size``."""
    rng = random.Random(7)
    heads = []
    for f in detect(image):
        x0, y0 = max(0, int(f.x - 0.55 * f.w)), max(0, int(f.y - 0.75 * f.h))
        x1 = min(image.width, int(f.x + 1.55 * f.w))
        y1 = min(image.height, int(f.y + 1.35 * f.h))
        heads.append((image.crop((x0, y0, x1, y1)), f.w))
    if not heads:
        raise SystemExit("no face found in the crowd's photo")
    canvas = image.resize(size, Image.Resampling.BICUBIC)
    y = 0
    while y < size[1]:
        width, x, row_h = rng.randint(lo, hi), 0, 0
        while True:
            head, fw = rng.choice(heads)
            k = rng.uniform(0.9, 1.1) * width / fw
            w, h = max(1, round(head.width * k)), max(1, round(head.height * k))
            if x + w > size[0] or y + h > size[1]:
                break
            canvas.paste(head.resize((w, h), Image.Resampling.LANCZOS), (x, y))
            x, row_h = x + w, max(row_h, h)
        if row_h == 0:
            break
        y += int(row_h * 0.9)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photo", action="append", default=[], help="a local photo to measure")
    parser.add_argument("--crowd", help="a local photo whose heads make two crowds")
    parser.add_argument("--sizes", default=",".join(map(str, fi.SIZES)))
    args = parser.parse_args()
    detect = faces.Detector()
    evidence(detect, [int(v) for v in args.sizes.split(",")])
    photo(detect, "scikit-image astronaut", fi.load("astronaut.png"))
    for path in args.photo:
        with Image.open(path) as im:
            photo(detect, Path(path).name, im)
    if args.crowd:
        with Image.open(args.crowd) as im:
            source = im.convert("RGB")
        for size, lo in (((1600, 1200), 30), ((4000, 3000), 20)):
            name = f"crowd of {Path(args.crowd).name}'s heads, {size[0]}x{size[1]}"
            photo(detect, name, crowd(detect, source, size, lo, 118))


if __name__ == "__main__":
    main()
