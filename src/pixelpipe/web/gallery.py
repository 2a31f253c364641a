"""The gallery of ``pixelpipe up``'s page: the buckets and the queue as the page shows them.

Status of a source object (see :meth:`Gallery.state`): ``done`` when a manifest covers its
current eTag, ``failed`` when a failure record does (with its reason), otherwise ``queued``;
``processing`` is derived from the queue: SQS counts the messages a worker holds ("in
flight"), and the oldest *n* waiting objects are shown as processing when *n* messages are
in flight (workers take messages roughly in arrival order; it is an estimate, said so on the
page).

Manifests and failure records are read through :mod:`pixelpipe.manifest`, each fetched once
per eTag. One this page cannot read — not JSON, malformed, or written by a newer pixelpipe —
is not shown (the object stays *queued*, as if it had none) and logged once per version of it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from .. import queue, storage
from ..areas import META_FACES, META_REGIONS
from ..local import LocalStack, clients
from ..manifest import FailureRecord, Manifest, ManifestError, PlaceholderRecord
from ..settings import ANON_FACE_BLOCKS, EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

MAX_ITEMS = 200  # the newest source objects shown; the page says how many there are
MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length

log = logging.getLogger("pixelpipe.web")

Record = TypeVar("Record", Manifest, FailureRecord)


class HttpError(Exception):
    """An error response: status and a one-line reason."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GalleryConfig:
    source_bucket: str
    processed_bucket: str
    manifest_prefix: str = "_manifests/"
    failure_prefix: str = "_failures/"
    queue_url: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    faces: bool = False  # the workers' setting: faces hidden unless an upload says otherwise
    # The outputs an upload with faces on gets: (label, anonymises: True/False, or None when
    # it depends on the image, --block-px).
    face_outputs: tuple[tuple[str, bool | None], ...] = ()
    faces_unavailable: str | None = None  # why faces cannot be hidden here, if they cannot


@dataclass(frozen=True, slots=True)
class Listed:
    key: str
    etag: str
    size: int
    last_modified: datetime


