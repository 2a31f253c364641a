"""Draw the sample images bundled with pixelpipe.

Every image is synthesised from scratch with Pillow and numpy using fixed random seeds, so
running the script twice produces byte-identical files (no downloads, no timestamps in the
metadata). The samples exercise the interesting parts of the pipeline:

* ``portrait.jpg`` - a stylised face whose EXIF carries a camera Make/Model and GPS position,
  used to show that pixelpipe strips location data.
* ``street.jpg`` - a street scene with a car and a readable licence plate (anonymisation).
* ``rotated.jpg`` - a smaller street scene stored sideways with EXIF ``Orientation = 6``.
* ``sprite.png`` - an RGBA sprite with soft, partially transparent edges.
* ``animated.gif`` - an 8-frame bouncing ball with varying frame durations.
* ``astronaut.jpg`` - the one photograph: scikit-image's ``astronaut`` (Eileen Collins, NASA,
  public domain), copied out of the scikit-image wheel, so that the demo shows a face hidden.
  scikit-image is a developer tool here (``make samples`` installs it), never a dependency
  of pixelpipe: the file is committed.

Usage::

    python examples/make_samples.py [--out examples/images]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from PIL.TiffImagePlugin import IFDRational

FloatArray = NDArray[np.float32]
RGB = tuple[int, int, int]
Point = tuple[float, float]

JPEG_QUALITY = 88
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_GPS_IFD = 0x8825
PLATE_TEXT = "PXL 2026"
GIF_DURATIONS_MS = (80, 80, 120, 80, 80, 120, 80, 200)


# --------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------


class Sketch:
    """Antialiased coverage masks (floats in 0..1) drawn in output-pixel coordinates.

    Shapes are rasterised at ``ss`` times the output size and box-filtered down, which gives
    smooth edges without relying on any antialiasing support in ``ImageDraw``.
    """

    def __init__(self, size: tuple[int, int], ss: int = 3) -> None:
        self.size = size
        self.ss = ss

    def _canvas(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        im = Image.new("L", (self.size[0] * self.ss, self.size[1] * self.ss), 0)
        return im, ImageDraw.Draw(im)

    def _finish(self, im: Image.Image, blur: float) -> FloatArray:
        im = im.reduce(self.ss)
        if blur > 0:
            im = im.filter(ImageFilter.GaussianBlur(blur))
        return to_mask(im)

    def _scale(self, points: Sequence[Point]) -> list[Point]:
        return [(x * self.ss, y * self.ss) for x, y in points]

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, blur: float = 0) -> FloatArray:
        im, draw = self._canvas()
        s = self.ss
        draw.ellipse(((cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s), fill=255)
        return self._finish(im, blur)

    def polygon(self, points: Sequence[Point], blur: float = 0) -> FloatArray:
        im, draw = self._canvas()
        draw.polygon(self._scale(points), fill=255)
        return self._finish(im, blur)

    def line(self, points: Sequence[Point], width: float, blur: float = 0) -> FloatArray:
        im, draw = self._canvas()
        draw.line(self._scale(points), fill=255, width=round(width * self.ss), joint="curve")
        r = width * self.ss / 2
        for x, y in self._scale([points[0], points[-1]]):  # round caps
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        return self._finish(im, blur)


def to_mask(im: Image.Image) -> FloatArray:
    """An ``L`` image as a 0..1 float mask."""
    return (np.asarray(im, dtype=np.float32) / 255.0).astype(np.float32)


def grid(size: tuple[int, int]) -> tuple[FloatArray, FloatArray]:
    """Return ``(xx, yy)`` pixel-centre coordinate arrays for an image of ``size``."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    return xx, yy


def falloff(size: tuple[int, int], cx: float, cy: float, radius: float) -> FloatArray:
    """1 at ``(cx, cy)`` fading smoothly to 0 at ``radius`` pixels away."""
    xx, yy = grid(size)
    t = np.clip(np.hypot(xx - cx, yy - cy) / radius, 0.0, 1.0)
    out: FloatArray = (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)
    return out


def shade(base: RGB, light: FloatArray, dark: float = 0.7, bright: float = 1.08) -> FloatArray:
    """Colour field: ``base`` scaled between ``dark`` and ``bright`` by a 0..1 light field."""
    factor = dark + (bright - dark) * light
    return factor[..., None] * np.asarray(base, dtype=np.float32)


def paint(
    canvas: FloatArray,
    mask: FloatArray,
    color: FloatArray | Sequence[float],
    opacity: float = 1.0,
) -> None:
    """Composite ``color`` onto ``canvas`` (H x W x 3, 0..255 floats) through ``mask``."""
    m = (mask * opacity)[..., None]
    canvas *= 1.0 - m
    canvas += m * np.asarray(color, dtype=np.float32)


