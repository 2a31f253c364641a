"""pixelpipe.queue and pixelpipe.clients against real SQS (moto's server over HTTP)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from moto_stack import Stack
from pixelpipe import clients, queue


def new_queue(stack: Stack, **attributes: str) -> str:
    name = f"q-{uuid.uuid4().hex[:12]}"
    return str(stack.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def test_counts_waiting_in_flight_and_delayed(stack: Stack) -> None:
    url = new_queue(stack)
    assert queue.counts(stack.sqs, url) == queue.Counts(0, 0, 0)
    for i in range(3):
        queue.send(stack.sqs, url, f"m{i}")
    queue.send(stack.sqs, url, "later", DelaySeconds=300)
    got = queue.receive(stack.sqs, url, max_messages=1, visibility_timeout=60)
    assert len(got) == 1
    counts = queue.counts(stack.sqs, url)
    assert counts == queue.Counts(waiting=2, in_flight=1, delayed=1)
    assert counts.total == 4
    queue.delete(stack.sqs, url, got[0]["ReceiptHandle"])
    assert queue.counts(stack.sqs, url).in_flight == 0


def test_visibility_one_message_and_many(stack: Stack) -> None:
    url = new_queue(stack)
    for i in range(12):
        queue.send(stack.sqs, url, f"m{i}")
    got = []
    while len(got) < 12:
        batch = queue.receive(stack.sqs, url, max_messages=10, visibility_timeout=300)
        assert batch
        got.extend(batch)
    assert queue.counts(stack.sqs, url) == queue.Counts(waiting=0, in_flight=12, delayed=0)
    queue.set_visibility(stack.sqs, url, got[0]["ReceiptHandle"], 0)
    assert queue.counts(stack.sqs, url).waiting == 1
    queue.set_visibility_all(stack.sqs, url, [m["ReceiptHandle"] for m in got[1:]])  # 2 requests
    assert queue.counts(stack.sqs, url) == queue.Counts(waiting=12, in_flight=0, delayed=0)


def test_attributes_arn_and_visibility_timeout(stack: Stack) -> None:
    url = new_queue(stack, VisibilityTimeout="45")
    assert queue.visibility_timeout(stack.sqs, url) == 45
    assert queue.arn(stack.sqs, url).endswith(":" + url.rsplit("/", 1)[1])
    assert queue.attributes(stack.sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "45"}


def test_dead_letter_queue_from_the_redrive_policy(stack: Stack) -> None:
    dlq = new_queue(stack)
    policy = {"deadLetterTargetArn": queue.arn(stack.sqs, dlq), "maxReceiveCount": "3"}
    main = new_queue(stack, RedrivePolicy=json.dumps(policy))
    assert queue.dead_letter_queue(stack.sqs, main) == dlq
    assert queue.dead_letter_queue(stack.sqs, dlq) is None  # no policy of its own


def test_create_and_urls_by_name(stack: Stack) -> None:
    name = f"made-{uuid.uuid4().hex[:12]}"
    assert queue.url_of(stack.sqs, name) is None
    with pytest.raises(ClientError):
        queue.url(stack.sqs, name)
    url = queue.create(stack.sqs, name, {"VisibilityTimeout": "7"})
    assert queue.url(stack.sqs, name) == queue.url_of(stack.sqs, name) == url
    assert queue.visibility_timeout(stack.sqs, url) == 7
    assert queue.create(stack.sqs, name, {"VisibilityTimeout": "7"}) == url  # idempotent


def test_clients_are_made_once_per_endpoint_and_region(stack: Stack) -> None:
    assert clients.sqs_client(stack.endpoint) is clients.sqs_client(stack.endpoint)
    assert clients.s3_client(stack.endpoint) is clients.s3_client(stack.endpoint)
    assert clients.s3_client(stack.endpoint, "us-east-1") is not clients.s3_client(stack.endpoint)
    sqs = clients.sqs_client(stack.endpoint, "us-east-1")
    assert queue.counts(sqs, new_queue(stack)).total == 0
    config = clients.s3_client(stack.endpoint).meta.config
    assert config.retries is not None
    assert config.retries["mode"] == "standard"
    assert config.s3 == {"addressing_style": "path"}


def test_endpoint_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://env:1")
    assert clients.endpoint_url("http://flag:2") == "http://flag:2"
    assert clients.endpoint_url(None) == "http://env:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert clients.endpoint_url(None) is None
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert clients.endpoint_url("") is None
