"""pixelpipe.worker.Worker in-process against real SQS + S3 (moto's server over HTTP).

Every test drives the worker with the real notification messages moto's S3 sends to the
``stack`` fixture's queue: delete only after success, back-off and retry after a transient
failure, unreadable messages left to the dead-letter queue, the visibility heartbeat during
a slow job, a prompt and clean ``run(stop)``, and several threads without duplicate work.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import pixelpipe.worker
from moto_stack import RecordingStorage, Stack, faults_on, image_bytes, new_client
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.storage import META_SOURCE_ETAG, TransientError
from pixelpipe.worker import MessageOutcome, Worker

LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")


def outputs_for(key: str) -> set[str]:
    folder, _, name = key.rpartition("/")
    folder = folder + "/" if folder else ""
    return {f"{folder}pixelated-{label}-{name}" for label in LABELS}


class Recorder:
    """Collects every MessageOutcome (the worker's ``on_message``), thread-safe."""

    def __init__(self) -> None:
        self.outcomes: list[MessageOutcome] = []
        self._lock = threading.Lock()

    def __call__(self, outcome: MessageOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def processed_keys(self) -> Counter[str]:
        with self._lock:
            return Counter(
                r.ref.key
                for o in self.outcomes
                for r in o.results
                if r.outcome is Outcome.PROCESSED
            )


@pytest.fixture
def stack(stack: Stack) -> Stack:
    """moto_stack's stack, with the S3 test event it left in flight deleted: the queue holds
    only what a test puts into it."""
    for message in stack.test_events:
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    assert queue_counts(stack) == (0, 0)
    return stack


def make_worker(
    stack: Stack,
    storage: RecordingStorage | None = None,
    *,
    recorder: Recorder | None = None,
    **kwargs: Any,
) -> Worker:
    kwargs.setdefault("wait_seconds", 0)
    kwargs.setdefault("visibility_timeout", 30)
    pipe = Pipeline(stack.settings(source_bucket=stack.source), storage or stack.storage())
    # The worker's own SQS client: it is used from the worker's threads and the heartbeat.
    sqs = new_client("sqs", stack.endpoint)
    return Worker(pipe, sqs, stack.queue_url, on_message=recorder, **kwargs)


def queue_counts(stack: Stack, queue_url: str | None = None) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=queue_url or stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    )


def assert_done(stack: Stack, key: str, etag: str) -> None:
    """All five variants (pointing back at ``etag``) and the manifest exist."""
    for out in outputs_for(key):
        head = stack.must_head(out)
        assert head["Metadata"][META_SOURCE_ETAG] == etag, out
    manifest = stack.read_json(f"_manifests/{key}.json")
    assert manifest["source"]["etag"] == etag
    assert {o["key"] for o in manifest["outputs"]} == outputs_for(key)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# --- delete after success --------------------------------------------------------------------


def test_message_deleted_only_after_success(stack: Stack) -> None:
    seen_in_flight: list[tuple[int, int]] = []

    def before(op: str, bucket: str, key: str) -> None:
        if op == "put" and key.startswith("_manifests/"):
            # The manifest is the last write: the message must still be held, not deleted.
            seen_in_flight.append(queue_counts(stack))

    storage = RecordingStorage(new_client("s3", stack.endpoint), before=before)
    recorder = Recorder()
    worker = make_worker(stack, storage, recorder=recorder)
    etag = stack.upload("photos/cat.jpg", image_bytes("JPEG", seed=1))

    assert worker.poll_once() == 1

    (outcome,) = recorder.outcomes
    assert outcome.ok, outcome.error
    assert [r.outcome for r in outcome.results] == [Outcome.PROCESSED]
    assert seen_in_flight == [(0, 1)]
    assert queue_counts(stack) == (0, 0)
    assert_done(stack, "photos/cat.jpg", etag)
    assert worker.poll_once() == 0  # nothing comes back


# --- transient failures ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["storage-hook", "http-503"])
def test_transient_failure_is_retried_after_back_off(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    monkeypatch.setattr(pixelpipe.worker, "RETRY_DELAY", 1)
    failures = {"left": 1}

    def before(op: str, bucket: str, key: str) -> None:
        if fault == "storage-hook" and op == "get" and bucket == stack.source and failures["left"]:
            failures["left"] -= 1
            raise TransientError("fake throttling")

    storage = RecordingStorage(new_client("s3", stack.endpoint), before=before)
    recorder = Recorder()
    # A long visibility timeout: only the worker's short back-off can bring the message back.
    worker = make_worker(stack, storage, recorder=recorder, visibility_timeout=60)
    etag = stack.upload("retry/dog.png", image_bytes("PNG", seed=2))

    with faults_on(storage.s3) as faults:
        if fault == "http-503":
            faults.add("GetObject", 503, "SlowDown", times=1, key=lambda k: k == "retry/dog.png")
        assert worker.poll_once() == 1
        failed = recorder.outcomes[-1]
        assert not failed.ok
        assert failed.results == ()
        # Not deleted: still in the queue (in flight until the back-off ends).
        assert queue_counts(stack) == (0, 1)
        assert stack.head("_manifests/retry/dog.png.json") is None

        t0 = time.monotonic()
        received = 0
        while received == 0:
            assert time.monotonic() - t0 < 10, "the message did not come back after the back-off"
            received = worker.poll_once()
            if received == 0:
                time.sleep(0.1)
        assert time.monotonic() - t0 >= 0.5  # not before the back-off

    assert len(recorder.outcomes) == 2
    assert recorder.outcomes[-1].ok, recorder.outcomes[-1].error
    assert recorder.processed_keys() == Counter({"retry/dog.png": 1})
    assert queue_counts(stack) == (0, 0)
    assert_done(stack, "retry/dog.png", etag)
    assert storage.keys_of("put").count("_manifests/retry/dog.png.json") == 1
    assert worker.poll_once() == 0


# --- unreadable messages ---------------------------------------------------------------------


def test_unparseable_message_is_kept_and_ends_in_the_dead_letter_queue(stack: Stack) -> None:
    dlq_url = stack.sqs.create_queue(QueueName=stack.queue_url.rsplit("/", 1)[1] + "-dlq")[
        "QueueUrl"
    ]
    dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    stack.sqs.set_queue_attributes(
        QueueUrl=stack.queue_url,
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
        },
    )
    recorder = Recorder()
    worker = make_worker(stack, recorder=recorder, visibility_timeout=1)
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="not json")

    assert worker.poll_once() == 1
    (first,) = recorder.outcomes
    assert not first.ok
    assert "unreadable" in first.error
    assert queue_counts(stack) == (0, 1)  # not deleted

    deadline = time.monotonic() + 15
    while queue_counts(stack, dlq_url)[0] == 0:
        assert time.monotonic() < deadline, "the message never reached the dead-letter queue"
        worker.poll_once()
        time.sleep(0.2)

    assert len(recorder.outcomes) == 2  # received twice (maxReceiveCount), then moved
    assert all(not o.ok and "unreadable" in o.error for o in recorder.outcomes)
    assert queue_counts(stack) == (0, 0)
    moved = stack.sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in moved] == ["not json"]
    assert stack.objects() == set()  # nothing was written for it


