"""pixelpipe.storage against a real S3 API (moto's server over HTTP); faults faked through
botocore's event hooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from moto_stack import Stack, faults_on, image_bytes, new_client
from pixelpipe import storage as st
from pixelpipe.errors import ImageError, ImageTooLarge
from pixelpipe.storage import Conflict, Storage, StorageError, TransientError


@pytest.fixture
def store(stack: Stack) -> Storage:
    return Storage(s3=new_client("s3", stack.endpoint))


class _TrackedBody:
    def __init__(self, body: Any, log: list[str]) -> None:
        self._body, self._log = body, log

    def read(self, *args: Any) -> bytes:
        self._log.append("read")
        return bytes(self._body.read(*args))

    def close(self) -> None:
        self._log.append("close")
        self._body.close()


class _BodyWatchingClient:
    """A real boto3 client whose get_object bodies record whether they were read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.log: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **kwargs: Any) -> Any:
        r = self._client.get_object(**kwargs)
        r["Body"] = _TrackedBody(r["Body"], self.log)
        return r


# --- head / get ------------------------------------------------------------------------------


def test_head_of_a_missing_key_is_none(stack: Stack, store: Storage) -> None:
    assert store.head(stack.source, "no/such/key.jpg") is None


def test_head_returns_the_current_state(stack: Stack, store: Storage) -> None:
    data = image_bytes()
    etag = stack.upload(
        "a b/ü.jpg", data, content_type="image/jpeg", metadata={"pixelpipe-output": "variant"}
    )
    info = store.head(stack.source, "a b/ü.jpg")
    assert info is not None
    assert (info.bucket, info.key, info.etag, info.size) == (
        stack.source,
        "a b/ü.jpg",
        etag,
        len(data),
    )
    assert not info.etag.startswith('"')
    assert info.content_type == "image/jpeg"
    assert info.last_modified is not None
    assert info.is_output
    stack.upload("plain.jpg", data)
    plain = store.head(stack.source, "plain.jpg")
    assert plain is not None
    assert not plain.is_output


def test_get_returns_the_bytes_and_none_when_missing(stack: Stack, store: Storage) -> None:
    data = image_bytes()
    stack.upload("x.jpg", data)
    assert store.get(stack.source, "x.jpg", max_bytes=len(data)) == data
    assert store.get(stack.source, "gone.jpg", max_bytes=10**6) is None


def test_get_refuses_content_length_over_the_limit_without_reading(stack: Stack) -> None:
    data = image_bytes()
    stack.upload("big.jpg", data)
    watching = _BodyWatchingClient(new_client("s3", stack.endpoint))
    store = Storage(s3=watching)
    with pytest.raises(ImageTooLarge) as info:
        store.get(stack.source, "big.jpg", max_bytes=len(data) - 1)
    assert isinstance(info.value, ImageError)
    assert "\n" not in info.value.reason
    assert "limit" in info.value.reason
    assert "read" not in watching.log
    assert "close" in watching.log
    # exactly at the limit is fine
    assert store.get(stack.source, "big.jpg", max_bytes=len(data)) == data


def test_get_if_match(stack: Stack, store: Storage) -> None:
    etag = stack.upload("v.jpg", b"version one")
    assert store.get(stack.source, "v.jpg", max_bytes=100, if_match=etag) == b"version one"
    stack.upload("v.jpg", b"version two")
    with pytest.raises(Conflict) as info:
        store.get(stack.source, "v.jpg", max_bytes=100, if_match=etag)
    assert isinstance(info.value, TransientError)  # a retry sees the new version


# --- put -------------------------------------------------------------------------------------


def test_put_sets_content_type_cache_control_and_metadata(stack: Stack, store: Storage) -> None:
    meta = {"pixelpipe-output": "variant", "pixelpipe-source-key": st.meta_value("ü/a b.jpg")}
    etag = store.put(
        stack.processed,
        "out/ü.png",
        b"\x89PNG data",
        content_type="image/png",
        metadata=meta,
        cache_control="max-age=60",
    )
    head = stack.head("out/ü.png")
    assert head is not None
    assert head["ETag"].strip('"') == etag
    assert head["ContentType"] == "image/png"
    assert head["CacheControl"] == "max-age=60"
    assert head["Metadata"] == meta
    assert unquote(head["Metadata"]["pixelpipe-source-key"]) == "ü/a b.jpg"
    assert stack.read("out/ü.png") == b"\x89PNG data"


def test_meta_value_is_ascii_and_round_trips() -> None:
    for text in ("photos/cat 1.jpg", "ünï/日本.jpg", "100%/a+b.jpg", "emoji 🐱.png"):
        value = st.meta_value(text)
        assert value.isascii()
        assert unquote(value) == text


def test_conditional_puts(stack: Stack, store: Storage) -> None:
    first = store.put(
        stack.processed, "m.json", b"1", content_type="text/plain", if_none_match=True
    )
    with pytest.raises(Conflict):
        store.put(stack.processed, "m.json", b"2", content_type="text/plain", if_none_match=True)
    with pytest.raises(Conflict):
        store.put(stack.processed, "m.json", b"3", content_type="text/plain", if_match="0" * 32)
    assert stack.read("m.json") == b"1"
    store.put(stack.processed, "m.json", b"4", content_type="text/plain", if_match=first)
    assert stack.read("m.json") == b"4"