def film_finish(canvas: FloatArray, rng: np.random.Generator, sigma: float) -> Image.Image:
    """Soften slightly and add luminance + chroma grain so a drawing looks photographic."""
    img = Image.fromarray(np.clip(canvas, 0, 255).round().astype(np.uint8), "RGB")
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32)
    h, w = arr.shape[:2]
    luma = rng.normal(0.0, sigma, size=(h, w, 1)).astype(np.float32)
    chroma = rng.normal(0.0, sigma * 0.4, size=(h, w, 3)).astype(np.float32)
    arr += luma + chroma
    return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "RGB")


def save_jpeg(img: Image.Image, path: Path, exif: Image.Exif | None = None) -> None:
    kwargs: dict[str, object] = {"quality": JPEG_QUALITY, "optimize": True}
    if exif is not None:
        kwargs["exif"] = exif.tobytes()
    img.save(path, "JPEG", **kwargs)


# --------------------------------------------------------------------------------------------
# portrait.jpg
# --------------------------------------------------------------------------------------------


def egg(cx: float, cy: float, rx: float, ry: float, chin: float, n: int = 180) -> list[Point]:
    """Head outline: an ellipse whose lower half narrows towards the chin."""
    points = []
    for i in range(n):
        t = 2 * math.pi * i / n
        down = max(0.0, -math.cos(t))  # 0 above the equator, 1 at the chin
        points.append((cx + rx * math.sin(t) * (1 - chin * down**2), cy - ry * math.cos(t)))
    return points


def superellipse(
    cx: float, cy: float, rx: float, ry: float, n: float, steps: int = 240
) -> list[Point]:
    """Outline of ``|x/rx|^n + |y/ry|^n = 1``: rounded-rectangle-like for ``n > 2``."""
    points = []
    for i in range(steps):
        t = 2 * math.pi * i / steps
        c, s = math.cos(t), math.sin(t)
        points.append(
            (
                cx + rx * math.copysign(abs(c) ** (2 / n), c),
                cy + ry * math.copysign(abs(s) ** (2 / n), s),
            )
        )
    return points


