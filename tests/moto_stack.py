"""A real S3 + SQS (+ SNS) stack over HTTP, from moto's server mode, for the pipeline tests.

* ``moto_endpoint`` (session): one ``ThreadedMotoServer`` on a free port per test session (per
  xdist worker), with fake credentials, ``us-east-1`` and ``AWS_ENDPOINT_URL`` in the
  environment for the whole session.
* ``stack`` (per test): uniquely named source and processed buckets and a queue; the source
  bucket notifies the queue of ``s3:ObjectCreated:*`` and ``s3:ObjectRemoved:*``. Helpers upload
  objects, take the *real* notification messages moto sends (the ``s3:TestEvent`` first, keys
  form-encoded), and wrap them in the Lambda event shapes.
* ``handler_env`` (per test): the Lambda function's environment for ``stack`` (monkeypatched),
  ``pixelpipe.handler.reset()`` before and after.
* ``RecordingStorage`` counts (and can fail) storage calls; ``Faults`` injects fake error
  responses into a boto3 client through botocore's event hooks (``before-call`` short-circuits
  the HTTP request, so botocore's retries do not slow the tests down).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import boto3
import botocore.awsrequest
import botocore.config
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

import pixelpipe.handler
from pixelpipe.local import free_port
from pixelpipe.settings import EngineSettings, Settings
from pixelpipe.storage import Storage

REGION = "us-east-1"
ACCOUNT = "123456789012"
_COUNTER = itertools.count()

# Every variable Settings.from_env reads (plain and PIXELPIPE_ names): cleared for each test so
# the developer's shell cannot change what the tests see.
PIPELINE_VARS = (
    "PROCESSED_BUCKET",
    "SOURCE_BUCKET",
    "SOURCE_PREFIX",
    "OUTPUT_KEY_TEMPLATE",
    "MANIFEST_PREFIX",
    "FAILURE_PREFIX",
    "DELETE_SYNC",
    "CACHE_CONTROL",
    "PIXEL_SIZES",
    "BLOCK_PX",
    "BLOCK_SHAPE",
    "OUTPUT_MODE",
    "OUTPUT_FORMAT",
    "OUTPUT_QUALITY",
    "KEEP_METADATA",
    "FRAMES",
    "MAX_INPUT_BYTES",
    "MAX_PIXELS",
)


# --------------------------------------------------------------------------------------------
# Images


def image_bytes(
    fmt: str = "JPEG", size: tuple[int, int] = (120, 90), seed: int = 0, **save: Any
) -> bytes:
    """A small deterministic picture (a colour gradient with a seed-dependent tint)."""
    w, h = size
    im = Image.new("RGB", size)
    im.putdata(
        [
            ((x * 255 // w + seed * 40) % 256, (y * 255 // h + seed * 90) % 256, (seed * 70) % 256)
            for y in range(h)
            for x in range(w)
        ]
    )
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# The server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session; its URL. AWS variables set for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": url,
        "POWERTOOLS_METRICS_NAMESPACE": "pixelpipe-tests",
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def new_client(service: str, endpoint: str, **config: Any) -> Any:
    """A fresh boto3 client (never pixelpipe's cached one) for the tests' own calls."""
    cfg = botocore.config.Config(
        retries={"mode": "standard", "max_attempts": 1},
        s3={"addressing_style": "path"},
        **config,
    )
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=cfg)


# --------------------------------------------------------------------------------------------
# The per-test stack


@dataclass
class Stack:
    endpoint: str
    s3: Any
    sqs: Any
    source: str
    processed: str
    queue_url: str
    queue_arn: str
    test_events: list[dict[str, Any]] = field(default_factory=list)
    # (bucket, key) -> (eTag, bytes) of every object the test put into a source bucket
    uploaded: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)

    # --- objects ----------------------------------------------------------------------------

    def upload(
        self,
        key: str,
        data: bytes,
        *,
        bucket: str | None = None,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Put an object; its eTag without quotes."""
        r = self.s3.put_object(
            Bucket=bucket or self.source,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata=dict(metadata or {}),
        )
        etag = str(r["ETag"]).strip('"')
        if (bucket or self.source) != self.processed or self.processed == self.source:
            self.uploaded[(bucket or self.source, key)] = (etag, data)
        return etag

    def delete(self, key: str, *, bucket: str | None = None) -> None:
        self.s3.delete_object(Bucket=bucket or self.source, Key=key)
        self.uploaded.pop((bucket or self.source, key), None)

    def verify_sources(self) -> None:
        """Every object the test uploaded (and did not delete) is there, byte for byte."""
        for (bucket, key), (etag, data) in self.uploaded.items():
            r = self.s3.get_object(Bucket=bucket, Key=key)
            assert str(r["ETag"]).strip('"') == etag, f"source s3://{bucket}/{key} was replaced"
            assert r["Body"].read() == data, f"source s3://{bucket}/{key} was modified"

    def head(self, key: str, *, bucket: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=bucket or self.processed, Key=key))
        except self.s3.exceptions.ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                return None
            raise

    def must_head(self, key: str, *, bucket: str | None = None) -> dict[str, Any]:
        head = self.head(key, bucket=bucket)
        assert head is not None, f"{key} does not exist"
        return head

    def read(self, key: str, *, bucket: str | None = None) -> bytes:
        return bytes(self.s3.get_object(Bucket=bucket or self.processed, Key=key)["Body"].read())

    def read_json(self, key: str, *, bucket: str | None = None) -> dict[str, Any]:
        doc = json.loads(self.read(key, bucket=bucket))
        assert isinstance(doc, dict)
        return doc

    def objects(self, bucket: str | None = None, prefix: str = "") -> set[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket or self.processed, Prefix=prefix
        )
        return {obj["Key"] for page in pages for obj in page.get("Contents", [])}

    def snapshot(self, bucket: str | None = None) -> dict[str, tuple[str, bytes]]:
        """Every object of a bucket: key -> (eTag, bytes). For 'never modified' checks."""
        bucket = bucket or self.source
        out = {}
        for key in sorted(self.objects(bucket)):
            r = self.s3.get_object(Bucket=bucket, Key=key)
            out[key] = (str(r["ETag"]).strip('"'), bytes(r["Body"].read()))
        return out

    def last_modified(self, bucket: str | None = None) -> dict[str, tuple[str, Any]]:
        """key -> (eTag, LastModified) for every object of a bucket (default: processed)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket or self.processed)
        return {
            obj["Key"]: (str(obj["ETag"]).strip('"'), obj["LastModified"])
            for page in pages
            for obj in page.get("Contents", [])
        }

    # --- notifications ----------------------------------------------------------------------

    def receive(self, count: int, *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Exactly ``count`` real notification messages (in the order moto queued them).

        S3 test events are set aside in ``test_events``; fails if fewer arrive in time or more
        are waiting.
        """
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            got.extend(self._poll(10))
        assert len(got) == count, f"expected {count} notifications, got {len(got)}: {got}"
        extra = self._poll(10)
        assert not extra, f"more notifications than expected: {extra}"
        return got

    def _poll(self, n: int) -> list[dict[str, Any]]:
        r = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=n,
            WaitTimeSeconds=0,
            VisibilityTimeout=300,
            AttributeNames=["All"],
        )
        out = []
        for message in r.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("Event") == "s3:TestEvent":
                self.test_events.append(message)
            else:
                out.append(message)
        return out

    def upload_and_receive(self, key: str, data: bytes, **kwargs: Any) -> tuple[str, dict]:
        """Upload, then take the one notification it caused: (eTag, message)."""
        etag = self.upload(key, data, **kwargs)
        (message,) = self.receive(1)
        record = json.loads(message["Body"])["Records"][0]
        assert record["s3"]["object"]["eTag"] == etag
        return etag, message

    def delete_and_receive(self, key: str) -> dict[str, Any]:
        self.delete(key)
        (message,) = self.receive(1)
        assert json.loads(message["Body"])["Records"][0]["eventName"].startswith("ObjectRemoved")
        return message

    def sqs_record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """One Lambda SQS record for a received message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def sqs_event(self, *messages: Mapping[str, Any]) -> dict[str, Any]:
        return {"Records": [self.sqs_record(m) for m in messages]}

    # --- settings ---------------------------------------------------------------------------

    def settings(self, **changes: Any) -> Settings:
        engine = changes.pop("engine", None) or EngineSettings()
        return Settings(
            processed_bucket=changes.pop("processed_bucket", self.processed),
            engine=engine,
            endpoint_url=self.endpoint,
            **changes,
        )

    def storage(self, **kwargs: Any) -> RecordingStorage:
        return RecordingStorage(s3=new_client("s3", self.endpoint), **kwargs)


def s3_record_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The S3 record inside a received notification message."""
    record = json.loads(message["Body"])["Records"][0]
    assert isinstance(record, dict)
    return record


