"""Settings: one typed, immutable object, read from flags or the environment, validated once.

``EngineSettings`` holds everything the engine needs to turn one image into variants. It is
validated in ``__post_init__``; an invalid value raises :class:`~pixelpipe.errors.SettingsError`
with a one-line reason, so a bad configuration fails at start-up, never halfway through a batch.

Environment variables (all optional): each setting's Lambda name (``PIXEL_SIZES``) and its
``PIXELPIPE_`` name (``PIXELPIPE_SIZES``, which wins) are declared once, with its flag and its
docs, in :mod:`pixelpipe.settings_table`; :meth:`EngineSettings.from_env` and
:meth:`Settings.from_env` read them from there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .choices import OUTPUT_FORMATS, BlockShape, Frames, OutputMode, RedactStyle
from .errors import SettingsError
from .face_defaults import DEFAULT_PADDING, DEFAULT_WORKING_SIZE
from .keys import DEFAULT_KEY_TEMPLATE, check_template, render
from .parse import (
    Box,
    as_bool,
    choice,
    format_regions,
    parse_bool,
    parse_int_list,
    parse_quantity,
    parse_regions,
    whole_in,
)
from .settings_table import ENGINE, PIPELINE, Read, env_names

DEFAULT_SIZES: tuple[int, ...] = (8, 16, 32, 48, 64)
# With regions or faces and no sizes given: n blocks across each face (along a region's
# longer side); both anonymise (docs/PRIVACY.md: at most 5 blocks across a face).
DEFAULT_AREA_SIZES: tuple[int, ...] = (3, 5)
# An output anonymises when every face is at most this many blocks across its width and every
# region at most this many along its longer side (docs/PRIVACY.md's evidence).
ANON_FACE_BLOCKS = 5
ANON_REGION_BLOCKS = 8
# What a face's hidden area is: part of the settings digest, so that outputs made with an
# older model of the head are made again.
FACE_AREA_MODEL = "head-ellipse-2"
# What keep_metadata copies; a new name when that changes makes earlier outputs stale (2: no
# MakerNote, whose previews are the unpixelated picture; 3: no copy of the picture anywhere:
# Photoshop's resources and layers, SubIFDs, DNG private data, XMP or values holding one).
KEPT_METADATA_RULES = "no-picture-copies-3"
MAX_GRID = 1024
MAX_BLOCK_PX = 65535
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 100_000_000
MAX_THREADS = 256
# Faces: the head ellipse grows by this many face heights beyond the head model
# (faces.head_ellipse), and faces are detected on a copy whose long side is at most this
# many pixels. Both measured on the test set: face_defaults.py, docs/faces-evidence.md.
# (Settings import nothing of the detector: whether it can run is checked where a command,
# worker or Lambda starts with faces on, and per object by the engine, which fails closed.)
DEFAULT_FACE_PADDING = DEFAULT_PADDING
DEFAULT_FACE_WORKING_SIZE = DEFAULT_WORKING_SIZE
MAX_FACE_PADDING = 2.0
MAX_FACE_MIN_SIZE = 65535
# Fields that change how fast outputs are made, never what they are.
RUNTIME_ONLY: frozenset[str] = frozenset({"threads"})


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Everything the engine needs. Immutable; validated on construction.

    ``sizes`` are grid sizes (n blocks per side; with regions and faces, n blocks across each
    face and along each region's longer side); empty means "not given": ``grid_sizes`` is
    then ``DEFAULT_SIZES``, or ``DEFAULT_AREA_SIZES`` when areas are hidden. ``block_px``,
    when non-empty, replaces them with block sizes in pixels, the way imgproxy and
    Cloudinary define pixelation.
    """

    sizes: tuple[int, ...] = ()
    block_px: tuple[int, ...] = ()
    shape: BlockShape = BlockShape.GRID
    output: OutputMode = OutputMode.FULL
    format: str = "source"
    quality: int | None = None
    keep_metadata: bool = False
    frames: Frames = Frames.ALL
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Extra keyword arguments for the encoder, e.g. {"subsampling": 0}; for experts.
    encoder_options: Mapping[str, Any] = field(default_factory=dict)
    # Threads encoding one image's variants at once; 0 = one per available CPU, fewer when
    # half the memory (Lambda's, the cgroup's or what is free) cannot hold that many
    # full-size encodes. Changes speed only, never the outputs (not in the settings digest).
    threads: int = 0
    # Hide only these areas (x, y, w, h in pixels of the displayed image) and/or the faces
    # found, instead of pixelating the whole image. See areas.py.
    regions: tuple[Box, ...] = ()
    faces: bool = False
    face_padding: float = DEFAULT_FACE_PADDING
    face_working_size: int = DEFAULT_FACE_WORKING_SIZE
    # Smallest face (width in the photo's pixels) detection looks for; 0 = "auto", the long
    # side / 200 (faces.tiles). "auto" is accepted and stored as 0.
    face_min_size: int = 0
    style: RedactStyle = RedactStyle.PIXELATE

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise in place, once
        sizes = _dedupe(parse_int_list(self.sizes, "sizes"))
        block_px = _dedupe(parse_int_list(self.block_px, "block_px"))
        if isinstance(self.sizes, str) and not sizes:  # given, but empty: not "not given"
            raise SettingsError("sizes must name at least one grid size")
        for n in sizes:
            if not 1 <= n <= MAX_GRID:
                raise SettingsError(f"grid size {n} is out of range 1..{MAX_GRID}")
        for p in block_px:
            if not 1 <= p <= MAX_BLOCK_PX:
                raise SettingsError(f"block size {p}px is out of range 1..{MAX_BLOCK_PX}")
        set_(self, "sizes", sizes)
        set_(self, "block_px", block_px)
        set_(self, "shape", choice(BlockShape, self.shape, "shape"))
        set_(self, "output", choice(OutputMode, self.output, "output mode"))
        set_(self, "frames", choice(Frames, self.frames, "frames"))
        fmt = str(self.format).strip().lower()
        fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)
        if fmt not in OUTPUT_FORMATS:
            raise SettingsError(
                f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {self.format!r}"
            )
        from .formats import ensure_writable  # late: formats loads Pillow; --help must not

        if fmt != "source":
            ensure_writable(fmt)
        set_(self, "format", fmt)
        if self.quality is not None:
            set_(self, "quality", whole_in(self.quality, "quality", 1, 100, "1..100"))
        set_(self, "keep_metadata", as_bool(self.keep_metadata, "keep_metadata"))
        set_(self, "max_bytes", parse_quantity(self.max_bytes, "max_bytes"))
        set_(self, "max_pixels", parse_quantity(self.max_pixels, "max_pixels", pixels=True))
        if self.max_bytes < 1:
            raise SettingsError("max_bytes must be positive")
        if self.max_pixels < 1:
            raise SettingsError("max_pixels must be positive")
        if not isinstance(self.encoder_options, Mapping):
            raise SettingsError(
                f"encoder_options must be a mapping, got {type(self.encoder_options).__name__}"
            )
        set_(self, "encoder_options", dict(self.encoder_options))
        limits = f"0 (one per CPU) .. {MAX_THREADS}"
        set_(self, "threads", whole_in(self.threads, "threads", 0, MAX_THREADS, limits))
        self._check_areas()

    def _check_areas(self) -> None:
        set_ = object.__setattr__
        set_(self, "regions", parse_regions(self.regions))
        set_(self, "faces", as_bool(self.faces, "faces"))
        set_(self, "style", choice(RedactStyle, self.style, "style"))
        try:
            padding = float(self.face_padding)
        except (TypeError, ValueError):
            raise SettingsError(
                f"face_padding must be a number, got {self.face_padding!r}"
            ) from None
        if not 0 <= padding <= MAX_FACE_PADDING:
            raise SettingsError(
                f"face_padding must be 0..{MAX_FACE_PADDING} (in face heights), "
                f"got {self.face_padding!r}"
            )
        set_(self, "face_padding", padding)
        working = whole_in(self.face_working_size, "face_working_size", 64, 8192, "64..8192 pixels")
        set_(self, "face_working_size", working)
        set_(self, "face_min_size", _min_face(self.face_min_size))
        if self.hides_areas and self.output is not OutputMode.FULL:
            raise SettingsError(
                f"output mode {self.output.value} writes grids of the whole image, which would "
                "show what regions and faces hide; use output mode full with them"
            )

    @property
    def hides_areas(self) -> bool:
        """Only parts of the image are hidden (regions and/or faces), not the whole."""
        return bool(self.regions) or self.faces

    @property
    def grid_sizes(self) -> tuple[int, ...]:
        """The grid sizes made: as given, else the default for what is hidden."""
        if self.sizes:
            return self.sizes
        return DEFAULT_AREA_SIZES if self.hides_areas else DEFAULT_SIZES

    def output_fields(self) -> dict[str, Any]:
        """The fields that determine the outputs (for digests and manifests): ``sizes`` as
        made (``grid_sizes``), and with faces the head model's name."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in RUNTIME_ONLY}
        fields["sizes"] = self.grid_sizes
        if self.faces:
            fields["face_area"] = FACE_AREA_MODEL
        if self.keep_metadata:
            fields["kept_metadata"] = KEPT_METADATA_RULES
        return fields

    @property
    def uses_block_px(self) -> bool:
        return bool(self.block_px)

    def replace(self, **changes: Any) -> EngineSettings:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        prefixed_only: bool = False,
        **overrides: Any,
    ) -> EngineSettings:
        """Read the engine's environment variables; keyword ``overrides`` (flags) win.

        Each setting has a plain name (``PIXEL_SIZES``, as the Lambda function documents) and a
        ``PIXELPIPE_`` name, which wins. ``prefixed_only`` (the CLI) ignores the plain names,
        so an unrelated ``OUTPUT_FORMAT`` in someone's shell changes nothing.
        """
        values = _read_env(ENGINE_ENV, environ, prefixed_only)
        given = {k: v for k, v in overrides.items() if v is not None}
        _name_bad_variable(cls, values, given, ENGINE_ENV, environ, prefixed_only)
        values.update(given)
        return cls(**values)


def _min_face(value: object) -> int:
    """``face_min_size``: "auto" (or 0) -> 0, else a whole number of pixels."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return 0
    limits = f"auto (or 0) or 1..{MAX_FACE_MIN_SIZE} pixels"
    try:
        return whole_in(value, "face_min_size", 0, MAX_FACE_MIN_SIZE, limits)
    except SettingsError:
        raise SettingsError(f"face_min_size must be {limits}, got {value!r}") from None


