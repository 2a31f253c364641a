"""Security (issue #8, docs/SECURITY.md): loopback by default, no writes outside the output
folder, no secrets in logs, no EXIF/GPS in outputs unless asked."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from PIL import Image

from conftest import encode, exif_bytes, photo_like
from moto_stack import Stack, invoke
from pixelpipe import local
from pixelpipe.events import ObjectRef
from pixelpipe.keys import local_path
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.settings import EngineSettings
from test_faults import WorkerProcess
from test_local_stack import SOURCE, UpProcess, child_env, wait_for

# --------------------------------------------------------------------------------------------
# Loopback unless --host


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* shows them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                found.add(addr)
    return found


def test_defaults_are_loopback() -> None:
    assert local.DEFAULT_HOST == "127.0.0.1"
    assert local.LocalStack().host == "127.0.0.1"
    from pixelpipe.cli import up

    host = next(p for p in up.params if p.name == "host")
    assert host.default == "127.0.0.1"


def test_up_binds_loopback_without_host(tmp_path: Path) -> None:
    port = local.free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixelpipe", "up", "--port", str(port), "--workers", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(tmp_path),
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        addresses = wait_for(lambda: listening_addresses(port), 20, "the endpoint to listen")
        assert addresses == {"0100007F"}, addresses  # 127.0.0.1 only, not 0.0.0.0 or ::
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


# --------------------------------------------------------------------------------------------
# Keys cannot write outside the output folder


@pytest.mark.parametrize(
    "key",
    [
        "../evil.png",
        "a/../../evil.png",
        "a/b/../../../evil.png",
        "..",
        "..\\..\\evil.png",
        "a\\..\\..\\evil.png",
        "evil\x00.png",
        "",
        "/",
        "./",
    ],
)
def test_local_path_refuses_escapes(key: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot be written under"):
        local_path(str(tmp_path), key)


@pytest.mark.parametrize(
    ("key", "inside"),
    [
        ("photos/pixelated-8x8-cat.jpg", "photos/pixelated-8x8-cat.jpg"),
        ("/photos//./cat.jpg", "photos/cat.jpg"),
        ("/etc/passwd", "etc/passwd"),  # absolute: the leading slash is not followed
        ("//etc/passwd", "etc/passwd"),
        ("a\\b.png", "a/b.png"),
        ("..a/b..", "..a/b.."),
    ],
)
def test_local_path_keeps_keys_inside(key: str, inside: str, tmp_path: Path) -> None:
    path = Path(local_path(str(tmp_path), key))
    assert path == tmp_path / inside
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_pixelate_writes_only_into_the_output_folder(tmp_path: Path) -> None:
    """Input names with backslashes and dots (legal on POSIX) cannot steer the outputs."""
    src = tmp_path / "in"
    src.mkdir()
    names = ["..\\..\\evil.png", "..png", "...", "a\\..\\b.jpg"]
    for i, name in enumerate(names):
        (src / name).write_bytes(encode(photo_like(40, 30, seed=i), "PNG"))
    inputs = [str(src / name) for name in names]
    out = tmp_path / "deep" / "out"
    before = set(tmp_path.rglob("*"))
    done = subprocess.run(
        [sys.executable, "-m", "pixelpipe", "pixelate", *inputs, "-o", str(out), "--sizes", "8"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    created = set(tmp_path.rglob("*")) - before
    assert {p.parent for p in created if p.is_file()} == {out}
    assert len([p for p in created if p.is_file()]) == len(names)


# --------------------------------------------------------------------------------------------
# No secrets in logs


def test_worker_logs_carry_no_credentials(tmp_path: Path) -> None:
    secret = f"SECRET-{uuid.uuid4().hex}"
    token = f"TOKEN-{uuid.uuid4().hex}"
    up = UpProcess(tmp_path, workers=0).wait_ready()
    try:
        env_patch = {"AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}
        worker = WorkerProcess(tmp_path, "secret", up.queue_url, up.endpoint, env=env_patch)
        try:
            up.s3.put_object(
                Bucket=SOURCE, Key="sec/good.jpg", Body=encode(photo_like(64, 48), "JPEG")
            )
            up.s3.put_object(Bucket=SOURCE, Key="sec/bad.jpg", Body=b"<html>not an image</html>")
            up.sqs.send_message(QueueUrl=up.queue_url, MessageBody="not json")
            wait_for(
                lambda: "sec/good.jpg" in worker.text() and "sec/bad.jpg" in worker.text(),
                60,
                "the worker to log both objects",
            )
            wait_for(
                lambda: "left for the dead-letter queue" in worker.text(), 30, "the bad message"
            )
        finally:
            worker.close()
        logs = worker.text() + up.stdout() + up.stderr()
        assert " failed s3://source/sec/bad.jpg" in logs
        assert secret not in logs
        assert token not in logs
    finally:
        up.close()


def test_handler_logs_carry_no_credentials(
    stack: Stack,
    handler_env: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = f"SECRET-{uuid.uuid4().hex}"
    handler_env.setenv("AWS_SECRET_ACCESS_KEY", secret)
    _, good = stack.upload_and_receive("h/good.png", encode(photo_like(48, 32), "PNG"))
    _, bad = stack.upload_and_receive("h/bad.png", b"GIF89a-not-really")
    response = invoke(stack.sqs_event(good, bad))
    assert response == {"batchItemFailures": []}
    out, err = capfd.readouterr()
    logs = out + err + caplog.text
    assert '"ImagesFailed"' in logs  # the failure path ran and reported
    assert secret not in logs


# --------------------------------------------------------------------------------------------
# No EXIF/GPS in outputs unless asked


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as im:
        return dict(im.getexif().get_ifd(0x8825))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_outputs_in_the_bucket_carry_no_gps(stack: Stack, fmt: str) -> None:
    data = encode(photo_like(80, 60), fmt, exif=exif_bytes(gps=True))
    assert gps_of(data), "the fixture carries GPS"
    key = f"gps/photo.{fmt.lower()}"
    stack.upload(key, data)
    for keep, expect_gps in ((False, False), (True, True)):
        pipe = Pipeline(
            stack.settings(
                source_bucket=stack.source, engine=EngineSettings(keep_metadata=keep, sizes=(8, 16))
            ),
            stack.storage(),
        )
        result = pipe.handle(ObjectRef(bucket=stack.source, key=key, kind="created"))
        assert result.outcome is Outcome.PROCESSED
        for out in result.outputs:
            body = stack.read(out)
            assert bool(gps_of(body)) is expect_gps, (out, keep)
            if not keep:
                assert b"PixelCam" not in body  # the camera make, from the EXIF
