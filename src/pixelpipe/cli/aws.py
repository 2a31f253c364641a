"""Every AWS client the command line makes, and the queues it finds: the one place to change
when clients are made elsewhere. boto3 is imported here only when a command needs it."""

from __future__ import annotations

import json
import os
from typing import Any

from .. import local


def endpoint(endpoint_url: str | None) -> str | None:
    """``--endpoint-url``, else ``AWS_ENDPOINT_URL``, else None (AWS itself)."""
    return endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None


def clients(endpoint_url: str | None) -> tuple[Any, Any]:
    """(s3, sqs) for the operations commands: the local stack's way when an endpoint is
    given (path-style, its dummy credentials when none are set), else AWS's defaults."""
    url = endpoint(endpoint_url)
    if url:
        return local.clients(url)
    import boto3

    return boto3.client("s3"), boto3.client("sqs")


def worker_sqs(endpoint_url: str | None) -> Any:
    """The SQS client of ``pixelpipe worker`` (boto3's defaults; any endpoint)."""
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint_url)


def queues(sqs: Any, queue_url: str | None, dlq_url: str | None) -> tuple[str, str | None]:
    """(main queue, its dead-letter queue or None): as given, else found by redrive policy,
    else the local stack's queues by name."""
    from .. import ops

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
