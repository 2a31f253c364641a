"""Regions per object in the pipeline (issue #13), against real S3 (moto's server over HTTP):
``pixelpipe-regions`` user metadata hides areas, malformed metadata fails closed, the areas
are part of the settings digest, and the manifest lists what was hidden."""

from __future__ import annotations

from typing import Any

import numpy as np

from conftest import decode, encode, photo_like
from moto_stack import Stack
from pixelpipe.events import ObjectRef, parse_message_body
from pixelpipe.pipeline import Outcome, Pipeline, object_engine
from pixelpipe.settings import EngineSettings

BOX = (20, 10, 40, 30)


def ref_of(message: dict[str, Any]) -> ObjectRef:
    (ref,) = parse_message_body(message["Body"])
    return ref


def upload(stack: Stack, key: str, data: bytes, metadata: dict[str, str]) -> ObjectRef:
    _, message = stack.upload_and_receive(key, data, content_type="image/png", metadata=metadata)
    return ref_of(message)


def source_png() -> tuple[bytes, np.ndarray]:
    src = photo_like(120, 90, seed=21)
    return encode(src, "PNG"), np.asarray(src.convert("RGB"))


def changed_box(data: bytes, original: np.ndarray) -> tuple[int, int, int, int] | None:
    out = np.asarray(decode(data).convert("RGB"))
    rows, cols = np.nonzero((out != original).any(axis=2))
    if not len(rows):
        return None
    return (
        int(cols.min()),
        int(rows.min()),
        int(cols.max() - cols.min() + 1),
        int(rows.max() - rows.min() + 1),
    )


def test_region_metadata_hides_only_that_area(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4, 8))), stack.storage())
    data, original = source_png()
    ref = upload(stack, "people/a.png", data, {"pixelpipe-regions": "20,10,40,30"})
    result = pipe.handle(ref)
    assert result.outcome is Outcome.PROCESSED, result.detail
    for key in ("people/pixelated-4x4-a.png", "people/pixelated-8x8-a.png"):
        box = changed_box(stack.read(key), original)
        assert box is not None
        x, y, w, h = box
        # only pixels inside the region changed
        assert x >= 20
        assert y >= 10
        assert x + w <= 60
        assert y + h <= 40
    manifest = stack.read_json("_manifests/people/a.png.json")
    assert manifest["areas"] == [{"box": [20, 10, 40, 30], "source": "region", "shape": "rect"}]
    assert manifest["settings"]["engine"]["regions"] == [[20, 10, 40, 30]]
    stack.verify_sources()


def test_without_metadata_the_whole_image_is_pixelated_and_no_areas_listed(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4,))), stack.storage())
    data, original = source_png()
    pipe.handle(upload(stack, "b.png", data, {}))
    assert changed_box(stack.read("pixelated-4x4-b.png"), original) == (0, 0, 120, 90)
    assert "areas" not in stack.read_json("_manifests/b.png.json")


def test_malformed_region_metadata_fails_closed(stack: Stack) -> None:
    """Never a silently unredacted output: a failure record names the cause, nothing else
    is written, and it is not retried."""
    pipe = Pipeline(stack.settings(), stack.storage())
    data, _ = source_png()
    for key, value, reason in [
        ("c.png", "20,10,40", "pixelpipe-regions metadata: '20,10,40' is not X,Y,W,H"),
        ("d.png", "500,500,10,10", "region 500,500,10,10 lies outside the 120x90 image"),
    ]:
        result = pipe.handle(upload(stack, key, data, {"pixelpipe-regions": value}))
        assert result.outcome is Outcome.FAILED
        assert reason in result.detail
        assert result.error_class == "AreaError"
        record = stack.read_json(f"_failures/{key}.json")
        assert reason in record["reason"]
        assert not any(k.startswith("pixelated-") for k in stack.objects())
    again = pipe.handle(ObjectRef(bucket=stack.source, key="c.png", kind="created"))
    assert again.outcome is Outcome.DUPLICATE  # permanent: not retried
    bad = pipe.handle(upload(stack, "e.png", data, {"pixelpipe-faces": "perhaps"}))
    assert bad.outcome is Outcome.FAILED
    assert "pixelpipe-faces metadata must be true or false, got 'perhaps'" in bad.detail
    stack.verify_sources()