# --- heartbeat -------------------------------------------------------------------------------


def test_heartbeat_keeps_a_slow_message_invisible(stack: Stack) -> None:
    started = threading.Event()

    def before(op: str, bucket: str, key: str) -> None:
        if op == "get" and bucket == stack.source:
            started.set()
            time.sleep(5)  # well past the 2 s visibility timeout

    storage = RecordingStorage(new_client("s3", stack.endpoint), before=before)
    recorder = Recorder()
    worker = make_worker(stack, storage, recorder=recorder, visibility_timeout=2)
    etag = stack.upload("slow/owl.jpg", image_bytes("JPEG", seed=3))

    thread = threading.Thread(target=worker.poll_once)
    thread.start()
    try:
        assert started.wait(10), "the worker never fetched the source"
        # A second consumer polls throughout the slow job: it must never get the message.
        stolen = []
        while thread.is_alive():
            r = stack.sqs.receive_message(
                QueueUrl=stack.queue_url, WaitTimeSeconds=0, VisibilityTimeout=30
            )
            stolen.extend(r.get("Messages", []))
            if thread.is_alive():
                assert queue_counts(stack)[1] == 1 or not thread.is_alive()
            time.sleep(0.25)
    finally:
        thread.join(30)
    assert not thread.is_alive()
    assert stolen == []

    (outcome,) = recorder.outcomes
    assert outcome.ok, outcome.error
    assert recorder.processed_keys() == Counter({"slow/owl.jpg": 1})
    assert queue_counts(stack) == (0, 0)
    assert_done(stack, "slow/owl.jpg", etag)
    time.sleep(2.5)  # longer than the visibility timeout: nothing reappears
    assert worker.poll_once() == 0
    assert len(recorder.outcomes) == 1


