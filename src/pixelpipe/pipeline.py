"""The pipeline: one object reference in, variants + manifest (or a failure record) out.

``Pipeline.handle(ref)`` is what every adapter calls — the Lambda handler, the queue worker,
the local stack. For an object that was created:

1. the recursion guard (settings and the output marker);
2. HEAD the source: its *current* eTag is what gets processed, whatever version the event
   named, so a late event for an old version can never overwrite newer outputs;
3. a manifest for that eTag (and the same settings) means the work is done: duplicate;
   so does a failure record for it;
4. GET the bytes pinned to that eTag (``If-Match``), the byte limit checked on
   ``ContentLength`` before reading; pixelate; put every variant;
5. HEAD again — if the source changed meanwhile, start over for the new version;
6. write the manifest **last**, conditionally on the manifest read in step 3, so two workers
   racing on one key cannot both win; then drop outputs the old manifest had and this one
   has not, and any stale failure record.

Permanent failures (an :class:`~pixelpipe.errors.ImageError`) write
``_failures/{key}.json`` and are not retried. Transient ones
(:class:`~pixelpipe.storage.TransientError`) propagate so the platform retries. The source
object is only ever read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from ._version import __version__
from .areas import META_FACES, META_REGIONS, parse_regions
from .engine import Pixelated, pixelate
from .engine.results import ms
from .errors import AreaError, ImageError, PixelpipeError, SettingsError
from .events import ObjectRef, parse_message_body, sequencer_order
from .keys import failure_key, manifest_key, render, split_key
from .manifest import (
    MANIFEST_VERSION,
    FailureRecord,
    Manifest,
    NewerDocument,
    SourceRecord,
    failure_or_none,
    manifest_or_none,
    settings_digest_of,
)
from .settings import EngineSettings, Settings, parse_bool
from .storage import (
    META_SOURCE_BUCKET,
    META_SOURCE_ETAG,
    META_SOURCE_KEY,
    OUTPUT_MARKER,
    Conflict,
    ObjectInfo,
    Storage,
    TransientError,
    meta_value,
)

# MANIFEST_VERSION (manifest.py) is part of the settings digest, so a manifest of an older
# version no longer counts as done: backfill (or the next event) redoes the image.


class KeyCollision(PixelpipeError):
    """Two sources would write the same output key. Permanent for that object."""


class LeftForNewer(TransientError):
    """The object's manifest or failure record was written by a newer pixelpipe (a rolling
    deploy): this one neither reads nor replaces it. Transient: the message comes back, and
    a newer worker takes it (or, once every worker is newer, the retry does)."""


MAX_ATTEMPTS = 3  # a source that changes this often while being processed: let it retry


class Outcome(StrEnum):
    PROCESSED = "processed"  # variants and manifest written
    DUPLICATE = "duplicate"  # this version was already done (or already failed)
    STALE = "stale"  # the event is older than what is already done
    FAILED = "failed"  # permanent failure, failure record written
    DELETED = "deleted"  # source removed: its outputs, manifest and failure record too
    SKIPPED = "skipped"  # refused by the recursion guard, or delete sync is off
    GONE = "gone"  # the object no longer exists: nothing to do


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one object reference."""

    ref: ObjectRef
    outcome: Outcome
    detail: str = ""
    outputs: tuple[str, ...] = ()
    manifest_key: str | None = None
    failure_key: str | None = None
    error_class: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    timings_ms: Mapping[str, float] = field(default_factory=dict)


def settings_digest(settings: Settings, engine: EngineSettings | None = None) -> str:
    """Changes when a setting that changes the outputs changes (then the work is redone).
    ``engine``: an object's own engine settings (its regions and faces), if it has them."""
    fields = (engine or settings.engine).output_fields()
    return settings_digest_of(json.loads(json.dumps(fields, default=str)), settings.key_template)


