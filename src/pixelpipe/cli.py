"""The ``pixelpipe`` command line: a thin adapter over the engine.

Exit codes: 0 every input succeeded; 1 at least one input was rejected (one ``PATH: reason``
line each on stderr); 2 usage or settings error; 70 internal error. No traceback reaches the
user: unexpected exceptions are reported in one line too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Imports are kept to what `--version` and `--help` need: each command imports what it uses
# (Pillow, rich, boto3 ...), so `pixelpipe pixelate` never loads boto3 (docs/PERFORMANCE.md).
from . import __version__, local
from .errors import ImageError, PixelpipeError, SettingsError, byte_limit_reason
from .settings import (
    OUTPUT_FORMATS,
    BlockShape,
    EngineSettings,
    Frames,
    OutputMode,
    RedactStyle,
    Settings,
)

if TYPE_CHECKING:
    from rich.console import Console

    from .areas import Area

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70

_SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"


@dataclass(frozen=True, slots=True)
class FileResult:
    """What happened to one input file."""

    path: str
    ok: bool
    reason: str = ""
    width: int = 0
    height: int = 0
    frames: int = 1
    outputs: tuple[str, ...] = field(default_factory=tuple)
    ms: float = 0.0
    hidden: str = ""  # with --region/--faces: what was hidden, e.g. "2 faces, 1 region"


def process_file(path: str, out_dir: str, settings: EngineSettings) -> FileResult:
    """Pixelate one file into ``out_dir`` (created if missing). Never raises: failures come
    back as a reason."""
    from .engine import pixelate

    t0 = time.perf_counter()
    try:
        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return FileResult(path, False, "is a directory that cannot be listed")
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
                return FileResult(path, False, "not a regular file")
            if st.st_size > settings.max_bytes:
                # The engine's message, without reading the file.
                return FileResult(path, False, byte_limit_reason(st.st_size, settings.max_bytes))
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return FileResult(path, False, "no such file")
        except OSError as exc:
            return FileResult(path, False, f"cannot read: {exc.strerror or exc}")
        result = pixelate(data, settings)
        name = Path(path).name
        Path(out_dir).mkdir(parents=True, exist_ok=True)  # a mirrored sub-folder (-r)
        written = []
        for variant in result.variants:
            target = Path(out_dir) / variant.filename(name)
            _write_atomically(target, variant.data)
            written.append(str(target))
        return FileResult(
            path,
            True,
            width=result.source.width,
            height=result.source.height,
            frames=result.source.frames,
            outputs=tuple(written),
            ms=(time.perf_counter() - t0) * 1000,
            hidden=_hidden_summary(result.areas) if settings.hides_areas else "",
        )
    except ImageError as exc:
        return FileResult(path, False, exc.reason)
    except OSError as exc:
        return FileResult(path, False, f"cannot write output: {exc.strerror or exc}")
    except Exception as exc:  # a bug: still one line, and the batch goes on
        return FileResult(path, False, f"internal error: {type(exc).__name__}: {exc}")


def _hidden_summary(areas: Sequence[Area]) -> str:
    """``2 faces, 1 region`` (``no face found`` when faces were looked for in vain)."""
    faces = sum(a.source == "face" for a in areas)
    regions = len(areas) - faces
    parts = [f"{faces} face{'s' * (faces != 1)}"] if faces or not regions else []
    if regions:
        parts.append(f"{regions} region{'s' * (regions != 1)}")
    return ", ".join(parts)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: once, at import
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_umask()


def _write_atomically(target: Path, data: bytes) -> None:
    """Write via a temporary file and rename: a reader never sees half an image.

    The file gets the mode any program's new file gets (``0666 & ~umask``), or the mode of
    the file it replaces, not mkstemp's private 0600."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=".pixelpipe-", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# pixelpipe's own output names (``pixelated-8x8-cat.jpg``, ``pixelated-16px-grid-cat.png``):
# a folder holding earlier outputs is not pixelated again.
_OUTPUT_NAME = re.compile(r"pixelated-\d+(?:x\d+|px)(?:-grid)?-.")


