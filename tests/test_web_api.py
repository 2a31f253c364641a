"""The web page's HTTP side, without a browser: ``pixelpipe up`` as a subprocess (its page on
a port the OS picked), plain HTTP requests; and the gallery's status derivation against the
session's moto server with the real pipeline writing manifests and failure records."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from moto_stack import Stack, image_bytes
from pixelpipe.events import ObjectRef
from pixelpipe.local import free_port
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.settings import EngineSettings
from pixelpipe.web.gallery import face_outputs
from pixelpipe.web.server import Gallery, GalleryConfig, WebServer, object_url
from test_local_stack import child_env
from web_stack import LABELS, SAMPLES, WebUp, listening_addresses

LIMIT = 300 * 1024  # --max-bytes of the shared stack
pytestmark = pytest.mark.xdist_group("web-api")  # one shared stack (make: --dist loadgroup)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUp]:
    # No --host: the defaults are under test too.
    with WebUp(tmp_path_factory.mktemp("web-api"), "--max-bytes", "300KiB") as stack:
        yield stack.wait_ready()


def unique(stem: str, ext: str = ".jpg") -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}{ext}"


# --------------------------------------------------------------------------------------------
# Start-up, binding, the page


def test_up_prints_the_page_and_binds_it_to_loopback_by_default(up: WebUp) -> None:
    assert up.url.startswith("http://127.0.0.1:")
    assert listening_addresses(up.ui_port) == {"127.0.0.1"}
    assert listening_addresses(up.port) == {"127.0.0.1"}  # the endpoint, as before


def test_the_page_and_its_files_are_served_locally_with_a_strict_policy(up: WebUp) -> None:
    status, headers, body = up.request("GET", "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    html = body.decode()
    assert '<input id="file-input" type="file" multiple>' in html
    for asset in ("/static/app.js", "/static/app.css", "/static/favicon.svg"):
        assert asset in html
        status, headers, content = up.request("GET", asset)
        assert status == 200, asset
        # Nothing is fetched from another host: no absolute URLs at all (an XML namespace
        # name is not fetched).
        content = re.sub(rb'xmlns="[^"]*"', b"", content)
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", content), asset
    assert not re.search(r"https?://", html)


def test_upload_then_the_gallery_shows_every_variant_with_bytes_and_times(up: WebUp) -> None:
    name = unique("street")
    data = (SAMPLES / "street.jpg").read_bytes()
    status, doc = up.upload(name, data)
    assert status == 201, doc
    assert doc == {
        "key": name,
        "etag": doc["etag"],
        "bytes": len(data),
        "content_type": "image/jpeg",
    }
    item = up.wait_status(name, "done")
    assert item["etag"] == doc["etag"]
    assert item["bytes"] == len(data)
    assert (item["width"], item["height"], item["format"]) == (1600, 1067, "JPEG")
    assert [v["label"] for v in item["variants"]] == list(LABELS)
    assert item["processing_ms"] > 0
    assert item["upload_to_done_ms"] is not None
    assert item["upload_to_done_ms"] >= 0
    for v in item["variants"]:
        status, headers, body = up.request("GET", v["url"])
        assert status == 200, v
        assert len(body) == v["bytes"] > 0
        assert headers["content-type"] == "image/jpeg"
        assert headers["content-disposition"].startswith("inline")
        status, headers, _ = up.request("GET", v["download"])
        assert status == 200
        assert headers["content-disposition"].startswith("attachment")
        assert f"filename*=UTF-8''pixelated-{v['label']}-{name}" in headers["content-disposition"]
    status, _, original = up.request("GET", item["url"])
    assert status == 200
    assert original == data


def test_the_same_file_uploaded_again_has_no_zero_upload_to_done_time(up: WebUp) -> None:
    """#23: the second upload of the same bytes is covered by the first one's manifest (written
    before it): no "ready 0 ms after upload", the manifest's processing time stays."""
    name = unique("again")
    data = (SAMPLES / "sprite.png").read_bytes()
    assert up.upload(name, data)[0] == 201
    first = up.wait_status(name, "done")
    assert first["upload_to_done_ms"] is not None
    assert first["reused"] is False
    time.sleep(1.5)  # S3's LastModified has whole seconds
    assert up.upload(name, data)[0] == 201
    deadline = time.monotonic() + 30
    while (item := up.item(name)) is not None and item["uploaded_at"] == first["uploaded_at"]:
        assert time.monotonic() < deadline, "the second upload never showed"
        time.sleep(0.1)
    item = up.wait_status(name, "done")
    assert item["etag"] == first["etag"]
    assert item["upload_to_done_ms"] is None
    assert item["reused"] is True
    assert item["processing_ms"] == first["processing_ms"]


