"""Options shared by several commands, and the settings built from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import local
from ..resources import available_cpus
from ..settings import EngineSettings
from ..settings_table import ENGINE, by_name

F = TypeVar("F", bound=Callable[..., Any])


def _stacked(*options: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``options`` in the order listed (the order ``--help`` shows)."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def setting_option(name: str) -> Callable[[F], F]:
    """The option of setting ``name``, as its row in ``settings_table`` declares it."""
    flag = by_name(name).flag
    if flag is None:
        raise LookupError(f"setting {name} has no flag")
    attrs: dict[str, Any] = {"help": flag.help, "metavar": flag.metavar}
    if flag.choices:
        attrs["type"] = click.Choice(flag.choices, case_sensitive=not flag.any_case)
    elif flag.whole is not None:
        attrs["type"] = click.IntRange(*flag.whole)
    elif flag.number is not None:
        attrs["type"] = click.FloatRange(*flag.number)
    if flag.switch:
        attrs["is_flag"] = True
    if flag.switch or "/" in flag.opts:
        attrs["default"] = None  # not given: the variable, else the setting's default, counts
    if flag.repeat:
        attrs["multiple"] = True
    decls = [flag.opts] if flag.param is None else [flag.opts, flag.param]
    return click.option(*decls, **attrs)


# Every engine setting that has a flag, in the table's order (the order --help shows).
settings_options = _stacked(*(setting_option(s.name) for s in ENGINE if s.flag is not None))


def build_settings(**flags: Any) -> EngineSettings:
    """The engine's settings from ``settings_options``' flags over ``PIXELPIPE_*``."""
    from ..errors import SettingsError

    fmt = flags.pop("fmt", None)
    if flags.get("sizes") and flags.get("block_px"):
        raise SettingsError("use either --sizes or --block-px, not both")
    regions = flags.pop("regions", None) or ()
    if regions:
        flags["regions"] = ";".join(regions)
    return EngineSettings.from_env(prefixed_only=True, format=fmt, **flags)


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
