"""Grid planning, output modes, output formats and pixel modes."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from PIL import Image, features

from conftest import (
    decode,
    encode,
    mad,
    noise_image,
    photo_like,
    pixels,
    reference,
)
from pixelpipe import EncodeError, EngineSettings, ImageError, pixelate

# --------------------------------------------------------------------------------------------
# Variants, labels and grids


def test_default_variants_and_labels(small_rgb: Image.Image) -> None:
    result = pixelate(encode(small_rgb, "JPEG"))
    assert [v.label for v in result.variants] == ["8x8", "16x16", "32x32", "48x48", "64x64"]
    for v, n in zip(result.variants, (8, 16, 32, 48, 64), strict=True):
        assert (v.size, v.unit, v.kind, v.grid) == (n, "grid", "full", (n, n))
        assert (v.width, v.height) == (120, 90)
        assert decode(v.data).size == (120, 90)
        assert v.filename("cat.jpg") == f"pixelated-{n}x{n}-cat.jpg"
    assert result.source.format == "JPEG"
    assert (result.source.width, result.source.height) == (120, 90)
    assert result.source.frames == 1
    assert result.source.bytes == len(encode(small_rgb, "JPEG"))


def _nearest_spans(length: int, n: int) -> list[int]:
    """Where the block index changes when ``n`` blocks are scaled to ``length`` px (NEAREST)."""
    index = Image.fromarray(np.arange(n, dtype=np.int32)[None, :], "I")
    idx = np.asarray(index.resize((length, 1), Image.Resampling.NEAREST))[0]
    return [0, *(np.flatnonzero(np.diff(idx)) + 1).tolist(), length]


def test_full_output_is_n_by_n_blocks(small_rgb: Image.Image) -> None:
    result = pixelate(encode(small_rgb, "PNG"), EngineSettings(sizes=(4, 10), format="png"))
    for v in result.variants:
        arr = pixels(decode(v.data), "RGB")
        xs, ys = _nearest_spans(120, v.size), _nearest_spans(90, v.size)
        assert len(xs) == len(ys) == v.size + 1
        for a, b in itertools.pairwise(xs):
            assert (arr[:, a:b] == arr[:, a : a + 1]).all()
        for a, b in itertools.pairwise(ys):
            assert (arr[a:b] == arr[a : a + 1]).all()
        # and the n x n blocks are not all the same colour
        corners = {tuple(arr[y, x].tolist()) for x in xs[:-1] for y in ys[:-1]}
        assert len(corners) > v.size


@pytest.mark.parametrize(
    ("size", "n", "grid"),
    [
        ((400, 300), 8, (8, 6)),
        ((300, 400), 8, (6, 8)),
        ((300, 300), 16, (16, 16)),
        ((3001, 997), 64, (64, 21)),
        ((997, 3001), 48, (16, 48)),
        ((500, 10), 8, (8, 1)),  # never fewer than one block
        ((10, 500), 16, (1, 16)),
    ],
)
def test_square_shape_grid(size: tuple[int, int], n: int, grid: tuple[int, int]) -> None:
    w, h = size
    assert grid == ((n, max(1, round(n * h / w))) if w >= h else (max(1, round(n * w / h)), n))
    im = Image.new("RGB", size, (10, 20, 30))
    result = pixelate(encode(im, "PNG"), EngineSettings(sizes=(n,), shape="square", format="png"))
    (v,) = result.variants
    assert v.grid == grid
    assert (v.width, v.height) == size
    assert decode(v.data).size == size


def test_square_shape_blocks_are_square(small_rgb: Image.Image) -> None:
    im = photo_like(400, 300, seed=1)
    result = pixelate(encode(im, "PNG"), EngineSettings(sizes=(8,), shape="square", format="png"))
    (v,) = result.variants
    assert v.grid == (8, 6)
    # 400 / 8 == 300 / 6: every block is 50 x 50 px
    arr = pixels(decode(v.data), "RGB")
    for x in range(0, 400, 50):
        for y in range(0, 300, 50):
            assert (arr[y : y + 50, x : x + 50] == arr[y, x]).all()
    assert mad(decode(v.data), reference(im, (8, 6)), mode="RGB").max() <= 1.0


@pytest.mark.parametrize(("w", "h"), [(100, 40), (96, 64), (37, 121), (16, 16), (5, 3)])
@pytest.mark.parametrize("p", [1, 10, 16, 32])
def test_block_px_grid_and_size(w: int, h: int, p: int) -> None:
    im = photo_like(w, h, seed=w + h)
    result = pixelate(encode(im, "PNG"), EngineSettings(block_px=(p,), format="png"))
    (v,) = result.variants
    assert (v.size, v.unit, v.label) == (p, "px", f"{p}px")
    assert v.grid == (math.ceil(w / p), math.ceil(h / p))
    assert (v.width, v.height) == (w, h)
    out = pixels(decode(v.data), "RGB")
    assert out.shape[:2] == (h, w)
    # every p-wide (p-tall) block is one colour: rows and columns constant within blocks
    xs = [*range(0, w, p), w]
    ys = [*range(0, h, p), h]
    for a, b in itertools.pairwise(xs):
        assert (out[:, a:b] == out[:, a : a + 1]).all(), f"columns {a}..{b - 1}"
    for a, b in itertools.pairwise(ys):
        assert (out[a:b] == out[a : a + 1]).all(), f"rows {a}..{b - 1}"


def test_block_px_replaces_sizes(small_rgb: Image.Image) -> None:
    result = pixelate(
        encode(small_rgb, "PNG"), EngineSettings(sizes=(8, 16), block_px=(10, 30), output="both")
    )
    assert [v.label for v in result.variants] == ["10px", "10px-grid", "30px", "30px-grid"]
    assert [v.grid for v in result.variants] == [(12, 9), (12, 9), (4, 3), (4, 3)]
    assert result.variants[0].filename("cat.png") == "pixelated-10px-cat.png"
    assert result.variants[1].filename("cat.png") == "pixelated-10px-grid-cat.png"


@pytest.mark.parametrize("p", [16, 24])
def test_block_px_blocks_show_their_own_region(p: int) -> None:
    """Each p-px output block takes its colour from the same p-px region of the input.

    A horizontal ramp (value 2x at column x) makes any misplacement visible: an interior block
    covering columns [k*p, (k+1)*p) must come out close to the ramp's value at its centre.
    """
    w, h = 100, 40  # 100 is not a multiple of p: the last block is partial
    ramp = np.tile((np.arange(w) * 2).astype(np.uint8), (h, 1))
    im = Image.fromarray(ramp, "L")
    (v,) = pixelate(encode(im, "PNG"), EngineSettings(block_px=(p,), format="png")).variants
    out = pixels(decode(v.data), "L")[..., 0]
    for k in range(1, w // p):  # interior, complete blocks
        got = out[h // 2, k * p]
        expected = 2 * (k * p + (p - 1) / 2)
        assert abs(got - expected) <= 3, (
            f"block {k} (columns {k * p}..{(k + 1) * p - 1}): got {got}, expected ~{expected}"
        )


# --------------------------------------------------------------------------------------------
# Output modes


def test_output_grid_is_the_tiny_image(small_rgb: Image.Image) -> None:
    result = pixelate(encode(small_rgb, "PNG"), EngineSettings(sizes=(8, 13), output="grid"))
    assert [v.label for v in result.variants] == ["8x8-grid", "13x13-grid"]
    for v in result.variants:
        assert v.kind == "grid"
        assert (v.width, v.height) == v.grid
        assert decode(v.data).size == v.grid
        assert v.filename("cat.png") == f"pixelated-{v.size}x{v.size}-grid-cat.png"


def test_output_grid_square_shape() -> None:
    im = photo_like(300, 200, seed=2)
    result = pixelate(encode(im, "PNG"), EngineSettings(sizes=(12,), output="grid", shape="square"))
    (v,) = result.variants
    assert v.grid == (12, 8)
    assert decode(v.data).size == (12, 8)


def test_output_both_gives_full_and_grid_per_size(small_rgb: Image.Image) -> None:
    sizes = (4, 8, 16)
    result = pixelate(encode(small_rgb, "PNG"), EngineSettings(sizes=sizes, output="both"))
    assert len(result.variants) == 2 * len(sizes)
    by_label = {v.label: v for v in result.variants}
    for n in sizes:
        full, grid = by_label[f"{n}x{n}"], by_label[f"{n}x{n}-grid"]
        assert (full.kind, grid.kind) == ("full", "grid")
        assert decode(full.data).size == (120, 90)
        assert decode(grid.data).size == (n, n)
        # the full variant is the grid scaled up with nearest-neighbour
        up = decode(grid.data).convert("RGB").resize((120, 90), Image.Resampling.NEAREST)
        assert (pixels(decode(full.data), "RGB") == pixels(up)).all()


# --------------------------------------------------------------------------------------------
# Output formats

HAS_AVIF = features.check("avif")
_avif = pytest.mark.skipif(not HAS_AVIF, reason="this Pillow has no AVIF codec")

EXPECTED = {
    # pixelpipe name: (Pillow format read back, content types accepted, extension)
    "jpeg": ("JPEG", {"image/jpeg"}, ".jpg"),
    "png": ("PNG", {"image/png"}, ".png"),
    "webp": ("WEBP", {"image/webp"}, ".webp"),
    "avif": ("AVIF", {"image/avif"}, ".avif"),
    "gif": ("GIF", {"image/gif"}, ".gif"),
    "tiff": ("TIFF", {"image/tiff"}, ".tiff"),
    "bmp": ("BMP", {"image/bmp", "image/x-ms-bmp"}, ".bmp"),
    "ico": ("ICO", {"image/vnd.microsoft.icon", "image/x-icon"}, ".ico"),
    "mpo": ("MPO", {"image/mpo", "image/jpeg"}, ".mpo"),
}


@pytest.mark.parametrize(
    "fmt",
    ["jpeg", "png", "webp", pytest.param("avif", marks=_avif), "gif", "tiff", "bmp"],
)
def test_explicit_output_format(fmt: str, small_rgb: Image.Image) -> None:
    pil, content_types, ext = EXPECTED[fmt]
    result = pixelate(encode(small_rgb, "PNG"), EngineSettings(sizes=(8, 16), format=fmt))
    for v in result.variants:
        out = decode(v.data)
        assert out.format == pil
        assert out.size == (120, 90)
        assert (v.format, v.extension) == (fmt, ext)
        assert v.content_type in content_types
        # lossy or palette formats: the colours are still those of the pixelated image
        err = mad(out, reference(small_rgb, v.grid), mode="RGB")
        # lossless formats (GIF: at most 256 colours here) are exact; lossy ones close
        limit = 12 if fmt in ("jpeg", "webp", "avif") else 1e-9
        assert err.max() <= limit, f"{fmt} {v.label}: {err.tolist()}"


def _mpo(im: Image.Image) -> bytes:
    return encode(
        im, "MPO", save_all=True, append_images=[im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    )


SOURCE_CASES = [
    ("JPEG", "jpeg", lambda im: encode(im, "JPEG")),
    ("PNG", "png", lambda im: encode(im, "PNG")),
    ("GIF", "gif", lambda im: encode(im, "GIF")),
    ("WEBP", "webp", lambda im: encode(im, "WEBP")),
    ("TIFF", "tiff", lambda im: encode(im, "TIFF")),
    ("BMP", "bmp", lambda im: encode(im, "BMP")),
    ("MPO", "mpo", _mpo),
]


@pytest.mark.parametrize(("pil", "fmt", "make"), SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES])
def test_source_format_is_kept(pil: str, fmt: str, make: object, small_rgb: Image.Image) -> None:
    data = make(small_rgb)  # type: ignore[operator]
    assert decode(data).format == pil
    result = pixelate(data, EngineSettings(sizes=(8,)))
    assert result.source.format == pil
    (v,) = result.variants
    out_pil, content_types, ext = EXPECTED[fmt]
    out = decode(v.data)
    assert (out.format, out.size) == (out_pil, (120, 90))
    assert (v.format, v.extension) == (fmt, ext)
    assert v.content_type in content_types


def test_source_ico_square() -> None:
    im = photo_like(64, 64, seed=1)
    data = encode(im, "ICO", sizes=[(64, 64)])
    (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
    out = decode(v.data)
    assert out.format == "ICO"
    assert out.size == (64, 64)
    assert v.format == "ico"
    assert v.content_type in EXPECTED["ico"][1]


def test_source_ico_non_square_keeps_its_size() -> None:
    im = photo_like(64, 48, seed=1)
    data = encode(im, "ICO", sizes=[(64, 48)])
    assert decode(data).size == (64, 48)
    result = pixelate(data, EngineSettings(sizes=(8,)))
    (v,) = result.variants
    assert (v.width, v.height) == (64, 48)
    out = decode(v.data)
    assert out.format == "ICO"
    assert out.size == (64, 48), f"ICO output decodes as {out.size}, input was 64x48"


@_avif
def test_source_avif() -> None:
    im = photo_like(96, 64, seed=3)
    (v,) = pixelate(encode(im, "AVIF"), EngineSettings(sizes=(8,))).variants
    out = decode(v.data)
    assert (out.format, out.size, v.format, v.content_type) == (
        "AVIF",
        (96, 64),
        "avif",
        "image/avif",
    )


def test_source_heif() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    im = photo_like(96, 64, seed=4)
    data = encode(im, "HEIF")
    result = pixelate(data, EngineSettings(sizes=(8, 16)))
    assert result.source.format == "HEIF"
    assert (result.source.width, result.source.height) == (96, 64)
    for v in result.variants:
        out = decode(v.data)
        assert out.size == (96, 64)
        assert v.format in ("heif", "png")
        assert out.format == ("HEIF" if v.format == "heif" else "PNG")
        assert v.filename("cat.heic") == f"pixelated-{v.label}-cat" + (
            ".heic" if v.format == "heif" else ".png"
        )
        err = mad(out, reference(im, v.grid), mode="RGB")
        assert err.max() < 8


def test_heif_input_to_png() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    im = photo_like(80, 60, seed=4)
    (v,) = pixelate(encode(im, "HEIF"), EngineSettings(sizes=(8,), format="png")).variants
    out = decode(v.data)
    assert (out.format, out.size) == ("PNG", (80, 60))


@pytest.mark.parametrize(
    ("source_name", "fmt", "expected"),
    [
        ("cat.JPG", "jpeg", "pixelated-8x8-cat.JPG"),
        ("cat.jpeg", "jpeg", "pixelated-8x8-cat.jpeg"),
        ("cat.jpg", "jpeg", "pixelated-8x8-cat.jpg"),
        ("cat.png", "webp", "pixelated-8x8-cat.webp"),
        ("cat.png", "png", "pixelated-8x8-cat.png"),
        ("cat.jpg", "png", "pixelated-8x8-cat.png"),
        ("cat.PNG", "png", "pixelated-8x8-cat.PNG"),
        ("cat.tif", "tiff", "pixelated-8x8-cat.tif"),
        ("holiday.photo.jpg", "webp", "pixelated-8x8-holiday.photo.webp"),
        ("cat", "png", "pixelated-8x8-cat.png"),
    ],
)
def test_filename_changes_extension_only_when_format_differs(
    source_name: str, fmt: str, expected: str, small_rgb: Image.Image
) -> None:
    (v,) = pixelate(encode(small_rgb, "PNG"), EngineSettings(sizes=(8,), format=fmt)).variants
    assert v.filename(source_name) == expected


def test_jpg_alias_and_quality_affects_size(small_rgb: Image.Image) -> None:
    data = encode(photo_like(300, 200, seed=9), "PNG")
    lo = pixelate(data, EngineSettings(sizes=(64,), format="jpg", quality=10)).variants[0]
    hi = pixelate(data, EngineSettings(sizes=(64,), format="jpg", quality=95)).variants[0]
    assert lo.format == hi.format == "jpeg"
    assert len(lo.data) < len(hi.data)


def test_encode_error_when_format_cannot_hold_the_size() -> None:
    im = Image.new("RGB", (20000, 4), (1, 2, 3))  # WebP stores at most 16383 px per side
    data = encode(im, "PNG")
    with pytest.raises(EncodeError) as info:
        pixelate(data, EngineSettings(sizes=(8,), format="webp"))
    assert "\n" not in info.value.reason
    assert isinstance(info.value, ImageError)
    # the grid itself is small enough
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="webp", output="grid")).variants
    assert decode(v.data).size == (8, 8)


# --------------------------------------------------------------------------------------------
# Pixel modes


def _mode_image(mode: str) -> Image.Image:
    base = photo_like(96, 64, seed=12)
    if mode == "1":
        return base.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1")
    if mode == "P":
        im = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=31)  # indexes 0..30
        palette = im.getpalette() or []
        im.putpalette([*palette[: 31 * 3], 0, 0, 0])  # index 31: only the transparent area
        im.paste(31, (0, 0, 30, 64))
        im.info["transparency"] = 31
        return im
    if mode == "LA":
        im = base.convert("L")
        im.putalpha(noise_image(96, 64, "L", seed=1))
        return im
    if mode == "RGBA":
        im = base.copy()
        im.putalpha(noise_image(96, 64, "L", seed=1))
        return im
    return base.convert(mode)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA"])
def test_modes_to_png_match_reference(mode: str) -> None:
    im = _mode_image(mode)
    data = encode(im, "PNG", transparency=31) if mode == "P" else encode(im, "PNG")
    src = decode(data)
    assert src.mode == mode
    result = pixelate(data, EngineSettings(sizes=(4, 8, 20), format="png"))
    assert result.source.mode == mode
    assert result.decode_scale == 1  # 20 blocks x 4 px > 64 px: no reduced decoding
    for v in result.variants:
        ref = reference(src, v.grid)
        out = decode(v.data)
        assert out.size == (96, 64)
        assert (pixels(out, ref.mode) == pixels(ref)).all(), f"{mode} {v.label}"


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA"])
@pytest.mark.parametrize("fmt", ["jpeg", "webp", "gif", "tiff", "bmp"])
def test_modes_to_every_format(mode: str, fmt: str) -> None:
    im = _mode_image(mode)
    data = encode(im, "PNG", transparency=31) if mode == "P" else encode(im, "PNG")
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
    out = decode(v.data)
    assert out.format == EXPECTED[fmt][0]
    assert out.size == (96, 64)


def test_p_mode_transparency_survives_png() -> None:
    im = _mode_image("P")
    data = encode(im, "PNG", transparency=31)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="png")).variants
    alpha = pixels(decode(v.data), "RGBA")[..., 3]
    assert (alpha[:, :12] == 0).all()  # columns 0..29 are transparent; blocks 0 (0..11) fully
    assert (alpha[:, 48:] == 255).all()


def test_cmyk_jpeg_to_png_is_not_inverted() -> None:
    cmyk = Image.new("CMYK", (64, 48), (10, 200, 30, 40))
    data = encode(cmyk, "JPEG", quality=95)
    src = decode(data)
    assert src.mode == "CMYK"
    expected = np.array(src.convert("RGB").getpixel((32, 24)), float)
    inverse = 255 - expected
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="png")).variants
    got = pixels(decode(v.data), "RGB").reshape(-1, 3).mean(axis=0)
    assert np.abs(got - expected).max() <= 3, f"got {got}, expected {expected}"
    assert np.abs(got - inverse).max() > 60


@pytest.mark.parametrize("src_fmt", ["JPEG", "TIFF"])
def test_cmyk_source_round_trip(src_fmt: str) -> None:
    values = (10, 200, 30, 40)
    cmyk = Image.new("CMYK", (64, 48), values)
    data = encode(cmyk, src_fmt, **({"quality": 95} if src_fmt == "JPEG" else {}))
    (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
    out = decode(v.data)
    assert out.format == src_fmt
    assert out.mode == "CMYK"
    got = pixels(out).reshape(-1, 4).mean(axis=0)
    assert np.abs(got - np.array(values)).max() <= 4, f"got {got}, wrote {values}"


def test_cmyk_to_webp_and_gif_not_inverted() -> None:
    cmyk = Image.new("CMYK", (64, 48), (200, 20, 0, 0))  # a cyan-ish blue
    data = encode(cmyk, "TIFF")
    expected = np.array(decode(data).convert("RGB").getpixel((0, 0)), float)
    for fmt in ("webp", "gif", "jpeg"):
        (v,) = pixelate(data, EngineSettings(sizes=(4,), format=fmt)).variants
        got = pixels(decode(v.data), "RGB").reshape(-1, 3).mean(axis=0)
        assert np.abs(got - expected).max() <= 6, f"{fmt}: got {got}, expected {expected}"


def _sixteen_bit(w: int = 80, h: int = 64) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    arr = (xx * 800 + yy * 37 + (np.random.default_rng(1).integers(0, 300, (h, w)))).astype(
        np.uint16
    )
    return Image.fromarray(arr)


def test_16bit_png_stays_16bit() -> None:
    im = _sixteen_bit()
    assert im.mode == "I;16"
    data = encode(im, "PNG")
    result = pixelate(data, EngineSettings(sizes=(5, 8, 20), format="png"))
    assert result.decode_scale == 1
    assert result.source.mode.startswith("I;16")
    for v in result.variants:
        out = decode(v.data)
        assert out.mode.startswith("I;16"), f"16-bit input written as {out.mode}"
        arr = pixels(out)
        assert arr.max() > 255  # not squeezed into 8 bits
        assert (arr == pixels(reference(im, v.grid))).all()


def test_16bit_png_source_format_and_8bit_formats() -> None:
    data = encode(_sixteen_bit(), "PNG")
    (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
    assert decode(v.data).mode.startswith("I;16")
    ref8 = reference(_sixteen_bit(), (8, 8)).point(lambda x: x / 256).convert("L")
    for fmt in ("jpeg", "webp", "gif", "bmp"):
        (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
        out = decode(v.data)
        assert out.size == (80, 64)
        # 16-bit values map to 8-bit by their top byte, not by clipping at 255
        assert mad(out, ref8, mode="L").max() < 6, fmt


def test_16bit_tiff_round_trip() -> None:
    im = _sixteen_bit()
    data = encode(im, "TIFF")
    result = pixelate(data, EngineSettings(sizes=(20,)))
    assert result.decode_scale == 1
    out = decode(result.variants[0].data)
    assert out.format == "TIFF"
    assert out.mode.startswith("I;16")
    assert (pixels(out) == pixels(reference(im, (20, 20)))).all()


def _int32_image() -> Image.Image:
    yy, xx = np.mgrid[0:64, 0:80]
    return Image.fromarray((xx * 700 + yy * 300).astype(np.int32), "I")


def _float_image() -> Image.Image:
    yy, xx = np.mgrid[0:64, 0:80]
    return Image.fromarray((xx * 3.1 + yy * 0.7 - 20).astype(np.float32), "F")


def test_mode_i_tiff_round_trip() -> None:
    im = _int32_image()
    data = encode(im, "TIFF")
    result = pixelate(data, EngineSettings(sizes=(20,)))
    assert result.source.mode == "I"
    assert result.decode_scale == 1
    out = decode(result.variants[0].data)
    assert (out.format, out.mode, out.size) == ("TIFF", "I", (80, 64))
    assert (pixels(out) == pixels(reference(im, (20, 20)))).all()


def test_mode_f_tiff_round_trip() -> None:
    im = _float_image()
    data = encode(im, "TIFF")
    result = pixelate(data, EngineSettings(sizes=(20,)))
    assert result.source.mode == "F"
    assert result.decode_scale == 1
    out = decode(result.variants[0].data)
    assert (out.format, out.mode, out.size) == ("TIFF", "F", (80, 64))
    assert np.allclose(pixels(out), pixels(reference(im, (20, 20))), atol=1e-3)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "gif", "bmp"])
@pytest.mark.parametrize("make", [_int32_image, _float_image], ids=["I", "F"])
def test_mode_i_and_f_to_other_formats(fmt: str, make: object) -> None:
    data = encode(make(), "TIFF")  # type: ignore[operator]
    try:
        (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
    except ImageError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc.reason}")
    out = decode(v.data)
    assert out.format == EXPECTED[fmt][0]
    assert out.size == (80, 64)


# --------------------------------------------------------------------------------------------
# Transparency


@pytest.mark.parametrize("src_fmt", ["PNG", "WEBP", "TIFF", "GIF"])
@pytest.mark.parametrize("fmt", ["png", "webp", "gif", "tiff", pytest.param("avif", marks=_avif)])
def test_transparency_survives(src_fmt: str, fmt: str, small_rgba: Image.Image) -> None:
    kwargs = {"lossless": True} if src_fmt == "WEBP" else {}
    data = encode(small_rgba, src_fmt, **kwargs)
    result = pixelate(data, EngineSettings(sizes=(8, 64), format=fmt))
    for v in result.variants:
        alpha = pixels(decode(v.data), "RGBA")[..., 3]
        block = 128 // v.grid[0]
        # blocks entirely inside the transparent left half (and their bilinear support)
        assert (alpha[:, : 64 - 2 * block] == 0).all(), f"{fmt} {v.label}: transparent area"
        assert (alpha[:, 64 + 2 * block :] == 255).all(), f"{fmt} {v.label}: opaque area"


def test_transparency_source_format_kept(small_rgba: Image.Image) -> None:
    for src_fmt in ("PNG", "WEBP", "TIFF", "GIF"):
        data = encode(small_rgba, src_fmt, **({"lossless": True} if src_fmt == "WEBP" else {}))
        (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
        out = decode(v.data)
        assert out.format == src_fmt
        alpha = pixels(out, "RGBA")[..., 3]
        assert (alpha[:, :32] == 0).all(), src_fmt
        assert (alpha[:, 96:] == 255).all(), src_fmt


@pytest.mark.parametrize("out_fmt", ["jpeg", "bmp"])
@pytest.mark.parametrize("src_fmt", ["PNG", "WEBP"])
def test_transparency_flattened_on_white_where_alpha_is_not_kept(
    src_fmt: str, out_fmt: str, small_rgba: Image.Image
) -> None:
    """JPEG has no alpha; BMP readers ignore Pillow's 32-bit alpha (it would read as black)."""
    kwargs = {"lossless": True} if src_fmt == "WEBP" else {}
    data = encode(small_rgba, src_fmt, **kwargs)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format=out_fmt)).variants
    out = decode(v.data)
    assert out.mode in ("RGB", "L", "P")
    rgb = pixels(out, "RGB")
    assert rgb[:, :32].min() >= 245, "transparent area must become white, not black or junk"
    # the opaque half keeps its own colour
    expected = pixels(reference(small_rgba, (8, 8)).convert("RGB"))[:, 96:]
    assert np.abs(rgb[:, 96:] - expected).mean() < 6


