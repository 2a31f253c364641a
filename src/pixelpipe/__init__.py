"""pixelpipe: event-driven image pixelation.

The public API is small::

    from pixelpipe import EngineSettings, pixelate

    result = pixelate(open("cat.jpg", "rb").read(), EngineSettings(sizes=(8, 16)))
    for v in result.variants:
        open(v.filename("cat.jpg"), "wb").write(v.data)   # pixelated-8x8-cat.jpg, ...

The names are imported on first use, so that ``import pixelpipe.handler`` or
``pixelpipe --version`` do not load what they do not need (Pillow, for one).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .engine import Pixelated, SourceInfo, Variant, pixelate, placeholder_of
    from .errors import (
        CorruptImage,
        EncodeError,
        ImageError,
        ImageTooLarge,
        NotEnoughMemory,
        PixelpipeError,
        SettingsError,
        UnsupportedImage,
    )
    from .placeholder import Placeholder
    from .settings import BlockShape, EngineSettings, Frames, OutputMode

_LAZY = {
    "Pixelated": "engine",
    "SourceInfo": "engine",
    "Variant": "engine",
    "pixelate": "engine",
    "placeholder_of": "engine",
    "Placeholder": "placeholder",
    "CorruptImage": "errors",
    "EncodeError": "errors",
    "ImageError": "errors",
    "ImageTooLarge": "errors",
    "NotEnoughMemory": "errors",
    "PixelpipeError": "errors",
    "SettingsError": "errors",
    "UnsupportedImage": "errors",
    "BlockShape": "settings",
    "EngineSettings": "settings",
    "Frames": "settings",
    "OutputMode": "settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pixelpipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "BlockShape",
    "CorruptImage",
    "EncodeError",
    "EngineSettings",
    "Frames",
    "ImageError",
    "ImageTooLarge",
    "NotEnoughMemory",
    "OutputMode",
    "Pixelated",
    "PixelpipeError",
    "Placeholder",
    "SettingsError",
    "SourceInfo",
    "UnsupportedImage",
    "Variant",
    "__version__",
    "pixelate",
    "placeholder_of",
]
