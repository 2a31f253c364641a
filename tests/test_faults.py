"""Faults in the local stack (issue #8), with real processes and a real network hop.

``pixelpipe up --workers 0`` runs the endpoint, buckets, queue and DLQ; two ``pixelpipe
worker`` processes reach it only through ``bench/proxy.py``, a fault-injecting HTTP proxy
(the test itself talks to the endpoint directly). In order, on one stack:

1. S3 throttling and 5xx on 20 % of the workers' S3 requests: every image is processed;
2. the endpoint unreachable for a few seconds: the workers log one line per failed receive,
   back off, recover, and process what was uploaded meanwhile;
3. a worker SIGKILLed while it holds a message (its GET stalled by the proxy): the message
   comes back after the visibility timeout and the other worker completes it;
4. a poison message (the proxy denies its object): DLQ after 3 receives, ``pixelpipe dlq
   list`` shows it, and once fixed ``pixelpipe dlq redrive`` brings it back and it completes.

At the end the processed bucket holds exactly the expected outputs and manifests (nothing lost,
nothing extra), both queues are empty, and no worker printed a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from moto_stack import image_bytes
from test_local_stack import (
    PROCESSED,
    SOURCE,
    UpProcess,
    alive,
    assert_processed,
    child_env,
    outputs_for,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from proxy import FaultProxy

VISIBILITY = 3


class StallingProxy(FaultProxy):
    """Holds GETs of ``stall_key`` until released, remembering the client's port."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stall_key: str | None = None
        self.stalled_port: int | None = None
        self.release = threading.Event()

    def before_forward(self, method: str, path: str, client_port: int) -> None:
        bucket, _, key = path.split("?")[0].lstrip("/").partition("/")
        if method == "GET" and bucket == SOURCE and key == self.stall_key:
            self.stalled_port = client_port
            self.release.wait(60)


