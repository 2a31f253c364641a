"""Test images with faces, and without, made from scikit-image's bundled pictures.

Nothing is downloaded: the files are read straight from the installed scikit-image wheel's
``skimage/data`` folder (skimage itself is not imported, and its download registry is never
touched). Two faces, each with a hand-drawn ground truth in the source picture's pixels:

* ``astronaut`` (Eileen Collins, frontal, colour): ``face`` = hairline to chin, cheek to cheek;
  ``head`` = everything of the head, hair included, down to the chin;
* ``camera`` (the cameraman, a profile in grey): the same, where ``head`` reaches back to the
  back of the head's hair (a profile head is far wider behind the face than in front).

API, used by tests/test_faces.py, bench/bench_faces.py and the engine's tests:

* ``scene(face_px, variant="original", *, size=None, count=4, background_index=0) -> Scene``:
  ``count`` faces (astronaut and camera alternately) whose face box is ``face_px`` pixels
  *wide* (cheek to cheek; astronaut's is 1.27 times as tall, camera's 1.39), pasted with some
  of their own surroundings into a face-free background picture, in one of ``VARIANTS``.
  ``Scene.image`` (RGB) and ``Scene.faces``: one ``Truth`` per face with its ``face`` and
  ``head`` boxes ``(x, y, w, h)`` in the scene's pixels, and the head itself (``oval``: the
  ellipse inscribed in the source's head box, turned with a rotated variant; ``head_mask``).
* ``lfw_scene(face_px, faces=True) -> Scene``: 100 faces of different people (or 100
  non-face crops) from scikit-image's LFW subset, enlarged and laid out on a background.
* ``face_free() -> list[tuple[str, Image]]``: scikit-image pictures without a human face
  (a cat, coffee, a rocket, text, textures, ...), RGB, each enlarged to ~2 MP as well
  (``FACE_FREE_CASES`` and ``face_free_image(case)`` make them one at a time).
* ``iou(a, b)`` and ``covers(outer, inner)`` for boxes.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance, ImageFilter

Box = tuple[int, int, int, int]  # x, y, w, h

VARIANTS = ("original", "flipped", "rot15", "rot30", "dark", "blurred")
SIZES = (16, 24, 32, 48, 64, 96, 160, 320)


@dataclass(frozen=True)
class Source:
    file: str
    face: Box  # hand-drawn in the 512 x 512 source: hairline..chin, cheek..cheek
    head: Box  # hand-drawn: hair (top, sides, back), ears, chin


SOURCES = {
    "astronaut": Source("astronaut.png", face=(180, 60, 92, 117), head=(152, 15, 151, 167)),
    "camera": Source("camera.png", face=(200, 118, 56, 78), head=(155, 62, 103, 136)),
}
FACE_FREE = (
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "text.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "coins.png",
    "page.png",
    "logo.png",
    "hubble_deep_field.jpg",
    "clock_motion.png",
    "retina.jpg",
    "moon.png",
    "ihc.png",
    "color.png",
    "cell.png",
)


Oval = tuple[float, float, float, float, float]  # centre x, y, half-axes, turn (radians)


@dataclass(frozen=True)
class Truth:
    source: str
    face: Box
    head: Box
    # The head itself: the ellipse inscribed in the source's hand-drawn head box, moved,
    # scaled and turned with the face (``head`` is its bounding box, rounded outwards).
    oval: Oval | None = None

    def moved(self, dx: int, dy: int) -> Truth:
        """The same face, ``dx`` and ``dy`` pixels further right and down."""
        oval = None if self.oval is None else (self.oval[0] + dx, self.oval[1] + dy, *self.oval[2:])
        return Truth(
            self.source,
            (self.face[0] + dx, self.face[1] + dy, *self.face[2:]),
            (self.head[0] + dx, self.head[1] + dy, *self.head[2:]),
            oval,
        )


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    faces: list[Truth]


def data_dir() -> Path:
    """scikit-image's bundled data folder (found without importing skimage)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("scikit-image is not installed (it is in pixelpipe's dev extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def load(name: str) -> Image.Image:
    """One bundled picture, as RGB."""
    with Image.open(data_dir() / name) as im:
        return im.convert("RGB")


def _grow(box: Box, frac: float, limit: tuple[int, int]) -> Box:
    x, y, w, h = box
    x1, y1 = max(0, round(x - frac * w)), max(0, round(y - frac * h))
    x2, y2 = min(limit[0], round(x + w + frac * w)), min(limit[1], round(y + h + frac * h))
    return x1, y1, x2 - x1, y2 - y1


