"""Nothing identifying on a redacted output, even with keep_metadata (issue #21, item 4).

Real files carrying every kind of identifying metadata (EXIF IFD0 names and free text, the XP*
tags, the Exif IFD's serial numbers, owner and comment, GPS, dates, MakerNote, a private tag
no list names, XMP, IPTC in a JPEG APP13 and in TIFF's IFD0, JPEG and GIF comments, PNG
tEXt/zTXt/iTXt chunks), pixelated with a region and with the real face detector: every one is
gone from every output format, and Copyright and the camera's technical tags remain.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PIL.TiffImagePlugin import IFDRational

from conftest import decode, encode, photo_like
from face_images import scene
from pixelpipe import EngineSettings, pixelate

EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
MAKE, MODEL, COPYRIGHT = 0x010F, 0x0110, 0x8298
EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH, LENS_MODEL = 0x829A, 0x829D, 0x8827, 0x920A, 0xA434

# Every secret of the fixtures: none may appear in a redacted output, in ASCII or UTF-16.
SECRETS = (
    "SecretImageDescription",
    "SecretArtist",
    "SecretSoftware",
    "SecretHostComputer",
    "SecretDocumentName",
    "SecretXPTitle",
    "SecretXPComment",
    "SecretXPAuthor",
    "SecretXPKeywords",
    "SecretXPSubject",
    "SecretCameraSerial",
    "SecretOwnerName",
    "SecretFutureTag",
    "SecretUserComment",
    "SecretCameraOwner",
    "SecretBodySerial",
    "SecretLensSerial",
    "SecretUniqueID",
    "SecretMakerNote",
    "SecretImageTitle",
    "SecretPhotographer",
    "SecretGPSArea",
    "SecretXMPCreator",
    "SecretIPTCByline",
    "SecretJpegComment",
    "SecretPngText",
    "SecretPngZText",
    "SecretPngIText",
    "SecretGifComment",
    "2019:07:14",  # DateTime, DateTimeOriginal, DateTimeDigitized
    "+02:00",  # OffsetTime*: the time zone, a region of the world
)
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'dc:creator="SecretXMPCreator"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def _iptc() -> bytes:
    """An IPTC-IIM record: By-line (2:80) and Caption (2:120)."""

    def dataset(number: int, value: bytes) -> bytes:
        return b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value)) + value

    return dataset(80, b"SecretIPTCByline") + dataset(120, b"SecretIPTCByline caption")


def _app13() -> bytes:
    """A Photoshop APP13 segment holding the IPTC record (image resource 0x0404)."""
    iptc = _iptc()
    if len(iptc) % 2:
        iptc += b"\x00"
    body = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def _utf16(text: str) -> bytes:
    return text.encode("utf-16le") + b"\x00\x00"


def rich_exif(tiff: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "PixelCam"
    exif[MODEL] = "PC-1"
    exif[COPYRIGHT] = "KeptCopyright Photo Agency"
    exif[0x010E] = "SecretImageDescription"
    exif[0x013B] = "SecretArtist"
    exif[0x0131] = "SecretSoftware"
    exif[0x013C] = "SecretHostComputer"
    exif[0x010D] = "SecretDocumentName"
    exif[0x0132] = "2019:07:14 10:11:12"  # DateTime
    exif[0x9C9B] = _utf16("SecretXPTitle")
    exif[0x9C9C] = _utf16("SecretXPComment")
    exif[0x9C9D] = _utf16("SecretXPAuthor")
    exif[0x9C9E] = _utf16("SecretXPKeywords")
    exif[0x9C9F] = _utf16("SecretXPSubject")
    exif[0xC62F] = "SecretCameraSerial"  # CameraSerialNumber (DNG)
    exif[0xFDE8] = "SecretOwnerName"  # OwnerName as some software writes it
    exif[0xC7A0] = "SecretFutureTag"  # a tag no list names: dropped all the same
    if tiff:  # TIFF keeps XMP and IPTC as IFD0 tags
        exif[700] = XMP
        exif[33723] = _iptc()
    sub = exif.get_ifd(EXIF_IFD)
    sub[EXPOSURE_TIME] = IFDRational(1, 125)
    sub[F_NUMBER] = IFDRational(28, 10)
    sub[ISO] = 200
    sub[FOCAL_LENGTH] = IFDRational(35, 1)
    sub[LENS_MODEL] = "KeptLens 35mm"
    sub[0x9286] = b"ASCII\x00\x00\x00SecretUserComment"
    sub[0xA430] = "SecretCameraOwner"  # CameraOwnerName
    sub[0xA431] = "SecretBodySerial"  # BodySerialNumber
    sub[0xA435] = "SecretLensSerial"  # LensSerialNumber
    sub[0xA420] = "SecretUniqueID"  # ImageUniqueID
    sub[0xA436] = "SecretImageTitle"  # ImageTitle (Exif 3.0)
    sub[0xA437] = "SecretPhotographer"  # Photographer (Exif 3.0)
    sub[0x927C] = b"SecretMakerNote face boxes"
    sub[0x9003] = "2019:07:14 10:11:12"  # DateTimeOriginal
    sub[0x9004] = "2019:07:14 10:11:12"  # DateTimeDigitized
    sub[0x9010] = "+02:00"  # OffsetTime
    sub[0x9011] = "+02:00"  # OffsetTimeOriginal
    sub[0x9214] = (40, 30, 20, 20)  # SubjectArea: where the subject (a face) is
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 12.5)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    gps[0x1C] = b"ASCII\x00\x00\x00SecretGPSArea"  # GPSAreaInformation
    return exif


def rich_file(im: Image.Image, fmt: str) -> bytes:
    """``im`` as ``fmt`` with every kind of metadata that format can carry."""
    kwargs: dict[str, Any] = {"exif": rich_exif(tiff=fmt == "TIFF").tobytes()}
    if fmt in ("JPEG", "WEBP", "AVIF"):
        kwargs["xmp"] = XMP
    if fmt == "JPEG":
        kwargs.update(comment=b"SecretJpegComment", quality=95)
    if fmt == "PNG":
        info = PngInfo()
        info.add_text("Author", "SecretPngText")
        info.add_text("Comment", "SecretPngZText", zip=True)
        info.add_itxt("Description", "SecretPngIText")
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        kwargs["pnginfo"] = info
    if fmt == "WEBP":
        kwargs["lossless"] = True
    if fmt == "GIF":
        kwargs = {"comment": b"SecretGifComment"}
    data = encode(im, fmt, **kwargs)
    if fmt == "JPEG":  # Pillow writes no IPTC: put a Photoshop APP13 right after SOI
        data = data[:2] + _app13() + data[2:]
    return data


SOURCES = ("JPEG", "PNG", "WEBP", "TIFF", "AVIF", "GIF")
OUTPUTS = ("source", "jpeg", "png", "webp", "tiff", "avif", "gif", "bmp")
CARRY_EXIF = frozenset({"jpeg", "png", "webp", "tiff", "avif"})


def assert_nothing_identifying(data: bytes, fmt: str, source_has_exif: bool) -> None:
    for secret in SECRETS:
        for form in (secret.encode(), secret.encode("utf-16le")):
            assert form not in data, f"{secret!r} survived in the {fmt} output"
    for marker in (b"8BIM", b"Photoshop 3.0", b"x:xmpmeta", b"XML:com.adobe.xmp"):
        assert marker not in data, f"XMP or IPTC ({marker!r}) kept in the {fmt} output"
    out = decode(data)
    for key in ("xmp", "comment", "photoshop", "iptc"):
        assert key not in out.info, f"{key} kept in {fmt}: {out.info[key]!r}"
    if fmt == "png":
        for chunk in (b"tEXt", b"zTXt", b"iTXt"):
            assert chunk not in data, f"PNG {chunk!r} chunk kept"
    if fmt == "jpeg":
        assert b"\xff\xfe" not in data.split(b"\xff\xda")[0], "JPEG COM segment kept"
        assert data.count(b"\xff\xd8") == 1, "an embedded thumbnail or preview"
    exif = out.getexif()
    assert GPS_IFD not in exif, "GPS pointer kept"
    assert not dict(exif.get_ifd(GPS_IFD)), "GPS kept"
    assert INTEROP_IFD not in exif.get_ifd(EXIF_IFD)
    if fmt in CARRY_EXIF and source_has_exif:
        # what may stay, stays: Copyright and the camera's technical tags
        assert exif.get(MAKE) == "PixelCam", dict(exif)
        assert exif.get(MODEL) == "PC-1"
        assert exif.get(COPYRIGHT) == "KeptCopyright Photo Agency"
        sub = exif.get_ifd(EXIF_IFD)
        assert float(sub[EXPOSURE_TIME]) == pytest.approx(1 / 125)
        assert float(sub[F_NUMBER]) == pytest.approx(2.8)
        assert sub[ISO] == 200
        assert float(sub[FOCAL_LENGTH]) == 35.0
        assert sub[LENS_MODEL] == "KeptLens 35mm"
        # and nothing else: of the fixture's ~40 tags only the allow-listed ones are left
        assert set(sub) == {EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH, LENS_MODEL}, dict(sub)
        if fmt != "tiff":  # a TIFF's IFD0 also holds its own layout tags
            assert set(exif) == {MAKE, MODEL, COPYRIGHT, EXIF_IFD}, dict(exif)


@pytest.mark.parametrize("src_fmt", SOURCES)
def test_fixture_really_carries_everything(src_fmt: str) -> None:
    """The inputs hold what the outputs must not: else the tests below prove nothing."""
    data = rich_file(photo_like(96, 64, seed=3), src_fmt)
    present = [s for s in SECRETS if s.encode() in data or s.encode("utf-16le") in data]
    im = decode(data)
    if src_fmt == "GIF":
        assert present == ["SecretGifComment"]
        return
    # XMP, IPTC and the text chunks only where the format has them
    expected = set(SECRETS) - {"SecretGifComment", "SecretJpegComment", "SecretIPTCByline"}
    expected -= {"SecretPngText", "SecretPngZText", "SecretPngIText"}
    if src_fmt == "TIFF":
        expected |= {"SecretIPTCByline"}
    if src_fmt == "JPEG":
        expected |= {"SecretJpegComment", "SecretIPTCByline"}
        assert im.info.get("comment") == b"SecretJpegComment"
        assert b"SecretIPTCByline" in im.info["photoshop"][0x0404]
    if src_fmt == "PNG":
        expected |= {"SecretPngText", "SecretPngIText"}
        assert im.text["Comment"] == "SecretPngZText"  # compressed: not in the bytes
    assert expected <= set(present), sorted(expected - set(present))
    exif = im.getexif()
    assert exif.get(0x013B) == "SecretArtist"
    assert exif.get_ifd(GPS_IFD).get(1) == "N"
    assert exif.get_ifd(EXIF_IFD).get(0xA431) == "SecretBodySerial"
    # and a whole-image output with keep_metadata still keeps them (today's behaviour)
    if src_fmt in ("JPEG", "PNG", "WEBP"):
        whole = pixelate(data, EngineSettings(sizes=(4,), keep_metadata=True)).variants[0].data
        assert b"SecretArtist" in whole
        assert decode(whole).getexif().get_ifd(GPS_IFD).get(1) == "N"


@pytest.mark.parametrize("fmt", OUTPUTS)
@pytest.mark.parametrize("src_fmt", SOURCES)
def test_region_output_keeps_nothing_identifying(src_fmt: str, fmt: str) -> None:
    data = rich_file(photo_like(96, 64, seed=3), src_fmt)
    settings = EngineSettings(
        sizes=(4,), format=fmt, keep_metadata=True, regions=((10, 10, 40, 30),)
    )
    (v,) = pixelate(data, settings).variants
    assert_nothing_identifying(v.data, v.format, src_fmt != "GIF")


def test_redacted_output_without_keep_metadata_keeps_nothing() -> None:
    data = rich_file(photo_like(96, 64, seed=3), "JPEG")
    settings = EngineSettings(sizes=(4,), format="jpeg", regions=((10, 10, 40, 30),))
    (v,) = pixelate(data, settings).variants
    assert_nothing_identifying(v.data, "jpeg", False)
    assert not decode(v.data).getexif()
    assert b"KeptCopyright" not in v.data  # the default strips everything but ICC


@pytest.mark.parametrize("src_fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_face_output_keeps_nothing_identifying(src_fmt: str) -> None:
    """The same with faces found by the real detector (nothing stubbed)."""
    sc = scene(96)
    data = rich_file(sc.image, src_fmt)
    settings = EngineSettings(sizes=(8,), faces=True, keep_metadata=True)
    result = pixelate(data, settings)
    assert len([a for a in result.areas if a.source == "face"]) >= len(sc.faces)
    for v in result.variants:
        assert_nothing_identifying(v.data, v.format, True)


def test_cli_faces_keep_metadata_keeps_nothing_identifying(tmp_path: Path) -> None:
    """`pixelpipe pixelate photo.jpg --faces --keep-metadata`, as a user runs it."""
    src = tmp_path / "photo.jpg"
    src.write_bytes(rich_file(scene(96).image, "JPEG"))
    exe = Path(sys.executable).with_name("pixelpipe")
    out = tmp_path / "out"
    cmd = [str(exe), "pixelate", str(src), "-o", str(out), "--faces", "--keep-metadata"]
    proc = subprocess.run(
        [*cmd, "--sizes", "8"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    written = sorted(out.rglob("*.jpg"))
    assert written, list(out.rglob("*"))
    for path in written:
        assert_nothing_identifying(path.read_bytes(), "jpeg", True)
