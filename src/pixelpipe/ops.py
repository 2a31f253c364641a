"""Operations behind the stack commands: ``upload``, ``status``, ``backfill``, ``dlq list`` and
``dlq redrive``, for the local stack and self-hosted deployments.

Pure functions over boto3 clients (or a :class:`~pixelpipe.pipeline.Pipeline`): no printing, no
Click, no global state. Each returns a small frozen dataclass (or a list of them) for the CLI to
show. botocore's ``ClientError`` propagates unless a function says otherwise; the CLI
translates it.

* :func:`upload` puts local files into a bucket (``Content-Type`` from the file name); a path
  that cannot be uploaded comes back as a refused :class:`UploadResult`, never an exception.
* :func:`status` reads the queue's and the DLQ's message counts and counts the manifests and
  failure records in the processed bucket.
* :func:`backfill` runs the pipeline over objects that are already in a source bucket (a
  pipeline attached to a bucket that holds images). It is resumable: what is done comes back
  as a duplicate, what fails transiently is reported and retried by the next run.
* :func:`dlq_list` peeks at the dead-letter queue without consuming it; :func:`dlq_redrive`
  moves its messages back to the main queue itself (moto does not implement
  ``StartMessageMoveTask``, and self-hosted SQS-compatible servers rarely do).
"""

from __future__ import annotations

import contextlib
import mimetypes
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from . import queue, storage
from .errors import SettingsError
from .events import EventError, ObjectRef, parse_message_body
from .local import DLQ_NAME, QUEUE_NAME
from .pipeline import Pipeline
from .settings import Settings
from .storage import TransientError, count_objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
SQS_BATCH = queue.BATCH  # ReceiveMessage / ChangeMessageVisibilityBatch maximum
PEEK_HIDE_SECONDS = 30  # dlq_list hides what it has seen while it pages, then shows it again
REDRIVE_HIDE_SECONDS = 60  # a batch being moved is hidden from other consumers meanwhile

# Backfill outcomes besides the pipeline's (pixelpipe.pipeline.Outcome values) and the dry
# run's states (Pipeline.state_of: pending, done, failed, skipped, gone).
ERROR = "error"  # a transient failure on this object; the next run retries it


# --------------------------------------------------------------------------------------------
# upload


@dataclass(frozen=True, slots=True)
class UploadResult:
    """One file: uploaded (``ok``, with its eTag) or refused (``ok`` false, one-line reason)."""

    path: Path
    key: str  # prefix + file name (what it was, or would have been, stored as)
    ok: bool
    etag: str | None = None  # without quotes
    content_type: str | None = None
    size: int | None = None
    reason: str = ""