def test_semi_transparent_is_composited_on_white_for_jpeg() -> None:
    im = Image.new("RGBA", (64, 64), (0, 0, 0, 128))  # 50 % black
    (v,) = pixelate(encode(im, "PNG"), EngineSettings(sizes=(4,), format="jpeg")).variants
    got = pixels(decode(v.data), "RGB").mean()
    assert abs(got - 127) <= 4, got


def test_la_transparency_to_png_and_webp() -> None:
    arr = np.zeros((48, 96, 2), np.uint8)
    arr[..., 0] = 90
    arr[:, 48:, 1] = 255
    im = Image.fromarray(arr, "LA")
    for fmt in ("png", "webp", "tiff"):
        (v,) = pixelate(encode(im, "PNG"), EngineSettings(sizes=(8,), format=fmt)).variants
        out = decode(v.data)
        alpha = pixels(out, "RGBA")[..., 3]
        assert (alpha[:, :24] == 0).all(), fmt
        assert (alpha[:, 72:] == 255).all(), fmt


# --------------------------------------------------------------------------------------------
# Found in review


def test_png_wider_than_65535_is_written() -> None:
    data = encode(Image.new("RGB", (70000, 2), "navy"), "PNG")
    result = pixelate(data, EngineSettings(sizes=(8,)))
    (v,) = result.variants
    assert decode(v.data).size == (70000, 2)


