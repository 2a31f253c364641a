"""Exceptions raised by pixelpipe.

Every exception carries a one-line, human-readable ``reason`` that names the cause; ``str(exc)``
is that reason. Callers (the CLI, the pipeline, the workers) print or record it as it is.

    PixelpipeError
    ├── SettingsError          invalid configuration; fix the settings, not the image
    └── ImageError             something about one input image; other images are unaffected
        ├── UnsupportedImage   not an image, or a format/mode pixelpipe does not read
        ├── CorruptImage       recognised, but truncated or damaged
        ├── ImageTooLarge      over the byte, pixel or frame limits
        │   └── NotEnoughMemory  the job would not fit in this process's memory budget
        ├── EncodeError        the variant could not be written in the requested format
        └── AreaError          what was asked to be hidden cannot be hidden: nothing is written
            └── DetectionError faces were asked for and the detector cannot run (fail closed)

All ``ImageError`` subclasses are *permanent*: retrying the same bytes gives the same result.
"""

from __future__ import annotations


class PixelpipeError(Exception):
    """Base class of every error pixelpipe raises on purpose."""

    def __init__(self, reason: str) -> None:
        # One line, always: a multi-line reason would break logs and `PATH: reason` output.
        self.reason = " ".join(str(reason).split()) or type(self).__name__
        super().__init__(self.reason)

    def __str__(self) -> str:
        return self.reason


class SettingsError(PixelpipeError, ValueError):
    """The settings are invalid (bad size list, unknown format, unavailable codec, ...)."""


class ImageError(PixelpipeError):
    """A problem with one input image. Permanent: do not retry."""


class UnsupportedImage(ImageError):
    """The input is not an image pixelpipe can read (unknown format, SVG, ZIP, text, ...)."""


class CorruptImage(ImageError):
    """The input looks like a supported image but cannot be decoded (truncated, damaged)."""


class ImageTooLarge(ImageError):
    """The input exceeds a configured limit (bytes, pixels over all frames)."""


class NotEnoughMemory(ImageTooLarge):
    """The job this input asks for (hiding areas at full resolution) would need more memory
    than the process's budget (the Lambda function's MemorySize, the container's limit, the
    memory available), even on one thread. Refused before decoding, with how much it needs
    and which setting to raise, instead of being killed for running out of memory."""


class EncodeError(ImageError):
    """A variant could not be encoded in the requested output format."""


class AreaError(ImageError):
    """Regions or faces were asked to be hidden and cannot be: malformed region metadata, a
    region outside the image, face detection unavailable or failing. Privacy fails closed:
    no output is written for the image."""


class DetectionError(AreaError):
    """Faces were asked for but the face detector cannot run (missing, broken, failed).

    Permanent, and fail closed: the object gets a failure record and no outputs, never a
    variant that should have been redacted and was not.
    """


def byte_limit_reason(size: int, limit: int) -> str:
    """The one-line reason for an input of ``size`` bytes over a ``limit``-byte limit."""
    return f"input is {_fmt_bytes(size)}, over the {_fmt_bytes(limit)} limit"


def _fmt_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.1f} MiB"


__all__ = [
    "AreaError",
    "CorruptImage",
    "DetectionError",
    "EncodeError",
    "ImageError",
    "ImageTooLarge",
    "NotEnoughMemory",
    "PixelpipeError",
    "SettingsError",
    "UnsupportedImage",
    "byte_limit_reason",
]
