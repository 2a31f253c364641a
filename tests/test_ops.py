"""pixelpipe.ops (upload, status, backfill, dlq list / redrive) against real S3 and SQS from
moto's server."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from moto_stack import RecordingStorage, Stack, image_bytes, key_of
from pixelpipe import ops
from pixelpipe.errors import SettingsError
from pixelpipe.events import ObjectRef
from pixelpipe.pipeline import Pipeline
from pixelpipe.storage import TransientError

LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")


def variants_of(key: str) -> set[str]:
    folder, slash, name = key.rpartition("/")
    return {f"{folder}{slash}pixelated-{label}-{name}" for label in LABELS}


def manifest_of(key: str) -> str:
    return f"_manifests/{key}.json"


# --- SQS helpers -----------------------------------------------------------------------------


def new_queue(stack: Stack, name: str | None = None, **attributes: str) -> str:
    name = name or f"ops-{uuid.uuid4().hex[:12]}"
    return str(stack.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def queue_arn(stack: Stack, url: str) -> str:
    attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def attach_dlq(stack: Stack, queue_url: str, *, max_receive: int = 1) -> str:
    """A new DLQ for ``queue_url`` (RedrivePolicy with ``max_receive``); its URL."""
    dlq_url = new_queue(stack)
    policy = {"deadLetterTargetArn": queue_arn(stack, dlq_url), "maxReceiveCount": max_receive}
    stack.sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
    return dlq_url


def counts(stack: Stack, url: str) -> tuple[int, int]:
    """(visible, in flight) of a queue."""
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    )


def fail_into_dlq(stack: Stack, queue_url: str) -> int:
    """Deliver every message of ``queue_url`` until SQS moves it to the DLQ (maxReceiveCount 1:
    received once, made visible again, then moved on the next receive). How many it took."""
    received = 0
    for _ in range(100):
        got = stack.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        received += len(got)
        if counts(stack, queue_url) == (0, 0):
            return received
        time.sleep(0.005)  # moto: "visible again" means a later millisecond
    raise AssertionError("the queue did not empty into its DLQ")


def settled_counts(stack: Stack, url: str, expected: tuple[int, int]) -> tuple[int, int]:
    """``counts`` once messages made visible again this millisecond are visible (moto shows a
    message whose visibility timeout was set to 0 from the next millisecond on)."""
    deadline = time.monotonic() + 1.0
    while (now := counts(stack, url)) != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return now


def drain(stack: Stack, url: str) -> list[dict[str, Any]]:
    """Every message of a queue (received and deleted), with attributes."""
    out: list[dict[str, Any]] = []
    while True:
        got = stack.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            return out
        for message in got:
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        out.extend(got)


@pytest.fixture
def dead_letters(stack: Stack) -> tuple[str, list[str]]:
    """The stack's queue with a DLQ holding three real notifications (keys with a space and
    non-ASCII) and one body that is not JSON (with a message attribute); (dlq_url, bodies)."""
    for message in stack.test_events:  # received (in flight) when notifications were set up
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    keys = ["a.jpg", "photos/my cat+1.jpg", "ünï/çødé.png"]
    for i, key in enumerate(keys):
        stack.upload(key, image_bytes(seed=i))
    stack.sqs.send_message(
        QueueUrl=stack.queue_url,
        MessageBody="not json",
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "tests"}},
    )
    dlq_url = attach_dlq(stack, stack.queue_url)
    assert fail_into_dlq(stack, stack.queue_url) == 4
    assert settled_counts(stack, dlq_url, (4, 0)) == (4, 0)
    assert counts(stack, stack.queue_url) == (0, 0)
    return dlq_url, keys


# --- upload ----------------------------------------------------------------------------------


def test_upload_puts_each_file_with_its_content_type(stack: Stack, tmp_path: Path) -> None:
    files = {
        "cat.jpg": image_bytes("JPEG"),
        "my photo ü+1.png": image_bytes("PNG", seed=2),
        "README": b"no extension",
        "backup.tar.gz": b"\x1f\x8b compressed",
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    results = ops.upload(stack.s3, stack.source, paths, prefix="in/")
    assert [r.ok for r in results] == [True] * 4
    assert [r.key for r in results] == [f"in/{name}" for name in files]
    assert [r.path for r in results] == paths
    octets = "application/octet-stream"
    assert [r.content_type for r in results] == ["image/jpeg", "image/png", octets, octets]
    for result, (name, data) in zip(results, files.items(), strict=True):
        head = stack.must_head(result.key, bucket=stack.source)
        assert head["ContentType"] == result.content_type
        assert head["ETag"].strip('"') == result.etag
        assert result.size == len(data)
        assert result.reason == ""
        assert stack.read(f"in/{name}", bucket=stack.source) == data
    # the notifications name the same keys, decoded exactly once
    assert sorted(key_of(m) for m in stack.receive(4)) == sorted(f"in/{n}" for n in files)


def test_upload_refuses_what_it_cannot_upload_and_goes_on(stack: Stack, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(image_bytes("PNG"))
    (tmp_path / "other").mkdir()
    twin = tmp_path / "other" / "good.png"  # the same key as good.png
    twin.write_bytes(b"another picture")
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    dangling = tmp_path / "link.jpg"
    dangling.symlink_to(tmp_path / "gone.jpg")
    paths = [tmp_path / "missing.jpg", folder, good, fifo, dangling, twin]
    results = ops.upload(stack.s3, stack.source, paths)
    assert [r.ok for r in results] == [False, False, True, False, False, False]
    reasons = [r.reason for r in results]
    assert reasons[0] == "cannot read: No such file or directory"
    assert reasons[1] == "is a directory"
    assert reasons[3] == "is not a regular file"
    assert reasons[4] == "cannot read: No such file or directory"
    assert reasons[5] == f"same key good.png as {good}; not overwritten"
    for r in results:
        assert "\n" not in r.reason
        assert (r.etag is None) == (not r.ok)
    assert stack.objects(stack.source) == {"good.png"}
    assert stack.read("good.png", bucket=stack.source) == good.read_bytes()
    assert [key_of(m) for m in stack.receive(1)] == ["good.png"]


def test_upload_refuses_a_name_that_is_not_utf8(stack: Stack, tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff.jpg"
    try:
        with open(raw, "wb") as f:
            f.write(b"x")
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    (result,) = ops.upload(stack.s3, stack.source, [Path(os.fsdecode(raw))])
    assert not result.ok
    assert "not valid UTF-8" in result.reason
    assert stack.objects(stack.source) == set()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_upload_refuses_an_unreadable_file(stack: Stack, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"x")
    secret.chmod(0)
    (result,) = ops.upload(stack.s3, stack.source, [secret])
    assert (result.ok, result.reason) == (False, "cannot read: Permission denied")
    assert stack.objects(stack.source) == set()


def test_content_type_for() -> None:
    assert ops.content_type_for("a.JPG") == "image/jpeg"
    assert ops.content_type_for("a.webp") == "image/webp"
    assert ops.content_type_for("a.svgz") == "application/octet-stream"  # gzip-encoded
    assert ops.content_type_for("Makefile") == "application/octet-stream"


# --- status ----------------------------------------------------------------------------------


def test_status_counts_messages_manifests_and_failures(stack: Stack) -> None:
    queue_url = new_queue(stack)
    dlq_url = attach_dlq(stack, queue_url, max_receive=5)
    for i in range(3):
        stack.sqs.send_message(QueueUrl=queue_url, MessageBody=f"m{i}")
    stack.sqs.send_message(QueueUrl=queue_url, MessageBody="later", DelaySeconds=300)
    got = stack.sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=300
    )["Messages"]
    assert len(got) == 1
    for i in range(2):
        stack.sqs.send_message(QueueUrl=dlq_url, MessageBody=f"dead{i}")

    pipe = Pipeline(stack.settings(), stack.storage())
    for key, data in (("a.jpg", image_bytes()), ("b/c.png", image_bytes("PNG")), ("x.jpg", b"?")):
        stack.upload(key, data)
        pipe.handle(ObjectRef(stack.source, key, "created"))
    stack.receive(3)

    def current(dlq: str | None) -> ops.Status:
        return ops.status(
            stack.sqs,
            stack.s3,
            queue_url=queue_url,
            dlq_url=dlq,
            processed_bucket=stack.processed,
            manifest_prefix="_manifests/",
            failure_prefix="_failures/",
        )

    assert current(dlq_url) == ops.Status(
        waiting=2, in_flight=1, delayed=1, dlq=2, processed=2, failed=1
    )
    assert current(None).dlq is None
    stack.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got[0]["ReceiptHandle"])
    after = current(dlq_url)
    assert (after.waiting, after.in_flight) == (2, 0)


# --- backfill --------------------------------------------------------------------------------


def preexisting(stack: Stack, objects: dict[str, bytes]) -> None:
    """Objects already in the source bucket, their notifications consumed (never processed)."""
    for key, data in objects.items():
        stack.upload(key, data, content_type="image/jpeg")
    stack.receive(len(objects))


def manifest_puts(storage: RecordingStorage) -> Counter[str]:
    return Counter(k for k in storage.keys_of("put") if k.startswith("_manifests/"))


def test_backfill_dry_run_counts_and_writes_nothing(stack: Stack) -> None:
    preexisting(stack, {"a.jpg": image_bytes(), "p/b.jpg": image_bytes(seed=1)})
    stack.upload("p/", b"")  # a folder marker
    stack.receive(1)
    storage = stack.storage()
    seen: list[ops.BackfillItem] = []
    report = ops.backfill(
        Pipeline(stack.settings(), storage), stack.source, dry_run=True, on_progress=seen.append
    )
    assert report.dry_run
    assert report.total == 3
    assert dict(report.counts) == {"pending": 2, "skipped": 1}
    assert not report.complete
    assert [(i.index, i.total, i.key, i.outcome) for i in seen] == [
        (1, 3, "a.jpg", "pending"),
        (2, 3, "p/", "skipped"),
        (3, 3, "p/b.jpg", "pending"),
    ]
    assert storage.count("put") == storage.count("delete") == storage.count("get") == 0
    assert stack.objects() == set()


def test_backfill_processes_each_object_once_and_is_resumable(stack: Stack) -> None:
    keys = ["a.jpg", "photos/my cat+1.jpg", "ü/çødé.jpg"]
    preexisting(stack, {key: image_bytes(seed=i) for i, key in enumerate(keys)})
    stack.upload("bad.jpg", b"not an image at all")
    stack.receive(1)
    storage = stack.storage()
    pipe = Pipeline(stack.settings(), storage)
    seen: list[ops.BackfillItem] = []

    report = ops.backfill(pipe, stack.source, on_progress=seen.append)
    assert dict(report.counts) == {"processed": 3, "failed": 1}
    assert report.errors == ()
    assert report.complete
    assert {i.key: i.outcome for i in seen} == {
        **dict.fromkeys(keys, "processed"),
        "bad.jpg": "failed",
    }
    assert manifest_puts(storage) == Counter(manifest_of(k) for k in keys)
    assert Counter(storage.keys_of("put")) == Counter(
        [
            *(v for k in keys for v in variants_of(k)),
            *map(manifest_of, keys),
            "_failures/bad.jpg.json",
        ]
    )
    expected = {v for k in keys for v in variants_of(k) | {manifest_of(k)}}
    assert stack.objects() == expected | {"_failures/bad.jpg.json"}

    again = stack.storage()
    second = ops.backfill(Pipeline(stack.settings(), again), stack.source)
    assert dict(second.counts) == {"duplicate": 4}
    assert again.count("put") == again.count("delete") == 0
    dry = ops.backfill(Pipeline(stack.settings(), stack.storage()), stack.source, dry_run=True)
    assert dict(dry.counts) == {"done": 3, "failed": 1}
    assert dry.complete


def test_backfill_after_a_settings_change_redoes_the_work(stack: Stack) -> None:
    preexisting(stack, {"a.jpg": image_bytes()})
    assert ops.backfill(Pipeline(stack.settings()), stack.source).count("processed") == 1
    engine = stack.settings().engine.replace(sizes=(8,))
    report = ops.backfill(Pipeline(stack.settings(engine=engine)), stack.source, dry_run=True)
    assert dict(report.counts) == {"pending": 1}


def test_backfill_prefix(stack: Stack) -> None:
    preexisting(stack, {"a/1.jpg": image_bytes(), "a/2.jpg": image_bytes(seed=1), "b/3.jpg": b"?"})
    report = ops.backfill(Pipeline(stack.settings(), stack.storage()), stack.source, prefix="a/")
    assert report.total == 2
    assert dict(report.counts) == {"processed": 2}
    assert stack.objects(prefix="_manifests/") == {manifest_of("a/1.jpg"), manifest_of("a/2.jpg")}
    assert stack.objects(prefix="_failures/") == set()


def test_backfill_lists_only_under_source_prefix(stack: Stack) -> None:
    preexisting(stack, {"in/1.jpg": image_bytes(), "elsewhere/2.jpg": image_bytes()})
    pipe = Pipeline(stack.settings(source_prefix="in/"), stack.storage())
    report = ops.backfill(pipe, stack.source)
    assert (report.total, dict(report.counts)) == (1, {"processed": 1})
    # a prefix outside SOURCE_PREFIX: listed, but every object is refused, nothing written
    outside = ops.backfill(pipe, stack.source, prefix="elsewhere/")
    assert dict(outside.counts) == {"skipped": 1}
    assert stack.objects(prefix="_manifests/") == {manifest_of("in/1.jpg")}


def test_backfill_records_a_transient_error_and_the_next_run_finishes(stack: Stack) -> None:
    keys = ["a.jpg", "b.jpg", "c.jpg"]
    preexisting(stack, {key: image_bytes(seed=i) for i, key in enumerate(keys)})
    broken = {"b.jpg"}

    def before(op: str, bucket: str, key: str) -> None:
        if op == "get" and key in broken:
            raise TransientError(f"GET s3://{bucket}/{key}: 503 SlowDown")

    storage = stack.storage(before=before)
    pipe = Pipeline(stack.settings(), storage)
    report = ops.backfill(pipe, stack.source)
    assert dict(report.counts) == {"processed": 2, "error": 1}
    assert report.errors == (
        ops.BackfillError("b.jpg", f"GET s3://{stack.source}/b.jpg: 503 SlowDown"),
    )
    assert not report.complete
    assert stack.objects(prefix="_manifests/") == {manifest_of("a.jpg"), manifest_of("c.jpg")}
    assert dict(ops.backfill(pipe, stack.source, dry_run=True).counts) == {
        "done": 2,
        "pending": 1,
    }

    broken.clear()
    before_rerun = len(storage.calls)
    rerun = ops.backfill(pipe, stack.source)
    assert dict(rerun.counts) == {"duplicate": 2, "processed": 1}
    assert rerun.errors == ()
    new_puts = [k for op, _, k in storage.calls[before_rerun:] if op == "put"]
    assert Counter(new_puts) == Counter([*variants_of("b.jpg"), manifest_of("b.jpg")])
    assert manifest_puts(storage) == Counter(manifest_of(k) for k in keys)


def test_backfill_lets_other_errors_propagate(stack: Stack) -> None:
    with pytest.raises(Exception, match="NoSuchBucket"):
        ops.backfill(Pipeline(stack.settings(), stack.storage()), "no-such-bucket-here")


# --- dead-letter queue -----------------------------------------------------------------------


def test_dlq_list_peeks_without_consuming(
    stack: Stack, dead_letters: tuple[str, list[str]]
) -> None:
    dlq_url, keys = dead_letters
    first = ops.dlq_list(stack.sqs, dlq_url)
    assert settled_counts(stack, dlq_url, (4, 0)) == (4, 0)
    second = ops.dlq_list(stack.sqs, dlq_url)
    assert len(first) == 4
    assert {m.message_id for m in first} == {m.message_id for m in second}
    assert settled_counts(stack, dlq_url, (4, 0)) == (4, 0)  # all still there, and visible
    parsed = [m for m in first if m.error is None]
    assert sorted(k for m in parsed for k in m.keys) == sorted(keys)
    assert all(len(m.refs) == 1 and m.refs[0].bucket == stack.source for m in parsed)
    (garbage,) = [m for m in first if m.error is not None]
    assert garbage.body == "not json"
    assert garbage.keys == ()
    assert garbage.error is not None
    assert garbage.error.startswith("message body is not JSON")
    now = datetime.now(UTC)
    for m in first:
        assert m.sent_at is not None
        assert now - timedelta(minutes=5) < m.sent_at <= now + timedelta(seconds=5)
        assert m.receive_count >= 2  # delivered once from the main queue, then peeked
    for a in first:
        (b,) = [m for m in second if m.message_id == a.message_id]
        assert b.receive_count == a.receive_count + 1


def test_dlq_list_pages_past_ten_and_honours_the_limit(stack: Stack) -> None:
    dlq_url = new_queue(stack)
    for i in range(13):
        stack.sqs.send_message(QueueUrl=dlq_url, MessageBody=f"body {i}")
    everything = ops.dlq_list(stack.sqs, dlq_url, limit=50)
    assert sorted(m.body for m in everything) == sorted(f"body {i}" for i in range(13))
    assert len({m.message_id for m in everything}) == 13
    assert settled_counts(stack, dlq_url, (13, 0)) == (13, 0)
    assert len(ops.dlq_list(stack.sqs, dlq_url, limit=3)) == 3
    assert ops.dlq_list(stack.sqs, dlq_url, limit=0) == []
    assert settled_counts(stack, dlq_url, (13, 0)) == (13, 0)
    assert ops.dlq_list(stack.sqs, new_queue(stack)) == []


def test_dlq_redrive_moves_everything_once(
    stack: Stack, dead_letters: tuple[str, list[str]]
) -> None:
    dlq_url, _ = dead_letters
    bodies = sorted(m.body for m in ops.dlq_list(stack.sqs, dlq_url))
    assert settled_counts(stack, dlq_url, (4, 0)) == (4, 0)
    assert ops.dlq_redrive(stack.sqs, dlq_url, stack.queue_url) == 4
    assert counts(stack, dlq_url) == (0, 0)
    stack.sqs.set_queue_attributes(QueueUrl=stack.queue_url, Attributes={"RedrivePolicy": ""})
    moved = drain(stack, stack.queue_url)
    assert sorted(m["Body"] for m in moved) == bodies
    (garbage,) = [m for m in moved if m["Body"] == "not json"]
    assert garbage["MessageAttributes"]["origin"]["StringValue"] == "tests"
    assert ops.dlq_redrive(stack.sqs, dlq_url, stack.queue_url) == 0


def test_dlq_redrive_limit(stack: Stack, dead_letters: tuple[str, list[str]]) -> None:
    dlq_url, _ = dead_letters
    assert ops.dlq_redrive(stack.sqs, dlq_url, stack.queue_url, limit=3) == 3
    assert counts(stack, dlq_url) == (1, 0)
    assert counts(stack, stack.queue_url) == (3, 0)


def test_dlq_redrive_keeps_messages_when_the_send_fails(
    stack: Stack, dead_letters: tuple[str, list[str]]
) -> None:
    dlq_url, _ = dead_letters
    missing = stack.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    with pytest.raises(ClientError):
        ops.dlq_redrive(stack.sqs, dlq_url, missing)
    assert settled_counts(stack, dlq_url, (4, 0)) == (4, 0)  # none deleted, visible again
    with pytest.raises(SettingsError):
        ops.dlq_redrive(stack.sqs, dlq_url, dlq_url)


def test_dlq_redrive_fifo_keeps_the_group(stack: Stack) -> None:
    name = f"ops-{uuid.uuid4().hex[:8]}"
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    main = new_queue(stack, f"{name}.fifo", **fifo)
    dlq = new_queue(stack, f"{name}-dlq.fifo", **fifo)
    for i in range(3):
        stack.sqs.send_message(
            QueueUrl=dlq, MessageBody=f"f{i}", MessageGroupId="g1", MessageDeduplicationId=f"d{i}"
        )
    assert ops.dlq_redrive(stack.sqs, dlq, main) == 3
    moved = drain(stack, main)
    assert sorted(m["Body"] for m in moved) == ["f0", "f1", "f2"]
    assert {m["Attributes"]["MessageGroupId"] for m in moved} == {"g1"}


def test_queue_urls(stack: Stack) -> None:
    name = f"ops-{uuid.uuid4().hex[:8]}"
    main = new_queue(stack, name)
    assert ops.queue_urls(stack.sqs, name, name + "-dlq") == (main, None)
    dlq = new_queue(stack, name + "-dlq")
    assert ops.queue_urls(stack.sqs, name, name + "-dlq") == (main, dlq)
    with pytest.raises(ClientError):
        ops.queue_urls(stack.sqs, name + "-missing", name + "-dlq")