def object_engine(settings: Settings, metadata: Mapping[str, str]) -> EngineSettings:
    """The engine settings for one source object: the deployment's, plus the regions its
    ``pixelpipe-regions`` metadata names, with faces on or off as ``pixelpipe-faces`` says.
    Malformed metadata raises :class:`AreaError` (permanent; never an output that shows an
    area it was to hide)."""
    raw_regions, raw_faces = metadata.get(META_REGIONS), metadata.get(META_FACES)
    base = settings.engine
    if raw_regions is None and raw_faces is None:
        return base
    try:
        regions = parse_regions(raw_regions or "", f"{META_REGIONS} metadata")
        faces = base.faces if raw_faces is None else parse_bool(raw_faces, f"{META_FACES} metadata")
        return base.replace(regions=base.regions + regions, faces=faces)
    except SettingsError as exc:
        raise AreaError(exc.reason) from None


@dataclass(slots=True)
class _ObjectJob:
    """One object being processed, across its attempts."""

    ref: ObjectRef
    mkey: str
    fkey: str
    t0: float
    clobbered: bool = False  # our variants may have overwritten a newer version's
    written: set[str] = field(default_factory=set)  # variant keys written, to clean up on failure


@dataclass(frozen=True, slots=True)
class _Seen:
    """What one attempt read before working."""

    head: ObjectInfo  # the source's current version
    manifest: Manifest | None
    manifest_etag: str | None  # the manifest's own eTag: the condition of the next write
    digest: str  # the object's settings digest


