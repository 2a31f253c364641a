"""Metadata carried into the outputs: nothing by default but the ICC profile; with
``keep_metadata``, EXIF without orientation and file-layout tags, XMP, comments."""

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

# EXIF tags that can hold a picture of the original or where faces were: MakerNote (camera
# makers store previews and face-detection boxes there).
_PRIVATE_EXIF = (0x927C,)


def kept_metadata(im: Image.Image) -> dict[str, Any]:
    """Metadata to copy when the user asked to keep it: EXIF (GPS included) minus the
    orientation and file-layout tags, XMP minus orientation, comments."""
    meta: dict[str, Any] = {}
    source = im.getexif()  # Pillow's cached object: read it, never change it
    exif = Image.Exif()
    for tag, value in source.items():
        if tag == ORIENTATION_TAG or tag in _LAYOUT_TAGS:
            continue
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
    """Kept metadata fit for an image with hidden areas: XMP goes (it carries face regions
    and names: mwg-rs:Regions, MP:RegionInfo, Iptc4xmpExt:PersonInImage); EXIF loses its
    MakerNote. EXIF's thumbnail (IFD1) is never copied (``kept_metadata`` writes IFD0 and
    its sub-IFDs only)."""
    out = {k: v for k, v in meta.items() if k != "xmp"}
    if "exif" in out:
        exif = Image.Exif()
        exif.load(out["exif"])
        sub = exif.get_ifd(0x8769)
        for tag in _PRIVATE_EXIF:
            sub.pop(tag, None)
        out["exif"] = exif.tobytes()
    return out


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
