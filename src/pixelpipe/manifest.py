"""The manifest and the failure record: the two JSON documents pixelpipe writes per object.

This module owns their format (docs/MANIFEST.md describes it field by field). The pipeline
writes them through :meth:`Manifest.to_json` / :meth:`FailureRecord.to_json`; every reader
(the pipeline, the web page, the demo) reads them through :meth:`Manifest.from_json` /
:meth:`FailureRecord.from_json` and typed attributes, never by string keys.

* **Versions.** A manifest carries ``manifest_version`` (:data:`MANIFEST_VERSION`, 2: 1 plus
  ``placeholder``). A failure record carries none today: absent means 1; a future format adds
  ``record_version``. A document whose version is newer than this code knows raises
  :class:`NewerDocument` with one line ("manifest written by a newer pixelpipe (version 3;
  this one reads up to 2)"): its fields may mean something this code does not know, so it is
  never read as if it were an older one. What each reader then does is its own decision (the
  pipeline leaves the object to a newer worker; the page does not show it).
* **Tolerance.** Older documents (version 1) and documents missing optional fields read, with
  ``None`` (or the field's documented default) for what is missing. What a reader cannot do
  without (a version, the source's eTag, each output's key) or a field of the wrong type
  raises :class:`MalformedDocument`: it is not a document this code wrote.
* **Shape.** ``to_json`` gives the keys in the order pixelpipe has always written them, so
  ``Manifest.from_json(doc).to_json() == doc`` (key order included) for every document
  pixelpipe wrote. No AWS, no files, no Pillow.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import PixelpipeError

# 1: the first format. 2: ``placeholder``. ``areas`` (only when regions or faces were hidden)
# came without a version change: a reader that does not know it loses nothing it relied on.
MANIFEST_VERSION = 2
# Failure records have no version field yet; a future format writes ``record_version``.
FAILURE_RECORD_VERSION = 1


class ManifestError(PixelpipeError):
    """A manifest or failure record that this pixelpipe cannot read."""


class MalformedDocument(ManifestError):
    """Not a document pixelpipe wrote: not an object, a required field missing, a wrong type."""


class NewerDocument(ManifestError):
    """Written by a newer pixelpipe, in a format this one does not know."""

    def __init__(self, what: str, version: int, known: int) -> None:
        super().__init__(
            f"{what} written by a newer pixelpipe (version {version}; this one reads up to {known})"
        )
        self.version = version
        self.known = known


# --------------------------------------------------------------------------------------------
# Parts


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """The source object a document is about, and (in a manifest) what the engine saw."""

    bucket: str | None
    key: str | None
    etag: str  # without quotes
    version_id: str | None = None
    size: int | None = None  # bytes
    last_modified: str | None = None  # ISO 8601, S3's LastModified
    sequencer: str | None = None  # of the event that was processed, when it had one
    # What the engine learnt (manifests only):
    format: str | None = None  # Pillow's name, e.g. "JPEG"
    mode: str | None = None  # as stored, e.g. "RGB", "P", "I;16"
    width: int | None = None  # displayed size, after EXIF orientation
    height: int | None = None
    frames: int | None = None
    orientation: int | None = None  # the EXIF orientation applied (1 = none)

    def object_json(self) -> dict[str, Any]:
        """The object's fields only (a failure record's ``source``)."""
        return _written(self, _OBJECT_FIELDS)

    def to_json(self) -> dict[str, Any]:
        """Object and image fields (a manifest's ``source``)."""
        return {**self.object_json(), **_written(self, _IMAGE_FIELDS)}

    def with_image(self, info: object) -> SourceRecord:
        """This record with the image fields of ``info`` (the engine's ``SourceInfo``)."""
        return replace(self, **{name: getattr(info, name) for name, _ in _IMAGE_FIELDS})

    @classmethod
    def from_json(cls, doc: object, where: str = "source") -> SourceRecord:
        d = _object(doc, where)
        fields = _read(d, (*_OBJECT_FIELDS, *_IMAGE_FIELDS), where)
        return cls(**{**fields, "etag": _req(d, "etag", str, where)})


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """One variant in the processed bucket."""

    key: str
    label: str = ""  # "8x8", "16px", "8x8-grid"
    size: int | None = None  # grid size n, or block size in pixels (see ``unit``)
    unit: str | None = None  # "grid" or "px"
    kind: str = "full"  # "full": the source's size; "grid": the tiny grid image itself
    grid: tuple[int, int] | None = None  # blocks across, blocks down
    format: str | None = None  # pixelpipe's name, e.g. "jpeg"
    content_type: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    bytes: int | None = None
    # Area jobs only: every face at most 5 blocks across, every region at most 8 (fill: true).
    # Absent for whole images and in manifests written before it existed: None.
    anonymised: bool | None = None

    @property
    def blocks(self) -> tuple[int | None, int | None]:
        """Blocks across and down (``grid``; for a document without it, ``size`` twice)."""
        return self.grid if self.grid is not None else (self.size, self.size)

    def to_json(self) -> dict[str, Any]:
        grid = None if self.grid is None else list(self.grid)
        doc = {**_written(self, _OUTPUT_NAMING), "grid": grid, **_written(self, _OUTPUT_FILE)}
        if self.anonymised is not None:
            doc["anonymised"] = self.anonymised
        return doc

    @classmethod
    def of(cls, key: str, variant: Any) -> OutputRecord:
        """The record of the engine's ``Variant`` stored at ``key``."""
        names = [n for n, _ in (*_OUTPUT_NAMING, *_OUTPUT_FILE) if n not in ("key", "bytes")]
        fields = {name: getattr(variant, name) for name in names}
        fields.update(key=key, grid=tuple(variant.grid), bytes=len(variant.data))
        return cls(**fields, anonymised=getattr(variant, "anonymised", None))

    @classmethod
    def from_json(cls, doc: object, where: str) -> OutputRecord:
        d = _object(doc, where)
        grid = _opt(d, "grid", list, where)
        if grid is not None:
            if len(grid) != 2 or not all(_is(v, int) for v in grid):
                raise MalformedDocument(f"{where}.grid is not two integers")
            grid = (grid[0], grid[1])
        fields = _read(d, (*_OUTPUT_NAMING, *_OUTPUT_FILE), where)
        return cls(
            **{
                **fields,
                "key": _req(d, "key", str, where),
                "label": fields["label"] or "",
                "kind": fields["kind"] or "full",
                "grid": grid,
                "anonymised": _opt(d, "anonymised", bool, where),
            }
        )


@dataclass(frozen=True, slots=True)
class PlaceholderRecord:
    """The manifest's ``placeholder`` (see placeholder.py): shown before any image loads."""

    blurhash: str | None = None
    thumbhash: str | None = None  # base64
    data_uri: str | None = None  # data:image/png;base64,..., at most 1 KiB
    color: str | None = None  # "#rrggbb"
    width: int | None = None  # the displayed size
    height: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _written(self, _PLACEHOLDER_FIELDS)

    @classmethod
    def from_json(cls, doc: object, where: str = "placeholder") -> PlaceholderRecord:
        return cls(**_read(_object(doc, where), _PLACEHOLDER_FIELDS, where))


@dataclass(frozen=True, slots=True)
class AreaRecord:
    """One hidden area (areas.py's ``Area`` as the manifest lists it)."""

    box: tuple[int, int, int, int]  # x, y, width, height in displayed pixels (what is hidden)
    source: str  # "region" or "face"
    score: float | None = None  # faces: the detector's confidence, 3 decimals
    detector: str | None = None  # faces: the detector's name and version
    frame: int | None = None  # faces in multi-frame inputs: the first frame it was found in
    face: tuple[int, int, int, int] | None = None  # faces: the detector's box
    # "rect" (all of ``box``) or "ellipse" (faces: the pixels inside ``ellipse`` or inside
    # ``face``, their union; ``box`` bounds both); None: old manifests (all of ``box``)
    shape: str | None = None
    # faces: the head ellipse: centre x, y, half-axes x, y (pixels, 0.1) and its turn in
    # degrees (clockwise on screen); None: old manifests (the ellipse inscribed in ``box``)
    ellipse: tuple[float, float, float, float, float] | None = None

    @classmethod
    def of(cls, area: Any) -> AreaRecord:
        """From an ``areas.Area`` (or anything with its attributes)."""
        score = None if area.score is None else round(float(area.score), 3)
        box = _four(area.box)
        face = None if getattr(area, "face", None) is None else _four(area.face)
        shape = getattr(area, "shape", None)
        e = getattr(area, "ellipse", None)
        ellipse = None
        if e is not None:

            def r(v: float) -> float:
                return round(v, 1) + 0.0  # + 0.0: a tiny negative rounds to -0.0; written 0.0

            ellipse = (r(e.cx), r(e.cy), r(e.rx), r(e.ry), r(math.degrees(e.angle)))
        return cls(box, area.source, score, area.detector, area.frame, face, shape, ellipse)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"box": list(self.box), "source": self.source}
        if self.shape is not None:
            doc["shape"] = self.shape
        if self.source == "face":
            if self.face is not None:
                doc["face"] = list(self.face)
            if self.ellipse is not None:
                doc["ellipse"] = list(self.ellipse)
            doc["score"] = self.score
            doc["detector"] = self.detector
            if self.frame is not None:
                doc["frame"] = self.frame
        return doc

    @classmethod
    def from_json(cls, doc: object, where: str) -> AreaRecord:
        d = _object(doc, where)
        box = _box(_req(d, "box", list, where), f"{where}.box")
        face = _opt(d, "face", list, where)
        return cls(
            box=box,
            source=_req(d, "source", str, where),
            score=_opt(d, "score", float, where),
            detector=_opt(d, "detector", str, where),
            frame=_opt(d, "frame", int, where),
            face=None if face is None else _box(face, f"{where}.face"),
            shape=_opt(d, "shape", str, where),
            ellipse=_ellipse(_opt(d, "ellipse", list, where), f"{where}.ellipse"),
        )