def content_type_for(name: str) -> str:
    """The ``Content-Type`` for a file name (``mimetypes``); ``application/octet-stream`` when
    unknown or when the name says the bytes are compressed (``.tar.gz``: not a tar stream)."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    if guessed is None or encoding is not None:
        return DEFAULT_CONTENT_TYPE
    return guessed


def upload(
    s3: S3Client, bucket: str, files: Sequence[Path], *, prefix: str = ""
) -> list[UploadResult]:
    """Put each file at ``prefix + file name``, in order; one result per file.

    Directories, missing or unreadable paths, special files, names that are not UTF-8 or too
    long for a key, and a second file with the same key are refused (``ok`` false, a one-line
    ``reason``, nothing written). Errors from S3 itself propagate (``ClientError``).
    """
    results: list[UploadResult] = []
    taken: dict[str, Path] = {}
    for path in files:
        result = _upload_one(s3, bucket, Path(path), prefix, taken)
        if result.ok:
            taken[result.key] = result.path
        results.append(result)
    return results


def _upload_one(
    s3: S3Client, bucket: str, path: Path, prefix: str, taken: Mapping[str, Path]
) -> UploadResult:
    key = prefix + path.name

    def refused(reason: str, size: int | None = None) -> UploadResult:
        return UploadResult(path=path, key=key, ok=False, size=size, reason=reason)

    try:
        info = path.stat()
    except OSError as exc:
        return refused(f"cannot read: {_os_reason(exc)}")
    if stat.S_ISDIR(info.st_mode):
        return refused("is a directory")
    if not stat.S_ISREG(info.st_mode):
        return refused("is not a regular file")
    if not path.name:
        return refused("has no file name")
    try:
        key_bytes = key.encode("utf-8")
    except UnicodeEncodeError:
        return refused("file name is not valid UTF-8, so it cannot be an object key")
    if len(key_bytes) > MAX_KEY_BYTES:
        return refused(f"key is {len(key_bytes)} bytes long, over S3's {MAX_KEY_BYTES}")
    if key in taken:
        return refused(f"same key {key} as {taken[key]}; not overwritten")
    content_type = content_type_for(path.name)
    try:
        with path.open("rb") as body:
            etag = storage.upload(s3, bucket, key, body, content_type=content_type)
    except OSError as exc:
        return refused(f"cannot read: {_os_reason(exc)}", info.st_size)
    return UploadResult(
        path=path,
        key=key,
        ok=True,
        etag=etag,
        content_type=content_type,
        size=info.st_size,
    )


def _os_reason(exc: OSError) -> str:
    return " ".join(str(exc.strerror or type(exc).__name__).split())


# --------------------------------------------------------------------------------------------
# status


@dataclass(frozen=True, slots=True)
class Status:
    """The queue and the processed bucket at a glance (SQS's counts are approximate)."""

    waiting: int  # ApproximateNumberOfMessages: ready to be received
    in_flight: int  # ApproximateNumberOfMessagesNotVisible: received, not yet deleted
    delayed: int  # ApproximateNumberOfMessagesDelayed
    dlq: int | None  # every message the DLQ holds (waiting + in flight + delayed); None: no DLQ
    processed: int  # manifests in the processed bucket
    failed: int  # failure records in the processed bucket


def status(
    sqs: SQSClient,
    s3: S3Client,
    *,
    queue_url: str,
    dlq_url: str | None,
    processed_bucket: str,
    manifest_prefix: str,
    failure_prefix: str,
) -> Status:
    """Message counts of the queue and the DLQ; manifests and failure records counted."""
    main = queue.counts(sqs, queue_url)
    return Status(
        waiting=main.waiting,
        in_flight=main.in_flight,
        delayed=main.delayed,
        dlq=None if dlq_url is None else queue.counts(sqs, dlq_url).total,
        processed=count_objects(s3, processed_bucket, manifest_prefix),
        failed=count_objects(s3, processed_bucket, failure_prefix),
    )


# --------------------------------------------------------------------------------------------
# backfill


@dataclass(frozen=True, slots=True)
class BackfillItem:
    """One listed object and what happened to it (passed to ``on_progress``)."""

    index: int  # 1-based position in the listing
    total: int  # how many objects were listed
    key: str
    outcome: str  # a pipeline Outcome value; in a dry run a state_of state; or "error"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BackfillError:
    key: str
    reason: str  # one line


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """Counts by outcome over every listed object, and the objects that hit a transient error.

    A real run counts pipeline outcomes (``processed``, ``duplicate`` — done before, or failed
    before for this version —, ``stale``, ``failed``, ``skipped``, ``gone``) and ``error``. A
    dry run counts states instead: ``pending``, ``done``, ``failed``, ``skipped``, ``gone``.
    """

    bucket: str
    prefix: str
    dry_run: bool
    total: int
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: tuple[BackfillError, ...] = ()

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)

    @property
    def complete(self) -> bool:
        """Nothing left for another run: no errors, and (dry run) nothing pending."""
        return not self.errors and not self.count("pending")


