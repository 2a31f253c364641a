"""Animated GIF / WebP / APNG, multi-page TIFF, MPO: every frame pixelated, timing kept."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import encode, mad, read_frames, reference
from pixelpipe import EngineSettings, pixelate

SIZE = (64, 48)
DURATIONS = [50, 100, 150, 200, 70]


def _frames(n: int = 5) -> list[Image.Image]:
    """Distinct RGB frames: a moving ball over a background whose colour changes."""
    out = []
    for i in range(n):
        im = Image.new("RGB", SIZE, (40 * i, 120, 255 - 40 * i))
        ImageDraw.Draw(im).ellipse((i * 9, 6, i * 9 + 22, 28), fill=(255, 230, 0))
        ImageDraw.Draw(im).rectangle((0, 36, 63, 47), fill=(10 + 30 * i, 10, 10))
        out.append(im)
    return out


def _animation(fmt: str, **kwargs: object) -> bytes:
    frames = _frames()
    extra: dict[str, object] = {"save_all": True, "append_images": frames[1:]}
    if fmt in ("GIF", "WEBP", "PNG"):
        extra.update(duration=DURATIONS, loop=3)
    if fmt == "GIF":
        extra["disposal"] = [1, 2, 1, 2, 1]
    if fmt == "PNG":
        extra["disposal"] = [0, 1, 0, 1, 0]
    if fmt == "WEBP":
        extra["lossless"] = True
    extra.update(kwargs)
    return encode(frames[0], fmt, **extra)


def _check_frames_pixelated(data_in: bytes, data_out: bytes, n: int, tolerance: float) -> None:
    src, _ = read_frames(data_in)
    out, _ = read_frames(data_out)
    assert len(out) == len(src) == 5
    for i, (a, b) in enumerate(zip(src, out, strict=True)):
        assert b.image.size == SIZE
        expected = reference(a.image.convert("RGB"), (n, n))
        err = mad(b.image.convert("RGB"), expected)
        assert err.max() <= tolerance, f"frame {i}: MAD {err.tolist()}"
    # the frames really differ (not the first frame repeated)
    firsts = [np.asarray(f.image.convert("RGB")) for f in out]
    assert any((firsts[0] != f).any() for f in firsts[1:])


@pytest.mark.parametrize(
    ("src_fmt", "fmt", "tolerance"),
    [
        ("GIF", "source", 1.0),
        ("GIF", "gif", 1.0),
        ("GIF", "png", 1.0),
        ("GIF", "webp", 10.0),  # lossy WebP: chroma subsampling blurs the block edges
        ("WEBP", "source", 10.0),
        ("WEBP", "png", 1.0),
        ("WEBP", "gif", 3.0),  # RGBA frames (WebP) are quantised by Pillow's GIF writer
        ("PNG", "source", 1.0),
        ("PNG", "gif", 1.0),
        ("PNG", "webp", 10.0),
    ],
)
def test_every_frame_pixelated(src_fmt: str, fmt: str, tolerance: float) -> None:
    data = _animation(src_fmt)
    result = pixelate(data, EngineSettings(sizes=(4, 8), format=fmt))
    assert result.source.frames == 5
    for v in result.variants:
        assert v.frames == 5
        _check_frames_pixelated(data, v.data, v.size, tolerance)


@pytest.mark.parametrize(("src_fmt", "fmt"), [("GIF", "gif"), ("WEBP", "webp"), ("PNG", "png")])
def test_durations_and_loop_kept(src_fmt: str, fmt: str) -> None:
    data = _animation(src_fmt)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
    frames, im = read_frames(v.data)
    assert [round(f.duration or 0) for f in frames] == DURATIONS
    assert im.info.get("loop") == 3


@pytest.mark.parametrize("src_fmt", ["GIF", "WEBP", "PNG"])
@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_durations_cross_format(src_fmt: str, fmt: str) -> None:
    data = _animation(src_fmt)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
    frames, _ = read_frames(v.data)
    assert [round(f.duration or 0) for f in frames] == DURATIONS


def test_gif_disposal_kept() -> None:
    data = _animation("GIF")
    src, _ = read_frames(data)
    assert [f.disposal for f in src] == [1, 2, 1, 2, 1]
    (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
    out, _ = read_frames(v.data)
    assert [f.disposal for f in out] == [1, 2, 1, 2, 1]


def test_apng_disposal_kept() -> None:
    data = _animation("PNG")
    (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
    out, _ = read_frames(v.data)
    assert [f.disposal for f in out] == [0, 1, 0, 1, 0]


def _apng_dispose_ops(data: bytes) -> list[int]:
    """The dispose_op byte of every fcTL chunk of an APNG."""
    ops, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"fcTL":
            ops.append(data[pos + 8 + 24])
        pos += 12 + length
    return ops


@pytest.mark.parametrize("gif_disposal", [1, 2, 3])
def test_gif_disposal_converted_to_valid_apng(gif_disposal: int) -> None:
    """APNG dispose_op is 0..2 (none, background, previous); GIF's is 0..3 with other meanings."""
    data = _animation("GIF", disposal=gif_disposal)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="png")).variants
    ops = _apng_dispose_ops(v.data)
    assert len(ops) == 5
    assert all(op in (0, 1, 2) for op in ops), f"GIF disposal {gif_disposal} -> APNG ops {ops}"


