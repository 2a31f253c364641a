"""Every shape an S3 object notification can arrive in, turned into object references.

Pure: no boto3, no network, no clock. The adapters (Lambda handler, queue worker) hand over
what they received and get a list of :class:`ObjectRef` back, or an :class:`EventError` with
a one-line reason.

Shapes understood
-----------------

``parse_event`` (anything a Lambda function can be invoked with):

* S3 notification: ``{"Records": [{"eventSource": "aws:s3", "s3": {...}}, ...]}``
* SQS batch: ``{"Records": [{"eventSource": "aws:sqs", "body": "<message body>"}, ...]}``;
  each body goes through :func:`parse_message_body`
* SNS: ``{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "<S3 JSON>"}}]}``
* EventBridge: ``{"source": "aws.s3", "detail-type": "Object Created" | "Object Deleted", ...}``

``parse_message_body`` (one SQS message body, as a string, bytes or already-decoded mapping):

* an S3 notification (``Records``), including SNS raw message delivery
* the ``s3:TestEvent`` S3 sends when a notification configuration is saved (-> no refs)
* an SNS envelope ``{"Type": "Notification", "Message": "<JSON string>"}`` whose message is one
  of the other shapes
* an EventBridge event delivered to SQS

Decisions
---------

* Keys in S3 notifications are form-encoded (``quote_plus``: space is ``+``, a literal ``+`` is
  ``%2B``, ``%`` is ``%25``; S3-compatible servers such as moto also encode ``/`` as ``%2F``).
  They are decoded exactly once with ``unquote_plus``. EventBridge keys are not encoded and are
  returned as they are.
* ``ObjectCreated:*`` is *created*; ``ObjectRemoved:*`` and ``LifecycleExpiration:*`` (a
  lifecycle rule deleting the object or adding a delete marker, which EventBridge reports as
  ``Object Deleted``) are *removed*. Every other S3 event type (restore, replication, lifecycle
  transition, tagging, ACL, Intelligent-Tiering, ...) and every other EventBridge detail-type
  from ``aws.s3`` is ignored: no refs, no error. An ``s3:`` prefix on the event name, as
  MinIO sends it, is accepted and dropped.
* Folder markers (keys ending in ``/`` after decoding) are skipped.
* Optional fields (size, eTag, versionId, sequencer, eventTime) may be absent or null.
  ETags lose their surrounding quotes.
* Records whose ``eventSource`` ends in ``:s3`` (``aws:s3``, ``minio:s3``, ``ceph:s3``) are S3
  records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from .errors import PixelpipeError

Kind = Literal["created", "removed"]

TEST_EVENT = "s3:TestEvent"
EVENTBRIDGE_SOURCE = "aws.s3"

_S3_KIND_BY_PREFIX: tuple[tuple[str, Kind], ...] = (
    ("ObjectCreated:", "created"),
    ("ObjectRemoved:", "removed"),
    ("LifecycleExpiration:", "removed"),
)
_EVENTBRIDGE_KIND: dict[str, Kind] = {
    "Object Created": "created",
    "Object Deleted": "removed",
}
_HEX = re.compile(r"[0-9A-Fa-f]+")
_MAX_SHOWN = 60


class EventError(PixelpipeError):
    """A malformed or unrecognised event or message. Permanent: the same input fails again."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One object named by a notification."""

    bucket: str
    key: str  # decoded exactly once
    kind: Kind
    size: int | None = None
    etag: str | None = None  # without surrounding quotes
    version_id: str | None = None
    sequencer: str | None = None
    event_name: str = ""  # "ObjectCreated:Put", "Object Created", ...
    event_time: str | None = None  # ISO 8601 as given


def parse_event(event: Mapping[str, Any]) -> list[ObjectRef]:
    """Object references from any Lambda event carrying S3 notifications (see module doc)."""
    if not isinstance(event, Mapping):
        raise EventError(f"event is {_describe(event)}, expected a JSON object")
    if "Records" not in event:
        return _parse_document(event, what="event", envelope_ok=True)
    records = _records(event)
    refs: list[ObjectRef] = []
    for index, record in enumerate(records):
        source = record.get("eventSource", record.get("EventSource"))
        if source == "aws:sqs":
            refs.extend(_parse_sqs_record(record, index))
        elif source == "aws:sns":
            refs.extend(_parse_sns_record(record, index))
        elif _is_s3_source(source):
            refs.extend(_parse_s3_record(record, index))
        else:
            raise EventError(
                f"record {index}: unsupported eventSource {_show(source)} "
                "(expected aws:s3, aws:sqs or aws:sns)"
            )
    return refs