def test_tall_blocks_png_is_exact() -> None:
    """A one-block grid over 300,000 rows: runs of zero rows longer than one 1 MiB chunk."""
    im = Image.new("L", (1, 300_000), 77)
    (v,) = pixelate(encode(im, "PNG"), EngineSettings(sizes=(1,))).variants
    out = decode(v.data)
    assert out.size == (1, 300_000)
    assert out.getextrema() == (77, 77)


def test_eight_bit_range_int32_tiff_to_jpeg_is_not_black() -> None:
    im = Image.new("I", (64, 48), 200)
    (v,) = pixelate(encode(im, "TIFF"), EngineSettings(sizes=(4,), format="jpeg")).variants
    assert abs(pixels(decode(v.data), "L").mean() - 200) <= 2


def test_gif_keeps_mostly_opaque_pixels_opaque_and_mostly_clear_ones_clear() -> None:
    im = Image.new("RGBA", (64, 32), (0, 0, 255, 40))  # mostly clear
    im.paste((255, 0, 0, 220), (32, 0, 64, 32))  # mostly opaque
    (v,) = pixelate(encode(im, "PNG"), EngineSettings(sizes=(2,), format="gif")).variants
    alpha = pixels(decode(v.data), "RGBA")[..., 3]
    assert (alpha[:, :32] == 0).all()
    assert (alpha[:, 32:] == 255).all()


