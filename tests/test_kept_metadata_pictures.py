"""No copy of the picture in any output, even with keep_metadata (issue #21, item 4).

A whole-image output with --keep-metadata keeps the user's metadata but never an unpixelated
copy of the picture, which would undo the pixelation: real files carrying a thumbnail or a
preview in every place metadata can hold one (Photoshop image resources in IFD0 and in a JPEG's
APP13, Photoshop's layers in ImageSourceData, SubIFDs, DNG private data and original raw data,
an unknown tag of IFD0 and of the Exif IFD, XMP's xmp:Thumbnails in the packet and in IFD0's
XMP tag, JPEG extended XMP with Google's GImage:Data, the second picture of an MPO), pixelated
whole and with a region, written as every format that carries metadata.
"""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PIL.TiffImagePlugin import IFDRational

from conftest import decode, encode, mad, photo_like, reference
from pixelpipe import EngineSettings, pixelate
from pixelpipe.engine.metadata import holds_picture

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, EXPOSURE_TIME = 0x010F, 0x829A
PICTURE_TAGS = {
    330: "SubIFDs",
    34377: "Photoshop image resources",
    37724: "ImageSourceData",
    0xC634: "DNGPrivateData",
    0xC68C: "OriginalRawFileData",
    0xC7A1: "an unknown IFD0 tag holding a JPEG",
}
UNKNOWN_EXIF_TAG = 0xA4F0  # in the Exif IFD, named by no standard

SRC = photo_like(96, 64, seed=3)
THUMB = encode(SRC.resize((48, 32)), "JPEG", quality=90)  # the unpixelated picture, small
B64 = base64.b64encode(THUMB)


def _irb(resource: int, data: bytes) -> bytes:
    """One Photoshop image resource block."""
    if len(data) % 2:
        data += b"\x00"
    return b"8BIM" + struct.pack(">H", resource) + b"\x00\x00" + struct.pack(">I", len(data)) + data