class Pipeline:
    """Processes object references against one source store and one processed bucket."""

    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.settings = settings
        self.storage = storage or Storage(settings.endpoint_url)
        self.digest = settings_digest(settings)

    def handle(self, ref: ObjectRef) -> Result:
        return self.remove(ref) if ref.kind == "removed" else self.process(ref)

    def handle_message(self, body: str | bytes | Mapping[str, Any]) -> list[Result]:
        """One queue message (S3 notification, SNS envelope or EventBridge event): every
        object in it. Raises EventError for a malformed body, TransientError to retry."""
        return [self.handle(ref) for ref in parse_message_body(body)]

    def state_of(self, bucket: str, key: str) -> str:
        """``done``, ``failed`` (for the current version and settings), ``pending``, or
        ``gone``/``skipped`` — without processing anything (backfill's dry run)."""
        ref = ObjectRef(bucket=bucket, key=key, kind="created")
        if self.settings.refuses(bucket, key):
            return "skipped"
        head = self.storage.head(bucket, key)
        if head is None:
            return "gone"
        if head.is_output:
            return "skipped"
        s = self.settings
        manifest, _ = self._read_manifest(manifest_key(s.manifest_prefix, key))
        done = self._already_done(
            ref,
            head,
            manifest,
            manifest_key(s.manifest_prefix, key),
            failure_key(s.failure_prefix, key),
            self._digest_for(head),
        )
        if done is None:
            return "pending"
        return "failed" if done.failure_key else "done"

    # ----------------------------------------------------------------------------------------
    # Created

    def process(self, ref: ObjectRef) -> Result:
        s = self.settings
        refusal = s.refuses(ref.bucket, ref.key)
        if refusal:
            return Result(ref, Outcome.SKIPPED, refusal)
        job = _ObjectJob(
            ref,
            manifest_key(s.manifest_prefix, ref.key),
            failure_key(s.failure_prefix, ref.key),
            time.perf_counter(),
        )
        for _ in range(MAX_ATTEMPTS):
            result = self._attempt(job)
            if result is not None:
                return result
        raise TransientError(
            f"s3://{ref.bucket}/{ref.key} kept changing while being processed; retry later"
        )

    def _attempt(self, job: _ObjectJob) -> Result | None:
        """One try at the object's current version: its result, or None to start over (the
        object or its manifest changed meanwhile)."""
        s, store, ref = self.settings, self.storage, job.ref
        head = store.head(ref.bucket, ref.key)
        if head is None:
            return Result(ref, Outcome.GONE, "the object no longer exists")
        if head.is_output:
            return Result(ref, Outcome.SKIPPED, "object is a pixelpipe output")
        manifest, manifest_etag = self._read_manifest(job.mkey)
        seen = _Seen(head, manifest, manifest_etag, self._digest_for(head))
        if not job.clobbered:
            done = self._already_done(ref, head, manifest, job.mkey, job.fkey, seen.digest)
            if done is not None:
                return done
        try:
            engine = object_engine(s, head.metadata)
        except AreaError as exc:
            return self._fail(job, seen, exc)
        t_fetch = time.perf_counter()
        try:
            data = store.get(ref.bucket, ref.key, max_bytes=s.engine.max_bytes, if_match=head.etag)
            if data is None:
                return Result(ref, Outcome.GONE, "the object no longer exists")
            t_engine = time.perf_counter()
            result = pixelate(data, engine)
        except Conflict:
            return None  # replaced between HEAD and GET: start over for the new version
        except ImageError as exc:
            return self._fail(job, seen, exc)
        t_store = time.perf_counter()
        keys = [render(s.key_template, ref.key, v) for v in result.variants]
        collision = self._collision(ref, keys)
        if collision is not None:
            return self._fail(job, seen, collision)
        job.written.update(keys)
        self._put_variants(ref, head, keys, result)
        timings = {"fetch": ms(t_engine - t_fetch), "engine": ms(t_store - t_engine)}
        return self._commit(job, seen, keys, result, engine, timings, t_store, len(data))

    def _put_variants(
        self, ref: ObjectRef, head: ObjectInfo, keys: Sequence[str], result: Pixelated
    ) -> None:
        s = self.settings
        meta = self._output_metadata(ref, head)
        for key, variant in zip(keys, result.variants, strict=True):
            self.storage.put(
                s.processed_bucket,
                key,
                variant.data,
                content_type=variant.content_type,
                metadata={**meta, "pixelpipe-variant": variant.label},
                cache_control=s.cache_control,
            )

    def _commit(
        self,
        job: _ObjectJob,
        seen: _Seen,
        keys: Sequence[str],
        result: Pixelated,
        engine: EngineSettings,
        timings: dict[str, float],
        t_store: float,
        bytes_in: int,
    ) -> Result | None:
        """After the variants: HEAD again, then the manifest (conditional, last), then the
        clean-up. None: start over (a newer version arrived, or another worker's manifest)."""
        s, store, ref, head = self.settings, self.storage, job.ref, seen.head
        now = store.head(ref.bucket, ref.key)
        if now is None:
            # Deleted while we worked: the delete may already have been synced.
            if s.delete_sync:
                for key in keys:
                    store.delete(s.processed_bucket, key)
            return Result(ref, Outcome.GONE, "the object was deleted while processing")
        if now.etag != head.etag:
            # A newer version arrived while we wrote: some of our variants may have landed
            # after its own. Redo the work for it, even if its manifest says it is done.
            job.clobbered = True
            return None
        timings["store"] = ms(time.perf_counter() - t_store)
        doc = self._manifest(ref, head, result, keys, timings, job.t0, engine, seen.digest)
        try:
            store.put_json(
                s.processed_bucket,
                job.mkey,
                doc.to_json(),
                metadata={OUTPUT_MARKER: "manifest"},
                if_match=seen.manifest_etag,
                if_none_match=seen.manifest_etag is None,
            )
        except Conflict:
            return None  # another worker wrote a manifest meanwhile: re-check from the top
        old = set(seen.manifest.output_keys if seen.manifest else ())
        for key in sorted(old - set(keys)):
            store.delete(s.processed_bucket, key)
        store.delete(s.processed_bucket, job.fkey)
        timings["total"] = ms(time.perf_counter() - job.t0)
        return Result(
            ref,
            Outcome.PROCESSED,
            f"{len(keys)} variant{'s' * (len(keys) != 1)}" + _weak_note(doc),
            outputs=tuple(keys),
            manifest_key=job.mkey,
            bytes_in=bytes_in,
            bytes_out=sum(len(v.data) for v in result.variants),
            timings_ms=timings,
        )

    def _already_done(
        self,
        ref: ObjectRef,
        head: ObjectInfo,
        manifest: Manifest | None,
        mkey: str,
        fkey: str,
        digest: str,
    ) -> Result | None:
        """A result when this version needs no work (done or failed before), else None."""
        if manifest is not None and manifest.covers(head.etag, head.version_id, digest):
            older = _older_event(ref, head, manifest)
            outputs = manifest.output_keys
            if older:
                return Result(ref, Outcome.STALE, older, outputs=outputs, manifest_key=mkey)
            return Result(
                ref, Outcome.DUPLICATE, "already processed", outputs=outputs, manifest_key=mkey
            )
        record = self._read_failure(fkey)
        if record is not None and record.covers(head.etag, head.version_id, digest):
            return Result(
                ref,
                Outcome.DUPLICATE,
                f"failed before: {record.reason}",
                failure_key=fkey,
                error_class=record.error_class or "",
            )
        return None

    def _read_manifest(self, mkey: str) -> tuple[Manifest | None, str | None]:
        """The manifest at ``mkey`` and its eTag. A malformed one counts as none (the work is
        redone and it is replaced, conditionally on that eTag); a newer version's raises
        :class:`LeftForNewer`: nothing is read from it, nothing written over it."""
        found = self.storage.get_json(self.settings.processed_bucket, mkey)
        if found is None:
            return None, None
        try:
            return manifest_or_none(found[0]), found[1]
        except NewerDocument as exc:
            raise _left_for_newer(self.settings.processed_bucket, mkey, exc) from exc

    def _read_failure(self, fkey: str) -> FailureRecord | None:
        """The failure record at ``fkey`` (malformed: none; newer: :class:`LeftForNewer`)."""
        found = self.storage.get_json(self.settings.processed_bucket, fkey)
        try:
            return failure_or_none(found[0]) if found else None
        except NewerDocument as exc:
            raise _left_for_newer(self.settings.processed_bucket, fkey, exc) from exc

    def _digest_for(self, head: ObjectInfo) -> str:
        """The settings digest for this object: the deployment's, changed by its own region
        and faces metadata (malformed metadata too, so that fixing it reprocesses)."""
        own = {k: head.metadata[k] for k in (META_REGIONS, META_FACES) if k in head.metadata}
        if not own:
            return self.digest
        try:
            return settings_digest(self.settings, object_engine(self.settings, own))
        except AreaError:
            text = json.dumps({"digest": self.digest, "metadata": own}, sort_keys=True)
            return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _collision(self, ref: ObjectRef, keys: Sequence[str]) -> KeyCollision | None:
        """Another source's variants at our keys? (``a.jpg`` and ``a.png`` both become
        ``a.webp`` with OUTPUT_FORMAT=webp; a template without ``{dir}``/``{key}`` mixes
        folders.) Keys that contain the source's folder and whole name cannot collide."""
        template = self.settings.key_template
        name = split_key(ref.key)[1]
        placed = "{key}" in template or "{dir}" in template
        for key in keys:
            if placed and split_key(key)[1].endswith(name):
                continue
            existing = self.storage.head(self.settings.processed_bucket, key)
            owner = unquote(existing.metadata.get(META_SOURCE_KEY, "")) if existing else ""
            if existing and owner and owner != ref.key:
                return KeyCollision(
                    f"output key {key} already holds the variants of {owner} (OUTPUT_FORMAT or "
                    "OUTPUT_KEY_TEMPLATE gives both sources one name); not overwritten"
                )
        return None

    def _fail(self, job: _ObjectJob, seen: _Seen, exc: PixelpipeError) -> Result:
        """Permanent failure: record it, and remove the outputs of the version it replaced
        and any this call wrote (they show an image that is no longer there)."""
        s, ref, head = self.settings, job.ref, seen.head
        record = FailureRecord(
            source=_source_record(ref, head),
            reason=exc.reason,
            error_class=type(exc).__name__,
            time=_now(),
            engine_version=__version__,
            settings_digest=seen.digest,
        )
        self.storage.put_json(
            s.processed_bucket, job.fkey, record.to_json(), metadata={OUTPUT_MARKER: "failure"}
        )
        stale = set(job.written | set(seen.manifest.output_keys if seen.manifest else ()))
        if seen.manifest_etag is not None:  # a manifest, or a malformed one: gone too
            self.storage.delete(s.processed_bucket, job.mkey)
        for key in sorted(stale):
            self.storage.delete(s.processed_bucket, key)
        return Result(
            ref,
            Outcome.FAILED,
            exc.reason,
            failure_key=job.fkey,
            error_class=type(exc).__name__,
            bytes_in=head.size,
        )

    def _output_metadata(self, ref: ObjectRef, head: ObjectInfo) -> dict[str, str]:
        return {
            OUTPUT_MARKER: "variant",
            META_SOURCE_BUCKET: ref.bucket,
            META_SOURCE_KEY: meta_value(ref.key),
            META_SOURCE_ETAG: head.etag,
        }

    def _manifest(
        self,
        ref: ObjectRef,
        head: ObjectInfo,
        result: Pixelated,
        keys: Sequence[str],
        timings: dict[str, float],
        t0: float,
        engine: EngineSettings,
        digest: str,
    ) -> Manifest:
        return Manifest.of(
            result,
            engine,
            source=_source_record(ref, head),
            keys=keys,
            key_template=self.settings.key_template,
            timings_ms=timings,
            total_ms=ms(time.perf_counter() - t0),
            processed_at=_now(),
            digest=digest,
        )

    # ----------------------------------------------------------------------------------------
    # Removed

    def remove(self, ref: ObjectRef) -> Result:
        s, store = self.settings, self.storage
        if not s.delete_sync:
            return Result(ref, Outcome.SKIPPED, "delete sync is off")
        refusal = s.refuses(ref.bucket, ref.key)
        if refusal:
            return Result(ref, Outcome.SKIPPED, refusal)
        if store.head(ref.bucket, ref.key) is not None:
            # Uploaded again after this delete: the delete event is late; keep the outputs.
            return Result(ref, Outcome.STALE, "the object exists again")
        mkey = manifest_key(s.manifest_prefix, ref.key)
        fkey = failure_key(s.failure_prefix, ref.key)
        # A newer version's manifest lists outputs this one may not know how to read: raises.
        manifest, manifest_etag = self._read_manifest(mkey)
        keys = list(manifest.output_keys if manifest else ())
        for key in keys:
            store.delete(s.processed_bucket, key)
        store.delete(s.processed_bucket, mkey)
        store.delete(s.processed_bucket, fkey)
        return Result(
            ref,
            Outcome.DELETED,
            f"{len(keys)} outputs removed",
            outputs=tuple(keys),
            manifest_key=mkey if manifest_etag is not None else None,
        )


