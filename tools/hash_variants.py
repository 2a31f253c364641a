"""The hashed-variants corpus: one sha256 per variant the engine makes, to prove a refactor
changes no output byte.

Runs :func:`pixelpipe.engine.pixelate` over ``examples/images/*`` and a set of generated
inputs (JPEG, PNG, animated GIF, WebP, multi-page TIFF, RGBA, 16-bit, CMYK, EXIF-rotated; all
small) times a set of settings, and prints (or writes, ``--out FILE``) one JSON object:
``{"<input> | <settings>": {"variants": {label: sha256}, "placeholder": ..., "areas": ...}}``.
Errors are recorded as their one-line message, so a change in what fails shows too.

    PYTHONPATH=$PWD/src python tools/hash_variants.py --out /tmp/before.json
    # ... change the engine ...
    PYTHONPATH=$PWD/src python tools/hash_variants.py --out /tmp/after.json
    cmp /tmp/before.json /tmp/after.json

The hashes depend on Pillow's codecs (and its version): compare runs on one machine, never
against a stored file. Threads are fixed at 1 so that the run is deterministic and cheap.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from pixelpipe.engine import pixelate
from pixelpipe.errors import PixelpipeError
from pixelpipe.settings import EngineSettings

ROOT = Path(__file__).resolve().parent.parent

SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    "both": {"sizes": (4, 16), "output": "both"},
    "grid-only": {"sizes": (8,), "output": "grid"},
    "block-px": {"block_px": (7, 32)},
    "square": {"sizes": (5, 12), "shape": "square"},
    "png": {"sizes": (8,), "format": "png"},
    "webp": {"sizes": (8,), "format": "webp"},
    "gif": {"sizes": (8,), "format": "gif"},
    "first-frame": {"sizes": (8,), "frames": "first"},
    "keep-metadata": {"sizes": (8,), "keep_metadata": True},
    "regions-pixelate": {"sizes": (4, 10), "regions": ((3, 5, 40, 30), (20, 10, 50, 60))},
    "regions-fill": {"regions": ((3, 5, 40, 30),), "style": "fill"},
    "regions-square": {"sizes": (6,), "shape": "square", "regions": ((0, 0, 33, 77),)},
    "regions-block-px": {"block_px": (5, 16), "regions": ((3, 5, 40, 30), (30, 2, 45, 45))},
    "regions-webp-meta": {
        "sizes": (8,),
        "format": "webp",
        "keep_metadata": True,
        "regions": ((1, 1, 20, 20),),
    },
}


def _gradient(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    w, h = size
    im = Image.new("RGB", size)
    im.putdata(
        [((x * 255) // w, (y * 255) // h, ((x + y) * 97) % 256) for y in range(h) for x in range(w)]
    )
    return im if mode == "RGB" else im.convert(mode)


def _save(im: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def generated() -> dict[str, bytes]:
    """Small inputs covering the modes and containers the engine treats differently."""
    base = _gradient((96, 72))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rgba = base.convert("RGBA")
    rgba.putalpha(_gradient((96, 72), "L"))
    frames = [_gradient((64, 48)).rotate(i * 30) for i in range(4)]
    pages = [_gradient((80, 60)), _gradient((40, 90))]
    wide = Image.new("I;16", (70, 50))
    wide.putdata([(x * 900 + y * 300) % 65536 for y in range(50) for x in range(70)])
    return {
        "gen.jpg": _save(base, "JPEG", quality=90),
        "gen-exif6.jpg": _save(base, "JPEG", quality=90, exif=exif.tobytes()),
        "gen.png": _save(base, "PNG"),
        "gen-rgba.png": _save(rgba, "PNG"),
        "gen-16bit.png": _save(wide, "PNG"),
        "gen-p.png": _save(base.convert("P"), "PNG"),
        "gen-anim.gif": _save(
            frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0
        ),
        "gen-anim.webp": _save(
            frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=80, lossless=True
        ),
        "gen.webp": _save(base, "WEBP", quality=80),
        "gen-pages.tiff": _save(pages[0], "TIFF", save_all=True, append_images=pages[1:]),
        "gen-cmyk.jpg": _save(base.convert("CMYK"), "JPEG", quality=90),
        "gen-cmyk.tiff": _save(base.convert("CMYK"), "TIFF"),
    }


def corpus() -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted((ROOT / "examples" / "images").iterdir())}
    return {**files, **generated()}


def run_one(data: bytes, options: dict[str, Any]) -> dict[str, Any]:
    try:
        result = pixelate(data, EngineSettings(threads=1, **options))
    except PixelpipeError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    ph = result.placeholder
    return {
        "variants": {
            f"{v.label}{v.extension} {v.width}x{v.height}x{v.frames}": hashlib.sha256(
                v.data
            ).hexdigest()
            for v in result.variants
        },
        "placeholder": None if ph is None else ph.as_dict(),
        "areas": [[list(a.box), a.source] for a in result.areas],
        "source": [
            result.source.format,
            result.source.mode,
            result.source.width,
            result.source.height,
            result.source.frames,
            result.source.orientation,
        ],
        "decode_scale": result.decode_scale,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    inputs = corpus()
    out = {
        f"{name} | {label}": run_one(data, options)
        for name, data in inputs.items()
        for label, options in SETTINGS.items()
    }
    text = json.dumps(out, indent=1, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        made = sum(len(r.get("variants", {})) for r in out.values())
        print(f"{len(out)} runs, {made} variants -> {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