def _xmp(body: bytes, namespaces: bytes = b"") -> bytes:
    return (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        b'xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/" '
        + namespaces
        + b">"
        + body
        + b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


# Photoshop's way: base64 wrapped at 76 characters with &#xA;
WRAPPED = b"&#xA;".join(B64[i : i + 76] for i in range(0, len(B64), 76))
XMP_THUMBNAIL = _xmp(
    b"<xmp:Rating>3</xmp:Rating><xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="
    b'"Resource"><xmpGImg:format>JPEG</xmpGImg:format><xmpGImg:image>'
    + WRAPPED
    + b"</xmpGImg:image></rdf:li></rdf:Alt></xmp:Thumbnails>"
)
# IFD0's XMP tag, as TIFF files (and a few EXIF writers) keep it: one unwrapped line
XMP_IN_IFD0 = _xmp(b"<xmpGImg:image>" + B64 + b"</xmpGImg:image>")
# A packet without a picture, with what is long in real ones: document IDs, a digest
XMP_CLEAN = _xmp(
    b"<xmp:Rating>4</xmp:Rating><xmp:CreatorTool>KeptXmpTool 1.0</xmp:CreatorTool>"
    b"<xmpMM:DocumentID>xmp.did:0d1a6c1e-3f2b-4c5d-8e9f-0a1b2c3d4e5f</xmpMM:DocumentID>"
    b"<photoshop:DocumentAncestors><rdf:Bag>"
    b"<rdf:li>adobe:docid:photoshop:4c0fa1b2-2a1b-11e9-8b8e-d9c3f4a5b6c7</rdf:li>"
    b"<rdf:li>3B7A1C4E5D6F708192A3B4C5D6E7F801</rdf:li></rdf:Bag></photoshop:DocumentAncestors>"
    b"<tiff:NativeDigest>256,257,258,259,262,274,277,284,530,531,282,283,296,301,318,319,529,"
    b"532,306,270,271,272,305,315,33432;"
    b"9d1c3a0b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b</tiff:NativeDigest>",
    b'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
    b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
    b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/"',
)


def carrier_exif(xmp_tag: bytes) -> Image.Exif:
    """EXIF with a copy of the picture in every tag that can hold one, and what is kept."""
    exif = Image.Exif()
    exif[MAKE] = "PixelCam"
    exif[34377] = _irb(0x040C, b"PSIRTHUMB" + b"\x00" * 19 + THUMB)  # the thumbnail resource
    exif[37724] = b"Adobe Photoshop Document Data Block\x00" + THUMB
    exif[0xC634] = b"Adobe\x00MakN" + THUMB
    exif[0xC68C] = zlib.compress(SRC.tobytes())  # no image signature: dropped by its number
    exif[0xC7A1] = b"UNKNOWNTAG" + THUMB
    exif[330] = 4096  # where the source's previews are
    exif[700] = xmp_tag
    sub = exif.get_ifd(EXIF_IFD)
    sub[EXPOSURE_TIME] = IFDRational(1, 125)
    sub[UNKNOWN_EXIF_TAG] = b"UNKNOWNEXIF" + THUMB
    sub[0x927C] = b"MAKERNOTE" + THUMB
    exif.get_ifd(GPS_IFD)[1] = "N"
    return exif


def _segment(marker: bytes, body: bytes) -> bytes:
    return marker + struct.pack(">H", len(body) + 2) + body


def carrier_file(fmt: str) -> bytes:
    """``SRC`` as ``fmt`` with a copy of the picture wherever ``fmt`` can keep one."""
    exif = carrier_exif(XMP_IN_IFD0).tobytes()
    if fmt == "JPEG":
        data = encode(SRC, "JPEG", exif=exif, xmp=XMP_THUMBNAIL, comment=b"KeptComment")
        app13 = _segment(b"\xff\xed", b"Photoshop 3.0\x00" + _irb(0x040C, b"APP13" + THUMB))
        gimage = _xmp(
            b"<GImage:Mime>image/jpeg</GImage:Mime><GImage:Data>" + B64 + b"</GImage:Data>",
            b'xmlns:GImage="http://ns.google.com/photos/1.0/image/"',
        )
        extended = _segment(
            b"\xff\xe1",
            b"http://ns.adobe.com/xmp/extension/\x00"
            + b"0" * 32
            + struct.pack(">II", len(gimage), 0)
            + gimage,
        )
        return data[:2] + app13 + extended + data[2:]
    if fmt == "PNG":
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP_THUMBNAIL.decode())
        return encode(SRC, "PNG", exif=exif, pnginfo=info)
    if fmt == "WEBP":
        return encode(SRC, "WEBP", exif=exif, xmp=XMP_THUMBNAIL, lossless=True)
    if fmt == "TIFF":  # XMP lives in IFD0's tag 700
        return encode(SRC, "TIFF", exif=carrier_exif(XMP_THUMBNAIL).tobytes())
    assert fmt == "MPO"  # a second, full-size picture, as phones write them
    buf = io.BytesIO()
    SRC.save(buf, "MPO", save_all=True, append_images=[SRC.copy()], exif=exif, quality=95)
    return buf.getvalue()


def copies_of_the_picture(data: bytes, fmt: str) -> list[str]:
    """Every copy of the unpixelated picture in an output file (empty: none)."""
    found = []
    out = decode(data)
    exif = out.getexif()
    found += [f"tag {tag} ({name})" for tag, name in PICTURE_TAGS.items() if tag in exif]
    sub = exif.get_ifd(EXIF_IFD)
    found += [f"Exif IFD tag {t}" for t in (UNKNOWN_EXIF_TAG, 0x927C) if t in sub]
    if 700 in exif and b"xmpGImg" in bytes(exif[700]):
        found.append("XMP with a picture in IFD0's tag 700")
    for marker, what in (
        (THUMB[2:66], "the thumbnail's JPEG bytes"),
        (B64[100:164], "the thumbnail in base64"),
        (b"xmp:Thumbnails", "xmp:Thumbnails"),
        (b"GImage:Data", "GImage:Data"),
        (b"8BIM", "Photoshop image resources"),
    ):
        if marker in data:
            found.append(what)
    if fmt in ("jpeg", "mpo"):  # one JPEG per picture written: none embedded in metadata
        # (0xFF is stuffed in JPEG's entropy-coded data, so the count is exact; raw pixels
        # of TIFF or BMP may hold the three bytes by chance)
        starts, pictures = data.count(b"\xff\xd8\xff"), getattr(out, "n_frames", 1)
        if starts != pictures:
            found.append(f"{starts} JPEG starts for {pictures} pictures")
    return found