class Gallery:
    """What the page shows and does, over boto3 clients (thread-safe: boto3 clients are)."""

    def __init__(self, s3: S3Client, sqs: SQSClient, config: GalleryConfig) -> None:
        self.s3 = s3
        self.sqs = sqs
        self.config = config
        # record key -> (its eTag, the record; None when this page cannot read it)
        self._docs: dict[str, tuple[str, Manifest | FailureRecord | None]] = {}
        self._lock = threading.Lock()

    # --- reading ----------------------------------------------------------------------------

    def _list(self, bucket: str, prefix: str = "") -> Iterator[Listed]:
        for obj in storage.list_objects(self.s3, bucket, prefix):
            assert obj.last_modified is not None  # a listing always has it
            yield Listed(obj.key, obj.etag, obj.size, obj.last_modified)

    def _records(
        self, prefix: str, parse: Callable[[object], Record], kind: type[Record], seen: set[str]
    ) -> dict[str, Record]:
        """source key -> record (manifest or failure record) under ``prefix``; each record
        is fetched once per version of it. Unreadable ones are left out. ``seen`` gets the
        record keys listed."""
        out: dict[str, Record] = {}
        for obj in self._list(self.config.processed_bucket, prefix):
            if not obj.key.endswith(".json"):
                continue
            seen.add(obj.key)
            with self._lock:
                cached = self._docs.get(obj.key)
            if cached is None or cached[0] != obj.etag:
                try:
                    data = storage.read_object(self.s3, self.config.processed_bucket, obj.key)
                except ClientError as exc:
                    if _status(exc) == 404:
                        continue  # deleted since the listing
                    raise
                cached = (obj.etag, _parse(data, parse, obj.key))
                with self._lock:
                    self._docs[obj.key] = cached
            record = cached[1]
            if isinstance(record, kind):
                out[obj.key[len(prefix) : -len(".json")]] = record
        return out

    def queue_counts(self) -> dict[str, int] | None:
        if not self.config.queue_url:
            return None
        try:
            counts = queue.counts(self.sqs, self.config.queue_url)
        except (ClientError, BotoCoreError):
            return None
        return {"waiting": counts.waiting, "in_flight": counts.in_flight}

    def state(self) -> dict[str, Any]:
        """Every source object (newest first, at most MAX_ITEMS) with its status, variants,
        sizes and times; the queue's counts; the upload limit."""
        c = self.config
        sources = [o for o in self._list(c.source_bucket) if not o.key.endswith("/")]
        live: set[str] = set()
        manifests = self._records(c.manifest_prefix, Manifest.from_json, Manifest, live)
        failures = self._records(c.failure_prefix, FailureRecord.from_json, FailureRecord, live)
        with self._lock:  # forget records that are gone
            for stale in set(self._docs) - live:
                del self._docs[stale]
        queue = self.queue_counts()
        items = [self._item(o, manifests.get(o.key), failures.get(o.key)) for o in sources]
        # Processing: as many of the oldest waiting objects as the queue has messages in flight.
        waiting = sorted(
            (i for i in items if i["status"] == "queued"),
            key=lambda i: (i["uploaded_at"], i["key"]),
        )
        for item in waiting[: (queue or {}).get("in_flight", 0)]:
            item["status"] = "processing"
        items.sort(key=lambda i: (i["uploaded_at"], i["key"]), reverse=True)
        counts: dict[str, int] = {}
        for item in items:
            counts[item["status"]] = counts.get(item["status"], 0) + 1
        return {
            "items": items[:MAX_ITEMS],
            "total": len(items),
            "counts": counts,
            "queue": queue,
            "max_upload_bytes": c.max_upload_bytes,
            "buckets": {"source": c.source_bucket, "processed": c.processed_bucket},
            "faces": {
                "default": c.faces,
                "unavailable": c.faces_unavailable,
                "outputs": [{"label": lbl, "anonymises": a} for lbl, a in c.face_outputs],
            },
        }

    def _item(
        self, obj: Listed, manifest: Manifest | None, failure: FailureRecord | None
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "key": obj.key,
            "etag": obj.etag,
            "bytes": obj.size,
            "uploaded_at": obj.last_modified.isoformat(),
            "status": "queued",
            "url": object_url("source", obj.key, obj.etag),
            "download": object_url("source", obj.key, obj.etag, download=True),
            "variants": [],
        }
        if manifest is not None and manifest.source.etag == obj.etag:
            item.update(_done(obj, manifest))
        elif failure is not None and failure.source.etag == obj.etag:
            item.update(
                status="failed",
                reason=" ".join((failure.reason or "failed").split()),
                error_class=failure.error_class,
                processed_at=failure.time,
            )
        return item

    # --- writing ----------------------------------------------------------------------------

    def upload(
        self, name: str, body: bytes, *, faces: bool | None = None, regions: str = ""
    ) -> dict[str, Any]:
        """Put an upload into the source bucket; ``faces`` and ``regions`` become the
        object's ``pixelpipe-faces`` / ``pixelpipe-regions`` metadata (what the workers
        hide)."""
        from ..ops import content_type_for

        key = upload_key(name)
        content_type = content_type_for(key)
        metadata = {}
        if faces is not None:
            metadata[META_FACES] = "true" if faces else "false"
        if regions:
            metadata[META_REGIONS] = regions
        etag = storage.upload(
            self.s3,
            self.config.source_bucket,
            key,
            body,
            content_type=content_type,
            metadata=metadata,
        )
        return {
            "key": key,
            "etag": etag,
            "bytes": len(body),
            "content_type": content_type,
        }


_COLOR = re.compile(r"#[0-9a-f]{6}")
_DATA_URI = re.compile(r"data:image/(?:png|webp|gif);base64,[A-Za-z0-9+/]+={0,2}")


def _done(obj: Listed, manifest: Manifest) -> dict[str, Any]:
    """A done item's fields, from the manifest that covers its eTag."""
    variants = [
        {
            "key": out.key,
            "label": out.label,
            "size": out.size,
            "grid": list(out.blocks),
            "kind": out.kind,
            "bytes": out.bytes,
            "width": out.width,
            "height": out.height,
            "content_type": out.content_type,
            "anonymised": out.anonymised,  # None: a whole-image job, or an older manifest
            "url": object_url("processed", out.key, obj.etag),
            "download": object_url("processed", out.key, obj.etag, download=True),
        }
        for out in manifest.outputs
    ]
    ready = _ms_between(obj.last_modified, manifest.processed_at)
    fields: dict[str, Any] = {
        "status": "done",
        "width": manifest.source.width,
        "height": manifest.source.height,
        "format": manifest.source.format,
        "processed_at": manifest.processed_at,
        "processing_ms": manifest.total_ms,
        # Negative: the same bytes uploaded again, and the manifest (and variants) from an
        # earlier upload cover them: no upload-to-done time for this version (not "0 ms").
        "upload_to_done_ms": ready if ready is not None and ready >= 0 else None,
        "reused": ready is not None and ready < 0,
        "variants": variants,
        "placeholder": _placeholder(manifest.placeholder),
    }
    if manifest.areas is not None:  # only parts were hidden: which
        fields["areas"] = [
            {
                "box": list(a.box),
                "source": a.source,
                "score": a.score,
                "shape": a.shape or "rect",  # older manifests: rectangles
                "face": None if a.face is None else list(a.face),
                "ellipse": None if a.ellipse is None else list(a.ellipse),
            }
            for a in manifest.areas
        ]
        if manifest.face_detection is not None:
            fields["face_min_px"] = manifest.face_detection.min_face_px
    return fields