def test_several_uploads_at_once(up: WebUp) -> None:
    names = [unique(f"multi{i}", ".png") for i in range(3)]
    for i, name in enumerate(names):
        status, _ = up.upload(name, image_bytes("PNG", size=(40, 30), seed=i))
        assert status == 201
    for name in names:
        assert len(up.wait_status(name, "done")["variants"]) == 5


def test_a_bad_file_is_failed_with_its_reason(up: WebUp) -> None:
    name = unique("notes")
    status, _ = up.upload(name, b"this is a text file, not a JPEG\n" * 10)
    assert status == 201
    item = up.wait_status(name, "failed")
    assert item["reason"] == "not a recognised image format"
    assert item["error_class"] == "UnsupportedImage"
    assert item["variants"] == []


def test_an_over_limit_upload_gets_413_with_a_reason_and_is_not_stored(up: WebUp) -> None:
    name = unique("big", ".png")
    status, doc = up.upload(name, b"\0" * (LIMIT + 1))
    assert status == 413
    assert doc["error"] == (
        "input is 300.0 KiB, over the 300.0 KiB upload limit (pixelpipe up --max-bytes)"
    )
    assert up.item(name) is None
    # Exactly the limit is fine.
    status, _ = up.upload(unique("edge", ".png"), b"\0" * LIMIT)
    assert status == 201


def test_an_upload_with_regions_hides_them_and_the_gallery_lists_them(up: WebUp) -> None:
    name = unique("plate")
    data = (SAMPLES / "street.jpg").read_bytes()
    status, doc = up.upload(name, data, "&regions=1168,618,124,42;0,0,10,10&faces=0")
    assert status == 201, doc
    item = up.wait_status(name, "done", "failed")
    assert item["status"] == "done", item
    region = {"source": "region", "score": None, "shape": "rect", "face": None, "ellipse": None}
    assert item["areas"] == [
        {"box": [1168, 618, 124, 42], **region},
        {"box": [0, 0, 10, 10], **region},
    ]
    # the stack's default sizes with regions: the area default, both anonymising (#21)
    assert [(v["label"], v["anonymised"]) for v in item["variants"]] == [
        ("3x3", True),
        ("5x5", True),
    ]
    assert up.state()["faces"]["default"] is False


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("&regions=1,2,3", "regions: '1,2,3' is not X,Y,W,H"),
        ("&faces=maybe", "faces must be true or false, got 'maybe'"),
    ],
)
def test_an_upload_with_malformed_areas_is_refused_and_not_stored(
    up: WebUp, query: str, reason: str
) -> None:
    name = unique("bad-area", ".png")
    status, doc = up.upload(name, image_bytes("PNG", size=(40, 30)), query)
    assert status == 400
    assert reason in doc["error"]
    assert up.item(name) is None


def test_a_huge_declared_length_is_refused_before_any_body_is_sent(up: WebUp) -> None:
    for expect in ({}, {"Expect": "100-continue"}):
        with socket.create_connection(("127.0.0.1", up.ui_port), timeout=10) as sock:
            head = (
                "POST /api/upload?name=huge.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "X-Pixelpipe-Upload: 1\r\nContent-Length: 1000000000000\r\n"
            )
            head += "".join(f"{k}: {v}\r\n" for k, v in expect.items()) + "\r\n"
            sock.sendall(head.encode())
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413 "), answer


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/%2E%2E%2F__init__.py",
        "/../../../../etc/passwd",
        "/static//etc/passwd",
        "/static/",
        "/static/.",
        "/index.html/../../server.py",
        "/objects/",
        "/objects/source",
        "/objects/source/",
        "/objects/secret/report.txt",
        "/objects/..%2Fsecret/report.txt",
        "/objects/source/..%2F..%2Fsecret%2Freport.txt",
        "/objects/source/does-not-exist.jpg",
        "/api/../static/app.js",
        "/api/nothing",
    ],
)
def test_request_paths_cannot_escape(up: WebUp, path: str) -> None:
    status, _, body = up.request("GET", path)
    assert status == 404, (path, body)


def test_only_the_two_buckets_are_served(up: WebUp) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=up.endpoint,
        region_name="us-east-1",
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
    )
    s3.create_bucket(Bucket="secret")
    s3.put_object(Bucket="secret", Key="report.txt", Body=b"secret")
    assert up.request("GET", "/objects/secret/report.txt")[0] == 404
    assert up.request("GET", object_url("source", "../secret/report.txt", ""))[0] == 404


