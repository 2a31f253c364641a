"""``pixelpipe demo``: the whole local pipeline on the bundled samples, end to end.

Upload -> S3 notification -> queue -> worker processes -> variants + manifest, exactly as a
deployment runs, then download, a contact sheet and a table. The samples with a face
(``FACE_SAMPLES``) are uploaded with ``pixelpipe-faces: true``, as any uploader may ask: their
variants hide the face and keep the rest sharp, and the contact sheet says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import faces, queue
from ._version import __version__
from .areas import META_FACES
from .contact import SheetRow, render_sheet
from .keys import failure_key, local_path, manifest_key
from .local import LocalStack, clients
from .manifest import FailureRecord, Manifest
from .settings import EngineSettings
from .storage import list_objects, read_object, upload

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Bundled samples with a face, uploaded with faces hidden (examples/README.md).
FACE_SAMPLES = frozenset({"astronaut.jpg", "portrait.jpg"})


@dataclass
class Item:
    path: Path
    key: str
    uploaded: float = 0.0
    finished: float | None = None
    manifest: Manifest | None = None
    failure: FailureRecord | None = None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    faces: bool = False  # uploaded with pixelpipe-faces: true

    @property
    def hidden(self) -> str:
        """What the manifest says of the faces, claiming "hidden" only where an output
        anonymises them: ``1 face hidden in 2 anonymising outputs``; ``1 face found: no output
        anonymises it`` (every output too fine to); ``1 face found`` (outputs that say
        nothing: a manifest written before ``anonymised``); ``no face found``; ``faces not
        looked for`` (no ``areas``: the whole image was pixelated). Empty when faces were not
        asked for."""
        if not self.faces or self.manifest is None:
            return ""
        if self.manifest.areas is None:
            return "faces not looked for"
        n = sum(a.source == "face" for a in self.manifest.areas)
        if not n:
            return "no face found"
        found = f"{n} face{'s' * (n != 1)}"
        flags = [o.anonymised for o in self.manifest.outputs]
        anon = flags.count(True)
        if anon:
            return f"{found} hidden in {anon} anonymising output{'s' * (anon != 1)}"
        if flags and all(flag is False for flag in flags):
            return f"{found} found: no output anonymises {'them' if n != 1 else 'it'}"
        return f"{found} found"

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.uploaded


def run_demo(
    files: list[Path],
    out_dir: Path,
    *,
    engine: EngineSettings,
    port: int,
    workers: int,
    deadline: float,
    console: Console,
) -> bool:
    """Run the demo; True when every image was processed."""
    stack = LocalStack(port=port, engine=engine)
    console.print(f"starting the local stack on {stack.endpoint} with {workers} worker(s) ...")
    stack.start()
    try:
        stack.start_workers(workers, wait_seconds=1)
        s3, sqs = clients(stack.endpoint)
        _wait_for_workers(sqs, stack.queue_url)
        settings = stack.settings
        items = [Item(path=p, key=p.name, faces=_faces_for(p.name, console)) for p in files]
        for item in items:
            item.uploaded = time.perf_counter()
            meta = {META_FACES: "true"} if item.faces else None
            upload(s3, stack.source_bucket, item.key, item.path.read_bytes(), metadata=meta)
        _wait(items, s3, settings.processed_bucket, settings, deadline, console)
        for item in items:
            if item.manifest:
                for out in item.manifest.outputs:
                    data = read_object(s3, settings.processed_bucket, out.key)
                    target = Path(local_path(str(out_dir), out.key))
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    item.files.append((out.label or out.key, data))
    finally:
        stack.stop()
    sheet = out_dir / "contact-sheet.png"
    sheet.write_bytes(render_sheet(_rows(items), title=f"pixelpipe {__version__} demo"))
    _table(items, out_dir, console)
    console.print(f"contact sheet: {sheet.resolve()}", highlight=False)
    return all(item.manifest is not None for item in items)


def _faces_for(name: str, console: Console) -> bool:
    """Whether the sample ``name`` is uploaded with faces hidden: a face sample, when the
    detector can run here (else one line why, and the sample is pixelated whole)."""
    if name not in FACE_SAMPLES:
        return False
    reason = faces.unavailable_reason()
    if reason:
        console.print(f"{name}: faces not hidden: {reason}", highlight=False, markup=False)
    return reason is None


def _wait_for_workers(sqs: SQSClient, queue_url: str, timeout: float = 30.0) -> None:
    """S3 put a test event on the queue when the notification was configured; once a worker
    has taken and deleted it, workers are up, and upload-to-done times measure processing."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        counts = queue.counts(sqs, queue_url)
        if counts.waiting == counts.in_flight == 0:
            return
        time.sleep(0.1)


def _wait(
    items: list[Item],
    s3: Any,
    bucket: str,
    settings: Any,
    deadline: float,
    console: Console,
) -> None:
    """Poll for each manifest (or failure record) until all are there or time runs out."""
    pending = {item.key: item for item in items}
    end = time.perf_counter() + deadline
    with Progress(
        TextColumn("processing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("processing", total=len(items))
        while pending and time.perf_counter() < end:
            present = {o.key for o in list_objects(s3, bucket)}
            for key, item in list(pending.items()):
                mkey = manifest_key(settings.manifest_prefix, key)
                fkey = failure_key(settings.failure_prefix, key)
                if mkey in present:
                    item.manifest = Manifest.from_json(_read_json(s3, bucket, mkey))
                    item.finished = time.perf_counter()
                if fkey in present:
                    item.failure = FailureRecord.from_json(_read_json(s3, bucket, fkey))
                    item.finished = time.perf_counter()
                if item.finished is not None:
                    del pending[key]
                    progress.advance(task)
            if pending:
                time.sleep(0.1)
    for key in pending:
        console.print(f"{key}: not processed within {deadline:.0f} s", highlight=False)


def _read_json(s3: Any, bucket: str, key: str) -> object:
    return json.loads(read_object(s3, bucket, key))


def _rows(items: list[Item]) -> list[SheetRow]:
    rows = []
    for item in items:
        if item.manifest:
            src = item.manifest.source
            n = len(item.files)
            note = f"{src.width}x{src.height} - {n} variant{'s' * (n != 1)}"
            note += f" - {item.hidden}" if item.hidden else ""
        else:
            note = item.failure.reason if item.failure else "not processed"
        rows.append(SheetRow(item.key, item.path.read_bytes(), item.files, note))
    return rows


def _table(items: list[Item], out_dir: Path, console: Console) -> None:
    table = Table(title=f"pixelpipe {__version__} demo: upload -> S3 event -> queue -> worker")
    table.add_column("image")
    table.add_column("size", justify="right")
    table.add_column("variants", justify="right")
    table.add_column("faces")
    table.add_column("upload-to-done s", justify="right")
    for item in items:
        if item.manifest:
            src = item.manifest.source
            size = f"{src.width}x{src.height}"
            variants = str(len(item.files))
        elif item.failure:
            size, variants = "-", f"[red]failed: {item.failure.reason}[/red]"
        else:
            size, variants = "-", "[red]not processed[/red]"
        secs = item.seconds
        timing = "-" if secs is None else f"{secs:.2f}"
        table.add_row(item.key, size, variants, item.hidden or "-", timing)
    console.print(table)
    total = sum(len(i.files) for i in items)
    console.print(f"{total} variant{'s' * (total != 1)} in {out_dir.resolve()}", highlight=False)
