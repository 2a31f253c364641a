"""The ``pixelpipe`` command line: a thin adapter over the files runner, the stack and the
operations. ``main`` is the console script; ``cli`` the click group.

Exit codes: 0 every input succeeded; 1 at least one input was rejected (one ``PATH: reason``
line each on stderr); 2 usage or settings error; 70 internal error. No traceback reaches the
user: unexpected exceptions are reported in one line too (``output.run``).

Modules: ``files`` (pixelate, placeholder), ``stack`` (up, demo, worker), ``operations``
(upload, status, backfill, dlq, package), ``options`` (shared flags, the settings built from
them), ``aws`` (every client the commands make), ``output`` (consoles, exit codes, errors).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

# Imports are kept to what `--version` and `--help` need: each command imports what it uses
# (Pillow, rich, boto3 ...), so `pixelpipe pixelate` never loads boto3 (docs/PERFORMANCE.md).
from .._version import __version__
from .files import pixelate_cmd, placeholder_cmd
from .operations import backfill, dlq, package, status, upload
from .output import EXIT_INTERNAL, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, console, run
from .stack import demo, up, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="pixelpipe")
def cli() -> None:
    """pixelpipe: pixelate images at several grid sizes.

    \b
    Quick start:
      pixelpipe pixelate photo.jpg -o out/      writes out/pixelated-8x8-photo.jpg, ...
      pixelpipe demo                            pixelates the bundled samples into ./out

    Settings can also come from PIXELPIPE_* environment variables; flags win.
    """


for _command in (
    pixelate_cmd,
    placeholder_cmd,
    up,
    demo,
    worker,
    upload,
    status,
    backfill,
    dlq,
    package,
):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point. Every error, usage or runtime, is one line on stderr:
    ``pixelpipe: error: ...``."""
    run(cli, argv)


__all__ = [
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "cli",
    "console",
    "main",
    "up",
]
