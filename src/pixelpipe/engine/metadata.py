"""Metadata carried into the outputs: nothing by default but the ICC profile; with
``keep_metadata``, EXIF without orientation and file-layout tags, XMP, comments
(whole-image outputs), or only an allow-list of EXIF tags (outputs with hidden areas)."""

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
# Never copied, even to a whole-image output with keep_metadata: camera makers keep preview
# JPEGs of the picture in the MakerNote (Canon, Nikon, Olympus, ...), an unpixelated copy that
# would undo the pixelation as the EXIF thumbnail (IFD1, never copied either) would.
_MAKER_NOTE = 0x927C

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


def kept_metadata(im: Image.Image) -> dict[str, Any]:
    """Metadata to copy when the user asked to keep it: EXIF (GPS included) minus the
    orientation and file-layout tags and the MakerNote (previews of the picture), XMP minus
    orientation, comments."""
    meta: dict[str, Any] = {}
    source = im.getexif()  # Pillow's cached object: read it, never change it
    exif = Image.Exif()
    for tag, value in source.items():
        if tag == ORIENTATION_TAG or tag in _LAYOUT_TAGS:
            continue
        if tag == _EXIF_IFD:
            exif[tag] = {k: v for k, v in source.get_ifd(tag).items() if k != _MAKER_NOTE}
        else:
            exif[tag] = source.get_ifd(tag) if tag in _IFD_POINTERS else value
    if len(exif):
        meta["exif"] = exif.tobytes()
    xmp = im.info.get("xmp")
    if xmp:
        if isinstance(xmp, str):
            xmp = xmp.encode()
        # Orientation has been applied to the pixels: drop XMP's copy of it too.
        xmp = re.sub(rb'\s*tiff:Orientation="?\d"?', b"", xmp)
        xmp = re.sub(rb"<tiff:Orientation>\d</tiff:Orientation>", b"", xmp)
        meta["xmp"] = xmp
    comment = im.info.get("comment")
    if comment:
        meta["comment"] = comment
    return meta


def private_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Kept metadata fit for an image with hidden areas: only EXIF's allow-listed tags
    (Copyright, camera and exposure settings). XMP goes (face regions and names:
    mwg-rs:Regions, MP:RegionInfo, Iptc4xmpExt:PersonInImage), comments go, and every EXIF
    tag not on the list: GPS, names, free text, serial numbers, dates, MakerNote. EXIF's
    thumbnail (IFD1) is never copied (``kept_metadata`` writes IFD0 and its sub-IFDs only)."""
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