def backfill(
    pipeline: Pipeline,
    bucket: str,
    *,
    prefix: str = "",
    dry_run: bool = False,
    on_progress: Callable[[BackfillItem], None] | None = None,
) -> BackfillReport:
    """Process the objects under ``prefix`` of source ``bucket`` that have no up-to-date
    manifest (or failure record), each through ``pipeline.handle`` as if just created.

    The listing is taken first (so ``on_progress`` knows the total), then objects are handled
    one by one. Folder markers and keys the settings refuse (outside ``SOURCE_PREFIX``, the
    processed bucket's own records) are ``skipped`` without a request. What is done already
    comes back as ``duplicate``: running again, after an interruption or errors, does only
    what is left. A :class:`~pixelpipe.storage.TransientError` on one object is recorded in
    ``errors`` (outcome ``error``) and the run goes on; other errors propagate, as do errors
    listing the bucket. ``dry_run`` writes nothing and counts states (``pending``, ``done``,
    ``failed``, ...).
    """
    settings = pipeline.settings
    keys = [info.key for info in pipeline.storage.list(bucket, _listing_prefix(prefix, settings))]
    counts: Counter[str] = Counter()
    errors: list[BackfillError] = []
    for index, key in enumerate(keys, start=1):
        outcome, detail = _backfill_one(pipeline, bucket, key, dry_run)
        if outcome == ERROR:
            errors.append(BackfillError(key, detail))
        counts[outcome] += 1
        if on_progress is not None:
            on_progress(BackfillItem(index, len(keys), key, outcome, detail))
    return BackfillReport(
        bucket=bucket,
        prefix=prefix,
        dry_run=dry_run,
        total=len(keys),
        counts=MappingProxyType(dict(counts)),
        errors=tuple(errors),
    )


def _listing_prefix(prefix: str, settings: Settings) -> str:
    """List under the longer of ``prefix`` and ``SOURCE_PREFIX`` when one contains the other
    (nothing outside ``SOURCE_PREFIX`` is processed anyway); else under ``prefix``."""
    if settings.source_prefix.startswith(prefix):
        return settings.source_prefix
    return prefix


def _backfill_one(pipeline: Pipeline, bucket: str, key: str, dry_run: bool) -> tuple[str, str]:
    if key.endswith("/"):
        return "skipped", "folder marker"
    refusal = pipeline.settings.refuses(bucket, key)
    if refusal:
        return "skipped", refusal
    try:
        if dry_run:
            return pipeline.state_of(bucket, key), ""
        result = pipeline.handle(ObjectRef(bucket=bucket, key=key, kind="created"))
    except TransientError as exc:
        return ERROR, exc.reason
    return result.outcome.value, result.detail


# --------------------------------------------------------------------------------------------
# dead-letter queue


@dataclass(frozen=True, slots=True)
class DlqMessage:
    """One message in the DLQ, as seen by a peek."""

    message_id: str
    receive_count: int  # ApproximateReceiveCount (counts this peek's receive too)
    sent_at: datetime | None  # SentTimestamp, UTC
    body: str
    refs: tuple[ObjectRef, ...] = ()  # the objects the body names
    error: str | None = None  # why the body is not a notification pixelpipe reads

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(ref.key for ref in self.refs)


def dlq_list(sqs: SQSClient, dlq_url: str, *, limit: int = 10) -> list[DlqMessage]:
    """Up to ``limit`` messages of the DLQ, without consuming them.

    Messages are received in batches of 10 and kept hidden while paging (so no message is
    seen twice), then made visible again at once; nothing is deleted. Each receive adds one
    to a message's ``ApproximateReceiveCount``, which a DLQ (no redrive policy of its own)
    does not act on.
    """
    seen: dict[str, MessageTypeDef] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            batch = _receive(sqs, dlq_url, min(SQS_BATCH, limit - len(seen)), PEEK_HIDE_SECONDS)
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], message)
    except BaseException:
        with contextlib.suppress(ClientError, BotoCoreError):
            _show_again(sqs, dlq_url, handles)
        raise
    _show_again(sqs, dlq_url, handles)
    return [_describe(message) for message in seen.values()]