SOURCES = ("JPEG", "PNG", "WEBP", "TIFF", "MPO")
OUTPUTS = ("source", "jpeg", "png", "webp", "tiff", "avif")
REGION = ((10, 10, 40, 30),)


@pytest.mark.parametrize("src_fmt", SOURCES)
def test_fixture_carries_copies_of_the_picture(src_fmt: str) -> None:
    """The inputs hold the copies the outputs must not: else the tests below prove nothing."""
    data = carrier_file(src_fmt)
    im = decode(data)
    exif = im.getexif()
    assert set(PICTURE_TAGS) <= set(exif), sorted(set(PICTURE_TAGS) - set(exif))
    assert {UNKNOWN_EXIF_TAG, 0x927C} <= set(exif.get_ifd(EXIF_IFD))
    assert THUMB[2:66] in data
    if src_fmt != "MPO":
        assert b"xmpGImg:image" in im.info["xmp"]  # Pillow reads the packet (or IFD0's XMP)
    if src_fmt == "JPEG":
        assert THUMB[2:66] in im.info["photoshop"][0x040C]
        assert b"GImage:Data" in data
    if src_fmt == "MPO":
        assert im.n_frames == 2


def _assert_pixelated(data: bytes, grid: tuple[int, int]) -> None:
    """Every picture in the output is the pixelated one, the second of an MPO included: far
    closer to the pixelated source than to the source (JPEG's own error is ~5 levels)."""
    out = Image.open(io.BytesIO(data))
    for i in range(getattr(out, "n_frames", 1)):
        out.seek(i)
        frame = out.convert("RGB")
        to_pixelated = mad(frame, reference(SRC, grid), mode="RGB").mean()
        assert to_pixelated < mad(frame, SRC, mode="RGB").mean() / 2, f"picture {i}"


@pytest.mark.parametrize("fmt", OUTPUTS)
@pytest.mark.parametrize("src_fmt", SOURCES)
def test_whole_image_output_keeps_metadata_but_no_copy_of_the_picture(
    src_fmt: str, fmt: str
) -> None:
    data = carrier_file(src_fmt)
    settings = EngineSettings(sizes=(8,), format=fmt, keep_metadata=True)
    (v,) = pixelate(data, settings).variants
    assert copies_of_the_picture(v.data, v.format) == []
    # what the user asked to keep, stays: EXIF, GPS, the tags that hold no picture
    exif = decode(v.data).getexif()
    assert exif.get(MAKE) == "PixelCam", dict(exif)
    assert exif.get_ifd(GPS_IFD).get(1) == "N"
    assert float(exif.get_ifd(EXIF_IFD)[EXPOSURE_TIME]) == pytest.approx(1 / 125)
    if v.format in ("jpeg", "mpo") and src_fmt == "JPEG":
        assert decode(v.data).info.get("comment") == b"KeptComment"
    if v.format in ("jpeg", "mpo", "png"):  # an exact grid on lossless, close on JPEG
        _assert_pixelated(v.data, v.grid)


