"""Metadata carried into the outputs: nothing by default but the ICC profile; with
``keep_metadata``, EXIF without orientation and file-layout tags, XMP, comments
(whole-image outputs), or only an allow-list of EXIF tags (outputs with hidden areas).
Neither ever carries a copy of the picture (thumbnails, previews, layers): that would undo
the pixelation."""

from __future__ import annotations

import re
from typing import Any

from PIL import Image

from ..formats import OutputFormat, input_format
from ..settings import EngineSettings
from .orient import ORIENTATION_TAG

# TIFF structure tags: they describe the *source* file's layout (size, strips, compression)
# and must never be copied into another file, where Pillow's TIFF writer would obey them.
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320}
    | {322, 323, 324, 325, 338, 339, 340, 341, 347, 513, 514, 530, 531, 532}
)
_IFD_POINTERS = (0x8769, 0x8825, 0xA005)  # Exif, GPS, Interoperability sub-IFDs
_XMP_TAG = 700  # XMP kept in an IFD0 tag (TIFF files; some EXIF writers)

# Never copied, even to a whole-image output with keep_metadata: tags that hold a copy of the
# picture, an unpixelated one that would undo the pixelation as the EXIF thumbnail (IFD1,
# never copied either) would. Only ``kept_metadata`` decides this (docs/PRIVACY.md's table).
_PICTURE_TAGS = frozenset(
    {
        330,  # SubIFDs: the source's previews and full-size images (raw files, DNG)
        34377,  # Photoshop image resources: a JPEG thumbnail (resource 0x040C) among others
        37724,  # ImageSourceData: Photoshop's layers, the whole picture again
        0x927C,  # MakerNote: camera makers keep preview JPEGs there (Canon, Nikon, Olympus, ...)
        0xC634,  # DNGPrivateData / Sony SR2Private: the maker's data, previews included
        0xC68C,  # OriginalRawFileData: a DNG's whole original raw file
    }
)
# A value holding a picture under any other tag (a maker's private one, a future one), in
# XMP or in a comment is dropped too: an image file's first bytes in it, or base64 text long
# enough to be one (XMP keeps pictures so: xmp:Thumbnails' xmpGImg:image, Google's
# GImage:Data and GDepth:Data). 128 base64 characters are 96 bytes, smaller than any JPEG;
# names, IDs, digests and prose break the run with spaces or punctuation long before.
_PICTURE_SIGNATURES = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"WEBPVP8",  # RIFF ... WEBPVP8 / VP8L / VP8X
    b"II*\x00",  # TIFF, little- and big-endian
    b"MM\x00*",
    b"jP  \r\n\x87\n",  # JPEG 2000
    b"ftypheic",
    b"ftypheix",
    b"ftypmif1",
    b"ftypavif",
)
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{128,}")
# Line breaks inside base64 text (Photoshop wraps xmpGImg:image at 76 characters with &#xA;)
_LINE_BREAKS = re.compile(rb"&#(?:[xX]0*[aAdD9]|0*10|0*13|0*9);|[\r\n]+[ \t]*")

# What a redacted output keeps of EXIF, even with keep_metadata: an allow-list, so that any
# tag not named here (a future one, a maker's private one) is dropped: that fails closed.
# Copyright and the camera and exposure settings stay; names, free text, serial numbers,
# dates, GPS, MakerNote (camera makers store previews and face boxes there) and every
# sub-IFD but Exif's go (docs/PRIVACY.md has the table).
_REDACTED_IFD0 = frozenset(
    {
        0x010F,  # Make
        0x0110,  # Model
        0x011A,  # XResolution
        0x011B,  # YResolution
        0x0128,  # ResolutionUnit
        0x8298,  # Copyright
    }
)
_REDACTED_EXIF_IFD = frozenset(
    {
        0x829A,  # ExposureTime
        0x829D,  # FNumber
        0x8822,  # ExposureProgram
        0x8827,  # ISOSpeedRatings (PhotographicSensitivity)
        0x8830,  # SensitivityType
        0x8831,  # StandardOutputSensitivity
        0x8832,  # RecommendedExposureIndex
        0x8833,  # ISOSpeed
        0x9000,  # ExifVersion
        0x9201,  # ShutterSpeedValue
        0x9202,  # ApertureValue
        0x9203,  # BrightnessValue
        0x9204,  # ExposureBiasValue
        0x9205,  # MaxApertureValue
        0x9207,  # MeteringMode
        0x9208,  # LightSource
        0x9209,  # Flash
        0x920A,  # FocalLength
        0xA001,  # ColorSpace
        0xA20E,  # FocalPlaneXResolution
        0xA20F,  # FocalPlaneYResolution
        0xA210,  # FocalPlaneResolutionUnit
        0xA215,  # ExposureIndex
        0xA217,  # SensingMethod
        0xA401,  # CustomRendered
        0xA402,  # ExposureMode
        0xA403,  # WhiteBalance
        0xA404,  # DigitalZoomRatio
        0xA405,  # FocalLengthIn35mmFilm
        0xA406,  # SceneCaptureType
        0xA407,  # GainControl
        0xA408,  # Contrast
        0xA409,  # Saturation
        0xA40A,  # Sharpness
        0xA432,  # LensSpecification
        0xA433,  # LensMake
        0xA434,  # LensModel
    }
)
_EXIF_IFD = 0x8769


