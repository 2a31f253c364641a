"""pixelpipe.pipeline against real S3 (moto's server over HTTP), driven by the real notification
messages moto queues for each upload and delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

import pixelpipe
from conftest import decode
from moto_stack import (
    Stack,
    configure_notifications,
    faults_on,
    image_bytes,
    make_stack,
)
from pixelpipe.engine import pixelate
from pixelpipe.errors import SettingsError
from pixelpipe.events import ObjectRef, parse_message_body
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.settings import EngineSettings
from pixelpipe.storage import TransientError

LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")


def ref_of(message: dict[str, Any]) -> ObjectRef:
    (ref,) = parse_message_body(message["Body"])
    return ref


def outputs_for(key: str, ext_name: str | None = None) -> set[str]:
    folder, _, name = key.rpartition("/")
    folder = folder + "/" if folder else ""
    return {f"{folder}pixelated-{label}-{ext_name or name}" for label in LABELS}


def expected_variants(data: bytes, engine: EngineSettings, key: str) -> dict[str, bytes]:
    """What the engine makes of ``data``: output key -> bytes (default template)."""
    from pixelpipe.keys import DEFAULT_KEY_TEMPLATE, render

    return {render(DEFAULT_KEY_TEMPLATE, key, v): v.data for v in pixelate(data, engine).variants}


@pytest.fixture
def pipe(stack: Stack) -> Pipeline:
    return Pipeline(stack.settings(), stack.storage())


# --- outputs and manifest --------------------------------------------------------------------


def test_outputs_metadata_and_manifest(stack: Stack) -> None:
    storage = stack.storage()
    pipe = Pipeline(stack.settings(), storage)
    data = image_bytes("JPEG")
    etag, message = stack.upload_and_receive("photos/cat.jpg", data, content_type="image/jpeg")
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.PROCESSED
    expected = outputs_for("photos/cat.jpg")
    assert "photos/pixelated-8x8-cat.jpg" in expected
    assert set(result.outputs) == expected
    assert result.manifest_key == "_manifests/photos/cat.jpg.json"
    assert stack.objects() == expected | {"_manifests/photos/cat.jpg.json"}
    variants = expected_variants(data, pipe.settings.engine, "photos/cat.jpg")
    for key in expected:
        head = stack.head(key)
        assert head is not None
        assert head["ContentType"] == "image/jpeg"
        assert head["CacheControl"] == "max-age=86400"
        meta = head["Metadata"]
        assert meta["pixelpipe-output"] == "variant"
        assert meta["pixelpipe-source-bucket"] == stack.source
        assert unquote(meta["pixelpipe-source-key"]) == "photos/cat.jpg"
        assert meta["pixelpipe-source-etag"] == etag
        body = stack.read(key)
        assert body == variants[key]
        assert decode(body).size == (120, 90)

    manifest = stack.read_json("_manifests/photos/cat.jpg.json")
    src = manifest["source"]
    assert (src["bucket"], src["key"], src["etag"], src["size"]) == (
        stack.source,
        "photos/cat.jpg",
        etag,
        len(data),
    )
    assert (src["width"], src["height"], src["format"]) == (120, 90, "JPEG")
    assert manifest["engine_version"] == pixelpipe.__version__
    assert manifest["settings"]["engine"]["sizes"] == [8, 16, 32, 48, 64]
    assert manifest["settings"]["key_template"] == "{dir}pixelated-{label}-{name}"
    assert [o["size"] for o in manifest["outputs"]] == [8, 16, 32, 48, 64]
    for out in manifest["outputs"]:
        head = stack.head(out["key"])
        assert head is not None
        assert out["bytes"] == head["ContentLength"]
        assert out["content_type"] == head["ContentType"]
        assert out["format"] == "jpeg"
        assert (out["width"], out["height"]) == decode(stack.read(out["key"])).size
    for name in ("fetch", "engine", "store", "total"):
        assert isinstance(manifest["timings_ms"][name], int | float)
        assert manifest["timings_ms"][name] >= 0
    head = stack.head("_manifests/photos/cat.jpg.json")
    assert head is not None
    assert head["ContentType"] == "application/json"
    assert "pixelpipe-output" in head["Metadata"]
    # the manifest is the last write
    puts = storage.keys_of("put")
    assert puts[-1] == "_manifests/photos/cat.jpg.json"
    assert set(puts[:-1]) == expected


def test_png_source_keeps_png_and_format_setting_renames(stack: Stack) -> None:
    data = image_bytes("PNG")
    _, message = stack.upload_and_receive("a/b/pic.png", data)
    r = Pipeline(stack.settings(), stack.storage()).handle(ref_of(message))
    assert set(r.outputs) == outputs_for("a/b/pic.png")
    assert {stack.must_head(k)["ContentType"] for k in r.outputs} == {"image/png"}
    webp = Pipeline(
        stack.settings(engine=EngineSettings(sizes=(8,), format="webp")), stack.storage()
    ).handle(ref_of(message))
    assert webp.outcome is Outcome.PROCESSED  # new settings: the same eTag is done again
    assert webp.outputs == ("a/b/pixelated-8x8-pic.webp",)
    assert webp.detail == "1 variant"  # the worker's log line: not "1 variants" (#23)
    assert r.detail == "5 variants"
    assert stack.must_head("a/b/pixelated-8x8-pic.webp")["ContentType"] == "image/webp"
    # outputs the new settings no longer produce are gone
    assert stack.objects() == {"a/b/pixelated-8x8-pic.webp", "_manifests/a/b/pic.png.json"}


@pytest.mark.parametrize("fail_at", [1, 3, 5, 6])
def test_manifest_is_written_last(stack: Stack, fail_at: int) -> None:
    """A failure on the n-th PUT (the 6th is the manifest) leaves no manifest; a retry then
    completes everything."""

    def before(op: str, bucket: str, key: str) -> None:
        if op == "put" and storage.count("put") == fail_at:
            raise TransientError(f"injected failure on PUT #{fail_at}")
        if op == "put" and key.startswith("_manifests/"):
            # at the time the manifest is written, every output exists
            assert stack.objects() >= outputs_for("cat.jpg")

    storage = stack.storage(before=before)
    pipe = Pipeline(stack.settings(), storage)
    _, message = stack.upload_and_receive("cat.jpg", image_bytes())
    with pytest.raises(TransientError):
        pipe.handle(ref_of(message))
    assert "_manifests/cat.jpg.json" not in stack.objects()
    assert not any(k.startswith("_failures/") for k in stack.objects())
    storage.before = None
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.PROCESSED
    assert stack.objects() == outputs_for("cat.jpg") | {"_manifests/cat.jpg.json"}


# --- idempotency and ordering ----------------------------------------------------------------


def test_duplicate_delivery_does_no_work(stack: Stack) -> None:
    storage = stack.storage()
    pipe = Pipeline(stack.settings(), storage)
    _, message = stack.upload_and_receive("dup.jpg", image_bytes())
    assert pipe.handle(ref_of(message)).outcome is Outcome.PROCESSED
    before = stack.last_modified()
    puts, gets = storage.count("put"), storage.count("get")
    again = pipe.handle(ref_of(message))
    assert again.outcome is Outcome.DUPLICATE
    assert set(again.outputs) == outputs_for("dup.jpg")
    assert storage.count("put") == puts
    assert storage.count("get") == gets  # the source is not even downloaded
    assert stack.last_modified() == before


def test_late_event_for_an_older_version_is_stale(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(), stack.storage())
    v1, v2 = image_bytes(seed=1), image_bytes(seed=2)
    etag1 = stack.upload("k/cat.jpg", v1)
    etag2 = stack.upload("k/cat.jpg", v2)
    assert etag1 != etag2
    m1, m2 = stack.receive(2)
    assert ref_of(m1).etag == etag1
    assert ref_of(m2).etag == etag2
    assert pipe.handle(ref_of(m2)).outcome is Outcome.PROCESSED
    before = stack.last_modified()
    late = pipe.handle(ref_of(m1))
    assert late.outcome is Outcome.STALE
    assert stack.last_modified() == before
    assert stack.read_json("_manifests/k/cat.jpg.json")["source"]["etag"] == etag2
    for key, data in expected_variants(v2, pipe.settings.engine, "k/cat.jpg").items():
        assert stack.read(key) == data


def test_first_event_processes_the_current_version(stack: Stack) -> None:
    """v1's event handled after v2 landed: v2 is processed (never v1), v2's event is then a
    duplicate."""
    pipe = Pipeline(stack.settings(), stack.storage())
    v2 = image_bytes(seed=2)
    stack.upload("x.jpg", image_bytes(seed=1))
    etag2 = stack.upload("x.jpg", v2)
    m1, m2 = stack.receive(2)
    assert pipe.handle(ref_of(m1)).outcome is Outcome.PROCESSED
    assert stack.read_json("_manifests/x.jpg.json")["source"]["etag"] == etag2
    assert (
        stack.read("pixelated-8x8-x.jpg")
        == expected_variants(v2, pipe.settings.engine, "x.jpg")["pixelated-8x8-x.jpg"]
    )
    assert pipe.handle(ref_of(m2)).outcome is Outcome.DUPLICATE


def test_newer_version_replaces_outputs_and_manifest(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(), stack.storage())
    _, m1 = stack.upload_and_receive("n.png", image_bytes("PNG", seed=1))
    assert pipe.handle(ref_of(m1)).outcome is Outcome.PROCESSED
    v2 = image_bytes("PNG", seed=3, size=(64, 48))
    etag2, m2 = stack.upload_and_receive("n.png", v2)
    assert pipe.handle(ref_of(m2)).outcome is Outcome.PROCESSED
    manifest = stack.read_json("_manifests/n.png.json")
    assert manifest["source"]["etag"] == etag2
    assert manifest["source"]["size"] == len(v2)
    for key, data in expected_variants(v2, pipe.settings.engine, "n.png").items():
        assert stack.read(key) == data
        assert decode(data).size == (64, 48)
        assert stack.must_head(key)["Metadata"]["pixelpipe-source-etag"] == etag2
    assert pipe.handle(ref_of(m1)).outcome is Outcome.STALE


def test_changed_sizes_reprocess_and_remove_outputs_no_longer_produced(stack: Stack) -> None:
    engine = EngineSettings(sizes=(8, 16, 32))
    first = Pipeline(stack.settings(engine=engine), stack.storage())
    etag, message = stack.upload_and_receive("s.jpg", image_bytes())
    assert first.handle(ref_of(message)).outcome is Outcome.PROCESSED
    assert first.handle(ref_of(message)).outcome is Outcome.DUPLICATE
    second = Pipeline(stack.settings(engine=EngineSettings(sizes=(8, 24))), stack.storage())
    result = second.handle(ref_of(message))
    assert result.outcome is Outcome.PROCESSED
    assert set(result.outputs) == {"pixelated-8x8-s.jpg", "pixelated-24x24-s.jpg"}
    assert stack.objects() == {
        "pixelated-8x8-s.jpg",
        "pixelated-24x24-s.jpg",
        "_manifests/s.jpg.json",
    }
    manifest = stack.read_json("_manifests/s.jpg.json")
    assert [o["key"] for o in manifest["outputs"]] == [
        "pixelated-8x8-s.jpg",
        "pixelated-24x24-s.jpg",
    ]
    assert manifest["source"]["etag"] == etag


def test_source_replaced_while_processing_gives_the_new_versions_outputs(stack: Stack) -> None:
    v2 = image_bytes(seed=5)

    def before(op: str, bucket: str, key: str) -> None:
        if op == "put" and storage.count("put") == 1:
            stack.upload("race.jpg", v2)

    storage = stack.storage(before=before)
    pipe = Pipeline(stack.settings(), storage)
    _, message = stack.upload_and_receive("race.jpg", image_bytes(seed=4))
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.PROCESSED
    etag2 = stack.uploaded[(stack.source, "race.jpg")][0]
    assert stack.read_json("_manifests/race.jpg.json")["source"]["etag"] == etag2
    for key, data in expected_variants(v2, pipe.settings.engine, "race.jpg").items():
        assert stack.read(key) == data
        assert stack.must_head(key)["Metadata"]["pixelpipe-source-etag"] == etag2


def test_source_replaced_by_a_non_image_while_processing_leaves_no_outputs(stack: Stack) -> None:
    """The first attempt's outputs show an image that no longer exists; the failure of the
    new version must not leave them behind without a manifest."""

    def before(op: str, bucket: str, key: str) -> None:
        if op == "put" and storage.count("put") == 1:
            stack.upload("race.jpg", b"this is not an image")

    storage = stack.storage(before=before)
    pipe = Pipeline(stack.settings(), storage)
    _, message = stack.upload_and_receive("race.jpg", image_bytes(seed=4))
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.FAILED
    assert stack.objects() == {"_failures/race.jpg.json"}


def test_source_deleted_while_processing_leaves_nothing(stack: Stack) -> None:
    def before(op: str, bucket: str, key: str) -> None:
        if op == "put" and storage.count("put") == 2:
            stack.delete("gone.jpg")

    storage = stack.storage(before=before)
    pipe = Pipeline(stack.settings(), storage)
    _, message = stack.upload_and_receive("gone.jpg", image_bytes())
    assert pipe.handle(ref_of(message)).outcome is Outcome.GONE
    assert stack.objects() == set()


def test_event_for_a_missing_object_is_gone(stack: Stack, pipe: Pipeline) -> None:
    _, message = stack.upload_and_receive("short-lived.jpg", image_bytes())
    stack.delete("short-lived.jpg")
    stack.receive(1)
    assert pipe.handle(ref_of(message)).outcome is Outcome.GONE
    assert stack.objects() == set()


# --- delete sync -----------------------------------------------------------------------------


def test_removed_object_deletes_outputs_and_manifest(stack: Stack, pipe: Pipeline) -> None:
    _, created = stack.upload_and_receive("del/me.jpg", image_bytes())
    _, other = stack.upload_and_receive("del/keep.jpg", image_bytes(seed=1))
    pipe.handle(ref_of(created))
    pipe.handle(ref_of(other))
    removed = stack.delete_and_receive("del/me.jpg")
    ref = ref_of(removed)
    assert ref.kind == "removed"
    result = pipe.handle(ref)
    assert result.outcome is Outcome.DELETED
    assert set(result.outputs) == outputs_for("del/me.jpg")
    assert stack.objects() == outputs_for("del/keep.jpg") | {"_manifests/del/keep.jpg.json"}


def test_removed_object_deletes_its_failure_record(stack: Stack, pipe: Pipeline) -> None:
    _, created = stack.upload_and_receive("bad.jpg", b"not an image at all")
    assert pipe.handle(ref_of(created)).outcome is Outcome.FAILED
    assert stack.objects() == {"_failures/bad.jpg.json"}
    assert pipe.handle(ref_of(stack.delete_and_receive("bad.jpg"))).outcome is Outcome.DELETED
    assert stack.objects() == set()


def test_late_delete_for_an_object_that_exists_again_keeps_outputs(
    stack: Stack, pipe: Pipeline
) -> None:
    data = image_bytes()
    _, created = stack.upload_and_receive("again.jpg", data)
    pipe.handle(ref_of(created))
    removed = stack.delete_and_receive("again.jpg")
    _, recreated = stack.upload_and_receive("again.jpg", image_bytes(seed=9))
    assert pipe.handle(ref_of(recreated)).outcome is Outcome.PROCESSED
    kept = stack.last_modified()
    assert pipe.handle(ref_of(removed)).outcome is Outcome.STALE
    assert stack.last_modified() == kept
    assert set(kept) == outputs_for("again.jpg") | {"_manifests/again.jpg.json"}


def test_delete_sync_off_keeps_outputs(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(delete_sync=False), stack.storage())
    _, created = stack.upload_and_receive("k.jpg", image_bytes())
    pipe.handle(ref_of(created))
    kept = stack.last_modified()
    assert pipe.handle(ref_of(stack.delete_and_receive("k.jpg"))).outcome is Outcome.SKIPPED
    assert stack.last_modified() == kept


# --- failure policy --------------------------------------------------------------------------


def test_non_image_gets_a_failure_record_and_is_not_retried(stack: Stack) -> None:
    storage = stack.storage()
    pipe = Pipeline(stack.settings(), storage)
    etag, message = stack.upload_and_receive("docs/readme.jpg", b"hello, I am text\n")
    started = datetime.now(UTC)
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.FAILED
    assert result.failure_key == "_failures/docs/readme.jpg.json"
    assert stack.objects() == {"_failures/docs/readme.jpg.json"}
    record = stack.read_json("_failures/docs/readme.jpg.json")
    assert record["reason"]
    assert "\n" not in record["reason"]
    assert record["error_class"] in ("UnsupportedImage", "CorruptImage")
    assert record["source"]["etag"] == etag
    assert record["source"]["key"] == "docs/readme.jpg"
    assert record["source"]["bucket"] == stack.source
    when = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    assert started - timedelta(seconds=5) <= when <= datetime.now(UTC) + timedelta(seconds=5)
    head = stack.head("_failures/docs/readme.jpg.json")
    assert head is not None
    assert "pixelpipe-output" in head["Metadata"]
    puts, gets = storage.count("put"), storage.count("get")
    again = pipe.handle(ref_of(message))
    assert again.outcome is Outcome.DUPLICATE
    assert storage.count("put") == puts
    assert storage.count("get") == gets


def test_good_upload_after_a_failure_removes_the_record(stack: Stack, pipe: Pipeline) -> None:
    _, bad = stack.upload_and_receive("fix.jpg", b"garbage")
    assert pipe.handle(ref_of(bad)).outcome is Outcome.FAILED
    _, good = stack.upload_and_receive("fix.jpg", image_bytes())
    assert pipe.handle(ref_of(good)).outcome is Outcome.PROCESSED
    assert stack.objects() == outputs_for("fix.jpg") | {"_manifests/fix.jpg.json"}


def test_bad_upload_after_a_good_one_removes_the_old_outputs(stack: Stack, pipe: Pipeline) -> None:
    _, good = stack.upload_and_receive("flip.jpg", image_bytes())
    assert pipe.handle(ref_of(good)).outcome is Outcome.PROCESSED
    _, bad = stack.upload_and_receive("flip.jpg", b"garbage")
    assert pipe.handle(ref_of(bad)).outcome is Outcome.FAILED
    assert stack.objects() == {"_failures/flip.jpg.json"}


def test_too_large_is_a_failure_record_without_reading_the_body(stack: Stack) -> None:
    data = image_bytes()
    storage = stack.storage()
    read: list[int] = []
    real_get_object = storage.s3.get_object

    def get_object(**kwargs: Any) -> Any:
        r = real_get_object(**kwargs)
        body = r["Body"]
        real_read = body.read

        def counting_read(*args: Any) -> bytes:
            read.append(1)
            return bytes(real_read(*args))

        body.read = counting_read
        return r

    storage.s3.get_object = get_object  # type: ignore[method-assign]
    pipe = Pipeline(stack.settings(engine=EngineSettings(max_bytes=len(data) - 1)), storage)
    etag, message = stack.upload_and_receive("huge.jpg", data)
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.FAILED
    assert result.error_class == "ImageTooLarge"
    assert read == []
    record = stack.read_json("_failures/huge.jpg.json")
    assert record["error_class"] == "ImageTooLarge"
    assert record["source"]["etag"] == etag
    assert record["source"]["size"] == len(data)
    assert stack.objects() == {"_failures/huge.jpg.json"}


def test_too_many_pixels_is_a_failure_record(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(engine=EngineSettings(max_pixels=120 * 90 - 1)), stack.storage())
    _, message = stack.upload_and_receive("wide.png", image_bytes("PNG"))
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.FAILED
    assert stack.read_json("_failures/wide.png.json")["error_class"] == "ImageTooLarge"


@pytest.mark.parametrize(
    ("operation", "status", "code"),
    [
        ("PutObject", 503, "SlowDown"),
        ("GetObject", 500, "InternalError"),
        ("HeadObject", 503, "ServiceUnavailable"),
    ],
)
def test_transient_errors_raise_and_write_no_failure_record(
    stack: Stack, operation: str, status: int, code: str
) -> None:
    storage = stack.storage()
    pipe = Pipeline(stack.settings(), storage)
    data = image_bytes()
    _, message = stack.upload_and_receive("t/cat.jpg", data)
    with faults_on(storage.s3) as faults:
        fault = faults.add(operation, status, code, times=None)
        with pytest.raises(TransientError):
            pipe.handle(ref_of(message))
        assert fault.hits >= 1
    assert not any(k.startswith(("_failures/", "_manifests/")) for k in stack.objects())
    # redelivered after the fault is gone: processed, nothing lost or duplicated
    assert pipe.handle(ref_of(message)).outcome is Outcome.PROCESSED
    assert stack.objects() == outputs_for("t/cat.jpg") | {"_manifests/t/cat.jpg.json"}
    for key, body in expected_variants(data, pipe.settings.engine, "t/cat.jpg").items():
        assert stack.read(key) == body
    assert pipe.handle(ref_of(message)).outcome is Outcome.DUPLICATE


# --- recursion guard -------------------------------------------------------------------------


def test_same_bucket_without_prefix_is_refused(stack: Stack) -> None:
    with pytest.raises(SettingsError) as info:
        stack.settings(source_bucket=stack.processed)
    assert "\n" not in info.value.reason
    assert "SOURCE_PREFIX" in info.value.reason


@pytest.mark.parametrize(
    ("template", "manifest_prefix"),
    [
        ("{dir}pixelated-{label}-{name}", "_manifests/"),  # outputs under in/
        ("out/{label}/{name}", "in/_manifests/"),  # manifests under in/
    ],
)
def test_same_bucket_with_outputs_under_the_prefix_is_refused(
    stack: Stack, template: str, manifest_prefix: str
) -> None:
    with pytest.raises(SettingsError):
        stack.settings(
            source_bucket=stack.processed,
            source_prefix="in/",
            key_template=template,
            manifest_prefix=manifest_prefix,
        )


def test_same_bucket_with_a_prefix_works_and_skips_its_own_outputs(moto_endpoint: str) -> None:
    single = make_stack(moto_endpoint, notify=False)
    single.source = single.processed  # one bucket for everything
    configure_notifications(single, single.source)
    settings = single.settings(
        source_bucket=single.source, source_prefix="in/", key_template="out/{dir}{label}-{name}"
    )
    pipe = Pipeline(settings, single.storage())
    data = image_bytes()
    _, message = single.upload_and_receive("in/photos/cat.jpg", data)
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.PROCESSED
    outputs = {f"out/in/photos/{label}-cat.jpg" for label in LABELS}
    assert set(result.outputs) == outputs
    everything = outputs | {"in/photos/cat.jpg", "_manifests/in/photos/cat.jpg.json"}
    assert single.objects() == everything
    # every write caused a notification on the same bucket: each is skipped
    follow_ups = single.receive(len(outputs) + 1)
    for follow_up in follow_ups:
        assert pipe.handle(ref_of(follow_up)).outcome is Outcome.SKIPPED
    assert single.objects() == everything
    single.verify_sources()


def test_object_with_the_output_marker_is_never_processed(stack: Stack, pipe: Pipeline) -> None:
    _, message = stack.upload_and_receive(
        "sneaky.jpg", image_bytes(), metadata={"pixelpipe-output": "variant"}
    )
    result = pipe.handle(ref_of(message))
    assert result.outcome is Outcome.SKIPPED
    assert stack.objects() == set()


def test_events_from_the_processed_bucket_are_skipped(stack: Stack, pipe: Pipeline) -> None:
    stack.upload("pixelated-8x8-x.jpg", image_bytes(), bucket=stack.processed)
    ref = ObjectRef(bucket=stack.processed, key="pixelated-8x8-x.jpg", kind="created")
    assert pipe.handle(ref).outcome is Outcome.SKIPPED
    assert stack.objects() == {"pixelated-8x8-x.jpg"}


def test_two_sources_never_share_an_output_key(stack: Stack) -> None:
    """With a format change, photos/a.jpg and photos/a.png both name their variants
    photos/pixelated-8x8-a.webp. The first keeps them; the second is refused with a failure
    record instead of overwriting them (nothing lost: both sources are intact), and deleting the
    second source must not delete the first's outputs.

    (Design decision: names keep "only the extension changes" from the original project, so a
    collision is detected and refused rather than avoided by another naming scheme.)"""
    engine = EngineSettings(sizes=(8,), format="webp")
    pipe = Pipeline(stack.settings(engine=engine), stack.storage())
    jpg, png = image_bytes("JPEG", seed=1), image_bytes("PNG", seed=6)
    _, m_jpg = stack.upload_and_receive("photos/a.jpg", jpg)
    _, m_png = stack.upload_and_receive("photos/a.png", png)
    assert pipe.handle(ref_of(m_jpg)).outcome is Outcome.PROCESSED
    second = pipe.handle(ref_of(m_png))
    assert second.outcome is Outcome.FAILED
    assert second.error_class == "KeyCollision"
    assert "photos/pixelated-8x8-a.webp already holds the variants of photos/a.jpg" in (
        second.detail
    )
    assert stack.read_json("_failures/photos/a.png.json")["error_class"] == "KeyCollision"
    assert "_manifests/photos/a.png.json" not in stack.objects()
    jpg_manifest = stack.read_json("_manifests/photos/a.jpg.json")
    jpg_outputs = {o["key"] for o in jpg_manifest["outputs"]}
    (jpg_variant,) = pixelate(jpg, engine).variants
    (jpg_key,) = jpg_outputs
    assert stack.read(jpg_key) == jpg_variant.data  # not overwritten by a.png's pixels
    pipe.handle(ref_of(stack.delete_and_receive("photos/a.png")))
    assert jpg_outputs <= stack.objects()
    assert stack.read(jpg_key) == jpg_variant.data
