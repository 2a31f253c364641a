"""``pixelpipe pixelate --manifest`` (issue #21 item 5): the pipeline's manifest for each file,
at ``OUT/_manifests/<path in its folder>.json``, written after its outputs; the per-file line
says how many faces were hidden in how many anonymising outputs; one warning per run names
the outputs that do not anonymise; bad settings write nothing. Run as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from face_images import FACE_FREE_CASES, face_free_image, scene
from pixelpipe.manifest import MANIFEST_VERSION, Manifest

EXE = Path(sys.executable).with_name("pixelpipe")
REGION = "10,10,40,30"  # 40 px along its longer side
WEAK = (
    "pixelpipe: warning: pixelated-64x64 does not anonymise (regions must be at most 8 blocks "
    "along their longer side; use --sizes 8 or fewer)"
)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPIPE_")}
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


def write_image(path: Path, size: tuple[int, int] = (120, 90)) -> Path:
    im = Image.new("RGB", size)
    im.putdata(
        [(x * 2 % 256, y * 3 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def manifest_at(path: Path) -> tuple[Manifest, dict[str, object]]:
    doc = json.loads(path.read_text())
    m = Manifest.from_json(doc)
    assert m.to_json() == doc  # the pipeline's format, round trip and key order
    assert list(m.to_json()) == list(doc)
    return m, doc


def test_a_file_gets_the_pipelines_manifest_next_to_its_outputs(tmp_path: Path) -> None:
    src = write_image(tmp_path / "in" / "cat.jpg")
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--region", REGION, "--sizes", "5,64", "--manifest")
    assert proc.returncode == 0, proc.stderr
    m, _ = manifest_at(out / "_manifests" / "cat.jpg.json")
    assert m.manifest_version == MANIFEST_VERSION
    data = src.read_bytes()
    assert m.source.bucket is None
    assert m.source.key == "cat.jpg"  # its path relative to its folder
    assert m.source.etag == f"sha256:{hashlib.sha256(data).hexdigest()}"  # a file's identity
    assert (m.source.size, m.source.width, m.source.height) == (len(data), 120, 90)
    assert m.source.format == "JPEG"
    assert m.output_keys == ("pixelated-5x5-cat.jpg", "pixelated-64x64-cat.jpg")
    for o in m.outputs:
        assert (out / o.key).stat().st_size == o.bytes  # each key is its path under OUT
    assert m.areas is not None
    assert [(a.box, a.source) for a in m.areas] == [((10, 10, 40, 30), "region")]
    # 5 blocks along the region's longer side anonymise; 64 do not (PRIVACY.md)
    assert [o.anonymised for o in m.outputs] == [True, False]
    assert m.settings["engine"]["regions"] == [[10, 10, 40, 30]]  # type: ignore[index]
    assert m.settings_digest
    assert m.processed_at
    assert m.placeholder
    assert m.timings_ms["total"] is not None
    assert f"{src}: 1 region hidden in 1 anonymising output (pixelated-5x5)" in proc.stderr
    assert proc.stderr.count("warning") == 1
    assert WEAK in proc.stderr.splitlines()
    assert not list(out.rglob(".pixelpipe-*"))  # written atomically: no temporary left


def test_sub_folders_are_mirrored_and_the_warning_comes_once_per_run(tmp_path: Path) -> None:
    root = tmp_path / "shots"
    for rel in ("a.jpg", "trip/b.jpg", "trip/day 2/c.jpg"):
        write_image(root / rel)
    out = tmp_path / "out"
    proc = run(
        "pixelate",
        root,
        "-r",
        "-o",
        out,
        "--region",
        REGION,
        "--sizes",
        "5,64",
        "--manifest",
        "-j",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    found = sorted(
        p.relative_to(out / "_manifests").as_posix() for p in (out / "_manifests").rglob("*.json")
    )
    assert found == ["a.jpg.json", "trip/b.jpg.json", "trip/day 2/c.jpg.json"]
    m, _ = manifest_at(out / "_manifests" / "trip" / "day 2" / "c.jpg.json")
    assert m.source.key == "trip/day 2/c.jpg"
    assert m.output_keys == ("trip/day 2/pixelated-5x5-c.jpg", "trip/day 2/pixelated-64x64-c.jpg")
    assert all((out / k).is_file() for k in m.output_keys)
    assert proc.stderr.splitlines().count(WEAK) == 1  # three files, one warning
    assert proc.stderr.count("1 region hidden in 1 anonymising output") == 3


def test_without_the_flag_no_manifest_and_whole_images_need_no_warning(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    proc = run("pixelate", src, "-o", tmp_path / "a", "--region", REGION, "--sizes", "5")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "a" / "_manifests").exists()
    assert "warning" not in proc.stderr
    # whole-image outputs are not area jobs: no anonymised flag, no warning
    proc = run("pixelate", src, "-o", tmp_path / "b", "--sizes", "64", "--manifest")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    m, doc = manifest_at(tmp_path / "b" / "_manifests" / "cat.jpg.json")
    assert m.areas is None
    assert "anonymised" not in doc["outputs"][0]  # type: ignore[index]


def test_a_rejected_file_gets_no_manifest(tmp_path: Path) -> None:
    good = write_image(tmp_path / "in" / "good.jpg")
    bad = tmp_path / "in" / "bad.jpg"
    bad.write_text("not an image")
    out = tmp_path / "out"
    proc = run("pixelate", good, bad, "-o", out, "--region", REGION, "--sizes", "5", "--manifest")
    assert proc.returncode == 1
    assert sorted(p.name for p in (out / "_manifests").iterdir()) == ["good.jpg.json"]


def test_faces_default_outputs_anonymise_and_the_manifest_has_the_heads(tmp_path: Path) -> None:
    src = tmp_path / "group.png"
    sc = scene(64, "original", count=2)
    sc.image.save(src)
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--faces", "--manifest")
    assert proc.returncode == 0, proc.stderr
    assert (
        f"{src}: 2 faces hidden in 2 anonymising outputs (pixelated-3x3, pixelated-5x5)"
        in proc.stderr
    )
    assert "warning" not in proc.stderr
    m, _ = manifest_at(out / "_manifests" / "group.png.json")
    assert [o.label for o in m.outputs] == ["3x3", "5x5"]
    assert all(o.anonymised is True for o in m.outputs)
    assert m.areas is not None
    assert len(m.areas) == 2
    for a in m.areas:
        assert a.source == "face"
        assert a.shape == "ellipse"
        assert a.face is not None
        assert a.detector
        assert a.score
        fx, fy, fw, fh = a.face
        x, y, w, h = a.box  # what is hidden holds the detector's box
        assert x <= fx
        assert y <= fy
        assert fx + fw <= x + w
        assert fy + fh <= y + h
    assert m.face_detection is not None
    assert m.face_detection.detector
    assert "detect" in m.timings_ms


def test_explicit_weaker_sizes_with_faces_warn_and_are_marked(tmp_path: Path) -> None:
    src = tmp_path / "group.png"
    scene(64, "original", count=2).image.save(src)
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--faces", "--sizes", "64", "--manifest")
    assert proc.returncode == 0, proc.stderr
    assert f"{src}: 2 faces pixelated, but no output anonymises them" in proc.stderr
    assert "hidden" not in proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warning == [
        "pixelpipe: warning: pixelated-64x64 does not anonymise (faces must be at most 5 "
        "blocks across; use --sizes 5 or fewer)"
    ]
    m, _ = manifest_at(out / "_manifests" / "group.png.json")
    assert [o.anonymised for o in m.outputs] == [False]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--faces", "--face-padding", "3"], "--face-padding"),
        (["--faces", "--face-padding", "-0.5"], "--face-padding"),
        (["--region", REGION, "--sizes", "0"], "out of range"),
        (["--region", REGION, "--sizes", "5,2000"], "out of range"),
        (["--region", REGION, "--style", "blur"], "--style"),
        (["--region", "10,10,0,5"], "region"),
    ],
)
def test_bad_privacy_settings_exit_2_in_one_line_and_write_nothing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    src = write_image(tmp_path / "cat.jpg")
    before = src.read_bytes()
    proc = run("pixelate", src, "-o", tmp_path / "out", "--manifest", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pixelpipe: error: ")
    assert needle in lines[0]
    assert not (tmp_path / "out").exists()
    assert src.read_bytes() == before


def test_a_photo_without_faces_says_so_and_its_outputs_count_as_anonymised(tmp_path: Path) -> None:
    name = FACE_FREE_CASES[0]
    src = tmp_path / "nobody.png"
    face_free_image(name).save(src)
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--faces", "--manifest")
    assert proc.returncode == 0, proc.stderr
    assert f"{src}: no face found: nothing hidden" in proc.stderr, name
    assert "warning" not in proc.stderr
    m, _ = manifest_at(out / "_manifests" / "nobody.png.json")
    assert m.areas == ()  # looked for, none found
    assert all(o.anonymised is True for o in m.outputs)  # nothing to hide