def _transparent_animation(fmt: str, disposal: int | None) -> bytes:
    """Frame 0: right half opaque red. Frame 1: left half opaque blue, right transparent.

    Transparent pixels are transparent *white*: libwebp's animation encoder drops the alpha
    flag when every transparent pixel is (0, 0, 0, 0), which would spoil the WebP input.
    """
    clear = (255, 255, 255, 0)
    f0 = Image.new("RGBA", (64, 64), clear)
    f0.paste((255, 0, 0, 255), (32, 0, 64, 64))
    f1 = Image.new("RGBA", (64, 64), clear)
    f1.paste((0, 0, 255, 255), (0, 0, 32, 64))
    kwargs: dict[str, object] = {"save_all": True, "append_images": [f1], "duration": 100}
    if fmt == "PNG":
        kwargs.update(disposal=disposal, blend=0)
    if fmt == "WEBP":
        kwargs["lossless"] = True
    return encode(f0, fmt, **kwargs)


@pytest.mark.parametrize(
    ("src_fmt", "disposal"), [("PNG", 0), ("PNG", 1), ("PNG", 2), ("WEBP", None)]
)
@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_transparent_frames_stay_transparent(src_fmt: str, disposal: int | None, fmt: str) -> None:
    data = _transparent_animation(src_fmt, disposal)
    src, _ = read_frames(data)
    assert src[1].image.convert("RGBA").getpixel((50, 10))[3] == 0  # the input is right
    (v,) = pixelate(data, EngineSettings(sizes=(4,), format=fmt)).variants
    out, _ = read_frames(v.data)
    assert len(out) == 2
    f0, f1 = (np.asarray(f.image.convert("RGBA")) for f in out)
    assert (f0[:, :16, 3] == 0).all()
    assert (f0[:, 48:, 3] == 255).all()
    assert (f1[:, :16, 3] == 255).all()
    assert (f1[:, 48:, 3] == 0).all(), (
        f"{src_fmt}(disposal {disposal})->{fmt}: frame 1's transparent half shows "
        f"{tuple(f1[10, 50])}, the previous frame shows through"
    )


@pytest.mark.parametrize("src_fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_frames_first(src_fmt: str) -> None:
    data = _animation(src_fmt)
    result = pixelate(data, EngineSettings(sizes=(8,), frames="first"))
    assert result.source.frames == 5
    (v,) = result.variants
    assert v.frames == 1
    out, _ = read_frames(v.data)
    assert len(out) == 1
    src, _ = read_frames(data)
    err = mad(out[0].image.convert("RGB"), reference(src[0].image.convert("RGB"), (8, 8)))
    assert err.max() <= (10.0 if src_fmt == "WEBP" else 1.0)  # WebP output is lossy


@pytest.mark.parametrize("src_fmt", ["GIF", "WEBP", "PNG", "TIFF"])
@pytest.mark.parametrize("fmt", ["jpeg", "bmp"])
def test_format_that_cannot_animate_gives_one_frame(src_fmt: str, fmt: str) -> None:
    data = _animation(src_fmt)
    result = pixelate(data, EngineSettings(sizes=(8,), format=fmt))
    (v,) = result.variants
    assert v.frames == 1
    out, _ = read_frames(v.data)
    assert len(out) == 1
    src, _ = read_frames(data)
    err = mad(out[0].image.convert("RGB"), reference(src[0].image.convert("RGB"), (8, 8)))
    assert err.max() <= 8.0  # the first frame, not another one


def test_multipage_tiff_keeps_pages() -> None:
    data = _animation("TIFF")
    result = pixelate(data, EngineSettings(sizes=(4, 8), output="both"))
    assert result.source.format == "TIFF"
    assert result.source.frames == 5
    for v in result.variants:
        assert v.format == "tiff"
        assert v.frames == 5
        out, _ = read_frames(v.data)
        assert len(out) == 5
        if v.kind == "full":
            _check_frames_pixelated(data, v.data, v.size, 1e-9)
        else:
            assert all(f.image.size == v.grid for f in out)


def test_animation_grid_output_has_all_frames() -> None:
    data = _animation("GIF")
    (v,) = pixelate(data, EngineSettings(sizes=(6,), output="grid")).variants
    out, _ = read_frames(v.data)
    assert len(out) == 5
    assert all(f.image.size == (6, 6) for f in out)


def test_mpo_frames_kept() -> None:
    frames = _frames(2)
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:], quality=95)
    result = pixelate(data, EngineSettings(sizes=(8,)))
    assert result.source.format == "MPO"
    assert result.source.frames == 2
    (v,) = result.variants
    assert v.frames == 2
    out, im = read_frames(v.data)
    assert im.format == "MPO"
    assert len(out) == 2
    for f, src in zip(out, frames, strict=True):
        assert mad(f.image.convert("RGB"), reference(src, (8, 8))).max() <= 10


@pytest.mark.parametrize("fmt", ["gif", "png", "webp", "tiff"])
def test_many_frames_every_size(fmt: str) -> None:
    frames = [Image.new("RGB", (40, 30), (i * 12, 255 - i * 12, 128)) for i in range(20)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    result = pixelate(data, EngineSettings(sizes=(2, 5, 10), format=fmt))
    assert [v.frames for v in result.variants] == [20, 20, 20]
    for v in result.variants:
        out, _ = read_frames(v.data)
        assert len(out) == 20
        colours = [out[i].image.convert("RGB").getpixel((20, 15)) for i in (0, 10, 19)]
        assert len(set(colours)) == 3