def parse_message_body(body: str | bytes | Mapping[str, Any]) -> list[ObjectRef]:
    """Object references from one SQS message body (see module doc)."""
    document = body if isinstance(body, Mapping) else _load_json(body, what="message body")
    return _parse_document(document, what="message body", envelope_ok=True)


def is_sqs_event(event: Mapping[str, Any]) -> bool:
    """True for a Lambda SQS batch: a non-empty ``Records`` list of ``aws:sqs`` records."""
    if not isinstance(event, Mapping):
        return False
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(
            isinstance(record, Mapping) and record.get("eventSource") == "aws:sqs"
            for record in records
        )
    )


def sequencer_order(sequencer: str) -> int:
    """A number that orders S3 sequencers of one key: greater is later.

    Sequencers are hexadecimal strings of varying length; AWS says to compare them after
    left-padding the shorter with zeros, which is comparing them as numbers.
    """
    if not isinstance(sequencer, str) or not _HEX.fullmatch(sequencer):
        raise EventError(f"sequencer {_show(sequencer)} is not a hexadecimal string")
    return int(sequencer, 16)


# --- documents -------------------------------------------------------------------------------


def _parse_document(document: object, *, what: str, envelope_ok: bool) -> list[ObjectRef]:
    """A decoded message: S3 notification, test event, EventBridge event or SNS envelope."""
    if not isinstance(document, Mapping):
        raise EventError(f"{what} is {_describe(document)}, expected a JSON object")
    if "Records" in document:
        refs: list[ObjectRef] = []
        for index, record in enumerate(_records(document)):
            source = record.get("eventSource")
            if not _is_s3_source(source):
                raise EventError(
                    f"{what}: record {index} has eventSource {_show(source)}, expected aws:s3"
                )
            refs.extend(_parse_s3_record(record, index))
        return refs
    if document.get("Event") == TEST_EVENT:
        return []
    if "detail-type" in document:
        return _parse_eventbridge(document)
    if "Type" in document and ("Message" in document or "TopicArn" in document):
        if not envelope_ok:
            raise EventError(f"{what}: an SNS envelope inside an SNS message")
        return _parse_sns_envelope(document)
    raise EventError(
        f"{what} is not an S3 notification (no Records, s3:TestEvent, EventBridge detail-type "
        f"or SNS Message); top-level keys: {_keys(document)}"
    )


def _parse_sns_envelope(envelope: Mapping[str, Any]) -> list[ObjectRef]:
    kind = envelope.get("Type")
    if kind != "Notification":
        raise EventError(f"SNS message of Type {_show(kind)}, expected Notification")
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise EventError(f"SNS Message is {_describe(message)}, expected a JSON string")
    document = _load_json(message, what="SNS Message")
    return _parse_document(document, what="SNS Message", envelope_ok=False)


def _parse_sqs_record(record: Mapping[str, Any], index: int) -> list[ObjectRef]:
    body = record.get("body")
    label = f"SQS message {_show(record.get('messageId', index))}"
    if not isinstance(body, str | bytes | Mapping):
        raise EventError(f"{label}: body is {_describe(body)}, expected a string")
    try:
        return parse_message_body(body)
    except EventError as exc:
        raise EventError(f"{label}: {exc.reason}") from exc


def _parse_sns_record(record: Mapping[str, Any], index: int) -> list[ObjectRef]:
    sns = record.get("Sns")
    if not isinstance(sns, Mapping):
        raise EventError(f"record {index}: Sns is {_describe(sns)}, expected an object")
    if "Type" not in sns:  # the Lambda SNS record always has it; be lenient when it is missing
        sns = {**sns, "Type": "Notification"}
    label = f"SNS message {_show(sns.get('MessageId', index))}"
    try:
        return _parse_sns_envelope(sns)
    except EventError as exc:
        raise EventError(f"{label}: {exc.reason}") from exc


# --- S3 notification records -----------------------------------------------------------------


def _parse_s3_record(record: Mapping[str, Any], index: int) -> list[ObjectRef]:
    where = f"record {index}"
    name = _text(record.get("eventName"), f"{where}: eventName")
    name = name.removeprefix("s3:")
    kind = _s3_kind(name)
    if kind is None:
        return []
    s3 = _mapping(record.get("s3"), f"{where}: s3")
    bucket = _mapping(s3.get("bucket"), f"{where}: s3.bucket")
    obj = _mapping(s3.get("object"), f"{where}: s3.object")
    raw_key = _text(obj.get("key"), f"{where}: s3.object.key")
    key = _decode_key(raw_key, where)
    if key.endswith("/"):
        return []
    return [
        ObjectRef(
            bucket=_text(bucket.get("name"), f"{where}: s3.bucket.name"),
            key=key,
            kind=kind,
            size=_size(obj.get("size"), f"{where}: s3.object.size"),
            etag=_etag(obj.get("eTag"), f"{where}: s3.object.eTag"),
            version_id=_opt_text(obj.get("versionId"), f"{where}: s3.object.versionId"),
            sequencer=_opt_text(obj.get("sequencer"), f"{where}: s3.object.sequencer"),
            event_name=name,
            event_time=_opt_text(record.get("eventTime"), f"{where}: eventTime"),
        )
    ]


