"""The libturbojpeg spike (engine/turbo.py, not yet the engine's path): areas rewritten in the
DCT domain keep every other block's coefficients exactly, give the area the pixels libjpeg
gives encoding the whole variant, and a corrupt file is an error code, never an abort.
Real JPEGs from Pillow, decoded by Pillow; skipped where libturbojpeg is not installed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import photo_like
from pixelpipe.engine import turbo

pytestmark = pytest.mark.skipif(turbo.library() is None, reason="libturbojpeg not installed")


def _jpeg(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(
    ("mode", "kw", "size"),
    [
        ("RGB", {"subsampling": 2}, (333, 250)),
        ("RGB", {"subsampling": 1}, (320, 240)),
        ("RGB", {"subsampling": 0}, (301, 199)),
        ("RGB", {"subsampling": 2, "progressive": True}, (333, 250)),
        ("L", {}, (301, 199)),
    ],
)
@pytest.mark.parametrize("box", [(40, 30, 90, 70), (48, 32, 32, 16)])
def test_area_blocks_rewritten_the_rest_kept(
    mode: str, kw: dict[str, object], size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    source = photo_like(*size, seed=3).convert(mode)
    data = _jpeg(source, **kw)
    im = Image.open(io.BytesIO(data))
    sampling = turbo.sampling_of(data)
    assert sampling is not None
    options = {"qtables": [list(t) for _, t in sorted(im.quantization.items())]}
    if mode == "RGB":
        options["subsampling"] = kw["subsampling"]
    frame = im.convert(mode)
    # The variant: the box filled grey, everything else the source's decode.
    variant = frame.copy()
    variant.paste(Image.new(mode, box[2:], 128 if mode == "L" else (128, 128, 128)), box[:2])
    at = turbo.aligned(box, sampling.mcu, frame.size)
    crop = variant.crop((at[0], at[1], at[0] + at[2], at[1] + at[3]))
    blocks = turbo.area_blocks(crop, at, [box], sampling, options)
    (out,) = turbo.write_variants(data, [blocks])

    # Every block the box does not touch keeps the source's coefficients exactly.
    src_coeffs, out_coeffs = turbo.read_coefficients(data), turbo.read_coefficients(out)
    mw, mh = sampling.mcu
    x, y, w, h = box
    for comp, (hf, vf) in enumerate(sampling.factors):
        bw, bh = mw // hf, mh // vf  # pixels per block of this component
        a = np.frombuffer(b"".join(src_coeffs[comp]), np.int16).reshape(len(src_coeffs[comp]), -1)
        b = np.frombuffer(b"".join(out_coeffs[comp]), np.int16).reshape(a.shape)
        touched = np.zeros((a.shape[0], a.shape[1] // 64), bool)
        touched[y // bh : -(-(y + h) // bh), x // bw : -(-(x + w) // bw)] = True
        per_block = (a != b).reshape(a.shape[0], -1, 64).any(axis=2)
        assert not (per_block & ~touched).any()
        assert per_block[touched].any()

    # Pixels: far from the box (beyond chroma upsampling's reach) the source's exactly;
    # inside it what libjpeg gives for the whole variant encoded with the same tables.
    got, src = _pixels(out), _pixels(data)
    buf = io.BytesIO()
    variant.save(buf, "JPEG", **options)  # the tables as given (a quality would rescale them)
    whole = _pixels(buf.getvalue())
    far = np.ones(src.shape[:2], bool)
    far[max(0, at[1] - 2) : at[1] + at[3] + 2, max(0, at[0] - 2) : at[0] + at[2] + 2] = False
    assert (got[far] == src[far]).all()
    inside = np.abs(got[y : y + h, x : x + w] - whole[y : y + h, x : x + w])
    # At the box's edges chroma upsampling mixes in the neighbouring (kept) blocks, which the
    # whole encode re-encoded: there one JPEG round trip's difference, elsewhere none.
    assert inside[2:-2, 2:-2].max() <= 1
    assert inside.max() <= 6


def test_corrupt_jpeg_is_an_error_not_an_abort() -> None:
    data = _jpeg(photo_like(200, 150, seed=1))
    broken = data[: len(data) // 2] + bytes(64) + data[len(data) // 2 + 64 :]
    with pytest.raises(turbo.TurboError):
        turbo.write_variants(broken, [{}])
    with pytest.raises(turbo.TurboError):
        turbo.write_variants(data[:300], [{}])
    with pytest.raises(turbo.TurboError):
        turbo.read_coefficients(b"not a jpeg")


def test_a_failing_filter_fails_the_transform() -> None:
    data = _jpeg(photo_like(64, 64, seed=2))
    outside = {0: {0: [(100, bytes(128))]}}  # a block column past the image
    with pytest.raises(turbo.TurboError):
        turbo.write_variants(data, [outside])