def test_an_uploaded_page_is_never_served_as_a_page(up: WebUp) -> None:
    name = unique("page", ".html")
    status, _ = up.upload(name, b"<script>alert(1)</script>")
    assert status == 201
    status, headers, _ = up.request("GET", object_url("source", name, ""))
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"].startswith("attachment")
    assert "sandbox" in headers["content-security-policy"]


def test_upload_names_are_reduced_to_a_base_name(up: WebUp) -> None:
    stem = unique("escape", "")
    status, doc = up.upload(f"../../{stem}/x\\..\\{stem}.png", image_bytes("PNG", seed=3))
    assert status == 201
    assert doc["key"] == f"{stem}.png"
    for bad in ("", "..", "a/", "bad\nname.jpg"):
        status, doc = up.upload(bad, b"x")
        assert status == 400, bad
        assert doc["error"]


def test_uploads_from_other_sites_are_refused(up: WebUp) -> None:
    body = image_bytes("PNG", seed=4)
    # No custom header (what a cross-site form or a simple fetch sends).
    status, _, answer = up.request("POST", "/api/upload?name=x.png", body)
    assert status == 403
    assert json.loads(answer)["error"] == "uploads need the X-Pixelpipe-Upload: 1 header"
    status, _, answer = up.request(
        "POST",
        "/api/upload?name=x.png",
        body,
        {"X-Pixelpipe-Upload": "1", "Origin": "http://evil.example"},
    )
    assert status == 403
    assert "cross-origin" in json.loads(answer)["error"]
    # A page served by another name (DNS rebinding) gets nothing at all.
    status, _, _ = up.request("GET", "/api/state", headers={"Host": "evil.example"})
    assert status == 421
    for host in (f"localhost:{up.ui_port}", f"127.0.0.1:{up.ui_port}"):
        assert up.request("GET", "/api/state", headers={"Host": host})[0] == 200


def test_an_upload_without_a_length_is_refused(up: WebUp) -> None:
    status, _, answer = up.request(
        "POST",
        "/api/upload?name=x.png",
        None,
        {"X-Pixelpipe-Upload": "1", "Transfer-Encoding": "chunked"},
    )
    assert status == 411
    assert json.loads(answer)["error"]


# --------------------------------------------------------------------------------------------
# Flags


