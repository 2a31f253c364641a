"""pixelpipe.handler.lambda_handler end to end: real S3 notifications from moto's server, every
event shape Lambda can be invoked with, partial batch responses, configuration from env."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

import pixelpipe.handler
from conftest import decode
from moto_stack import (
    Stack,
    eventbridge_event,
    failed_ids,
    faults_on,
    image_bytes,
    invoke,
    message_with_body,
    s3_record_of,
    sns_envelope,
    sns_lambda_event,
)
from pixelpipe import storage as st
from pixelpipe.errors import SettingsError
from pixelpipe.storage import TransientError

LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")


def outputs_for(key: str, labels: tuple[str, ...] = LABELS, name: str | None = None) -> set[str]:
    folder, slash, base = key.rpartition("/")
    return {f"{folder}{slash}pixelated-{label}-{name or base}" for label in labels}


def processed_state(stack: Stack, key: str, labels: tuple[str, ...] = LABELS) -> set[str]:
    return outputs_for(key, labels) | {f"_manifests/{key}.json"}


@pytest.fixture
def env(handler_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return handler_env


# --- keys ------------------------------------------------------------------------------------

KEYS = [
    "cat.jpg",
    "photos/cat.jpg",
    "my photos/summer trip/cat 1.jpg",
    "a+b/c+d.jpg",
    "100%/50% off.jpg",
    "a%2Fb.jpg",
    "ünïcødé/日本語 写真.jpg",
    "emoji 🐱 + friends.jpeg",
    "d1/d2/d3/d4/d5/d6/d7/d8/deep.jpg",
    "  spaced  /x.jpg",
]


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("key", KEYS)
def test_keys_survive_the_real_notification(stack: Stack, key: str) -> None:
    data = image_bytes()
    etag, message = stack.upload_and_receive(key, data, content_type="image/jpeg")
    raw = s3_record_of(message)["s3"]["object"]["key"]
    if any(c in key for c in " +%/ü"):
        assert raw != key  # moto really encodes it
    response = invoke(stack.sqs_event(message))
    assert response == {"batchItemFailures": []}
    assert stack.objects() == processed_state(stack, key)
    for out in outputs_for(key):
        head = stack.head(out)
        assert head is not None, out
        assert head["ContentType"] == "image/jpeg"
        assert head["CacheControl"] == "max-age=86400"
        meta = head["Metadata"]
        assert meta["pixelpipe-output"] == "variant"
        assert meta["pixelpipe-source-bucket"] == stack.source
        assert unquote(meta["pixelpipe-source-key"]) == key
        assert meta["pixelpipe-source-etag"] == etag
        assert decode(stack.read(out)).size == (120, 90)
    manifest = stack.read_json(f"_manifests/{key}.json")
    assert manifest["source"]["key"] == key
    assert manifest["source"]["etag"] == etag
    assert {o["key"] for o in manifest["outputs"]} == outputs_for(key)
    # and the removal of the same key cleans up
    assert invoke(stack.sqs_event(stack.delete_and_receive(key))) == {"batchItemFailures": []}
    assert stack.objects() == set()


# --- event shapes ----------------------------------------------------------------------------


def test_direct_s3_event(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive("direct/cat.jpg", image_bytes())
    event = json.loads(message["Body"])
    response = invoke(event)
    (result,) = response["results"]
    assert result["outcome"] == "processed"
    assert result["key"] == "direct/cat.jpg"
    assert set(result["outputs"]) == outputs_for("direct/cat.jpg")
    assert stack.objects() == processed_state(stack, "direct/cat.jpg")
    assert invoke(event)["results"][0]["outcome"] == "duplicate"


def test_sqs_of_sns_of_s3(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive("sns/dog.png", image_bytes("PNG"))
    wrapped = message_with_body(message, sns_envelope(message["Body"]))
    assert invoke(stack.sqs_event(wrapped)) == {"batchItemFailures": []}
    assert stack.objects() == processed_state(stack, "sns/dog.png")


def test_sns_direct(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive("sns direct/ü+x.jpg", image_bytes())
    response = invoke(sns_lambda_event(sns_envelope(message["Body"])))
    assert [r["outcome"] for r in response["results"]] == ["processed"]
    assert stack.objects() == processed_state(stack, "sns direct/ü+x.jpg")


def test_eventbridge_direct_and_via_sqs(stack: Stack, env: pytest.MonkeyPatch) -> None:
    data = image_bytes()
    key = "eb/a b+c%d ü.jpg"  # EventBridge keys are not encoded
    etag = stack.upload(key, data)
    stack.receive(1)
    created = eventbridge_event(stack.source, key, etag, len(data))
    response = invoke(created)
    assert [r["outcome"] for r in response["results"]] == ["processed"]
    assert stack.objects() == processed_state(stack, key)
    assert stack.read_json(f"_manifests/{key}.json")["source"]["etag"] == etag

    # the same event through SQS: a duplicate
    (sqs_message,) = [message_with_body({"ReceiptHandle": "rh"}, created)]
    before = stack.last_modified()
    assert invoke(stack.sqs_event(sqs_message)) == {"batchItemFailures": []}
    assert stack.last_modified() == before

    # Object Deleted via SQS
    stack.delete(key)
    stack.receive(1)
    deleted = eventbridge_event(stack.source, key, None, None, detail_type="Object Deleted")
    assert invoke(stack.sqs_event(message_with_body({"ReceiptHandle": "rh"}, deleted))) == {
        "batchItemFailures": []
    }
    assert stack.objects() == set()


def test_eventbridge_direct_delete(stack: Stack, env: pytest.MonkeyPatch) -> None:
    etag, _ = stack.upload_and_receive("ebd.jpg", image_bytes())
    invoke(eventbridge_event(stack.source, "ebd.jpg", etag, None))
    assert stack.objects() == processed_state(stack, "ebd.jpg")
    stack.delete("ebd.jpg")
    stack.receive(1)
    response = invoke(
        eventbridge_event(stack.source, "ebd.jpg", None, None, detail_type="Object Deleted")
    )
    assert [r["outcome"] for r in response["results"]] == ["deleted"]
    assert stack.objects() == set()


def test_s3_test_event_is_skipped(stack: Stack, env: pytest.MonkeyPatch) -> None:
    (test_message,) = stack.test_events
    assert json.loads(test_message["Body"])["Event"] == "s3:TestEvent"
    assert invoke(stack.sqs_event(test_message)) == {"batchItemFailures": []}
    assert invoke(json.loads(test_message["Body"])) == {"results": []}
    assert stack.objects() == set()


def test_folder_marker_is_skipped(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive("folder/sub/", b"")
    assert s3_record_of(message)["s3"]["object"]["key"] == "folder%2Fsub%2F"
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    assert invoke(json.loads(message["Body"])) == {"results": []}
    assert stack.objects() == set()


def test_every_record_of_a_direct_event_is_processed(stack: Stack, env: pytest.MonkeyPatch) -> None:
    stack.upload("one.jpg", image_bytes(seed=1))
    stack.upload("two.png", image_bytes("PNG", seed=2))
    m1, m2 = stack.receive(2)
    event = {"Records": [s3_record_of(m1), s3_record_of(m2)]}
    response = invoke(event)
    assert [r["outcome"] for r in response["results"]] == ["processed", "processed"]
    assert stack.objects() == processed_state(stack, "one.jpg") | processed_state(stack, "two.png")


# --- SQS partial batch response --------------------------------------------------------------


def test_partial_batch_response(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, good = stack.upload_and_receive("good.jpg", image_bytes())
    bad_etag, bad = stack.upload_and_receive("bad.jpg", b"definitely not an image")
    _, flaky = stack.upload_and_receive("flaky/x.jpg", image_bytes(seed=3))
    garbage = message_with_body(good, "this is not JSON {")
    event = stack.sqs_event(good, bad, flaky, garbage)
    client = st.client(stack.endpoint)
    with faults_on(client) as faults:
        faults.add("PutObject", 503, "SlowDown", times=None, key=lambda k: "flaky" in k)
        response = invoke(event)
    assert failed_ids(response) == {flaky["MessageId"], garbage["MessageId"]}
    keys = stack.objects()
    assert processed_state(stack, "good.jpg") <= keys
    assert "_failures/bad.jpg.json" in keys
    assert stack.read_json("_failures/bad.jpg.json")["source"]["etag"] == bad_etag
    assert not any("flaky" in k for k in keys)  # no failure record for a transient failure
    # the platform redelivers only the failed messages; the fault is gone now
    retry = invoke(stack.sqs_event(flaky, garbage))
    assert failed_ids(retry) == {garbage["MessageId"]}
    assert stack.objects() == (
        processed_state(stack, "good.jpg")
        | processed_state(stack, "flaky/x.jpg")
        | {"_failures/bad.jpg.json"}
    )


def test_transient_failure_of_a_whole_batch_comes_back(
    stack: Stack, env: pytest.MonkeyPatch
) -> None:
    """Every message failed transiently: Lambda must see all of them as failed (either a
    partial batch response naming each, or the invocation failing)."""
    _, message = stack.upload_and_receive("all/x.jpg", image_bytes())
    with faults_on(st.client(stack.endpoint)) as faults:
        faults.add("GetObject", 500, "InternalError", times=None)
        try:
            response = invoke(stack.sqs_event(message))
        except BatchProcessingError:
            pass
        else:
            assert failed_ids(response) == {message["MessageId"]}
    assert stack.objects() == set()
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    assert stack.objects() == processed_state(stack, "all/x.jpg")


def test_permanent_failure_is_not_retried(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, bad = stack.upload_and_receive("x/bad.png", b"\x89PNG\r\n\x1a\n truncated")
    assert invoke(stack.sqs_event(bad)) == {"batchItemFailures": []}
    record = stack.read_json("_failures/x/bad.png.json")
    assert record["error_class"] in ("CorruptImage", "UnsupportedImage")
    assert stack.objects() == {"_failures/x/bad.png.json"}
    assert invoke(json.loads(bad["Body"]))["results"][0]["outcome"] == "duplicate"


def test_direct_s3_transient_failure_raises_and_redelivery_completes(
    stack: Stack, env: pytest.MonkeyPatch
) -> None:
    stack.upload("ok.jpg", image_bytes(seed=1))
    stack.upload("flaky.jpg", image_bytes(seed=2))
    m_ok, m_flaky = stack.receive(2)
    event = {"Records": [s3_record_of(m_flaky), s3_record_of(m_ok)]}
    with faults_on(st.client(stack.endpoint)) as faults:
        faults.add("PutObject", 503, "SlowDown", times=None, key=lambda k: "flaky" in k)
        with pytest.raises(TransientError) as info:
            invoke(event)
    assert "\n" not in str(info.value)
    keys = stack.objects()
    assert processed_state(stack, "ok.jpg") <= keys  # the other record was still processed
    assert not any("flaky" in k for k in keys)
    assert not any(k.startswith("_failures/") for k in keys)
    response = invoke(event)
    assert [r["outcome"] for r in response["results"]] == ["processed", "duplicate"]
    assert stack.objects() == processed_state(stack, "ok.jpg") | processed_state(stack, "flaky.jpg")


# --- recursion guard -------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
def test_same_bucket_without_prefix_fails_every_invocation(
    stack: Stack, env: pytest.MonkeyPatch
) -> None:
    env.setenv("PROCESSED_BUCKET", stack.source)
    _, message = stack.upload_and_receive("loop.jpg", image_bytes())
    for _ in range(2):
        with pytest.raises(SettingsError) as info:
            invoke(stack.sqs_event(message))
        assert "\n" not in str(info.value)
        assert "SOURCE_PREFIX" in str(info.value)
    assert stack.objects(stack.source) == {"loop.jpg"}


def test_same_bucket_with_prefix_skips_its_outputs(stack: Stack, env: pytest.MonkeyPatch) -> None:
    from moto_stack import configure_notifications, make_stack

    single = make_stack(stack.endpoint, notify=False)
    single.source = single.processed
    configure_notifications(single, single.source)
    env.setenv("PROCESSED_BUCKET", single.source)
    env.setenv("SOURCE_BUCKET", single.source)
    env.setenv("SOURCE_PREFIX", "uploads/")
    env.setenv("OUTPUT_KEY_TEMPLATE", "public/{label}/{name}")
    _, message = single.upload_and_receive("uploads/cat.jpg", image_bytes())
    assert invoke(single.sqs_event(message)) == {"batchItemFailures": []}
    outputs = {f"public/{label}/cat.jpg" for label in LABELS}
    everything = outputs | {"uploads/cat.jpg", "_manifests/uploads/cat.jpg.json"}
    assert single.objects() == everything
    follow_ups = single.receive(len(outputs) + 1)
    before = single.last_modified()
    assert invoke(single.sqs_event(*follow_ups)) == {"batchItemFailures": []}
    assert single.last_modified() == before
    single.verify_sources()


# --- configuration from the environment ------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
def test_missing_processed_bucket(stack: Stack, clean_env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive("c.jpg", image_bytes())
    with pytest.raises(SettingsError) as info:
        invoke(stack.sqs_event(message))
    assert "PROCESSED_BUCKET" in str(info.value)
    assert "\n" not in str(info.value)
    assert stack.objects() == set()


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
def test_invalid_setting_is_a_one_line_error(stack: Stack, env: pytest.MonkeyPatch) -> None:
    env.setenv("PIXEL_SIZES", "8,banana")
    with pytest.raises(SettingsError) as info:
        invoke({"Records": []})
    assert "\n" not in str(info.value)
    assert "banana" in str(info.value)


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
def test_faces_without_the_detector_fail_every_invocation(
    stack: Stack, env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A faces deployment whose zip lacks the detector fails at start-up, in one line,
    before any object is read (settings alone no longer probe the detector)."""
    env.setenv("PIXELPIPE_FACES", "true")
    env.setenv("PIXELPIPE_FACE_MODEL", str(tmp_path / "missing.onnx"))
    _, message = stack.upload_and_receive("c.jpg", image_bytes())
    for _ in range(2):
        with pytest.raises(SettingsError) as info:
            invoke(stack.sqs_event(message))
        assert str(info.value) == (
            f"face model {tmp_path / 'missing.onnx'} (PIXELPIPE_FACE_MODEL) is not a file"
        )
    assert stack.objects() == set()


