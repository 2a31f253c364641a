"""Two workers, two versions of one object, interleaved at the worst moments (real S3 over
HTTP; the interleaving is forced through a storage hook, so the test is deterministic)."""

from __future__ import annotations

from moto_stack import RecordingStorage, Stack, image_bytes
from pixelpipe import EngineSettings, pixelate
from pixelpipe.events import ObjectRef
from pixelpipe.pipeline import Outcome, Pipeline

ENGINE = EngineSettings(sizes=(8, 16))


def test_variants_written_after_a_newer_version_are_redone(stack: Stack) -> None:
    """Worker A processes v1. Just before A's first variant write, v2 is uploaded and worker
    B processes it completely (variants + manifest). A's v1 variants then land *after* B's.
    A must notice the newer version and redo it, although v2's manifest says it is done."""
    v1, v2 = image_bytes("JPEG", seed=1), image_bytes("JPEG", seed=7)
    etag1 = stack.upload("race.jpg", v1)
    b = Pipeline(stack.settings(engine=ENGINE), stack.storage())
    fired: list[Outcome] = []

    def newer_version_lands(op: str, bucket: str, key: str) -> None:
        if op == "put" and bucket == stack.processed and not fired:
            stack.upload("race.jpg", v2)
            ref2 = ObjectRef(bucket=stack.source, key="race.jpg", kind="created")
            fired.append(b.handle(ref2).outcome)

    a_storage = stack.storage(before=newer_version_lands)
    a = Pipeline(stack.settings(engine=ENGINE), a_storage)
    ref1 = ObjectRef(bucket=stack.source, key="race.jpg", kind="created", etag=etag1)
    result = a.handle(ref1)

    assert fired == [Outcome.PROCESSED]  # B really finished v2 in between
    assert result.outcome is Outcome.PROCESSED
    expected = {f"pixelated-{v.label}-race.jpg": v.data for v in pixelate(v2, ENGINE).variants}
    for key, data in expected.items():
        assert stack.read(key) == data, f"{key} shows v1, written after v2's"
    manifest = stack.read_json("_manifests/race.jpg.json")
    current = stack.head("race.jpg", bucket=stack.source)
    assert current is not None
    assert manifest["source"]["etag"] == str(current["ETag"]).strip('"')


def test_a_late_event_for_an_old_version_changes_nothing(stack: Stack) -> None:
    v1, v2 = image_bytes("PNG", seed=2), image_bytes("PNG", seed=5)
    etag1 = stack.upload("late.png", v1)
    stack.upload("late.png", v2)
    storage = stack.storage()
    pipe = Pipeline(stack.settings(engine=ENGINE), storage)
    assert pipe.handle(ObjectRef(stack.source, "late.png", "created")).outcome is Outcome.PROCESSED
    puts = storage.count("put")
    late = pipe.handle(ObjectRef(stack.source, "late.png", "created", etag=etag1))
    assert late.outcome is Outcome.STALE
    assert storage.count("put") == puts  # nothing rewritten
    for v in pixelate(v2, ENGINE).variants:
        assert stack.read(f"pixelated-{v.label}-late.png") == v.data


def test_two_workers_on_one_version_commit_once(stack: Stack) -> None:
    """B commits the manifest while A is between its variant writes and its manifest write:
    A's conditional manifest write fails, A starts over and finds the work done."""
    data = image_bytes("JPEG", seed=3)
    stack.upload("twice.jpg", data)
    ref = ObjectRef(stack.source, "twice.jpg", "created")
    b = Pipeline(stack.settings(engine=ENGINE), stack.storage())
    fired: list[Outcome] = []

    def other_worker_commits(op: str, bucket: str, key: str) -> None:
        if op == "put" and key.startswith("_manifests/") and not fired:
            fired.append(b.handle(ref).outcome)

    a_storage = RecordingStorage(s3=stack.storage().s3, before=other_worker_commits)
    result = Pipeline(stack.settings(engine=ENGINE), a_storage).handle(ref)
    assert fired == [Outcome.PROCESSED]
    assert result.outcome is Outcome.DUPLICATE
    assert a_storage.keys_of("put").count("_manifests/twice.jpg.json") == 1  # tried once, lost
    for v in pixelate(data, ENGINE).variants:
        assert stack.read(f"pixelated-{v.label}-twice.jpg") == v.data
