"""Deriving ``centerface-int8.onnx``: a static int8 quantisation of the fp32 model, made once
at install time (``python -m pixelpipe.faces install``), never at run time.

Measured (docs/PERFORMANCE.md): 0.64-0.66x the fp32 CPU per 12 MP detection and the same
recall on the pasted evidence set, but boxes that move enough to leave parts of two evidence
heads uncovered, one weak false detection (0.34) and one detail tile on a face-free picture:
so the detector uses it only when asked (``PIXELPIPE_FACE_PRECISION=int8``).

``onnxruntime.quantization`` needs the ``onnx`` package, which pixelpipe does not depend on
at run time (Lambda's size): ``derive`` installs a pinned ``onnx`` into a
throw-away directory and runs this module in a child process with it on ``sys.path``
(``python -m pixelpipe.faces.quantize SOURCE OUT``), then deletes it. Anything that fails
leaves no file: the detector keeps the fp32 model.

The recipe (each choice measured): the input shape made dynamic (``model.make_dynamic``), the
opset raised 9 -> 13 (per-channel quantisation needs it), QOperator format, per-channel int8
weights, uint8 activations, MinMax calibration on ``calibration/grace_hopper.jpg`` (public
domain, from matplotlib's sample data) at three scales. The stem (first convolution) and the
output heads stay fp32: quantised, the heat maps moved enough to give a false detection on a
face-free picture. The same source and the same pinned versions give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# The onnx package and what it needs, pinned: the derived bytes depend on them.
ONNX_PINS = ("onnx==1.23.2", "protobuf==7.36.2", "ml_dtypes==0.7.0", "typing_extensions==4.16.0")
CALIBRATION = Path(__file__).resolve().parent / "calibration" / "grace_hopper.jpg"
CALIBRATION_SCALES = (1.0, 0.5, 0.25)
OPSET = 13
RECIPE = "qoperator-perchannel-u8s8-minmax-stem-heads-fp32-1"


def sidecar(int8: Path) -> Path:
    """``centerface-int8.onnx.json``: the derived file's sha256 and its source's."""
    return int8.with_name(int8.name + ".json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def derive(source: Path, out: Path, *, quiet: bool = False) -> str | None:
    """Write ``out`` (and its sidecar) from ``source``; None on success, else one line saying
    why not (nothing is left behind then)."""
    with tempfile.TemporaryDirectory(prefix="pixelpipe-onnx-") as tmp:
        lib = Path(tmp) / "lib"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        pip += ["--no-warn-conflicts", "--disable-pip-version-check", "--target", str(lib)]
        proc = subprocess.run([*pip, *ONNX_PINS], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["failed"]
            return f"pip could not install {ONNX_PINS[0]}: {lines[-1]}"
        partial = Path(tmp) / out.name
        return run_child(source, partial, out, lib, quiet=quiet)


def run_child(
    source: Path, partial: Path, out: Path, lib: Path, *, quiet: bool = False
) -> str | None:
    """The quantisation in a child process with ``lib`` (onnx) first on its path; the result
    moved to ``out`` with its sidecar when it succeeded."""
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lib), src])}
    command = [sys.executable, "-m", "pixelpipe.faces.quantize", str(source), str(partial)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0 or not partial.is_file():
        lines = proc.stderr.strip().splitlines() or ["failed"]
        return f"int8 quantisation failed: {lines[-1]}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partial, out)
        record = {"sha256": sha256(out), "source_sha256": sha256(source), "recipe": RECIPE}
        sidecar(out).write_text(json.dumps(record, sort_keys=True) + "\n")
    except OSError as exc:
        out.unlink(missing_ok=True)
        sidecar(out).unlink(missing_ok=True)
        return f"could not write {out}: {exc}"
    return None


def _calibration(input_name: str) -> list[dict[str, Any]]:
    import numpy as np
    from PIL import Image

    with Image.open(CALIBRATION) as im:
        image = im.convert("RGB")
    blobs = []
    for scale in CALIBRATION_SCALES:
        size = (round(image.width * scale), round(image.height * scale))
        pixels = np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
        h, w = pixels.shape[:2]
        blob = np.zeros((1, 3, -(-h // 32) * 32, -(-w // 32) * 32), dtype=np.float32)
        blob[0, :, :h, :w] = pixels.transpose(2, 0, 1)
        blobs.append({input_name: blob})
    return blobs


def quantize(source: Path, out: Path) -> None:  # pragma: no cover - runs in the child
    """The quantisation itself (needs ``onnx``)."""
    import onnx
    from onnx import version_converter
    from onnxruntime import quantization as q

    from .model import make_dynamic

    model = onnx.load_from_string(make_dynamic(source.read_bytes()))
    model = version_converter.convert_version(model, OPSET)
    for i, node in enumerate(model.graph.node):  # the exporter left them unnamed
        node.name = f"{node.op_type}_{i}"
    producer = {name: node for node in model.graph.node for name in node.output}
    keep = [model.graph.node[0].name]  # the stem
    for output in model.graph.output:  # the heads (and the heat map's Sigmoid's input)
        node = producer[output.name]
        keep.append(node.name)
        if node.op_type == "Sigmoid":
            keep.append(producer[node.input[0]].name)
    blobs = iter(_calibration(model.graph.input[0].name))

    class Reader(q.CalibrationDataReader):  # type: ignore[misc]
        def get_next(self) -> dict[str, Any] | None:
            return next(blobs, None)

    with tempfile.TemporaryDirectory(prefix="pixelpipe-quantize-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        onnx.save(model, str(prepared))
        q.quantize_static(
            str(prepared),
            str(out),
            Reader(),
            quant_format=q.QuantFormat.QOperator,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            nodes_to_exclude=keep,
            calibrate_method=q.CalibrationMethod.MinMax,
        )


if __name__ == "__main__":  # pragma: no cover
    import logging

    logging.disable(logging.WARNING)  # the quantiser's advice on every run
    quantize(Path(sys.argv[1]), Path(sys.argv[2]))