def _rotated_head(box: Box, angle: float, center: tuple[float, float]) -> Box:
    """The box around the head after rotating by ``angle`` degrees (PIL's sense) about center.

    A head is taken as the ellipse inscribed in its hand-drawn box (the box's corners are not
    head): the rotated ellipse's bounding box, rounded outwards.
    """
    import math

    x, y, w, h = box
    a = math.radians(angle)
    dx, dy = x + w / 2 - center[0], y + h / 2 - center[1]
    # PIL rotates counter-clockwise on screen (y down).
    hx = center[0] + dx * math.cos(a) + dy * math.sin(a)
    hy = center[1] - dx * math.sin(a) + dy * math.cos(a)
    half_w = math.hypot(w / 2 * math.cos(a), h / 2 * math.sin(a))
    half_h = math.hypot(w / 2 * math.sin(a), h / 2 * math.cos(a))
    x1, y1 = math.floor(hx - half_w), math.floor(hy - half_h)
    return x1, y1, math.ceil(hx + half_w) - x1, math.ceil(hy + half_h) - y1


def face_crop(
    source: str, face_px: int, variant: str, sign: int = 1
) -> tuple[Image.Image, Box, Box]:
    """One face with its surroundings, scaled so its face box is ``face_px`` wide.

    Returns the crop and the face and head boxes in the crop's pixels (``face_head`` adds the
    head's ellipse).
    """
    crop, f, hd, _ = face_head(source, face_px, variant, sign)
    return crop, f, hd


def face_head(
    source: str, face_px: int, variant: str, sign: int = 1
) -> tuple[Image.Image, Box, Box, Oval]:
    """``face_crop``, and the head: the ellipse inscribed in the source's head box, in the
    crop's pixels. Rotations turn the picture about the face's centre (by ``sign`` * the
    angle), so the face box's centre stays put; the head box becomes the bounding box of the
    rotated head (``_rotated_head``), and the head's ellipse turns with the picture.
    """
    import math

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    src = SOURCES[source]
    picture = load(src.file)
    face, head = src.face, src.head
    hx, hy, turn = head[0] + head[2] / 2, head[1] + head[3] / 2, 0.0
    if variant.startswith("rot"):
        angle = sign * float(variant[3:])
        center = (face[0] + face[2] / 2, face[1] + face[3] / 2)
        picture = picture.rotate(angle, Image.Resampling.BICUBIC, center=center)
        a = math.radians(angle)
        dx, dy = hx - center[0], hy - center[1]
        # PIL rotates counter-clockwise on screen (y down): the ellipse turns by -angle.
        hx = center[0] + dx * math.cos(a) + dy * math.sin(a)
        hy = center[1] - dx * math.sin(a) + dy * math.cos(a)
        turn = -a
        head = _rotated_head(head, angle, center)
    context = _grow(head, 0.35, picture.size)
    cx, cy = context[0], context[1]
    crop = picture.crop((cx, cy, cx + context[2], cy + context[3]))
    k = face_px / face[2]
    size = (max(1, round(crop.width * k)), max(1, round(crop.height * k)))
    crop = crop.resize(size, Image.Resampling.LANCZOS)

    def scaled(b: Box) -> Box:
        x1, y1 = (b[0] - cx) * k, (b[1] - cy) * k
        x2, y2 = (b[0] + b[2] - cx) * k, (b[1] + b[3] - cy) * k
        return round(x1), round(y1), round(x2 - x1), round(y2 - y1)

    f, hd = scaled(face), scaled(head)
    oval = ((hx - cx) * k, (hy - cy) * k, src.head[2] / 2 * k, src.head[3] / 2 * k, turn)
    if variant == "flipped":
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        f = (crop.width - f[0] - f[2], f[1], f[2], f[3])
        hd = (crop.width - hd[0] - hd[2], hd[1], hd[2], hd[3])
        oval = (crop.width - oval[0], *oval[1:])
    elif variant == "dark":
        crop = ImageEnhance.Brightness(crop).enhance(0.3)
    elif variant == "blurred":
        crop = crop.filter(ImageFilter.GaussianBlur(max(0.6, face_px / 40)))
    return crop, f, hd, oval


def background(index: int, size: tuple[int, int]) -> Image.Image:
    """A face-free picture (cycled by ``index``) stretched to ``size``."""
    name = ("coffee.png", "rocket.jpg", "chelsea.png", "brick.png", "grass.png")[index % 5]
    return load(name).resize(size, Image.Resampling.BILINEAR)


