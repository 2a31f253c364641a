"""engine/bands.py against the per-variant path: every variant a full copy, encoded whole.

PNG must decode to exactly the variant's pixels; JPEG to exactly what encoding the whole
variant with the same options decodes to (the short last MCU row, when an area reaches into
it, within a stated tolerance).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import decode, encode, noise_image, photo_like
from pixelpipe.engine.bands import (
    Box,
    Patches,
    band_layout,
    encode_jpeg_bands,
    encode_png_bands,
)
from pixelpipe.engine.pngfilter import png_filter

PNG_TODAY = {"compress_level": 6, "compress_type": 3}  # the PNG format's save options


def patch_for(frame: Image.Image, box: Box, seed: int) -> Image.Image:
    """A hidden patch: the box's pixels pixelated (different per seed), in the frame's mode."""
    x, y, w, h = box
    crop = frame.crop((x, y, x + w, y + h))
    n = 2 + seed % 5
    return crop.resize((n, n), Image.Resampling.BILINEAR).resize((w, h))


def make_variants(frame: Image.Image, boxes: Sequence[Box], count: int = 3) -> list[Patches]:
    return [[(b, patch_for(frame, b, v + i)) for i, b in enumerate(boxes)] for v in range(count)]


def whole(frame: Image.Image, patches: Patches) -> Image.Image:
    out = frame.copy()
    for (x, y, _, _), patch in patches:
        out.paste(patch, (x, y))
    return out


BOX_SETS: dict[str, list[Box]] = {
    "one": [(10, 12, 30, 20)],
    "several": [(3, 5, 20, 9), (50, 40, 17, 11), (20, 52, 40, 5)],
    "edges": [(0, 0, 25, 14), (60, 0, 37, 10), (0, 50, 97, 11)],  # corners, full width, bottom
    "overlap": [(10, 10, 40, 30), (30, 25, 40, 30), (35, 28, 8, 8)],
    "one_row": [(5, 33, 80, 1)],
}


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
@pytest.mark.parametrize("case", sorted(BOX_SETS))
@pytest.mark.parametrize("shared", [False, True])
def test_png_decodes_to_each_variant_exactly(
    mode: str, case: str, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # shared: the bands' columns outside the areas compressed once even in these short rows
    # (_png_band; from 4 KiB a row otherwise).
    from pixelpipe.engine import bands

    monkeypatch.setattr(bands, "_PNG_SHARE_MIN_ROW", 0 if shared else 1 << 30)
    frame = noise_image(97, 61, "RGBA" if mode in ("LA", "RGBA") else "RGB", seed=3)
    frame = frame.convert(mode) if mode != "I;16" else frame.convert("L").convert("I;16")
    if mode == "I;16":  # use the whole 16-bit range, not just multiples of one
        frame = Image.frombytes("I;16", frame.size, bytes(range(256)) * (97 * 61 * 2 // 256 + 1))
    variants = make_variants(frame, BOX_SETS[case])
    files = encode_png_bands(frame, variants)
    assert files is not None
    assert len(files) == len(variants)
    for data, patches in zip(files, variants, strict=True):
        got = decode(data)
        expected = whole(frame, patches)
        assert got.mode == expected.mode
        assert got.size == expected.size
        assert got.tobytes() == expected.tobytes()
        assert zlib.decompress(_idat(data))  # one valid zlib stream (checksum included)


def test_png_threads_icc_and_size_against_pillow() -> None:
    frame = photo_like(640, 480, seed=2)
    boxes = [(100, 100, 200, 150), (0, 400, 640, 80)]
    variants = make_variants(frame, boxes, count=5)
    icc = b"\x00" * 128 + b"not a real profile, carried as is"
    one = encode_png_bands(frame, variants, icc)
    two = encode_png_bands(frame, variants, icc, threads=2)
    assert one is not None
    assert one == two
    for data, patches in zip(one, variants, strict=True):
        got = decode(data)
        assert got.info["icc_profile"] == icc
        expected = whole(frame, patches)
        assert got.tobytes() == expected.tobytes()
        today = encode(expected, "PNG", **PNG_TODAY)
        assert len(data) <= 1.03 * len(today), (len(data), len(today))


def test_png_filter_is_undone_by_a_png_decoder() -> None:
    for mode, bpp in (("L", 1), ("RGB", 3), ("RGBA", 4)):
        im = noise_image(33, 17, "RGBA", seed=bpp).convert(mode)
        # Horizontal gradients (Sub wins) above vertical ones (Up wins).
        raw = im.tobytes()
        stride = 33 * bpp
        filtered = png_filter(raw, stride, bpp)
        kinds = {filtered[y * (stride + 1)] for y in range(17)}
        assert kinds <= {0, 1, 2, 3}
        assert filtered[0] in (0, 1)
        ihdr = struct.pack(">IIBBBBB", 33, 17, 8, {1: 0, 3: 2, 4: 6}[bpp], 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
        png += _chunk(b"IDAT", zlib.compress(filtered)) + _chunk(b"IEND", b"")
        assert decode(png).tobytes() == raw


def test_png_filter_picks_sub_on_horizontal_gradients() -> None:
    # Byte (x + 37 y) mod 256: Sub leaves 1 per byte, Up 37.
    ramp = bytes((x + 37 * y) % 256 for y in range(8) for x in range(256))
    filtered = png_filter(ramp, 256, 1)
    assert all(filtered[y * 257] == 1 for y in range(8))
    # One noisy row, one level brighter in each row below: Up leaves 1 per byte.
    noise = noise_image(64, 1, "L", seed=4).tobytes()
    steps = bytes((v + y) % 256 for y in range(8) for v in noise)
    filtered = png_filter(steps, 64, 1)
    assert [filtered[y * 65] for y in range(1, 8)] == [2] * 7
    assert png_filter(ramp[:256], 256, 1)[0] == 1


def test_png_refuses_what_it_does_not_write() -> None:
    frame = noise_image(40, 30, "RGB", seed=1)
    assert encode_png_bands(frame.convert("P"), []) is None
    assert encode_png_bands(frame.convert("CMYK"), []) is None
    wrong_size = [((1, 1, 5, 5), Image.new("RGB", (4, 5)))]
    assert encode_png_bands(frame, [wrong_size]) is None
    wrong_mode = [((1, 1, 5, 5), Image.new("L", (5, 5)))]
    assert encode_png_bands(frame, [wrong_mode]) is None
    outside = [((38, 1, 5, 5), Image.new("RGB", (5, 5)))]
    assert encode_png_bands(frame, [outside]) is None


def test_layout_merges_bands_and_widens_to_the_unit() -> None:
    layout = band_layout([(0, 3, 5, 2), (0, 40, 5, 20), (0, 45, 1, 3)], 100, 16)
    assert layout.runs() == [(0, 1, True), (1, 2, False), (2, 4, True), (4, 7, False)]
    touching = band_layout([(0, 3, 5, 2), (0, 17, 5, 20), (0, 60, 4, 1)], 61, 16)
    assert touching.runs() == [(0, 4, True)]  # adjacent bands are one
    layout = band_layout([(0, 20, 5, 2)], 100, 8)
    assert layout.runs() == [(0, 2, False), (2, 3, True), (3, 13, False)]


JPEG_CASES = {
    "rgb420": ("RGB", {"quality": 90, "subsampling": 2}),
    "rgb444": ("RGB", {"quality": 85, "subsampling": 0}),
    "rgb422": ("RGB", {"quality": 80, "subsampling": 1}),
    "gray": ("L", {"quality": 90}),
    "cmyk": ("CMYK", {"quality": 90}),
}


def source_tables(mode: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options as the redact path passes them: the source's tables, sampling, optimise."""
    src = decode(encode(photo_like(64, 64, seed=9).convert(mode), "JPEG", **options))
    out: dict[str, Any] = {"optimize": True}
    out["qtables"] = [list(t) for _, t in sorted(src.quantization.items())]  # type: ignore[attr-defined]
    if "subsampling" in options:
        out["subsampling"] = options["subsampling"]
    return out


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(decode(data), dtype=np.int16)


