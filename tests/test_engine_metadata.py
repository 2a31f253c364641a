"""EXIF orientation, ICC profiles, and metadata stripping / keeping."""

from __future__ import annotations

import pytest
from PIL import Image, ImageCms, ImageOps
from PIL.PngImagePlugin import PngInfo

from conftest import (
    ORIENTATION_TAG,
    asymmetric,
    decode,
    encode,
    exif_bytes,
    mad,
    photo_like,
    pixels,
    reference,
    stored_with_orientation,
)
from pixelpipe import EngineSettings, pixelate

MAKE, MODEL, GPS_IFD = 0x010F, 0x0110, 0x8825
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'dc:creator="SecretAuthorXMP"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()

# --------------------------------------------------------------------------------------------
# Orientation

# Sizes: grid sizes whose square-shape grids differ between 60x40 and 40x60, so a wrong
# orientation cannot pass by symmetry.
ORIENT_SETTINGS = EngineSettings(sizes=(4, 7, 15), format="png", shape="square")


def _oriented(fmt: str, orientation: int, up: Image.Image) -> bytes:
    stored = stored_with_orientation(up, orientation)
    kwargs: dict[str, object] = {"exif": exif_bytes(orientation)}
    if fmt == "JPEG":
        kwargs.update(quality=95, subsampling=0)
    if fmt == "WEBP":
        kwargs["lossless"] = True
    data = encode(stored, fmt, **kwargs)
    # the fixture itself is right: plain Pillow shows it upright
    shown = ImageOps.exif_transpose(decode(data))
    assert shown is not None
    assert shown.size == up.size
    return data


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_applied(fmt: str, orientation: int) -> None:
    up = asymmetric(60, 40)
    data = _oriented(fmt, orientation, up)
    result = pixelate(data, ORIENT_SETTINGS)
    assert (result.source.width, result.source.height) == (60, 40)
    assert result.source.orientation == orientation
    # what plain Pillow shows for the file, pixelated the original way
    shown = ImageOps.exif_transpose(decode(data))
    assert shown is not None
    for v in result.variants:
        out = decode(v.data)
        assert out.size == (60, 40), f"{v.label}: {out.size}"
        assert v.grid == (v.size, round(v.size * 40 / 60))
        got = pixels(out, "RGB")
        # compared with what plain Pillow shows, and with the upright image itself
        for what, base in (("shown", shown), ("upright", up)):
            diff = abs(got - pixels(reference(base, v.grid), "RGB"))
            if fmt != "JPEG":
                # lossless: exact but for the rounding order of Pillow's two bilinear passes,
                # which differs when the grid is transposed after resizing
                assert diff.max() <= 1, f"{v.label} vs {what}: max diff {diff.max()}"
            err = diff.reshape(-1, 3).mean(axis=0)
            limit = 1.5 if fmt == "JPEG" else 0.5
            assert err.max() <= limit, f"{v.label} vs {what}: MAD {err.round(3).tolist()}"
        assert ORIENTATION_TAG not in out.getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_grid_output_and_block_px(orientation: int) -> None:
    up = asymmetric(60, 40)
    data = _oriented("PNG", orientation, up)
    result = pixelate(data, EngineSettings(sizes=(6,), block_px=(7,), output="both", format="png"))
    full, grid = result.variants
    assert grid.grid == (9, 6)  # ceil(60/7), ceil(40/7) in the displayed orientation
    assert decode(grid.data).size == (9, 6)
    assert decode(full.data).size == (60, 40)
    # the grid image is upright: its top-left block is the red corner
    r, g, b = decode(grid.data).convert("RGB").getpixel((0, 0))
    assert r > 200, (r, g, b)
    assert max(g, b) < 60, (r, g, b)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_orientation_tag_removed_when_keeping_metadata(orientation: int) -> None:
    up = asymmetric(60, 40)
    stored = stored_with_orientation(up, orientation)
    data = encode(stored, "JPEG", exif=exif_bytes(orientation, gps=True), quality=95)
    for fmt in ("source", "png", "webp"):
        result = pixelate(data, EngineSettings(sizes=(4,), format=fmt, keep_metadata=True))
        (v,) = result.variants
        out = decode(v.data)
        exif = out.getexif()
        assert ORIENTATION_TAG not in exif, fmt
        assert exif.get(MAKE) == "PixelCam", fmt  # the rest of EXIF is kept
        assert out.size == (60, 40)
        # XMP's copy of the orientation must not survive either
        assert b"tiff:Orientation" not in v.data


