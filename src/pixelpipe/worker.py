"""Queue worker: the self-hosted (and local) adapter around the pipeline.

Long-polls an SQS-compatible queue that receives the source bucket's S3 event notifications,
hands every message to :meth:`Pipeline.handle_message` — the same parsing and failure policy
as the Lambda handler — and deletes a message only after it succeeded. While an image is
being processed a heartbeat keeps extending the message's visibility, so a long job is not
handed to a second worker. A message that keeps failing reaches the dead-letter queue by the
queue's redrive policy; a transient failure makes the message visible again after a short
back-off instead of the full visibility timeout.

Scale out by running more workers, on any number of machines, against one queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import queue
from .errors import SettingsError
from .events import EventError
from .faces import unavailable_reason
from .pipeline import Pipeline, Result
from .resources import share_memory
from .storage import StorageError, head_bucket

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("pixelpipe.worker")

RETRY_DELAY = 5  # seconds before a transiently failed message is visible again


class ConfigurationError(SettingsError):
    """No credentials, no region, no such queue or bucket, access denied: a retry will not
    fix it, so the worker stops (the CLI exits 2) instead of retrying forever."""


# Error codes that mean the configuration is wrong, not that the service is busy.
_CONFIG_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchBucket",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AccessDeniedException",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "AuthFailure",
        "InvalidAddress",
    }
)


def configuration_problem(exc: BaseException) -> str | None:
    """A one-line reason when ``exc`` is a configuration error, else None (throttling,
    network errors and 5xx are not: they are retried)."""
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"{str(exc).rstrip('.')}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE "
            "(the local stack prints the lines to paste)"
        )
    if isinstance(exc, NoRegionError):
        return f"{str(exc).rstrip('.')}: set AWS_DEFAULT_REGION (or AWS_REGION)"
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        if code in _CONFIG_CODES:
            return " ".join(f"{code}: {err.get('Message', '') or exc}".split())
    return None


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    message_id: str
    ok: bool
    results: tuple[Result, ...] = ()
    error: str = ""


def _queue_visibility(sqs: SQSClient, queue_url: str) -> int:
    try:
        return queue.visibility_timeout(sqs, queue_url)
    except Exception as exc:  # unreachable now: the receive loop will say so; SQS's default
        log.debug("could not read the queue's visibility timeout: %s", exc)
        return queue.DEFAULT_VISIBILITY


class Heartbeat:
    """Extends a message's visibility every ``timeout / 3`` seconds until stopped."""

    def __init__(self, sqs: SQSClient, queue_url: str, receipt: str, timeout: int) -> None:
        self.sqs, self.queue_url, self.receipt, self.timeout = sqs, queue_url, receipt, timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self.timeout / 3)):
            try:
                queue.set_visibility(self.sqs, self.queue_url, self.receipt, self.timeout)
            except Exception as exc:  # the message may be gone already; keep quiet
                log.debug("visibility extension failed: %s", exc)


