"""Multi-page inputs whose pages differ in size (TIFF, MPO)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from conftest import decode, mad, photo_like, reference
from pixelpipe import EngineSettings, ImageTooLarge, pixelate


def _pages(*sizes: tuple[int, int], fmt: str = "TIFF") -> tuple[bytes, list[Image.Image]]:
    pages = [photo_like(w, h, seed=i) for i, (w, h) in enumerate(sizes)]
    buf = io.BytesIO()
    kwargs = {"compression": "tiff_lzw"} if fmt == "TIFF" else {}
    pages[0].save(buf, fmt, save_all=True, append_images=pages[1:], **kwargs)
    return buf.getvalue(), pages


@pytest.mark.parametrize("output", ["full", "grid"])
def test_tiff_pages_of_different_sizes_each_keep_their_size(output: str) -> None:
    data, pages = _pages((160, 120), (90, 200))
    (v,) = pixelate(data, EngineSettings(sizes=(8,), output=output)).variants
    out = decode(v.data)
    assert out.n_frames == 2
    for index, page in enumerate(pages):
        out.seek(index)
        if output == "full":
            assert out.size == page.size
            assert mad(out.convert("RGB"), reference(page, (8, 8))).max() <= 1.0
        else:
            assert out.size == (8, 8)


def test_a_larger_later_page_counts_towards_the_pixel_limit() -> None:
    data, _ = _pages((40, 40), (400, 400))  # 1,600 + 160,000 pixels
    with pytest.raises(ImageTooLarge, match=r"2 frames \(40x40, \.\.\.\) = 0\.2 MP"):
        pixelate(data, EngineSettings(max_pixels=100_000))
    assert len(pixelate(data, EngineSettings(max_pixels=200_000)).variants) == 5
    # Only the first page is decoded (and counted) when only the first is wanted.
    first = pixelate(data, EngineSettings(max_pixels=100_000, frames="first"))
    assert all(v.frames == 1 for v in first.variants)


def test_mpo_keeps_both_pictures() -> None:
    data, pages = _pages((200, 150), (200, 150), fmt="MPO")
    result = pixelate(data, EngineSettings(sizes=(8,)))
    assert result.source.format == "MPO"
    (v,) = result.variants
    assert v.format == "mpo"
    assert v.frames == 2
    out = decode(v.data)
    assert out.format == "MPO"
    assert out.n_frames == 2
    for index, page in enumerate(pages):
        out.seek(index)
        assert mad(out.convert("RGB"), reference(page, (8, 8))).max() <= 6.0  # JPEG