def _source_record(ref: ObjectRef, head: ObjectInfo) -> SourceRecord:
    """The source object's fields (a failure record's ``source``; a manifest adds the
    image's)."""
    return SourceRecord(
        bucket=ref.bucket,
        key=ref.key,
        etag=head.etag,
        version_id=head.version_id,
        size=head.size,
        last_modified=head.last_modified.isoformat() if head.last_modified else None,
        sequencer=ref.sequencer,
    )


def _weak_note(doc: Manifest) -> str:
    """The detail's warning (the worker's and the Lambda's log line) when an area job wrote
    outputs that do not anonymise (sizes set explicitly above the limits, PRIVACY.md)."""
    weak = [o.label for o in doc.outputs if o.anonymised is False]
    return f"; not anonymising: {', '.join(weak)}" if weak else ""


def _left_for_newer(bucket: str, key: str, exc: NewerDocument) -> LeftForNewer:
    return LeftForNewer(
        f"s3://{bucket}/{key}: {exc.reason}; left for a newer pixelpipe worker, retried later"
    )


def _older_event(ref: ObjectRef, head: ObjectInfo, manifest: Manifest) -> str:
    """Why the event is older than what the manifest covers, or '' if it is not."""
    if ref.etag and ref.etag != head.etag:
        return f"event names eTag {ref.etag}; the current object ({head.etag}) is done"
    done_seq = manifest.source.sequencer
    if ref.sequencer and done_seq and sequencer_order(ref.sequencer) < sequencer_order(done_seq):
        return "event sequencer is older than the processed one"
    return ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = [
    "MANIFEST_VERSION",
    "META_FACES",
    "META_REGIONS",
    "LeftForNewer",
    "Outcome",
    "Pipeline",
    "Result",
    "object_engine",
    "settings_digest",
]
