"""The engine package's shape (issue 16): small modules and functions, and no format names.

Every per-format decision belongs to the format registry (formats.py); the engine asks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from PIL import Image

from pixelpipe.formats import BY_NAME, FrameTiming, input_format

ENGINE = Path(__file__).parents[1] / "src" / "pixelpipe" / "engine"
FORMAT_NAMES = {"jpeg", "jpg", "png", "gif", "webp", "tiff", "tif", "bmp", "ico", "mpo", "avif"}
FORMAT_NAMES |= {"heif", "heic"}


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(ENGINE.glob("*.py"))]


def test_engine_modules_and_functions_are_small() -> None:
    for path, tree in _modules():
        assert len(path.read_text().splitlines()) <= 600, path.name
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                assert lines <= 80, f"{path.name}: {node.name} has {lines} lines"


def test_the_engine_never_compares_with_a_format_name() -> None:
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            for part in (node.left, *node.comparators):
                for leaf in ast.walk(part):
                    value = getattr(leaf, "value", None)
                    if isinstance(value, str) and value.lower() in FORMAT_NAMES:
                        found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_each_format_carries_its_own_save_behaviour() -> None:
    frames = [Image.new("RGBA", (4, 3), (0, 0, 0, 0)), Image.new("RGBA", (4, 3), (0, 0, 0, 255))]
    timing = FrameTiming(durations=[10, 20], disposals=[1, 1], loop=0)
    gif = BY_NAME["gif"].format_kwargs(frames, timing, {})
    assert gif["disposal"] == [2, 1]  # a frame with transparent pixels clears the previous one
    assert (gif["duration"], gif["loop"]) == ([10, 20], 0)
    png = BY_NAME["png"].format_kwargs(frames, timing, {})
    assert (png["disposal"], png["blend"], png["default_image"]) == ([0, 0], 0, False)
    assert "duration" not in BY_NAME["tiff"].format_kwargs(frames, timing, {})
    assert BY_NAME["tiff"].format_kwargs(frames[:1], timing, {"exif": b""}) == {
        "compression": "raw"
    }
    assert BY_NAME["ico"].format_kwargs(frames[:1], timing, {}) == {"sizes": [(4, 3)]}
    assert BY_NAME["mpo"].for_frames(1) is BY_NAME["jpeg"]
    assert BY_NAME["mpo"].for_frames(2) is BY_NAME["mpo"]
    assert BY_NAME["png"].palette_for("RGBA")
    assert not BY_NAME["gif"].palette_for("RGBA")


@pytest.mark.parametrize(
    ("pil", "seek", "sizes", "oriented", "dct", "tables"),
    [
        ("JPEG", False, False, False, True, True),
        ("MPO", False, True, False, False, True),
        ("GIF", True, False, False, False, False),
        ("TIFF", True, True, True, False, False),
        ("PNG", False, False, False, False, False),
        (None, False, False, False, False, False),
    ],
)
def test_input_format_traits(
    pil: str | None, seek: bool, sizes: bool, oriented: bool, dct: bool, tables: bool
) -> None:
    t = input_format(pil)
    assert (t.frames_by_seeking, t.sizes_per_frame, t.oriented_on_load) == (seek, sizes, oriented)
    assert (t.dct_scaling, t.jpeg_tables) == (dct, tables)


def _patches_the_engine(node: ast.AST) -> bool:
    """``monkeypatch.setattr(engine, ...)``, ``setattr("pixelpipe.engine.x", ...)`` or
    ``engine.x = ...``: anything that replaces a name of the engine from outside."""
    if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
        "setattr",
        "delattr",
    ):
        target = node.args[0] if node.args else None
        text = ast.unparse(target) if target is not None else ""
        return "engine" in text.split(".")[-1] or "pixelpipe.engine" in text
    if isinstance(node, ast.Assign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(
            isinstance(t, ast.Attribute) and "engine" in ast.unparse(t.value).split(".")
            for t in targets
        )
    return False


def test_no_test_or_benchmark_patches_the_engine() -> None:
    # The engine's seam is the hooks parameter (pixelate(..., hooks=Hooks(...))): renaming a
    # private function of the engine must never break a test or a benchmark (issue 20).
    root = ENGINE.parents[2]
    found = []
    for path in sorted([*root.glob("tests/**/*.py"), *root.glob("bench/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if _patches_the_engine(node):
                found.append(f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}")
    assert found == []
    # ...and the check sees a patch when there is one.
    assert _patches_the_engine(ast.parse('monkeypatch.setattr(engine, "_map", spy)').body[0].value)  # type: ignore[attr-defined]
    assert _patches_the_engine(ast.parse("engine._placeholder = timed").body[0])
