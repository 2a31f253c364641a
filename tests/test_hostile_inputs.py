"""Hostile inputs (issue #8): every case of ``tests/hostile.py`` through the engine under an
address-space limit and a time bound, then through the pipeline against the real S3 (moto's
server) and through a real queue worker.

Memory limit: ``RLIMIT_AS`` = 1 GiB for the engine's process. A normal 12 MP photo peaks at
~250 MiB of address space (JPEG, PNG output) and ~470 MiB with WebP output; the largest inputs
the default limits accept (100 MP grayscale; 5000 one-pixel GIF frames) peak at ~300 MiB.
1 GiB is twice the worst normal case: an input that needs more is a finding (it would show as
``MemoryError`` -> ImageTooLarge "out of memory", or as a crash), not a pass.

Cases marked ``heavy`` take hundreds of MiB or seconds of CPU: they run one at a time across
xdist workers (a file lock), so two workers never each allocate that much at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import hostile
from moto_stack import Stack, image_bytes, new_client
from pixelpipe.keys import output_name
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.settings import EngineSettings
from pixelpipe.worker import MessageOutcome, Worker

LIMIT_MIB = 1024
WALL_LIMIT = 60.0  # per case, generous: 2 cores shared with the rest of the suite
LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")
HERE = Path(__file__).parent

# Through the pipeline and the worker: every case that the default settings apply to, minus
# the slow valid ones (their engine behaviour is covered above; the pipeline adds nothing).
PIPELINE_CASES = [
    c for c in hostile.CASES if not c.settings and not c.heavy and c.name != "aspect-1x1000000"
]


@contextlib.contextmanager
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A lock shared by every xdist worker of this session."""
    root = tmp_path_factory.getbasetemp()
    lock = (root.parent if root.name.startswith("popen-gw") else root) / "hostile-heavy.lock"
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_case(name: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "hostile.py"), "--limit-mib", str(LIMIT_MIB), name],
        capture_output=True,
        text=True,
        timeout=WALL_LIMIT + 60,  # building the input is not the engine's time
        check=False,
        cwd=HERE,
    )
    assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    return out


# --------------------------------------------------------------------------------------------
# The engine, in a subprocess under RLIMIT_AS


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda c: c.name)
def test_engine_bounded(case: hostile.Case, tmp_path_factory: pytest.TempPathFactory) -> None:
    lock = one_at_a_time(tmp_path_factory) if case.heavy else contextlib.nullcontext()
    with lock:
        out = run_case(case.name)
    assert out["limit_mib"] == LIMIT_MIB
    assert out["seconds"] < WALL_LIMIT, out
    assert out["peak_rss_mib"] < LIMIT_MIB, out
    if case.error is None:
        assert out["outcome"] == "ok", out
        assert out["formats"] == [case.out_format], out
        assert out["variants"] == len(LABELS)
        assert not out["gps"], "GPS reached an output"
        # Outputs are bounded by the image, never by what the file carried besides it.
        assert out["max_variant"] < max(4 << 20, 2 * out["input_bytes"]), out
    else:
        assert out["outcome"] == case.error, out
        reason = out["reason"]
        assert "\n" not in reason
        assert re.search(case.reason, reason), reason