def holds_picture(value: object) -> bool:
    """Whether a metadata value holds a picture: an image file's first bytes, or a run of
    base64 text long enough to be one (line breaks inside it ignored)."""
    if isinstance(value, tuple):
        return any(holds_picture(v) for v in value)
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    if not isinstance(value, bytes | bytearray):
        return False
    data = bytes(value)
    if any(sig in data for sig in _PICTURE_SIGNATURES):
        return True
    return _BASE64_RUN.search(_LINE_BREAKS.sub(b"", data)) is not None


def _kept_xmp(xmp: object) -> bytes | None:
    """An XMP packet to keep: without its orientation (applied to the pixels), or None when it
    holds a picture. The whole packet goes then, not the one property: editing RDF with
    patterns could leave part of the picture or a broken packet, and the packets that carry
    pictures (thumbnails, Google's portrait originals and depth maps) are few."""
    if isinstance(xmp, tuple) and len(xmp) == 1:
        xmp = xmp[0]
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if not isinstance(xmp, bytes) or not xmp or holds_picture(xmp):
        return None
    xmp = re.sub(rb'\s*tiff:Orientation="?\d"?', b"", xmp)
    return re.sub(rb"<tiff:Orientation>\d</tiff:Orientation>", b"", xmp)


def kept_metadata(im: Image.Image) -> dict[str, Any]:
    """Metadata to copy when the user asked to keep it: EXIF (GPS included) minus the
    orientation and file-layout tags, XMP minus orientation, comments; never a copy of the
    picture: no EXIF thumbnail, no tag of ``_PICTURE_TAGS`` (MakerNote, Photoshop's resources
    and layers, SubIFDs' previews), no value, XMP packet or comment that holds a picture."""
    meta: dict[str, Any] = {}
    source = im.getexif()  # Pillow's cached object: read it, never change it
    exif = Image.Exif()
    for tag, value in source.items():
        if tag == ORIENTATION_TAG or tag in _LAYOUT_TAGS or tag in _PICTURE_TAGS:
            continue
        if tag in _IFD_POINTERS:
            exif[tag] = {
                k: v
                for k, v in source.get_ifd(tag).items()
                if k not in _PICTURE_TAGS and not holds_picture(v)
            }
        elif tag == _XMP_TAG:
            if (packet := _kept_xmp(value)) is not None:
                exif[tag] = packet
        elif not holds_picture(value):
            exif[tag] = value
    if len(exif):
        meta["exif"] = exif.tobytes()
    if (xmp := _kept_xmp(im.info.get("xmp"))) is not None:
        meta["xmp"] = xmp
    comment = im.info.get("comment")
    if comment and not holds_picture(comment):
        meta["comment"] = comment
    return meta


def private_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Kept metadata fit for an image with hidden areas: only EXIF's allow-listed tags
    (Copyright, camera and exposure settings). XMP goes (face regions and names:
    mwg-rs:Regions, MP:RegionInfo, Iptc4xmpExt:PersonInImage), comments go, and every EXIF
    tag not on the list: GPS, names, free text, serial numbers, dates, MakerNote, every copy
    of the picture. EXIF's thumbnail (IFD1) is never copied (``kept_metadata`` writes IFD0
    and its sub-IFDs only)."""
    if "exif" not in meta:
        return {}
    source = Image.Exif()
    source.load(meta["exif"])
    exif = Image.Exif()
    for tag, value in source.items():
        if tag in _REDACTED_IFD0:
            exif[tag] = value
    sub = {k: v for k, v in source.get_ifd(_EXIF_IFD).items() if k in _REDACTED_EXIF_IFD}
    if sub:
        exif[_EXIF_IFD] = sub
    return {"exif": exif.tobytes()} if len(exif) else {}


def jpeg_tables(im: Image.Image, fmt: OutputFormat, settings: EngineSettings) -> dict[str, Any]:
    """JPEG in, JPEG out, no quality asked for: re-encode with the source's own quantisation
    tables and sampling, so the pixels kept from the source change as little as a JPEG
    re-encode allows (instead of dropping to quality 75 and 4:2:0)."""
    if settings.quality is not None or not fmt.jpeg_family:
        return {}
    if not input_format(im.format).jpeg_tables:
        return {}
    tables = getattr(im, "quantization", None)
    if not tables or im.mode == "CMYK":
        return {}
    from PIL import JpegImagePlugin

    options: dict[str, Any] = {"qtables": [list(t) for _, t in sorted(tables.items())]}
    sampling = JpegImagePlugin.get_sampling(im)
    if sampling >= 0:
        options["subsampling"] = sampling
    return options