@pytest.mark.parametrize("case", sorted(JPEG_CASES))
@pytest.mark.parametrize("size", [(97, 61), (128, 64), (33, 130)])
def test_jpeg_decodes_as_each_variant_encoded_whole(case: str, size: tuple[int, int]) -> None:
    mode, options = JPEG_CASES[case]
    frame = photo_like(*size, seed=5).convert(mode)
    w, _h = size
    # Partial MCU rows, overlaps, the left/right edges; none reaching the last MCU row.
    boxes = [(0, 3, w // 2, 9), (w // 3, 5, w - w // 3, 20), (w - 7, 21, 7, 5)]
    kwargs = source_tables(mode, options)
    variants = make_variants(frame, boxes, count=4)
    files = encode_jpeg_bands(frame, variants, kwargs)
    assert files is not None
    for data, patches in zip(files, variants, strict=True):
        today = encode(whole(frame, patches), "JPEG", **kwargs)
        got = decode(data)
        assert got.size == frame.size
        assert got.mode == mode
        assert got.quantization == decode(today).quantization  # type: ignore[attr-defined]
        assert np.array_equal(decoded(data), decoded(today))
        assert len(data) <= 1.03 * len(today) + 200


@pytest.mark.parametrize("case", sorted(JPEG_CASES))
def test_jpeg_area_in_the_short_last_mcu_row(case: str) -> None:
    """The one inexact case: chroma padding of a short last MCU row an area reaches into."""
    mode, options = JPEG_CASES[case]
    frame = photo_like(90, 70, seed=6).convert(mode)  # 70 = 4 x 16 + 6
    boxes = [(10, 60, 30, 10), (50, 2, 20, 4)]
    kwargs = source_tables(mode, options)
    variants = make_variants(frame, boxes, count=3)
    files = encode_jpeg_bands(frame, variants, kwargs)
    assert files is not None
    for data, patches in zip(files, variants, strict=True):
        today = decoded(encode(whole(frame, patches), "JPEG", **kwargs))
        got = decoded(data)
        diff = np.abs(got - today).reshape(70, 90, -1).max(axis=2)
        assert not diff[:48].any()  # above the last two MCU rows: exact
        source = np.asarray(whole(frame, patches), dtype=np.int16)
        err_got = np.abs(got - source).reshape(70, 90, -1).max(axis=2)[48:]
        err_today = np.abs(today - source).reshape(70, 90, -1).max(axis=2)[48:]
        # Those rows are as close to the variant's own pixels as encoding it whole makes them.
        assert np.percentile(err_got, 99) <= np.percentile(err_today, 99) + 1
        assert err_got.max() <= err_today.max() + 4
        if mode == "L" or options.get("subsampling") == 0:
            assert not diff.any()  # no subsampled chroma: exact everywhere


def test_jpeg_keeps_metadata_and_marks_every_mcu_row() -> None:
    frame = photo_like(200, 150, seed=1)
    exif = Image.Exif()
    exif[0x010F] = "maker"
    icc = b"\x00" * 128 + b"icc bytes"
    kwargs = {"quality": 80, "optimize": True, "icc_profile": icc, "exif": exif.tobytes()}
    variants = make_variants(frame, [(20, 40, 50, 30)], count=2)
    files = encode_jpeg_bands(frame, variants, kwargs)
    assert files is not None
    for data in files:
        got = decode(data)
        assert got.info["icc_profile"] == icc
        assert got.getexif()[0x010F] == "maker"
        rows = -(-150 // 16)
        assert sum(data.count(bytes((0xFF, 0xD0 + k))) for k in range(8)) == rows - 1


def test_jpeg_refuses_what_it_does_not_write() -> None:
    frame = photo_like(64, 48, seed=1)
    variants = make_variants(frame, [(1, 1, 10, 10)])
    assert encode_jpeg_bands(frame, variants, {"quality": 80, "progressive": True}) is None
    assert encode_jpeg_bands(frame.convert("RGBA"), [], {"quality": 80}) is None
    assert encode_jpeg_bands(frame, variants, {"subsampling": "keep"}) is None
    tall = Image.new("L", (8, 40000))
    many = [[((0, 0, 8, 40000), tall)]] * 2
    assert encode_jpeg_bands(tall, many, {"quality": 80}) is None  # stack over 65500 rows


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _idat(png: bytes) -> bytes:
    pos, out = 8, []
    while pos < len(png):
        (n,) = struct.unpack_from(">I", png, pos)
        if png[pos + 4 : pos + 8] == b"IDAT":
            out.append(png[pos + 8 : pos + 8 + n])
        pos += 12 + n
    return b"".join(out)


def _hidden(source: Image.Image, boxes: list[Box], settings: Any, variant: Any) -> Image.Image:
    from pixelpipe.areas import Area
    from pixelpipe.engine.hide import hide_areas

    areas = [Area(b, "region") for b in boxes]
    return hide_areas(source, areas, settings, variant.size, variant.unit)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_engine_png_variants_are_the_hidden_frame_exactly(mode: str) -> None:
    from pixelpipe import EngineSettings, pixelate

    source = photo_like(1100, 960, seed=3).convert(mode)  # over 1 MP: the band writer
    boxes = [(10, 20, 120, 50), (200, 150, 100, 110), (50, 40, 30, 30), (900, 900, 200, 60)]
    settings = EngineSettings(regions=tuple(boxes), sizes=(8, 16, 32, 48, 64))
    result = pixelate(encode(source, "PNG"), settings)
    full = [v for v in result.variants if v.kind == "full"]
    assert len(full) >= 3
    for v in full:
        got = decode(v.data)
        assert got.mode == mode
        expected = _hidden(source, boxes, settings, v)
        assert got.tobytes() == expected.tobytes()
        assert len(v.data) <= 1.03 * len(encode(expected, "PNG", **PNG_TODAY))
        assert _idat(v.data)[:2] == b"\x78\x9c"  # this writer's header (Pillow, Z_RLE: \x78\x01)


@pytest.mark.parametrize("subsampling", [0, 2])
def test_engine_jpeg_variants_decode_as_the_hidden_frame_encoded_whole(subsampling: int) -> None:
    from pixelpipe import EngineSettings, pixelate

    data = encode(photo_like(320, 250, seed=8), "JPEG", quality=88, subsampling=subsampling)
    source = decode(data)
    boxes = [(0, 0, 100, 40), (150, 100, 170, 60)]  # the last MCU row (240..249) untouched
    settings = EngineSettings(regions=tuple(boxes))
    result = pixelate(data, settings)
    tables = [list(t) for _, t in sorted(source.quantization.items())]  # type: ignore[attr-defined]
    for v in (v for v in result.variants if v.kind == "full"):
        hidden = _hidden(source, boxes, settings, v)
        whole_file = encode(hidden, "JPEG", qtables=tables, subsampling=subsampling, optimize=True)
        assert np.array_equal(decoded(v.data), decoded(whole_file))
        assert decode(v.data).quantization == source.quantization  # type: ignore[attr-defined]


def _face(box: Box, face: Box, cx: float, cy: float, rx: float, ry: float, angle: float) -> Any:
    from pixelpipe.areas import Area
    from pixelpipe.faces import Ellipse

    return Area(box, "face", 0.9, "test", None, face, "ellipse", Ellipse(cx, cy, rx, ry, angle))


def test_boxes_of_overlapping_ellipses_paste_to_the_hidden_frame_in_any_order() -> None:
    """The band writers paste each area's box in order: every box must hold the final pixels
    of every area overlapping it, so that no face's ellipse shows through another's box."""
    from pixelpipe import EngineSettings
    from pixelpipe.areas import Area
    from pixelpipe.engine.hide import area_patches, hide_areas, hide_box

    source = photo_like(300, 220, seed=5)
    areas = [
        _face((40, 30, 120, 140), (70, 70, 60, 70), 100.0, 100.0, 60.0, 70.0, 0.3),
        _face((110, 50, 110, 130), (140, 90, 50, 60), 165.0, 115.0, 55.0, 65.0, -0.2),
        Area((90, 120, 150, 60), "region"),
    ]
    for settings in (EngineSettings(sizes=(5,)), EngineSettings(style="fill")):
        for size, unit in ((3, "grid"), (5, "grid"), (7, "px")):
            expected = hide_areas(source, areas, settings, size, unit)
            patches = area_patches(source, areas, settings, size, unit)
            for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2]):
                got = source.copy()
                for i in order:
                    got.paste(hide_box(source, patches, areas[i].box), areas[i].box[:2])
                assert got.tobytes() == expected.tobytes(), (settings.style, size, order)


def test_engine_face_variants_are_the_hidden_frame_exactly() -> None:
    from face_images import scene
    from pixelpipe import EngineSettings, pixelate
    from pixelpipe.engine.hide import hide_areas

    source = scene(96, size=(1300, 1000), count=4).image  # over 1 MP: the band writer
    settings = EngineSettings(faces=True, format="png")
    result = pixelate(encode(source, "PNG"), settings)
    assert len(result.areas) == 4
    assert all(a.shape == "ellipse" for a in result.areas)
    for v in result.variants:
        expected = hide_areas(source, list(result.areas), settings, v.size, v.unit)
        assert decode(v.data).tobytes() == expected.tobytes(), v.label


def test_png_same_bytes_with_the_standard_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """zlib-ng (a dependency) writes what the standard zlib writes, Z_RLE at level 6."""
    from pixelpipe.engine import pngfilter

    assert pngfilter._deflate is not zlib  # zlib-ng is installed, as pyproject.toml requires
    frame = photo_like(1200, 900, seed=3)
    variants = make_variants(frame, [(100, 100, 300, 200), (0, 700, 1200, 100)], count=3)
    fast = encode_png_bands(frame, variants)
    monkeypatch.setattr(pngfilter, "_deflate", zlib)
    assert fast is not None
    assert fast == encode_png_bands(frame, variants)


@pytest.mark.parametrize("case", ["rgb420", "rgb422"])
def test_jpeg_first_variant_exact_in_a_short_last_mcu_row(case: str) -> None:
    """The frame goes last in the stack whole, so the first variant's short last MCU row is
    padded by libjpeg as in a whole encode: exact, chroma included."""
    mode, options = JPEG_CASES[case]
    frame = photo_like(90, 70, seed=6).convert(mode)
    kwargs = source_tables(mode, options)
    variants = make_variants(frame, [(10, 60, 30, 10), (50, 2, 20, 4)], count=3)
    files = encode_jpeg_bands(frame, variants, kwargs)
    assert files is not None
    today = decoded(encode(whole(frame, variants[0]), "JPEG", **kwargs))
    assert np.array_equal(decoded(files[0]), today)


def test_every_pixel_of_an_ellipse_is_hidden_where_it_crosses_the_image_s_edge() -> None:
    """Every pixel whose centre is inside a head ellipse is hidden, also where the ellipse
    leaves the picture (a polygon drawn with ImageDraw once missed up to 8 pixels along
    the image's edge in 5 % of these), and nothing beyond 2 px of the ellipse changes."""
    import random

    from face_images import ellipse_mask
    from pixelpipe import EngineSettings
    from pixelpipe.areas import _bounds
    from pixelpipe.engine.hide import hide_areas

    width, height = 400, 300
    source = Image.new("RGB", (width, height), (255, 255, 255))
    fill = EngineSettings(style="fill")
    rng = random.Random(21)
    checked = 0
    for _ in range(400):
        rx, ry = rng.uniform(4, 200), rng.uniform(4, 200)
        cx, cy = rng.uniform(-rx, width + rx), rng.uniform(-ry, height + ry)
        fw, fh = rng.randint(2, 40), rng.randint(2, 40)
        fx = min(max(0, round(cx - fw / 2)), width - fw)
        fy = min(max(0, round(cy - fh / 2)), height - fh)
        area = _face((0, 0, 1, 1), (fx, fy, fw, fh), cx, cy, rx, ry, rng.uniform(-1.2, 1.2))
        box = _bounds(area.ellipse, area.face, width, height)
        assert box is not None
        area = _face(box, area.face, cx, cy, rx, ry, area.ellipse.angle)
        out = np.asarray(hide_areas(source, [area], fill, 5, "grid"))
        changed = out.any(axis=2) == 0  # filled black
        inside = ellipse_mask(area.ellipse, (width, height))
        missed = inside & ~changed
        assert not missed.any(), (area, int(missed.sum()), np.argwhere(missed)[:5])
        e = area.ellipse
        near = ellipse_mask(type(e)(e.cx, e.cy, e.rx + 2, e.ry + 2, e.angle), (width, height))
        near[fy : fy + fh, fx : fx + fw] = True
        assert not (changed & ~near).any(), area
        checked += int(inside.sum() > 0 and (box[0] == 0 or box[1] == 0))
    assert checked > 120  # many of them crossed the image's top or left edge


@pytest.mark.parametrize(("mode", "bpp"), [("L", 1), ("RGB", 3), ("RGBA", 4)])
def test_png_filter_wide_rows_every_filter_undone(mode: str, bpp: int) -> None:
    # Rows wide enough for the sampled costs (every 4th byte), each made for one filter:
    # zeros (None: ties go to the first filter), a ramp (Sub), the row above plus one (Up),
    # the floor of the mean of the left and above bytes (Average: all zeros), so every
    # filter is chosen and undone.
    width = 301
    stride = width * bpp
    noise = noise_image(width, 1, "RGBA", seed=bpp).convert(mode).tobytes()
    rows = [noise]
    for y in range(1, 12):
        above = rows[-1]
        kind = y % 4
        if kind == 0:
            row = bytes(stride)
        elif kind == 1:
            row = bytes((x * 3 + y) % 256 for x in range(stride))
        elif kind == 2:
            row = bytes((v + 1) % 256 for v in above)
        else:
            out = bytearray(stride)
            for x in range(stride):
                out[x] = ((out[x - bpp] if x >= bpp else 0) + above[x]) // 2
            row = bytes(out)
        rows.append(row)
    raw = b"".join(rows)
    filtered = png_filter(raw, stride, bpp)
    kinds = [filtered[y * (stride + 1)] for y in range(12)]
    assert set(kinds[1:]) == {0, 1, 2, 3}, kinds
    ihdr = struct.pack(">IIBBBBB", width, 12, 8, {1: 0, 3: 2, 4: 6}[bpp], 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    png += _chunk(b"IDAT", zlib.compress(filtered)) + _chunk(b"IEND", b"")
    assert decode(png).tobytes() == raw


def smooth_image(width: int, height: int, mode: str, seed: int = 5) -> Image.Image:
    """A smooth picture (random pixels enlarged 12x, bicubic): Paeth pays on most rows."""
    small = noise_image(width // 12 + 1, height // 12 + 1, "RGBA", seed=seed)
    return small.resize((width, height), Image.Resampling.BICUBIC).convert(mode)


def filter_types(png: bytes, stride: int) -> list[int]:
    """The filter byte of every row of ``png`` (``stride``: a row's bytes)."""
    raw = zlib.decompress(_idat(png))
    return [raw[y] for y in range(0, len(raw), stride + 1)]


@pytest.mark.parametrize(("mode", "bpp"), [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)])
def test_png_paeth_rows_decode_to_each_variant_exactly(mode: str, bpp: int) -> None:
    # Most rows Paeth, in the shared runs and in the bands (rows of >= 4 KiB: the areas'
    # columns filtered per variant with the rows' shared filters): a wrong Paeth byte
    # anywhere shows in the decode.
    width = -(-4100 // bpp)
    frame = smooth_image(width, 290, mode)
    variants = make_variants(frame, [(40, 50, 60, 40), (width // 2, 140, 50, 100)], count=3)
    files = encode_png_bands(frame, variants)
    assert files is not None
    for data, patches in zip(files, variants, strict=True):
        assert decode(data).tobytes() == whole(frame, patches).tobytes()
        kinds = filter_types(data, width * bpp)
        assert kinds.count(4) > len(kinds) // 2, kinds
        today = encode(whole(frame, patches), "PNG", **PNG_TODAY)
        assert len(data) <= 1.03 * len(today), (len(data), len(today))


def test_png_without_numpy_has_no_paeth_and_the_same_pixels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pixelpipe.engine import pngfilter

    frame = smooth_image(330, 290, "RGB")
    variants = make_variants(frame, [(40, 50, 60, 40)], count=2)
    with_paeth = encode_png_bands(frame, variants)
    monkeypatch.setattr(pngfilter, "_numpy", lambda: None)
    files = encode_png_bands(frame, variants)
    assert files is not None
    assert with_paeth is not None
    for data, smaller, patches in zip(files, with_paeth, variants, strict=True):
        assert decode(data).tobytes() == whole(frame, patches).tobytes()
        assert 4 not in filter_types(data, 330 * 3)
        assert len(smaller) < len(data)


def test_paeth_is_the_png_specification_s_over_every_triple() -> None:
    from pixelpipe.engine.pngfilter import _paeth

    v = np.arange(256, dtype=np.uint8)
    b, c = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
    for left in range(256):
        a = np.full_like(b, left)
        x = (b * 7 + c * 3 + left).astype(np.uint8)  # any bytes to filter
        out = np.empty_like(x)
        _paeth(x, a, b, c, out)
        ai, bi, ci = (t.astype(np.int32) for t in (a, b, c))
        p = ai + bi - ci  # the specification's predictor, ties to a, then b
        pa, pb, pc = np.abs(p - ai), np.abs(p - bi), np.abs(p - ci)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        assert np.array_equal(out, x - pred), left


def test_png_imports_numpy_only_where_paeth_pays() -> None:
    # Importing numpy costs ~110 ms of CPU and ~11 MB: the probe (every 16th row) is Pillow's.
    code = """
import sys
from PIL import Image
from pixelpipe.engine.bands import encode_png_bands
noise = Image.effect_noise((1400, 300), 60).convert("RGB")  # no filter predicts noise
assert encode_png_bands(noise, [[]])
print("numpy" in sys.modules)
smooth = Image.effect_noise((118, 26), 60).resize((1400, 300), Image.Resampling.BICUBIC)
assert encode_png_bands(smooth.convert("RGB"), [[]])
print("numpy" in sys.modules)
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def test_paeth_of_the_probe_is_numpy_s() -> None:
    from pixelpipe.engine.pngfilter import _paeth, _paeth_image

    v = np.arange(256, dtype=np.uint8)
    b, c = (m.ravel() for m in np.meshgrid(v, v, indexing="ij"))
    for left in range(0, 256, 5):
        a = np.full_like(b, left)
        x = (b * 5 + c * 11 + left).astype(np.uint8)
        out = np.empty_like(x)
        _paeth(x, a, b, c, out)
        images = [Image.fromarray(t.reshape(256, 256)) for t in (x, a, b, c)]
        assert np.asarray(_paeth_image(*images)).ravel().tolist() == out.tolist(), left


def test_join_threads_is_bytes_join() -> None:
    """The PNG files are joined into bytes made in the calling thread and filled on the pool:
    the same bytes as ``b"".join``, fresh objects, whatever the sizes and thread count."""
    from pixelpipe.engine.parallel import join_threads

    rng = np.random.default_rng(7)
    parts = [[rng.bytes(int(n)) for n in rng.integers(0, 70_000, size=k)] for k in (1, 3, 40, 7)]
    for threads in (1, 2, 3):
        got = join_threads(parts, threads)
        assert got == [b"".join(p) for p in parts]
        assert all(type(g) is bytes for g in got)
    one = [[b"x"], [b""], [b"ab", b"c"]]  # 0- and 1-byte results are shared singletons
    assert join_threads(one, 2) == [b"x", b"", b"abc"]
    first, second = join_threads([[b"ab"], [b"ab"]], 2)
    assert first == second
    assert first is not second