def test_env_sizes_format_template_manifest_prefix(stack: Stack, env: pytest.MonkeyPatch) -> None:
    env.setenv("PIXEL_SIZES", "8,24")
    env.setenv("OUTPUT_FORMAT", "png")
    env.setenv("OUTPUT_KEY_TEMPLATE", "variants/{dir}{stem}/{label}.{ext}")
    env.setenv("MANIFEST_PREFIX", "meta/")
    env.setenv("CACHE_CONTROL", "public, max-age=60")
    _, message = stack.upload_and_receive("p/cat.jpg", image_bytes())
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    outputs = {"variants/p/cat/8x8.png", "variants/p/cat/24x24.png"}
    assert stack.objects() == outputs | {"meta/p/cat.jpg.json"}
    for key in outputs:
        head = stack.head(key)
        assert head is not None
        assert head["ContentType"] == "image/png"
        assert head["CacheControl"] == "public, max-age=60"
        assert decode(stack.read(key)).format == "PNG"
    manifest = stack.read_json("meta/p/cat.jpg.json")
    assert manifest["settings"]["engine"]["sizes"] == [8, 24]
    assert manifest["settings"]["engine"]["format"] == "png"


def test_env_max_input_bytes(stack: Stack, env: pytest.MonkeyPatch) -> None:
    data = image_bytes()
    env.setenv("MAX_INPUT_BYTES", str(len(data) - 1))
    env.setenv("FAILURE_PREFIX", "errors/")
    _, message = stack.upload_and_receive("big.jpg", data)
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    assert stack.objects() == {"errors/big.jpg.json"}
    assert stack.read_json("errors/big.jpg.json")["error_class"] == "ImageTooLarge"


