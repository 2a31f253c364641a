"""Storage: a thin layer over boto3 for S3 and S3-compatible stores.

* Every S3 call of pixelpipe goes through here: :class:`Storage` for the pipeline (errors
  translated), :func:`list_objects` for every listing (one pagination, botocore's errors
  untranslated for the adapters that handle them themselves).
* Clients come from :mod:`pixelpipe.clients` (endpoint from a setting or the standard
  ``AWS_ENDPOINT_URL``, ``standard`` retries, one per process and endpoint, reused across
  invocations: a Lambda container keeps them warm).
* Errors come out as pixelpipe errors with one-line reasons: :class:`TransientError` for what
  may succeed on a retry (throttling, 5xx, timeouts, connection failures),
  :class:`Conflict` when a conditional request lost a race, :class:`StorageError` otherwise
  (access denied, no such bucket: a deployment problem, not an image problem).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from .clients import s3_client
from .errors import ImageTooLarge, PixelpipeError, byte_limit_reason

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

# User metadata on every object pixelpipe writes. The marker lets any worker recognise an
# output and refuse to process it, whatever the bucket layout (the recursion guard).
OUTPUT_MARKER = "pixelpipe-output"
META_SOURCE_BUCKET = "pixelpipe-source-bucket"
META_SOURCE_KEY = "pixelpipe-source-key"
META_SOURCE_ETAG = "pixelpipe-source-etag"

_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)


class StorageError(PixelpipeError):
    """A storage request failed in a way a retry will not fix (access denied, no bucket)."""


class TransientError(StorageError):
    """A storage request failed in a way a retry may fix. Let the platform retry."""


class Conflict(TransientError):
    """A conditional request failed: the object changed under us (HTTP 412)."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    key: str
    etag: str  # without quotes
    size: int
    last_modified: datetime | None = None
    version_id: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_output(self) -> bool:
        return OUTPUT_MARKER in self.metadata


def client(endpoint_url: str | None = None) -> S3Client:
    """The process's S3 client for ``endpoint_url`` (``None``: boto3's own resolution)."""
    return s3_client(endpoint_url)


def list_objects(s3: S3Client, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
    """Every object under ``prefix``, in key order, one LIST request per 1000 (metadata not
    included). botocore's errors propagate as they are; :meth:`Storage.list` translates them."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            yield ObjectInfo(
                bucket=bucket,
                key=obj["Key"],
                etag=_strip(obj.get("ETag")),
                size=int(obj.get("Size", 0)),
                last_modified=obj.get("LastModified"),
            )


def count_objects(s3: S3Client, bucket: str, prefix: str = "") -> int:
    """How many objects are under ``prefix`` (one LIST request per 1000)."""
    return sum(1 for _ in list_objects(s3, bucket, prefix))


def upload(
    s3: S3Client,
    bucket: str,
    key: str,
    body: bytes | BinaryIO,
    *,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """Put an object for a user (bytes or an open file); its eTag. No ``content_type``: the
    store's default. botocore's errors propagate as they are (the CLI and the web page report
    them)."""
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
    if content_type:
        kwargs["ContentType"] = content_type
    if metadata:
        kwargs["Metadata"] = dict(metadata)
    return _strip(s3.put_object(**kwargs).get("ETag"))


def open_object(
    s3: S3Client, bucket: str, key: str, *, if_none_match: str | None = None
) -> GetObjectOutputTypeDef:
    """GET for streaming: the response, its ``Body`` unread (the caller closes it).
    botocore's errors propagate (304 with ``if_none_match``, 403, 404: the web page answers
    them)."""
    if if_none_match:
        return s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=if_none_match)
    return s3.get_object(Bucket=bucket, Key=key)


def read_object(s3: S3Client, bucket: str, key: str) -> bytes:
    """The whole object (small ones: manifests, the demo's variants); botocore's errors
    propagate, as with :func:`open_object`."""
    body = open_object(s3, bucket, key)["Body"]
    try:
        return body.read()
    finally:
        body.close()


def head_bucket(s3: S3Client, bucket: str) -> None:
    """Check that ``bucket`` exists and may be used; botocore's error when not (a HEAD: a
    404 or 403 with no error code), for the worker's start-up check to tell apart."""
    s3.head_bucket(Bucket=bucket)


def create_bucket(s3: S3Client, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket)


def notify_queue(s3: S3Client, bucket: str, queue_arn: str) -> None:
    """Send ``bucket``'s object-created and object-removed notifications to the queue."""
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )


def meta_value(text: str) -> str:
    """S3 user metadata is ASCII, and HTTP trims header values: percent-encode everything
    but letters, digits, ``/`` and ``-_.~`` (decode with ``urllib.parse.unquote``)."""
    return urllib.parse.quote(text, safe="/")