def test_orientation_in_xmp_only_is_not_left_stale() -> None:
    up = asymmetric(60, 40)
    xmp = XMP.replace(
        b'dc:creator="SecretAuthorXMP"',
        b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"',
    )
    stored = stored_with_orientation(up, 6)
    data = encode(stored, "JPEG", exif=exif_bytes(6), xmp=xmp, quality=95)
    (v,) = pixelate(data, EngineSettings(sizes=(4,), keep_metadata=True)).variants
    assert b"tiff:Orientation" not in v.data
    # a viewer applying exif_transpose to the output must see it upright
    shown = ImageOps.exif_transpose(decode(v.data))
    assert shown is not None
    assert shown.size == (60, 40)


# --------------------------------------------------------------------------------------------
# ICC profiles


@pytest.mark.parametrize("src_fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_icc_profile_kept(src_fmt: str, fmt: str) -> None:
    im = photo_like(80, 60, seed=1)
    data = encode(im, src_fmt, icc_profile=SRGB)
    assert decode(data).info.get("icc_profile") == SRGB
    for keep in (False, True):
        (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt, keep_metadata=keep)).variants
        got = decode(v.data).info.get("icc_profile")
        assert got == SRGB, f"{src_fmt}->{fmt} keep={keep}: ICC profile lost"


def test_icc_profile_kept_for_palette_png_output() -> None:
    im = Image.new("RGB", (64, 64), (200, 10, 10))
    data = encode(im, "PNG", icc_profile=SRGB)
    (v,) = pixelate(data, EngineSettings(sizes=(4,), format="png")).variants
    out = decode(v.data)
    assert out.info.get("icc_profile") == SRGB


def test_no_icc_profile_invented() -> None:
    data = encode(photo_like(80, 60, seed=1), "PNG")
    for fmt in ("jpeg", "png", "webp"):
        (v,) = pixelate(data, EngineSettings(sizes=(8,), format=fmt)).variants
        assert not decode(v.data).info.get("icc_profile"), fmt


def test_rgb_icc_profile_not_attached_to_grayscale_output() -> None:
    data = encode(photo_like(80, 60, seed=1).convert("L"), "JPEG", icc_profile=SRGB)
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="png")).variants
    out = decode(v.data)
    assert out.mode == "L"
    assert not out.info.get("icc_profile")  # an RGB profile on a gray image is invalid


# --------------------------------------------------------------------------------------------
# Stripping by default


def _rich_jpeg() -> bytes:
    return encode(
        photo_like(80, 60, seed=2),
        "JPEG",
        exif=exif_bytes(1, gps=True),
        xmp=XMP,
        comment=b"SecretComment",
        icc_profile=SRGB,
    )


def _rich_png() -> bytes:
    info = PngInfo()
    info.add_text("Author", "SecretAuthorText")
    info.add_itxt("Description", "SecretDescription")
    info.add_text("Comment", "SecretComment", zip=True)
    return encode(
        photo_like(80, 60, seed=2),
        "PNG",
        exif=exif_bytes(1, gps=True),
        xmp=XMP,
        pnginfo=info,
        icc_profile=SRGB,
    )


def _rich_webp() -> bytes:
    return encode(
        photo_like(80, 60, seed=2), "WEBP", exif=exif_bytes(1, gps=True), xmp=XMP, icc_profile=SRGB
    )


def _rich_tiff() -> bytes:
    return encode(photo_like(80, 60, seed=2), "TIFF", exif=exif_bytes(1, gps=True))


RICH = {"JPEG": _rich_jpeg, "PNG": _rich_png, "WEBP": _rich_webp, "TIFF": _rich_tiff}
SECRETS = (b"PixelCam", b"SecretAuthor", b"SecretComment", b"SecretDescription")


@pytest.mark.parametrize("src_fmt", list(RICH))
def test_fixture_really_carries_metadata(src_fmt: str) -> None:
    src = decode(RICH[src_fmt]())
    exif = src.getexif()
    assert exif.get(MAKE) == "PixelCam"
    assert dict(exif.get_ifd(GPS_IFD)), "GPS IFD missing in the test input"


