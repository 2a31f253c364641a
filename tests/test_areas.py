"""Hiding only regions (issue #13): the engine pixelates the given areas of the displayed image
with the original design's semantics and keeps every other pixel of the source exactly."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageChops

from conftest import (
    BILINEAR,
    NEAREST,
    decode,
    encode,
    exif_bytes,
    photo_like,
    read_frames,
    stored_with_orientation,
)
from pixelpipe import EngineSettings, pixelate
from pixelpipe.areas import format_regions, parse_regions
from pixelpipe.errors import AreaError, SettingsError
from pixelpipe.manifest import settings_digest_of
from pixelpipe.settings import KEPT_METADATA_RULES


def original_design(area: Image.Image, n: int) -> Image.Image:
    """The original design applied to one area: n x n bilinear, back with nearest."""
    return area.resize((n, n), BILINEAR).resize(area.size, NEAREST)


def outside_mask(size: tuple[int, int], boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    mask = np.ones((size[1], size[0]), dtype=bool)
    for x, y, w, h in boxes:
        mask[y : y + h, x : x + w] = False
    return mask


def as_array(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.int16)


# --- the semantics --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 8, 16, 64])
def test_region_is_the_original_design_and_the_rest_is_the_source(n: int) -> None:
    src = photo_like(320, 240, seed=3)
    box = (40, 30, 150, 100)
    result = pixelate(encode(src, "PNG"), EngineSettings(sizes=(n,), regions=(box,)))
    (variant,) = result.variants
    assert variant.label == f"{n}x{n}"
    assert variant.filename("cat.png") == f"pixelated-{n}x{n}-cat.png"
    out = decode(variant.data).convert("RGB")
    assert out.size == src.size
    x, y, w, h = box
    expected = original_design(src.crop((x, y, x + w, y + h)), n)
    assert ImageChops.difference(out.crop((x, y, x + w, y + h)), expected).getbbox() is None
    mask = outside_mask(src.size, [box])
    assert np.array_equal(as_array(out)[mask], as_array(src)[mask])
    assert [a.box for a in result.areas] == [box]
    assert result.areas[0].source == "region"


def test_area_loses_its_detail() -> None:
    src = photo_like(320, 240, seed=5)
    box = (100, 60, 120, 120)
    out = decode(
        pixelate(encode(src, "PNG"), EngineSettings(sizes=(8,), regions=(box,))).variants[0].data
    )
    x, y, w, h = box
    colours = out.convert("RGB").crop((x, y, x + w, y + h)).getcolors(10_000)
    assert colours is not None
    assert len(colours) <= 64
    assert len(src.crop((x, y, x + w, y + h)).getcolors(100_000) or []) > 1000


def test_jpeg_is_decoded_at_full_resolution_when_areas_are_given() -> None:
    """A reduced decode would blur the pixels that must be kept: the kept pixels of a
    lossless output are exactly the source's full-resolution decode."""
    src = photo_like(1600, 1200, seed=1)
    data = encode(src, "JPEG", quality=92)
    box = (10, 10, 50, 50)
    result = pixelate(data, EngineSettings(sizes=(8,), regions=(box,), format="png"))
    assert result.decode_scale == 1
    full = decode(data).convert("RGB")
    out = decode(result.variants[0].data).convert("RGB")
    mask = outside_mask(src.size, [box])
    assert np.array_equal(as_array(out)[mask], as_array(full)[mask])


