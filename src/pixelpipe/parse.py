"""Parsing setting values: whole numbers, lists, sizes with units, booleans, choices and
region boxes, each with a one-line :class:`~pixelpipe.errors.SettingsError` naming the setting
and what was wrong. No I/O; ``settings.py`` builds its objects with these."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

from .errors import SettingsError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "mp": 1000**2,
}


def parse_int_list(value: str | Iterable[int], what: str) -> tuple[int, ...]:
    """Parse ``"8,16, 32"`` (or an iterable of ints) into a tuple of ints."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            raise SettingsError(
                f"{what} must be a comma-separated list of whole numbers, got {value!r}"
            ) from None
    try:
        return tuple(strict_int(v) for v in value)
    except (TypeError, ValueError):
        raise SettingsError(f"{what} must be whole numbers, got {value!r}") from None


def strict_int(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise TypeError(v)
    return int(v)


_PIXEL_UNITS = frozenset({"", "k", "m", "mp", "g"})


def parse_quantity(value: object, what: str, *, pixels: bool = False) -> int:
    """Parse ``50MiB``, ``5MB``, ``100M``, ``100MP``, a whole number or a float like 1.5e6.

    Byte units (``KiB``, ``MB``, ...) are refused for a pixel count (``pixels=True``).
    """
    if isinstance(value, bool):
        raise SettingsError(f"{what} must be a number, got {value!r}")
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SettingsError(f"{what} must be a finite number, got {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise SettingsError(f"{what} must be a number like 50MiB or 100M, got {value!r}")
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE_UNITS or (pixels and unit not in _PIXEL_UNITS):
        example = "100M or 40MP" if pixels else "50MiB or 100M"
        raise SettingsError(f"{what} must be a number like {example}, got {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def parse_bool(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{what} must be true or false, got {value!r}")


# Most areas (regions) one request may name (metadata is at most 2 KiB anyway; a list this long is a
# mistake, and each area costs a crop and two resizes per variant).
MAX_REGIONS = 256
Box = tuple[int, int, int, int]  # x, y, width, height in pixels of the displayed image


def parse_regions(value: object, what: str = "regions") -> tuple[Box, ...]:
    """``"x,y,w,h;x,y,w,h"`` (or a sequence of such strings or 4-tuples) -> boxes.

    Raises :class:`SettingsError` naming ``what`` and the part that is wrong.
    """
    if value is None or value == "":
        return ()
    items: list[object]
    if isinstance(value, str):
        items = [p for p in re.split(r"\s*;\s*", value.strip()) if p]
    elif isinstance(value, Sequence):
        items = list(value)
        if len(items) == 4 and all(isinstance(v, int) for v in items):
            items = [tuple(items)]  # one box given as a flat 4-tuple
    else:
        raise SettingsError(f"{what} must be X,Y,W,H boxes separated by ';', got {value!r}")
    boxes: list[Box] = []
    for item in items:
        if isinstance(item, str):
            parts = [p for p in re.split(r"\s*,\s*", item.strip()) if p != ""]
        elif isinstance(item, Sequence):
            parts = list(item)
        else:
            parts = [item]
        try:
            if len(parts) != 4:
                raise ValueError
            x, y, w, h = (_whole(p) for p in parts)
        except (TypeError, ValueError):
            raise SettingsError(
                f"{what}: {item!r} is not X,Y,W,H (four whole numbers, pixels of the "
                "displayed image)"
            ) from None
        if x < 0 or y < 0 or w < 1 or h < 1:
            raise SettingsError(
                f"{what}: {x},{y},{w},{h} needs X, Y >= 0 and a width and height of at least 1"
            )
        boxes.append((x, y, w, h))
    if len(boxes) > MAX_REGIONS:
        raise SettingsError(f"{what}: {len(boxes)} boxes, over the limit of {MAX_REGIONS}")
    return tuple(dict.fromkeys(boxes))


def _whole(v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise TypeError(v)
    text = str(v).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(v)
    return int(text)


def format_regions(boxes: Sequence[Box]) -> str:
    """The inverse of :func:`parse_regions` (the ``pixelpipe-regions`` metadata value)."""
    return ";".join(",".join(str(v) for v in box) for box in boxes)


def whole_in(value: object, what: str, low: int, high: int, limits: str) -> int:
    """``value`` as a whole number in ``low..high``, or a SettingsError saying ``limits``."""
    try:
        number = strict_int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{what} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{what} must be {limits}, got {number}")
    return number


def as_bool(value: object, what: str) -> bool:
    if isinstance(value, str):  # from a config file: "false" must not mean True
        return parse_bool(value, what)
    if not isinstance(value, bool):
        raise SettingsError(f"{what} must be true or false, got {value!r}")
    return value


def choice(cls: type[StrEnum], value: object, what: str) -> Any:
    try:
        return cls(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in cls)
        raise SettingsError(f"{what} must be one of {choices}, got {value!r}") from None


__all__ = [
    "MAX_REGIONS",
    "Box",
    "as_bool",
    "choice",
    "format_regions",
    "parse_bool",
    "parse_int_list",
    "parse_quantity",
    "parse_regions",
    "strict_int",
    "whole_in",
]
