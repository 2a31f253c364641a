"""The file commands: ``pixelpipe pixelate`` and ``pixelpipe placeholder``. The work is
``pixelpipe.files``'; here are the flags, the progress bar and the lines printed."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..files import FileResult, Inputs, collect_inputs, coverage_note
from ..settings import ANON_FACE_BLOCKS, ANON_REGION_BLOCKS, EngineSettings
from .options import (
    build_settings,
    jobs_option,
    require_detector,
    setting_option,
    settings_options,
)
from .output import EXIT_OK, EXIT_REJECTED, console, one_line, plural, say

if TYPE_CHECKING:
    from rich.console import Console


@click.command("pixelate")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="Output directory (created if missing).",
)
@settings_options
@jobs_option("Files processed in parallel.")
@click.option(
    "-r",
    "--recursive",
    is_flag=True,
    help="Read sub-folders too; their outputs go to the same sub-folders under OUT.",
)
@click.option(
    "--manifest",
    "manifests",
    is_flag=True,
    help="Also write each input's manifest (the pipeline's: outputs, hidden areas, whether "
    "each output anonymises) to OUT/_manifests/<input path in its folder>.json.",
)
def pixelate_cmd(
    inputs: tuple[str, ...],
    out_dir: str,
    jobs: int,
    recursive: bool,
    manifests: bool,
    **flags: Any,
) -> None:
    """Pixelate INPUT files (or folders of them) into OUT.

    Writes OUT/pixelated-{n}x{n}-{filename} for every size n (with --manifest, also
    OUT/_manifests/{filename}.json: what was hidden, and which outputs anonymise; a
    warning names the outputs that do not). Carries on past bad files;
    exits 1 if any input was rejected, with one 'PATH: reason' line each on stderr.
    Files in folders named like pixelpipe's outputs (pixelated-8x8-...) are skipped.
    """

    settings = build_settings(**flags)
    found = collect_inputs(inputs, recursive=recursive, skip_outputs=True, exclude=out_dir)
    err = console(stderr=True)
    _report_skipped(found, err)
    # Checked now, created with the first output: a run that writes nothing leaves no folder.
    check_out_dir(out_dir)
    t0 = time.perf_counter()
    results = run_batch(found.files, out_dir, settings, jobs, err, manifests=manifests)
    ok = [r for r in results if r.ok]
    warning = weak_warning(ok, settings)
    if warning:
        click.echo(f"pixelpipe: warning: {warning}", err=True)
    rejected = len(results) - len(ok)
    outputs = sum(len(r.outputs) for r in ok)
    say(
        err,
        f"{plural(outputs, 'variant')} of {plural(len(ok), 'image')} written to {out_dir} "
        f"in {time.perf_counter() - t0:.1f} s" + (f"; {rejected} rejected" if rejected else ""),
    )
    sys.exit(EXIT_REJECTED if rejected else EXIT_OK)


def _report_skipped(found: Inputs, err: Console) -> None:
    """What the folders held that is not pixelated; a usage error when that is everything."""
    if found.skipped_dirs:
        n = plural(found.skipped_dirs, "sub-folder")
        say(err, f"{n} not read (pass -r/--recursive)")
    if found.skipped_outputs:
        say(err, f"{plural(found.skipped_outputs, 'file')} skipped: pixelpipe's own outputs")
    if found.skipped_other:
        say(err, found.skipped_other_line())
    if not found.files:
        if found.skipped_dirs:
            why = "the folders given hold only sub-folders; pass -r/--recursive to read them"
        elif found.skipped_outputs:
            why = "the folders given hold only pixelpipe's own outputs"
        elif found.skipped_other:
            why = "the folders given hold no image"
        else:
            why = "the folders given are empty"
        raise click.UsageError(f"no input files: {why}")


def check_out_dir(out_dir: str) -> None:
    """Stop with a usage error if ``out_dir`` could not be created or written; create nothing
    (``process_file`` creates it with the first output)."""
    if not out_dir:
        raise click.UsageError("the output directory must not be empty")
    path = Path(out_dir).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        why = "it is a file" if existing == path else f"{existing} is a file"
        raise click.UsageError(f"cannot create output directory {out_dir}: {why}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise click.UsageError(f"cannot create output directory {out_dir}: Permission denied")


def run_batch(
    files: list[tuple[str, str]],
    out_dir: str,
    settings: EngineSettings,
    jobs: int,
    console: Console,
    *,
    manifests: bool = False,
) -> list[FileResult]:
    """``pixelpipe.files``' batch with a progress bar on a terminal, and one line on
    ``console`` per rejected file (``PATH: reason``) or hidden area, as each finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..files import plan_batch

    batch = plan_batch(files, out_dir, settings, manifests=manifests)

    def report(r: FileResult) -> None:
        line = f"{r.path}: {hidden_line(r)}" if r.hidden else ""
        if not r.ok:
            line = f"{r.path}: {one_line(r.reason)}"  # one line, whatever was raised
        if line:
            say(console, line)

    for _, refused in sorted(batch.refused.items()):
        report(refused)
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=len(batch.todo) < 2 or not console.is_terminal,
    )
    with progress:
        task = progress.add_task("pixelating", total=len(batch.todo))

        def on_result(r: FileResult) -> None:
            report(r)
            progress.advance(task)

        return batch.run(jobs, on_result)


