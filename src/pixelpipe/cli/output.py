"""What the command line prints: exit codes, Rich consoles, one line per rejected input, and
every error in one style, ``pixelpipe: error: ...`` (no traceback reaches the user)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..errors import PixelpipeError, SettingsError

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 70


def console(*, stderr: bool = False) -> Console:
    """A Rich console; when the output is not a terminal (piped, a file), lines and tables
    are never wrapped, so nothing is cut mid-word."""
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:
        out = Console(stderr=stderr, width=1000, soft_wrap=True)
    return out


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 variant``, ``2 variants``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def one_line(text: str) -> str:
    """``text`` with every run of white space (newlines too) made one space."""
    return " ".join(text.split())


def say(out: Console, line: str) -> None:
    """``line`` as it is: no markup, no highlighting, never wrapped."""
    out.print(line, markup=False, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    click.echo(f"pixelpipe: error: {one_line(message)}", err=True)


def _is_aws_error(exc: BaseException) -> bool:
    """botocore's errors, without importing botocore where no command used it."""
    botocore = sys.modules.get("botocore.exceptions")
    return botocore is not None and isinstance(exc, (botocore.BotoCoreError, botocore.ClientError))


def run(group: click.Group, argv: Sequence[str] | None) -> None:
    """Run ``group`` and exit. Every error, usage or runtime, is one line on stderr:
    ``pixelpipe: error: ...``; exit codes 0/1/2/70, 130 when interrupted."""
    try:
        rv = group.main(
            args=list(argv) if argv is not None else None,
            prog_name="pixelpipe",
            standalone_mode=False,
        )
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        error(exc.format_message() + hint)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        error(exc.format_message())
        sys.exit(exc.exit_code)
    except SettingsError as exc:
        error(exc.reason)
        sys.exit(EXIT_USAGE)
    except PixelpipeError as exc:
        error(exc.reason)
        sys.exit(EXIT_REJECTED)
    except (KeyboardInterrupt, click.Abort):
        click.echo("pixelpipe: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _is_aws_error(exc):  # the endpoint, credentials, a bucket, ...
            from ..worker import configuration_problem

            problem = configuration_problem(exc)  # permanent: no credentials, region, queue
            error(problem or str(exc))
            sys.exit(EXIT_USAGE if problem else EXIT_REJECTED)
        click.echo(
            f"pixelpipe: internal error: {type(exc).__name__}: {one_line(str(exc))}", err=True
        )
        sys.exit(EXIT_INTERNAL)
