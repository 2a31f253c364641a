"""At how many blocks across a face does a face-recognition model stop re-identifying it?

Two parts:

* ``--sheet PATH``: a side-by-side sheet (Pillow only) of scikit-image's two face pictures
  (tests/face_images.py: astronaut, camera) pixelated at 2..20 blocks across the face's width
  (cheek to cheek), the whole head hidden with blocks of that size, as pixelpipe pixelates an
  area (bilinear down to the grid, nearest-neighbour back up). docs/img/blocks-across-faces.png
  is this sheet.
* the measurement (default): dlib's ResNet face-embedding model (``dlib_face_recognition_resnet
  _model_v1``, 128-d, "same person" below a distance of 0.6) re-identifies pixelated faces
  against a gallery of the *original* faces: the 100 faces of scikit-image's LFW subset
  (``skimage/data/lfw_subset.npy``, 25 x 25 grey crops of 100 people) plus the astronaut.
  Each face is pixelated at n blocks across its width and embedded through exactly the same
  crop and alignment as its original (the attacker knows where the face is and has its
  unpixelated photo: the strongest same-photo attacker, not one trained on mosaics). Printed:
  rank-1 identification (chance: 1 %), the median rank, the share of probes whose distance to
  their own original is under dlib's 0.6 threshold, and the median distance.

Optional dependencies, none of them pixelpipe's (install them in a separate virtualenv; both
ship prebuilt wheels and the model files inside the package, nothing is downloaded at run
time): ``pip install dlib-bin face_recognition_models numpy pillow``. The LFW subset and the
face pictures are read from an installed scikit-image wheel's ``skimage/data`` folder (give
its path with ``--skimage-data`` when scikit-image is not importable from this interpreter).

    python bench/bench_reidentify.py --skimage-data /path/to/site-packages/skimage/data
    python bench/bench_reidentify.py --sheet docs/img/blocks-across-faces.png
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

BLOCKS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20)
# Hand-drawn in the 512 x 512 pictures (tests/face_images.py): face = hairline..chin, cheek to
# cheek; head = hair, ears, chin.
FACES = {
    "astronaut.png": ((180, 60, 92, 117), (152, 15, 151, 167)),
    "camera.png": ((200, 118, 56, 78), (155, 62, 103, 136)),
}
CHIP = 150  # dlib's face chip


def skimage_data(given: str | None) -> Path:
    if given:
        return Path(given)
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image not found: give --skimage-data PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def pixelate_area(im: Image.Image, box: tuple[int, int, int, int], block: float) -> Image.Image:
    """``box`` of ``im`` hidden behind square blocks of ``block`` px, from the box's corner:
    bilinear down to the grid, nearest-neighbour back (pixelpipe's area semantics)."""
    x, y, w, h = box
    cols, rows = max(1, math.ceil(w / block)), max(1, math.ceil(h / block))
    area = im.crop((x, y, x + w, y + h))
    grid = area.resize((cols, rows), Image.Resampling.BILINEAR)
    out = im.copy()
    out.paste(grid.resize((w, h), Image.Resampling.NEAREST), (x, y))
    return out


def sheet(data: Path, path: Path, cell: int = 112) -> None:
    """Every face of FACES, original then at each of BLOCKS blocks across its width."""
    label_h = 16
    cols = 1 + len(BLOCKS)
    out = Image.new("RGB", (cols * cell, len(FACES) * cell + label_h), "white")
    draw = ImageDraw.Draw(out)
    for c, n in enumerate((0, *BLOCKS)):
        draw.text((c * cell + 4, 2), "original" if n == 0 else f"{n} blocks", fill="black")
    for r, (name, (face, head)) in enumerate(FACES.items()):
        src = Image.open(data / name).convert("RGB")
        # the head with a margin, square, as shown in each cell
        hx, hy, hw, hh = head
        side = int(max(hw, hh) * 1.15)
        cx, cy = hx + hw // 2, hy + hh // 2
        view = (cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2)
        for c, n in enumerate((0, *BLOCKS)):
            shown = src if n == 0 else pixelate_area(src, head, face[2] / n)
            tile = shown.crop(view).resize((cell, cell), Image.Resampling.LANCZOS)
            out.paste(tile, (c * cell, label_h + r * cell))
    out.save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def measure(data: Path) -> None:
    import dlib  # type: ignore[import-not-found]  # optional: dlib-bin
    import face_recognition_models as models  # type: ignore[import-not-found]
    import numpy as np

    encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    shaper = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    detector = dlib.get_frontal_face_detector()

    def embed(chip: Image.Image) -> Any:
        return np.array(encoder.compute_face_descriptor(np.asarray(chip.convert("RGB"))))

    # LFW: 25 x 25 crops, the face filling the crop: n blocks across the crop's width.
    lfw = np.load(data / "lfw_subset.npy")[:100]
    originals = [Image.fromarray((f * 255).round().astype("uint8")) for f in lfw]

    def lfw_chip(im: Image.Image) -> Image.Image:
        return im.resize((CHIP, CHIP), Image.Resampling.BICUBIC)

    # The astronaut: aligned by dlib's own detector and 5 landmarks on the original; the
    # pixelated copies go through the same alignment (the attacker knows where the face is).
    astro = Image.open(data / "astronaut.png").convert("RGB")
    rect = max(detector(np.asarray(astro), 1), key=lambda d: d.area())
    shape = shaper(np.asarray(astro), rect)
    face, head = FACES["astronaut.png"]

    def astro_chip(im: Image.Image) -> Image.Image:
        return Image.fromarray(dlib.get_face_chip(np.asarray(im), shape, size=CHIP))

    # How wide the face is in an LFW crop: dlib's detector box (91 px on the astronaut, whose
    # hand-drawn face is 92 px cheek to cheek) over the crop's width.
    found = [detector(np.asarray(lfw_chip(o).convert("RGB")), 1) for o in originals]
    ratios = [max(d, key=lambda r: r.area()).width() / CHIP for d in found if d]
    print(
        f"LFW face width / crop width: median {statistics.median(ratios):.2f} "
        f"({len(ratios)} of 100 found); astronaut's detector box {rect.width()} px wide"
    )
    gallery = np.stack([embed(lfw_chip(o)) for o in originals] + [embed(astro_chip(astro))])
    print(f"gallery: {len(gallery)} original faces (100 LFW + the astronaut); chance rank-1 1 %")
    print()
    print(
        "| blocks across the face | rank-1 | median rank | same person (d < 0.6) "
        "| median distance to own original | astronaut: rank, distance |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    for n in (*BLOCKS, 0):
        probes = []
        for o in originals:
            hidden = o if n == 0 else pixelate_area(o, (0, 0, o.width, o.height), o.width / n)
            probes.append(embed(lfw_chip(hidden)))
        hidden = astro if n == 0 else pixelate_area(astro, head, face[2] / n)
        probes.append(embed(astro_chip(hidden)))
        dist = np.linalg.norm(np.stack(probes)[:, None, :] - gallery[None, :, :], axis=2)
        own = np.diag(dist)
        ranks = [int((row < row[i]).sum()) + 1 for i, row in enumerate(dist)]
        lfw_ranks = ranks[:100]
        print(
            f"| {n or 'original'} | {sum(r == 1 for r in lfw_ranks)} % "
            f"| {statistics.median(lfw_ranks):g} | {int((own[:100] < 0.6).sum())} % "
            f"| {statistics.median(own[:100].tolist()):.3f} "
            f"| {ranks[100]} of 101, {own[100]:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skimage-data", help="scikit-image's data folder")
    parser.add_argument("--sheet", type=Path, help="write the side-by-side sheet here")
    args = parser.parse_args()
    data = skimage_data(args.skimage_data)
    if args.sheet:
        sheet(data, args.sheet)
    else:
        measure(data)


if __name__ == "__main__":
    main()