def _ellipse(
    values: list[Any] | None, where: str
) -> tuple[float, float, float, float, float] | None:
    if values is None:
        return None
    if len(values) != 5 or not all(_is(v, float) for v in values):
        raise MalformedDocument(f"{where} is not five numbers")
    cx, cy, rx, ry, angle = (float(v) for v in values)
    return cx, cy, rx, ry, angle


def _four(values: Any) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in values)
    return x, y, w, h


def _box(values: list[Any], where: str) -> tuple[int, int, int, int]:
    if len(values) != 4 or not all(_is(v, int) for v in values):
        raise MalformedDocument(f"{where} is not four integers")
    return _four(values)


@dataclass(frozen=True, slots=True)
class FaceDetectionRecord:
    """How faces were looked for (jobs with faces): the detector, and the smallest face width
    in the displayed image's pixels that detection covered reliably (narrower faces may have
    been missed)."""

    detector: str
    min_face_px: int

    @classmethod
    def of(cls, search: Any) -> FaceDetectionRecord:
        """From an ``areas.FaceSearch`` (or anything with its attributes)."""
        return cls(str(search.detector), int(search.min_face_px))

    def to_json(self) -> dict[str, Any]:
        return {"detector": self.detector, "min_face_px": self.min_face_px}

    @classmethod
    def from_json(cls, doc: object, where: str) -> FaceDetectionRecord:
        d = _object(doc, where)
        return cls(_req(d, "detector", str, where), _req(d, "min_face_px", int, where))


