"""The layers are executable: import-linter's contracts (pyproject.toml) hold, and
docs/ARCHITECTURE.md's module table says exactly what each module imports, so it cannot
drift from the code again (issue #16)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
# How the table names third-party packages (the import name on the right).
EXTERNAL_NAMES = {
    "Pillow": "PIL",
    "boto3": "boto3",
    "botocore": "botocore",
    "Powertools": "aws_lambda_powertools",
    "moto": "moto",
    "numpy": "numpy",
    "onnxruntime": "onnxruntime",
    "click": "click",
    "rich": "rich",
    "pillow_heif": "pillow_heif",
}


def table() -> dict[str, tuple[set[str], set[str]]]:
    """module (``engine``, ``web``) -> (pixelpipe modules, third-party packages) it may import,
    as the "may import" column says."""
    rows: dict[str, tuple[set[str], set[str]]] = {}
    in_table = False
    for line in DOC.read_text().splitlines():
        if line.startswith("| module | role | may import |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if not in_table or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.match(r"`[a-z_]+/[a-z_]+\.py`", cells[0]):
            continue  # a module inside a package: the package's row speaks for it
        names = re.findall(r"`([a-z_]+)(?:\.py|/)`", cells[0])
        assert len(names) == 1, f"one module per row: {cells[0]}"
        if names[0] == "__init__":
            continue  # the package's own namespace: names re-exported on first use
        listed = {w.strip() for w in cells[-1].split(",")} - {"nothing", "—", ""}
        internal = {w for w in listed if w not in EXTERNAL_NAMES}
        external = {EXTERNAL_NAMES[w] for w in listed if w in EXTERNAL_NAMES}
        rows[names[0]] = (internal, external)
    return rows


def actual() -> dict[str, tuple[set[str], set[str]]]:
    """module -> (pixelpipe modules, third-party packages) it imports, packages squashed."""
    graph = grimp.build_graph("pixelpipe", include_external_packages=True, cache_dir=None)
    out: dict[str, tuple[set[str], set[str]]] = {}
    for module in graph.modules:
        parts = module.split(".")
        if parts[0] != "pixelpipe" or len(parts) < 2:
            continue
        name = parts[1]
        internal, external = out.setdefault(name, (set(), set()))
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")
            if top[0] == "pixelpipe":
                if len(top) > 1 and top[1] != name:
                    internal.add(top[1])
            elif top[0] in EXTERNAL_NAMES.values():
                external.add(top[0])
    return out


def test_the_import_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kept = re.search(r"Contracts: (\d+) kept, (\d+) broken", proc.stdout)
    assert kept, proc.stdout
    assert int(kept.group(1)) >= 3
    assert int(kept.group(2)) == 0


def test_the_module_table_lists_every_module() -> None:
    documented, real = set(table()), set(actual())
    assert documented == real, (
        f"missing from docs/ARCHITECTURE.md: {sorted(real - documented)}; "
        f"no such module: {sorted(documented - real)}"
    )


@pytest.mark.parametrize("module", sorted(actual()))
def test_the_may_import_column_is_what_the_module_imports(module: str) -> None:
    listed_internal, listed_external = table().get(module, (set(), set()))
    internal, external = actual()[module]
    want = column(module)
    assert listed_internal == internal, f"{module}: the column should read: {want}"
    assert listed_external <= external, f"{module}: the column should read: {want}"


def column(module: str) -> str:
    """The "may import" cell the code says ``module`` should have."""
    internal, external = actual()[module]
    names = {v: k for k, v in EXTERNAL_NAMES.items()}
    return ", ".join([*sorted(internal), *sorted(names[e] for e in external)]) or "nothing"


def write_columns() -> None:
    """Rewrite the "may import" cells from the code: ``python tests/test_architecture.py``."""
    modules = actual()
    lines = DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        names = re.findall(r"^\| `([a-z_]+)(?:\.py|/)` \|", line)
        if names and names[0] in modules:
            lines[i] = (
                line[: line.rstrip().rstrip("|").rstrip().rfind("|")] + f"| {column(names[0])} |"
            )
    DOC.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write_columns()