def is_own_output(name: str) -> bool:
    return _OUTPUT_NAME.match(name) is not None


@dataclass
class Inputs:
    """The files a command line names, each with the sub-folder its outputs go to."""

    files: list[tuple[str, str]] = field(default_factory=list)  # (path, relative out dir)
    skipped_dirs: int = 0  # sub-folders not read (no --recursive)
    skipped_outputs: int = 0  # pixelpipe's own outputs found in the folders

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.files]


def collect_inputs(
    inputs: Iterable[str],
    *,
    recursive: bool = False,
    skip_outputs: bool = False,
    exclude: str | None = None,
) -> Inputs:
    """Files as given; directories replaced by their (non-hidden) files, sorted.

    ``recursive`` reads sub-folders too (outputs mirror them); otherwise they are counted
    in ``skipped_dirs``. ``skip_outputs`` leaves out files named like pixelpipe's outputs
    (counted); ``exclude`` is a folder never read (the output folder, when it is inside an
    input folder). A directory that cannot be listed stays in the list as itself, so that
    it is reported like any other unreadable input and the rest of the batch goes on.
    """
    found = Inputs()
    excluded = os.path.realpath(exclude) if exclude else None

    def walk(folder: Path, rel: str) -> None:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            found.files.append((str(folder), rel))
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if excluded is not None and os.path.realpath(child) == excluded:
                    continue
                if recursive and not child.is_symlink():  # no symlink loops
                    walk(child, os.path.join(rel, child.name))
                else:
                    found.skipped_dirs += 1
            elif child.is_file():
                if skip_outputs and is_own_output(child.name):
                    found.skipped_outputs += 1
                else:
                    found.files.append((str(child), rel))

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            walk(p, "")
        else:
            found.files.append((item, ""))
    return found


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files as given; directories replaced by their (non-hidden) files, one level deep."""
    return collect_inputs(inputs).paths


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 variant``, ``2 variants``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _make_out_dir(out_dir: str) -> None:
    if not out_dir:
        raise click.UsageError("the output directory must not be empty")
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.UsageError(
            f"cannot create output directory {out_dir}: {exc.strerror or exc}"
        ) from None


def run_batch(
    files: Sequence[str | tuple[str, str]],
    out_dir: str,
    settings: EngineSettings,
    jobs: int,
    console: Console,
) -> list[FileResult]:
    """Process ``files`` with ``jobs`` processes; report rejections on stderr as they happen.

    A file may come with the sub-folder of ``out_dir`` its outputs go to (``--recursive``)."""
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .engine import available_cpus
    from .formats import BY_NAME
    from .keys import output_name

    results: dict[int, FileResult] = {}
    todo: list[tuple[int, str, str]] = []
    seen: dict[tuple[str, str], str] = {}
    fmt = None if settings.format == "source" else BY_NAME[settings.format]
    for i, item in enumerate(files):
        path, rel = (item, "") if isinstance(item, str) else item
        # Outputs are named after the file name (its extension replaced by --format's): two
        # inputs giving one output name in one folder would overwrite each other.
        # Case-folded, for the file systems that fold case.
        name = Path(path).name
        out = output_name(name, fmt.name, fmt.extension) if fmt else name
        key = (os.path.normcase(rel).casefold(), out.casefold())
        if key in seen:
            other = seen[key]
            results[i] = FileResult(
                path, False, f"output names would be the same as {other}'s; outputs would overwrite"
            )
            continue
        seen[key] = path
        todo.append((i, path, os.path.join(out_dir, rel) if rel else out_dir))

    def report(i: int, r: FileResult) -> None:
        results[i] = r
        line = f"{r.path}: {r.hidden} hidden" if r.hidden else ""
        if not r.ok:
            line = f"{r.path}: {' '.join(r.reason.split())}"  # one line, whatever was raised
        if line:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    for i, r in sorted(results.items()):
        report(i, r)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=len(todo) < 2 or not console.is_terminal,
    )
    with progress:
        task = progress.add_task("pixelating", total=len(todo))
        if jobs <= 1 or len(todo) <= 1:
            for i, path, target in todo:
                report(i, process_file(path, target, settings))
                progress.advance(task)
        else:
            processes = min(jobs, len(todo))
            if settings.threads == 0:  # share the CPUs between the processes
                settings = settings.replace(threads=max(1, available_cpus() // processes))
            with ProcessPoolExecutor(max_workers=processes) as pool:
                futures: dict[Future[FileResult], tuple[int, str]] = {
                    pool.submit(process_file, path, target, settings): (i, path)
                    for i, path, target in todo
                }
                for fut in as_completed(futures):
                    i, path = futures[fut]
                    try:
                        r = fut.result()
                    except Exception as exc:  # the worker process died
                        r = FileResult(path, False, f"internal error: worker failed: {exc}")
                    report(i, r)
                    progress.advance(task)
    return [results[i] for i in sorted(results)]


# --------------------------------------------------------------------------------------------
# Commands


def _settings_options(func: Any) -> Any:
    options = [
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
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _build_settings(**flags: Any) -> EngineSettings:
    fmt = flags.pop("fmt", None)
    if flags.get("sizes") and flags.get("block_px"):
        raise SettingsError("use either --sizes or --block-px, not both")
    regions = flags.pop("regions", None) or ()
    if regions:
        flags["regions"] = ";".join(regions)
    return EngineSettings.from_env(prefixed_only=True, format=fmt, **flags)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="pixelpipe")
def cli() -> None:
    """pixelpipe: pixelate images at several grid sizes.

    \b
    Quick start:
      pixelpipe pixelate photo.jpg -o out/      writes out/pixelated-8x8-photo.jpg, ...
      pixelpipe demo                            pixelates the bundled samples into ./out

    Settings can also come from PIXELPIPE_* environment variables; flags win.
    """


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="Output directory (created if missing).",
)
@_settings_options
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="number of cores",
    help="Files processed in parallel.",
)
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Read sub-folders too; their outputs go to the same sub-folders under OUT.",
)
def pixelate_cmd(
    inputs: tuple[str, ...], out_dir: str, jobs: int, recursive: bool, **flags: Any
) -> None:
    """Pixelate INPUT files (or folders of them) into OUT.

    Writes OUT/pixelated-{n}x{n}-{filename} for every size n. Carries on past bad files;
    exits 1 if any input was rejected, with one 'PATH: reason' line each on stderr.
    Files in folders named like pixelpipe's outputs (pixelated-8x8-...) are skipped.
    """

    settings = _build_settings(**flags)
    found = collect_inputs(inputs, recursive=recursive, skip_outputs=True, exclude=out_dir)
    err = console(stderr=True)
    notes = []
    if found.skipped_dirs:
        notes.append(f"{plural(found.skipped_dirs, 'sub-folder')} not read (pass -r/--recursive)")
    if found.skipped_outputs:
        notes.append(f"{plural(found.skipped_outputs, 'file')} skipped: pixelpipe's own outputs")
    for note in notes:
        err.print(note, markup=False, highlight=False, soft_wrap=True)
    if not found.files:
        if found.skipped_dirs:
            why = "the folders given hold only sub-folders; pass -r/--recursive to read them"
        elif found.skipped_outputs:
            why = "the folders given hold only pixelpipe's own outputs"
        else:
            why = "the folders given are empty"
        raise click.UsageError(f"no input files: {why}")
    _make_out_dir(out_dir)
    t0 = time.perf_counter()
    results = run_batch(found.files, out_dir, settings, jobs, err)
    ok = [r for r in results if r.ok]
    rejected = len(results) - len(ok)
    outputs = sum(len(r.outputs) for r in ok)
    err.print(
        f"{plural(outputs, 'variant')} of {plural(len(ok), 'image')} written to {out_dir} "
        f"in {time.perf_counter() - t0:.1f} s" + (f"; {rejected} rejected" if rejected else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(EXIT_REJECTED if rejected else EXIT_OK)


pixelate_cmd.name = "pixelate"


def placeholder_file(path: str, settings: EngineSettings) -> dict[str, object] | str:
    """One file's placeholder as ``{"file": path, ...}``, or the reason it has none."""
    try:
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
                return "is a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            if st.st_size > settings.max_bytes:
                return byte_limit_reason(st.st_size, settings.max_bytes)
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return "no such file"
        except OSError as exc:
            return f"cannot read: {exc.strerror or exc}"
        from .engine import placeholder_of

        return {"file": path, **placeholder_of(data, settings).as_dict()}
    except ImageError as exc:
        return exc.reason
    except Exception as exc:  # a bug: still one line, and the batch goes on
        return f"internal error: {type(exc).__name__}: {exc}"