def key_of(message: Mapping[str, Any]) -> str:
    return unquote_plus(s3_record_of(message)["s3"]["object"]["key"])


def message_with_body(message: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """A copy of a received message carrying another body (a new id, as SQS would give)."""
    return {
        **message,
        "MessageId": str(uuid.uuid4()),
        "Body": body if isinstance(body, str) else json.dumps(body),
    }


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_COUNTER)}-{uuid.uuid4().hex[:6]}"


def make_stack(endpoint: str, *, notify: bool = True) -> Stack:
    s3 = new_client("s3", endpoint)
    sqs = new_client("sqs", endpoint)
    source, processed = _unique("src"), _unique("out")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=processed)
    queue_url = sqs.create_queue(QueueName=_unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    stack = Stack(endpoint, s3, sqs, source, processed, queue_url, queue_arn)
    if notify:
        configure_notifications(stack, source)
    return stack


def configure_notifications(stack: Stack, bucket: str) -> None:
    stack.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": stack.queue_arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                }
            ]
        },
    )
    assert stack.receive(0) == []  # takes the s3:TestEvent S3 sends on configuration
    assert len(stack.test_events) >= 1


@pytest.fixture
def stack(moto_endpoint: str) -> Iterator[Stack]:
    """A fresh stack; at the end, every source object must be exactly as uploaded."""
    s = make_stack(moto_endpoint)
    yield s
    s.verify_sources()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No pixelpipe variable from the outside; the handler's pipeline rebuilt per test."""
    for name in PIPELINE_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("PIXELPIPE_" + name.removeprefix("PIXEL_"), raising=False)
    for name in list(os.environ):
        if name.startswith("PIXELPIPE_"):
            monkeypatch.delenv(name)
    pixelpipe.handler.reset()
    yield monkeypatch
    pixelpipe.handler.reset()


