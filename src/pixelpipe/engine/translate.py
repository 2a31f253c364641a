"""Pillow raises many exception types; none of them leaves the engine raw.

Each becomes an :class:`~pixelpipe.errors.ImageError` with a one-line reason naming the stage
it happened in.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from ..errors import CorruptImage, EncodeError, ImageTooLarge, PixelpipeError, UnsupportedImage


@contextmanager
def translate(stage: str) -> Iterator[None]:
    """Quiet Pillow's warnings and translate its exceptions, in the calling thread."""
    with errors(stage), warnings.catch_warnings():
        # We check our own pixel limit first; Pillow's warning adds nothing.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@contextmanager
def errors(stage: str) -> Iterator[None]:
    """Translate exceptions only: safe in encoding threads (catch_warnings is not)."""
    try:
        yield
    except PixelpipeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"decompression bomb refused: {short(exc)}") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage("not a recognised image format") from exc
    except MemoryError as exc:
        raise ImageTooLarge(f"out of memory while {stage}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        msg = short(exc)
        if stage == "encoding":
            raise EncodeError(f"could not encode: {msg}") from exc
        if "truncated" in msg.lower():
            raise CorruptImage(f"truncated image data ({msg})") from exc
        raise CorruptImage(f"corrupt image data while {stage} ({msg})") from exc
    except Exception as exc:  # a codec bug must still not escape raw
        if stage == "encoding":
            raise EncodeError(f"could not encode: {short(exc)}") from exc
        raise CorruptImage(f"could not process image while {stage}: {short(exc)}") from exc


def short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
