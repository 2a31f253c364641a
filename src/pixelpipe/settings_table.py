"""Every setting declared once: its environment variables, its ``pixelpipe`` flag and its docs.

One :class:`Setting` per field of ``EngineSettings`` (``ENGINE``) and of the deployment's
``Settings`` (``PIPELINE``), except the fields set only from Python (``PYTHON_ONLY``). From
this table come:

* the variables ``EngineSettings.from_env`` / ``Settings.from_env`` read (``env``, the Lambda
  function's name, and ``prefixed``, the ``PIXELPIPE_`` name, which wins; the CLI reads only
  the prefixed one), and how their text is read (``read``);
* the settings flags of ``pixelpipe pixelate`` (and ``up``, ``worker``, ``backfill``, ...),
  built from ``flag`` in ``cli/options.py``;
* README's Configuration table (``markdown_table``; ``python tests/test_settings_table.py``
  rewrites it, and the test fails while it differs).

Adding a setting: a field on the dataclass, a row here, a parameter in deploy/template.yaml
and docs/DEPLOY.md if the Lambda function should offer it; ``tests/test_settings_table.py``
names whatever is missing. No Pillow, no click: ``pixelpipe --help`` imports this.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

from .choices import OUTPUT_FORMATS, BlockShape, Frames, OutputMode, RedactStyle

Read = Literal["text", "int", "bool"]


class Flag(NamedTuple):
    """A setting's command-line option (click's vocabulary, without importing click)."""

    opts: str  # "--sizes", or "--faces/--no-faces" (an on/off pair)
    help: str
    param: str | None = None  # the command's parameter when not the setting's name
    metavar: str | None = None
    choices: tuple[str, ...] = ()  # click.Choice
    any_case: bool = False  # choices match case-insensitively
    whole: tuple[int, int] | None = None  # click.IntRange(low, high)
    number: tuple[float, float] | None = None  # click.FloatRange(low, high)
    repeat: bool = False  # may be given several times (joined with ";")
    switch: bool = False  # a flag without a value, True when given


class Setting(NamedTuple):
    """One setting: the field it fills, its variables, its flag, its line of the docs."""

    name: str  # the field of EngineSettings / Settings
    env: str  # the Lambda function's name (deploy/template.yaml sets it)
    prefixed: str  # the PIXELPIPE_ name: wins over ``env``; the only one the CLI reads
    default: str  # the docs' "default" column (markdown)
    doc: str  # the docs' "meaning" column (markdown)
    read: Read = "text"  # how the variable's text becomes a value (then validated)
    flag: Flag | None = None


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _code(values: tuple[str, ...]) -> str:
    quoted = [f"`{v}`" for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


PIPELINE: tuple[Setting, ...] = (
    Setting(
        "processed_bucket",
        "PROCESSED_BUCKET",
        "PIXELPIPE_PROCESSED_BUCKET",
        "(required)",
        "where variants, manifests and failure records go",
    ),
    Setting(
        "source_bucket",
        "SOURCE_BUCKET",
        "PIXELPIPE_SOURCE_BUCKET",
        "—",
        "optional; lets start-up refuse a source = processed loop",
    ),
    Setting(
        "source_prefix",
        "SOURCE_PREFIX",
        "PIXELPIPE_SOURCE_PREFIX",
        "—",
        "only keys under it are processed (required when the buckets are one)",
    ),
    Setting(
        "key_template",
        "OUTPUT_KEY_TEMPLATE",
        "PIXELPIPE_OUTPUT_KEY_TEMPLATE",
        "`{dir}pixelated-{label}-{name}`",
        "placeholders `{dir} {name} {stem} {ext} {key} {size} {label} {kind} {format}`",
    ),
    Setting(
        "manifest_prefix",
        "MANIFEST_PREFIX",
        "PIXELPIPE_MANIFEST_PREFIX",
        "`_manifests/`",
        "manifests at `{prefix}{key}.json`",
    ),
    Setting(
        "failure_prefix",
        "FAILURE_PREFIX",
        "PIXELPIPE_FAILURE_PREFIX",
        "`_failures/`",
        "failure records at `{prefix}{key}.json`",
    ),
    Setting(
        "delete_sync",
        "DELETE_SYNC",
        "PIXELPIPE_DELETE_SYNC",
        "`true`",
        "object removed -> outputs, manifest and failure record removed",
        read="bool",
    ),
    Setting(
        "cache_control",
        "CACHE_CONTROL",
        "PIXELPIPE_CACHE_CONTROL",
        "`max-age=86400`",
        "`Cache-Control` of every output",
    ),
    Setting(
        "endpoint_url",
        "AWS_ENDPOINT_URL",
        "PIXELPIPE_ENDPOINT_URL",
        "AWS",
        "an S3-compatible endpoint",
    ),
)

ENGINE: tuple[Setting, ...] = (
    Setting(
        "sizes",
        "PIXEL_SIZES",
        "PIXELPIPE_SIZES",
        "`8,16,32,48,64`; `3,5` with regions or faces",
        "grid sizes, 1..1024; with regions and faces n blocks across each face (along a "
        "region's longer side): at most 5 across faces (8 along regions) anonymises",
        flag=Flag(
            "--sizes",
            "Grid sizes, comma-separated, each 1..1024. With --faces/--region: blocks across "
            "each face (along each region's longer side); 5 or fewer anonymise faces. "
            "Default: 8,16,32,48,64; with --faces/--region 3,5.",
            metavar="LIST",
        ),
    ),
    Setting(
        "block_px",
        "BLOCK_PX",
        "PIXELPIPE_BLOCK_PX",
        "—",
        "block sizes in pixels instead of grid sizes",
        flag=Flag(
            "--block-px",
            "Block sizes in pixels instead of grid sizes (e.g. 16 or 8,16).",
            metavar="LIST",
        ),
    ),
    Setting(
        "shape",
        "BLOCK_SHAPE",
        "PIXELPIPE_SHAPE",
        "`grid`",
        _code(_values(BlockShape)),
        flag=Flag(
            "--shape",
            "grid: n x n blocks whatever the aspect ratio (default); "
            "square: n square blocks along the longer side.",
            choices=_values(BlockShape),
        ),
    ),
    Setting(
        "output",
        "OUTPUT_MODE",
        "PIXELPIPE_OUTPUT",
        "`full`",
        _code(_values(OutputMode)),
        flag=Flag(
            "--mode",
            "full: the input's size (default); grid: the tiny n x n image; or both.",
            param="output",
            choices=_values(OutputMode),
        ),
    ),
    Setting(
        "format",
        "OUTPUT_FORMAT",
        "PIXELPIPE_FORMAT",
        "`source`",
        _code(OUTPUT_FORMATS),
        flag=Flag(
            "--format",
            "Output format; source keeps the input's where Pillow writes it, else PNG.",
            param="fmt",
            choices=(*OUTPUT_FORMATS, "jpg"),
            any_case=True,
        ),
    ),
    Setting(
        "quality",
        "OUTPUT_QUALITY",
        "PIXELPIPE_QUALITY",
        "per format",
        "1..100 for lossy formats",
        read="int",
        flag=Flag("--quality", "Quality of lossy formats.", whole=(1, 100)),
    ),
    Setting(
        "keep_metadata",
        "KEEP_METADATA",
        "PIXELPIPE_KEEP_METADATA",
        "`false`",
        "keep EXIF (GPS!), XMP, comments",
        read="bool",
        flag=Flag(
            "--keep-metadata",
            "Keep EXIF (minus orientation and every copy of the picture: thumbnail, "
            "MakerNote, previews), XMP and comments; with regions or faces only Copyright and "
            "camera settings. Default: strip all but ICC.",
            switch=True,
        ),
    ),
    Setting(
        "frames",
        "FRAMES",
        "PIXELPIPE_FRAMES",
        "`all`",
        "`all` or `first` frame of animations",
        flag=Flag(
            "--frames",
            "Animated inputs: pixelate all frames (default) or only the first.",
            choices=_values(Frames),
        ),
    ),
    Setting(
        "max_bytes",
        "MAX_INPUT_BYTES",
        "PIXELPIPE_MAX_BYTES",
        "`50MiB`",
        "larger objects are failed without being read",
        flag=Flag("--max-bytes", "Input size limit.  [default: 50MiB]", metavar="SIZE"),
    ),
    Setting(
        "max_pixels",
        "MAX_PIXELS",
        "PIXELPIPE_MAX_PIXELS",
        "`100M`",
        "pixel limit, all frames counted",
        flag=Flag("--max-pixels", "Pixel limit, all frames counted.  [default: 100M]", metavar="N"),
    ),
    Setting(
        "threads",
        "ENGINE_THREADS",
        "PIXELPIPE_THREADS",
        "`0`",
        "threads encoding one image's variants; `0` = one per CPU, fewer if half the "
        "function's memory cannot hold that many full-size encodes",
        read="int",
        flag=Flag(
            "--threads",
            "Threads encoding one image's variants; 0 = one per CPU.  [default: 0]",
            whole=(0, 256),
        ),
    ),
    Setting(
        "regions",
        "REGIONS",
        "PIXELPIPE_REGIONS",
        "—",
        "hide only these areas, `x,y,w,h;x,y,w,h` (objects add theirs with "
        "`pixelpipe-regions` metadata)",
        flag=Flag(
            "--region",
            "Hide only this area (pixels of the displayed image), not the whole image; "
            "repeatable. Everything else keeps the source's pixels. Without --sizes writes "
            "3x3 and 5x5 outputs (blocks along its longer side), which anonymise; over 8 do not.",
            param="regions",
            metavar="X,Y,W,H",
            repeat=True,
        ),
    ),
    Setting(
        "faces",
        "FACES",
        "PIXELPIPE_FACES",
        "`false`",
        "detect faces and hide them (objects override with `pixelpipe-faces` metadata)",
        read="bool",
        flag=Flag(
            "--faces/--no-faces",
            "Detect faces and hide each (needs the 'faces' extra); combines with --region. "
            "Without --sizes writes 3x3 and 5x5 outputs (3 and 5 blocks across each face), "
            "which anonymise; larger sizes do not.",
        ),
    ),
    Setting(
        "face_padding",
        "FACE_PADDING",
        "PIXELPIPE_FACE_PADDING",
        "`0.03`",
        "how far the hidden head ellipse grows beyond the head model (placed from the face "
        "box and landmarks), in face heights, 0..2",
        flag=Flag(
            "--face-padding",
            "Grow each face's hidden head ellipse by this many face heights beyond the head "
            "model (hair, ears, chin and a turned head's back are in the model).  "
            "[default: 0.03]",
            number=(0, 2),
        ),
    ),
    Setting(
        "face_min_size",
        "FACE_MIN_SIZE",
        "PIXELPIPE_FACE_MIN_SIZE",
        "`auto`",
        "smallest face (width in the photo's pixels) to look for: photos where it is small "
        "next to `FACE_WORKING_SIZE` get detail tiles where faces may be; `auto` (or `0`) = "
        "the long side / 200 (20 px at 12 MP)",
        flag=Flag(
            "--face-min-size",
            "Smallest face to look for, in pixels of the photo (face width); smaller means "
            "closer looks at large photos, at more CPU. auto = long side / 200.  "
            "[default: auto]",
            metavar="PX|auto",
        ),
    ),
    Setting(
        "face_working_size",
        "FACE_WORKING_SIZE",
        "PIXELPIPE_FACE_WORKING_SIZE",
        "`1632`",
        "long side of the copy the first pass looks for faces on (large faces; where the "
        "detail tiles for `FACE_MIN_SIZE` run)",
        read="int",
    ),
    Setting(
        "style",
        "REDACT_STYLE",
        "PIXELPIPE_STYLE",
        "`pixelate`",
        "`pixelate` or `fill` (solid black, one output `pixelated-fill-<name>`) for regions "
        "and faces",
        flag=Flag(
            "--style",
            "How regions and faces are hidden: pixelate (default, at each size; anonymises at "
            "up to 5 blocks across a face, 8 along a region) or fill (solid black: one output, "
            "pixelated-fill-..., always anonymises).",
            choices=_values(RedactStyle),
        ),
    ),
)

# Fields set only from Python: no variable, no flag.
PYTHON_ONLY: frozenset[str] = frozenset({"encoder_options", "engine"})

# Variables the docs list that are read by something else (Powertools), as (name, default, doc).
OTHER_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("POWERTOOLS_METRICS_NAMESPACE", "`pixelpipe`", "CloudWatch namespace of the EMF metrics"),
)


def env_names(table: tuple[Setting, ...]) -> dict[str, tuple[str, str]]:
    """Setting -> (plain variable, ``PIXELPIPE_`` variable)."""
    return {s.name: (s.env, s.prefixed) for s in table}


def by_name(name: str) -> Setting:
    """The row of setting ``name`` (``KeyError`` if there is none)."""
    for s in (*ENGINE, *PIPELINE):
        if s.name == name:
            return s
    raise KeyError(name)


def markdown_table() -> str:
    """README's Configuration table: every variable, its default, its meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in (*PIPELINE[:3], *ENGINE, *PIPELINE[3:]):
        lines.append(f"| `{s.env}` (`{s.prefixed}`) | {s.default} | {s.doc} |")
    lines += [f"| `{name}` | {default} | {doc} |" for name, default, doc in OTHER_VARIABLES]
    return "\n".join(lines) + "\n"