@cli.command("placeholder")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE...")
@click.option("--max-bytes", metavar="SIZE", help="Input size limit.  [default: 50MiB]")
@click.option("--max-pixels", metavar="N", help="Pixel limit.  [default: 100M]")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="number of cores",
    help="Files read in parallel.",
)
def placeholder_cmd(
    inputs: tuple[str, ...], max_bytes: str | None, max_pixels: str | None, jobs: int
) -> None:
    """Print the placeholder of each FILE (or of the files in a directory) as one JSON line:

    \b
    {"file", "blurhash", "thumbhash", "data_uri", "color", "width", "height"}

    the same fields as the manifest's "placeholder", in the order given. Carries on past bad
    files; exits 1 if any was rejected, with one 'PATH: reason' line each on stderr.
    """
    settings = EngineSettings.from_env(
        prefixed_only=True, max_bytes=max_bytes, max_pixels=max_pixels, threads=1
    )
    files = expand_inputs(inputs)
    if not files:
        raise click.UsageError("no input files (the directories given are empty)")
    from concurrent.futures import ProcessPoolExecutor

    rejected = 0
    with (
        ProcessPoolExecutor(max_workers=min(jobs, len(files)))
        if jobs > 1 and len(files) > 1
        else _Inline()
    ) as pool:
        for path, out in zip(
            files, pool.map(placeholder_file, files, repeat(settings)), strict=True
        ):
            if isinstance(out, str):
                rejected += 1
                click.echo(f"{path}: {' '.join(out.split())}", err=True)
            else:
                click.echo(json.dumps(out, separators=(", ", ": ")))
    sys.exit(EXIT_REJECTED if rejected else EXIT_OK)