def _parse(data: bytes, parse: Callable[[object], Record], key: str) -> Record | None:
    """A record's bytes as ``parse`` reads them; None (and one log line) when unreadable."""
    try:
        return parse(json.loads(data))
    except ValueError:
        log.warning("%s is not JSON: not shown", key)
    except ManifestError as exc:
        log.warning("%s: %s: not shown", key, exc.reason)
    return None


def _placeholder(doc: object) -> dict[str, str] | None:
    """The manifest's placeholder as the page uses it (a data-URI image and a colour), or
    None: the page puts these into CSS, so nothing else gets through."""
    if isinstance(doc, PlaceholderRecord):
        doc = doc.to_json()
    if not isinstance(doc, dict):
        return None
    uri, color = doc.get("data_uri"), doc.get("color")
    if not (isinstance(uri, str) and len(uri) <= 4096 and _DATA_URI.fullmatch(uri)):
        return None
    return {
        "data_uri": uri,
        "color": color if isinstance(color, str) and _COLOR.fullmatch(color) else "",
    }


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _ms_between(start: datetime, end: str | None) -> float | None:
    """Milliseconds from ``start`` to the ISO time ``end`` (negative when it is earlier);
    None when ``end`` is not a time."""
    if not isinstance(end, str):
        return None
    try:
        done = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((done - start).total_seconds() * 1000, 1)


def object_url(bucket: str, key: str, etag: str, *, download: bool = False) -> str:
    """The page's URL of an object: the whole key percent-encoded (slashes too, so that no
    browser or proxy ever normalises ``..`` in it); the eTag makes a new version a new URL."""
    query = f"?v={quote(etag, safe='')}" + ("&download=1" if download else "")
    return f"/objects/{bucket}/{quote(key, safe='')}{query}"


def upload_key(name: str) -> str:
    """The source key for an uploaded file name: its base name, checked."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base in (".", ".."):
        raise HttpError(HTTPStatus.BAD_REQUEST, f"{name!r} is not a file name")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in base):
        raise HttpError(HTTPStatus.BAD_REQUEST, "file name contains control characters")
    if len(base.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"file name is over S3's {MAX_KEY_BYTES} bytes")
    try:
        base.encode("utf-8")
    except UnicodeEncodeError:
        raise HttpError(HTTPStatus.BAD_REQUEST, "file name is not valid UTF-8") from None
    return base


def gallery_for(stack: LocalStack) -> Gallery:
    """The gallery of a started local stack; uploads limited to its engine's max bytes."""
    from ..faces import unavailable_reason

    s3, sqs = clients(stack.endpoint)
    settings = stack.settings
    return Gallery(
        s3,
        sqs,
        GalleryConfig(
            source_bucket=stack.source_bucket,
            processed_bucket=stack.processed_bucket,
            manifest_prefix=settings.manifest_prefix,
            failure_prefix=settings.failure_prefix,
            queue_url=stack.queue_url or None,
            max_upload_bytes=stack.engine.max_bytes,
            faces=stack.engine.faces,
            faces_unavailable=unavailable_reason(),
            face_outputs=face_outputs(stack.engine),
        ),
    )


def face_outputs(engine: EngineSettings) -> tuple[tuple[str, bool | None], ...]:
    """What an upload with faces on gets from workers with ``engine``: each full-size
    output's label, and whether it anonymises (at most 5 blocks across each face; with
    ``--block-px`` that depends on the faces' sizes: None)."""
    e = engine.replace(faces=True)
    if e.block_px:
        return tuple((f"{n}px", None) for n in e.block_px)
    if e.style == "fill":
        return (("fill", True),)
    return tuple((f"{n}x{n}", n <= ANON_FACE_BLOCKS) for n in e.grid_sizes)


__all__ = [
    "MAX_ITEMS",
    "Gallery",
    "GalleryConfig",
    "HttpError",
    "Listed",
    "gallery_for",
    "object_url",
    "upload_key",
]
