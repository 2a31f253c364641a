"""blocks.py must produce exactly what Pillow's nearest-neighbour resize (and crop) produces."""

from __future__ import annotations

import io
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pixelpipe.engine.blocks import BlockLayout, Canvas
from pixelpipe.engine.convert import exact_palette


def grid_image(mode: str, gw: int, gh: int, seed: int) -> Image.Image:
    base = Image.effect_noise((gw, gh), 60 + seed % 40).convert("L")
    alpha = base.point(lambda v: 0 if v < 110 else (255 if v > 150 else v))
    rgba = Image.merge(
        "RGBA", [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.rotate(180), alpha]
    )
    if mode == "P":
        small = rgba.resize((min(gw, 12), min(gh, 12)), Image.Resampling.NEAREST)
        p = exact_palette(small)
        assert p is not None
        return p
    if mode in ("I", "F"):
        return base.convert(mode)
    return rgba.convert(mode)


layouts = st.tuples(
    st.sampled_from(["L", "LA", "RGB", "RGBA", "P", "CMYK", "I", "F"]),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 400),
    st.integers(1, 400),
    st.integers(0, 30),
    st.integers(0, 30),
    st.integers(0, 1000),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(layouts)
def test_upscale_and_png_equal_pillow(case: tuple[str, int, int, int, int, int, int, int]) -> None:
    mode, gw, gh, w, h, extra_w, extra_h, seed = case
    g = grid_image(mode, gw, gh, seed)
    canvas = (w + extra_w, h + extra_h)
    layout = BlockLayout(g.size, canvas, (w, h))
    expected = g.resize(canvas, Image.Resampling.NEAREST).crop((0, 0, w, h))

    # Into a reused, dirty canvas, as the engine does (twice: the second overwrites the first).
    canvas = Canvas((w, h), rgb=True)
    junk = bytes(range(256)) * (len(canvas.buffer) // 256 + 1)
    canvas.memory[:] = junk[: len(canvas.buffer)]
    for _ in range(2):
        got = layout.upscale(g, canvas)
        assert got.size == (w, h)
        assert got.convert(expected.mode).tobytes() == expected.tobytes()
    plain = layout.upscale(g)
    assert plain.mode == expected.mode
    assert plain.tobytes() == expected.tobytes()

    png = layout.encode_png(g)
    if mode in ("L", "LA", "RGB", "RGBA", "P"):
        assert png is not None
        decoded = Image.open(io.BytesIO(png))
        decoded.load()
        assert decoded.size == (w, h)
        assert decoded.convert("RGBA").tobytes() == expected.convert("RGBA").tobytes()
    else:
        assert png is None  # handled by Pillow's encoder instead


def test_png_is_well_formed_and_carries_the_icc_profile() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    g = grid_image("RGB", 16, 16, 1)
    png = BlockLayout((16, 16), (1000, 700), (1000, 700)).encode_png(g, icc)
    assert png is not None
    decoded = Image.open(io.BytesIO(png))
    decoded.load()  # verifies every chunk CRC and the zlib adler-32
    assert decoded.info["icc_profile"] == icc
    # The IDAT stream inflates to exactly height x (1 + width x 3) bytes.
    pos, idat = 8, b""
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    assert len(zlib.decompress(idat)) == 700 * (1 + 1000 * 3)


def test_png_transparent_palette_keeps_alpha() -> None:
    g = Image.new("RGBA", (2, 1))
    g.putpixel((0, 0), (255, 0, 0, 0))
    g.putpixel((1, 0), (0, 0, 255, 255))
    p = exact_palette(g)
    assert p is not None
    png = BlockLayout((2, 1), (10, 4), (10, 4)).encode_png(p)
    assert png is not None
    decoded = Image.open(io.BytesIO(png)).convert("RGBA")
    assert decoded.getpixel((0, 0))[3] == 0
    assert decoded.getpixel((9, 3)) == (0, 0, 255, 255)


def test_png_is_smaller_than_pillows_for_a_block_image() -> None:
    g = grid_image("RGB", 32, 32, 7)
    layout = BlockLayout((32, 32), (1600, 1200), (1600, 1200))
    ours = layout.encode_png(g)
    assert ours is not None
    buf = io.BytesIO()
    layout.upscale(g).save(buf, "PNG")
    assert len(ours) < buf.tell()


def test_zero_rows_compresses_only_the_runs_it_needs() -> None:
    """A run shorter than the 1 MiB chunk must not pay for compressing a whole chunk."""
    from pixelpipe.engine.blocks import _ZeroRows

    zeros = _ZeroRows(b"\x02" + bytes(3000))
    assert zeros.per_chunk == (1 << 20) // 3001
    segments = zeros.segments(5)
    assert set(zeros.cache) == {5}
    assert [length for *_, length in segments] == [5 * 3001]
    long = zeros.segments(2 * zeros.per_chunk + 7)
    assert [length for *_, length in long] == [zeros.per_chunk * 3001] * 2 + [7 * 3001]
    assert set(zeros.cache) == {5, 7, zeros.per_chunk}
    inflated = zlib.decompressobj(-15).decompress(b"".join(s for s, *_ in long))
    assert inflated == (b"\x02" + bytes(3000)) * (2 * zeros.per_chunk + 7)