def test_limit_is_enforced_on_the_engine_process() -> None:
    """The runner really applies the limit: what needs ~220 MiB fails under 160 MiB."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "hostile.py"), "--limit-mib", "160", "aspect-1000000x1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=HERE,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    # Either the engine says so in one line, or the interpreter could not even run it.
    assert out.get("outcome") != "ok", out


# --------------------------------------------------------------------------------------------
# In process, fast: specific regressions found by the corpus


def test_gif_with_identical_frames_is_written() -> None:
    """Pillow merges identical GIF frames; when all are identical it used to fail the encode."""
    from pixelpipe import pixelate

    result = pixelate(hostile.gif_frames(6, screen=(4, 4), blink=False, delay=5))
    for v in result.variants:
        with Image.open(io.BytesIO(v.data)) as im:
            assert im.format == "GIF"
            assert im.size == (4, 4)
            assert im.info.get("duration") == 6 * 50  # one frame showing for all six


def test_frames_first_counts_every_frame_of_a_long_animation() -> None:
    from pixelpipe import pixelate

    result = pixelate(hostile.gif_frames(6000), EngineSettings(frames="first"))
    assert result.source.frames == 6000
    assert all(v.frames == 1 for v in result.variants)


def test_icc_profile_kept_up_to_the_cap() -> None:
    from pixelpipe import engine, pixelate

    header = bytearray(128)
    header[16:20], header[36:40] = b"RGB ", b"acsp"
    small = bytes(header) + bytes(3000)
    big = bytes(header) + bytes(engine.MAX_ICC_BYTES)
    for icc, kept in ((small, True), (big, False)):
        data = hostile.encode(hostile.gradient(), "WEBP", icc_profile=icc)
        (v,) = pixelate(data, EngineSettings(sizes=(8,))).variants
        with Image.open(io.BytesIO(v.data)) as im:
            assert (im.info.get("icc_profile") == icc) is kept


# --------------------------------------------------------------------------------------------
# Through the pipeline (real S3) and a real worker


def expected_outputs(case: hostile.Case) -> set[str]:
    ext = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "webp": ".webp", "tiff": ".tiff"}
    fmt = case.out_format or ""
    name = output_name(case.key, fmt, ext[fmt])
    return {f"pixelated-{label}-{name}" for label in LABELS}


def check_stored(stack: Stack, case: hostile.Case, key: str) -> None:
    """The failure record (reason, class, source eTag) or the outputs, as the case says."""
    source_etag = stack.s3.head_object(Bucket=stack.source, Key=key)["ETag"].strip('"')
    if case.error is None:
        manifest = stack.read_json(f"_manifests/{key}.json")
        folder = key.rpartition("/")[0] + "/"
        assert {o["key"] for o in manifest["outputs"]} == {
            folder + n for n in expected_outputs(case)
        }
        for o in manifest["outputs"]:
            head = stack.must_head(o["key"])
            assert head["ContentType"] == f"image/{case.out_format}", o
        assert stack.head(f"_failures/{key}.json") is None
        return
    record = stack.read_json(f"_failures/{key}.json")
    assert record["error_class"] == case.error
    assert re.search(case.reason, record["reason"]), record["reason"]
    assert record["source"]["etag"] == source_etag
    assert stack.head(f"_manifests/{key}.json") is None
    assert stack.objects(prefix=key.rpartition("/")[0] + "/") == set()  # no outputs


def test_pipeline_records_each_hostile_input(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(source_bucket=stack.source), stack.storage())
    from pixelpipe.events import ObjectRef

    for case in PIPELINE_CASES:
        key = f"{case.name}/{case.key}"
        stack.upload(key, case.data)
        result = pipe.handle(ObjectRef(bucket=stack.source, key=key, kind="created"))
        if case.error is None:
            assert result.outcome is Outcome.PROCESSED, (case.name, result.detail)
        else:
            assert result.outcome is Outcome.FAILED, (case.name, result.detail)
            assert result.error_class == case.error, (case.name, result.detail)
        check_stored(stack, case, key)
    good = "after/good.jpg"
    stack.upload(good, image_bytes("JPEG", seed=8))
    result = pipe.handle(ObjectRef(bucket=stack.source, key=good, kind="created"))
    assert result.outcome is Outcome.PROCESSED
    # the stack fixture checks every source object is byte-for-byte as uploaded


def test_worker_keeps_going_through_the_corpus(stack: Stack) -> None:
    for message in stack.test_events:  # the queue holds only what this test puts in it
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    outcomes: list[MessageOutcome] = []
    lock = threading.Lock()

    def record(o: MessageOutcome) -> None:
        with lock:
            outcomes.append(o)

    pipe = Pipeline(stack.settings(source_bucket=stack.source), stack.storage())
    worker = Worker(
        pipe,
        new_client("sqs", stack.endpoint),
        stack.queue_url,
        wait_seconds=1,
        visibility_timeout=60,
        on_message=record,
    )
    keys = {}
    for case in PIPELINE_CASES:
        keys[case.name] = f"w-{case.name}/{case.key}"
        stack.upload(keys[case.name], case.data)
    good = "w-after/good.png"
    stack.upload(good, image_bytes("PNG", seed=9))
    total = len(keys) + 1

    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 90
        while len(outcomes) < total and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert len(outcomes) == total, [o.error for o in outcomes]
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    for case in PIPELINE_CASES:
        check_stored(stack, case, keys[case.name])
    assert stack.read_json(f"_manifests/{good}.json")["source"]["format"] == "PNG"
    attrs = stack.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attrs == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