def test_json_round_trip_and_damaged_documents(stack: Stack, store: Storage) -> None:
    doc = {"a": 1, "key": "ü/x.jpg"}
    etag = store.put_json(stack.processed, "d.json", doc, metadata={"pixelpipe-output": "m"})
    assert store.get_json(stack.processed, "d.json") == (doc, etag)
    head = stack.head("d.json")
    assert head is not None
    assert head["ContentType"] == "application/json"
    assert head["CacheControl"] == "no-cache"
    assert store.get_json(stack.processed, "missing.json") is None
    stack.upload("bad.json", b"{not json", bucket=stack.processed)
    assert store.get_json(stack.processed, "bad.json") is None
    stack.upload("list.json", b"[1, 2]", bucket=stack.processed)
    assert store.get_json(stack.processed, "list.json") is None


# --- delete / list ---------------------------------------------------------------------------


def test_delete_and_list(stack: Stack, store: Storage) -> None:
    for key in ("p/a.jpg", "p/b c.jpg", "q/c.jpg"):
        stack.upload(key, b"x", bucket=stack.processed)
    listed = {o.key: o for o in store.list(stack.processed, "p/")}
    assert set(listed) == {"p/a.jpg", "p/b c.jpg"}
    assert listed["p/a.jpg"].size == 1
    assert not listed["p/a.jpg"].etag.startswith('"')
    store.delete(stack.processed, "p/a.jpg")
    store.delete(stack.processed, "p/a.jpg")  # not there: fine
    assert stack.objects() == {"p/b c.jpg", "q/c.jpg"}


# --- error translation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable"), (429, "Throttling")],
)
def test_throttling_and_5xx_are_transient(stack: Stack, status: int, code: str) -> None:
    client = new_client("s3", stack.endpoint)
    store = Storage(s3=client)
    stack.upload("k.jpg", b"data")
    with faults_on(client) as faults:
        faults.add("PutObject", status, code, times=None)
        faults.add("GetObject", status, code, times=None)
        faults.add("HeadObject", status, code, times=None)
        faults.add("DeleteObject", status, code, times=None)
        faults.add("ListObjectsV2", status, code, times=None)
        calls = [
            lambda: store.put(stack.processed, "k", b"x", content_type="text/plain"),
            lambda: store.get(stack.source, "k.jpg", max_bytes=100),
            lambda: store.get_json(stack.processed, "k"),
            lambda: store.head(stack.source, "k.jpg"),
            lambda: store.delete(stack.processed, "k"),
            lambda: list(store.list(stack.processed)),
        ]
        for call in calls:
            with pytest.raises(TransientError) as info:
                call()
            assert not isinstance(info.value, Conflict)
            assert "\n" not in str(info.value)
    assert stack.objects() == set()  # the faked PUT never reached the server


def test_access_denied_is_a_storage_error_not_transient(stack: Stack) -> None:
    client = new_client("s3", stack.endpoint)
    store = Storage(s3=client)
    with faults_on(client) as faults:
        faults.add("PutObject", 403, "AccessDenied", times=None)
        faults.add("HeadObject", 403, "403", times=None)
        faults.add("GetObject", 403, "AccessDenied", times=None)
        with pytest.raises(StorageError) as put:
            store.put(stack.processed, "k", b"x", content_type="text/plain")
        with pytest.raises(StorageError) as head:
            store.head(stack.source, "k")
        with pytest.raises(StorageError) as get:
            store.get(stack.source, "k", max_bytes=10)
    for info in (put, head, get):
        assert not isinstance(info.value, TransientError)
    assert "AccessDenied" in str(put.value)


def test_412_on_put_is_a_conflict(stack: Stack) -> None:
    client = new_client("s3", stack.endpoint)
    with faults_on(client) as faults:
        faults.add("PutObject", 412, "PreconditionFailed")
        with pytest.raises(Conflict):
            Storage(s3=client).put(stack.processed, "k", b"x", content_type="text/plain")


def test_missing_bucket_is_a_storage_error(stack: Stack, store: Storage) -> None:
    """The module's contract: "no such bucket" is a deployment problem (StorageError), not a
    missing object. GET says NoSuchBucket in its body, so it must not come back as None ('the
    object is gone'). (HEAD cannot tell: its 404 has no body.)"""
    with pytest.raises(StorageError):
        store.put("no-such-bucket-pixelpipe", "k", b"x", content_type="text/plain")
    with pytest.raises(StorageError):
        store.get("no-such-bucket-pixelpipe", "k.jpg", max_bytes=100)
    with pytest.raises(StorageError):
        store.get_json("no-such-bucket-pixelpipe", "_manifests/k.jpg.json")


def test_connection_failure_is_transient() -> None:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = new_client("s3", f"http://127.0.0.1:{port}", connect_timeout=1)
    with pytest.raises(TransientError):
        Storage(s3=client).head("bucket", "key")


def test_client_is_cached_per_endpoint_with_standard_retries(stack: Stack) -> None:
    a = st.client(stack.endpoint)
    assert a is st.client(stack.endpoint)
    assert a.meta.endpoint_url == stack.endpoint
    assert a.meta.config.retries["mode"] == "standard"
    assert Storage(stack.endpoint).s3 is a


def test_list_objects_pages_past_1000_keys(stack: Stack) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s3 = new_client("s3", stack.endpoint, max_pool_connections=16)
    keys = [f"many/{i:05d}" for i in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=stack.processed, Key=k, Body=b"x"), keys))
    s3.put_object(Bucket=stack.processed, Key="other/one", Body=b"yy")
    listed = list(st.list_objects(s3, stack.processed, "many/"))
    assert [o.key for o in listed] == keys
    assert {o.size for o in listed} == {1}
    assert all(o.etag and '"' not in o.etag and o.last_modified for o in listed)
    assert st.count_objects(s3, stack.processed, "many/") == 1003
    assert st.count_objects(s3, stack.processed) == 1004
    assert [o.key for o in Storage(s3=s3).list(stack.processed, "other/")] == ["other/one"]