def hidden_line(r: FileResult) -> str:
    """``2 faces hidden in 2 anonymising outputs (pixelated-3x3, pixelated-5x5)`` (``2 faces
    pixelated, but no output anonymises them`` when none does), and
    ``; faces under 40 px may be missed`` when detection does not reach the smallest faces."""
    line = f"{r.hidden} hidden"
    if r.hidden == "0 faces":
        line = "no face found: nothing hidden"
    elif r.anonymising == ():  # pixelated, but too finely to hide who or what it is
        one = r.hidden.startswith("1 ") and "," not in r.hidden
        line = f"{r.hidden} pixelated, but no output anonymises {'it' if one else 'them'}"
    elif r.anonymising is not None:
        names = ", ".join(f"pixelated-{label}" for label in r.anonymising)
        line += f" in {plural(len(r.anonymising), 'anonymising output')}"
        line += f" ({names})" if names else ""
    return line + coverage_note(r.face_min_px)


def weak_warning(results: list[FileResult], settings: EngineSettings) -> str:
    """One line naming the outputs written that do not anonymise, or ''."""
    weak = sorted({label for r in results for label in r.weak}, key=_label_order)
    if not weak:
        return ""
    names = ", ".join(f"pixelated-{label}" for label in weak)
    verb = "does" if len(weak) == 1 else "do"
    if settings.faces:
        rule, fix = f"faces must be at most {ANON_FACE_BLOCKS} blocks across", ANON_FACE_BLOCKS
    else:
        rule = f"regions must be at most {ANON_REGION_BLOCKS} blocks along their longer side"
        fix = ANON_REGION_BLOCKS
    advice = "use larger --block-px" if settings.block_px else f"use --sizes {fix} or fewer"
    return f"{names} {verb} not anonymise ({rule}; {advice})"


def _label_order(label: str) -> tuple[int, str]:
    digits = "".join(ch for ch in label.split("x")[0].split("px")[0] if ch.isdigit())
    return (int(digits) if digits else 0, label)


@click.command("placeholder")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE...")
@setting_option("max_bytes")
@setting_option("max_pixels")
@jobs_option("Files read in parallel.")
def placeholder_cmd(
    inputs: tuple[str, ...], max_bytes: str | None, max_pixels: str | None, jobs: int
) -> None:
    """Print the placeholder of each FILE (or of the files in a directory) as one JSON line:

    \b
    {"file", "blurhash", "thumbhash", "data_uri", "color", "width", "height"}

    the same fields as the manifest's "placeholder", in the order given. Carries on past bad
    files; exits 1 if any was rejected, with one 'PATH: reason' line each on stderr.
    """
    from ..files import placeholders

    settings = EngineSettings.from_env(
        prefixed_only=True, max_bytes=max_bytes, max_pixels=max_pixels, threads=1
    )
    require_detector(settings)
    found = collect_inputs(inputs)
    files = found.paths
    if found.skipped_other:
        click.echo(found.skipped_other_line(), err=True)
    if not files:
        raise click.UsageError("no input files (the directories given hold no image)")
    rejected = 0
    for path, out in placeholders(files, settings, jobs):
        if isinstance(out, str):
            rejected += 1
            click.echo(f"{path}: {one_line(out)}", err=True)
        else:
            click.echo(json.dumps(out, separators=(", ", ": ")))
    sys.exit(EXIT_REJECTED if rejected else EXIT_OK)
