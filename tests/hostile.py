"""The hostile-input corpus (issue #8), generated in memory: nothing is downloaded.

Every case is an object key (the name a user or attacker would give it, extension included),
a builder for its bytes, and what must come out: a specific :class:`~pixelpipe.ImageError`
subclass with a reason matching a pattern, or (for inputs that are in fact valid images)
outputs in a stated format.

``python tests/hostile.py --limit-mib N CASE`` runs ``engine.pixelate`` on one case in *this*
process under ``RLIMIT_AS`` = N MiB and prints one JSON line (outcome, reason, peak RSS, wall
and CPU time). ``tests/test_hostile_inputs.py`` runs it as a subprocess per case, so a case that
ran away would be killed by the limit or the timeout, not take the test session down.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image

# --------------------------------------------------------------------------------------------
# Hand-made PNG


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_ihdr(width: int, height: int, color_type: int = 0, depth: int = 8) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))


def png_gray(width: int, height: int, row: Callable[[int], bytes] | None = None) -> bytes:
    """An honest 8-bit grayscale PNG (every row present), compressed as it is generated, so
    that a 100 MP image costs one row of memory to make."""
    comp = zlib.compressobj(1)
    parts = []
    if row is None:  # all black: compress many rows at a time
        block = bytes(width + 1) * max(1, (1 << 22) // (width + 1))
        rows_per_block = len(block) // (width + 1)
        for y in range(0, height, rows_per_block):
            parts.append(comp.compress(block[: (width + 1) * min(rows_per_block, height - y)]))
    else:
        for y in range(height):
            parts.append(comp.compress(b"\x00" + row(y)))
    parts.append(comp.flush())
    return (
        PNG_SIGNATURE
        + png_ihdr(width, height)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int, color_type: int = 2) -> bytes:
    """IHDR declaring ``width`` x ``height``, and a few bytes of data."""
    return (
        PNG_SIGNATURE
        + png_ihdr(width, height, color_type)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_with_chunk(base: bytes, chunk: bytes) -> bytes:
    """``chunk`` inserted right after IHDR (8 + 25 bytes into any PNG)."""
    return base[:33] + chunk + base[33:]


def small_png(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    im = Image.linear_gradient("L").resize(size).convert(mode)
    return encode(im, "PNG")


def encode(im: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def gradient(size: tuple[int, int] = (96, 64)) -> Image.Image:
    w, h = size
    r = Image.linear_gradient("L").resize((w, h))
    g = r.transpose(Image.Transpose.ROTATE_90).resize((w, h))
    return Image.merge("RGB", (r, g, Image.new("L", (w, h), 128)))


# --------------------------------------------------------------------------------------------
# Hand-made GIF

# LZW data of one pixel at minimum code size 2: clear (4), colour 0 or 1, end (5).
_GIF_PIXEL = (b"\x02\x02\x44\x01\x00", b"\x02\x02\x4c\x01\x00")


def gif_frames(
    count: int, screen: tuple[int, int] = (1, 1), delay: int = 2, *, blink: bool = True
) -> bytes:
    """A GIF89a with a ``screen`` logical screen and ``count`` frames of one pixel each,
    black and white in turn (``blink``: no two frames in a row alike) or all black."""
    sw, sh = screen
    out = [b"GIF89a", struct.pack("<HHBBB", sw, sh, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff"]
    out.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever
    head = b"\x21\xf9\x04\x04" + struct.pack("<H", delay) + b"\x00\x00"  # GCE, disposal 1
    head += b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00"  # image descriptor
    pair = head + _GIF_PIXEL[0] + head + _GIF_PIXEL[1 if blink else 0]
    out.append(pair * (count // 2) + (head + _GIF_PIXEL[0]) * (count % 2))
    out.append(b"\x3b")
    return b"".join(out)


# --------------------------------------------------------------------------------------------
# Other containers


def apng_declaring(num_frames: int) -> bytes:
    """A 1x1 PNG whose acTL claims ``num_frames`` frames; it holds one."""
    actl = png_chunk(b"acTL", struct.pack(">II", num_frames, 0))
    fctl = png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 1, 1, 0, 0, 1, 10, 0, 0))
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
    return PNG_SIGNATURE + png_ihdr(1, 1) + actl + fctl + idat + png_chunk(b"IEND", b"")


def tiff_ifd_loop() -> bytes:
    """A two-page TIFF whose second IFD points back at the first: an endless page chain."""
    data = bytearray(
        encode(gradient((16, 16)), "TIFF", save_all=True, append_images=[gradient((16, 16))])
    )
    (first,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[first : first + 2])
    (second,) = struct.unpack("<I", data[first + 2 + 12 * count : first + 6 + 12 * count])
    (count2,) = struct.unpack("<H", data[second : second + 2])
    end = second + 2 + 12 * count2
    data[end : end + 4] = struct.pack("<I", first)
    return bytes(data)


def jpeg_with_icc(icc_bytes: int) -> bytes:
    """A small JPEG carrying ``icc_bytes`` of ICC 'profile' (garbage) in APP2 chunks."""
    header = bytearray(128)
    header[16:20] = b"RGB "
    header[36:40] = b"acsp"
    icc = bytes(header) + bytes(icc_bytes - 128)
    return encode(gradient(), "JPEG", icc_profile=icc)


def png_with_iccp_bomb() -> bytes:
    """A 1 KiB iCCP chunk that inflates to 64 MiB."""
    comp = zlib.compressobj(9)
    body = comp.compress(bytes(64 << 20)) + comp.flush()
    chunk = png_chunk(b"iCCP", b"icc\x00\x00" + body)
    return png_with_chunk(small_png(), chunk)


def png_with_huge_exif(total: int = 30 << 20) -> bytes:
    """A PNG whose eXIf chunk is ``total`` bytes: an IFD with a GPS pointer and an entry
    claiming a value of almost the whole chunk, with GPS data in it."""
    exif = Image.Exif()
    exif[0x010F] = "PixelCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)
    tiff = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif") else exif.tobytes()
    padding = bytes(total - len(tiff))
    return png_with_chunk(small_png(), png_chunk(b"eXIf", tiff + padding))


def webp_with_huge_icc(icc_bytes: int = 20 << 20) -> bytes:
    header = bytearray(128)
    header[16:20] = b"RGB "
    header[36:40] = b"acsp"
    return encode(gradient(), "WEBP", icc_profile=bytes(header) + bytes(icc_bytes - 128))


def zip_named_png() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("cat.png", small_png())
    return buf.getvalue()


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<image href="file:///etc/passwd"/><rect width="100" height="100" fill="red"/></svg>'
)
HTML = (
    b"<!doctype html><html><head><title>x</title></head><body>"
    b"<script>alert(1)</script><img src=x onerror=alert(1)></body></html>"
)


def truncated(data: bytes, fraction: float = 0.6) -> bytes:
    return data[: int(len(data) * fraction)]


def animated(fmt: str, frames: int = 3) -> bytes:
    images = [gradient().rotate(i * 30) for i in range(frames)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=50)


# --------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class Case:
    name: str
    key: str  # the object key / file name it arrives under
    build: Callable[[], bytes] = field(repr=False)
    error: str | None  # ImageError subclass name, or None: a valid image
    reason: str = ""  # regular expression the one-line reason must match
    out_format: str | None = None  # for valid images: the outputs' format
    heavy: bool = False  # allocates hundreds of MiB: run one at a time
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return _built(self.name)


CASES: tuple[Case, ...] = (
    Case("zero-bytes", "empty.jpg", lambda: b"", "UnsupportedImage", r"^empty file \(0 bytes\)$"),
    Case(
        "text-as-jpg",
        "notes.jpg",
        lambda: b"just some text\n" * 50,
        "UnsupportedImage",
        r"^not a recognised image format$",
    ),
    Case(
        "html-as-jpg",
        "index.jpg",
        lambda: HTML,
        "UnsupportedImage",
        r"^not a recognised image format$",
    ),
    Case(
        "svg-as-png",
        "logo.png",
        lambda: SVG,
        "UnsupportedImage",
        r"^not a recognised image format$",
    ),
    Case(
        "zip-as-png",
        "archive.png",
        zip_named_png,
        "UnsupportedImage",
        r"^not a recognised image format$",
    ),
    Case(
        "truncated-jpeg",
        "cut.jpg",
        lambda: truncated(encode(gradient((320, 240)), "JPEG")),
        "CorruptImage",
        r"^truncated image data",
    ),
    Case(
        "truncated-png",
        "cut.png",
        lambda: truncated(encode(gradient((320, 240)), "PNG")),
        "CorruptImage",
        r"^truncated image data",
    ),
    Case(
        "truncated-gif",
        "cut.gif",
        lambda: truncated(animated("GIF")),
        "CorruptImage",
        r"^truncated image data",
    ),
    Case(
        "truncated-webp",
        "cut.webp",
        lambda: truncated(encode(gradient((320, 240)), "WEBP")),
        "CorruptImage",
        r"^corrupt image data",
    ),
    Case(
        "png-60000x60000",
        "bomb.png",
        lambda: png_header_only(60000, 60000),
        "ImageTooLarge",
        r"^decompression bomb refused: Image size \(3600000000 pixels\)",
    ),
    Case(
        "just-over-100MP",
        "big.png",
        lambda: png_gray(10_000, 10_001),
        "ImageTooLarge",
        r"^image is 10000x10001 = 100\.0 MP, over the 100\.0 MP limit$",
    ),
    Case(
        "exactly-at-the-limit",
        "limit.png",
        lambda: png_gray(2000, 2000),
        None,
        out_format="png",
        settings={"max_pixels": "4M"},
    ),
    Case(
        "just-over-a-configured-limit",
        "over.png",
        lambda: png_gray(2000, 2001),
        "ImageTooLarge",
        r"^image is 2000x2001 = 4\.0 MP, over the 4\.0 MP limit$",
        settings={"max_pixels": "4M"},
    ),
    Case(
        "aspect-1000000x1",
        "wide.png",
        lambda: png_gray(1_000_000, 1, lambda y: bytes(range(256)) * 3906 + bytes(64)),
        None,
        out_format="png",
        heavy=True,
    ),
    Case(
        "aspect-1x1000000",
        "tall.png",
        lambda: png_gray(1, 1_000_000, lambda y: bytes([y % 256])),
        None,
        out_format="png",
    ),
    Case(
        "aspect-1000000x200",
        "wide-bomb.png",
        lambda: png_header_only(1_000_000, 200),
        "ImageTooLarge",
        r"decompression bomb refused|over the 100\.0 MP limit",
    ),
    Case(
        "aspect-1000000x1-as-jpeg",
        "wide-jpeg.png",
        lambda: png_gray(1_000_000, 1),
        "EncodeError",
        r"^1000000x1 is larger than JPEG can store",
        settings={"format": "jpeg"},
    ),
    Case(
        "gif-1000-frames",
        "frames.gif",
        lambda: gif_frames(1000),
        None,
        out_format="gif",
        heavy=True,
    ),
    Case(
        "gif-5001-frames",
        "limit-frames.gif",
        lambda: gif_frames(5001),
        "ImageTooLarge",
        r"^image has more than 5,000 frames, over the 5,000-frame limit",
    ),
    Case(
        "gif-60000-frames",
        "many-frames.gif",
        lambda: gif_frames(60000),
        "ImageTooLarge",
        r"^image has more than 5,000 frames, over the 5,000-frame limit",
    ),
    Case(
        "gif-200-frames-1024-grids",
        "grids.gif",
        lambda: gif_frames(200),
        "ImageTooLarge",
        r"^image is 200 frames \(1x1, \.\.\.\) with their grids = 209\.7 MP",
        settings={"sizes": (1024,)},
    ),
    Case(
        "gif-identical-frames",
        "still.gif",
        lambda: gif_frames(10, blink=False),
        None,
        out_format="gif",
    ),
    Case(
        "gif-65535x65535-screen",
        "screen.gif",
        lambda: gif_frames(1, (65535, 65535)),
        "ImageTooLarge",
        r"^decompression bomb refused: Image size \(4294836225 pixels\)",
    ),
    Case(
        "apng-declaring-2^31-frames",
        "frames.png",
        lambda: apng_declaring(2**31 - 1),
        "ImageTooLarge",
        r"^image has 2,147,483,647 frames, over the 5,000-frame limit",
    ),
    Case("tiff-ifd-loop", "loop.tiff", tiff_ifd_loop, None, out_format="tiff"),
    Case(
        "png-iccp-zlib-bomb",
        "icc.png",
        png_with_iccp_bomb,
        "CorruptImage",
        r"Decompressed data too large",
    ),
    Case("jpeg-8MiB-icc", "icc.jpg", lambda: jpeg_with_icc(8 << 20), None, out_format="jpeg"),
    Case("webp-20MiB-icc", "icc.webp", webp_with_huge_icc, None, out_format="webp"),
    Case("png-30MiB-exif-with-gps", "exif.png", png_with_huge_exif, None, out_format="png"),
    Case("png-named-jpg", "photo.jpg", lambda: encode(gradient(), "PNG"), None, out_format="png"),
    Case(
        "jpeg-named-png", "photo.png", lambda: encode(gradient(), "JPEG"), None, out_format="jpeg"
    ),
    Case("gif-named-webp", "anim.webp", lambda: animated("GIF"), None, out_format="gif"),
)
BY_CASE = {c.name: c for c in CASES}


@cache
def _built(name: str) -> bytes:
    return BY_CASE[name].build()


# --------------------------------------------------------------------------------------------
# Running one case under limits (the subprocess side)


def run_limited(name: str, limit_mib: int) -> dict[str, object]:
    import resource

    from pixelpipe import EngineSettings, ImageError, pixelate

    case = BY_CASE[name]
    data = case.data  # built before the limit: the test's own cost is not the engine's
    settings = EngineSettings(**case.settings)  # type: ignore[arg-type]
    limit = limit_mib << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    t0, c0 = time.perf_counter(), time.process_time()
    out: dict[str, object] = {"case": name, "limit_mib": limit_mib}
    try:
        result = pixelate(data, settings)
    except ImageError as exc:
        out.update(outcome=type(exc).__name__, reason=exc.reason)
    except BaseException as exc:  # anything else is a finding: report it, do not hide it
        out.update(outcome="raw:" + type(exc).__name__, reason=str(exc)[:300])
    else:
        out.update(
            outcome="ok",
            formats=sorted({v.format for v in result.variants}),
            variants=len(result.variants),
            frames=result.variants[0].frames,
            size=[result.source.width, result.source.height],
            bytes_out=sum(len(v.data) for v in result.variants),
            max_variant=max(len(v.data) for v in result.variants),
            icc=max(len(_icc(v.data)) for v in result.variants),
            gps=any(_has_gps(v.data) for v in result.variants),
        )
    out["seconds"] = round(time.perf_counter() - t0, 3)
    out["cpu_seconds"] = round(time.process_time() - c0, 3)
    out["peak_rss_mib"] = _peak_rss_mib()
    out["input_bytes"] = len(data)
    return out


def _peak_rss_mib() -> float:
    """This process's own peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux
    carries it over fork and exec, so a child of a 2 GiB test worker reported 2 GiB however
    little it used itself."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _icc(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return bytes(im.info.get("icc_profile") or b"")


def _has_gps(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as im:
        return bool(im.getexif().get_ifd(0x8825)) or b"GPS" in data


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-mib", type=int, default=1536)
    parser.add_argument("cases", nargs="*", default=[c.name for c in CASES])
    args = parser.parse_args(argv)
    for name in args.cases:
        print(json.dumps(run_limited(name, args.limit_mib)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