# --------------------------------------------------------------------------------------------
# The documents


@dataclass(frozen=True, slots=True)
class Manifest:
    """``_manifests/{key}.json``: the variants of one version of a source object.

    Written last, after every variant; its presence for the source's current eTag (and the
    settings digest) means the object is done.
    """

    source: SourceRecord
    outputs: tuple[OutputRecord, ...]
    settings_digest: str | None = None
    engine_version: str | None = None
    processed_at: str | None = None  # ISO 8601 UTC, milliseconds, "Z"
    placeholder: PlaceholderRecord | None = None  # None: version 1, or none could be made
    # Present only when regions or faces were hidden (None: the whole image was pixelated).
    areas: tuple[AreaRecord, ...] | None = None
    # Present only when faces were looked for.
    face_detection: FaceDetectionRecord | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # {"engine": ..., "key_template"}
    timings_ms: Mapping[str, float | None] = field(default_factory=dict)
    manifest_version: int = MANIFEST_VERSION

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.outputs)

    @classmethod
    def of(
        cls,
        result: Any,
        engine: Any,
        *,
        source: SourceRecord,
        keys: Sequence[str],
        key_template: str,
        timings_ms: Mapping[str, float | None],
        total_ms: float | None,
        processed_at: str | None = None,
        digest: str | None = None,
    ) -> Manifest:
        """The manifest of the engine's ``result`` made with ``engine``, variants at ``keys``:
        the pipeline's (``source`` an S3 object) and ``pixelate --manifest``'s (a file)."""
        fields = json.loads(json.dumps(engine.output_fields(), default=str))
        areas = tuple(AreaRecord.of(a) for a in result.areas) if engine.hides_areas else None
        search = result.face_search  # faces looked for: how (areas.FaceSearch), else None
        return cls(
            manifest_version=MANIFEST_VERSION,
            engine_version=result.engine_version,
            settings_digest=digest or settings_digest_of(fields, key_template),
            processed_at=processed_at,
            source=source.with_image(result.source),
            outputs=tuple(
                OutputRecord.of(k, v) for k, v in zip(keys, result.variants, strict=True)
            ),
            placeholder=PlaceholderRecord(**result.placeholder.as_dict())
            if result.placeholder
            else None,
            # What was hidden, when only regions and faces were (None: the whole image).
            areas=areas,
            face_detection=None if search is None else FaceDetectionRecord.of(search),
            settings={"engine": fields, "key_template": key_template},
            timings_ms={
                **timings_ms,
                "decode": result.timings_ms.get("decode"),
                "pixelate_encode": result.timings_ms.get("pixelate_encode"),
                **({"detect": result.timings_ms.get("detect")} if engine.faces else {}),
                "total": total_ms,
            },
        )

    @property
    def total_ms(self) -> float | None:
        """The worker's time on the object (fetch, pixelate, store): ``timings_ms.total``."""
        return self.timings_ms.get("total")

    def covers(self, etag: str, version_id: str | None, digest: str) -> bool:
        """This manifest is about that version of the object, made with those settings."""
        return _covers(self.source, self.settings_digest, etag, version_id, digest)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "manifest_version": self.manifest_version,
            "engine_version": self.engine_version,
            "settings_digest": self.settings_digest,
            "processed_at": self.processed_at,
            "source": self.source.to_json(),
            "outputs": [o.to_json() for o in self.outputs],
            "placeholder": None if self.placeholder is None else self.placeholder.to_json(),
        }
        if self.areas is not None:
            doc["areas"] = [a.to_json() for a in self.areas]
        if self.face_detection is not None:
            doc["face_detection"] = self.face_detection.to_json()
        doc["settings"] = dict(self.settings)
        doc["timings_ms"] = dict(self.timings_ms)
        return doc

    @classmethod
    def from_json(cls, doc: object) -> Manifest:
        """The manifest in ``doc`` (parsed JSON). Raises :class:`NewerDocument` for a version
        newer than :data:`MANIFEST_VERSION`, :class:`MalformedDocument` for anything that is
        not a manifest."""
        d = _object(doc, "manifest")
        version = _req(d, "manifest_version", int, "manifest")
        if version < 1:
            raise MalformedDocument(f"manifest_version {version} is not a version")
        if version > MANIFEST_VERSION:
            raise NewerDocument("manifest", version, MANIFEST_VERSION)
        outputs = _req(d, "outputs", list, "manifest")
        areas = _opt(d, "areas", list, "manifest")
        detection = d.get("face_detection")
        placeholder = d.get("placeholder")
        timings = _opt(d, "timings_ms", dict, "manifest") or {}
        for name, value in timings.items():
            if value is not None and not _is(value, float):
                raise MalformedDocument(f"manifest.timings_ms.{name} is not a number")
        return cls(
            manifest_version=version,
            engine_version=_opt(d, "engine_version", str, "manifest"),
            settings_digest=_opt(d, "settings_digest", str, "manifest"),
            processed_at=_opt(d, "processed_at", str, "manifest"),
            source=SourceRecord.from_json(d.get("source"), "manifest.source"),
            outputs=tuple(
                OutputRecord.from_json(o, f"manifest.outputs[{i}]") for i, o in enumerate(outputs)
            ),
            placeholder=None if placeholder is None else PlaceholderRecord.from_json(placeholder),
            areas=None
            if areas is None
            else tuple(
                AreaRecord.from_json(a, f"manifest.areas[{i}]") for i, a in enumerate(areas)
            ),
            face_detection=None
            if detection is None
            else FaceDetectionRecord.from_json(detection, "manifest.face_detection"),
            settings=_opt(d, "settings", dict, "manifest") or {},
            timings_ms=timings,
        )


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """``_failures/{key}.json``: one version of a source object failed permanently."""

    source: SourceRecord  # the object's fields only
    reason: str  # one line
    error_class: str | None = None  # e.g. "UnsupportedImage", "AreaError"
    time: str | None = None  # ISO 8601 UTC, milliseconds, "Z"
    engine_version: str | None = None
    settings_digest: str | None = None

    def covers(self, etag: str, version_id: str | None, digest: str) -> bool:
        """This record is about that version of the object, with those settings."""
        return _covers(self.source, self.settings_digest, etag, version_id, digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source.object_json(),
            "reason": self.reason,
            "error_class": self.error_class,
            "time": self.time,
            "engine_version": self.engine_version,
            "settings_digest": self.settings_digest,
        }

    @classmethod
    def from_json(cls, doc: object) -> FailureRecord:
        """The failure record in ``doc``. Raises :class:`NewerDocument` when it carries a
        ``record_version`` newer than :data:`FAILURE_RECORD_VERSION`,
        :class:`MalformedDocument` for anything that is not a failure record."""
        d = _object(doc, "failure record")
        version = _opt(d, "record_version", int, "failure record") or 1
        if version > FAILURE_RECORD_VERSION:
            raise NewerDocument("failure record", version, FAILURE_RECORD_VERSION)
        where = "failure record"
        return cls(
            source=SourceRecord.from_json(d.get("source"), "failure record.source"),
            reason=_opt(d, "reason", str, where) or "",
            error_class=_opt(d, "error_class", str, where),
            time=_opt(d, "time", str, where),
            engine_version=_opt(d, "engine_version", str, where),
            settings_digest=_opt(d, "settings_digest", str, where),
        )


