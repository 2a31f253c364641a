"""Shared helpers for the engine tests.

Every image is synthesised in memory with Pillow and numpy from fixed seeds: nothing is read
from disk or downloaded, and every run sees the same bytes.

The *reference* computation is the original design, written out with plain Pillow calls on a
full-resolution decode: ``resize((gw, gh), BILINEAR)`` then ``resize((W, H), NEAREST)`` of the
orientation-corrected image. Bilinear filtering is meaningless for bilevel and palette images
(Pillow silently falls back to nearest-neighbour for modes ``1`` and ``P``), so the reference
first expands those the way any pixelation must: ``1`` -> ``L``, ``P`` -> ``RGB`` (``RGBA``
when the palette carries transparency). 16-bit ``I;16`` is resampled as it is, as the
original design did.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, ImageOps, ImageStat

BILINEAR = Image.Resampling.BILINEAR
NEAREST = Image.Resampling.NEAREST
ORIENTATION_TAG = 0x0112

# The transpose that, applied to the *upright* image, gives the pixels a camera stores with
# EXIF orientation ``o`` (so that ``ImageOps.exif_transpose`` gives the upright image back).
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# --------------------------------------------------------------------------------------------
# Encoding and decoding


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    """``im`` encoded as ``fmt`` (a Pillow format name)."""
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    """Open and fully load ``data`` with Pillow (first frame)."""
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@dataclass
class Frame:
    image: Image.Image  # a loaded copy
    duration: float | None
    disposal: int | None


def read_frames(data: bytes) -> tuple[list[Frame], Image.Image]:
    """Every frame of ``data`` (loaded copies) and the opened image (for ``info``)."""
    im = Image.open(io.BytesIO(data))
    out = []
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        im.load()  # WebP sets the frame's duration on load
        disposal = getattr(im, "disposal_method", None)
        if disposal is None:
            disposal = im.info.get("disposal")
        out.append(Frame(im.copy(), im.info.get("duration"), disposal))
    return out, im


# --------------------------------------------------------------------------------------------
# Synthetic images


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # a Pillow without FreeType
        return ImageFont.load_default()


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """An RGB image that behaves like a photograph for resampling purposes.

    Smooth colour gradients, hard-edged shapes (rectangles, ellipses, polygons), a few lines
    of text, then gaussian sensor noise.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    fx, fy = xx / max(1, width - 1), yy / max(1, height - 1)
    base = np.stack(
        [
            40 + 180 * fx,
            60 + 150 * fy,
            200 - 120 * (fx + fy) / 2 + 30 * np.sin(6.0 * fx) * np.cos(4.0 * fy),
        ],
        axis=-1,
    )
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(30):
        x0 = int(rng.integers(-width // 8, width))
        y0 = int(rng.integers(-height // 8, height))
        x1 = x0 + int(rng.integers(max(2, width // 40), max(3, width // 3)))
        y1 = y0 + int(rng.integers(max(2, height // 40), max(3, height // 3)))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=color)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=color)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=color)
    font = _font(max(8, height // 25))
    for i in range(6):
        xy = (int(rng.integers(0, max(1, width - 10))), int(rng.integers(0, max(1, height - 10))))
        draw.text(
            xy, f"PXL {2020 + i} pixelpipe", fill=(255, 255, 255) if i % 2 else (0, 0, 0), font=font
        )
    arr = np.asarray(im, dtype=np.float32)
    arr += rng.standard_normal((height, width, 3), dtype=np.float32) * 10.0
    return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "RGB")


def drawing(width: int, height: int, seed: int = 0) -> Image.Image:
    """Flat-colour artwork: a white page with text, thick lines and filled shapes."""
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(im)
    for _ in range(20):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = int(rng.integers(0, width)), int(rng.integers(0, height))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line((x0, y0, x1, y1), fill=color, width=int(rng.integers(2, max(3, width // 60))))
        draw.rectangle(
            (x0, y0, x0 + width // 10, y0 + height // 12), outline=color, width=max(2, width // 200)
        )
    font = _font(max(10, height // 15))
    for row in range(8):
        draw.text(
            (width // 20, row * height // 8),
            "Licence PXL 2026 / 0123456789",
            fill=(0, 0, 0),
            font=font,
        )
    return im


def noise_image(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Uniform random pixels in ``mode`` (L, LA, RGB, RGBA, CMYK)."""
    rng = np.random.default_rng(seed)
    bands = len(mode)
    arr = rng.integers(0, 256, (height, width, bands), dtype=np.uint8)
    return Image.fromarray(arr[..., 0] if bands == 1 else arr, mode)


def asymmetric(width: int = 60, height: int = 40, seed: int = 7) -> Image.Image:
    """An upright RGB image that no flip or rotation maps onto itself."""
    im = noise_image(width, height, "RGB", seed)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 3, height // 4), fill=(255, 0, 0))  # red top-left corner
    draw.rectangle((width - width // 5, height - height // 3, width, height), fill=(0, 0, 255))
    return im


def stored_with_orientation(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels to store with EXIF ``orientation`` so that they display as ``upright``."""
    method = STORE_FOR_ORIENTATION[orientation]
    return upright.copy() if method is None else upright.transpose(method)


def exif_bytes(orientation: int | None = None, gps: bool = False, **tags: object) -> bytes:
    """EXIF block with an optional orientation, camera make/model and GPS position."""
    exif = Image.Exif()
    exif[0x010F] = tags.get("make", "PixelCam")  # Make
    exif[0x0110] = tags.get("model", "PC-1")  # Model
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    if gps:
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "N"
        ifd[2] = (51.0, 30.0, 12.5)
        ifd[3] = "W"
        ifd[4] = (0.0, 7.0, 39.0)
    return exif.tobytes()


def png_header_only(width: int, height: int, color_type: int = 2) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` but whose data is a few bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------------------------
# The reference computation and comparisons


def work_mode(im: Image.Image) -> Image.Image:
    """``im`` in a mode bilinear resampling is defined for (see the module docstring)."""
    if im.mode == "1":
        return im.convert("L")
    if im.mode == "P":
        has_alpha = "transparency" in im.info or (
            im.palette is not None and im.palette.mode == "RGBA"
        )
        return im.convert("RGBA" if has_alpha else "RGB")
    return im


def reference(
    im: Image.Image, grid: tuple[int, int], size: tuple[int, int] | None = None
) -> Image.Image:
    """The original design: bilinear down to ``grid``, nearest-neighbour back to ``size``."""
    im = work_mode(im)
    small = im.resize(grid, BILINEAR)
    return small.resize(size or im.size, NEAREST)


def upright(data: bytes) -> Image.Image:
    """Full-resolution decode of ``data`` by plain Pillow, orientation applied."""
    im = decode(data)
    out = ImageOps.exif_transpose(im)
    return out if out is not None else im


def pixels(im: Image.Image, mode: str | None = None) -> np.ndarray:
    """``im`` (converted to ``mode`` if given) as an array of shape (H, W, bands).

    Integer modes give int32 (exact, and differences cannot wrap), ``F`` gives float64.
    """
    if mode is not None and im.mode != mode:
        im = im.convert(mode)
    arr = np.asarray(im)
    arr = arr.astype(np.float64) if arr.dtype.kind == "f" else arr.astype(np.int32)
    return arr[..., None] if arr.ndim == 2 else arr


def mad(
    a: Image.Image | np.ndarray, b: Image.Image | np.ndarray, mode: str | None = None
) -> np.ndarray:
    """Mean absolute difference per channel (float64 array, one value per band)."""
    if isinstance(a, Image.Image) and isinstance(b, Image.Image):
        if mode is not None:
            a = a if a.mode == mode else a.convert(mode)
            b = b if b.mode == mode else b.convert(mode)
        if a.mode == b.mode and a.mode in ("L", "LA", "RGB", "RGBA") and a.size == b.size:
            # 8-bit: Pillow's C code is ~20x faster than numpy on the large parity images.
            return np.array(ImageStat.Stat(ImageChops.difference(a, b)).mean)
    x = a if isinstance(a, np.ndarray) else pixels(a, mode)
    y = b if isinstance(b, np.ndarray) else pixels(b, mode)
    assert x.shape == y.shape, f"shape {x.shape} != {y.shape}"
    diff = np.abs(x - y).reshape(-1, x.shape[-1])
    return diff.sum(axis=0, dtype=np.float64) / diff.shape[0]


def premultiplied(im: Image.Image) -> np.ndarray:
    """RGBA as (R*a, G*a, B*a, A): what is visible, independent of hidden colour."""
    arr = pixels(im, "RGBA").astype(np.float64)
    out = arr.copy()
    out[..., :3] = arr[..., :3] * arr[..., 3:] / 255.0
    return out


def assert_one_line_reason(exc: BaseException) -> None:
    reason = getattr(exc, "reason", None)
    assert isinstance(reason, str), f"{type(exc).__name__} has no .reason"
    assert reason.strip(), "empty reason"
    assert "\n" not in reason, repr(reason)
    assert "\r" not in reason, repr(reason)
    assert str(exc) == reason


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def small_rgb() -> Image.Image:
    return photo_like(120, 90, seed=11)


@pytest.fixture(scope="session")
def small_rgba() -> Image.Image:
    """64x128: left half fully transparent (with junk colour under it), right half opaque."""
    rng = np.random.default_rng(3)
    arr = np.zeros((64, 128, 4), np.uint8)
    arr[..., :3] = rng.integers(0, 256, (64, 128, 3))
    arr[:, 64:, 3] = 255
    return Image.fromarray(arr, "RGBA")


# The real S3/SQS stack (moto's server) for test_storage, test_pipeline and test_handler.
pytest_plugins = ("moto_stack",)