def _strip(etag: str | None) -> str:
    return (etag or "").strip('"')


def _translate(exc: Exception, action: str) -> StorageError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{action}: {code or status} {err.get('Message', '')}".strip()
        if status == 412 or code == "PreconditionFailed":
            return Conflict(f"{action}: the object changed meanwhile (precondition failed)")
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(message)
        return StorageError(message)
    return TransientError(f"{action}: {type(exc).__name__}: {exc}")  # network, timeouts


def _is_missing(exc: ClientError) -> bool:
    """The *object* is missing. A missing bucket is a deployment problem, not "gone"
    (HEAD's 404 has no body to tell them apart; GET's does)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return False
    return code in ("404", "NoSuchKey", "NotFound") or status == 404


T = TypeVar("T")


def _call_or_missing(call: Callable[[], T], action: str) -> T | None:
    """``call()``, None when the object is missing, other errors translated."""
    try:
        return call()
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise _translate(exc, action) from exc
    except BotoCoreError as exc:
        raise _translate(exc, action) from exc


class Storage:
    """S3 operations pixelpipe needs, with errors translated."""

    def __init__(self, endpoint_url: str | None = None, s3: S3Client | None = None) -> None:
        self.s3 = s3 if s3 is not None else client(endpoint_url)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's current state, or None if it does not exist."""
        r = _call_or_missing(
            lambda: self.s3.head_object(Bucket=bucket, Key=key), f"HEAD s3://{bucket}/{key}"
        )
        if r is None:
            return None
        return ObjectInfo(
            bucket=bucket,
            key=key,
            etag=_strip(r.get("ETag")),
            size=int(r.get("ContentLength", 0)),
            last_modified=r.get("LastModified"),
            version_id=r.get("VersionId"),
            content_type=r.get("ContentType"),
            metadata=dict(r.get("Metadata", {})),
        )

    def get(
        self, bucket: str, key: str, *, max_bytes: int, if_match: str | None = None
    ) -> bytes | None:
        """The object's bytes (None if it is gone). ``ContentLength`` is checked against
        ``max_bytes`` before the body is read; ``if_match`` pins the version seen by HEAD."""
        found = self._fetch(bucket, key, max_bytes=max_bytes, if_match=if_match)
        return found[0] if found else None

    def get_json(self, bucket: str, key: str) -> tuple[dict[str, Any], str] | None:
        """A JSON document and its eTag, or None if it does not exist (or is not JSON)."""
        found = self._fetch(bucket, key)
        if found is None:
            return None
        try:
            doc = json.loads(found[0])
        except ValueError:
            return None  # a damaged manifest counts as no manifest: the work is redone
        return (doc, found[1]) if isinstance(doc, dict) else None

    def _fetch(
        self, bucket: str, key: str, *, max_bytes: int | None = None, if_match: str | None = None
    ) -> tuple[bytes, str] | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if if_match:
            kwargs["IfMatch"] = f'"{if_match}"'

        def read() -> tuple[bytes, str]:
            r = self.s3.get_object(**kwargs)
            length = int(r.get("ContentLength", 0))
            if max_bytes is not None and length > max_bytes:
                r["Body"].close()
                raise ImageTooLarge(byte_limit_reason(length, max_bytes))
            return bytes(r["Body"].read()), _strip(r.get("ETag"))

        return _call_or_missing(read, f"GET s3://{bucket}/{key}")

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        """Write an object; returns its eTag. ``if_match``/``if_none_match`` make the write
        conditional (:class:`Conflict` when the condition fails)."""
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "Metadata": dict(metadata or {}),
        }
        if cache_control:
            kwargs["CacheControl"] = cache_control
        if if_match:
            kwargs["IfMatch"] = f'"{if_match}"'
        elif if_none_match:
            kwargs["IfNoneMatch"] = "*"
        try:
            r = self.s3.put_object(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"PUT s3://{bucket}/{key}") from exc
        return _strip(r.get("ETag"))

    def put_json(
        self,
        bucket: str,
        key: str,
        doc: Mapping[str, Any],
        *,
        metadata: Mapping[str, str] | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> str:
        data = json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False).encode()
        return self.put(
            bucket,
            key,
            data,
            content_type="application/json",
            metadata=metadata,
            cache_control="no-cache",
            if_match=if_match,
            if_none_match=if_none_match,
        )

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object; deleting what is not there is fine."""
        _call_or_missing(
            lambda: self.s3.delete_object(Bucket=bucket, Key=key), f"DELETE s3://{bucket}/{key}"
        )

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` (metadata not included)."""
        try:
            yield from list_objects(self.s3, bucket, prefix)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"LIST s3://{bucket}/{prefix}") from exc