def scene(
    face_px: int,
    variant: str = "original",
    *,
    size: tuple[int, int] | None = None,
    count: int = 4,
    background_index: int = 0,
) -> Scene:
    """``count`` faces, ``face_px`` wide, pasted into a face-free background in a grid."""
    crops = [
        face_head(("astronaut", "camera")[i % 2], face_px, variant, sign=1 if i % 4 < 2 else -1)
        for i in range(count)
    ]
    cell_w = max(c[0].width for c in crops) + 8
    cell_h = max(c[0].height for c in crops) + 8
    cols = max(1, round(count**0.5))
    rows = -(-count // cols)
    if size is None:
        size = (max(640, cols * cell_w), max(480, rows * cell_h))
    if size[0] < cols * cell_w or size[1] < rows * cell_h:
        raise ValueError(f"{count} faces of {face_px} px do not fit in {size}")
    image = background(background_index, size)
    step_x, step_y = size[0] // cols, size[1] // rows
    faces = []
    for i, (crop, f, hd, oval) in enumerate(crops):
        col, row = i % cols, i // cols
        ox = col * step_x + (step_x - crop.width) // 2
        oy = row * step_y + (step_y - crop.height) // 2
        image.paste(crop, (ox, oy))
        faces.append(Truth(("astronaut", "camera")[i % 2], f, hd, oval).moved(ox, oy))
    return Scene(image, faces)


def lfw_scene(face_px: int, *, faces: bool = True) -> Scene:
    """scikit-image's LFW subset: 100 faces of different people, or its 100 non-face crops.

    The crops are 25 x 25 grey pictures cut tight around the face (no hair, no chin), here
    enlarged to ``face_px`` and laid out 10 x 10 on a face-free background. ``Truth.face`` and
    ``Truth.head`` are the pasted crop (there is no separate head box); without ``faces`` the
    scene holds the non-face crops and ``Scene.faces`` is empty.
    """
    import numpy as np

    subset = np.load(data_dir() / "lfw_subset.npy")  # 200 x 25 x 25, faces first
    crops = subset[:100] if faces else subset[100:]
    cell = round(face_px * 2.2)
    image = background(0, (10 * cell, 10 * cell))
    truths = []
    for i, crop in enumerate(crops):
        picture = Image.fromarray((crop * 255).round().astype(np.uint8)).convert("RGB")
        picture = picture.resize((face_px, face_px), Image.Resampling.BICUBIC)
        x = (i % 10) * cell + (cell - face_px) // 2
        y = (i // 10) * cell + (cell - face_px) // 2
        image.paste(picture, (x, y))
        if faces:
            truths.append(Truth(f"lfw{i}", (x, y, face_px, face_px), (x, y, face_px, face_px)))
    return Scene(image, truths)


FACE_FREE_CASES = tuple(c for name in FACE_FREE for c in (name, f"{name}@2MP"))


def face_free_image(case: str) -> Image.Image:
    """One face-free picture: ``NAME`` as shipped, or ``NAME@2MP`` enlarged to ~2 MP."""
    name, _, size = case.partition("@")
    picture = load(name)
    if size:
        k = (2_000_000 / (picture.width * picture.height)) ** 0.5
        picture = picture.resize((round(picture.width * k), round(picture.height * k)))
    return picture


def face_free(enlarged: bool = True) -> list[tuple[str, Image.Image]]:
    """scikit-image's pictures without a human face; with ``enlarged``, also each at ~2 MP."""
    cases = FACE_FREE_CASES if enlarged else FACE_FREE
    return [(case, face_free_image(case)) for case in cases]


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def covers(outer: Box, inner: Box) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and outer[0] + outer[2] >= inner[0] + inner[2]
        and outer[1] + outer[3] >= inner[1] + inner[3]
    )


def head_mask(head: Box | Truth, size: tuple[int, int]) -> Any:
    """The pixels (a boolean numpy array, rows x columns) of the head, cut to the image: the
    ellipse inscribed in its hand-drawn box (the box's corners are background). Given a
    ``Truth`` with an ``oval``, that ellipse: for a rotated variant it is the upright head's
    ellipse turned with the picture (the rotated box's own inscribed ellipse is not the head:
    it is wider where the turned head is narrower, and misses its ends)."""
    import numpy as np

    if isinstance(head, Truth):
        if head.oval is None:
            return head_mask(head.head, size)
        cx, cy, rx, ry, turn = head.oval
    else:
        x, y, w, h = head
        cx, cy, rx, ry, turn = x + w / 2, y + h / 2, w / 2, h / 2, 0.0
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]] + 0.5
    c, s = np.cos(turn), np.sin(turn)
    u, v = (xs - cx) * c + (ys - cy) * s, -(xs - cx) * s + (ys - cy) * c
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1


def ellipse_mask(ellipse: Any, size: tuple[int, int]) -> Any:
    """The pixels whose centres lie inside ``ellipse`` (a ``pixelpipe.faces.Ellipse``)."""
    import numpy as np

    ys, xs = np.mgrid[0 : size[1], 0 : size[0]] + 0.5
    c, s = np.cos(ellipse.angle), np.sin(ellipse.angle)
    dx, dy = xs - ellipse.cx, ys - ellipse.cy
    u, v = dx * c + dy * s, -dx * s + dy * c
    return (u / ellipse.rx) ** 2 + (v / ellipse.ry) ** 2 <= 1
