"""The queue: every SQS call pixelpipe makes, over a typed client.

Small functions over an ``SQSClient`` (from :func:`pixelpipe.clients.sqs_client`, or any
boto3 SQS client): receive, delete, change visibility (one message or a batch), send, the
queue's message counts and attributes, its dead-letter queue from the redrive policy, and
queue URLs by name. botocore's errors propagate unchanged: the callers (the worker, the
operations commands, the web page) each have their own policy for them.

Used by ``worker.py`` (receive, heartbeat, delete after success, release), ``ops.py``
(status, DLQ list and redrive), ``local.py`` (the stack's queues), ``web/`` (counts) and
``demo.py`` (waiting for the workers).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

BATCH = 10  # ReceiveMessage / ChangeMessageVisibilityBatch maximum
DEFAULT_VISIBILITY = 30  # SQS's default VisibilityTimeout, seconds
_MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


# --------------------------------------------------------------------------------------------
# messages


def receive(
    sqs: SQSClient,
    queue_url: str,
    *,
    max_messages: int = 1,
    wait_seconds: int = 0,
    visibility_timeout: int | None = None,
    attribute_names: Sequence[str] = (),
    message_attribute_names: Sequence[str] = (),
) -> list[MessageTypeDef]:
    """Up to ``max_messages`` messages (long poll of ``wait_seconds``), each hidden for
    ``visibility_timeout`` seconds (None: the queue's own); [] when none came."""
    args: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max_messages,
        "WaitTimeSeconds": wait_seconds,
    }
    if visibility_timeout is not None:
        args["VisibilityTimeout"] = visibility_timeout
    if attribute_names:
        args["AttributeNames"] = list(attribute_names)
    if message_attribute_names:
        args["MessageAttributeNames"] = list(message_attribute_names)
    return list(sqs.receive_message(**args).get("Messages", []))


def delete(sqs: SQSClient, queue_url: str, receipt: str) -> None:
    """Delete a received message (done with it)."""
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)


def set_visibility(sqs: SQSClient, queue_url: str, receipt: str, seconds: int) -> None:
    """Hide a received message for ``seconds`` from now (0: visible again at once)."""
    sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=seconds
    )


def set_visibility_all(
    sqs: SQSClient, queue_url: str, receipts: Iterable[str], seconds: int = 0
) -> None:
    """:func:`set_visibility` for many messages, ten per request."""
    pending = list(receipts)
    for start in range(0, len(pending), BATCH):
        chunk = pending[start : start + BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, handle in enumerate(chunk)
            ],
        )


def send(sqs: SQSClient, queue_url: str, body: str, **extra: Any) -> None:
    """Send one message; ``extra``: ``SendMessage``'s other arguments (message attributes,
    a FIFO queue's group and deduplication ids)."""
    sqs.send_message(QueueUrl=queue_url, MessageBody=body, **extra)


# --------------------------------------------------------------------------------------------
# the queue


@dataclass(frozen=True, slots=True)
class Counts:
    """A queue's approximate message counts (SQS's are estimates)."""

    waiting: int  # ApproximateNumberOfMessages: ready to be received
    in_flight: int  # ApproximateNumberOfMessagesNotVisible: received, not yet deleted
    delayed: int  # ApproximateNumberOfMessagesDelayed

    @property
    def total(self) -> int:
        return self.waiting + self.in_flight + self.delayed


def counts(sqs: SQSClient, queue_url: str) -> Counts:
    """The queue's message counts, in one request."""
    attrs = attributes(
        sqs,
        queue_url,
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    return Counts(
        waiting=int(attrs.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def attributes(sqs: SQSClient, queue_url: str, *names: QueueAttributeNameType) -> dict[str, str]:
    """The queue attributes ``names`` (those the queue has)."""
    found = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(names))
    return {str(name): value for name, value in found.get("Attributes", {}).items()}


def arn(sqs: SQSClient, queue_url: str) -> str:
    """The queue's ARN (also a cheap way to check that the queue exists and may be used)."""
    return str(attributes(sqs, queue_url, "QueueArn")["QueueArn"])


def visibility_timeout(sqs: SQSClient, queue_url: str) -> int:
    """The queue's ``VisibilityTimeout`` in seconds (at least 1)."""
    return max(1, int(attributes(sqs, queue_url, "VisibilityTimeout")["VisibilityTimeout"]))


def dead_letter_queue(sqs: SQSClient, queue_url: str) -> str | None:
    """The URL of the queue's dead-letter queue, from its redrive policy (None: none)."""
    policy = attributes(sqs, queue_url, "RedrivePolicy").get("RedrivePolicy")
    if not policy:
        return None
    target = str(json.loads(policy).get("deadLetterTargetArn", ""))
    name = target.rsplit(":", 1)[-1]
    account = target.split(":")[4] if target.count(":") >= 5 else None
    if not name:
        return None
    if account:
        return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def create(
    sqs: SQSClient, name: str, settings: Mapping[QueueAttributeNameType, str] | None = None
) -> str:
    """Create the queue ``name`` with the attributes ``settings`` (or find it, when it exists
    with those); its URL."""
    if settings:
        return sqs.create_queue(QueueName=name, Attributes=settings)["QueueUrl"]
    return sqs.create_queue(QueueName=name)["QueueUrl"]


def url(sqs: SQSClient, name: str) -> str:
    """The URL of the queue ``name`` (``ClientError`` when there is none)."""
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def url_of(sqs: SQSClient, name: str) -> str | None:
    """The URL of the queue ``name``; None when there is none (other errors propagate)."""
    try:
        return url(sqs, name)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) not in _MISSING_QUEUE_CODES:
            raise
        return None


__all__ = [
    "BATCH",
    "Counts",
    "arn",
    "attributes",
    "counts",
    "create",
    "dead_letter_queue",
    "delete",
    "receive",
    "send",
    "set_visibility",
    "set_visibility_all",
    "url",
    "url_of",
    "visibility_timeout",
]
