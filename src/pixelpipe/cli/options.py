"""Options shared by several commands, and the settings built from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import local
from ..resources import available_cpus
from ..settings import OUTPUT_FORMATS, BlockShape, EngineSettings, Frames, OutputMode, RedactStyle

F = TypeVar("F", bound=Callable[..., Any])


def _stacked(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``options`` in the order listed (the order ``--help`` shows)."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


settings_options = _stacked(
    click.option(
        "--sizes",
        metavar="LIST",
        help="Grid sizes, comma-separated, each 1..1024.  [default: 8,16,32,48,64]",
    ),
    click.option(
        "--block-px",
        metavar="LIST",
        help="Block sizes in pixels instead of grid sizes (e.g. 16 or 8,16).",
    ),
    click.option(
        "--shape",
        type=click.Choice([s.value for s in BlockShape]),
        help="grid: n x n blocks whatever the aspect ratio (default); "
        "square: n square blocks along the longer side.",
    ),
    click.option(
        "--mode",
        "output",
        type=click.Choice([m.value for m in OutputMode]),
        help="full: the input's size (default); grid: the tiny n x n image; or both.",
    ),
    click.option(
        "--format",
        "fmt",
        type=click.Choice([*OUTPUT_FORMATS, "jpg"], case_sensitive=False),
        help="Output format; source keeps the input's where Pillow writes it, else PNG.",
    ),
    click.option("--quality", type=click.IntRange(1, 100), help="Quality of lossy formats."),
    click.option(
        "--keep-metadata",
        is_flag=True,
        default=None,
        help="Keep EXIF (minus orientation), XMP and comments. Default: strip all but ICC.",
    ),
    click.option(
        "--frames",
        type=click.Choice([f.value for f in Frames]),
        help="Animated inputs: pixelate all frames (default) or only the first.",
    ),
    click.option("--max-bytes", metavar="SIZE", help="Input size limit.  [default: 50MiB]"),
    click.option(
        "--max-pixels", metavar="N", help="Pixel limit, all frames counted.  [default: 100M]"
    ),
    click.option(
        "--threads",
        type=click.IntRange(0, 256),
        help="Threads encoding one image's variants; 0 = one per CPU.  [default: 0]",
    ),
    click.option(
        "--region",
        "regions",
        metavar="X,Y,W,H",
        multiple=True,
        help="Hide only this area (pixels of the displayed image), not the whole image; "
        "repeatable. Everything else keeps the source's pixels.",
    ),
    click.option(
        "--faces/--no-faces",
        default=None,
        help="Detect faces and hide each (needs the 'faces' extra); combines with --region.",
    ),
    click.option(
        "--face-padding",
        type=click.FloatRange(0, 2),
        help="Grow each face box by this many face heights at the sides (more above, less "
        "below), so hair, ears and chin are hidden too.  [default: 0.9]",
    ),
    click.option(
        "--style",
        type=click.Choice([s.value for s in RedactStyle]),
        help="How regions and faces are hidden: pixelate (default, at each size) or fill "
        "(solid black: nothing of the area survives).",
    ),
)


def build_settings(**flags: Any) -> EngineSettings:
    """The engine's settings from ``settings_options``' flags over ``PIXELPIPE_*``."""
    from ..errors import SettingsError

    fmt = flags.pop("fmt", None)
    if flags.get("sizes") and flags.get("block_px"):
        raise SettingsError("use either --sizes or --block-px, not both")
    regions = flags.pop("regions", None) or ()
    if regions:
        flags["regions"] = ";".join(regions)
    settings = EngineSettings.from_env(prefixed_only=True, format=fmt, **flags)
    require_detector(settings)
    return settings


def require_detector(settings: EngineSettings) -> None:
    """With faces on, a ``SettingsError`` (exit 2, one line: what to install) unless the
    detector can run here: before any file is read or any process started."""
    if settings.faces:
        from ..faces import require

        require()


def jobs_option(what: str) -> Callable[[F], F]:
    """``-j/--jobs``: processes working on files at once (default: the CPUs we may use)."""
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=available_cpus,  # called only when needed: `--help` does not count CPUs
        show_default="number of cores",
        help=what,
    )


def shown(name: str, default: Any, help: str, **attrs: Any) -> Callable[[F], F]:
    """An option whose ``--help`` shows its default."""
    return click.option(name, default=default, show_default=True, help=help, **attrs)


def count(
    name: str, default: int | None, help: str, low: int = 1, high: int | None = None
) -> Callable[[F], F]:
    """A whole-number option from ``low`` to ``high``; ``--help`` shows a default other
    than None."""
    limits = click.IntRange(low, high)
    return click.option(
        name,
        type=limits,
        default=default,
        show_default=True if default is not None else None,
        help=help,
    )


stack_options = _stacked(
    shown(
        "--host",
        local.DEFAULT_HOST,
        "Address the endpoint and the web page bind to; loopback unless you mean it.",
    ),
    shown(
        "--port",
        local.DEFAULT_PORT,
        "Port of the S3 + SQS endpoint.",
        type=click.IntRange(1, 65535),
    ),
    shown(
        "--source-bucket",
        local.SOURCE_BUCKET,
        "Bucket to create for uploads; its notifications feed the queue.",
    ),
    shown(
        "--processed-bucket",
        local.PROCESSED_BUCKET,
        "Bucket to create for the variants, manifests and failure records.",
    ),
)


def source_bucket_option(help: str) -> Callable[[F], F]:
    """``--bucket``: the source bucket (``PIXELPIPE_SOURCE_BUCKET``, else the local one)."""
    return shown("--bucket", local.SOURCE_BUCKET, help, envvar="PIXELPIPE_SOURCE_BUCKET")


endpoint_option = click.option(
    "--endpoint-url",
    default=None,
    help="S3/SQS endpoint, e.g. the local stack's (default: AWS_ENDPOINT_URL, else AWS).",
)

dlq_options = _stacked(
    endpoint_option,
    click.option(
        "--queue-url",
        default=None,
        envvar="PIXELPIPE_QUEUE_URL",
        help=f"The event queue.  [env: PIXELPIPE_QUEUE_URL; default: the queue named "
        f"{local.QUEUE_NAME}]",
    ),
    click.option(
        "--dlq-url",
        default=None,
        help=f"The dead-letter queue.  [default: the queue's redrive target, or {local.DLQ_NAME}]",
    ),
)


def make_out_dir(out_dir: str) -> None:
    """Create the output folder, or stop with a usage error saying why not."""
    if not out_dir:
        raise click.UsageError("the output directory must not be empty")
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(
            f"cannot create output directory {out_dir}: {exc.strerror or exc}"
        ) from None