def test_env_max_pixels(stack: Stack, env: pytest.MonkeyPatch) -> None:
    env.setenv("MAX_PIXELS", "10000")  # 120 x 90 = 10800
    _, message = stack.upload_and_receive("many.jpg", image_bytes())
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    assert stack.objects() == {"_failures/many.jpg.json"}
    assert stack.read_json("_failures/many.jpg.json")["error_class"] == "ImageTooLarge"
    env.setenv("MAX_PIXELS", "10800")
    pixelpipe.handler.reset()
    _, again = stack.upload_and_receive("fits.jpg", image_bytes())
    assert invoke(stack.sqs_event(again)) == {"batchItemFailures": []}
    assert processed_state(stack, "fits.jpg") <= stack.objects()


@pytest.mark.parametrize(("value", "kept"), [("false", True), ("true", False), ("0", True)])
def test_env_delete_sync(stack: Stack, env: pytest.MonkeyPatch, value: str, kept: bool) -> None:
    env.setenv("DELETE_SYNC", value)
    _, created = stack.upload_and_receive("d.jpg", image_bytes())
    invoke(stack.sqs_event(created))
    before = stack.objects()
    assert before == processed_state(stack, "d.jpg")
    assert invoke(stack.sqs_event(stack.delete_and_receive("d.jpg"))) == {"batchItemFailures": []}
    assert stack.objects() == (before if kept else set())