@pytest.mark.parametrize("fmt", OUTPUTS)
@pytest.mark.parametrize("src_fmt", SOURCES)
def test_redacted_output_keeps_no_copy_of_the_picture(src_fmt: str, fmt: str) -> None:
    """The allow-list of a redacted output leaves none of them either."""
    data = carrier_file(src_fmt)
    settings = EngineSettings(sizes=(8,), format=fmt, keep_metadata=True, regions=REGION)
    (v,) = pixelate(data, settings).variants
    assert copies_of_the_picture(v.data, v.format) == []
    out = decode(v.data)
    assert "xmp" not in out.info
    assert out.getexif().get(MAKE) == "PixelCam"  # the allow-list still keeps the camera


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_xmp_without_a_picture_is_kept_with_one_dropped(fmt: str) -> None:
    """A packet is dropped whole when it holds a picture, kept when it holds none, however
    long its IDs and digests (photoshop:DocumentAncestors names documents, it shows none)."""
    clean = encode(SRC, "JPEG", xmp=XMP_CLEAN)
    settings = EngineSettings(sizes=(8,), format=fmt, keep_metadata=True)
    (v,) = pixelate(clean, settings).variants
    assert decode(v.data).info.get("xmp") == XMP_CLEAN
    with_thumbnail = encode(SRC, "JPEG", xmp=XMP_THUMBNAIL)
    (v,) = pixelate(with_thumbnail, settings).variants
    assert "xmp" not in decode(v.data).info
    assert copies_of_the_picture(v.data, v.format) == []


def test_clean_xmp_in_a_tiff_is_kept_without_orientation() -> None:
    """IFD0's XMP tag is held to the same rule as the packet, orientation included."""
    exif = Image.Exif()
    exif[700] = XMP_CLEAN.replace(
        b"<xmp:Rating>", b"<tiff:Orientation>1</tiff:Orientation><xmp:Rating>"
    )
    data = encode(SRC, "TIFF", exif=exif.tobytes())
    (v,) = pixelate(data, EngineSettings(sizes=(8,), keep_metadata=True)).variants
    kept = decode(v.data).info["xmp"]
    assert b"KeptXmpTool" in kept
    assert b"tiff:Orientation" not in kept


@pytest.mark.parametrize(
    "value",
    [
        THUMB,
        b"prefix " + THUMB,
        B64,
        WRAPPED,
        b"\n".join(B64[i : i + 76] for i in range(0, len(B64), 76)),
        b"\r\n    ".join(B64[i : i + 64] for i in range(0, len(B64), 64)),
        encode(SRC.resize((8, 8)), "PNG"),
        encode(SRC.resize((8, 8)), "WEBP"),
        encode(SRC.resize((8, 8)), "TIFF"),
        B64.decode(),
        (B64,),
    ],
)
def test_holds_picture(value: Any) -> None:
    assert holds_picture(value)


@pytest.mark.parametrize(
    "value",
    [
        XMP_CLEAN,
        "a caption " * 200,
        "https://example.org/a/very/long/path/" * 10,
        "0d1a6c1e3f2b4c5d8e9f0a1b2c3d4e5f" * 3,  # 96 hex digits
        b"ASCII\x00\x00\x00" + b"a user comment with words in it " * 20,
        (1, 2, 3),
        IFDRational(1, 125),
        4096,
    ],
)
def test_holds_no_picture(value: Any) -> None:
    assert not holds_picture(value)


def test_cli_keep_metadata_writes_no_copy_of_the_picture(tmp_path: Path) -> None:
    """`pixelpipe pixelate photo.jpg --keep-metadata`, as a user runs it."""
    src = tmp_path / "photo.jpg"
    src.write_bytes(carrier_file("JPEG"))
    exe = Path(sys.executable).with_name("pixelpipe")
    out = tmp_path / "out"
    cmd = [str(exe), "pixelate", str(src), "-o", str(out), "--keep-metadata", "--sizes", "8"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, check=False, env={**os.environ}
    )
    assert proc.returncode == 0, proc.stderr
    written = sorted(out.rglob("*.jpg"))
    assert written, list(out.rglob("*"))
    for path in written:
        data = path.read_bytes()
        assert copies_of_the_picture(data, "jpeg") == []
        assert decode(data).getexif().get(MAKE) == "PixelCam"
