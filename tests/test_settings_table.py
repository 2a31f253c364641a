"""One declaration per setting (issue 20): ``pixelpipe.settings_table`` against everything that
names a setting — the dataclasses, ``from_env``, the CLI's options, README's and DEPLOY.md's
tables and deploy/template.yaml.

``python tests/test_settings_table.py`` rewrites README's Configuration table from the table.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from pixelpipe.cli import cli
from pixelpipe.errors import SettingsError
from pixelpipe.settings import ENGINE_ENV, PIPELINE_ENV, EngineSettings, Settings
from pixelpipe.settings_table import (
    ENGINE,
    OTHER_VARIABLES,
    PIPELINE,
    PYTHON_ONLY,
    Setting,
    markdown_table,
)
from test_template import PARAMS, RESOURCES

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DEPLOY = ROOT / "docs" / "DEPLOY.md"
ROWS = (*ENGINE, *PIPELINE)
PLAIN = {s.env for s in ROWS}
PREFIXED = {s.prefixed for s in ROWS}
# Read by Powertools, not by pixelpipe; the template sets them.
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# Variables only the CLI reads (a click option's envvar), not settings of a dataclass.
CLI_ONLY = {"PIXELPIPE_QUEUE_URL"}
# Spellings the CLI accepts besides the table's choices (normalised by EngineSettings).
ALIASES = {"jpg"}
# The options of `pixelpipe pixelate` that are not settings.
PIXELATE_OWN = {"out_dir", "jobs", "recursive", "manifests", "help", "inputs"}


@pytest.mark.parametrize(("cls", "rows"), [(EngineSettings, ENGINE), (Settings, PIPELINE)])
def test_every_field_has_exactly_one_row(cls: type, rows: tuple[Setting, ...]) -> None:
    fields = {f.name for f in dataclasses.fields(cls)} - PYTHON_ONLY
    names = [s.name for s in rows]
    assert len(names) == len(set(names)), names
    assert set(names) == fields, (
        f"fields without a row in settings_table: {sorted(fields - set(names))}; "
        f"rows without a field: {sorted(set(names) - fields)}"
    )


def test_variable_names_are_unique_and_prefixed() -> None:
    names = [s.env for s in ROWS] + [s.prefixed for s in ROWS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    for s in ROWS:
        assert s.prefixed.startswith("PIXELPIPE_"), s
        assert not s.env.startswith("PIXELPIPE_"), s


def test_the_environment_tables_are_the_table() -> None:
    assert dict(ENGINE_ENV) == {s.name: (s.env, s.prefixed) for s in ENGINE}
    assert dict(PIPELINE_ENV) == {s.name: (s.env, s.prefixed) for s in PIPELINE}


@pytest.mark.parametrize("row", ENGINE, ids=lambda s: s.name)
def test_each_engine_variable_is_read_by_both_names(row: Setting) -> None:
    """A value nothing accepts, under each name, is refused naming that variable: so it was
    read. The CLI (prefixed_only) ignores the plain name."""
    junk = "banana!"
    for var in (row.env, row.prefixed):
        with pytest.raises(SettingsError) as caught:
            EngineSettings.from_env({var: junk})
        assert var in caught.value.reason, caught.value.reason
    EngineSettings.from_env({row.env: junk}, prefixed_only=True)  # not read: no error
    with pytest.raises(SettingsError, match=re.escape(row.prefixed)):
        EngineSettings.from_env({row.env: junk, row.prefixed: junk}, prefixed_only=True)


# A valid value of each deployment setting, as text and as the field holds it.
PIPELINE_SAMPLES: dict[str, tuple[str, Any]] = {
    "processed_bucket": ("out", "out"),
    "source_bucket": ("in", "in"),
    "source_prefix": ("uploads/", "uploads/"),
    "key_template": ("v/{label}/{name}", "v/{label}/{name}"),
    "manifest_prefix": ("m/", "m/"),
    "failure_prefix": ("f/", "f/"),
    "delete_sync": ("false", False),
    "cache_control": ("no-store", "no-store"),
    "endpoint_url": ("http://127.0.0.1:1", "http://127.0.0.1:1"),
}


@pytest.mark.parametrize("row", PIPELINE, ids=lambda s: s.name)
def test_each_pipeline_variable_is_read_by_both_names(row: Setting) -> None:
    assert row.name in PIPELINE_SAMPLES, f"add a sample value of {row.name} to this test"
    text, value = PIPELINE_SAMPLES[row.name]
    base = {"PROCESSED_BUCKET": "out"}
    for env in ({row.env: text}, {row.prefixed: text}, {row.env: "zzz", row.prefixed: text}):
        assert getattr(Settings.from_env({**base, **env}), row.name) == value, env


def _readme_table(text: str) -> str:
    start = text.index("| variable | default | meaning |")
    end = text.index("\n\n", start)
    return text[start : end + 1]


def test_readme_lists_every_variable_as_the_table_does() -> None:
    assert _readme_table(README.read_text(encoding="utf-8")) == markdown_table(), (
        "README's Configuration table differs from settings_table: "
        "run python tests/test_settings_table.py"
    )


def test_the_readme_table_names_each_variable_once() -> None:
    """What the generated table is checked for, independently of how it is generated."""
    listed = re.findall(r"^\| `([A-Z_]+)`(?: \(`([A-Z_]+)`\))? \|", markdown_table(), re.M)
    plain = [p for p, _ in listed]
    assert sorted(plain) == sorted(PLAIN | {v for v, _, _ in OTHER_VARIABLES})
    assert {p for _, p in listed if p} == PREFIXED


def _deploy_rows() -> dict[str, str]:
    """DEPLOY.md's "Image settings" table: template parameter -> variable."""
    text = DEPLOY.read_text(encoding="utf-8")
    start = text.index("| parameter | variable | default |")
    block = text[start : text.index("\n\n", start)]
    rows = re.findall(r"^\| `(\w+)` \| `([A-Z_]+)` \|", block, re.M)
    assert rows
    return dict(rows)