# Setting -> (plain variable, PIXELPIPE_ variable), from the table (README's table too).
ENGINE_ENV: Mapping[str, tuple[str, str]] = env_names(ENGINE)
PIPELINE_ENV: Mapping[str, tuple[str, str]] = env_names(PIPELINE)
_READ: Mapping[str, Read] = {s.name: s.read for s in (*ENGINE, *PIPELINE)}


def _name_bad_variable(
    cls: Any,
    values: Mapping[str, Any],
    given: Mapping[str, Any],
    table: Mapping[str, tuple[str, str]],
    environ: Mapping[str, str] | None,
    prefixed_only: bool,
    base: Mapping[str, Any] | None = None,
) -> None:
    """Check each value read from the environment on its own, so that an invalid one is
    reported with the variable's name (``PIXELPIPE_SIZES: ...``); flags given win and are
    not checked here."""
    env = os.environ if environ is None else environ
    for name, value in values.items():
        if name in given:
            continue
        plain, prefixed = table[name]
        var = prefixed if prefixed in env or prefixed_only else plain
        try:
            cls(**{**(base or {}), name: value})  # base first: the variable's value wins
        except SettingsError as exc:
            if var in exc.reason:
                raise
            raise SettingsError(f"{var}: {exc.reason}") from None


def _read_env(
    table: Mapping[str, tuple[str, str]], environ: Mapping[str, str] | None, prefixed_only: bool
) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (plain, prefixed) in table.items():
        var = prefixed if prefixed in env else plain
        if var not in env or (prefixed_only and var == plain):
            continue
        raw = env[var]
        if not raw.strip():
            continue  # set but empty: the default, as for every other setting
        if _READ[name] == "bool":
            values[name] = parse_bool(raw, var)
        elif _READ[name] == "int":
            try:
                values[name] = int(raw)
            except ValueError:
                raise SettingsError(f"{var} must be a whole number, got {raw!r}") from None
        else:
            values[name] = raw.strip()
    return values


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the pipeline needs: buckets, keys, policies, and the engine's settings.

    Validated on construction, so a Lambda function or worker refuses to start with a clear
    one-line error instead of failing on every event.
    """

    processed_bucket: str = ""
    engine: EngineSettings = field(default_factory=EngineSettings)
    source_bucket: str | None = None  # optional; enables the start-up recursion check
    source_prefix: str = ""  # only keys under it are processed (needed when buckets match)
    key_template: str = DEFAULT_KEY_TEMPLATE
    manifest_prefix: str = "_manifests/"
    failure_prefix: str = "_failures/"
    delete_sync: bool = True  # object removed -> its outputs, manifest, failure record too
    cache_control: str = "max-age=86400"
    endpoint_url: str | None = None  # AWS_ENDPOINT_URL, for S3-compatible stores

    def __post_init__(self) -> None:
        if not self.processed_bucket:
            raise SettingsError("PROCESSED_BUCKET is required: the bucket the variants go to")
        if not isinstance(self.engine, EngineSettings):
            raise SettingsError("engine must be an EngineSettings")
        check_template(self.key_template)
        for name in ("manifest_prefix", "failure_prefix"):
            if not getattr(self, name):
                raise SettingsError(f"{name} must not be empty")
        if self.manifest_prefix == self.failure_prefix:
            raise SettingsError("manifest_prefix and failure_prefix must differ")
        self._check_keys_unique()
        if self.source_bucket == self.processed_bucket:
            self._check_same_bucket()

    def _check_keys_unique(self) -> None:
        e = self.engine
        unit, sizes = ("px", e.block_px) if e.block_px else ("x", e.grid_sizes)
        kinds = {"full": ("full",), "grid": ("grid",), "both": ("full", "grid")}[e.output.value]
        seen: dict[str, str] = {}
        for n in sizes:
            for kind in kinds:
                base = f"{n}px" if unit == "px" else f"{n}x{n}"
                label = base if kind == "full" else f"{base}-grid"
                key = render(self.key_template, "photo.jpg", _SampleVariant(n, kind, label))
                if key in seen:
                    raise SettingsError(
                        f"output key template {self.key_template!r} gives {label} and "
                        f"{seen[key]} the same key; use {{label}} (or {{size}} and {{kind}})"
                    )
                seen[key] = label

    def _check_same_bucket(self) -> None:
        """Source and processed bucket are one: only prefixes can keep outputs from
        triggering more processing (an endless loop, billed per invocation)."""
        prefix = self.source_prefix
        if not prefix:
            raise SettingsError(
                f"the processed bucket is the source bucket ({self.processed_bucket}): every "
                "output would trigger processing again; use another bucket, or set "
                "SOURCE_PREFIX and an OUTPUT_KEY_TEMPLATE outside it"
            )
        sample = render(self.key_template, prefix + "photo.jpg", _SampleVariant())
        for what, key in (
            ("outputs", sample),
            ("manifests", self.manifest_prefix),
            ("failure records", self.failure_prefix),
        ):
            if key.startswith(prefix) or prefix.startswith(key):
                raise SettingsError(
                    f"{what} ({key}) would land under SOURCE_PREFIX {prefix!r} of the same "
                    "bucket and be processed again; change OUTPUT_KEY_TEMPLATE or the prefixes"
                )

    def refuses(self, bucket: str, key: str) -> str | None:
        """Why an object must not be processed (the recursion guard), or None."""
        if self.source_prefix and not key.startswith(self.source_prefix):
            return f"outside SOURCE_PREFIX {self.source_prefix!r}"
        if bucket == self.processed_bucket:
            if not self.source_prefix:
                return "object is in the processed bucket (recursion guard)"
            if key.startswith((self.manifest_prefix, self.failure_prefix)):
                return "object is a pixelpipe manifest or failure record"
        return None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the pipeline's and the engine's variables (see README's table)."""
        values = _read_env(PIPELINE_ENV, environ, prefixed_only=False)
        given = {k: v for k, v in overrides.items() if v is not None}
        # Each variable on its own, next to a neutral processed bucket: a conflict between two
        # variables (source == processed, ...) is left to the whole check below.
        base = {"processed_bucket": "pixelpipe-variable-check"}
        _name_bad_variable(cls, values, given, PIPELINE_ENV, environ, False, base)
        values["engine"] = EngineSettings.from_env(environ)
        values.update(given)
        return cls(**values)


@dataclass(frozen=True)
class _SampleVariant:
    size: int = 8
    kind: str = "full"
    label: str = "8x8"
    format: str = "jpeg"
    extension: str = ".jpg"


def _dedupe(values: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(values))


__all__ = [
    "ANON_FACE_BLOCKS",
    "ANON_REGION_BLOCKS",
    "DEFAULT_AREA_SIZES",
    "DEFAULT_SIZES",
    "ENGINE_ENV",
    "OUTPUT_FORMATS",
    "PIPELINE_ENV",
    "BlockShape",
    "EngineSettings",
    "Frames",
    "OutputMode",
    "RedactStyle",
    "Settings",
    "format_regions",
    "parse_bool",
    "parse_int_list",
    "parse_quantity",
    "parse_regions",
]