def test_new_regions_on_the_same_bytes_reprocess(stack: Stack) -> None:
    """Areas are part of the settings digest: the same eTag with other regions (a copy onto
    itself with new metadata keeps S3's eTag) is processed again, and fixing malformed
    metadata replaces the failure record with outputs."""
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4,))), stack.storage())
    data, original = source_png()
    pipe.handle(upload(stack, "f.png", data, {"pixelpipe-regions": "0,0,10,10"}))
    first = stack.read_json("_manifests/f.png.json")
    stack.s3.copy_object(
        Bucket=stack.source,
        Key="f.png",
        CopySource={"Bucket": stack.source, "Key": "f.png"},
        Metadata={"pixelpipe-regions": "50,50,20,20"},
        MetadataDirective="REPLACE",
    )
    stack.uploaded.pop((stack.source, "f.png"))
    head = stack.s3.head_object(Bucket=stack.source, Key="f.png")
    assert head["ETag"].strip('"') == first["source"]["etag"]  # same bytes, same eTag
    (copied,) = stack.receive(1)  # the copy's own ObjectCreated:Copy notification
    result = pipe.handle(ref_of(copied))
    assert result.outcome is Outcome.PROCESSED
    second = stack.read_json("_manifests/f.png.json")
    assert second["settings_digest"] != first["settings_digest"]
    assert second["areas"] == [{"box": [50, 50, 20, 20], "source": "region", "shape": "rect"}]
    assert changed_box(stack.read("pixelated-4x4-f.png"), original) == (50, 50, 20, 20)

    pipe.handle(upload(stack, "g.png", data, {"pixelpipe-regions": "oops"}))
    assert "_failures/g.png.json" in stack.objects()
    pipe.handle(upload(stack, "g.png", data, {"pixelpipe-regions": "1,1,5,5"}))
    assert "_failures/g.png.json" not in stack.objects()
    assert stack.read_json("_manifests/g.png.json")["areas"][0]["box"] == [1, 1, 5, 5]


def test_deployment_regions_and_object_regions_add_up(stack: Stack) -> None:
    engine = EngineSettings(sizes=(4,), regions=((0, 0, 10, 10),))
    settings = stack.settings(engine=engine)
    combined = object_engine(settings, {"pixelpipe-regions": "50,50,5,5"})
    assert combined.regions == ((0, 0, 10, 10), (50, 50, 5, 5))
    assert object_engine(settings, {}) is settings.engine
    assert object_engine(settings, {"pixelpipe-faces": "false"}).faces is False
    pipe = Pipeline(settings, stack.storage())
    data, _ = source_png()
    pipe.handle(upload(stack, "h.png", data, {"pixelpipe-regions": "50,50,5,5"}))
    areas = stack.read_json("_manifests/h.png.json")["areas"]
    assert [a["box"] for a in areas] == [[0, 0, 10, 10], [50, 50, 5, 5]]


def test_state_of_uses_the_object_digest(stack: Stack) -> None:
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4,))), stack.storage())
    data, _ = source_png()
    pipe.handle(upload(stack, "i.png", data, {"pixelpipe-regions": "1,1,5,5"}))
    assert pipe.state_of(stack.source, "i.png") == "done"
    pipe.handle(upload(stack, "j.png", data, {"pixelpipe-regions": "x"}))
    assert pipe.state_of(stack.source, "j.png") == "failed"


def test_outputs_that_do_not_anonymise_are_marked_and_named_in_the_detail(stack: Stack) -> None:
    """#21: each output of an area job says whether it anonymises; the worker's and the
    Lambda's log line (the result's detail) names those that do not, once per object."""
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(5, 64))), stack.storage())
    data, _ = source_png()
    result = pipe.handle(upload(stack, "w.png", data, {"pixelpipe-regions": "20,10,40,30"}))
    assert result.outcome is Outcome.PROCESSED
    assert result.detail == "2 variants; not anonymising: 64x64"
    doc = stack.read_json("_manifests/w.png.json")
    assert [(o["label"], o["anonymised"]) for o in doc["outputs"]] == [
        ("5x5", True),
        ("64x64", False),
    ]
    # whole-image jobs: no flag, nothing to name
    result = pipe.handle(upload(stack, "x.png", data, {}))
    assert result.detail == "2 variants"
    assert all("anonymised" not in o for o in stack.read_json("_manifests/x.png.json")["outputs"])