def _template_variables() -> dict[str, Any]:
    env = RESOURCES["Function"]["Properties"]["Environment"]["Variables"]
    assert isinstance(env, dict)
    return env


def test_the_template_sets_known_variables_only() -> None:
    env = set(_template_variables())
    assert env - PLAIN - POWERTOOLS == set(), "variables no setting reads"
    assert PLAIN - {"AWS_ENDPOINT_URL"} - env == set(), "settings the function cannot be given"


def test_deploy_md_documents_each_parameter_the_function_reads() -> None:
    """Each variable the template sets from a parameter (the buckets and the prefix are
    described below the table) has a row `parameter | variable` in DEPLOY.md, and each row
    names a real parameter and a real variable."""
    rows = _deploy_rows()
    by_ref = {
        var: value["Ref"]
        for var, value in _template_variables().items()
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in PARAMS
    }
    described_below = {"PROCESSED_BUCKET", "SOURCE_BUCKET", "SOURCE_PREFIX", "POWERTOOLS_LOG_LEVEL"}
    expected = {p: v for v, p in by_ref.items() if v not in described_below}
    assert rows == expected


CHOICES = [s for s in ENGINE if s.flag and s.flag.choices]


@pytest.mark.parametrize("row", CHOICES, ids=lambda s: s.name)
def test_template_choices_are_the_settings_choices(row: Setting) -> None:
    assert row.flag is not None
    param = _template_variables()[row.env]["Ref"]
    allowed = PARAMS[param]["AllowedValues"]
    assert list(allowed) == [c for c in row.flag.choices if c not in ALIASES]


def _options(cmd: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in cmd.params if isinstance(p, click.Option) and p.name}