def test_jpeg_output_keeps_the_source_quantisation() -> None:
    """JPEG in, JPEG out: the kept pixels change only by a re-encode with the source's own
    tables, far less than at quality 75 with 4:2:0."""
    src = photo_like(800, 600, seed=2)
    data = encode(src, "JPEG", quality=95, subsampling=0)
    box = (300, 200, 100, 100)
    out = decode(pixelate(data, EngineSettings(sizes=(8,), regions=(box,))).variants[0].data)
    assert out.quantization == decode(data).quantization  # type: ignore[attr-defined]
    full = as_array(decode(data))
    mask = outside_mask(src.size, [box])
    kept = np.abs(as_array(out)[mask] - full[mask])
    low = decode(
        pixelate(data, EngineSettings(sizes=(8,), regions=(box,), quality=75)).variants[0].data
    )
    lossy = np.abs(as_array(low)[mask] - full[mask])
    assert kept.mean() < lossy.mean() / 2
    assert np.percentile(kept, 99) <= 4


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_regions_are_in_displayed_pixels(orientation: int) -> None:
    upright = photo_like(300, 200, seed=4)
    stored = stored_with_orientation(upright, orientation)
    data = encode(stored, "PNG", exif=exif_bytes(orientation))
    box = (20, 120, 90, 60)  # the lower left of the upright picture
    result = pixelate(data, EngineSettings(sizes=(4,), regions=(box,)))
    out = decode(result.variants[0].data).convert("RGB")
    assert out.size == upright.size
    x, y, w, h = box
    expected = original_design(upright.crop((x, y, x + w, y + h)), 4)
    assert ImageChops.difference(out.crop((x, y, x + w, y + h)), expected).getbbox() is None
    mask = outside_mask(upright.size, [box])
    assert np.array_equal(as_array(out)[mask], as_array(upright)[mask])


def test_block_px_are_blocks_from_the_area_corner() -> None:
    """P-pixel blocks laid from the area's top-left corner: the complete blocks, the partial
    last column and row are each resized on their own (as the whole-image --block-px does),
    so no block borrows pixels from outside its own."""
    src = photo_like(200, 200, seed=6)
    box = (13, 17, 50, 35)  # 50 x 35: three complete 16 px blocks across, a partial fourth
    settings = EngineSettings(block_px=(16,), regions=(box,))
    out = decode(pixelate(encode(src, "PNG"), settings).variants[0].data).convert("RGB")
    area = out.crop((13, 17, 63, 52))
    crop = src.crop((13, 17, 63, 52))
    grid = Image.new("RGB", (4, 3))
    for x0, x1, nx, cx in [(0, 48, 3, 0), (48, 50, 1, 3)]:
        for y0, y1, ny, cy in [(0, 32, 2, 0), (32, 35, 1, 2)]:
            cell = crop.resize((nx, ny), BILINEAR, box=(x0, y0, x1, y1))
            grid.paste(cell, (cx, cy))
    expected = grid.resize((64, 48), NEAREST).crop((0, 0, 50, 35))
    assert ImageChops.difference(area, expected).getbbox() is None
    pixels = as_array(area)
    for bx, by in [(0, 0), (16, 0), (32, 16), (48, 32)]:
        block = pixels[by : by + 16, bx : bx + 16]
        assert (block == block[0, 0]).all(), (bx, by)  # one colour per block


def test_square_shape_counts_blocks_along_the_area_long_side() -> None:
    src = photo_like(300, 300, seed=8)
    box = (10, 10, 160, 80)
    settings = EngineSettings(sizes=(8,), shape="square", regions=(box,))
    out = decode(pixelate(encode(src, "PNG"), settings).variants[0].data).convert("RGB")
    area = out.crop((10, 10, 170, 90))
    expected = src.crop((10, 10, 170, 90)).resize((8, 4), BILINEAR).resize((160, 80), NEAREST)
    assert ImageChops.difference(area, expected).getbbox() is None


def test_fill_leaves_nothing_of_the_area() -> None:
    src = photo_like(160, 120, seed=9).convert("RGBA")
    box = (30, 20, 50, 40)
    settings = EngineSettings(sizes=(8, 64), regions=(box,), style="fill")
    for variant in pixelate(encode(src, "PNG"), settings).variants:
        out = decode(variant.data).convert("RGBA")
        area = np.asarray(out.crop((30, 20, 80, 60)))
        assert (area == (0, 0, 0, 255)).all()
        mask = outside_mask(src.size, [box])
        assert np.array_equal(np.asarray(out)[mask], np.asarray(src)[mask])


def test_overlapping_areas_are_each_hidden() -> None:
    src = photo_like(200, 200, seed=10)
    boxes = [(20, 20, 100, 100), (70, 70, 100, 100)]
    out = decode(
        pixelate(encode(src, "PNG"), EngineSettings(sizes=(4,), regions=boxes)).variants[0].data
    )
    rgb = out.convert("RGB")
    # 4 x 4 blocks in each area (the first shows some of the second's where they overlap)
    assert len(rgb.crop((70, 70, 170, 170)).getcolors(100_000) or []) <= 16
    assert len(rgb.crop((20, 20, 120, 120)).getcolors(100_000) or []) <= 32
    mask = outside_mask(src.size, boxes)
    assert np.array_equal(as_array(out)[mask], as_array(src)[mask])


