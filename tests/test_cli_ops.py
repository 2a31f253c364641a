"""The operations commands, run as real subprocesses against the moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from moto_stack import Stack, image_bytes

EXE = Path(sys.executable).with_name("pixelpipe")


def run(stack: Stack, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPIPE_")}
    return subprocess.run(
        [str(EXE), *map(str, args), "--endpoint-url", stack.endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_upload_then_backfill_exactly_once(stack: Stack, tmp_path: Path) -> None:
    a = tmp_path / "a photo.jpg"
    a.write_bytes(image_bytes("JPEG", seed=1))
    b = tmp_path / "b.png"
    b.write_bytes(image_bytes("PNG", seed=2))
    proc = run(stack, "upload", a, b, tmp_path / "missing.jpg", "--bucket", stack.source)
    assert proc.returncode == 1  # one input refused
    assert f"s3://{stack.source}/a photo.jpg" in proc.stdout
    assert "missing.jpg" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert {"a photo.jpg", "b.png"} <= stack.objects(bucket=stack.source)

    where = ("--bucket", stack.source, "--processed-bucket", stack.processed, "--sizes", "8")
    dry = run(stack, "backfill", *where, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 objects" in dry.stdout
    assert "2 pending" in dry.stdout
    assert stack.objects() == set()  # a dry run writes nothing

    first = run(stack, "backfill", *where)
    assert first.returncode == 0, first.stderr
    assert "2 processed" in first.stdout
    manifests = {k for k in stack.objects() if k.startswith("_manifests/")}
    assert manifests == {"_manifests/a photo.jpg.json", "_manifests/b.png.json"}
    stamps = {k: stack.read_json(k)["processed_at"] for k in manifests}

    again = run(stack, "backfill", *where)
    assert again.returncode == 0
    assert "2 duplicate" in again.stdout
    assert {k: stack.read_json(k)["processed_at"] for k in manifests} == stamps


def test_status_and_dlq_commands(stack: Stack) -> None:
    dlq_url = stack.sqs.create_queue(QueueName=f"dlq-{stack.processed}")["QueueUrl"]
    body = json.dumps({"Records": []})
    for _ in range(2):
        stack.sqs.send_message(QueueUrl=dlq_url, MessageBody=body)
    queues = ("--queue-url", stack.queue_url, "--dlq-url", dlq_url)

    status = run(stack, "status", *queues, "--processed-bucket", stack.processed)
    assert status.returncode == 0, status.stderr
    assert "dead-letter queue" in status.stdout
    dlq_line = next(line for line in status.stdout.splitlines() if "dead-letter" in line)
    assert "2" in dlq_line

    listed = run(stack, "dlq", "list", *queues)
    assert listed.returncode == 0, listed.stderr
    assert "2 message(s) shown" in listed.stdout

    moved = run(stack, "dlq", "redrive", *queues)
    assert moved.returncode == 0, moved.stderr
    assert "2 message(s) moved back" in moved.stdout
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"


def test_unreachable_endpoint_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(EXE), "status", "--endpoint-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("pixelpipe: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
