"""The `pixelpipe` command, run as a real subprocess through its console script."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import pixelpipe
from pixelpipe.demo import FACE_SAMPLES

EXE = Path(sys.executable).with_name("pixelpipe")
SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELPIPE_")}
    full_env.update(env or {})
    return subprocess.run(
        [str(EXE), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        check=False,
    )


def write_image(path: Path, size: tuple[int, int] = (120, 90), fmt: str = "JPEG") -> Path:
    im = Image.new("RGB", size)
    im.putdata(
        [(x * 2 % 256, y * 3 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    im.save(path, fmt)
    return path


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert "Traceback" not in proc.stdout


def test_pixelate_writes_original_names_and_sizes(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"pixelated-{n}x{n}-cat.jpg" for n in (8, 16, 32, 48, 64))
    for n in (8, 16, 32, 48, 64):
        with Image.open(out / f"pixelated-{n}x{n}-cat.jpg") as im:
            assert im.format == "JPEG"
            assert im.size == (120, 90)


def test_bad_inputs_are_reported_one_line_each_and_the_batch_goes_on(tmp_path: Path) -> None:
    good1 = write_image(tmp_path / "a.jpg")
    text = tmp_path / "b.jpg"
    text.write_text("<html><body>not an image</body></html>")
    png = io.BytesIO()
    Image.new("RGB", (200, 200), "red").save(png, "PNG")
    truncated = tmp_path / "c.png"
    truncated.write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    empty = tmp_path / "d.png"
    empty.write_bytes(b"")
    missing = tmp_path / "nope.jpg"
    good2 = write_image(tmp_path / "e.png", fmt="PNG")
    out = tmp_path / "out"
    proc = run("pixelate", good1, text, truncated, empty, missing, good2, "-o", out, "-j", "2")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    lines = [line for line in proc.stderr.splitlines() if line.startswith(str(tmp_path))]
    by_path = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines}
    assert set(by_path) == {str(text), str(truncated), str(empty), str(missing)}
    assert "not a recognised image" in by_path[str(text)]
    assert "truncated" in by_path[str(truncated)] or "corrupt" in by_path[str(truncated)]
    assert "empty" in by_path[str(empty)]
    assert by_path[str(missing)] == "no such file"
    written = {p.name for p in out.iterdir()}
    assert "pixelated-8x8-a.jpg" in written
    assert "pixelated-64x64-e.png" in written
    assert not any("-b." in n or "-c." in n or "-d." in n for n in written)
    assert not any(n.startswith(".pixelpipe-") for n in written)  # no temp files left


def test_format_changes_only_the_extension(tmp_path: Path) -> None:
    src = write_image(tmp_path / "holiday.photo.JPG")
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--format", "webp", "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in out.iterdir()] == ["pixelated-8x8-holiday.photo.webp"]
    proc = run("pixelate", src, "-o", out, "--sizes", "8")
    assert (out / "pixelated-8x8-holiday.photo.JPG").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sizes", "0"], "out of range"),
        (["--sizes", "2000"], "out of range"),
        (["--sizes", "eight"], "comma-separated"),
        (["--sizes", "8", "--block-px", "16"], "either --sizes or --block-px"),
        (["--max-bytes", "lots"], "max_bytes"),
    ],
)
def test_invalid_settings_exit_2_with_one_line(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    src = write_image(tmp_path / "x.jpg")
    proc = run("pixelate", src, "-o", tmp_path / "out", *args)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_invalid_env_setting_is_a_usage_error(tmp_path: Path) -> None:
    src = write_image(tmp_path / "x.jpg")
    proc = run("pixelate", src, "-o", tmp_path / "out", env={"PIXELPIPE_SHAPE": "round"})
    assert proc.returncode == 2
    assert "shape must be one of grid, square" in proc.stderr
    assert_no_traceback(proc)


def test_env_settings_apply_and_flags_win(tmp_path: Path) -> None:
    src = write_image(tmp_path / "x.jpg")
    out = tmp_path / "env"
    assert run("pixelate", src, "-o", out, env={"PIXELPIPE_SIZES": "4,5"}).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["pixelated-4x4-x.jpg", "pixelated-5x5-x.jpg"]
    out2 = tmp_path / "flag"
    proc = run("pixelate", src, "-o", out2, "--sizes", "6", env={"PIXELPIPE_SIZES": "4,5"})
    assert proc.returncode == 0
    assert [p.name for p in out2.iterdir()] == ["pixelated-6x6-x.jpg"]


def test_limits_reject_with_reason(tmp_path: Path) -> None:
    src = write_image(tmp_path / "big.png", size=(400, 300), fmt="PNG")
    proc = run("pixelate", src, "-o", tmp_path / "out", "--max-pixels", "100000")
    assert proc.returncode == 1
    assert f"{src}: image is 400x300 = 0.1 MP, over the 0.1 MP limit" in proc.stderr
    proc = run("pixelate", src, "-o", tmp_path / "out", "--max-bytes", "100")
    assert proc.returncode == 1
    assert "over the" in proc.stderr
    assert "limit" in proc.stderr
    assert_no_traceback(proc)


def test_parallel_and_serial_give_identical_bytes(tmp_path: Path) -> None:
    files = [write_image(tmp_path / f"img{i}.png", size=(80 + i, 60), fmt="PNG") for i in range(4)]
    assert run("pixelate", *files, "-o", tmp_path / "serial", "-j", "1").returncode == 0
    assert run("pixelate", *files, "-o", tmp_path / "parallel", "-j", "2").returncode == 0
    serial = {p.name: p.read_bytes() for p in (tmp_path / "serial").iterdir()}
    parallel = {p.name: p.read_bytes() for p in (tmp_path / "parallel").iterdir()}
    assert len(serial) == 20
    assert serial == parallel


def test_same_file_name_twice_is_rejected_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_image(tmp_path / "a" / "cat.jpg", size=(50, 50))
    second = write_image(tmp_path / "b" / "cat.jpg", size=(70, 70))
    out = tmp_path / "out"
    proc = run("pixelate", first, second, "-o", out)
    assert proc.returncode == 1
    assert f"{second}: output names would be the same as {first}'s" in proc.stderr
    with Image.open(out / "pixelated-8x8-cat.jpg") as im:
        assert im.size == (50, 50)


def test_directory_inputs_are_expanded(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "one.jpg")
    write_image(folder / "two.png", fmt="PNG")
    (folder / ".hidden.jpg").write_bytes(b"junk")
    out = tmp_path / "out"
    proc = run("pixelate", folder, "-o", out, "--sizes", "8", "--mode", "both")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "pixelated-8x8-grid-one.jpg",
        "pixelated-8x8-grid-two.png",
        "pixelated-8x8-one.jpg",
        "pixelated-8x8-two.png",
    ]
    with Image.open(out / "pixelated-8x8-grid-two.png") as im:
        assert im.size == (8, 8)


def test_block_px_names_and_blocks(tmp_path: Path) -> None:
    src = write_image(tmp_path / "p.png", size=(100, 50), fmt="PNG")
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--block-px", "10,25")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pixelated-10px-p.png", "pixelated-25px-p.png"]
    with Image.open(out / "pixelated-25px-p.png") as im:
        assert im.size == (100, 50)
        row = [im.getpixel((x, 10)) for x in range(100)]
    for start in range(0, 100, 25):
        assert len(set(row[start : start + 25])) == 1


def test_version_and_help() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert pixelpipe.__version__ in proc.stdout
    proc = run("pixelate", "--help")
    assert proc.returncode == 0
    assert "--sizes" in proc.stdout
    assert "--jobs" in proc.stdout


def test_missing_arguments_are_usage_errors(tmp_path: Path) -> None:
    proc = run("pixelate", "-o", tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)


def test_the_demo_says_faces_were_hidden_only_where_an_output_anonymises_them() -> None:
    """The demo's faces column, from each kind of manifest (#21): "hidden" only with an
    anonymising output; found but not anonymised, found with no claim (a manifest from before
    ``anonymised``), none found, not looked for (no ``areas``)."""
    from pixelpipe.demo import Item
    from pixelpipe.manifest import Manifest

    face = {"box": [1, 2, 30, 40], "source": "face", "score": 0.9, "detector": "d"}
    region = {"box": [50, 60, 10, 10], "source": "region"}

    def said(flags: list[bool | None], areas: list[dict[str, Any]] | None) -> str:
        outputs = [
            {"key": f"pixelated-{n}x{n}-k.jpg", "label": f"{n}x{n}", "size": n}
            | ({} if flag is None else {"anonymised": flag})
            for n, flag in zip((3, 5, 64), flags, strict=False)
        ]
        doc: dict[str, Any] = {
            "manifest_version": 2,
            "settings_digest": "d1",
            "source": {"bucket": "b", "key": "k.jpg", "etag": "e1"},
            "outputs": outputs,
        }
        if areas is not None:
            doc["areas"] = areas
        item = Item(Path("k.jpg"), "k.jpg", manifest=Manifest.from_json(doc), faces=True)
        return item.hidden

    assert said([True, True], [face]) == "1 face hidden in 2 anonymising outputs"
    assert said([True, True, False], [face, face]) == "2 faces hidden in 2 anonymising outputs"
    assert said([False], [face]) == "1 face found: no output anonymises it"
    assert said([False], [face, face, region]) == "2 faces found: no output anonymises them"
    assert said([None, None], [face]) == "1 face found"
    assert said([False, None], [face]) == "1 face found"
    assert said([True], [region]) == "no face found"
    assert said([None], None) == "faces not looked for"
    # Faces not asked for: nothing said.
    item = Item(Path("k.jpg"), "k.jpg", faces=False)
    assert item.hidden == ""


def test_demo_pixelates_the_bundled_samples(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run("demo", "--out", out, "--samples", SAMPLES)
    assert proc.returncode == 0, proc.stderr
    samples = sorted(p.name for p in SAMPLES.iterdir() if not p.name.startswith("."))
    assert len(samples) >= 4
    for name in samples:
        assert name in proc.stdout
    # The samples with a face are uploaded with faces on and no sizes: the anonymising
    # defaults for areas, 3 and 5 blocks across each face (#21); the others the whole image.
    written = {p.name for p in out.iterdir()}
    assert written == {
        f"pixelated-{n}x{n}-{name}"
        for name in samples
        for n in ((3, 5) if name in FACE_SAMPLES else (8, 16, 32, 48, 64))
    } | {"contact-sheet.png"}
    with Image.open(out / "contact-sheet.png") as sheet:
        assert sheet.width > 5 * 100
        assert sheet.height > len(samples) * 100
    assert "upload-to-done" in proc.stdout
    # #23: the sample with a face is uploaded with faces on; the face is hidden, the rest not.
    row = next(ln for ln in proc.stdout.splitlines() if "astronaut.jpg" in ln)
    assert "1 face hidden" in row
    assert not [ln for ln in proc.stdout.splitlines() if "street.jpg" in ln and "hidden" in ln]
    with (
        Image.open(SAMPLES / "astronaut.jpg") as src,
        Image.open(out / "pixelated-5x5-astronaut.jpg") as im,
    ):
        face, corner = (190, 90, 260, 190), (0, 300, 100, 400)  # her face; the flag
        assert _mean_diff(src.crop(face), im.crop(face)) > 8
        assert _mean_diff(src.crop(corner), im.crop(corner)) < 3


def _mean_diff(a: Image.Image, b: Image.Image) -> float:
    from PIL import ImageChops, ImageStat

    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def test_encode_error_is_reported_and_other_files_still_written(tmp_path: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.new("RGB", (70000, 2), "blue").save(wide)
    ok = write_image(tmp_path / "ok.png", fmt="PNG")
    out = tmp_path / "out"
    proc = run("pixelate", wide, ok, "-o", out, "--format", "jpeg", "--sizes", "8")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert f"{wide}: 70000x2 is larger than JPEG can store (65500 px per side)" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["pixelated-8x8-ok.jpg"]


def test_fifo_input_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    ok = write_image(tmp_path / "ok.jpg")
    proc = run("pixelate", fifo, ok, "-o", tmp_path / "out")  # would hang on read
    assert proc.returncode == 1
    assert f"{fifo}: not a regular file" in proc.stderr
    assert (tmp_path / "out" / "pixelated-8x8-ok.jpg").exists()


def test_output_directory_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    src = write_image(tmp_path / "x.jpg")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run("pixelate", src, "-o", blocker / "sub")
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert "cannot create output directory" in proc.stderr
    assert "internal error" not in proc.stderr


def test_small_limits_are_described_exactly(tmp_path: Path) -> None:
    src = write_image(tmp_path / "x.png", size=(40, 30), fmt="PNG")
    proc = run("pixelate", src, "-o", tmp_path / "out", "--max-pixels", "1000")
    assert f"{src}: image is 40x30 = 1,200 pixels, over the 1,000 pixels limit" in proc.stderr
    src.write_bytes(src.read_bytes().ljust(2048, b"\0"))  # exactly 2 KiB
    proc = run("pixelate", src, "-o", tmp_path / "out", "--max-bytes", "10")
    assert f"{src}: input is 2.0 KiB, over the 10 bytes limit" in proc.stderr


def test_bundled_samples_show_privacy_and_orientation(tmp_path: Path) -> None:
    """The samples exist to demonstrate these: GPS gone, rotated photo upright, alpha kept."""
    with Image.open(SAMPLES / "portrait.jpg") as src:
        assert src.getexif().get_ifd(0x8825), "the sample carries GPS"
    out = tmp_path / "out"
    samples = [SAMPLES / n for n in ("portrait.jpg", "rotated.jpg", "sprite.png")]
    assert run("pixelate", *samples, "-o", out, "--sizes", "16").returncode == 0
    data = (out / "pixelated-16x16-portrait.jpg").read_bytes()
    assert b"Exif\x00\x00" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert not im.getexif()
    with (
        Image.open(SAMPLES / "rotated.jpg") as src,
        Image.open(out / "pixelated-16x16-rotated.jpg") as im,
    ):
        assert src.size == (533, 800)  # stored on its side, Orientation 6
        assert im.size == (800, 533)
        assert im.getexif().get(0x0112) is None
    with Image.open(out / "pixelated-16x16-sprite.png") as im:
        alpha = im.convert("RGBA").getchannel("A")
        assert alpha.getextrema() == (0, 255)


def test_names_equal_after_the_format_change_are_refused(tmp_path: Path) -> None:
    jpg = write_image(tmp_path / "a.jpg")
    png = write_image(tmp_path / "a.png", size=(60, 40), fmt="PNG")
    out = tmp_path / "out"
    proc = run("pixelate", jpg, png, "-o", out, "--format", "webp", "--sizes", "8")
    assert proc.returncode == 1
    assert f"{png}: output names would be the same as {jpg}'s" in proc.stderr
    with Image.open(out / "pixelated-8x8-a.webp") as im:
        assert im.size == (120, 90)  # a.jpg's, not overwritten by a.png's
    # Without a format change the names differ, and both are written.
    assert run("pixelate", jpg, png, "-o", tmp_path / "same", "--sizes", "8").returncode == 0


# --------------------------------------------------------------------------------------------
# Issue 14: what a newcomer meets with files and folders


def test_outputs_get_the_mode_new_files_get(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        proc = run("pixelate", src, "-o", out, "--sizes", "8")
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert (out / "pixelated-8x8-cat.jpg").stat().st_mode & 0o777 == 0o644
    old = os.umask(0o027)
    try:
        proc = run("pixelate", src, "-o", tmp_path / "out2", "--sizes", "8")
    finally:
        os.umask(old)
    assert (tmp_path / "out2" / "pixelated-8x8-cat.jpg").stat().st_mode & 0o777 == 0o640


def test_subfolders_are_counted_without_recursive_and_mirrored_with_it(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    (shots / "a" / "b").mkdir(parents=True)
    (shots / "c").mkdir()
    write_image(shots / "top.jpg")
    write_image(shots / "a" / "one.jpg")
    write_image(shots / "a" / "b" / "two.png", fmt="PNG")
    write_image(shots / "c" / "top.jpg")  # same name as the top one: another folder
    proc = run("pixelate", shots, "-o", tmp_path / "flat", "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert "2 sub-folders not read (pass -r/--recursive)" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == ["pixelated-8x8-top.jpg"]

    out = tmp_path / "deep"
    proc = run("pixelate", "-r", shots, "-o", out, "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert "not read" not in proc.stderr
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [
        "a/b/pixelated-8x8-two.png",
        "a/pixelated-8x8-one.jpg",
        "c/pixelated-8x8-top.jpg",
        "pixelated-8x8-top.jpg",
    ]


def test_a_folder_of_only_subfolders_is_not_called_empty(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    (shots / "2024").mkdir(parents=True)
    write_image(shots / "2024" / "cat.jpg")
    proc = run("pixelate", shots, "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert "empty" not in proc.stderr
    assert "--recursive" in proc.stderr
    (tmp_path / "void").mkdir()
    proc = run("pixelate", tmp_path / "void", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert "empty" in proc.stderr


def test_running_twice_with_the_output_inside_the_input_skips_earlier_outputs(
    tmp_path: Path,
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    write_image(shots / "rocket.jpg")
    for _ in range(2):
        proc = run("pixelate", shots, "-o", shots, "--sizes", "8,16")
        assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in shots.iterdir())
    assert names == ["pixelated-16x16-rocket.jpg", "pixelated-8x8-rocket.jpg", "rocket.jpg"]
    assert "2 files skipped: pixelpipe's own outputs" in proc.stderr
    # With the output folder inside the input and -r, the output folder is not read either.
    for _ in range(2):
        proc = run("pixelate", "-r", shots, "-o", shots / "px", "--sizes", "8")
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (shots / "px").iterdir()) == ["pixelated-8x8-rocket.jpg"]
    # A file named on the command line is taken as asked.
    proc = run("pixelate", shots / "pixelated-8x8-rocket.jpg", "-o", tmp_path / "o", "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "pixelated-8x8-pixelated-8x8-rocket.jpg").exists()


def test_summary_says_one_variant_not_one_variants(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    proc = run("pixelate", src, "-o", tmp_path / "out", "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert "1 variant of 1 image written" in proc.stderr
    proc = run("pixelate", src, "-o", tmp_path / "out", "--sizes", "8,16")
    assert "2 variants of 1 image written" in proc.stderr


def test_file_commands_do_not_import_aws_or_pillow_when_they_need_not(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['pixelpipe', *sys.argv[1:]]\n"
        "import atexit\n"
        "atexit.register(lambda: print('MODULES', *sorted({m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in ('boto3', 'botocore', 'PIL', 'rich', 'moto')}), file=sys.stderr))\n"
        "from pixelpipe.cli import main\n"
        "main()\n"
    )

    def loaded(*args: str | Path) -> set[str]:
        proc = subprocess.run(
            [sys.executable, "-c", probe, *map(str, args)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES"))
        return set(line.split()[1:])

    assert loaded("--version") == set()
    assert loaded("pixelate", "--help") == set()
    assert loaded("pixelate", src, "-o", tmp_path / "out", "--sizes", "8", "-j", "1") == {
        "PIL",
        "rich",
    }


def _all_commands() -> list[tuple[str, Any]]:
    import click

    from pixelpipe.cli import cli

    found: list[tuple[str, Any]] = []

    def walk(cmd: click.Command, path: str) -> None:
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "pixelpipe")
    return found


def test_every_option_has_a_help_line() -> None:
    import click

    missing = [
        f"{path} {'/'.join(p.opts)}"
        for path, cmd in _all_commands()
        for p in cmd.params
        if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [
        ("pixelate",),  # missing argument
        ("pixelate", "x.jpg"),  # missing option
        ("nope",),  # no such command
        ("pixelate", "x.jpg", "-o", "out", "--quality", "500"),  # bad value
        ("pixelate", "x.jpg", "-o", "out", "--sizes", "0"),  # bad setting
    ],
)
def test_usage_and_settings_errors_share_one_style(args: tuple[str, ...], tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pixelpipe: error: "), lines[0]
    assert "Usage:" not in proc.stderr


@pytest.mark.parametrize(
    ("var", "value"),
    [("PIXELPIPE_SIZES", "abc"), ("PIXELPIPE_FORMAT", "tga"), ("PIXELPIPE_MAX_BYTES", "lots")],
)
def test_an_invalid_environment_variable_is_named(var: str, value: str, tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    proc = run("pixelate", src, "-o", tmp_path / "out", env={var: value})
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"pixelpipe: error: {var}: "), proc.stderr
    # A flag given wins over the variable.
    flag = {"PIXELPIPE_SIZES": "--sizes", "PIXELPIPE_FORMAT": "--format"}.get(var)
    if flag:
        proc = run(
            "pixelate",
            src,
            "-o",
            tmp_path / "out",
            flag,
            "8" if flag == "--sizes" else "png",
            env={var: value},
        )
        assert proc.returncode == 0, proc.stderr


def test_a_camera_folder_s_sidecars_are_skipped_with_one_line(tmp_path: Path) -> None:
    """#23: sidecars (images by neither name nor content) are skipped; exit 0."""
    photos = tmp_path / "DCIM"
    (photos / "100CANON").mkdir(parents=True)
    write_image(photos / "IMG_0001.JPG")
    (photos / "IMG_0001.xmp").write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    (photos / "IMG_0001.JPG.json").write_text('{"title": "IMG_0001.JPG"}')
    (photos / "IMG_0001.aae").write_text('<?xml version="1.0"?><plist version="1.0"/>')
    (photos / "notes.txt").write_text("holiday")
    (photos / "100CANON" / "MVI_0002.THM").write_bytes(b"not a thumbnail")
    (photos / "100CANON" / "MVI_0002.MOV").write_bytes(
        b"\0\0\0\x14ftypqt  \0\0\0\0qt  " + bytes(64)
    )
    # A camera's .THM that is a JPEG by content is an image: pixelated, named .jpg.
    write_image(photos / "100CANON" / "MVI_0003.THM")
    out = tmp_path / "out"
    proc = run("pixelate", "-r", photos, "-o", out, "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "100CANON/pixelated-8x8-MVI_0003.jpg",
        "pixelated-8x8-IMG_0001.JPG",
    ]
    skipped = [ln for ln in proc.stderr.splitlines() if "skipped" in ln]
    kinds = "1 .aae, 1 .json, 1 .mov, 1 .thm, 1 .txt, 1 .xmp"
    assert skipped == [f"6 files skipped, not images: {kinds}"]
    assert "not a recognised image format" not in proc.stderr