def test_region_partly_outside_is_clipped_and_wholly_outside_refused() -> None:
    src = photo_like(100, 80, seed=11)
    data = encode(src, "PNG")
    result = pixelate(data, EngineSettings(sizes=(4,), regions=((80, 60, 50, 50),)))
    assert [a.box for a in result.areas] == [(80, 60, 20, 20)]
    with pytest.raises(AreaError, match=r"region 100,10,5,5 lies outside the 100x80 image"):
        pixelate(data, EngineSettings(sizes=(4,), regions=((100, 10, 5, 5),)))


def test_every_frame_of_an_animation_is_hidden() -> None:
    frames = [photo_like(120, 90, seed=s) for s in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=[100] * 3)
    box = (10, 10, 60, 50)
    variant = pixelate(buf.getvalue(), EngineSettings(sizes=(4,), regions=(box,))).variants[0]
    got, _ = read_frames(variant.data)
    assert len(got) == 3
    for frame, source in zip(got, frames, strict=True):
        out = frame.image.convert("RGB")
        expected = original_design(source.crop((10, 10, 70, 60)), 4)
        assert ImageChops.difference(out.crop((10, 10, 70, 60)), expected).getbbox() is None
        mask = outside_mask(source.size, [box])
        assert np.array_equal(as_array(out)[mask], as_array(source)[mask])


def test_every_page_of_a_tiff_is_hidden() -> None:
    pages = [photo_like(100, 100, seed=s) for s in (1, 2)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    settings = EngineSettings(sizes=(2,), regions=((0, 0, 50, 50),), format="tiff")
    got, _ = read_frames(pixelate(buf.getvalue(), settings).variants[0].data)
    assert len(got) == 2
    for frame, page in zip(got, pages, strict=True):
        area = frame.image.convert("RGB").crop((0, 0, 50, 50))
        assert (
            ImageChops.difference(area, original_design(page.crop((0, 0, 50, 50)), 2)).getbbox()
            is None
        )


# --- privacy of what is written ---------------------------------------------------------------


def test_kept_metadata_carries_no_xmp_makernote_or_thumbnail() -> None:
    """With areas hidden, even --keep-metadata writes no XMP (face regions, names), no
    MakerNote (makers keep previews and face boxes there) and no EXIF thumbnail."""
    src = photo_like(200, 150, seed=12)
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    # Camera makers keep preview JPEGs and face boxes in the MakerNote.
    thumb = encode(src.resize((40, 30)), "JPEG")
    exif.get_ifd(0x8769)[0x927C] = b"MAKERNOTE-FACE-BOXES" + thumb
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><mwg-rs:Regions>'
        b"<mwg-rs:Name>Jane Doe</mwg-rs:Name></mwg-rs:Regions></rdf:RDF></x:xmpmeta>"
    )
    data = encode(src, "JPEG", exif=exif.tobytes(), xmp=xmp)
    plain = pixelate(data, EngineSettings(sizes=(8,), keep_metadata=True)).variants[0].data
    assert b"Jane Doe" in plain
    # A whole-image output keeps the rest but never the MakerNote: its preview is the
    # unpixelated picture.
    assert b"MAKERNOTE" not in plain
    assert plain.count(b"\xff\xd8") == 1
    assert decode(plain).getexif()[0x010F] == "Camera maker"
    settings = EngineSettings(sizes=(8,), keep_metadata=True, regions=((10, 10, 50, 50),))
    out = pixelate(data, settings).variants[0].data
    assert b"Jane Doe" not in out
    assert b"mwg-rs" not in out
    assert b"MAKERNOTE" not in out
    assert out.count(b"\xff\xd8") == 1  # one JPEG in the file: no embedded thumbnail
    assert decode(out).getexif()[0x010F] == "Camera maker"  # the rest of EXIF is kept


