"""The speed paths must not change what is written.

* ``BlockLayout.encode_jpeg`` (distinct MCU rows encoded once) writes byte for byte the file
  libjpeg writes for the whole upscaled image with a restart marker per MCU row;
* encoding variants on several threads gives the same variants as one thread;
* WebP is lossless by default (exact blocks) and lossy when a quality is given;
* ``threads`` changes speed only: it is validated, read from the environment, and left out
  of the settings digest.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from conftest import decode, encode, photo_like
from pixelpipe import engine
from pixelpipe.engine import Hooks
from pixelpipe.engine.blocks import BlockLayout, save_bytes
from pixelpipe.errors import EncodeError, SettingsError
from pixelpipe.pipeline import settings_digest
from pixelpipe.settings import EngineSettings, Settings


def grid(mode: str, gw: int, gh: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = {"L": 1, "RGB": 3, "CMYK": 4}[mode]
    arr = rng.integers(0, 256, (gh, gw, bands), dtype=np.uint8)
    if mode == "L":
        return Image.fromarray(arr[:, :, 0])
    return Image.fromarray(arr, mode)


def full_encode(g: Image.Image, layout: BlockLayout, **kwargs: object) -> bytes:
    big = g.resize(layout.canvas, Image.Resampling.NEAREST).crop((0, 0, *layout.size))
    buf = io.BytesIO()
    big.save(buf, "JPEG", restart_marker_rows=1, **kwargs)
    return buf.getvalue()


jpeg_cases = st.tuples(
    st.sampled_from(["L", "RGB", "CMYK"]),
    st.integers(1, 24),  # grid width
    st.integers(1, 24),  # grid height
    st.integers(1, 300),  # output width
    st.integers(1, 300),  # output height
    st.sampled_from([0, 1, 2]),  # subsampling 4:4:4, 4:2:2, 4:2:0
    st.integers(1, 100),  # quality
    st.integers(0, 1000),
)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(jpeg_cases)
def test_jpeg_writer_is_libjpegs_file_for_the_full_image(
    case: tuple[str, int, int, int, int, int, int, int],
) -> None:
    mode, gw, gh, w, h, subsampling, quality, seed = case
    g = grid(mode, gw, gh, seed)
    layout = BlockLayout(g.size, (w, h), (w, h))
    kwargs = {"quality": quality, "subsampling": subsampling}
    assert layout.encode_jpeg(g, kwargs, max_distinct=1.0) == full_encode(g, layout, **kwargs)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
@pytest.mark.parametrize(("w", "h", "n"), [(4000, 3000, 8), (1001, 2999, 48), (640, 17, 64)])
def test_jpeg_writer_with_optimised_tables_decodes_to_the_same_pixels(
    mode: str, w: int, h: int, n: int
) -> None:
    # Huffman tables optimised over the distinct rows differ from the full image's: the
    # bytes differ, the decoded pixels must not.
    g = grid(mode, n, n, seed=n)
    layout = BlockLayout(g.size, (w, h), (w, h))
    kwargs = {"quality": 75, "subsampling": 2, "optimize": True}
    ours = layout.encode_jpeg(g, kwargs, max_distinct=1.0)
    assert ours is not None
    theirs = full_encode(g, layout, quality=75, subsampling=2, optimize=True)
    assert decode(ours).tobytes() == decode(theirs).tobytes()
    plain = full_encode(g, layout, quality=75, subsampling=2)
    assert len(ours) < len(plain)  # and the tables are worth it


def test_jpeg_writer_crops_a_wider_canvas_and_keeps_icc_and_exif() -> None:
    g = grid("RGB", 5, 7, seed=3)
    layout = BlockLayout(g.size, (110, 77), (103, 70))  # block-px layout: canvas > image
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "maker"
    kwargs = {"quality": 80, "icc_profile": icc, "exif": exif.tobytes()}
    ours = layout.encode_jpeg(g, kwargs, max_distinct=1.0)
    assert ours == full_encode(g, layout, **kwargs)
    with Image.open(io.BytesIO(ours)) as im:
        assert im.size == (103, 70)
        assert im.info["icc_profile"] == icc
        assert im.getexif()[0x010F] == "maker"


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        ("RGB", {"progressive": True}),
        ("RGB", {"restart_marker_blocks": 3}),
        ("RGB", {"subsampling": "keep"}),
        ("RGBA", {}),
        ("P", {}),
    ],
)
def test_jpeg_writer_declines_what_it_does_not_handle(mode: str, kwargs: dict[str, object]) -> None:
    g = grid("RGB", 4, 4, seed=1).convert(mode)
    assert BlockLayout(g.size, (64, 64), (64, 64)).encode_jpeg(g, kwargs, 1.0) is None


def test_jpeg_writer_declines_when_most_mcu_rows_are_distinct() -> None:
    g = grid("RGB", 8, 8, seed=4)
    tall = BlockLayout(g.size, (64, 1600), (64, 1600))  # 100 MCU rows, 16 distinct
    assert tall.encode_jpeg(g, {"quality": 75}) is not None
    short = BlockLayout(g.size, (64, 64), (64, 64))  # 4 MCU rows, all distinct
    assert short.encode_jpeg(g, {"quality": 75}) is None
    assert short.encode_jpeg(g, {"quality": 75}, max_distinct=1.0) is not None


def test_engine_jpeg_outputs_decode_to_the_blocks_either_way() -> None:
    # 8x8 takes the distinct-row writer, 64x64 (most MCU rows distinct) the full-image
    # encode: both decode to exactly what libjpeg gives for the upscaled block image, whose
    # blocks come from a lossless PNG run of the same engine.
    data = encode(photo_like(800, 600, seed=9), "JPEG", quality=95)
    sizes = (8, 64)
    jpeg = engine.pixelate(data, EngineSettings(sizes=sizes))
    png = engine.pixelate(data, EngineSettings(sizes=sizes, output="grid", format="png"))
    blocks = {v.size: decode(v.data).convert("RGB") for v in png.variants}
    for v in jpeg.variants:
        big = blocks[v.size].resize((800, 600), Image.Resampling.NEAREST)
        expected = decode(encode(big, "JPEG", quality=75, subsampling=2))
        assert decode(v.data).tobytes() == expected.tobytes(), v.size


def test_progressive_jpeg_output_still_comes_out_right() -> None:
    # The engine falls back to encoding the full image when the fast path declines.
    data = encode(photo_like(320, 240), "JPEG", quality=95)
    result = engine.pixelate(data, EngineSettings(encoder_options={"progressive": True}))
    for v in result.variants:
        with Image.open(io.BytesIO(v.data)) as im:
            assert im.info.get("progressive") == 1
            assert im.size == (320, 240)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "TIFF"])
def test_threads_change_nothing_but_speed(fmt: str) -> None:
    data = encode(photo_like(900, 600, seed=5), fmt)
    one = engine.pixelate(data, EngineSettings(threads=1, output="both"))
    many = engine.pixelate(data, EngineSettings(threads=4, output="both"))
    assert [v.label for v in one.variants] == [v.label for v in many.variants]
    assert [v.data for v in one.variants] == [v.data for v in many.variants]


def test_an_encoding_error_in_one_thread_is_the_engines_one_line_error() -> None:
    # An invalid quantisation table: every variant fails, each in its own thread.
    data = encode(photo_like(200, 100), "PNG")
    bad = EngineSettings(format="jpeg", threads=4, encoder_options={"qtables": "nonsense"})
    with pytest.raises(EncodeError, match="quantization table") as info:
        engine.pixelate(data, bad)
    assert "\n" not in str(info.value)


def test_concurrent_calls_share_the_encoding_threads() -> None:
    # Worker threads (and Lambda) call pixelate concurrently: results stay correct.
    from concurrent.futures import ThreadPoolExecutor

    inputs = [encode(photo_like(300 + 10 * i, 200, seed=i), "JPEG") for i in range(6)]
    serial = [engine.pixelate(d, EngineSettings(threads=1)) for d in inputs]
    with ThreadPoolExecutor(3) as pool:
        parallel = list(pool.map(lambda d: engine.pixelate(d, EngineSettings(threads=2)), inputs))
    for a, b in zip(serial, parallel, strict=True):
        assert [v.data for v in a.variants] == [v.data for v in b.variants]


def test_webp_is_lossless_by_default_and_lossy_with_a_quality() -> None:
    src = photo_like(400, 300, seed=2)
    data = encode(src, "WEBP", quality=90)
    exact = engine.pixelate(data, EngineSettings(sizes=(8,)))
    lossless_bytes = exact.variants[0].data
    # Exactly the pixels of the engine's PNG (lossless too) for the same input.
    png = engine.pixelate(data, EngineSettings(sizes=(8,), format="png")).variants[0].data
    got = decode(lossless_bytes).convert("RGB")
    assert got.tobytes() == decode(png).convert("RGB").tobytes()
    lossy = engine.pixelate(data, EngineSettings(sizes=(8,), quality=80)).variants[0].data
    assert decode(lossy).convert("RGB").tobytes() != got.tobytes()  # lossy: not exact
    assert len(lossless_bytes) < len(lossy)  # and lossless is the smaller one on blocks


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "GIF", "BMP", "WEBP"])
def test_save_bytes_is_pillows_save(fmt: str) -> None:
    im = photo_like(120, 80).convert("P" if fmt == "GIF" else "RGB")
    buf = io.BytesIO()
    im.save(buf, fmt)
    assert save_bytes(im, fmt) == buf.getvalue()


def test_memory_budget_is_the_lambda_functions_memory_when_smaller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    free = engine.memory_budget()
    assert 0 < free < 1 << 62  # /proc/meminfo on Linux
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    assert engine.memory_budget() == 128 << 20


@pytest.mark.parametrize(
    ("fmt", "budget_mb", "threads", "expected"),
    [
        ("webp", 4096, 0, 2),  # 800x600 lossless WebP: ~8 MB per encode, both CPUs
        ("webp", 20, 0, 1),  # half of 20 MB holds one encode at a time
        ("webp", 20, 2, 2),  # an explicit thread count is taken as asked
    ],
)
def test_auto_threads_are_capped_by_memory(
    fmt: str, budget_mb: int, threads: int, expected: int
) -> None:
    used: list[int] = []
    real_run = Hooks.default().run

    def spy(fn: Callable[[int], Any], count: int, n: int) -> list[Any]:
        used.append(n)
        return real_run(fn, count, n)

    hooks = Hooks(run=spy, memory_budget=lambda: budget_mb << 20, cpus=lambda: 2)
    data = encode(photo_like(800, 600, seed=3), "PNG")
    result = engine.pixelate(data, EngineSettings(format=fmt, threads=threads), hooks=hooks)
    assert used == [expected]
    assert len(result.variants) == 5


def test_threads_setting_is_validated_and_read_from_the_environment() -> None:
    assert EngineSettings().threads == 0
    assert EngineSettings.from_env({"PIXELPIPE_THREADS": "3"}).threads == 3
    assert EngineSettings.from_env({"ENGINE_THREADS": "2"}).threads == 2
    for bad in (-1, 257, "many", 1.5, True):
        with pytest.raises(SettingsError, match="threads"):
            EngineSettings(threads=bad)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="PIXELPIPE_THREADS"):
        EngineSettings.from_env({"PIXELPIPE_THREADS": "lots"})


def test_threads_are_not_part_of_the_settings_digest() -> None:
    one = Settings(processed_bucket="p", engine=EngineSettings(threads=1))
    eight = Settings(processed_bucket="p", engine=EngineSettings(threads=8))
    other = Settings(processed_bucket="p", engine=EngineSettings(threads=8, sizes=(8,)))
    assert settings_digest(one) == settings_digest(eight)
    assert settings_digest(eight) != settings_digest(other)
    assert "threads" not in one.engine.output_fields()