def settings_digest_of(engine_fields: Mapping[str, Any], key_template: str) -> str:
    """16 hex digits that change with what changes the outputs: the engine's ``output_fields()``,
    the key template and :data:`MANIFEST_VERSION` (a manifest of an older one is redone)."""
    version = MANIFEST_VERSION
    payload = {"engine": engine_fields, "key_template": key_template, "manifest_version": version}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Reading helpers


def _covers(
    source: SourceRecord, doc_digest: str | None, etag: str, version_id: str | None, digest: str
) -> bool:
    return (
        source.etag == etag
        and (version_id is None or source.version_id == version_id)
        and doc_digest == digest
    )


_NAMES = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object"}
_NAMES[bool] = "true or false"


def _is(value: object, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # JSON true/false are not numbers
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


# The plain fields of each part, in the order they are written, with their JSON types.
_Fields = tuple[tuple[str, type], ...]
_OBJECT_FIELDS: _Fields = (
    ("bucket", str),
    ("key", str),
    ("etag", str),
    ("version_id", str),
    ("size", int),
    ("last_modified", str),
    ("sequencer", str),
)
_IMAGE_FIELDS: _Fields = (
    ("format", str),
    ("mode", str),
    ("width", int),
    ("height", int),
    ("frames", int),
    ("orientation", int),
)
_OUTPUT_NAMING: _Fields = (
    ("key", str),
    ("label", str),
    ("size", int),
    ("unit", str),
    ("kind", str),
)
_OUTPUT_FILE: _Fields = (
    ("format", str),
    ("content_type", str),
    ("width", int),
    ("height", int),
    ("frames", int),
    ("bytes", int),
)
_PLACEHOLDER_FIELDS: _Fields = (
    ("blurhash", str),
    ("thumbhash", str),
    ("data_uri", str),
    ("color", str),
    ("width", int),
    ("height", int),
)


def _written(record: object, fields: _Fields) -> dict[str, Any]:
    """``fields`` of ``record`` as the document has them."""
    return {name: getattr(record, name) for name, _ in fields}


def _read(d: Mapping[str, Any], fields: _Fields, where: str) -> dict[str, Any]:
    """``fields`` of the document ``d`` (each optional, type-checked)."""
    return {name: _opt(d, name, kind, where) for name, kind in fields}


def _object(doc: object, where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise MalformedDocument(f"{where} is not a JSON object")
    return doc


def _opt(d: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = d.get(name)
    if value is None:
        return None
    if not _is(value, kind):
        raise MalformedDocument(f"{where}.{name} is not {_NAMES[kind]}")
    return value


def _req(d: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if d.get(name) is None:
        raise MalformedDocument(f"{where} has no {name}")
    return _opt(d, name, kind, where)


def manifest_or_none(doc: object) -> Manifest | None:
    """``Manifest.from_json(doc)``, or None for a malformed document (counts as none).
    :class:`NewerDocument` still raises: a newer manifest is not "no manifest"."""
    try:
        return Manifest.from_json(doc)
    except MalformedDocument:
        return None


def failure_or_none(doc: object) -> FailureRecord | None:
    """``FailureRecord.from_json(doc)``, or None for a malformed document; a newer one
    raises :class:`NewerDocument`."""
    try:
        return FailureRecord.from_json(doc)
    except MalformedDocument:
        return None


__all__ = [
    "FAILURE_RECORD_VERSION",
    "MANIFEST_VERSION",
    "AreaRecord",
    "FaceDetectionRecord",
    "FailureRecord",
    "MalformedDocument",
    "Manifest",
    "ManifestError",
    "NewerDocument",
    "OutputRecord",
    "PlaceholderRecord",
    "SourceRecord",
    "failure_or_none",
    "manifest_or_none",
    "settings_digest_of",
]
