"""The operations commands, on the local stack's or a self-hosted deployment's buckets and
queues: ``upload``, ``status``, ``backfill``, ``dlq list|redrive``; and ``package`` (the
Lambda zip). The work is ``pixelpipe.ops``' and ``pixelpipe.package``'; clients come from
``aws``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import local
from ..files import expand_inputs
from ..settings import Settings
from . import aws
from .options import (
    build_settings,
    count,
    dlq_options,
    endpoint_option,
    settings_options,
    shown,
    source_bucket_option,
)
from .output import EXIT_OK, EXIT_REJECTED, console, plural

_processed_bucket_option = shown(
    "--processed-bucket",
    local.PROCESSED_BUCKET,
    "Bucket of the variants and manifests.  [env: PIXELPIPE_PROCESSED_BUCKET]",
    envvar="PIXELPIPE_PROCESSED_BUCKET",
)


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@source_bucket_option("Bucket to upload to: the source bucket.  [env: PIXELPIPE_SOURCE_BUCKET]")
@click.option("--prefix", default="", help="Key prefix, e.g. photos/.")
@endpoint_option
def upload(files: tuple[str, ...], bucket: str, prefix: str, endpoint_url: str | None) -> None:
    """Upload FILE... to the source bucket (the pipeline takes it from there)."""
    from .. import ops

    s3, _ = aws.clients(endpoint_url)
    paths = [Path(f) for f in expand_inputs(files)]
    failed = 0
    for r in ops.upload(s3, bucket, paths, prefix=prefix):
        if r.ok:
            click.echo(f"s3://{bucket}/{r.key}  ({r.size} bytes, {r.content_type})")
        else:
            failed += 1
            click.echo(f"{r.path}: {r.reason}", err=True)
    sys.exit(EXIT_REJECTED if failed else EXIT_OK)


@click.command()
@click.option(
    "--queue-url",
    default=None,
    envvar="PIXELPIPE_QUEUE_URL",
    help=f"The event queue.  [env: PIXELPIPE_QUEUE_URL; default: the queue named "
    f"{local.QUEUE_NAME}]",
)
@click.option(
    "--dlq-url",
    default=None,
    help=f"Its dead-letter queue.  [default: the queue's redrive target, or {local.DLQ_NAME}]",
)
@_processed_bucket_option
@endpoint_option
def status(
    queue_url: str | None, dlq_url: str | None, processed_bucket: str, endpoint_url: str | None
) -> None:
    """Messages waiting and in flight, DLQ depth, processed and failed counts."""
    from .. import ops

    s3, sqs = aws.clients(endpoint_url)
    main_url, dlq = aws.queues(sqs, queue_url, dlq_url)
    defaults = Settings(processed_bucket=processed_bucket)
    st = ops.status(
        sqs,
        s3,
        queue_url=main_url,
        dlq_url=dlq,
        processed_bucket=processed_bucket,
        manifest_prefix=defaults.manifest_prefix,
        failure_prefix=defaults.failure_prefix,
    )
    from rich.table import Table

    table = Table(title=f"pixelpipe status ({main_url})", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("messages waiting", str(st.waiting))
    table.add_row("messages in flight", str(st.in_flight))
    table.add_row("messages delayed", str(st.delayed))
    table.add_row("dead-letter queue", "-" if st.dlq is None else str(st.dlq))
    table.add_row("images processed (manifests)", str(st.processed))
    table.add_row("images failed (failure records)", str(st.failed))
    console().print(table)


@click.command()
@source_bucket_option("Source bucket.  [env: PIXELPIPE_SOURCE_BUCKET]")
@click.option("--prefix", default="", help="Only keys under this prefix.")
@_processed_bucket_option
@click.option("--dry-run", is_flag=True, help="Count what would be processed; write nothing.")
@endpoint_option
@settings_options
def backfill(
    bucket: str,
    prefix: str,
    processed_bucket: str,
    dry_run: bool,
    endpoint_url: str | None,
    **flags: Any,
) -> None:
    """Process existing source objects that have no up-to-date manifest.

    Resumable: objects already done are recognised by their manifests and skipped, so an
    interrupted backfill simply runs again.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .. import ops
    from ..pipeline import Pipeline
    from ..storage import Storage

    endpoint = aws.endpoint(endpoint_url)
    s3, _ = aws.clients(endpoint)
    settings = Settings(
        processed_bucket=processed_bucket,
        source_bucket=bucket,
        engine=build_settings(**flags),
        endpoint_url=endpoint,
    )
    pipe = Pipeline(settings, Storage(s3=s3))
    err = console(stderr=True)
    with Progress(
        TextColumn("backfill" + (" (dry run)" if dry_run else "")),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("backfill", total=None)

        def on_item(item: Any) -> None:
            progress.update(task, total=item.total, completed=item.index + 1)

        report = ops.backfill(pipe, bucket, prefix=prefix, dry_run=dry_run, on_progress=on_item)
    for e in report.errors:
        err.print(f"s3://{bucket}/{e.key}: {e.reason}", markup=False, highlight=False)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts.items())) or "nothing"
    click.echo(f"{report.total} objects under s3://{bucket}/{prefix}: {counts}")
    sys.exit(EXIT_OK if not report.errors else EXIT_REJECTED)