def test_output_marker_object_is_never_processed(stack: Stack, env: pytest.MonkeyPatch) -> None:
    _, message = stack.upload_and_receive(
        "marked.jpg", image_bytes(), metadata={"pixelpipe-output": "variant"}
    )
    response = invoke(json.loads(message["Body"]))
    assert [r["outcome"] for r in response["results"]] == ["skipped"]
    assert stack.objects() == set()


def test_unparseable_direct_event_raises(stack: Stack, env: pytest.MonkeyPatch) -> None:
    from pixelpipe.events import EventError

    with pytest.raises(EventError):
        invoke({"hello": "world"})


def test_called_without_a_context_as_local_scripts_do(
    stack: Stack, env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # AWS's guides and most tutorials call a handler as lambda_handler(event, None).
    _, message = stack.upload_and_receive("nocontext/cat.jpg", image_bytes())
    response = pixelpipe.handler.lambda_handler(json.loads(message["Body"]), None)
    (result,) = response["results"]
    assert result["outcome"] == "processed"
    assert stack.objects() == processed_state(stack, "nocontext/cat.jpg")
    # An SQS batch too (Powertools' batch processor is handed no context).
    _, message = stack.upload_and_receive("nocontext/dog.png", image_bytes("PNG"))
    assert pixelpipe.handler.lambda_handler(stack.sqs_event(message), None) == {
        "batchItemFailures": []
    }
    formatter = pixelpipe.handler.logger.registered_formatter
    logs = [json.loads(formatter.format(record)) for record in caplog.records]
    handled = [entry for entry in logs if entry.get("message") == "object handled"]
    assert len(handled) == 2
    assert all("function_name" not in entry for entry in handled)
