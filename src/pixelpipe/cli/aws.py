"""The AWS clients and queues the command line uses: made by ``clients.py`` like everyone
else's, found through ``queue.py``. boto3 is imported only when a command needs a client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import clients as aws_clients
from .. import local

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


def endpoint(endpoint_url: str | None) -> str | None:
    """``--endpoint-url``, else ``AWS_ENDPOINT_URL``, else None (AWS itself)."""
    return aws_clients.endpoint_url(endpoint_url)


def clients(endpoint_url: str | None) -> tuple[S3Client, SQSClient]:
    """(s3, sqs) for the operations commands: the local stack's way when an endpoint is
    given (path-style, its dummy credentials when none are set), else AWS's defaults."""
    url = endpoint(endpoint_url)
    if url:
        return local.clients(url)
    return aws_clients.s3_client(), aws_clients.sqs_client()


def worker_sqs(endpoint_url: str | None) -> SQSClient:
    """The SQS client of ``pixelpipe worker`` (boto3's defaults; any endpoint)."""
    return aws_clients.sqs_client(endpoint_url)


def queues(sqs: SQSClient, queue_url: str | None, dlq_url: str | None) -> tuple[str, str | None]:
    """(main queue, its dead-letter queue or None): as given, else found by redrive policy,
    else the local stack's queues by name."""
    from .. import ops
    from ..queue import dead_letter_queue

    if queue_url:
        return queue_url, dlq_url or dead_letter_queue(sqs, queue_url)
    main_url, found_dlq = ops.queue_urls(sqs, local.QUEUE_NAME, local.DLQ_NAME)
    return main_url, dlq_url or dead_letter_queue(sqs, main_url) or found_dlq
