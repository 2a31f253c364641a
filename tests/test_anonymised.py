"""Anonymising by default (issue #21 items 1 and 3): with regions or faces and no sizes given,
every output hides each face behind at most 5 blocks across its width and each region behind
at most 8 along its longer side, and says so (``Variant.anonymised``, the manifest's
``anonymised``); explicit weaker sizes still work, marked not anonymising; fill writes one
output. Measured on the outputs' pixels where it can be, with the real detector."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import decode, encode
from face_images import Scene, scene
from pixelpipe import EngineSettings, pixelate
from pixelpipe.pipeline import object_engine, settings_digest
from pixelpipe.settings import DEFAULT_AREA_SIZES, DEFAULT_SIZES, Settings

EXE = Path(sys.executable).with_name("pixelpipe")


def group() -> Scene:
    """Four faces of 40 px and four of 120 px (astronaut and camera) in one picture."""
    small, large = scene(40, count=4), scene(120, count=4, background_index=1)
    image = Image.new(
        "RGB", (max(small.image.width, large.image.width), small.image.height + large.image.height)
    )
    image.paste(small.image, (0, 0))
    image.paste(large.image, (0, small.image.height))
    dy = small.image.height
    moved = [t.moved(0, dy) for t in large.faces]
    return Scene(image, [*small.faces, *moved])


GROUP = group()
GROUP_PNG = encode(GROUP.image, "PNG")


def runs(row: np.ndarray) -> int:
    """How many runs of equal pixels a row holds: the blocks it crosses."""
    return 1 + int(np.any(row[1:] != row[:-1], axis=1).sum())


def blocks_across(data: bytes, face: tuple[int, int, int, int]) -> list[int]:
    """The blocks across each row of ``face`` (the detector's box) in an output."""
    out = np.asarray(decode(data).convert("RGB"))
    x, y, w, h = face
    return [runs(out[r, x : x + w]) for r in range(y, y + h)]


def test_faces_with_no_sizes_are_at_most_five_blocks_across_in_every_output() -> None:
    result = pixelate(GROUP_PNG, EngineSettings(faces=True, format="png"))
    assert [v.label for v in result.variants] == ["3x3", "5x5"]
    assert all(v.anonymised is True for v in result.variants)
    assert result.anonymised_labels == (("3x3", "5x5"), ())
    faces = [a for a in result.areas if a.source == "face"]
    assert len(faces) == len(GROUP.faces)  # every face found, small and large
    widths = sorted(a.face[2] for a in faces if a.face is not None)
    assert widths[-1] > 2 * widths[0]  # faces of different sizes
    for variant, n in zip(result.variants, (3, 5), strict=True):
        for area in faces:
            assert area.face is not None
            across = blocks_across(variant.data, area.face)
            # Every row of every face crosses at most n blocks, and the faces are pixelated
            # (more than one block), not painted over.
            assert max(across) <= n, (variant.label, area.face, across)
            assert max(across) >= 2, (variant.label, area.face, across)


def test_explicit_weaker_sizes_still_work_and_say_they_do_not_anonymise() -> None:
    result = pixelate(GROUP_PNG, EngineSettings(faces=True, sizes=(5, 64), format="png"))
    assert [(v.label, v.anonymised) for v in result.variants] == [("5x5", True), ("64x64", False)]
    assert result.anonymised_labels == (("5x5",), ("64x64",))
    big = max((a for a in result.areas if a.face), key=lambda a: a.face[2] if a.face else 0)
    assert big.face is not None
    assert max(blocks_across(result.variants[1].data, big.face)) > 5


def test_block_px_anonymise_per_image() -> None:
    # The small faces are ~40 px wide, the large ~120: 10 px blocks put 4 across the small
    # ones and 12 across the large; 30 px blocks at most 5 across every face.
    result = pixelate(GROUP_PNG, EngineSettings(faces=True, block_px=(10, 30), format="png"))
    assert [(v.label, v.anonymised) for v in result.variants] == [("10px", False), ("30px", True)]
    small = pixelate(
        encode(scene(40, count=4).image, "PNG"), EngineSettings(faces=True, block_px=(10,))
    )
    assert [v.anonymised for v in small.variants] == [True]


def test_fill_writes_one_output_whatever_the_sizes() -> None:
    for sizes in ((), (3, 5), (8, 16, 32)):
        result = pixelate(GROUP_PNG, EngineSettings(faces=True, sizes=sizes, style="fill"))
        assert [(v.label, v.anonymised) for v in result.variants] == [("fill", True)]
        assert result.variants[0].filename("group.png") == "pixelated-fill-group.png"


def test_regions_default_to_three_and_five_and_anonymise() -> None:
    image = encode(Image.new("RGB", (200, 100), "white"), "PNG")
    result = pixelate(image, EngineSettings(regions=((10, 10, 120, 40),)))
    assert [(v.label, v.anonymised) for v in result.variants] == [("3x3", True), ("5x5", True)]
    result = pixelate(image, EngineSettings(regions=((10, 10, 120, 40),), sizes=(8, 16)))
    assert [v.anonymised for v in result.variants] == [True, False]
    # Pixel blocks: 120 px long, 15 px blocks -> 8 along it; 10 px -> 12.
    result = pixelate(image, EngineSettings(regions=((10, 10, 120, 40),), block_px=(10, 15)))
    assert [v.anonymised for v in result.variants] == [False, True]


def test_faces_on_and_none_found_anonymise_nothing_to_hide() -> None:
    image = encode(Image.new("RGB", (200, 100), "gray"), "PNG")
    result = pixelate(image, EngineSettings(faces=True, sizes=(64,)))
    assert result.areas == ()
    assert [v.anonymised for v in result.variants] == [True]


def test_whole_images_say_nothing_about_anonymising() -> None:
    image = encode(Image.new("RGB", (64, 48), "gray"), "PNG")
    result = pixelate(image, EngineSettings(sizes=(4,)))
    assert [v.anonymised for v in result.variants] == [None]
    assert result.anonymised_labels == ((), ())


# --- settings: "not given" survives replace(), the environment and the pipeline ---------------


def test_sizes_not_given_follow_what_is_hidden() -> None:
    plain = EngineSettings()
    assert plain.grid_sizes == DEFAULT_SIZES
    assert plain.replace(faces=True).grid_sizes == DEFAULT_AREA_SIZES == (3, 5)
    assert plain.replace(regions=((0, 0, 4, 4),)).grid_sizes == (3, 5)
    assert plain.replace(sizes=(8,), faces=True).grid_sizes == (8,)
    assert EngineSettings.from_env({"PIXELPIPE_FACES": "true"}).grid_sizes == (3, 5)
    assert EngineSettings.from_env({"PIXELPIPE_FACES": "true", "PIXEL_SIZES": ""}).grid_sizes == (
        3,
        5,
    )
    assert EngineSettings.from_env({"PIXELPIPE_FACES": "1", "PIXEL_SIZES": "64"}).grid_sizes == (
        64,
    )


def test_the_pipeline_s_per_object_faces_get_the_area_defaults() -> None:
    deployment = Settings(processed_bucket="out")
    on = object_engine(deployment, {"pixelpipe-faces": "true"})
    assert on.grid_sizes == (3, 5)
    explicit = Settings(processed_bucket="out", engine=EngineSettings(sizes=(8,)))
    assert object_engine(explicit, {"pixelpipe-faces": "true"}).grid_sizes == (8,)


def test_the_digest_follows_the_sizes_made() -> None:
    deployment = Settings(processed_bucket="out")
    # A whole-image deployment's digest is what it was with the sizes written out ...
    spelled = Settings(processed_bucket="out", engine=EngineSettings(sizes=DEFAULT_SIZES))
    assert settings_digest(deployment) == settings_digest(spelled)
    # ... and faces with the defaults differ from faces at the old default sizes.
    faces = deployment.engine.replace(faces=True)
    old = deployment.engine.replace(faces=True, sizes=DEFAULT_SIZES)
    assert settings_digest(deployment, faces) != settings_digest(deployment, old)
    assert faces.output_fields()["sizes"] == (3, 5)
    assert faces.output_fields()["face_area"]


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        ([], ["pixelated-3x3-group.png", "pixelated-5x5-group.png"]),
        (["--style", "fill"], ["pixelated-fill-group.png"]),
        (["--sizes", "64"], ["pixelated-64x64-group.png"]),
    ],
)
def test_the_cli_writes_the_anonymising_defaults(
    tmp_path: Path, flags: list[str], names: list[str]
) -> None:
    src = tmp_path / "group.png"
    scene(64, count=2).image.save(src)
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(EXE), "pixelate", str(src), "-o", str(out), "--faces", *flags],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == names
