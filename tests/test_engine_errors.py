"""Errors and limits: every failure is an ImageError subclass with a one-line reason."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zipfile

import pytest
from PIL import Image, UnidentifiedImageError

from conftest import assert_one_line_reason, decode, encode, photo_like, png_header_only
from pixelpipe import (
    CorruptImage,
    EncodeError,
    EngineSettings,
    ImageError,
    ImageTooLarge,
    PixelpipeError,
    SettingsError,
    UnsupportedImage,
    pixelate,
)

PILLOW_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    UnidentifiedImageError,
    Image.DecompressionBombError,
    MemoryError,
    IndexError,
    KeyError,
    TypeError,
)


def _expect(
    data: bytes,
    expected: type[ImageError] | tuple[type[ImageError], ...],
    **settings: object,
) -> ImageError:
    """pixelate() must raise ``expected``: nothing else, no warning, a one-line reason."""
    s = EngineSettings(**settings) if settings else None
    caught: BaseException | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning instead of an error fails too
        try:
            pixelate(data, s)
        except Exception as exc:
            caught = exc
    assert caught is not None, f"no error raised, expected {expected}"
    if not isinstance(caught, PixelpipeError):
        kind = "Pillow" if isinstance(caught, PILLOW_ERRORS) else "non-pixelpipe"
        pytest.fail(f"raw {kind} {type(caught).__name__} escaped: {caught}")
    assert isinstance(caught, ImageError), type(caught)
    assert isinstance(caught, expected), f"{type(caught).__name__}: {caught.reason}"
    assert_one_line_reason(caught)
    return caught


# --------------------------------------------------------------------------------------------
# Not an image


def test_error_hierarchy() -> None:
    for cls in (UnsupportedImage, CorruptImage, ImageTooLarge, EncodeError):
        assert issubclass(cls, ImageError)
        assert issubclass(cls, PixelpipeError)
    assert issubclass(SettingsError, PixelpipeError)
    assert not issubclass(SettingsError, ImageError)
    exc = CorruptImage("line one\nline two\r\n  three")
    assert exc.reason == "line one line two three" == str(exc)


def test_empty_input() -> None:
    _expect(b"", UnsupportedImage)


@pytest.mark.parametrize(
    "data",
    [
        b"hello world\n" * 20,
        b"<!doctype html><html><head><title>x</title></head><body>not an image</body></html>",
        b"\x00",
        b"\x00" * 4096,
        b'{"image": "cat.jpg"}',
        bytes(range(256)) * 8,
    ],
    ids=["text", "html", "one-byte", "zeros", "json", "binary"],
)
def test_not_an_image(data: bytes) -> None:
    _expect(data, UnsupportedImage)


def test_svg_refused() -> None:
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" '
        b'height="100"><rect width="100" height="100" fill="red"/></svg>'
    )
    _expect(svg, UnsupportedImage)


def test_zip_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("cat.png", encode(photo_like(32, 32), "PNG"))
    _expect(buf.getvalue(), UnsupportedImage)


def test_eps_refused() -> None:
    eps = encode(photo_like(16, 16).convert("L"), "EPS")
    assert eps.startswith(b"%!PS-Adobe")
    _expect(eps, UnsupportedImage)


def _psd(width: int = 8, height: int = 6) -> bytes:
    header = b"8BPS" + struct.pack(">H", 1) + b"\x00" * 6
    header += struct.pack(">HIIHH", 3, height, width, 8, 3)  # 3 channels, 8 bit, RGB
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, resources, layers: empty
    return header + sections + struct.pack(">H", 0) + bytes(width * height * 3)


def test_psd_refused() -> None:
    data = _psd()
    assert Image.open(io.BytesIO(data)).format == "PSD"  # Pillow itself would read it
    _expect(data, UnsupportedImage)


@pytest.mark.parametrize("fmt", ["PCX", "TGA", "PPM", "SGI", "DDS"])
def test_formats_outside_the_whitelist_refused(fmt: str) -> None:
    data = encode(photo_like(16, 16), fmt)
    assert Image.open(io.BytesIO(data)).format is not None
    _expect(data, UnsupportedImage)


# --------------------------------------------------------------------------------------------
# Truncated and damaged


def _animated(fmt: str) -> bytes:
    frames = [photo_like(64, 48, seed=i) for i in range(3)]
    kwargs: dict[str, object] = {"save_all": True, "append_images": frames[1:]}
    return encode(frames[0], fmt, **kwargs)


TRUNCATABLE = {
    "JPEG": lambda: encode(photo_like(128, 96), "JPEG"),
    "progressive-JPEG": lambda: encode(photo_like(128, 96), "JPEG", progressive=True),
    "PNG": lambda: encode(photo_like(128, 96), "PNG"),
    "GIF": lambda: encode(photo_like(128, 96), "GIF"),
    "WEBP": lambda: encode(photo_like(128, 96), "WEBP"),
    "lossless-WEBP": lambda: encode(photo_like(128, 96), "WEBP", lossless=True),
    "TIFF": lambda: encode(photo_like(128, 96), "TIFF"),
    "BMP": lambda: encode(photo_like(128, 96), "BMP"),
    "animated-GIF": lambda: _animated("GIF"),
    "animated-WEBP": lambda: _animated("WEBP"),
    "APNG": lambda: _animated("PNG"),
}


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("kind", list(TRUNCATABLE))
def test_truncated_is_corrupt(kind: str, fraction: float) -> None:
    data = TRUNCATABLE[kind]()
    _expect(data[: int(len(data) * fraction)], CorruptImage)


@pytest.mark.parametrize("kind", list(TRUNCATABLE))
@pytest.mark.parametrize("length", [1, 4, 12, 40])
def test_short_prefix(kind: str, length: int) -> None:
    data = TRUNCATABLE[kind]()
    _expect(data[:length], (CorruptImage, UnsupportedImage))


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF", "WEBP"])
def test_damaged_body(kind: str) -> None:
    data = bytearray(TRUNCATABLE[kind]())
    middle = len(data) // 2
    data[middle : middle + 200] = b"\xff\x00" * 100
    caught: BaseException | None = None
    try:
        result = pixelate(bytes(data), EngineSettings(sizes=(8,)))
    except Exception as exc:
        caught = exc
    if caught is None:  # some codecs resynchronise over damage: then the output is complete
        assert result.variants[0].width == 128
        assert decode(result.variants[0].data).size == (128, 96)
    else:  # damage detected: a proper error
        assert isinstance(caught, CorruptImage | UnsupportedImage), repr(caught)
        assert_one_line_reason(caught)


def test_png_bad_crc_is_corrupt() -> None:
    data = bytearray(encode(photo_like(64, 48), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # the IDAT CRC no longer matches
    _expect(bytes(data), CorruptImage)


# --------------------------------------------------------------------------------------------
# Limits


def test_max_bytes() -> None:
    data = encode(photo_like(64, 48), "PNG")
    exc = _expect(data, ImageTooLarge, max_bytes=len(data) - 1)
    assert "limit" in exc.reason
    assert pixelate(data, EngineSettings(max_bytes=len(data), sizes=(4,))).variants


def test_max_bytes_string() -> None:
    data = b"\x00" * 2048
    _expect(data, ImageTooLarge, max_bytes="1KiB")  # over the limit: refused before reading


def test_max_pixels_single_frame() -> None:
    data = encode(photo_like(100, 80), "PNG")
    _expect(data, ImageTooLarge, max_pixels=7_999)
    assert pixelate(data, EngineSettings(max_pixels=8_000, sizes=(4,))).variants


def _gif_20_frames() -> bytes:
    frames = [Image.new("RGB", (100, 100), (i * 12, 0, 255 - i * 12)) for i in range(20)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def test_max_pixels_counts_all_frames() -> None:
    data = _gif_20_frames()
    exc = _expect(data, ImageTooLarge, max_pixels=150_000)
    assert "20" in exc.reason
    result = pixelate(data, EngineSettings(max_pixels=150_000, frames="first", sizes=(4,)))
    assert result.variants[0].frames == 1
    result = pixelate(data, EngineSettings(max_pixels=200_000, sizes=(4,)))
    assert result.variants[0].frames == 20


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "TIFF"])
def test_max_pixels_counts_all_frames_other_formats(fmt: str) -> None:
    frames = [Image.new("RGB", (100, 100), (i * 12, 0, 0)) for i in range(20)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    _expect(data, ImageTooLarge, max_pixels=150_000)


def test_huge_declared_png_refused_fast() -> None:
    data = png_header_only(60000, 60000)
    assert len(data) < 200
    start = time.perf_counter()
    _expect(data, ImageTooLarge)
    assert time.perf_counter() - start < 2.0


def _huge_bmp() -> bytes:
    data = bytearray(encode(Image.new("RGB", (1, 1)), "BMP"))
    data[18:26] = struct.pack("<ii", 50000, 50000)  # BITMAPINFOHEADER width, height
    return bytes(data)


def _huge_tiff() -> bytes:
    data = bytearray(encode(Image.new("L", (1, 1)), "TIFF"))
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, typ = struct.unpack("<HH", data[entry : entry + 4])
        if tag in (256, 257):  # ImageWidth, ImageLength
            value = struct.pack("<H", 60000) if typ == 3 else struct.pack("<I", 60000)
            data[entry + 8 : entry + 8 + len(value)] = value
    return bytes(data)


@pytest.mark.parametrize("make", [_huge_bmp, _huge_tiff], ids=["BMP", "TIFF"])
def test_huge_declared_other_formats_refused_fast(
    make: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make()  # type: ignore[operator]
    with monkeypatch.context() as m:  # check the fixture without Pillow's own bomb check
        m.setattr(Image, "MAX_IMAGE_PIXELS", None)
        assert Image.open(io.BytesIO(data)).size[0] >= 50000
    start = time.perf_counter()
    _expect(data, ImageTooLarge)
    assert time.perf_counter() - start < 2.0


def test_max_pixels_above_pillows_bomb_limit_is_honoured() -> None:
    """The configured limit decides, not Pillow's built-in 2 x 89.5 MP bomb check.

    A grayscale PNG declaring 15000 x 13000 (195 MP) with almost no data, under a 300 MP limit:
    the engine must try to decode it and find it truncated, not call it too large.
    """
    data = png_header_only(15000, 13000, color_type=0)
    _expect(data, CorruptImage, max_pixels=300_000_000)


def test_limit_errors_are_not_warnings() -> None:
    data = png_header_only(12000, 12000, color_type=0)  # 144 MP: over Pillow's warning level
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageTooLarge):
            pixelate(data)  # default limit: 100 MP


def test_errors_are_permanent() -> None:
    data = encode(photo_like(64, 48), "JPEG")[:500]
    first = _expect(data, CorruptImage)
    second = _expect(data, CorruptImage)
    assert type(first) is type(second)
    assert first.reason == second.reason


def test_settings_default_used_when_none() -> None:
    result = pixelate(encode(photo_like(64, 48), "PNG"), None)
    assert [v.size for v in result.variants] == [8, 16, 32, 48, 64]
