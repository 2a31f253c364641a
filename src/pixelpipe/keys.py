"""Object keys: where each output, manifest and failure record of a source object lives.

Output keys come from a template. Placeholders:

==============  ================================================================
``{dir}``       the source key's folder with its trailing ``/`` (``photos/``), or empty
``{name}``      the source file name, its extension replaced when the format changes
``{stem}``      the source file name without its extension
``{ext}``       the output's extension without the dot (``jpg``)
``{key}``       the whole source key
``{size}``      the grid size n (or the block size in pixels with ``--block-px``)
``{label}``     ``8x8``, ``8x8-grid``, ``16px``: size, unit and kind together
``{kind}``      ``full`` or ``grid``
``{format}``    the output format, e.g. ``jpeg``
==============  ================================================================

The default, ``{dir}pixelated-{label}-{name}``, gives the original project's names for the
default settings: ``photos/cat.jpg`` -> ``photos/pixelated-8x8-cat.jpg``.
"""

from __future__ import annotations

import string
from typing import Protocol

from .errors import SettingsError

DEFAULT_KEY_TEMPLATE = "{dir}pixelated-{label}-{name}"
PLACEHOLDERS = frozenset({"dir", "name", "stem", "ext", "key", "size", "label", "kind", "format"})


class Named(Protocol):
    """What naming needs of a variant (``engine.Variant`` has it)."""

    @property
    def size(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def extension(self) -> str: ...


def split_key(key: str) -> tuple[str, str]:
    """``photos/cat.jpg`` -> (``photos/``, ``cat.jpg``)."""
    folder, slash, name = key.rpartition("/")
    return (folder + slash, name)


def output_name(source_name: str, out_format: str, out_extension: str) -> str:
    """``source_name`` with its extension replaced when it does not fit ``out_format``."""
    stem, dot, ext = source_name.rpartition(".")
    if not dot or not stem:
        return source_name + out_extension
    aliases = {
        "jpeg": {"jpg", "jpeg", "jpe", "jfif"},
        "tiff": {"tif", "tiff"},
        "heif": {"heic", "heif"},
    }
    accepted = aliases.get(out_format, {out_extension.lstrip("."), out_format})
    return source_name if ext.lower() in accepted else stem + out_extension


def render(template: str, source_key: str, variant: Named) -> str:
    """The output key of ``variant`` for ``source_key``."""
    folder, name = split_key(source_key)
    out = output_name(name, variant.format, variant.extension)
    stem = name.rpartition(".")[0] or name
    return template.format(
        dir=folder,
        name=out,
        stem=stem,
        ext=out.rpartition(".")[2] if "." in out else "",
        key=source_key,
        size=variant.size,
        label=variant.label,
        kind=variant.kind,
        format=variant.format,
    )


def manifest_key(prefix: str, source_key: str) -> str:
    return f"{prefix}{source_key}.json"


def failure_key(prefix: str, source_key: str) -> str:
    return f"{prefix}{source_key}.json"


def check_template(template: str) -> None:
    """SettingsError unless ``template`` uses only known placeholders and names the source."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise SettingsError(f"output key template {template!r} is malformed: {exc}") from None
    unknown = {f for f in fields if f not in PLACEHOLDERS}
    if unknown:
        raise SettingsError(
            f"output key template {template!r} has unknown placeholder(s) "
            f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(PLACEHOLDERS))}"
        )
    if not fields & {"name", "stem", "key"}:
        raise SettingsError(
            f"output key template {template!r} must contain {{name}}, {{stem}} or {{key}}, "
            "or every source would write the same keys"
        )


def local_path(root: str, key: str) -> str:
    """Where object ``key`` goes under folder ``root``, refusing anything that would land
    outside it (``..`` segments, absolute keys, empty segments are not followed; backslashes
    count as separators; a NUL byte is refused)."""
    import posixpath

    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or "\x00" in key:
        raise ValueError(f"object key {key!r} cannot be written under {root}")
    return posixpath.join(root, *parts)