class _Inline:
    """``pool.map`` in this process (one file, or ``--jobs 1``)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, *iterables: Iterable[Any]) -> Iterable[Any]:
        return map(fn, *iterables)


def _cores() -> int:
    return os.cpu_count() or 1


def _stack_options(func: Any) -> Any:
    options = [
        click.option(
            "--host",
            default=local.DEFAULT_HOST,
            show_default=True,
            help="Address the endpoint and the web page bind to; loopback unless you mean it.",
        ),
        click.option(
            "--port",
            type=click.IntRange(1, 65535),
            default=local.DEFAULT_PORT,
            show_default=True,
            help="Port of the S3 + SQS endpoint.",
        ),
        click.option(
            "--source-bucket",
            default=local.SOURCE_BUCKET,
            show_default=True,
            help="Bucket to create for uploads; its notifications feed the queue.",
        ),
        click.option(
            "--processed-bucket",
            default=local.PROCESSED_BUCKET,
            show_default=True,
            help="Bucket to create for the variants, manifests and failure records.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.command()
@_stack_options
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes.  [default: number of cores]",
)
@click.option(
    "--visibility-timeout",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds a received message stays hidden (a crashed worker's comes back after it).",
)
@click.option(
    "--ui-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the web page (on --host); 0 picks a free one.  "
    "[default: 8080, or a free port if 8080 is taken]",
)
@click.option("--no-ui", is_flag=True, help="Do not serve the web page.")
@_settings_options
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
        engine=_build_settings(**flags),
        visibility_timeout=visibility_timeout,
    )
    try:
        _start_or_exit(stack)
    except BaseException:
        if web is not None:
            web.stop()
        raise
    count = _cores() if workers is None else workers
    stack.start_workers(count)
    if web is not None:
        from .web.server import gallery_for

        web.start(gallery_for(stack))
    from rich.console import Console

    out = Console(soft_wrap=True, highlight=False)
    out.print(f"[bold]pixelpipe {__version__}[/bold] local stack is up")
    if web is not None:
        out.print(f"  web page          {web.url}{ui_note}")
    out.print(f"  endpoint          {stack.endpoint}   (S3 and SQS)")
    out.print(f"  source bucket     {source_bucket}")
    out.print(f"  processed bucket  {processed_bucket}")
    out.print(
        f"  queue             {stack.queue_url}  (DLQ {local.DLQ_NAME})",
    )
    out.print(f"  workers           {count}")
    out.print("\nPaste into a shell: the AWS CLI and pixelpipe's commands then need no flags")
    for line in shell_exports(stack):
        out.print(f"  {line}", markup=False)
    out.print("Then try:")
    out.print(f"  aws s3 cp photo.jpg s3://{source_bucket}/", markup=False)
    out.print(f"  aws s3 ls s3://{processed_bucket}/", markup=False)
    out.print("  pixelpipe status     (also: pixelpipe worker, backfill, dlq list)", markup=False)
    out.print(f"Back to real AWS: unset {' '.join(EXPORTED)}", markup=False)
    out.print("\nCtrl-C to stop (nothing is kept after that).")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    out.print("stopping: workers finish the message in hand ...")
    if web is not None:
        web.stop()
    stack.stop()
    out.print("stopped")


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
    from .web.server import DEFAULT_UI_PORT, WebServer

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


@cli.command()
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
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Messages processed at once by this worker (threads).",
)
@click.option(
    "--wait-seconds",
    type=click.IntRange(0, 20),
    default=20,
    show_default=True,
    help="Long-poll wait per receive.",
)
@_settings_options
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

    import boto3

    from .pipeline import Pipeline
    from .storage import Storage
    from .worker import Worker

    settings = Settings(
        processed_bucket=processed_bucket,
        source_bucket=source_bucket,
        engine=_build_settings(**flags),
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)
    sqs = boto3.client("sqs", endpoint_url=settings.endpoint_url)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pipe = Pipeline(settings, Storage(settings.endpoint_url))
    Worker(pipe, sqs, queue_url, concurrency=concurrency, wait_seconds=wait_seconds).run(stop)


@cli.command()
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
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes.  [default: up to 2]",
)
@click.option(
    "--deadline",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for every image.",
)
@_settings_options
def demo(
    out_dir: str, samples: str | None, port: int, workers: int | None, deadline: float, **flags: Any
) -> None:
    """The whole pipeline on the bundled samples, locally: upload, wait, download.

    Starts the embedded stack, uploads every sample to the source bucket, waits for each
    manifest (or failure record), downloads the variants to OUT, writes OUT/contact-sheet.png
    and prints a table. Exit 0 only if every image was processed.
    """

    from .demo import run_demo

    folder = Path(samples) if samples else _SAMPLES
    if not folder.is_dir():
        raise click.UsageError(f"sample folder {folder} not found; pass --samples DIR")
    files = [Path(f) for f in expand_inputs([str(folder)])]
    _make_out_dir(out_dir)
    engine = _build_settings(**flags)
    ok = run_demo(
        files,
        Path(out_dir),
        engine=engine,
        port=port or local.free_port(),
        workers=workers or min(2, _cores()),
        deadline=deadline,
        console=console(),
    )
    sys.exit(EXIT_OK if ok else EXIT_REJECTED)


# --------------------------------------------------------------------------------------------
# Operations: the local stack's or a self-hosted deployment's buckets and queues


def _ops_options(func: Any) -> Any:
    options = [
        click.option(
            "--endpoint-url",
            default=None,
            help="S3/SQS endpoint, e.g. the local stack's (default: AWS_ENDPOINT_URL, else AWS).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _clients(endpoint_url: str | None) -> tuple[Any, Any]:
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint:
        return local.clients(endpoint)
    import boto3

    return boto3.client("s3"), boto3.client("sqs")


def _queues(sqs: Any, queue_url: str | None, dlq_url: str | None) -> tuple[str, str | None]:
    from . import ops

    if queue_url:
        return queue_url, dlq_url or _redrive_target(sqs, queue_url)
    main_url, found_dlq = ops.queue_urls(sqs, local.QUEUE_NAME, local.DLQ_NAME)
    return main_url, dlq_url or _redrive_target(sqs, main_url) or found_dlq


def _redrive_target(sqs: Any, queue_url: str) -> str | None:
    """The URL of the queue's dead-letter queue, from its redrive policy (None: none)."""

    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = attrs.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        return None
    arn = str(json.loads(policy).get("deadLetterTargetArn", ""))
    name, account = arn.rsplit(":", 1)[-1], arn.split(":")[4] if arn.count(":") >= 5 else None
    if not name:
        return None
    kwargs = {"QueueName": name, **({"QueueOwnerAWSAccountId": account} if account else {})}
    return str(sqs.get_queue_url(**kwargs)["QueueUrl"])


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--bucket",
    default=local.SOURCE_BUCKET,
    envvar="PIXELPIPE_SOURCE_BUCKET",
    show_default=True,
    help="Bucket to upload to: the source bucket.  [env: PIXELPIPE_SOURCE_BUCKET]",
)
@click.option("--prefix", default="", help="Key prefix, e.g. photos/.")
@_ops_options
def upload(files: tuple[str, ...], bucket: str, prefix: str, endpoint_url: str | None) -> None:
    """Upload FILE... to the source bucket (the pipeline takes it from there)."""
    from . import ops

    s3, _ = _clients(endpoint_url)
    paths = [Path(f) for f in expand_inputs(files)]
    failed = 0
    for r in ops.upload(s3, bucket, paths, prefix=prefix):
        if r.ok:
            click.echo(f"s3://{bucket}/{r.key}  ({r.size} bytes, {r.content_type})")
        else:
            failed += 1
            click.echo(f"{r.path}: {r.reason}", err=True)
    sys.exit(EXIT_REJECTED if failed else EXIT_OK)