def _run_up(tmp: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixelpipe", "up", "--port", str(free_port()), *args],
        env=child_env(tmp),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_busy_ui_port_asked_for_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _run_up(tmp_path, "--ui-port", str(port), "--workers", "0")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"cannot serve the web page on 127.0.0.1:{port}" in done.stderr
    assert "--no-ui" in done.stderr


def test_no_ui_serves_no_page(tmp_path: Path) -> None:
    stack = WebUp(tmp_path, "--no-ui", "--workers", "0")
    try:

        def started() -> bool:
            assert stack.proc.poll() is None, stack.stderr()
            return "Ctrl-C to stop" in stack.stdout()

        deadline = time.monotonic() + 30
        while not started():
            assert time.monotonic() < deadline, "pixelpipe up did not start"
            time.sleep(0.2)
        assert "web page" not in stack.stdout()
        assert (
            "--ui-port"
            in subprocess.run(
                [sys.executable, "-m", "pixelpipe", "up", "--help"],
                capture_output=True,
                text=True,
                check=True,
                env=child_env(tmp_path),
            ).stdout
        )
    finally:
        stack.close()
    assert stack.proc.returncode == 0


def test_the_page_server_binds_loopback_unless_told() -> None:
    server = WebServer(port=0)
    try:
        assert server.host == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.httpd.loopback_only
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# Status derivation, against the real pipeline


def _process(stack: Stack, key: str) -> None:
    settings = stack.settings(source_bucket=stack.source)
    ref = ObjectRef(bucket=stack.source, key=key, kind="created")
    Pipeline(settings, stack.storage()).handle(ref)


def test_gallery_status_from_manifests_failure_records_and_the_queue(stack: Stack) -> None:
    gallery = Gallery(
        stack.s3,
        stack.sqs,
        GalleryConfig(stack.source, stack.processed, queue_url=stack.queue_url),
    )
    for message in stack.test_events:  # S3's test event, taken by the fixture: done with
        stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    stack.upload("a.jpg", image_bytes("JPEG", seed=1), content_type="image/jpeg")
    stack.upload("b.jpg", b"not an image at all")
    stack.upload("c.jpg", image_bytes("JPEG", seed=2))
    stack.upload("d.jpg", image_bytes("JPEG", seed=3))
    _process(stack, "a.jpg")
    _process(stack, "b.jpg")

    state = gallery.state()
    by_key = {i["key"]: i for i in state["items"]}
    assert by_key["a.jpg"]["status"] == "done"
    assert [v["label"] for v in by_key["a.jpg"]["variants"]] == list(LABELS)
    manifest = stack.read_json("_manifests/a.jpg.json")
    assert by_key["a.jpg"]["processing_ms"] == manifest["timings_ms"]["total"]
    assert [v["bytes"] for v in by_key["a.jpg"]["variants"]] == [
        o["bytes"] for o in manifest["outputs"]
    ]
    assert by_key["b.jpg"]["status"] == "failed"
    assert by_key["b.jpg"]["reason"] == "not a recognised image format"
    assert by_key["c.jpg"]["status"] == "queued"
    assert by_key["d.jpg"]["status"] == "queued"
    assert state["queue"] == {"waiting": 4, "in_flight": 0}

    # A worker takes a message: the oldest waiting object is shown as processing.
    stack.sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=1)
    by_key = {i["key"]: i for i in gallery.state()["items"]}
    assert by_key["c.jpg"]["status"] == "processing"
    assert by_key["d.jpg"]["status"] == "queued"
    assert by_key["a.jpg"]["status"] == "done"

    # A new version of a done object: its manifest is for the old eTag, so it waits again.
    stack.upload("a.jpg", image_bytes("JPEG", seed=9))
    item = next(i for i in gallery.state()["items"] if i["key"] == "a.jpg")
    assert item["status"] in ("queued", "processing")
    assert item["variants"] == []
    _process(stack, "a.jpg")
    item = next(i for i in gallery.state()["items"] if i["key"] == "a.jpg")
    assert item["status"] == "done"
    assert item["etag"] == stack.read_json("_manifests/a.jpg.json")["source"]["etag"]

    # Deleted sources leave the gallery.
    stack.delete("d.jpg")
    assert "d.jpg" not in {i["key"] for i in gallery.state()["items"]}


def test_the_gallery_says_which_outputs_anonymise(stack: Stack) -> None:
    """#21: each variant carries the manifest's ``anonymised``; the areas their shape; and
    ``faces.outputs`` says what an upload with faces on gets from these workers."""
    settings = stack.settings(source_bucket=stack.source, engine=EngineSettings(sizes=(5, 64)))
    regions = {"pixelpipe-regions": "4,4,20,10"}
    stack.upload("plate.jpg", image_bytes("JPEG", seed=4), metadata=regions)
    ref = ObjectRef(bucket=stack.source, key="plate.jpg", kind="created")
    assert Pipeline(settings, stack.storage()).handle(ref).outcome is Outcome.PROCESSED
    stack.upload("whole.jpg", image_bytes("JPEG", seed=5))
    ref = ObjectRef(bucket=stack.source, key="whole.jpg", kind="created")
    assert Pipeline(settings, stack.storage()).handle(ref).outcome is Outcome.PROCESSED
    outputs = face_outputs(settings.engine)
    config = GalleryConfig(stack.source, stack.processed, face_outputs=outputs)
    state = Gallery(stack.s3, stack.sqs, config).state()
    by_key = {i["key"]: i for i in state["items"]}
    plate = by_key["plate.jpg"]
    assert [(v["label"], v["anonymised"]) for v in plate["variants"]] == [
        ("5x5", True),
        ("64x64", False),
    ]
    assert plate["areas"] == [
        {
            "box": [4, 4, 20, 10],
            "source": "region",
            "score": None,
            "shape": "rect",
            "face": None,
            "ellipse": None,
        }
    ]
    assert [v["anonymised"] for v in by_key["whole.jpg"]["variants"]] == [None, None]
    assert "areas" not in by_key["whole.jpg"]
    assert state["faces"]["outputs"] == [
        {"label": "5x5", "anonymises": True},
        {"label": "64x64", "anonymises": False},
    ]


def test_what_an_upload_with_faces_gets() -> None:
    assert face_outputs(EngineSettings()) == (("3x3", True), ("5x5", True))  # area default
    assert face_outputs(EngineSettings(sizes=(4, 48))) == (("4x4", True), ("48x48", False))
    assert face_outputs(EngineSettings(block_px=(16,))) == (("16px", None),)  # per image
    assert face_outputs(EngineSettings(style="fill")) == (("fill", True),)