def draw_portrait(seed: int = 1) -> Image.Image:
    size = (1200, 1600)
    rng = np.random.default_rng(seed)
    sk = Sketch(size)
    xx, yy = grid(size)

    # Studio backdrop: warm glow behind the head fading to a cool dark edge.
    glow = falloff(size, 560, 600, 1250)[..., None]
    edge = np.array((62, 72, 88), np.float32)
    centre = np.array((205, 192, 172), np.float32)
    canvas = (edge + (centre - edge) * glow).astype(np.float32)

    skin: RGB = (226, 182, 150)
    face_light = falloff(size, 470, 520, 820)
    skin_field = shade(skin, face_light, 0.72, 1.06)
    hair: RGB = (74, 47, 33)
    # Hair strands: noise that varies across x but is smooth down y.
    strands = rng.normal(0.0, 1.0, size=(size[1] // 60, size[0] // 3)).astype(np.float32)
    strand_img = Image.fromarray(((strands * 40) + 128).clip(0, 255).astype(np.uint8), "L")
    strand_img = strand_img.resize(size, Image.Resampling.BICUBIC)
    strand = (np.asarray(strand_img, np.float32) - 128) / 128
    hair_field = shade(hair, falloff(size, 480, 420, 900), 0.6, 1.25)
    hair_field *= (1 + 0.22 * strand)[..., None]

    # Shapes.
    # A bob: rounded crown with straight sides ending just below the jaw.
    bob = superellipse(600, 760, 326, 310, 4.0)
    hair_back = np.maximum(sk.ellipse(600, 655, 330, 365, 1.5), sk.polygon(bob, blur=1.5))
    shoulders = sk.polygon(superellipse(600, 1650, 600, 470, 2.6), blur=2)
    neck = sk.polygon([(512, 930), (688, 930), (700, 1190), (600, 1330), (500, 1190)], blur=1)
    head = sk.polygon(egg(600, 700, 258, 338, chin=0.32), blur=0.8)
    ears = np.maximum(sk.ellipse(345, 735, 36, 66, 1), sk.ellipse(855, 735, 36, 66, 1))

    # Soft shadow of the sitter on the backdrop.
    silhouette = np.maximum.reduce([hair_back, shoulders, head])
    sil_img = Image.fromarray((silhouette * 255).astype(np.uint8), "L")
    shadow = sil_img.transform(size, Image.Transform.AFFINE, (1, 0, -60, 0, 1, -25))
    shadow_mask = to_mask(shadow.filter(ImageFilter.GaussianBlur(45)))
    paint(canvas, shadow_mask, (20, 20, 30), 0.35)

    paint(canvas, hair_back, hair_field)

    # Neck (in the shade of the head) and a darker band right under the jaw.
    paint(canvas, neck, shade(skin, face_light, 0.58, 0.9))
    head_img = Image.fromarray((head * 255).astype(np.uint8), "L")
    chin_shadow = head_img.transform(size, Image.Transform.AFFINE, (1, 0, 0, 0, 1, -45))
    chin_mask = to_mask(chin_shadow.filter(ImageFilter.GaussianBlur(22)))
    paint(canvas, chin_mask * neck, (90, 55, 45), 0.45)

    # Shirt with a V-neck and a lighter collar trim.
    shirt: RGB = (52, 82, 128)
    vneck = [(516, 1170), (684, 1170), (600, 1318)]
    v_mask = sk.polygon(vneck, blur=1)
    paint(canvas, shoulders * (1 - v_mask), shade(shirt, falloff(size, 380, 1250, 1000), 0.6, 1.2))
    trim = sk.line([vneck[0], vneck[2], vneck[1]], width=14, blur=1)
    paint(canvas, trim * shoulders, (78, 112, 160))
    folds = sk.line([(330, 1600), (380, 1420), (430, 1340)], width=26, blur=18)
    folds = np.maximum(folds, sk.line([(860, 1600), (820, 1430), (780, 1350)], width=26, blur=18))
    paint(canvas, folds * shoulders, (25, 40, 70), 0.5)

    # Ears and head.
    paint(canvas, ears, skin_field)
    inner_ears = np.maximum(sk.ellipse(350, 738, 18, 42, 4), sk.ellipse(850, 738, 18, 42, 4))
    paint(canvas, inner_ears, (170, 110, 95), 0.5)
    paint(canvas, head, skin_field)

    # Facial modelling: cheek blush, eye sockets, temples in shade on the far side.
    blush = np.maximum(sk.ellipse(470, 850, 75, 48, 28), sk.ellipse(730, 850, 75, 48, 28))
    paint(canvas, blush * head, (225, 110, 110), 0.28)
    sockets = np.maximum(sk.ellipse(495, 695, 80, 45, 22), sk.ellipse(705, 695, 80, 45, 22))
    paint(canvas, sockets * head, (120, 75, 65), 0.22)
    far_side = sk.ellipse(880, 760, 170, 420, 60)
    paint(canvas, far_side * head, (110, 70, 60), 0.35)

    # Eyebrows.
    brow_l = [(430, 640), (470, 618), (530, 615), (560, 628), (530, 630), (470, 633)]
    brow_r = [(x_ + 2 * (600 - x_), y_) for x_, y_ in brow_l]
    brows = np.maximum(sk.polygon(brow_l, blur=2), sk.polygon(brow_r, blur=2))
    paint(canvas, brows, (58, 36, 26), 0.95)

    # Eyes.
    for ex, gaze in ((495, 4.0), (705, 4.0)):
        ey = 700
        sclera = sk.ellipse(ex, ey, 50, 23, blur=0.6)
        paint(canvas, sclera, shade((238, 232, 226), falloff(size, ex - 15, ey - 8, 70), 0.8, 1))
        ix = ex + gaze
        iris_light = falloff(size, ix, ey + 8, 24)
        paint(
            canvas, sk.ellipse(ix, ey, 21, 21) * sclera, shade((96, 66, 42), iris_light, 0.5, 1.2)
        )
        paint(canvas, sk.ellipse(ix, ey, 9, 9) * sclera, (18, 14, 12))
        paint(canvas, sk.ellipse(ix - 7, ey - 7, 5, 5, 0.8), (255, 255, 255), 0.9)
        lid = [
            (ex + 54 * math.cos(a), ey - 25 * math.sin(a))
            for a in np.linspace(math.pi * 0.98, math.pi * 0.02, 24)
        ]
        paint(canvas, sk.line(lid, width=5, blur=0.8), (45, 28, 22))
        crease = [(x_, y_ - 16) for x_, y_ in lid[3:-3]]
        paint(canvas, sk.line(crease, width=3, blur=2), (140, 90, 75), 0.6)
        lower = [
            (ex + 46 * math.cos(a), ey + 24 * math.sin(a))
            for a in np.linspace(math.pi * 0.9, math.pi * 0.1, 16)
        ]
        paint(canvas, sk.line(lower, width=3, blur=2), (150, 95, 80), 0.5)

    # Nose: bridge shadow, soft underside, nostrils, highlight on the tip.
    paint(
        canvas, sk.line([(575, 705), (565, 800), (572, 830)], width=10, blur=9), (120, 70, 60), 0.35
    )
    paint(canvas, sk.ellipse(603, 852, 46, 18, 9), (130, 80, 70), 0.35)
    nostrils = np.maximum(sk.ellipse(580, 852, 11, 6, 2), sk.ellipse(622, 852, 11, 6, 2))
    paint(canvas, nostrils, (110, 60, 55), 0.8)
    paint(canvas, sk.ellipse(594, 826, 15, 11, 6), (255, 235, 220), 0.35)

    # Mouth.
    lip_color: RGB = (190, 98, 96)
    upper = [(546, 934), (578, 918), (600, 925), (622, 918), (654, 934), (600, 940)]
    paint(canvas, sk.polygon(upper, blur=1.2), shade(lip_color, face_light, 0.75, 1.0))
    lower_lip = sk.ellipse(600, 943, 46, 15, blur=1.2)
    paint(canvas, lower_lip, shade(lip_color, face_light, 0.85, 1.12))
    paint(canvas, sk.ellipse(592, 944, 20, 5, 4), (255, 220, 215), 0.35)
    mouth = [(544, 933), (575, 938), (600, 940), (625, 938), (656, 933)]
    paint(canvas, sk.line(mouth, width=3.5, blur=0.8), (105, 45, 45))
    paint(canvas, sk.ellipse(600, 980, 40, 12, 10), (140, 85, 70), 0.25)  # under the lip

    # Fringe: a side-swept crescent over the forehead.
    fringe = sk.ellipse(598, 612, 282, 280, blur=1) * (1 - sk.ellipse(665, 820, 300, 340, 3))
    paint(canvas, fringe, hair_field)
    paint(canvas, sk.ellipse(470, 430, 90, 35, 25) * fringe, (190, 150, 120), 0.3)  # sheen

    # Gentle vignette, then grain.
    vignette = np.clip(np.hypot((xx - 600) / 900, (yy - 760) / 1100), 0, 1) ** 2
    canvas *= (1 - 0.35 * vignette)[..., None]
    return film_finish(canvas, rng, sigma=3.2)


def portrait_exif() -> Image.Exif:
    """EXIF with a camera Make/Model and a GPS fix in central Amsterdam."""

    def dms(deg: int, minutes: int, seconds: float) -> tuple[IFDRational, ...]:
        return (
            IFDRational(deg, 1),
            IFDRational(minutes, 1),
            IFDRational(round(seconds * 100), 100),
        )

    exif = Image.Exif()
    exif[TAG_MAKE] = "PixelPipe Optics"
    exif[TAG_MODEL] = "PX-1 Sample Camera"
    exif[TAG_GPS_IFD] = {
        0x0000: b"\x02\x03\x00\x00",  # GPSVersionID
        0x0001: "N",  # GPSLatitudeRef
        0x0002: dms(52, 22, 23.4),  # GPSLatitude
        0x0003: "E",  # GPSLongitudeRef
        0x0004: dms(4, 53, 22.8),  # GPSLongitude
        0x0005: b"\x00",  # GPSAltitudeRef: above sea level
        0x0006: IFDRational(2, 1),  # GPSAltitude (metres)
    }
    return exif


# --------------------------------------------------------------------------------------------
# street.jpg / rotated.jpg
# --------------------------------------------------------------------------------------------


class StreetCamera:
    """Pinhole camera looking straight down a street; world units are metres.

    ``x`` is to the right, ``y`` is up from the road surface and ``z`` is the distance ahead.
    Projected points are in supersampled pixel coordinates.
    """

    def __init__(self, size: tuple[int, int], ss: int, focal: float, horizon: float) -> None:
        self.cx = size[0] / 2
        self.horizon = horizon
        self.focal = focal
        self.ss = ss
        self.height = 1.5

    def project(self, x: float, y: float, z: float) -> Point:
        s = self.focal / z
        return ((self.cx + x * s) * self.ss, (self.horizon + (self.height - y) * s) * self.ss)

    def quad_x(self, x: float, y0: float, y1: float, z0: float, z1: float) -> list[Point]:
        """A rectangle on the vertical plane at constant ``x`` (a building facade)."""
        return [
            self.project(x, y0, z0),
            self.project(x, y1, z0),
            self.project(x, y1, z1),
            self.project(x, y0, z1),
        ]

    def quad_y(self, y: float, x0: float, x1: float, z0: float, z1: float) -> list[Point]:
        """A rectangle on the horizontal plane at height ``y`` (road, pavement, markings)."""
        return [
            self.project(x0, y, z0),
            self.project(x1, y, z0),
            self.project(x1, y, z1),
            self.project(x0, y, z1),
        ]

    def quad_z(self, z: float, x0: float, x1: float, y0: float, y1: float) -> list[Point]:
        """A rectangle facing the camera at distance ``z``."""
        return [
            self.project(x0, y0, z),
            self.project(x1, y0, z),
            self.project(x1, y1, z),
            self.project(x0, y1, z),
        ]


FACADE_COLOURS: tuple[RGB, ...] = (
    (170, 92, 70),
    (196, 170, 132),
    (150, 150, 155),
    (210, 196, 170),
    (120, 78, 62),
    (178, 188, 196),
    (205, 150, 110),
    (140, 120, 100),
)


def tint(color: RGB, factor: float) -> RGB:
    r, g, b = (max(0, min(255, round(c * factor))) for c in color)
    return (r, g, b)


def draw_buildings(
    draw: ImageDraw.ImageDraw, cam: StreetCamera, rng: np.random.Generator, side: int
) -> None:
    """Row of buildings along the pavement on one side (``side`` is -1 left, +1 right)."""
    facade_x = 9.0 * side
    blocks: list[tuple[float, float, float, RGB]] = []
    z = 1.0
    while z < 260:
        length = float(rng.uniform(11, 24))
        height = float(rng.uniform(10, 28))
        colour = FACADE_COLOURS[int(rng.integers(len(FACADE_COLOURS)))]
        blocks.append((z, z + length, height, colour))
        z += length
    window_glass = ((58, 72, 92), (84, 104, 128), (128, 156, 186), (232, 206, 140))
    for z0, z1, height, colour in reversed(blocks):  # far to near: painter's algorithm
        # Gable end facing the camera (visible above shorter, nearer buildings).
        draw.polygon(cam.quad_z(z0, facade_x, facade_x + 25 * side, 0, height), tint(colour, 0.8))
        draw.polygon(cam.quad_x(facade_x, 0, height, z0, z1), colour)
        draw.polygon(cam.quad_x(facade_x, height - 0.6, height, z0, z1), tint(colour, 0.62))
        # Shop front on the ground floor.
        draw.polygon(cam.quad_x(facade_x, 0.3, 2.7, z0 + 1.0, z1 - 1.0), (40, 48, 58))
        draw.polygon(cam.quad_x(facade_x, 2.9, 3.3, z0 + 0.6, z1 - 0.6), tint(colour, 0.55))
        floor = 4.0
        while floor + 1.8 < height - 1.0:
            wz = z0 + 1.3
            while wz + 1.3 < z1 - 0.8:
                glass = window_glass[int(rng.integers(len(window_glass)))]
                draw.polygon(
                    cam.quad_x(facade_x, floor - 0.15, floor + 1.95, wz - 0.15, wz + 1.45),
                    tint(colour, 0.7),
                )
                draw.polygon(cam.quad_x(facade_x, floor, floor + 1.8, wz, wz + 1.3), glass)
                wz += 3.0
            floor += 3.2


def draw_car(
    draw: ImageDraw.ImageDraw,
    cam: StreetCamera,
    x: float,
    z: float,
    body: RGB,
    plate: str,
) -> None:
    """A car seen from behind, with its rear plate, standing on the road at ``(x, z)``."""

    def q(u0: float, v0: float, u1: float, v1: float) -> list[float]:
        (ax, ay), (bx, by) = cam.project(x + u0, v1, z), cam.project(x + u1, v0, z)
        return [ax, ay, bx, by]

    def poly(points: Sequence[Point]) -> list[Point]:
        return [cam.project(x + u, v, z) for u, v in points]

    px_per_m = cam.focal / z * cam.ss
    draw.rounded_rectangle(q(-0.9, 0.0, -0.62, 0.45), radius=0.06 * px_per_m, fill=(22, 22, 25))
    draw.rounded_rectangle(q(0.62, 0.0, 0.9, 0.45), radius=0.06 * px_per_m, fill=(22, 22, 25))
    draw.polygon(poly([(-0.84, 0.95), (0.84, 0.95), (0.64, 1.45), (-0.64, 1.45)]), body)
    draw.polygon(poly([(-0.72, 1.0), (0.72, 1.0), (0.56, 1.39), (-0.56, 1.39)]), (52, 64, 82))
    draw.polygon(poly([(-0.5, 1.3), (-0.2, 1.3), (-0.3, 1.38), (-0.54, 1.38)]), (96, 112, 134))
    draw.rounded_rectangle(q(-0.92, 0.28, 0.92, 1.0), radius=0.12 * px_per_m, fill=body)
    draw.line(
        poly([(-0.88, 0.95), (0.88, 0.95)]), fill=tint(body, 0.6), width=round(0.02 * px_per_m)
    )
    draw.rounded_rectangle(q(-0.94, 0.24, 0.94, 0.42), radius=0.07 * px_per_m, fill=(38, 38, 42))
    for sign in (-1, 1):
        u0, u1 = sorted((sign * 0.88, sign * 0.55))
        draw.rounded_rectangle(q(u0, 0.72, u1, 0.87), radius=0.03 * px_per_m, fill=(200, 26, 30))
        draw.rectangle(q(u0 + 0.04, 0.75, u1 - 0.04, 0.79), fill=(240, 150, 60))
    (bx, by) = cam.project(x, 0.84, z)
    br = 0.035 * px_per_m
    draw.ellipse((bx - br, by - br, bx + br, by + br), fill=(200, 200, 205))
    # Licence plate: yellow with a dark border and bold dark text.
    draw.rectangle(q(-0.33, 0.46, 0.33, 0.64), fill=(30, 30, 30))
    plate_box = q(-0.315, 0.475, 0.315, 0.625)
    draw.rectangle(plate_box, fill=(246, 204, 36))
    box_w, box_h = plate_box[2] - plate_box[0], plate_box[3] - plate_box[1]
    font_size = max(6, round(box_h * 0.72))
    font = ImageFont.load_default(size=font_size)
    while font_size > 6 and draw.textlength(plate, font=font) > box_w * 0.86:
        font_size -= 1
        font = ImageFont.load_default(size=font_size)
    centre = ((plate_box[0] + plate_box[2]) / 2, (plate_box[1] + plate_box[3]) / 2)
    stroke = max(1, round(font_size / 14))
    draw.text(
        centre,
        plate,
        font=font,
        fill=(20, 20, 22),
        anchor="mm",
        stroke_width=stroke,
        stroke_fill=(20, 20, 22),
    )


def draw_street(size: tuple[int, int] = (1600, 1067), seed: int = 2) -> Image.Image:
    ss = 3
    w, h = size
    horizon = h * 0.44
    rng = np.random.default_rng(seed)
    cam = StreetCamera(size, ss, focal=w * 0.47, horizon=horizon)

    # Sky gradient with soft clouds (computed at the final size, upscaled for drawing).
    _, yy = grid(size)
    t = np.clip(yy / horizon, 0, 1)[..., None]
    sky = np.array((92, 146, 212), np.float32) * (1 - t) + np.array((196, 218, 236), np.float32) * t
    sk = Sketch(size, ss=1)
    for cx, cy, rx, ry in (
        (0.2, 0.1, 0.12, 0.035),
        (0.28, 0.13, 0.09, 0.03),
        (0.7, 0.18, 0.15, 0.04),
        (0.78, 0.15, 0.08, 0.035),
        (0.5, 0.06, 0.1, 0.025),
    ):
        cloud = sk.ellipse(cx * w, cy * h, rx * w, ry * h, blur=0.02 * w)
        paint(sky, cloud, (250, 250, 252), 0.8)
    base = Image.fromarray(sky.round().astype(np.uint8), "RGB").resize((w * ss, h * ss))
    draw = ImageDraw.Draw(base)

    # Distant skyline closing the street, hazy blue-grey.
    x = -70.0
    while x < 70:
        bw = float(rng.uniform(5, 14))
        bh = float(rng.uniform(14, 45))
        grey = int(rng.integers(150, 176))
        draw.polygon(cam.quad_z(300, x, x + bw, 0, bh), (grey - 12, grey - 4, grey + 10))
        x += bw

    # Ground: pavements, kerbs, road and markings.
    near, far = 1.2, 300.0
    draw.polygon(cam.quad_y(0, -40, 40, near, far), (150, 146, 140))
    draw.polygon(cam.quad_y(0, -6, 6, near, far), (74, 76, 80))
    for side in (-1, 1):
        draw.polygon(cam.quad_y(0, side * 6.0, side * 6.25, near, far), (196, 192, 184))
        draw.polygon(cam.quad_y(0, side * 5.55, side * 5.7, near, far), (232, 232, 226))
        slab = 2.0
        while slab < far:
            draw.line(
                [cam.project(side * 6.25, 0, slab), cam.project(side * 9, 0, slab)],
                (128, 124, 118),
                width=ss,
            )
            slab += 2.0
    dash = 2.0
    while dash < far:
        draw.polygon(cam.quad_y(0, -0.08, 0.08, dash, dash + 3), (236, 236, 230))
        dash += 9.0

    for side in (-1, 1):
        draw_buildings(draw, cam, rng, side)

    # Street lamps along both pavements.
    for side in (-1, 1):
        lz = 14.0 if side > 0 else 20.0
        while lz < 200:
            lx = side * 6.8
            top = cam.project(lx, 6.5, lz)
            pole_w = max(ss, round(0.16 * cam.focal / lz * ss))
            draw.line([cam.project(lx, 0, lz), top], fill=(46, 50, 54), width=pole_w)
            draw.line([top, cam.project(lx - side * 1.2, 6.6, lz)], fill=(46, 50, 54), width=pole_w)
            hx, hy = cam.project(lx - side * 1.2, 6.45, lz)
            r = 0.25 * cam.focal / lz * ss
            draw.ellipse((hx - r, hy - r * 0.5, hx + r, hy + r * 0.5), fill=(250, 236, 190))
            lz += 26.0

    # A car further up the road and the one right in front of us.
    draw_car(draw, cam, x=-2.6, z=24.0, body=(44, 92, 160), plate="AB 123 C")
    draw_car(draw, cam, x=2.4, z=4.2, body=(178, 32, 38), plate=PLATE_TEXT)

    img = base.reduce(ss)
    canvas = np.asarray(img, np.float32).copy()
    # Contact shadows under the cars (soft, so they are composited after downsampling).
    shadows = Sketch(size, ss=2)
    for x_car, z_car in ((-2.6, 24.0), (2.4, 4.2)):
        cx, cy = cam.project(x_car, 0, z_car)
        scale = cam.focal / z_car
        mask = shadows.ellipse(
            cx / ss, cy / ss - 0.02 * scale, 1.0 * scale, 0.06 * scale, 0.04 * scale
        )
        paint(canvas, mask, (20, 20, 22), 0.55)
    return film_finish(canvas, rng, sigma=2.6)


# --------------------------------------------------------------------------------------------
# sprite.png
# --------------------------------------------------------------------------------------------


def star_points(cx: float, cy: float, outer: float, inner: float, n: int = 5) -> list[Point]:
    points = []
    for i in range(2 * n):
        r = outer if i % 2 == 0 else inner
        a = -math.pi / 2 + math.pi * i / n
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return points


def over(
    dst: FloatArray, mask: FloatArray, color: Sequence[float] | FloatArray, alpha: float = 1.0
) -> None:
    """Porter-Duff "over" of a flat or per-pixel colour onto a straight-alpha RGBA float image."""
    a = (mask * alpha)[..., None]
    src_rgb = np.broadcast_to(np.asarray(color, np.float32), dst[..., :3].shape)
    dst_a = dst[..., 3:4]
    out_a = a + dst_a * (1 - a)
    safe = np.where(out_a > 0, out_a, 1)
    dst[..., :3] = (src_rgb * a + dst[..., :3] * dst_a * (1 - a)) / safe
    dst[..., 3:4] = out_a


def draw_sprite(size: int = 256) -> Image.Image:
    """A cheerful retro-game star with an outline, highlight, face and sparkles."""
    s = float(size)
    dims = (size, size)
    sk = Sketch(dims, ss=4)
    img = np.zeros((size, size, 4), np.float32)
    cx, cy = s * 0.5, s * 0.53

    outline = sk.polygon(star_points(cx, cy, s * 0.44, s * 0.21))
    body = sk.polygon(star_points(cx, cy, s * 0.40, s * 0.185))
    shadow_img = Image.fromarray((outline * 255).astype(np.uint8), "L")
    shadow_img = shadow_img.transform(
        dims, Image.Transform.AFFINE, (1, 0, -s * 0.03, 0, 1, -s * 0.04)
    )
    shadow = to_mask(shadow_img.filter(ImageFilter.GaussianBlur(s * 0.025)))

    _, yy = grid(dims)
    t = np.clip((yy - s * 0.15) / (s * 0.75), 0, 1)[..., None]
    gold = np.array((255, 232, 72), np.float32) * (1 - t) + np.array((246, 138, 28), np.float32) * t

    over(img, shadow, (40, 20, 10), 0.45)
    over(img, outline, (92, 44, 12))
    over(img, body, gold)
    shine = sk.polygon(
        star_points(cx - s * 0.035, cy - s * 0.04, s * 0.28, s * 0.12), blur=s * 0.03
    )
    over(img, shine * body, (255, 250, 200), 0.55)
    gloss = sk.ellipse(cx - s * 0.03, cy - s * 0.27, s * 0.018, s * 0.05, blur=1)
    over(img, gloss * body, (255, 255, 255), 0.8)

    for ex in (cx - s * 0.065, cx + s * 0.065):
        over(img, sk.ellipse(ex, cy - s * 0.01, s * 0.028, s * 0.055), (48, 24, 10))
        over(img, sk.ellipse(ex - s * 0.008, cy - s * 0.035, s * 0.011, s * 0.016), (255, 255, 255))
    over(
        img,
        sk.ellipse(cx - s * 0.13, cy + s * 0.06, s * 0.035, s * 0.02, blur=2),
        (240, 96, 80),
        0.6,
    )
    over(
        img,
        sk.ellipse(cx + s * 0.13, cy + s * 0.06, s * 0.035, s * 0.02, blur=2),
        (240, 96, 80),
        0.6,
    )
    smile = [
        (cx - s * 0.045 + s * 0.09 * i / 10, cy + s * 0.07 + s * 0.025 * math.sin(math.pi * i / 10))
        for i in range(11)
    ]
    over(img, sk.line(smile, width=s * 0.016), (48, 24, 10))

    # Sparkles: four-pointed glints with a soft glow (partial alpha well outside the star).
    for gx, gy, r in (
        (s * 0.14, s * 0.16, s * 0.07),
        (s * 0.86, s * 0.2, s * 0.05),
        (s * 0.85, s * 0.84, s * 0.04),
    ):
        over(img, sk.ellipse(gx, gy, r * 0.9, r * 0.9, blur=r * 0.4), (255, 240, 160), 0.45)
        glint = [
            (gx, gy - r),
            (gx + r * 0.22, gy - r * 0.22),
            (gx + r, gy),
            (gx + r * 0.22, gy + r * 0.22),
            (gx, gy + r),
            (gx - r * 0.22, gy + r * 0.22),
            (gx - r, gy),
            (gx - r * 0.22, gy - r * 0.22),
        ]
        over(img, sk.polygon(glint), (255, 255, 236))

    rgba = np.concatenate([img[..., :3], img[..., 3:4] * 255], axis=2)
    return Image.fromarray(np.clip(rgba, 0, 255).round().astype(np.uint8), "RGBA")


# --------------------------------------------------------------------------------------------
# animated.gif
# --------------------------------------------------------------------------------------------


def draw_bounce_frames(size: tuple[int, int] = (200, 150), n: int = 8) -> list[Image.Image]:
    """A red ball bouncing left to right over a meadow, squashing when it lands."""
    w, h = size
    ground_y = 118.0
    sk = Sketch(size, ss=4)
    _, yy = grid(size)
    t = np.clip(yy / ground_y, 0, 1)[..., None]
    scene = (
        np.array((110, 170, 235), np.float32) * (1 - t) + np.array((200, 226, 246), np.float32) * t
    )
    paint(scene, sk.ellipse(48, 30, 24, 9), (255, 255, 255), 0.9)
    paint(scene, sk.ellipse(64, 25, 16, 9), (255, 255, 255), 0.9)
    paint(scene, sk.ellipse(150, 45, 20, 7), (255, 255, 255), 0.9)
    paint(
        scene,
        sk.polygon([(0, 122), (60, 100), (120, 118), (160, 104), (200, 116), (200, 150), (0, 150)]),
        (120, 170, 110),
    )
    paint(scene, sk.polygon([(0, ground_y), (w, ground_y), (w, h), (0, h)]), (72, 150, 60))

    frames = []
    radius = 13.0
    for i in range(n):
        x = 24 + (w - 48) * i / (n - 1)
        height = 72 * abs(math.cos(math.pi * i / 4))
        squash = 1.0 if height > 1 else 0.75
        rx, ry = radius / squash**0.5, radius * squash
        cy = ground_y - height - ry
        frame = scene.copy()
        shadow_r = radius * (1.2 - 0.5 * height / 72)
        paint(frame, sk.ellipse(x, ground_y + 3, shadow_r, 4), (34, 80, 28), 0.9)
        ball = sk.ellipse(x, cy, rx, ry)
        paint(
            frame, ball, shade((222, 40, 44), falloff(size, x - 5, cy - 5, radius * 1.8), 0.55, 1.1)
        )
        paint(frame, sk.ellipse(x - 4, cy - 5, 3.5, 2.5) * ball, (255, 255, 255), 0.85)
        frames.append(Image.fromarray(np.clip(frame, 0, 255).round().astype(np.uint8), "RGB"))

    # One shared palette for every frame keeps colours stable and the file small.
    strip = Image.new("RGB", (w, h * n))
    for i, frame in enumerate(frames):
        strip.paste(frame, (0, h * i))
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def make_samples(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    portrait = out / "portrait.jpg"
    save_jpeg(draw_portrait(), portrait, portrait_exif())
    with Image.open(portrait) as im:
        gps = im.getexif().get_ifd(TAG_GPS_IFD)
        assert gps, "GPS IFD missing from portrait.jpg"
        assert gps.get(1) == "N", "GPS latitude ref missing from portrait.jpg"
    written.append(portrait)

    street = out / "street.jpg"
    save_jpeg(draw_street(), street)
    written.append(street)

    rotated = out / "rotated.jpg"
    upright = draw_street((800, 533), seed=3)
    exif = Image.Exif()
    exif[TAG_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    save_jpeg(upright.transpose(Image.Transpose.ROTATE_90), rotated, exif)
    with Image.open(rotated) as im:
        shown = ImageOps.exif_transpose(im)
        assert shown.size == upright.size, "rotated.jpg does not display upright"
        diff = np.abs(np.asarray(shown, np.int16) - np.asarray(upright, np.int16)).mean()
        assert diff < 6, f"rotated.jpg displays wrongly (mean abs diff {diff:.1f})"
    written.append(rotated)

    sprite = out / "sprite.png"
    draw_sprite().save(sprite, "PNG", optimize=True)
    written.append(sprite)

    animated = out / "animated.gif"
    frames = draw_bounce_frames()
    frames[0].save(
        animated,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=list(GIF_DURATIONS_MS),
        loop=0,
        disposal=2,
        optimize=False,
    )
    with Image.open(animated) as im:
        assert getattr(im, "n_frames", 1) == len(GIF_DURATIONS_MS), "animated.gif lost frames"
    written.append(animated)

    astronaut = out / "astronaut.jpg"
    save_jpeg(astronaut_photo(), astronaut)
    written.append(astronaut)
    return written


# --------------------------------------------------------------------------------------------
# astronaut.jpg


def astronaut_photo() -> Image.Image:
    """scikit-image's ``data.astronaut()``: 512x512 RGB, a portrait of Eileen Collins from the
    NASA Great Images database, "No known copyright restrictions, released into the public
    domain" (the function's docstring in scikit-image). Read from the wheel, no download."""
    from skimage import data  # the dev extra; not a dependency of pixelpipe

    pixels = data.astronaut()
    assert pixels.shape == (512, 512, 3), pixels.shape
    return Image.fromarray(pixels, "RGB")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "images",
        help="output directory (default: examples/images next to this script)",
    )
    args = parser.parse_args(argv)
    for path in make_samples(args.out):
        with Image.open(path) as im:
            print(f"{path}  {im.size[0]}x{im.size[1]}  {im.mode}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