def test_a_damaged_image_in_a_camera_folder_still_fails_the_run(tmp_path: Path) -> None:
    """An image by name (.jpg) or by content (a JPEG signature under another name) that is
    damaged is reported with its reason, and the run exits 1."""
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "IMG_0001.jpg")
    (photos / "IMG_0001.xmp").write_text("<x:xmpmeta/>")
    (photos / "IMG_0002.jpg").write_bytes(b"this is no JPEG")
    whole = (photos / "IMG_0001.jpg").read_bytes()
    (photos / "IMG_0003.dat").write_bytes(whole[: len(whole) // 3])
    out = tmp_path / "out"
    proc = run("pixelate", photos, "-o", out, "--sizes", "8")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert f"{photos / 'IMG_0002.jpg'}: not a recognised image format" in proc.stderr
    assert any(
        ln.startswith(f"{photos / 'IMG_0003.dat'}: ") and ("truncated" in ln or "corrupt" in ln)
        for ln in proc.stderr.splitlines()
    ), proc.stderr
    assert "1 file skipped, not images: 1 .xmp" in proc.stderr
    assert (out / "pixelated-8x8-IMG_0001.jpg").is_file()


def test_a_run_that_writes_nothing_leaves_no_output_folder(tmp_path: Path) -> None:
    src = write_image(tmp_path / "cat.jpg")
    out = tmp_path / "out"
    proc = run("pixelate", src, "-o", out, "--sizes", "0")  # rejected at start-up
    assert proc.returncode == 2
    assert not out.exists()
    proc = run("pixelate", tmp_path / "missing.jpg", "-o", out)  # every input rejected
    assert proc.returncode == 1
    assert not out.exists()
    proc = run("demo", "--out", out, "--sizes", "0")
    assert proc.returncode == 2
    assert not out.exists()
    proc = run("pixelate", src, "-o", out / "a" / "b", "--sizes", "8")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (out / "a" / "b").iterdir()] == ["pixelated-8x8-cat.jpg"]


def test_placeholder_skips_a_folder_s_sidecars_too(tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg")
    (tmp_path / "a.xmp").write_text("<x:xmpmeta/>")
    proc = run("placeholder", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert proc.stderr.strip() == "1 file skipped, not images: 1 .xmp"