def dlq_redrive(sqs: SQSClient, dlq_url: str, queue_url: str, *, limit: int | None = None) -> int:
    """Move up to ``limit`` (default: all) messages from the DLQ back to the main queue;
    returns how many moved. Stops when the DLQ is empty.

    Each message is sent to ``queue_url`` with its body and message attributes (a FIFO queue
    gets its group id, and its deduplication id or the message id), and deleted from the DLQ
    only once the send succeeded: a failure can leave a message in both queues (the pipeline
    handles duplicates), never in neither. A ``ClientError`` propagates; the messages of the
    batch not yet sent are made visible in the DLQ again at once.
    """
    if dlq_url == queue_url:
        raise SettingsError("the dead-letter queue and the main queue are the same queue")
    moved = 0
    fifo = queue_url.endswith(".fifo")
    while limit is None or moved < limit:
        want = SQS_BATCH if limit is None else min(SQS_BATCH, limit - moved)
        batch = _receive(sqs, dlq_url, want, REDRIVE_HIDE_SECONDS)
        if not batch:
            break
        for index, message in enumerate(batch):
            sent = False
            try:
                queue.send(sqs, queue_url, message["Body"], **_send_extra(message, fifo))
                sent = True
                queue.delete(sqs, dlq_url, message["ReceiptHandle"])
            except BaseException:
                unsent = batch[index + 1 if sent else index :]
                with contextlib.suppress(ClientError, BotoCoreError):
                    _show_again(sqs, dlq_url, [m["ReceiptHandle"] for m in unsent])
                raise
            moved += 1
    return moved


def queue_urls(
    sqs: SQSClient, queue_name: str = QUEUE_NAME, dlq_name: str = DLQ_NAME
) -> tuple[str, str | None]:
    """The main queue's URL and the DLQ's (None when there is no queue of that name). A
    missing main queue raises ``ClientError``."""
    return queue.url(sqs, queue_name), queue.url_of(sqs, dlq_name)


def _receive(sqs: SQSClient, url: str, count: int, visibility: int) -> list[MessageTypeDef]:
    """Up to ``count`` messages, hidden for ``visibility`` seconds; [] when the queue has
    nothing visible. A short poll (``WaitTimeSeconds=0``) asks a sample of SQS's servers and
    may come back empty while messages wait; if the queue then still reports visible
    messages, one long poll of a second (which asks them all) decides."""

    def poll(wait: int) -> list[MessageTypeDef]:
        return queue.receive(
            sqs,
            url,
            max_messages=count,
            wait_seconds=wait,
            visibility_timeout=visibility,
            attribute_names=["All"],
            message_attribute_names=["All"],
        )

    messages = poll(0)
    if messages or not queue.counts(sqs, url).waiting:
        return messages
    return poll(1)


def _show_again(sqs: SQSClient, url: str, handles: Iterable[str]) -> None:
    """Make received messages visible again now (what a DLQ peek leaves behind)."""
    queue.set_visibility_all(sqs, url, handles, 0)


def _send_extra(message: MessageTypeDef, fifo: bool) -> dict[str, Any]:
    """``SendMessage``'s arguments besides the queue and the body that copy ``message``."""
    args: dict[str, Any] = {}
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        copied: dict[str, Any] = {"DataType": value["DataType"]}
        if "StringValue" in value:
            copied["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            copied["BinaryValue"] = value["BinaryValue"]
        attributes[name] = copied
    if attributes:
        args["MessageAttributes"] = attributes
    if fifo:
        system = message.get("Attributes", {})
        args["MessageGroupId"] = system.get("MessageGroupId", "pixelpipe-redrive")
        args["MessageDeduplicationId"] = system.get("MessageDeduplicationId", message["MessageId"])
    return args


def _describe(message: MessageTypeDef) -> DlqMessage:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    body = message.get("Body", "")
    try:
        refs, error = tuple(parse_message_body(body)), None
    except EventError as exc:
        refs, error = (), exc.reason
    return DlqMessage(
        message_id=message["MessageId"],
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        body=body,
        refs=refs,
        error=error,
    )


__all__ = [
    "BackfillError",
    "BackfillItem",
    "BackfillReport",
    "DlqMessage",
    "Status",
    "UploadResult",
    "backfill",
    "content_type_for",
    "count_objects",
    "dlq_list",
    "dlq_redrive",
    "queue_urls",
    "status",
    "upload",
]
