"""pixelpipe: event-driven image pixelation.

The public API is small::

    from pixelpipe import EngineSettings, pixelate

    result = pixelate(open("cat.jpg", "rb").read(), EngineSettings(sizes=(8, 16)))
    for v in result.variants:
        open(v.filename("cat.jpg"), "wb").write(v.data)   # pixelated-8x8-cat.jpg, ...
"""

__version__ = "0.1.0"

from .engine import Pixelated, SourceInfo, Variant, pixelate, placeholder_of
from .errors import (
    CorruptImage,
    EncodeError,
    ImageError,
    ImageTooLarge,
    PixelpipeError,
    SettingsError,
    UnsupportedImage,
)
from .placeholder import Placeholder
from .settings import BlockShape, EngineSettings, Frames, OutputMode

__all__ = [
    "BlockShape",
    "CorruptImage",
    "EncodeError",
    "EngineSettings",
    "Frames",
    "ImageError",
    "ImageTooLarge",
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
