"""contact.py: the demo's contact sheet decodes, lays out rows and cells, and never chokes."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from pixelpipe.contact import BROKEN, CHECKER, SheetRow, render_sheet

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
ORIENTATION_TAG = 0x0112


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def solid(color: tuple[int, int, int], size: tuple[int, int], fmt: str = "PNG") -> bytes:
    return encode(Image.new("RGB", size, color), fmt)


def sheet(rows: list[SheetRow], thumb: int = 200) -> Image.Image:
    im = Image.open(io.BytesIO(render_sheet(rows, thumb=thumb)))
    assert im.format == "PNG"
    im.load()
    return im.convert("RGB")


def near(
    im: Image.Image, color: tuple[int, int, int], tol: int = 40
) -> tuple[int, int, int, int] | None:
    """Bounding box of the pixels of ``im`` within ``tol`` of ``color`` in every channel."""
    masks = [
        band.point(lambda v, c=c: 255 if abs(v - c) <= tol else 0)
        for band, c in zip(im.split(), color, strict=True)
    ]
    mask = ImageChops.darker(ImageChops.darker(masks[0], masks[1]), masks[2])
    return mask.getbbox()


def size_of(box: tuple[int, int, int, int] | None) -> tuple[int, int]:
    assert box is not None
    return box[2] - box[0], box[3] - box[1]


def test_sheet_is_a_png_with_rows_and_variants() -> None:
    row = SheetRow("a.png", solid(RED, (40, 30)), [("8x8", solid(BLUE, (40, 30)))], "40x30")
    im = sheet([row])
    assert im.width > 0
    assert im.height > 0


def test_width_grows_with_variants_per_row() -> None:
    original = solid(RED, (40, 30))
    widths = [sheet([SheetRow("a", original, [("8x8", original)] * k)]).width for k in (0, 1, 3)]
    assert widths[0] < widths[1] < widths[2]


def test_height_grows_with_rows() -> None:
    row = SheetRow("a", solid(RED, (40, 30)), [("8x8", solid(BLUE, (40, 30)))])
    heights = [sheet([row] * n).height for n in (1, 2, 3)]
    assert heights[0] < heights[1] < heights[2]


def test_red_original_fills_its_box_and_variants_follow_it() -> None:
    red = solid(RED, (120, 80), "JPEG")
    blue = solid(BLUE, (120, 80), "JPEG")
    im = sheet([SheetRow("red.jpg", red, [("8x8", blue)], "120x80")], thumb=90)
    red_box = near(im, RED)
    assert size_of(red_box) == (90, 60)  # fitted into 90x90, aspect ratio kept
    assert red_box is not None
    x, y = (red_box[0] + red_box[2]) // 2, (red_box[1] + red_box[3]) // 2
    pixel = im.getpixel((x, y))
    assert isinstance(pixel, tuple)
    r, g, b = pixel
    assert r > 200
    assert max(g, b) < 60
    assert red_box[0] < 90  # the original comes first, at the left
    blue_box = near(im, BLUE)
    assert size_of(blue_box) == (90, 60)
    assert blue_box is not None
    assert blue_box[0] > red_box[2]
    assert blue_box[1] == red_box[1]


def test_transparency_shows_a_light_checkerboard() -> None:
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 32, 64))  # left half opaque blue, right half clear
    im = sheet([SheetRow("sprite.png", encode(rgba, "PNG"), [])], thumb=64)
    blue = near(im, BLUE, tol=0)
    assert size_of(blue) == (32, 64)
    assert blue is not None
    clear = im.crop((blue[2], blue[1], blue[2] + 32, blue[3]))
    colors = {c for _, c in clear.getcolors() or [] if isinstance(c, tuple)}
    assert colors == set(CHECKER)
    assert all(r == g == b and r > 180 for r, g, b in colors)  # two different light greys


def test_animation_shows_its_first_frame() -> None:
    frames = [Image.new("RGB", (48, 48), c) for c in (GREEN, RED, RED)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    im = sheet([SheetRow("anim.gif", gif, [])], thumb=48)
    assert size_of(near(im, GREEN, tol=0)) == (48, 48)
    assert near(im, RED) is None


def test_exif_orientation_is_applied() -> None:
    upright = Image.new("RGB", (120, 60), RED)
    upright.paste(BLUE, (60, 0, 120, 60))  # red left, blue right
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # a camera's portrait pixels
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    data = encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    im = sheet([SheetRow("rotated.jpg", data, [])], thumb=100)
    red, blue = near(im, RED), near(im, BLUE)
    assert red is not None
    assert blue is not None
    left, top = min(red[0], blue[0]), min(red[1], blue[1])
    right, bottom = max(red[2], blue[2]), max(red[3], blue[3])
    assert right - left > bottom - top  # landscape box, as displayed
    assert red[0] < blue[0]  # and the right way round


def test_tiny_grid_variant_is_enlarged_crisply_to_the_box() -> None:
    grid = Image.new("RGB", (2, 2), BLUE)
    grid.putpixel((1, 0), GREEN)
    grid.putpixel((0, 1), GREEN)
    im = sheet([SheetRow("a", solid(RED, (64, 64)), [("2x2-grid", encode(grid, "PNG"))])], thumb=64)
    box = near(im, BLUE, tol=0)
    assert size_of(box) == (64, 64)
    assert box is not None
    colors = im.crop(box).getcolors()
    assert colors is not None
    assert {c for _, c in colors} == {BLUE, GREEN}  # block edges stay sharp, nothing blended


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not an image at all",
        solid(RED, (64, 64), "PNG")[:60],  # truncated
        solid(RED, (64, 64), "JPEG")[:200],
        b"GIF89a" + b"\x00" * 20,
    ],
)
def test_bad_bytes_render_a_grey_box(bad: bytes) -> None:
    rows = [
        SheetRow("bad", bad, [("8x8", bad)], "rejected: corrupt"),
        SheetRow("ok", solid(RED, (40, 40)), []),
    ]
    im = sheet(rows, thumb=80)
    assert size_of(near(im, BROKEN, tol=0))[0] >= 2 * 80  # original and variant boxes
    assert near(im, RED) is not None  # the next row is unaffected


def test_odd_modes_and_shapes_render() -> None:
    deep = Image.linear_gradient("L").convert("I;16")
    images = [
        encode(deep, "PNG"),
        encode(Image.new("CMYK", (30, 20), (0, 255, 255, 0)), "JPEG"),
        encode(Image.new("1", (30, 20), 1), "PNG"),
        encode(Image.new("LA", (30, 20), (128, 100)), "PNG"),
        solid(RED, (1, 1)),
        solid(RED, (400, 1)),
    ]
    rows = [SheetRow(f"row{i}", data, [("same", data)]) for i, data in enumerate(images)]
    assert sheet(rows, thumb=48).height > 6 * 48


def test_long_text_does_not_crash_and_widens_the_sheet() -> None:
    short = sheet([SheetRow("a", solid(RED, (20, 20)), [])])
    long = sheet([SheetRow("a" * 200, solid(RED, (20, 20)), [("x" * 200, b"")], "n" * 100)])
    assert long.width > short.width


def test_output_is_deterministic() -> None:
    rgba = Image.new("RGBA", (50, 40), (0, 128, 0, 90))
    rows = [
        SheetRow("a.jpg", solid(RED, (90, 60), "JPEG"), [("8x8", solid(BLUE, (90, 60)))], "90x60"),
        SheetRow("b.png", encode(rgba, "PNG"), [("16x16", encode(rgba, "PNG"))]),
        SheetRow("c", b"junk", [], "rejected: junk"),
    ]
    assert render_sheet(rows, title="demo") == render_sheet(rows, title="demo")


def test_thumb_must_be_sensible() -> None:
    with pytest.raises(ValueError, match="thumb"):
        render_sheet([], thumb=8)


def test_empty_sheet_is_just_the_header() -> None:
    im = sheet([])
    assert im.height < 100