@cli.command()
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
@click.option(
    "--processed-bucket",
    default=local.PROCESSED_BUCKET,
    envvar="PIXELPIPE_PROCESSED_BUCKET",
    show_default=True,
    help="Bucket of the variants and manifests.  [env: PIXELPIPE_PROCESSED_BUCKET]",
)
@_ops_options
def status(
    queue_url: str | None, dlq_url: str | None, processed_bucket: str, endpoint_url: str | None
) -> None:
    """Messages waiting and in flight, DLQ depth, processed and failed counts."""
    from . import ops

    s3, sqs = _clients(endpoint_url)
    main_url, dlq = _queues(sqs, queue_url, dlq_url)
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


@cli.command()
@click.option(
    "--bucket",
    default=local.SOURCE_BUCKET,
    envvar="PIXELPIPE_SOURCE_BUCKET",
    show_default=True,
    help="Source bucket.  [env: PIXELPIPE_SOURCE_BUCKET]",
)
@click.option("--prefix", default="", help="Only keys under this prefix.")
@click.option(
    "--processed-bucket",
    default=local.PROCESSED_BUCKET,
    envvar="PIXELPIPE_PROCESSED_BUCKET",
    show_default=True,
    help="Bucket of the variants and manifests.  [env: PIXELPIPE_PROCESSED_BUCKET]",
)
@click.option("--dry-run", is_flag=True, help="Count what would be processed; write nothing.")
@_ops_options
@_settings_options
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

    from . import ops
    from .pipeline import Pipeline
    from .storage import Storage

    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    s3, _ = _clients(endpoint)
    settings = Settings(
        processed_bucket=processed_bucket,
        source_bucket=bucket,
        engine=_build_settings(**flags),
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


@cli.group()
def dlq() -> None:
    """Inspect the dead-letter queue, and move its messages back."""


def _dlq_options(func: Any) -> Any:
    func = click.option(
        "--dlq-url",
        default=None,
        help=f"The dead-letter queue.  [default: the queue's redrive target, or {local.DLQ_NAME}]",
    )(func)
    func = click.option(
        "--queue-url",
        default=None,
        envvar="PIXELPIPE_QUEUE_URL",
        help=f"The event queue.  [env: PIXELPIPE_QUEUE_URL; default: the queue named "
        f"{local.QUEUE_NAME}]",
    )(func)
    return _ops_options(func)


@dlq.command("list")
@_dlq_options
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="At most this many messages.",
)
def dlq_list_cmd(
    queue_url: str | None, dlq_url: str | None, endpoint_url: str | None, limit: int
) -> None:
    """Show what is in the dead-letter queue (messages stay there)."""
    from . import ops

    _, sqs = _clients(endpoint_url)
    _, dlq_found = _queues(sqs, queue_url, dlq_url)
    if dlq_found is None:
        raise click.UsageError("no dead-letter queue found; pass --dlq-url")
    messages = ops.dlq_list(sqs, dlq_found, limit=limit)
    for m in messages:
        what = m.error or ", ".join(f"s3://{r.bucket}/{r.key}" for r in m.refs) or "(no objects)"
        click.echo(f"{m.message_id}  received {m.receive_count}x  {what}")
    if not messages:
        click.echo(f"the dead-letter queue {dlq_found} is empty: no messages")
    else:
        click.echo(f"{plural(len(messages), 'message')} shown (they stay in {dlq_found})")