class WorkerProcess:
    """``pixelpipe worker`` against the stack, in a session of its own; its output in a file
    (``env`` adds to the dummy environment)."""

    def __init__(
        self,
        tmp: Path,
        index: int | str,
        queue_url: str,
        endpoint: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.log = tmp / f"worker-{index}.err"
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pixelpipe",
                    "worker",
                    "--queue-url",
                    queue_url,
                    "--processed-bucket",
                    PROCESSED,
                    "--source-bucket",
                    SOURCE,
                    "--endpoint-url",
                    endpoint,
                    "--wait-seconds",
                    "1",
                ],
                stdout=err,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**child_env(tmp), **(env or {})},
                cwd=tmp,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def socket_owner(port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` has a TCP socket bound to local ``port`` (via /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return pid
    return None


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[UpProcess, StallingProxy, list[WorkerProcess]]]:
    up = UpProcess(tmp_path, "--visibility-timeout", str(VISIBILITY), workers=0)
    proxy: StallingProxy | None = None
    workers: list[WorkerProcess] = []
    try:
        up.wait_ready()
        proxy = StallingProxy(up.endpoint, (SOURCE, PROCESSED), seed=8).start()
        workers = [WorkerProcess(tmp_path, i, up.queue_url, proxy.url) for i in range(2)]
        yield up, proxy, workers
    finally:
        for w in workers:
            w.close()
        if proxy is not None:
            proxy.stop()
        up.close()


def upload(up: UpProcess, key: str, data: bytes) -> str:
    return str(up.s3.put_object(Bucket=SOURCE, Key=key, Body=data)["ETag"]).strip('"')


def wait_all(up: UpProcess, keys: dict[str, str], timeout: float, what: str) -> None:
    def done() -> bool:
        return all(up.head(f"_manifests/{k}.json") is not None for k in keys)

    wait_for(done, timeout, what, every=0.2)


def test_faults_nothing_lost(rig: tuple[UpProcess, StallingProxy, list[WorkerProcess]]) -> None:
    up, proxy, workers = rig
    expected: dict[str, str] = {}  # key -> eTag of every image that must end up processed

    # 1. Throttling and 5xx on a fifth of the workers' S3 requests.
    proxy.fault_rate = 0.2
    batch = {f"throttled/img-{i}.jpg": image_bytes("JPEG", (64, 48), seed=i) for i in range(8)}
    expected.update({k: upload(up, k, v) for k, v in batch.items()})
    wait_all(up, expected, 90, "every throttled image")
    assert sum(proxy.injected.values()) >= 5, proxy.injected
    proxy.fault_rate = 0.0

    # 2. The endpoint unreachable for a few seconds.
    proxy.down()
    outage = {f"outage/img-{i}.png": image_bytes("PNG", (64, 48), seed=20 + i) for i in range(3)}
    expected.update({k: upload(up, k, v) for k, v in outage.items()})

    def failed_receives() -> int:
        return sum(w.text().count("receiving from the queue failed") for w in workers)

    wait_for(lambda: failed_receives() >= 2, 60, "the workers to notice the outage", every=0.2)
    proxy.up()
    wait_all(up, expected, 60, "the images uploaded during the outage")
    for w in workers:
        assert w.proc.poll() is None, w.text()
        for line in w.text().splitlines():
            if "receiving from the queue failed" in line:
                assert line.count("receiving from the queue failed") == 1

    # 3. SIGKILL a worker while it holds a message.
    slow_key = "killed/slow.png"
    proxy.stall_key = slow_key
    expected[slow_key] = upload(up, slow_key, image_bytes("PNG", (80, 60), seed=40))
    more = {f"killed/img-{i}.jpg": image_bytes("JPEG", (64, 48), seed=50 + i) for i in range(4)}
    expected.update({k: upload(up, k, v) for k, v in more.items()})
    wait_for(lambda: proxy.stalled_port is not None, 30, "a worker to fetch the slow image")
    pids = [w.proc.pid for w in workers]
    victim = wait_for(lambda: socket_owner(proxy.stalled_port or 0, pids), 5, "the holder")
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not alive(victim), 5, "the killed worker to die")
    proxy.stall_key = None
    proxy.release.set()
    assert up.head(f"_manifests/{slow_key}.json") is None, "processed before the kill"
    wait_all(up, expected, 60, "the killed worker's message, by the other worker")
    survivor = next(w for w in workers if w.proc.pid != victim)
    assert survivor.proc.poll() is None

    # 4. A poison message: DLQ after 3 receives; list; fix; redrive; done.
    poison = "poison/p.jpg"
    proxy.deny = lambda method, key: key == poison
    etag = upload(up, poison, image_bytes("JPEG", (64, 48), seed=70))
    wait_for(lambda: up.counts(up.dlq_url)[0] == 1, 90, "the poison message in the DLQ", every=0.5)
    assert up.counts() == (0, 0)
    listed = pixelpipe_cli(up, "dlq", "list")
    assert f"s3://{SOURCE}/{poison}" in listed
    assert "received" in listed
    assert up.head(f"_manifests/{poison}.json") is None
    proxy.deny = None  # fixed
    moved = pixelpipe_cli(up, "dlq", "redrive")
    assert "1 message moved back" in moved
    expected[poison] = etag
    wait_all(up, expected, 60, "the redriven message")
    up.wait_idle()
    assert up.counts(up.dlq_url) == (0, 0)

    # Nothing lost, nothing extra, every output from the current source.
    for key, etag in expected.items():
        assert_processed(up, key, etag)
    want = {f"_manifests/{k}.json" for k in expected}.union(*(outputs_for(k) for k in expected))
    assert set(up.listing("")) == want
    for w in workers:
        assert "Traceback" not in w.text(), w.text()
    lines = survivor.text().splitlines()
    assert any(f"processed s3://{SOURCE}/{slow_key}" in line for line in lines)


def pixelpipe_cli(up: UpProcess, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pixelpipe", *args, "--endpoint-url", up.endpoint],
        env=child_env(up.tmp),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_proxy_counts_and_injects(tmp_path: Path) -> None:
    """The proxy itself: what it forwards arrives, what it injects is an S3 error."""
    up = UpProcess(tmp_path, workers=0)
    try:
        up.wait_ready()
        proxy = FaultProxy(up.endpoint, (SOURCE, PROCESSED)).start()
        try:
            from test_local_stack import client

            s3 = client("s3", proxy.url)
            s3.put_object(Bucket=PROCESSED, Key="a/b c.txt", Body=b"x")
            assert proxy.puts(PROCESSED) == {"a/b c.txt": 1}
            proxy.fault_rate = 1.0
            with pytest.raises(s3.exceptions.ClientError) as info:
                s3.head_object(Bucket=PROCESSED, Key="a/b c.txt")
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
            proxy.fault_rate = 0.0
            assert json.loads(
                json.dumps(s3.head_object(Bucket=PROCESSED, Key="a/b c.txt"), default=str)
            )
        finally:
            proxy.stop()
    finally:
        up.close()