class Worker:
    """Consumes one queue with ``concurrency`` threads until ``stop`` is set."""

    def __init__(
        self,
        pipeline: Pipeline,
        sqs: SQSClient,
        queue_url: str,
        *,
        concurrency: int = 1,
        batch: int = 1,
        wait_seconds: int = 20,
        visibility_timeout: int | None = None,
        on_message: Callable[[MessageOutcome], None] | None = None,
        memory_share: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sqs = sqs
        self.queue_url = queue_url
        self.concurrency = max(1, concurrency)
        # Messages taken per receive. 1 keeps work spread evenly over workers; up to 10
        # saves requests when every worker is busy anyway.
        self.batch = min(10, max(1, batch))
        self.wait_seconds = wait_seconds
        # None: the queue's own VisibilityTimeout (what a crashed worker's message waits).
        self.visibility_timeout = visibility_timeout or _queue_visibility(sqs, queue_url)
        self.on_message = on_message
        # Images processed at once on this machine, sharing its memory budget: this worker's
        # threads, unless several worker processes run side by side (the local stack's).
        self.memory_share = max(1, memory_share or self.concurrency)
        self.fatal: str | None = None  # set when a configuration error stops the worker

    def check(self) -> None:
        """Raise ConfigurationError when the queue or the processed bucket cannot be used
        (credentials, region, names, permissions), or faces are on and the detector cannot
        run here. Transient failures pass: the receive loop retries them."""
        if self.pipeline.settings.engine.faces:
            reason = unavailable_reason()
            if reason is not None:
                raise ConfigurationError(reason)
        checks: list[tuple[str, Callable[[], object]]] = [
            (
                f"queue {self.queue_url}",
                lambda: queue.arn(self.sqs, self.queue_url),
            ),
        ]
        s3: Any = getattr(self.pipeline.storage, "s3", None)
        bucket = self.pipeline.settings.processed_bucket
        if s3 is not None and bucket:
            checks.append((f"bucket {bucket}", lambda: head_bucket(s3, bucket)))
        for what, call in checks:
            try:
                call()
            except Exception as exc:
                problem = configuration_problem(exc)
                if problem is None and _status(exc) in (403, 404):  # HEAD: no error code
                    problem = "no such bucket" if _status(exc) == 404 else "access denied"
                if problem is not None:
                    raise ConfigurationError(f"{what}: {problem}") from None
                log.warning("checking %s failed (will retry): %s", what, exc)

    def run(self, stop: threading.Event, *, check: bool = True) -> None:
        """Poll until ``stop`` is set; messages in hand are finished first. Raises
        ConfigurationError, at start-up or later, when the configuration is wrong."""
        if check:
            self.check()
        share_memory(self.memory_share)  # the images in hand share the memory
        threads = [
            threading.Thread(target=self._loop, args=(stop,), name=f"pixelpipe-worker-{i}")
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        # Join with a timeout: a bare join() can keep the main thread from ever running a
        # Python signal handler when two signals arrive close together (Ctrl-C to the
        # process group, then SIGTERM from `pixelpipe up`), and stop would never be set.
        for t in threads:
            while t.is_alive():
                t.join(0.5)
        if self.fatal is not None:
            raise ConfigurationError(self.fatal)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once(stop)
            except Exception as exc:
                problem = configuration_problem(exc)
                if problem is not None:  # permanent: stop every thread, say it once
                    self.fatal = f"queue {self.queue_url}: {problem}"
                    stop.set()
                    return
                # The queue is unreachable or busy: wait, then try again.
                log.warning("receiving from the queue failed: %s", exc)
                stop.wait(min(5.0, self.wait_seconds or 1))

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        messages = queue.receive(
            self.sqs,
            self.queue_url,
            max_messages=self.batch,
            wait_seconds=self.wait_seconds,
            visibility_timeout=self.visibility_timeout,
            attribute_names=["ApproximateReceiveCount"],
        )
        for index, message in enumerate(messages):
            if stop is not None and stop.is_set():
                # Stopping: give back what we have not started, at once.
                for rest in messages[index:]:
                    self._release(rest, 0)
                break
            self.process(message)
        return len(messages)

    def process(self, message: MessageTypeDef) -> MessageOutcome:
        message_id = str(message.get("MessageId", ""))
        receipt = message["ReceiptHandle"]
        started = time.perf_counter()
        try:
            with Heartbeat(self.sqs, self.queue_url, receipt, self.visibility_timeout):
                results = self.pipeline.handle_message(message.get("Body", ""))
        except EventError as exc:
            outcome = MessageOutcome(message_id, False, error=f"unreadable message: {exc}")
            log.error("message %s: %s (left for the dead-letter queue)", message_id, exc)
        except StorageError as exc:
            outcome = MessageOutcome(message_id, False, error=str(exc))
            log.warning("message %s: %s (will be retried)", message_id, exc)
            self._release(message, RETRY_DELAY)
        except Exception as exc:  # a bug: keep the message, keep the worker alive
            outcome = MessageOutcome(message_id, False, error=f"{type(exc).__name__}: {exc}")
            log.exception("message %s: unexpected error", message_id)
        else:
            queue.delete(self.sqs, self.queue_url, receipt)
            outcome = MessageOutcome(message_id, True, tuple(results))
            for r in results:
                log.info(
                    "%s s3://%s/%s: %s (%.0f ms)",
                    r.outcome.value,
                    r.ref.bucket,
                    r.ref.key,
                    r.detail,
                    (time.perf_counter() - started) * 1000,
                )
        if self.on_message is not None:
            self.on_message(outcome)
        return outcome

    def _release(self, message: MessageTypeDef, delay: int) -> None:
        try:
            queue.set_visibility(self.sqs, self.queue_url, message["ReceiptHandle"], delay)
        except Exception as exc:
            log.debug("could not release message: %s", exc)


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