@click.group()
def dlq() -> None:
    """Inspect the dead-letter queue, and move its messages back."""


def _found_queues(
    endpoint_url: str | None, queue_url: str | None, dlq_url: str | None
) -> tuple[Any, str, str]:
    """(sqs, main queue, dead-letter queue), or a usage error when there is no DLQ."""
    _, sqs = aws.clients(endpoint_url)
    main_url, dlq_found = aws.queues(sqs, queue_url, dlq_url)
    if dlq_found is None:
        raise click.UsageError("no dead-letter queue found; pass --dlq-url")
    return sqs, main_url, dlq_found


@dlq.command("list")
@dlq_options
@count("--limit", 10, "At most this many messages.")
def dlq_list_cmd(
    queue_url: str | None, dlq_url: str | None, endpoint_url: str | None, limit: int
) -> None:
    """Show what is in the dead-letter queue (messages stay there)."""
    from .. import ops

    sqs, _, dlq_found = _found_queues(endpoint_url, queue_url, dlq_url)
    messages = ops.dlq_list(sqs, dlq_found, limit=limit)
    for m in messages:
        what = m.error or ", ".join(f"s3://{r.bucket}/{r.key}" for r in m.refs) or "(no objects)"
        click.echo(f"{m.message_id}  received {m.receive_count}x  {what}")
    if not messages:
        click.echo(f"the dead-letter queue {dlq_found} is empty: no messages")
    else:
        click.echo(f"{plural(len(messages), 'message')} shown (they stay in {dlq_found})")


@dlq.command("redrive")
@dlq_options
@count("--limit", None, "At most this many.")
def dlq_redrive_cmd(
    queue_url: str | None, dlq_url: str | None, endpoint_url: str | None, limit: int | None
) -> None:
    """Move dead-letter messages back to the main queue, to be processed again."""
    from .. import ops

    sqs, main_url, dlq_found = _found_queues(endpoint_url, queue_url, dlq_url)
    moved = ops.dlq_redrive(sqs, dlq_found, main_url, limit=limit)
    if moved == 0:
        click.echo(f"the dead-letter queue {dlq_found} is empty: nothing to move")
    else:
        click.echo(f"{plural(moved, 'message')} moved back to {main_url}")


@click.command()
@click.option(
    "--arch",
    type=click.Choice(["arm64", "x86_64"]),
    default="arm64",
    show_default=True,
    help="The Lambda function's architecture (the template's Architectures).",
)
@click.option(
    "--python",
    "python_version",
    default="3.13",
    show_default=True,
    help="The Lambda runtime's Python version (the template's Runtime: python3.13).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="dist/pixelpipe-lambda.zip",
    show_default=True,
    help="Where the zip is written.",
)
@click.option(
    "--faces/--no-faces",
    default=False,
    help="Include face detection (onnxruntime, numpy, the CenterFace model); deploy via S3.",
)
def package(arch: str, python_version: str, output: str, faces: bool) -> None:
    """Build the AWS Lambda deployment zip from wheels for Lambda's platform."""
    from ..package import build

    report = build(Path(output), arch=arch, python=python_version, faces=faces)
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    click.echo(
        f"{report.path}: {report.zipped / 2**20:.1f} MiB zipped, "
        f"{report.unzipped / 2**20:.1f} MiB unzipped, {report.files} files "
        f"(python{report.python}, {report.arch}; {versions}); {report.bytecode}; "
        f"pixelpipe {report.source}"
    )
