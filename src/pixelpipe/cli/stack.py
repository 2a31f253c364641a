"""The stack commands: ``pixelpipe up`` (the local stack and its web page), ``pixelpipe
demo`` (the samples through it) and ``pixelpipe worker`` (self-hosted queue workers)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import local
from .._version import __version__
from ..files import expand_inputs
from ..resources import available_cpus
from ..settings import EngineSettings, Settings
from ..shutdown import stop_event
from . import aws
from .options import build_settings, count, make_out_dir, settings_options, stack_options
from .output import EXIT_OK, EXIT_REJECTED, console, plural

_SAMPLES = Path(__file__).resolve().parents[3] / "examples" / "images"


@click.command()
@stack_options
@count("--workers", None, "Worker processes.  [default: number of cores]", low=0)
@count(
    "--visibility-timeout",
    60,
    "Seconds a received message stays hidden (a crashed worker's comes back after it).",
)
@count(
    "--ui-port",
    None,
    "Port of the web page (on --host); 0 picks a free one.  "
    "[default: 8080, or a free port if 8080 is taken]",
    low=0,
    high=65535,
)
@click.option("--no-ui", is_flag=True, help="Do not serve the web page.")
@settings_options
def up(
    host: str,
    port: int,
    source_bucket: str,
    processed_bucket: str,
    workers: int | None,
    visibility_timeout: int,
    ui_port: int | None,
    no_ui: bool,
    **flags: Any,
) -> None:
    """Run the whole pipeline locally: S3 + SQS endpoint, buckets, queue, workers, and a
    web page to upload images and watch their variants appear.

    Upload with the page or any S3 client; variants appear in the processed bucket. The
    page's uploads are limited to --max-bytes (413 above it). Ctrl-C stops it: workers
    finish the message in hand. Data is kept in memory only.
    """
    web, ui_note = (None, "") if no_ui else _bind_web(host, ui_port)
    stack = local.LocalStack(
        host=host,
        port=port,
        source_bucket=source_bucket,
        processed_bucket=processed_bucket,
        engine=build_settings(**flags),
        visibility_timeout=visibility_timeout,
    )
    try:
        _start_or_exit(stack)
    except BaseException:
        if web is not None:
            web.stop()
        raise
    count = available_cpus() if workers is None else workers
    stack.start_workers(count)
    if web is not None:
        from ..web.server import gallery_for

        web.start(gallery_for(stack))
    from rich.console import Console

    out = Console(soft_wrap=True, highlight=False)
    _print_started(out, stack, count, "" if web is None else f"{web.url}{ui_note}")
    stop = stop_event()
    while not stop.wait(0.5):
        pass
    out.print("stopping: workers finish the message in hand ...")
    if web is not None:
        web.stop()
    stack.stop()
    out.print("stopped")


def _print_started(out: Any, stack: local.LocalStack, workers: int, page: str) -> None:
    """The start-up lines: what runs where, the shell exports, what to try."""
    out.print(f"[bold]pixelpipe {__version__}[/bold] local stack is up")
    if page:
        out.print(f"  web page          {page}")
    out.print(f"  endpoint          {stack.endpoint}   (S3 and SQS)")
    out.print(f"  source bucket     {stack.source_bucket}")
    out.print(f"  processed bucket  {stack.processed_bucket}")
    out.print(f"  queue             {stack.queue_url}  (DLQ {local.DLQ_NAME})")
    out.print(f"  workers           {workers}")
    out.print(f"  hidden            {_hidden_line(stack.engine)}", markup=False)
    out.print("\nPaste into a shell: the AWS CLI and pixelpipe's commands then need no flags")
    for line in shell_exports(stack):
        out.print(f"  {line}", markup=False)
    out.print("Then try:")
    out.print(f"  aws s3 cp photo.jpg s3://{stack.source_bucket}/", markup=False)
    out.print(f"  aws s3 ls s3://{stack.processed_bucket}/", markup=False)
    out.print("  pixelpipe status     (also: pixelpipe worker, backfill, dlq list)", markup=False)
    out.print(f"Back to real AWS: unset {' '.join(EXPORTED)}", markup=False)
    out.print("\nCtrl-C to stop (nothing is kept after that).")


def _hidden_line(engine: EngineSettings) -> str:
    """What every upload gets hidden, and how one upload asks otherwise."""
    from ..areas import META_FACES, META_REGIONS

    parts = ["faces (detector on)"] if engine.faces else []
    if engine.regions:
        parts.append(f"{plural(len(engine.regions), 'region')}")
    if not parts:
        return f"nothing: whole images pixelated (per upload: metadata {META_FACES}=true)"
    return (
        f"{', '.join(parts)}: the rest stays sharp "
        f"(per upload: metadata {META_FACES}=false, {META_REGIONS}=x,y,w,h)"
    )


# What `pixelpipe up` tells a shell: the endpoint (AWS_ENDPOINT_URL, honoured by boto3 and
# the AWS CLI), dummy credentials, a region, and the queue and buckets for the worker and
# the operations commands.
EXPORTED = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "PIXELPIPE_QUEUE_URL",
    "PIXELPIPE_SOURCE_BUCKET",
    "PIXELPIPE_PROCESSED_BUCKET",
)


def shell_exports(stack: local.LocalStack) -> list[str]:
    """``export`` lines (POSIX shells) for using ``stack`` with no flags."""
    import shlex

    values = dict(
        zip(
            EXPORTED,
            (
                stack.endpoint,
                local.LOCAL_KEY,
                local.LOCAL_KEY,
                local.REGION,
                stack.queue_url,
                stack.source_bucket,
                stack.processed_bucket,
            ),
            strict=True,
        )
    )
    pairs = [f"{k}={shlex.quote(v)}" for k, v in values.items()]
    return [
        "export " + " ".join(pairs[:1]),
        "export " + " ".join(pairs[1:4]),
        "export " + " ".join(pairs[4:]),
    ]


def _bind_web(host: str, ui_port: int | None) -> tuple[Any, str]:
    """The web page's server, bound (not serving yet), and a note for the start-up lines.
    The default port, when taken, gives way to a free one; a port asked for does not."""
    from ..web.server import DEFAULT_UI_PORT, WebServer

    try:
        return WebServer(host, DEFAULT_UI_PORT if ui_port is None else ui_port), ""
    except OSError as exc:
        if ui_port is not None:
            raise click.UsageError(
                f"cannot serve the web page on {host}:{ui_port}: {exc.strerror or exc}; "
                "pass another --ui-port, 0 for a free one, or --no-ui"
            ) from None
    try:
        return WebServer(host, 0), f"   (port {DEFAULT_UI_PORT} is in use)"
    except OSError as exc:
        raise click.UsageError(
            f"cannot serve the web page on {host}: {exc.strerror or exc}; pass --no-ui"
        ) from None


def _start_or_exit(stack: local.LocalStack) -> None:
    try:
        stack.start()
    except OSError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@click.option(
    "--queue-url",
    required=True,
    envvar="PIXELPIPE_QUEUE_URL",
    help="The queue receiving S3 notifications.  [env: PIXELPIPE_QUEUE_URL]",
)
@click.option(
    "--processed-bucket",
    required=True,
    envvar="PIXELPIPE_PROCESSED_BUCKET",
    help="Where variants go.  [env: PIXELPIPE_PROCESSED_BUCKET]",
)
@click.option(
    "--source-bucket",
    default=None,
    envvar="PIXELPIPE_SOURCE_BUCKET",
    help="The bucket whose notifications the queue receives; checked at start-up so "
    "that outputs never land where they would be processed again.  "
    "[env: PIXELPIPE_SOURCE_BUCKET]",
)
@click.option(
    "--endpoint-url", default=None, help="S3/SQS endpoint (default: AWS_ENDPOINT_URL, else AWS)."
)
@count("--concurrency", 1, "Messages processed at once by this worker (threads).")
@count("--wait-seconds", 20, "Long-poll wait per receive.", low=0, high=20)
@settings_options
def worker(
    queue_url: str,
    processed_bucket: str,
    source_bucket: str | None,
    endpoint_url: str | None,
    concurrency: int,
    wait_seconds: int,
    **flags: Any,
) -> None:
    """Consume S3 notifications from a queue and process them (self-hosted).

    Run any number of these, on any number of machines, against one queue. A message is
    deleted only after it succeeded; one that keeps failing ends in the queue's DLQ.
    SIGTERM or Ctrl-C: finish the message in hand, then exit 0.
    """
    import logging  # only the commands that log load it

    from ..pipeline import Pipeline
    from ..storage import Storage
    from ..worker import Worker

    settings = Settings(
        processed_bucket=processed_bucket,
        source_bucket=source_bucket,
        engine=build_settings(**flags),
        endpoint_url=aws.endpoint(endpoint_url),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    sqs = aws.worker_sqs(settings.endpoint_url)
    stop = stop_event()
    pipe = Pipeline(settings, Storage(settings.endpoint_url))
    Worker(pipe, sqs, queue_url, concurrency=concurrency, wait_seconds=wait_seconds).run(stop)


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the variants go.",
)
@click.option(
    "--samples",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Folder of images to upload.  [default: the bundled examples/images]",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port of the embedded endpoint.  [default: a free one]",
)
@count("--workers", None, "Worker processes.  [default: up to 2]")
@click.option(
    "--deadline",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for every image.",
)
@settings_options
def demo(
    out_dir: str, samples: str | None, port: int, workers: int | None, deadline: float, **flags: Any
) -> None:
    """The whole pipeline on the bundled samples, locally: upload, wait, download.

    Starts the embedded stack, uploads every sample to the source bucket, waits for each
    manifest (or failure record), downloads the variants to OUT, writes OUT/contact-sheet.png
    and prints a table. Exit 0 only if every image was processed.
    """

    from ..demo import run_demo

    folder = Path(samples) if samples else _SAMPLES
    if not folder.is_dir():
        raise click.UsageError(f"sample folder {folder} not found; pass --samples DIR")
    files = [Path(f) for f in expand_inputs([str(folder)])]
    engine = build_settings(**flags)
    make_out_dir(out_dir)  # after the settings: a run rejected at start-up creates nothing
    ok = run_demo(
        files,
        Path(out_dir),
        engine=engine,
        port=port or local.free_port(),
        workers=workers or min(2, available_cpus()),
        deadline=deadline,
        console=console(),
    )
    sys.exit(EXIT_OK if ok else EXIT_REJECTED)