@pytest.mark.parametrize("src_fmt", list(RICH))
@pytest.mark.parametrize("fmt", ["source", "jpeg", "png", "webp", "tiff", "gif", "bmp"])
def test_metadata_stripped_by_default(src_fmt: str, fmt: str) -> None:
    result = pixelate(RICH[src_fmt](), EngineSettings(sizes=(8,), format=fmt))
    for v in result.variants:
        out = decode(v.data)
        exif = out.getexif()
        assert MAKE not in exif, f"camera EXIF kept: {dict(exif)}"
        assert MODEL not in exif, f"camera EXIF kept: {dict(exif)}"
        assert GPS_IFD not in exif, "GPS pointer kept"
        assert not dict(exif.get_ifd(GPS_IFD)), "GPS kept"
        for secret in SECRETS:
            assert secret not in v.data, f"{secret!r} leaked into {v.format}"
        assert "xmp" not in out.info
        assert "XML:com.adobe.xmp" not in out.info
        assert "comment" not in out.info
        if v.format == "jpeg":
            assert b"Exif\x00\x00" not in v.data
            assert not out.getexif()
        if v.format == "png":
            assert not getattr(out, "text", {}), out.text
            for chunk in (b"eXIf", b"tEXt", b"iTXt", b"zTXt"):
                assert chunk not in v.data, f"PNG {chunk!r} chunk kept"


# --------------------------------------------------------------------------------------------
# keep_metadata


@pytest.mark.parametrize("src_fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("fmt", ["source", "jpeg", "png", "webp", "tiff"])
def test_keep_metadata_keeps_exif_and_gps(src_fmt: str, fmt: str) -> None:
    result = pixelate(RICH[src_fmt](), EngineSettings(sizes=(8,), format=fmt, keep_metadata=True))
    (v,) = result.variants
    out = decode(v.data)
    exif = out.getexif()
    assert exif.get(MAKE) == "PixelCam", dict(exif)
    assert exif.get(MODEL) == "PC-1"
    gps = exif.get_ifd(GPS_IFD)
    assert gps.get(1) == "N"
    assert tuple(float(x) for x in gps.get(2)) == (51.0, 30.0, 12.5)
    assert ORIENTATION_TAG not in exif


def test_keep_metadata_keeps_jpeg_comment_and_xmp() -> None:
    (v,) = pixelate(_rich_jpeg(), EngineSettings(sizes=(8,), keep_metadata=True)).variants
    out = decode(v.data)
    assert out.info.get("comment") == b"SecretComment"
    assert b"SecretAuthorXMP" in v.data
    assert out.info.get("icc_profile") == SRGB


def test_keep_metadata_output_still_pixelated() -> None:
    data = _rich_jpeg()
    (v,) = pixelate(data, EngineSettings(sizes=(8,), format="png", keep_metadata=True)).variants
    out = decode(v.data)
    assert out.size == (80, 60)
    assert mad(out, reference(decode(data), (8, 8)), mode="RGB").max() <= 1.0
    assert len({tuple(p) for p in pixels(out, "RGB").reshape(-1, 3).tolist()}) <= 64


# --------------------------------------------------------------------------------------------
# keep_metadata must copy descriptive EXIF, never the source file's layout


@pytest.mark.parametrize("src_fmt", ["JPEG", "TIFF"])
@pytest.mark.parametrize("output", ["grid", "both"])
def test_kept_exif_never_carries_tiff_layout_tags(src_fmt: str, output: str) -> None:
    ex = Image.Exif()
    ex[0x010F] = "Cam"
    if src_fmt == "JPEG":  # a TIFF source has its own (true) layout tags in IFD0
        ex[256], ex[257] = 640, 480  # width/height of some other file
    ex.get_ifd(0x8825)[2] = (52.0, 22.0, 0.0)
    im = Image.new("RGB", (64, 48), "teal")
    data = encode(im, src_fmt, exif=ex.tobytes())
    settings = EngineSettings(sizes=(4,), format="tiff", output=output, keep_metadata=True)
    for v in pixelate(data, settings).variants:
        out = decode(v.data)  # decode() loads: a wrong StripByteCounts would fail here
        assert out.size == (v.width, v.height)
        exif = out.getexif()
        assert exif.get(0x010F) == "Cam"
        assert exif.get_ifd(0x8825), "GPS kept on request"


def test_rotated_tiff_with_keep_metadata() -> None:
    ex = Image.Exif()
    ex[0x0112] = 6
    data = encode(Image.new("RGB", (40, 20), "red"), "TIFF", exif=ex.tobytes())
    result = pixelate(data, EngineSettings(sizes=(2,), keep_metadata=True))
    assert (result.source.width, result.source.height) == (20, 40)
    for v in result.variants:
        out = decode(v.data)
        assert out.size == (20, 40)
        assert out.getexif().get(0x0112) in (None, 1)
