"""The operations commands, run as real subprocesses against the moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "2 messages shown" in listed.stdout

    moved = run(stack, "dlq", "redrive", *queues)
    assert moved.returncode == 0, moved.stderr
    assert "2 messages moved back" in moved.stdout
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


# --------------------------------------------------------------------------------------------
# Issue 14: a worker's configuration errors are permanent (exit 2, one line); network errors
# are retried.


def _bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell with no AWS profile, credentials or region (and no instance metadata)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIXELPIPE_", "AWS_")) and k != "HOME"
    }
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def _worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EXE), "worker", "--wait-seconds", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pixelpipe: error: ")
    for word in words:
        assert word in lines[0], lines[0]


CREDS = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}


def test_worker_without_credentials_exits_2_at_once(stack: Stack, tmp_path: Path) -> None:
    env = _bare_env(tmp_path, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=stack.endpoint)
    proc = _worker(env, "--queue-url", stack.queue_url, "--processed-bucket", stack.processed)
    _one_error_line(proc, "credentials")


def test_worker_without_a_region_exits_2(tmp_path: Path) -> None:
    env = _bare_env(tmp_path, **CREDS)
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    proc = _worker(env, "--queue-url", url, "--processed-bucket", "b")
    _one_error_line(proc, "region")


def test_worker_with_no_such_queue_or_bucket_exits_2(stack: Stack, tmp_path: Path) -> None:
    env = _bare_env(
        tmp_path, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=stack.endpoint, **CREDS
    )
    missing = stack.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    proc = _worker(env, "--queue-url", missing, "--processed-bucket", stack.processed)
    _one_error_line(proc, "no-such-queue")
    proc = _worker(env, "--queue-url", stack.queue_url, "--processed-bucket", "no-such-bucket")
    _one_error_line(proc, "no-such-bucket")


def test_worker_keeps_retrying_an_unreachable_endpoint(tmp_path: Path) -> None:
    from pixelpipe.local import free_port

    down = f"http://127.0.0.1:{free_port()}"
    env = _bare_env(tmp_path, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=down, **CREDS)
    proc = subprocess.Popen(
        [
            str(EXE),
            "worker",
            "--wait-seconds",
            "1",
            "--queue-url",
            f"{down}/q",
            "--processed-bucket",
            "b",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=8)  # still retrying
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_an_empty_dlq_says_so(stack: Stack) -> None:
    dlq_url = stack.sqs.create_queue(QueueName=f"empty-dlq-{stack.processed}")["QueueUrl"]
    queues = ("--queue-url", stack.queue_url, "--dlq-url", dlq_url)
    listed = run(stack, "dlq", "list", *queues)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == f"the dead-letter queue {dlq_url} is empty: no messages"
    moved = run(stack, "dlq", "redrive", *queues)
    assert moved.returncode == 0, moved.stderr
    assert "is empty: nothing to move" in moved.stdout


def test_status_piped_is_not_wrapped_mid_word(stack: Stack) -> None:
    # A long queue URL in the title and a pipe (80 columns by default): nothing is cut.
    long_name = "q-" + "x" * 70
    url = stack.sqs.create_queue(QueueName=long_name)["QueueUrl"]
    proc = run(stack, "status", "--queue-url", url, "--processed-bucket", stack.processed)
    assert proc.returncode == 0, proc.stderr
    assert url in proc.stdout
    assert any("images failed (failure records)" in line for line in proc.stdout.splitlines())