def test_pixelate_has_one_option_per_setting_flag_with_its_help() -> None:
    options = _options(cli.commands["pixelate"])
    flagged = {(s.flag.param or s.name): s for s in ENGINE if s.flag is not None}
    assert set(options) - PIXELATE_OWN == set(flagged)
    for param, row in flagged.items():
        assert row.flag is not None
        option = options[param]
        assert [*option.opts, *option.secondary_opts] == row.flag.opts.split("/")
        assert option.help == row.flag.help
        assert option.envvar is None  # read through from_env, prefixed names only
        if row.flag.choices:
            assert isinstance(option.type, click.Choice)
            assert list(option.type.choices) == list(row.flag.choices)


def test_every_command_with_settings_flags_has_all_of_them() -> None:
    names = {(s.flag.param or s.name) for s in ENGINE if s.flag is not None}
    for name in ("pixelate", "up", "worker", "demo", "backfill"):
        assert names <= set(_options(cli.commands[name])), name


def _all_options() -> list[tuple[str, click.Option]]:
    found: list[tuple[str, click.Option]] = []

    def walk(cmd: click.Command, path: str) -> None:
        found.extend((f"{path} {p.opts[0]}", p) for p in _options(cmd).values())
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "pixelpipe")
    return found


def test_options_read_from_the_environment_name_real_variables() -> None:
    """An option with click's envvar names a variable of the table (or a CLI-only one), and
    its help's ``[env: ...]`` names the same one."""
    seen = 0
    for where, option in _all_options():
        shown = re.findall(r"\[env: ([A-Z_]+)", option.help or "")
        if option.envvar is None:
            assert shown == [], where
            continue
        seen += 1
        assert option.envvar in PREFIXED | CLI_ONLY, where
        assert shown in ([], [option.envvar]), where
    assert seen >= 5


def test_settings_docstring_does_not_repeat_the_table() -> None:
    import pixelpipe.settings as module

    doc = module.__doc__ or ""
    assert not any(s.prefixed in doc for s in ROWS if s.name != "sizes")


def rewrite_readme() -> bool:
    text = README.read_text(encoding="utf-8")
    new = text.replace(_readme_table(text), markdown_table())
    if new != text:
        README.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print("README.md rewritten" if rewrite_readme() else "README.md already up to date")
    sys.exit(0)


def _written_default(text: str) -> str | None:
    """The value in a docs default like ``\\`50MiB\\```, None for prose (``per format``)."""
    m = re.fullmatch(r"`([^`]*)`", text)
    return m[1] if m else None


@pytest.mark.parametrize("row", ROWS, ids=lambda s: s.name)
def test_documented_defaults_are_the_defaults(row: Setting) -> None:
    """The docs' default and the ``[default: ...]`` of the flag's help, read as the variable,
    give the dataclass's default."""
    written = [_written_default(row.default)]
    if row.flag is not None:
        written += re.findall(r"\[default: ([^\]]+)\]", row.flag.help)
    base = {"PROCESSED_BUCKET": "out"}
    for text in filter(None, written):
        if row in ENGINE:
            got = getattr(EngineSettings.from_env({row.prefixed: text}), row.name)
            assert got == getattr(EngineSettings(), row.name), text
        else:
            got = getattr(Settings.from_env({**base, row.prefixed: text}), row.name)
            assert got == getattr(Settings(processed_bucket="out"), row.name), text


@pytest.mark.parametrize("row", ROWS, ids=lambda s: s.name)
def test_a_default_in_words_means_nothing_is_set(row: Setting) -> None:
    """``—``, ``per format``, ``AWS``, ``(required)``: the field's default is empty."""
    if _written_default(row.default) is not None:
        return
    cls = EngineSettings if row in ENGINE else Settings
    field = next(f for f in dataclasses.fields(cls) if f.name == row.name)
    assert field.default in (None, "", ()), (row.name, field.default)


def test_pixelpipe_up_exports_real_variables() -> None:
    from pixelpipe.cli.stack import EXPORTED

    ours = {name for name in EXPORTED if name.startswith("PIXELPIPE_")}
    assert ours
    assert ours <= PREFIXED | CLI_ONLY