def test_outputs_kept_with_old_metadata_rules_are_stale() -> None:
    """Outputs written with --keep-metadata before the MakerNote was dropped, or before every
    other copy of the picture was (Photoshop's resources and layers, SubIFDs, XMP thumbnails),
    are made again (their settings digest changes); everyone else's outputs are not."""
    assert "kept_metadata" not in EngineSettings().output_fields()
    kept = EngineSettings(keep_metadata=True).output_fields()
    assert kept["kept_metadata"] == KEPT_METADATA_RULES
    for old in ("no-makernote-2",):  # the names the rules had before
        before = settings_digest_of({**kept, "kept_metadata": old}, "{key}")
        assert settings_digest_of(kept, "{key}") != before


# --- settings -------------------------------------------------------------------------------


def test_parse_regions() -> None:
    assert parse_regions("1,2,3,4; 5, 6, 7, 8;") == ((1, 2, 3, 4), (5, 6, 7, 8))
    assert parse_regions(["1,2,3,4", (5, 6, 7, 8)]) == ((1, 2, 3, 4), (5, 6, 7, 8))
    assert parse_regions((1, 2, 3, 4)) == ((1, 2, 3, 4),)
    assert format_regions(parse_regions("1,2,3,4;5,6,7,8")) == "1,2,3,4;5,6,7,8"
    for bad, message in [
        ("1,2,3", "is not X,Y,W,H"),
        ("1,2,3,4,5", "is not X,Y,W,H"),
        ("a,b,c,d", "is not X,Y,W,H"),
        ("1.5,2,3,4", "is not X,Y,W,H"),
        ("-1,2,3,4", "X, Y >= 0"),
        ("1,2,0,4", "width and height of at least 1"),
    ]:
        with pytest.raises(SettingsError, match=message):
            parse_regions(bad)
    with pytest.raises(SettingsError, match="over the limit of 256"):
        parse_regions(";".join(f"{i},0,1,1" for i in range(300)))


def test_areas_need_full_size_output() -> None:
    for mode in ("grid", "both"):
        with pytest.raises(SettingsError, match=f"output mode {mode} writes grids of the whole"):
            EngineSettings(regions=((0, 0, 1, 1),), output=mode)


def test_area_settings_from_the_environment() -> None:
    env = {
        "PIXELPIPE_REGIONS": "1,2,3,4;5,6,7,8",
        "PIXELPIPE_STYLE": "fill",
        "PIXELPIPE_FACE_PADDING": "0.5",
        "PIXELPIPE_FACE_WORKING_SIZE": "800",
    }
    s = EngineSettings.from_env(env, prefixed_only=True)
    assert s.regions == ((1, 2, 3, 4), (5, 6, 7, 8))
    assert s.style == "fill"
    assert (s.face_padding, s.face_working_size) == (0.5, 800)
    assert s.hides_areas
    with pytest.raises(SettingsError, match=r"face_padding must be 0\.\.2\.0"):
        EngineSettings(face_padding=3)
    with pytest.raises(SettingsError, match="style must be one of pixelate, fill"):
        EngineSettings(style="blur")
    with pytest.raises(SettingsError, match=r"regions: '1,2' is not X,Y,W,H"):
        EngineSettings.from_env({"PIXELPIPE_REGIONS": "1,2"}, prefixed_only=True)


def test_the_placeholder_shows_no_more_than_the_variants() -> None:
    """The placeholder of a redacted image is made from the hidden pixels: a photo whose
    whole frame is filled black has a black placeholder, not the photo's colours."""
    src = photo_like(160, 120, seed=13)
    data = encode(src, "PNG")
    plain = pixelate(data, EngineSettings(sizes=(8,))).placeholder
    hidden = pixelate(data, EngineSettings(sizes=(8,), regions=((0, 0, 160, 120),), style="fill"))
    assert plain is not None
    assert hidden.placeholder is not None
    assert plain.color != "#000000"
    assert hidden.placeholder.color == "#000000"
    # and from the most hidden variant: 1 x 1 blocks give the area's one average colour
    one = pixelate(data, EngineSettings(sizes=(1, 64), regions=((0, 0, 160, 120),)))
    assert one.placeholder is not None
    tiny = decode(base64.b64decode(one.placeholder.data_uri.split(",", 1)[1]))
    assert len(tiny.convert("RGB").getcolors(1000) or []) == 1  # a flat picture