def _s3_kind(event_name: str) -> Kind | None:
    for prefix, kind in _S3_KIND_BY_PREFIX:
        if event_name.startswith(prefix):
            return kind
    return None


def _decode_key(raw: str, where: str) -> str:
    try:
        key = unquote_plus(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise EventError(
            f"{where}: object key {_show(raw)} does not decode to UTF-8 ({exc.reason})"
        ) from exc
    if not key:
        raise EventError(f"{where}: object key {_show(raw)} decodes to an empty key")
    return key


# --- EventBridge -----------------------------------------------------------------------------


def _parse_eventbridge(event: Mapping[str, Any]) -> list[ObjectRef]:
    source = event.get("source")
    detail_type = event.get("detail-type")
    if source != EVENTBRIDGE_SOURCE:
        raise EventError(
            f"EventBridge event from source {_show(source)} ({_show(detail_type)}), "
            f"expected {EVENTBRIDGE_SOURCE}"
        )
    if not isinstance(detail_type, str):
        raise EventError(f"EventBridge detail-type is {_describe(detail_type)}, expected a string")
    kind = _EVENTBRIDGE_KIND.get(detail_type)
    if kind is None:
        return []
    where = f"EventBridge {detail_type!r} event"
    detail = _mapping(event.get("detail"), f"{where}: detail")
    bucket = _mapping(detail.get("bucket"), f"{where}: detail.bucket")
    obj = _mapping(detail.get("object"), f"{where}: detail.object")
    key = _text(obj.get("key"), f"{where}: detail.object.key")  # not encoded: never unquote
    if key.endswith("/"):
        return []
    return [
        ObjectRef(
            bucket=_text(bucket.get("name"), f"{where}: detail.bucket.name"),
            key=key,
            kind=kind,
            size=_size(obj.get("size"), f"{where}: detail.object.size"),
            etag=_etag(obj.get("etag"), f"{where}: detail.object.etag"),
            version_id=_opt_text(obj.get("version-id"), f"{where}: detail.object.version-id"),
            sequencer=_opt_text(obj.get("sequencer"), f"{where}: detail.object.sequencer"),
            event_name=detail_type,
            event_time=_opt_text(event.get("time"), f"{where}: time"),
        )
    ]


# --- small helpers ---------------------------------------------------------------------------


def _is_s3_source(source: object) -> bool:
    return isinstance(source, str) and source.endswith(":s3")


def _records(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = document["Records"]
    if not isinstance(records, list):
        raise EventError(f"Records is {_describe(records)}, expected a list")
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise EventError(f"record {index} is {_describe(record)}, expected an object")
    return records


def _load_json(text: str | bytes, *, what: str) -> object:
    if not isinstance(text, str | bytes | bytearray):
        raise EventError(f"{what} is {_describe(text)}, expected a JSON string")
    if not text.strip():
        raise EventError(f"{what} is not JSON: it is empty")
    try:
        return json.loads(text)
    except RecursionError:
        raise EventError(f"{what} is not JSON this parser accepts: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise EventError(f"{what} is not JSON: {exc}") from exc


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventError(f"{what} is {_describe(value)}, expected an object")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise EventError(f"{what} is {_describe(value)}, expected a non-empty string")
    return value


def _opt_text(value: object, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventError(f"{what} is {_describe(value)}, expected a string")
    return value


def _etag(value: object, what: str) -> str | None:
    etag = _opt_text(value, what)
    if etag is None:
        return None
    return etag.strip('"') or None


def _size(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():  # some S3 emulators
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise EventError(f"{what} is {_describe(value)}, expected a non-negative integer")


def _keys(document: Mapping[str, Any]) -> str:
    keys = sorted(str(key) for key in document)
    if not keys:
        return "none (empty object)"
    shown = ", ".join(_show(key) for key in keys[:10])
    return shown + (f" and {len(keys) - 10} more" if len(keys) > 10 else "")


def _describe(value: object) -> str:
    if value is None:
        return "missing or null"
    return f"{type(value).__name__} {_show(value)}"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


__all__ = [
    "EventError",
    "Kind",
    "ObjectRef",
    "is_sqs_event",
    "parse_event",
    "parse_message_body",
    "sequencer_order",
]