@dlq.command("redrive")
@_dlq_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
def dlq_redrive_cmd(
    queue_url: str | None, dlq_url: str | None, endpoint_url: str | None, limit: int | None
) -> None:
    """Move dead-letter messages back to the main queue, to be processed again."""
    from . import ops

    _, sqs = _clients(endpoint_url)
    main_url, dlq_found = _queues(sqs, queue_url, dlq_url)
    if dlq_found is None:
        raise click.UsageError("no dead-letter queue found; pass --dlq-url")
    moved = ops.dlq_redrive(sqs, dlq_found, main_url, limit=limit)
    if moved == 0:
        click.echo(f"the dead-letter queue {dlq_found} is empty: nothing to move")
    else:
        click.echo(f"{plural(moved, 'message')} moved back to {main_url}")


@cli.command()
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
    from .package import build

    report = build(Path(output), arch=arch, python=python_version, faces=faces)
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    click.echo(
        f"{report.path}: {report.zipped / 2**20:.1f} MiB zipped, "
        f"{report.unzipped / 2**20:.1f} MiB unzipped, {report.files} files "
        f"(python{report.python}, {report.arch}; {versions}); {report.bytecode}"
    )


def _is_aws_error(exc: BaseException) -> bool:
    """botocore's errors, without importing botocore where no command used it."""
    botocore = sys.modules.get("botocore.exceptions")
    return botocore is not None and isinstance(exc, (botocore.BotoCoreError, botocore.ClientError))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. Every error, usage or runtime, is one line on stderr:
    ``pixelpipe: error: ...``."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="pixelpipe",
            standalone_mode=False,
        )
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _error(exc.format_message() + hint)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        _error(exc.format_message())
        sys.exit(exc.exit_code)
    except SettingsError as exc:
        _error(exc.reason)
        sys.exit(EXIT_USAGE)
    except PixelpipeError as exc:
        _error(exc.reason)
        sys.exit(EXIT_REJECTED)
    except (KeyboardInterrupt, click.Abort):
        click.echo("pixelpipe: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _is_aws_error(exc):  # the endpoint, credentials, a bucket, ...
            from .worker import configuration_problem

            problem = configuration_problem(exc)  # permanent: no credentials, region, queue
            _error(problem or str(exc))
            sys.exit(EXIT_USAGE if problem else EXIT_REJECTED)
        click.echo(
            f"pixelpipe: internal error: {type(exc).__name__}: {' '.join(str(exc).split())}",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


def _error(message: str) -> None:
    click.echo(f"pixelpipe: error: {' '.join(message.split())}", err=True)


def console(*, stderr: bool = False) -> Console:
    """A Rich console; when the output is not a terminal (piped, a file), lines and tables
    are never wrapped, so nothing is cut mid-word."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=1000, soft_wrap=True)
    return out


if __name__ == "__main__":
    main()