@pytest.fixture
def handler_env(stack: Stack, clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The Lambda function's configuration for ``stack`` (change it, then call reset())."""
    clean_env.setenv("PROCESSED_BUCKET", stack.processed)
    clean_env.setenv("SOURCE_BUCKET", stack.source)
    return clean_env


# --------------------------------------------------------------------------------------------
# Lambda


@dataclass
class FakeContext:
    function_name: str = "pixelpipe-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:pixelpipe-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def invoke(event: Mapping[str, Any]) -> dict[str, Any]:
    """``pixelpipe.handler.lambda_handler`` as Lambda calls it."""
    result = pixelpipe.handler.lambda_handler(event, FakeContext())
    assert isinstance(result, dict)
    return result


def failed_ids(response: Mapping[str, Any]) -> set[str]:
    return {item["itemIdentifier"] for item in response["batchItemFailures"]}


# --------------------------------------------------------------------------------------------
# Other event shapes, built from real objects


def eventbridge_event(
    bucket: str,
    key: str,
    etag: str | None,
    size: int | None,
    *,
    detail_type: str = "Object Created",
    sequencer: str = "0062E99A88DC407460",
) -> dict[str, Any]:
    """An S3 event as EventBridge delivers it (key not encoded), per AWS's documentation."""
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {"key": key, "sequencer": sequencer},
        "request-id": "57H08PA84AB1JZW0",
        "requester": ACCOUNT,
        "source-ip-address": "198.51.100.1",
        "reason": "PutObject" if detail_type == "Object Created" else "DeleteObject",
    }
    if etag is not None:
        detail["object"]["etag"] = etag
    if size is not None:
        detail["object"]["size"] = size
    if detail_type == "Object Deleted":
        detail["deletion-type"] = "Permanently Deleted"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2024-05-01T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": detail,
    }


def sns_envelope(s3_body: str, topic: str = "pixelpipe-topic") -> dict[str, Any]:
    """An SNS notification (as SNS delivers it to SQS without raw delivery) around a body."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
        "Subject": "Amazon S3 Notification",
        "Message": s3_body,
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def sns_lambda_event(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """SNS invoking a Lambda function directly with one notification."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{envelope['TopicArn']}:{uuid.uuid4()}",
                "Sns": {**envelope, "MessageAttributes": {}},
            }
        ]
    }