# --- run(stop) -------------------------------------------------------------------------------


def test_run_returns_promptly_after_stop(stack: Stack) -> None:
    worker = make_worker(stack, wait_seconds=1, concurrency=2)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    stop.set()
    thread.join(10)
    assert not thread.is_alive(), "run(stop) did not return"
    assert time.monotonic() - t0 < 3.5  # at most one long poll (1 s) and change


def test_run_finishes_the_message_in_hand_after_stop(stack: Stack) -> None:
    started = threading.Event()

    def before(op: str, bucket: str, key: str) -> None:
        if op == "get" and bucket == stack.source:
            started.set()
            time.sleep(1.5)

    storage = RecordingStorage(new_client("s3", stack.endpoint), before=before)
    recorder = Recorder()
    worker = make_worker(stack, storage, recorder=recorder, wait_seconds=1)
    etag = stack.upload("stop/fox.jpg", image_bytes("JPEG", seed=4))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    assert started.wait(10), "the worker never fetched the source"
    stop.set()
    thread.join(15)
    assert not thread.is_alive(), "run(stop) did not return"

    (outcome,) = recorder.outcomes
    assert outcome.ok, outcome.error
    assert queue_counts(stack) == (0, 0)
    assert_done(stack, "stop/fox.jpg", etag)


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_threads_process_every_message_once(stack: Stack) -> None:
    lock = threading.Lock()
    active = {"now": 0, "max": 0}
    threads_seen: set[str] = set()

    def before(op: str, bucket: str, key: str) -> None:
        if op == "get" and bucket == stack.source:
            with lock:
                active["now"] += 1
                active["max"] = max(active["max"], active["now"])
                threads_seen.add(threading.current_thread().name)
            time.sleep(0.4)
            with lock:
                active["now"] -= 1

    storage = RecordingStorage(new_client("s3", stack.endpoint), before=before)
    recorder = Recorder()
    worker = make_worker(stack, storage, recorder=recorder, wait_seconds=1, concurrency=3)
    keys = [f"many/img-{i}.jpg" for i in range(8)]
    etags = {key: stack.upload(key, image_bytes("JPEG", seed=10 + i)) for i, key in enumerate(keys)}

    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: len(recorder.outcomes) >= len(keys), 30, "every message")
        time.sleep(1.5)  # room for a duplicate delivery to show up
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()

    assert len(recorder.outcomes) == len(keys)
    assert all(o.ok for o in recorder.outcomes), [o.error for o in recorder.outcomes]
    assert recorder.processed_keys() == Counter(dict.fromkeys(keys, 1))
    assert active["max"] >= 2, "messages were not processed in parallel"
    assert len(threads_seen) >= 2
    assert queue_counts(stack) == (0, 0)
    for key, etag in etags.items():
        assert_done(stack, key, etag)
    puts = Counter(storage.keys_of("put"))
    assert all(n == 1 for n in puts.values()), puts
    assert len(puts) == len(keys) * (len(LABELS) + 1)
