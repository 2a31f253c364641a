"""boto3 clients, made here and nowhere else.

* The endpoint: the one given, else the standard ``AWS_ENDPOINT_URL``, else AWS's own
  (:func:`endpoint_url`). A custom endpoint (moto, MinIO, the local stack) gets path-style S3
  addressing.
* One configuration: botocore's ``standard`` retries (throttling, 5xx and network errors,
  with back-off), a short connect timeout and a read timeout above SQS's longest long poll.
* One client per process, service, endpoint and region, reused (boto3 clients are
  thread-safe, and a Lambda container keeps them warm across invocations).

Every S3 call then goes through :mod:`pixelpipe.storage` and every SQS call through
:mod:`pixelpipe.queue`; this module only makes the clients.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

MAX_ATTEMPTS = 5  # botocore's standard mode: the first call and 4 retries
CONNECT_TIMEOUT = 5  # seconds
READ_TIMEOUT = 60  # seconds; above SQS's longest long poll (20 s)


def endpoint_url(explicit: str | None = None) -> str | None:
    """``explicit``, else ``AWS_ENDPOINT_URL``, else None (boto3's own resolution: AWS)."""
    return explicit or os.environ.get("AWS_ENDPOINT_URL") or None


def _config(endpoint: str | None) -> Config:
    from botocore.config import Config  # here, not at import: file commands never load boto3

    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        s3={"addressing_style": "path"} if endpoint else None,
    )


@functools.cache
def s3_client(endpoint: str | None = None, region: str | None = None) -> S3Client:
    """The S3 client for ``endpoint`` (None: boto3's resolution, which reads
    ``AWS_ENDPOINT_URL`` itself) and ``region`` (None: the environment's)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=region, config=_config(endpoint))


@functools.cache
def sqs_client(endpoint: str | None = None, region: str | None = None) -> SQSClient:
    """The SQS client for ``endpoint`` and ``region``, as :func:`s3_client`."""
    import boto3

    return boto3.client("sqs", endpoint_url=endpoint, region_name=region, config=_config(endpoint))


__all__ = ["endpoint_url", "s3_client", "sqs_client"]