# --------------------------------------------------------------------------------------------
# Watching and failing storage calls


Hook = Callable[[str, str, str], None]  # (operation, bucket, key); raise to fail the call


class RecordingStorage(Storage):
    """pixelpipe's Storage with every call recorded as (operation, bucket, key).

    ``before`` runs ahead of each call and may raise (a fault); it sees the call's index among
    calls of the same operation through ``count(operation)``.
    """

    def __init__(self, s3: Any, before: Hook | None = None) -> None:
        super().__init__(s3=s3)
        self.calls: list[tuple[str, str, str]] = []
        self.before = before

    def _record(self, op: str, bucket: str, key: str) -> None:
        self.calls.append((op, bucket, key))
        if self.before is not None:
            self.before(op, bucket, key)

    def count(self, op: str, bucket: str | None = None) -> int:
        return sum(1 for o, b, _ in self.calls if o == op and bucket in (None, b))

    def keys_of(self, op: str) -> list[str]:
        return [k for o, _, k in self.calls if o == op]

    def head(self, bucket: str, key: str) -> Any:
        self._record("head", bucket, key)
        return super().head(bucket, key)

    def get(self, bucket: str, key: str, **kwargs: Any) -> Any:
        self._record("get", bucket, key)
        return super().get(bucket, key, **kwargs)

    def get_json(self, bucket: str, key: str) -> Any:
        self._record("get_json", bucket, key)
        return super().get_json(bucket, key)

    def put(self, bucket: str, key: str, data: bytes, **kwargs: Any) -> str:
        self._record("put", bucket, key)
        return super().put(bucket, key, data, **kwargs)

    def delete(self, bucket: str, key: str) -> None:
        self._record("delete", bucket, key)
        super().delete(bucket, key)


@dataclass
class Fault:
    operation: str  # botocore operation name: PutObject, GetObject, HeadObject, ...
    status: int
    code: str
    times: int | None = 1  # None: every call
    key: Callable[[str], bool] | None = None  # only for matching keys
    hits: int = 0


class Faults:
    """Fake error responses for a boto3 S3 client, through botocore's event hooks.

    ``before-parameter-build`` stores the call's parameters in the request context;
    ``before-call`` returns a fake HTTP response for a matching call, so the request never
    reaches the server (and botocore's retry loop, which lives in the HTTP layer, does not run).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.faults: list[Fault] = []
        self._id = f"pixelpipe-tests-faults-{uuid.uuid4().hex}"
        events = client.meta.events
        events.register("before-parameter-build.s3", self._remember, unique_id=self._id + "-p")
        events.register("before-call.s3", self._fake, unique_id=self._id + "-c")

    def add(self, operation: str, status: int = 503, code: str = "SlowDown", **kw: Any) -> Fault:
        fault = Fault(operation, status, code, **kw)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def close(self) -> None:
        events = self.client.meta.events
        events.unregister("before-parameter-build.s3", unique_id=self._id + "-p")
        events.unregister("before-call.s3", unique_id=self._id + "-c")

    def _remember(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["pixelpipe_tests_params"] = dict(params)

    def _fake(self, model: Any, context: Mapping[str, Any], **_: Any) -> Any:
        params = context.get("pixelpipe_tests_params", {})
        for fault in self.faults:
            if fault.operation != model.name:
                continue
            if fault.times is not None and fault.hits >= fault.times:
                continue
            if fault.key is not None and not fault.key(str(params.get("Key", ""))):
                continue
            fault.hits += 1
            http = botocore.awsrequest.AWSResponse(
                "http://fake", fault.status, {"x-amz-request-id": "FAKE"}, None
            )
            parsed = {
                "Error": {"Code": fault.code, "Message": f"fake {fault.code}"},
                "ResponseMetadata": {"HTTPStatusCode": fault.status, "HTTPHeaders": {}},
            }
            return http, parsed
        return None


@contextlib.contextmanager
def faults_on(client: Any) -> Iterator[Faults]:
    faults = Faults(client)
    try:
        yield faults
    finally:
        faults.close()