def test_single_frame_of_an_mpo_is_a_jpeg() -> None:
    a = Image.new("RGB", (80, 60), "red")
    buf = io.BytesIO()
    a.save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (80, 60), "blue")])
    result = pixelate(buf.getvalue(), EngineSettings(sizes=(4,), frames="first"))
    assert result.source.format == "MPO"
    (v,) = result.variants
    assert (v.format, v.extension, v.content_type) == ("jpeg", ".jpg", "image/jpeg")
    assert decode(v.data).format == "JPEG"
    assert v.filename("stereo.mpo") == "pixelated-4x4-stereo.jpg"


@pytest.mark.parametrize("kind", ["full", "grid"])
def test_cmyk_jpeg_keeps_every_channel_at_full_resolution(kind: str) -> None:
    # In CMYK the channels are inks, not luma/chroma: no 4:2:0 (issue 14).
    rng = np.random.default_rng(3)
    cmyk = Image.fromarray(rng.integers(0, 256, (96, 128, 4), dtype=np.uint8), "CMYK")
    data = encode(cmyk, "JPEG", quality=95, subsampling=0)
    mode = "both" if kind == "grid" else "full"
    for v in pixelate(data, EngineSettings(sizes=(8, 64), output=mode)).variants:
        if v.kind != kind:
            continue
        out = decode(v.data)
        assert out.mode == "CMYK"
        factors = {(h, vv) for _, h, vv, _ in out.layer}  # type: ignore[attr-defined]
        assert factors == {(1, 1)}, f"{v.label}: {out.layer}"  # type: ignore[attr-defined]
    # RGB keeps the 4:2:0 default.
    rgb = encode(Image.new("RGB", (128, 96), (200, 30, 60)), "JPEG")
    v = pixelate(rgb, EngineSettings(sizes=(8,))).variants[0]
    assert {(h, vv) for _, h, vv, _ in decode(v.data).layer} == {(2, 2), (1, 1)}  # type: ignore[attr-defined]
