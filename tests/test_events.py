"""events.py: every notification shape -> ObjectRef, keys decoded exactly once.

The fixtures follow the structures AWS documents ("Event message structure" for S3
notifications, "EventBridge event message structure" for S3 events on EventBridge, and the
Lambda event shapes for SQS and SNS); the moto ones are copied from what moto's server sends.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelpipe.errors import PixelpipeError
from pixelpipe.events import (
    EventError,
    ObjectRef,
    is_sqs_event,
    parse_event,
    parse_message_body,
    sequencer_order,
)

# --- fixtures ----------------------------------------------------------------------------------


def s3_record(
    key: str = "uploads/2026/11/26/cat.jpg",
    *,
    event_name: str = "ObjectCreated:Put",
    bucket: str = "pixelpipe-src",
    size: Any = 48213,
    etag: Any = "0a4d55a8d778e5022fab701977c5d840",
    version_id: Any = "096fKKXTRTtl3on89fVO.nfljtsv6qko",
    sequencer: Any = "0055AED6DCD90281E5",
    event_time: str = "2026-11-26T15:28:01.023Z",
) -> dict[str, Any]:
    """One record of an S3 event notification, as AWS documents it (version 2.1).

    A value of ``None`` leaves the field out, the way S3 does for absent values.
    """
    obj: dict[str, Any] = {"key": key}
    for name, value in (
        ("size", size),
        ("eTag", etag),
        ("versionId", version_id),
        ("sequencer", sequencer),
    ):
        if value is not None:
            obj[name] = value
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "pixelpipe-uploads",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def s3_notification(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_record(
    body: str, message_id: str = "059f36b4-87a3-44ab-83d2-661975830a7d"
) -> dict[str, Any]:
    """One record of a Lambda SQS event."""
    return {
        "messageId": message_id,
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1796311681023",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1796311681030",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:pixelpipe-uploads",
        "awsRegion": "eu-west-1",
    }


def sns_envelope(message: str) -> dict[str, Any]:
    """What SNS delivers to an SQS subscription without raw message delivery."""
    return {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:eu-west-1:111122223333:pixelpipe-uploads",
        "Subject": "Amazon S3 Notification",
        "Message": message,
        "Timestamp": "2026-11-26T15:28:01.120Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQ==",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:eu-west-1:111122223333:pixelpipe-uploads:4a7a3a3e",
    }


def sns_lambda_event(message: str) -> dict[str, Any]:
    """A Lambda function subscribed to an SNS topic."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": (
                    "arn:aws:sns:eu-west-1:111122223333:pixelpipe-uploads:4a7a3a3e"
                ),
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": "arn:aws:sns:eu-west-1:111122223333:pixelpipe-uploads",
                    "Subject": "Amazon S3 Notification",
                    "Message": message,
                    "Timestamp": "2026-11-26T15:28:01.120Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/Example.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def eventbridge_created(key: str = "uploads/2026/11/26/cat.jpg") -> dict[str, Any]:
    """S3 "Object Created" on EventBridge (keys are NOT URL-encoded here)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2026-11-26T15:28:01Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::pixelpipe-src"],
        "detail": {
            "version": "0",
            "bucket": {"name": "pixelpipe-src"},
            "object": {
                "key": key,
                "size": 48213,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": "617f08299329d189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "111122223333",
            "source-ip-address": "203.0.113.10",
            "reason": "PutObject",
        },
    }


EVENTBRIDGE_DELETED: dict[str, Any] = {
    "version": "0",
    "id": "2ee9cc15-d022-99ea-1fb8-1b1bac4850f9",
    "detail-type": "Object Deleted",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2026-11-26T15:30:12Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:s3:::pixelpipe-src"],
    "detail": {
        "version": "0",
        "bucket": {"name": "pixelpipe-src"},
        "object": {
            "key": "uploads/old photo+1.jpg",
            "etag": "d41d8cd98f00b204e9800998ecf8427e",
            "version-id": "1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF",
            "sequencer": "617f0837b476e463",
        },
        "request-id": "0BH729840619AG5K",
        "requester": "111122223333",
        "source-ip-address": "203.0.113.10",
        "reason": "DeleteObject",
        "deletion-type": "Delete Marker Created",
    },
}

# Exactly what moto's server put on the queue (note %2F for '/', %2B for '+', %25 for '%').
MOTO_BODY = (
    '{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", '
    '"eventTime": "2026-11-26T15:28:01.023Z", "eventName": "ObjectCreated:Put", "s3": '
    '{"s3SchemaVersion": "1.0", "configurationId": "abc", "bucket": {"name": "src", "arn": '
    '"arn:aws:s3:::src"}, "object": {"key": "a+b%2Fc%2Bd%25e+%C3%BC.jpg", "size": 5, "eTag": '
    '"5d41402abc4b2a76b9719d911017c592"}}}]}'
)
MOTO_TEST_EVENT = (
    '{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-26T15:28:01.016Z", '
    '"Bucket": "src"}'
)


def keys(refs: list[ObjectRef]) -> list[str]:
    return [ref.key for ref in refs]


# --- S3 notifications ----------------------------------------------------------------------------


def test_s3_direct_record_with_version_and_sequencer() -> None:
    refs = parse_event(s3_notification(s3_record()))
    assert refs == [
        ObjectRef(
            bucket="pixelpipe-src",
            key="uploads/2026/11/26/cat.jpg",
            kind="created",
            size=48213,
            etag="0a4d55a8d778e5022fab701977c5d840",
            version_id="096fKKXTRTtl3on89fVO.nfljtsv6qko",
            sequencer="0055AED6DCD90281E5",
            event_name="ObjectCreated:Put",
            event_time="2026-11-26T15:28:01.023Z",
        )
    ]


def test_moto_body_decodes_key_exactly_once() -> None:
    assert parse_message_body(MOTO_BODY) == [
        ObjectRef(
            bucket="src",
            key="a b/c+d%e ü.jpg",
            kind="created",
            size=5,
            etag="5d41402abc4b2a76b9719d911017c592",
            version_id=None,
            sequencer=None,
            event_name="ObjectCreated:Put",
            event_time="2026-11-26T15:28:01.023Z",
        )
    ]


def test_moto_test_event_gives_no_refs() -> None:
    assert parse_message_body(MOTO_TEST_EVENT) == []


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("my+holiday+photo.jpg", "my holiday photo.jpg"),
        ("a%2Bb.jpg", "a+b.jpg"),
        ("100%25+real.png", "100% real.png"),
        ("already%2520encoded.jpg", "already%20encoded.jpg"),  # decoded once, not twice
        ("%2525.jpg", "%25.jpg"),
        ("caf%C3%A9%2F%E6%97%A5%E6%9C%AC%F0%9F%90%88.webp", "café/日本🐈.webp"),
        ("2026/11/26/cam-01/raw/burst/IMG_0001.JPG", "2026/11/26/cam-01/raw/burst/IMG_0001.JPG"),
        ("2026%2F11%2F26%2Fcam-01%2FIMG_0001.JPG", "2026/11/26/cam-01/IMG_0001.JPG"),
        ("a+%2B+b%3D%26%3F%23.gif", "a + b=&?#.gif"),
        ("plain.jpg", "plain.jpg"),
    ],
)
def test_s3_key_decoding(encoded: str, decoded: str) -> None:
    refs = parse_event(s3_notification(s3_record(encoded)))
    assert keys(refs) == [decoded]


@pytest.mark.parametrize("key", ["photos/", "photos%2F", "a+b%2Fdeep%2Fprefix%2F"])
def test_folder_marker_is_skipped(key: str) -> None:
    event = s3_notification(s3_record(key, size=0), s3_record("photos%2Fcat.jpg"))
    assert keys(parse_event(event)) == ["photos/cat.jpg"]


def test_object_removed_without_etag_or_size() -> None:
    record = s3_record(
        "gone+now.jpg",
        event_name="ObjectRemoved:Delete",
        size=None,
        etag=None,
        version_id=None,
        sequencer="0055AED6DCD90281E6",
    )
    assert parse_event(s3_notification(record)) == [
        ObjectRef(
            bucket="pixelpipe-src",
            key="gone now.jpg",
            kind="removed",
            sequencer="0055AED6DCD90281E6",
            event_name="ObjectRemoved:Delete",
            event_time="2026-11-26T15:28:01.023Z",
        )
    ]


@pytest.mark.parametrize(
    ("event_name", "kind"),
    [
        ("ObjectCreated:Put", "created"),
        ("ObjectCreated:Post", "created"),
        ("ObjectCreated:Copy", "created"),
        ("ObjectCreated:CompleteMultipartUpload", "created"),
        ("ObjectRemoved:Delete", "removed"),
        ("ObjectRemoved:DeleteMarkerCreated", "removed"),
        ("LifecycleExpiration:Delete", "removed"),
        ("LifecycleExpiration:DeleteMarkerCreated", "removed"),
    ],
)
def test_event_kinds(event_name: str, kind: str) -> None:
    refs = parse_event(s3_notification(s3_record(event_name=event_name)))
    assert [(ref.kind, ref.event_name) for ref in refs] == [(kind, event_name)]


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Post",
        "ObjectRestore:Completed",
        "ObjectRestore:Delete",
        "ReducedRedundancyLostObject",
        "Replication:OperationFailedReplication",
        "Replication:OperationReplicatedAfterThreshold",
        "LifecycleTransition",
        "IntelligentTiering",
        "ObjectTagging:Put",
        "ObjectTagging:Delete",
        "ObjectAcl:Put",
    ],
)
def test_other_s3_event_types_are_ignored(event_name: str) -> None:
    event = s3_notification(s3_record("skip.jpg", event_name=event_name), s3_record("keep.jpg"))
    assert keys(parse_event(event)) == ["keep.jpg"]


@pytest.mark.parametrize(
    ("etag", "expected"),
    [
        ('"0a4d55a8d778e5022fab701977c5d840"', "0a4d55a8d778e5022fab701977c5d840"),
        ("0a4d55a8d778e5022fab701977c5d840", "0a4d55a8d778e5022fab701977c5d840"),
        ('"9b2cf535f27731c974343645a3985328-3"', "9b2cf535f27731c974343645a3985328-3"),
        (None, None),
        ("", None),
    ],
)
def test_etag_quotes_are_stripped(etag: str | None, expected: str | None) -> None:
    (ref,) = parse_event(s3_notification(s3_record(etag=etag)))
    assert ref.etag == expected


def test_missing_optional_fields_are_none() -> None:
    record = s3_record(size=None, etag=None, version_id=None, sequencer=None)
    del record["eventTime"]
    (ref,) = parse_event(s3_notification(record))
    assert (ref.size, ref.etag, ref.version_id, ref.sequencer, ref.event_time) == (None,) * 5
    assert (ref.bucket, ref.key, ref.kind) == (
        "pixelpipe-src",
        "uploads/2026/11/26/cat.jpg",
        "created",
    )


def test_null_version_id_is_none() -> None:
    # AWS documents versionId as "object version if bucket is versioning-enabled, otherwise null"
    record = s3_record()
    record["s3"]["object"]["versionId"] = None
    (ref,) = parse_event(s3_notification(record))
    assert ref.version_id is None


def test_multiple_records_keep_their_order() -> None:
    event = s3_notification(
        s3_record("a.jpg", sequencer="0A"),
        s3_record("b.png", event_name="ObjectRemoved:Delete", etag=None, size=None),
        s3_record("c.gif", event_name="ObjectTagging:Put"),
        s3_record("d%2Fe.webp", bucket="other-bucket"),
    )
    refs = parse_event(event)
    assert [(r.bucket, r.key, r.kind) for r in refs] == [
        ("pixelpipe-src", "a.jpg", "created"),
        ("pixelpipe-src", "b.png", "removed"),
        ("other-bucket", "d/e.webp", "created"),
    ]


def test_minio_style_record() -> None:
    record = s3_record("x+y.jpg", event_name="s3:ObjectCreated:Put", size="17")
    record["eventSource"] = "minio:s3"
    (ref,) = parse_event(s3_notification(record))
    assert (ref.key, ref.kind, ref.event_name, ref.size) == (
        "x y.jpg",
        "created",
        "ObjectCreated:Put",
        17,
    )


def test_empty_records_list_gives_no_refs() -> None:
    assert parse_event({"Records": []}) == []
    assert parse_message_body('{"Records": []}') == []


# --- SQS and SNS ---------------------------------------------------------------------------------


def test_sqs_wrapping_s3() -> None:
    event = {
        "Records": [
            sqs_record(json.dumps(s3_notification(s3_record("in%2Fone+1.jpg"))), "m-1"),
            sqs_record(MOTO_TEST_EVENT, "m-2"),
            sqs_record(MOTO_BODY, "m-3"),
        ]
    }
    assert is_sqs_event(event)
    assert keys(parse_event(event)) == ["in/one 1.jpg", "a b/c+d%e ü.jpg"]


def test_sqs_wrapping_sns_wrapping_s3() -> None:
    notification = s3_notification(s3_record("deep%2Fprefix%2F%C3%A9t%C3%A9+2026.jpg"))
    body = json.dumps(sns_envelope(json.dumps(notification)))
    event = {"Records": [sqs_record(body)]}
    assert is_sqs_event(event)
    (ref,) = parse_event(event)
    assert (ref.bucket, ref.key, ref.sequencer) == (
        "pixelpipe-src",
        "deep/prefix/été 2026.jpg",
        "0055AED6DCD90281E5",
    )
    assert parse_message_body(body) == [ref]


def test_sns_raw_message_delivery_is_plain_s3_json() -> None:
    body = json.dumps(s3_notification(s3_record("raw+delivery.jpg")))
    assert keys(parse_message_body(body)) == ["raw delivery.jpg"]


def test_test_event_inside_sns_envelope() -> None:
    assert parse_message_body(json.dumps(sns_envelope(MOTO_TEST_EVENT))) == []
    assert parse_event(sns_lambda_event(MOTO_TEST_EVENT)) == []


def test_sns_direct() -> None:
    event = sns_lambda_event(json.dumps(s3_notification(s3_record("sns+direct%25.png"))))
    assert not is_sqs_event(event)
    (ref,) = parse_event(event)
    assert (ref.key, ref.kind, ref.event_name) == (
        "sns direct%.png",
        "created",
        "ObjectCreated:Put",
    )


def test_message_body_as_bytes_and_mapping() -> None:
    expected = parse_message_body(MOTO_BODY)
    assert parse_message_body(MOTO_BODY.encode()) == expected
    assert parse_message_body(json.loads(MOTO_BODY)) == expected
    assert expected[0].key == "a b/c+d%e ü.jpg"


# --- EventBridge ---------------------------------------------------------------------------------


def test_eventbridge_object_created_direct() -> None:
    assert parse_event(eventbridge_created("raw key+with%20literal %25.jpg")) == [
        ObjectRef(
            bucket="pixelpipe-src",
            key="raw key+with%20literal %25.jpg",  # never unquoted
            kind="created",
            size=48213,
            etag="b1946ac92492d2347c6235b4d2611184",
            version_id="IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            sequencer="617f08299329d189",
            event_name="Object Created",
            event_time="2026-11-26T15:28:01Z",
        )
    ]


def test_eventbridge_object_deleted_direct() -> None:
    assert parse_event(EVENTBRIDGE_DELETED) == [
        ObjectRef(
            bucket="pixelpipe-src",
            key="uploads/old photo+1.jpg",
            kind="removed",
            size=None,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            version_id="1QW9g1Z99LUNbvaaYVpW9xDlOLU.qxgF",
            sequencer="617f0837b476e463",
            event_name="Object Deleted",
            event_time="2026-11-26T15:30:12Z",
        )
    ]


def test_eventbridge_through_sqs() -> None:
    event = {
        "Records": [
            sqs_record(json.dumps(eventbridge_created("q/über+%2F.png"))),
            sqs_record(json.dumps(EVENTBRIDGE_DELETED)),
        ]
    }
    assert is_sqs_event(event)
    refs = parse_event(event)
    assert [(r.key, r.kind) for r in refs] == [
        ("q/über+%2F.png", "created"),
        ("uploads/old photo+1.jpg", "removed"),
    ]


def test_eventbridge_folder_marker_is_skipped() -> None:
    assert parse_event(eventbridge_created("uploads/2026/")) == []


@pytest.mark.parametrize(
    "detail_type",
    [
        "Object Restore Completed",
        "Object Tags Added",
        "Object ACL Updated",
        "Object Storage Class Changed",
    ],
)
def test_other_eventbridge_detail_types_are_ignored(detail_type: str) -> None:
    event = eventbridge_created() | {"detail-type": detail_type}
    assert parse_event(event) == []
    assert parse_message_body(json.dumps(event)) == []


def test_eventbridge_from_another_source_is_an_error() -> None:
    event = eventbridge_created() | {
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change",
    }
    with pytest.raises(EventError, match=r"source 'aws\.ec2'"):
        parse_event(event)


# --- errors --------------------------------------------------------------------------------------


def _broken_record(path: tuple[str, ...], value: Any) -> str:
    record = s3_record()
    target = record
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(s3_notification(record))


_DELETE = object()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("this is not json", r"^message body is not JSON: Expecting value"),
        ('{"Records": [', r"^message body is not JSON: "),
        ("", r"^message body is not JSON: it is empty"),
        ("   \n", r"^message body is not JSON: it is empty"),
        (b"\xff\xfe\x00garbage", r"^message body is not JSON"),
        ("[1, 2]", r"^message body is list \[1, 2\], expected a JSON object"),
        ('"just a string"', r"^message body is str"),
        ("{}", r"top-level keys: none"),
        ('{"foo": 1, "bar": {"Records": []}}', r"top-level keys: 'bar', 'foo'$"),
        ('{"Records": {"eventSource": "aws:s3"}}', r"Records is dict .*expected a list"),
        ('{"Records": ["x"]}', r"record 0 is str 'x', expected an object"),
        (
            '{"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}',
            r"record 0 has eventSource 'aws:sqs', expected aws:s3",
        ),
        (
            _broken_record(("s3",), _DELETE),
            r"^record 0: s3 is missing or null, expected an object$",
        ),
        (_broken_record(("s3", "object", "key"), _DELETE), r"s3\.object\.key is missing"),
        (_broken_record(("s3", "object", "key"), ""), r"s3\.object\.key is str '', expected a non"),
        (_broken_record(("s3", "object", "key"), 7), r"s3\.object\.key is int 7"),
        (_broken_record(("s3", "object", "key"), "%FF%FE.jpg"), r"does not decode to UTF-8"),
        (_broken_record(("s3", "bucket", "name"), _DELETE), r"s3\.bucket\.name is missing"),
        (_broken_record(("s3", "object", "size"), -1), r"s3\.object\.size is int -1"),
        (_broken_record(("s3", "object", "size"), True), r"s3\.object\.size is bool True"),
        (_broken_record(("s3", "object", "eTag"), 5), r"s3\.object\.eTag is int 5"),
        (_broken_record(("eventName",), _DELETE), r"^record 0: eventName is missing"),
        (
            json.dumps(sns_envelope("not json either")),
            r"^SNS Message is not JSON: Expecting value",
        ),
        (
            json.dumps(sns_envelope("{}")),
            r"^SNS Message is not an S3 notification .*top-level keys: none",
        ),
        (
            json.dumps(sns_envelope(json.dumps(sns_envelope(MOTO_TEST_EVENT)))),
            r"SNS envelope inside an SNS message",
        ),
        (
            json.dumps(sns_envelope(MOTO_TEST_EVENT) | {"Type": "SubscriptionConfirmation"}),
            r"^SNS message of Type 'SubscriptionConfirmation', expected Notification$",
        ),
        (
            json.dumps(sns_envelope(MOTO_TEST_EVENT) | {"Message": None}),
            r"^SNS Message is missing or null, expected a JSON string$",
        ),
        (json.dumps(eventbridge_created() | {"detail": "x"}), r"detail is str 'x'"),
        ("[" * 100_000 + "]" * 100_000, r"^message body is not JSON"),
    ],
)
def test_malformed_bodies_are_one_line_event_errors(body: str | bytes, reason: str) -> None:
    with pytest.raises(EventError, match=reason) as info:
        parse_message_body(body)
    assert isinstance(info.value, PixelpipeError)
    assert "\n" not in str(info.value)
    assert str(info.value) == info.value.reason
    assert len(info.value.reason) < 300


def test_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(EventError) as info:
        parse_message_body(json.dumps({"x" * 1000: 1}))
    assert len(info.value.reason) < 250
    assert "..." in info.value.reason


def test_bad_sqs_message_names_the_message() -> None:
    event = {"Records": [sqs_record(MOTO_BODY, "ok-1"), sqs_record("<xml/>", "bad-2")]}
    with pytest.raises(EventError, match=r"^SQS message 'bad-2': message body is not JSON: "):
        parse_event(event)


def test_sqs_record_without_body() -> None:
    record = sqs_record(MOTO_BODY, "m-9")
    del record["body"]
    with pytest.raises(EventError, match=r"^SQS message 'm-9': body is missing or null"):
        parse_event({"Records": [record]})


def test_bad_sns_message_names_the_message() -> None:
    with pytest.raises(EventError, match=r"^SNS message '95df01b4-.*': SNS Message is not JSON"):
        parse_event(sns_lambda_event("nope"))


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, r"^event is not an S3 notification .*top-level keys: none"),
        ({"key": "value", "bucket": "b"}, r"top-level keys: 'bucket', 'key'"),
        (
            {"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {}}]},
            r"^record 0: unsupported eventSource 'aws:dynamodb'",
        ),
        ({"Records": [{"eventID": "1"}]}, r"unsupported eventSource None"),
        ({"Records": [{"EventSource": "aws:sns", "Sns": "x"}]}, r"^record 0: Sns is str 'x'"),
        ("not a mapping", r"^event is str 'not a mapping', expected a JSON object"),
    ],
)
def test_unknown_lambda_events(event: Any, reason: str) -> None:
    with pytest.raises(EventError, match=reason):
        parse_event(event)


# --- is_sqs_event, sequencer_order, ObjectRef ----------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        s3_notification(s3_record()),
        sns_lambda_event(MOTO_TEST_EVENT),
        eventbridge_created(),
        {"Records": []},
        {"Records": "aws:sqs"},
        {"Records": [sqs_record(MOTO_BODY), s3_record()]},
        {},
    ],
)
def test_is_sqs_event_false(event: dict[str, Any]) -> None:
    assert is_sqs_event(event) is False


def test_is_sqs_event_true() -> None:
    assert is_sqs_event({"Records": [sqs_record(MOTO_BODY), sqs_record(MOTO_TEST_EVENT)]}) is True


def test_sequencer_order_compares_as_numbers() -> None:
    # Lexicographically "FF" > "0100"; as sequencers (left-padded with zeros) FF is earlier.
    assert sequencer_order("FF") < sequencer_order("0100")
    assert sequencer_order("0055AED6DCD90281E5") < sequencer_order("0055AED6DCD90281E6")
    assert sequencer_order("0055AED6DCD90281E5") < sequencer_order("0055AED6DCD90281E500")
    assert sequencer_order("00ab") == sequencer_order("AB") == 0xAB
    refs = parse_event(
        s3_notification(
            s3_record("k.jpg", sequencer="0100"),
            s3_record("k.jpg", event_name="ObjectRemoved:Delete", sequencer="FF"),
        )
    )
    latest = max(refs, key=lambda ref: sequencer_order(ref.sequencer or "0"))
    assert latest.kind == "created"


@pytest.mark.parametrize(
    "bad", ["", "0x1F", "1_0", " 1F", "-1", "XYZ", "\uff11\uff12"]
)  # fullwidth digits
def test_sequencer_order_rejects_non_hex(bad: str) -> None:
    with pytest.raises(EventError, match="not a hexadecimal string"):
        sequencer_order(bad)


def test_object_ref_is_frozen_and_hashable() -> None:
    ref = ObjectRef(bucket="b", key="k", kind="created")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.key = "other"  # type: ignore[misc]
    assert {ref, ObjectRef(bucket="b", key="k", kind="created")} == {ref}
    assert (ref.size, ref.etag, ref.version_id, ref.sequencer, ref.event_name, ref.event_time) == (
        None,
        None,
        None,
        None,
        "",
        None,
    )


# --- properties ----------------------------------------------------------------------------------

KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1).filter(
    lambda key: not key.endswith("/")
)


@settings(derandomize=True, max_examples=300, deadline=None)  # tests stay untimed
@given(key=KEYS)
def test_any_key_round_trips(key: str) -> None:
    # S3-compatible servers (moto) encode everything, '/' included; AWS leaves '/' alone.
    for encoded in (quote_plus(key, safe=""), quote_plus(key, safe="/")):
        notification = s3_notification(s3_record(encoded))
        assert keys(parse_event(notification)) == [key]
        body = json.dumps(sns_envelope(json.dumps(notification)))
        assert keys(parse_event({"Records": [sqs_record(body)]})) == [key]
    # EventBridge carries the key as it is: the same text must come back unchanged.
    assert keys(parse_event(eventbridge_created(key))) == [key]
    assert keys(parse_message_body(json.dumps(eventbridge_created(key)))) == [key]


@settings(derandomize=True, max_examples=100, deadline=None)
@given(prefix=KEYS)
def test_any_folder_marker_is_skipped(prefix: str) -> None:
    marker = prefix + "/"
    assert parse_event(s3_notification(s3_record(quote_plus(marker, safe="")))) == []
    assert parse_event(eventbridge_created(marker)) == []
