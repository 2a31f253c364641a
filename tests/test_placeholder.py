"""Placeholders (BlurHash, ThumbHash, data URI, colour), checked from outside: what pixelpipe
writes is decoded by independent decoders -- the reference implementations (woltapp's
``blurhash`` and evanw's ``thumbhash`` from npm, run with Node; tests/decoders/) and two
Python ones (PyPI's ``blurhash`` and ``thumbhash``) -- and compared with the displayed image:
average colour within 16 levels per channel (BlurHash in linear light, which is what it
averages), aspect ratio within 10 %, data URI at most 1 KiB. The reference *encoders* run on
the same pixels as pixelpipe's, so the encoders are checked against them too.

Node and npm come with the project's machines; the decoders are installed on first use with
``npm ci --prefix tests/decoders`` (pinned by its package-lock.json)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import blurhash as py_blurhash
import numpy as np
import pytest
import thumbhash as py_thumbhash
from click.testing import CliRunner
from PIL import Image

from conftest import encode, exif_bytes, photo_like, stored_with_orientation, upright
from moto_stack import Stack
from pixelpipe import placeholder as ph
from pixelpipe.cli import cli
from pixelpipe.engine import pixelate, placeholder_of
from pixelpipe.events import parse_message_body
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.settings import EngineSettings, OutputMode
from pixelpipe.web.server import _placeholder as page_placeholder

pytestmark = pytest.mark.xdist_group("placeholder-decoders")  # one npm install at a time

DECODERS = Path(__file__).resolve().parent / "decoders"
SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
LEVELS = 16  # average colour tolerance per channel, 0..255
ASPECT = 0.10  # ThumbHash aspect ratio tolerance
LINEAR = np.array(ph._SRGB_TO_LINEAR) * 255  # sRGB level -> linear light on a 0..255 scale


@pytest.fixture(scope="module")
def reference() -> Any:
    """Run requests through the reference implementations (see tests/decoders/decode.mjs)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.fail(
            "node and npm are needed for the reference decoders (apt-get install nodejs npm)"
        )
    if not (DECODERS / "node_modules" / "thumbhash").is_dir():
        done = subprocess.run(
            [npm, "ci", "--prefix", str(DECODERS), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]

    def run(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [node, str(DECODERS / "decode.mjs")],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        answers: list[dict[str, Any]] = json.loads(done.stdout)
        for answer in answers:
            assert "error" not in answer, answer
        return answers

    return run


def rgba_mean(answer: dict[str, Any]) -> np.ndarray:
    return np.array(answer["rgba"], dtype=float).reshape(-1, 4).mean(axis=0)


def means(im: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """(sRGB mean weighted by opacity, linear-light mean on white), 0..255 per channel: what
    the colour, data URI and ThumbHash average, and what BlurHash (no alpha) averages."""
    rgba = np.asarray(im.convert("RGBA"), dtype=float).reshape(-1, 4)
    alpha = rgba[:, 3:] / 255
    weight = alpha if alpha.sum() else np.ones_like(alpha)
    srgb = (rgba[:, :3] * weight).sum(axis=0) / weight.sum()
    on_white = np.rint(rgba[:, :3] * alpha + 255 * (1 - alpha)).astype(int)
    return srgb, LINEAR[on_white].mean(axis=0)


def data_uri_image(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:40]
    im = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    im.load()
    assert im.format == "PNG"
    return im


def check(placeholder: ph.Placeholder, shown: Image.Image, reference: Any) -> None:
    """Every field of ``placeholder`` against the displayed image ``shown``."""
    w, h = shown.size
    assert (placeholder.width, placeholder.height) == (w, h)
    srgb, linear = means(shown)
    # Colour
    color = np.array([int(placeholder.color[i : i + 2], 16) for i in (1, 3, 5)])
    assert np.abs(color - srgb).max() <= 2, (placeholder.color, srgb)
    # Data URI: an image of at most 1 KiB, shaped and coloured like the photo
    assert len(placeholder.data_uri) <= 1024
    tiny = data_uri_image(placeholder.data_uri)
    assert max(tiny.size) <= 16
    assert tiny.width / tiny.height == pytest.approx(w / h, rel=ASPECT)
    assert np.abs(means(tiny)[0] - srgb).max() <= LEVELS
    # BlurHash: components from the aspect ratio, decoded by two decoders
    nx, ny = ph.blurhash_components(w, h)
    assert (nx >= ny) == (w >= h)
    dw, dh = ph.fit(w, h, 32)
    blur, thumb = reference(
        [
            {"blurhash": placeholder.blurhash, "width": dw, "height": dh},
            {"thumbhash": placeholder.thumbhash},
        ]
    )
    decoded = np.array(blur["rgba"], dtype=np.uint8).reshape(-1, 4)[:, :3]
    assert np.abs(LINEAR[decoded].mean(axis=0) - linear).max() <= LEVELS, placeholder.blurhash
    py = np.array(py_blurhash.decode(placeholder.blurhash, dw, dh, linear=True)).reshape(-1, 3)
    assert np.abs(py.mean(axis=0) * 255 - linear).max() <= LEVELS
    # ThumbHash: the reference decoder's image and average, the Python decoder's aspect ratio
    assert abs(thumb["aspect"] / (w / h) - 1) <= ASPECT, (thumb["aspect"], w / h)
    assert abs(thumb["width"] / thumb["height"] / (w / h) - 1) <= ASPECT + 0.02  # rounded px
    assert np.abs(rgba_mean(thumb)[:3] - srgb).max() <= LEVELS
    opaque = shown.mode not in ("RGBA", "LA", "PA") and "transparency" not in shown.info
    assert (thumb["average"]["a"] == 1) == opaque
    average = np.array([thumb["average"][c] for c in "rgb"]) * 255
    assert np.abs(average - srgb).max() <= LEVELS
    raw = list(base64.b64decode(placeholder.thumbhash, validate=True))
    assert abs(py_thumbhash.thumb_hash_to_approximate_aspect_ratio(raw) / (w / h) - 1) <= ASPECT


# --- photos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "fmt"),
    [
        (1600, 1200, "JPEG"),  # 4:3
        (1200, 1800, "JPEG"),  # 2:3 portrait
        (1920, 1080, "JPEG"),  # 16:9
        (900, 900, "PNG"),
        (1000, 800, "WEBP"),  # 5:4
        (1600, 1000, "JPEG"),  # 16:10
        (37, 23, "PNG"),  # smaller than the work copy
    ],
)
def test_photos_decode_to_their_colour_and_shape(
    width: int, height: int, fmt: str, reference: Any
) -> None:
    data = encode(photo_like(width, height, seed=width), fmt)
    result = pixelate(data)
    assert result.placeholder is not None
    check(result.placeholder, upright(data), reference)


@pytest.mark.parametrize("name", ["street.jpg", "portrait.jpg", "rotated.jpg", "sprite.png"])
def test_sample_images(name: str, reference: Any) -> None:
    data = (SAMPLES / name).read_bytes()
    result = pixelate(data)
    assert result.placeholder is not None
    check(result.placeholder, upright(data), reference)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_tagged_photos_give_the_upright_placeholder(
    orientation: int, reference: Any
) -> None:
    """Stored sideways or mirrored with an EXIF orientation: the placeholder is the displayed
    image's -- its size, shape, colour, and where things are (a left/right, top/bottom
    asymmetric picture compared with the data URI's pixels)."""
    shown = photo_like(960, 600, seed=orientation)
    marks = Image.new("RGB", (480, 300), (230, 30, 30))
    shown.paste(marks, (0, 0))  # red top-left quarter
    shown.paste(Image.new("RGB", (960, 150), (20, 40, 220)), (0, 450))  # blue bottom strip
    stored = stored_with_orientation(shown, orientation)
    data = encode(stored, "JPEG", quality=92, exif=exif_bytes(orientation))
    result = pixelate(data)
    assert result.source.orientation == orientation
    placeholder = result.placeholder
    assert placeholder is not None
    check(placeholder, shown, reference)
    tiny = data_uri_image(placeholder.data_uri).convert("RGB")
    expected = np.asarray(shown.resize(tiny.size, Image.Resampling.BOX), dtype=float)
    assert np.abs(np.asarray(tiny, dtype=float) - expected).mean() <= 6


def test_a_portrait_stored_sideways_has_a_portrait_placeholder(reference: Any) -> None:
    shown = photo_like(600, 900, seed=5)
    data = encode(stored_with_orientation(shown, 6), "JPEG", exif=exif_bytes(6))
    placeholder = placeholder_of(data)
    assert (placeholder.width, placeholder.height) == (600, 900)
    assert ph.blurhash_components(600, 900) == (3, 4)
    assert py_blurhash.components(placeholder.blurhash) == (3, 4)
    (thumb,) = reference([{"thumbhash": placeholder.thumbhash}])
    assert thumb["aspect"] < 1
    assert thumb["width"] < thumb["height"]


# --- computed from the reduced decode, whatever the sizes asked for ------------------------


@pytest.mark.parametrize(
    "settings",
    [
        EngineSettings(sizes=(64,)),
        EngineSettings(sizes=(1024,)),  # decoded at full size
        EngineSettings(block_px=(16,)),
        EngineSettings(sizes=(2,), output=OutputMode.GRID),  # decoded at the smallest scale
    ],
    ids=["64", "1024", "16px", "2-grid"],
)
def test_placeholder_with_other_sizes(settings: EngineSettings, reference: Any) -> None:
    data = encode(photo_like(2400, 1600, seed=9), "JPEG", quality=90)
    default = pixelate(data).placeholder
    other = pixelate(data, settings).placeholder
    assert default is not None
    assert other is not None
    check(other, upright(data), reference)
    a, b = (np.array([int(p.color[i : i + 2], 16) for i in (1, 3, 5)]) for p in (default, other))
    assert np.abs(a - b).max() <= 2
    assert placeholder_of(data, settings) == other  # what the command prints: the same
    assert placeholder_of(data) == default


def test_modes_and_formats(reference: Any) -> None:
    """Grey, 16-bit, CMYK, palette and animated inputs all give a decodable placeholder of
    the picture the variants show (an animation's first frame)."""
    photo = photo_like(320, 240, seed=4)
    first = Image.new("RGB", (200, 150), (200, 40, 40))
    second = Image.new("RGB", (200, 150), (40, 40, 200))
    anim = io.BytesIO()
    first.save(anim, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    wide = Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    assert wide.mode == "I;16"
    inputs = {
        "grey": (encode(photo.convert("L"), "PNG"), photo.convert("L")),
        "16-bit": (encode(wide, "PNG"), photo.convert("L")),
        "cmyk": (encode(photo.convert("CMYK"), "JPEG", quality=95), None),
        "palette": (encode(photo.convert("P"), "GIF"), photo.convert("P").convert("RGB")),
        "animated": (anim.getvalue(), first),
    }
    for name, (data, shown) in inputs.items():
        placeholder = placeholder_of(data)
        check(placeholder, shown if shown is not None else upright(data), reference)
        assert placeholder.color, name


def test_transparency(reference: Any) -> None:
    """Alpha: ThumbHash carries it, the data URI keeps it, the colour is weighted by it and
    BlurHash (which has no alpha) sees the image on white, as JPEG variants do."""
    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (100, 100), (20, 120, 220, 255)), (100, 0))
    placeholder = placeholder_of(encode(im, "PNG"))
    assert placeholder.color == "#1478dc"
    (thumb,) = reference([{"thumbhash": placeholder.thumbhash}])
    assert thumb["average"]["a"] == pytest.approx(0.5, abs=0.1)
    alpha = np.array(thumb["rgba"]).reshape(thumb["height"], thumb["width"], 4)[..., 3]
    assert alpha[:, : thumb["width"] // 4].mean() < 64
    assert alpha[:, -thumb["width"] // 4 :].mean() > 192
    tiny = data_uri_image(placeholder.data_uri)
    assert tiny.mode == "RGBA"
    assert len(placeholder.data_uri) <= 1024
    decoded = np.asarray(py_blurhash.decode(placeholder.blurhash, 16, 8), dtype=float)
    assert decoded[:, :6].mean() > 200  # white where the image is transparent


def test_data_uri_stays_under_1_kib_for_noise() -> None:
    """Incompressible content: the URI shrinks its image until it fits."""
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8), "RGBA")
    uri = ph.data_uri(noise)
    assert len(uri) <= ph.MAX_DATA_URI
    assert 4 <= max(data_uri_image(uri).size) < 16


# --- the encoders against the reference encoders ------------------------------------------


def test_blurhash_is_the_specifications_string(reference: Any) -> None:
    """Same pixels, same components: PyPI's ``blurhash`` encoder (which, like woltapp's C
    and Swift encoders and Algorithm.md, quantises the AC terms by their largest *absolute*
    value) gives the same string. woltapp's TypeScript encoder takes the largest *signed*
    value instead: its strings agree in the size flag and the DC colour, and decode to
    nearly the same picture."""
    cases = []
    for seed, (w, h) in enumerate([(32, 24), (24, 32), (32, 32), (17, 5), (1, 1)]):
        im = photo_like(w * 10, h * 10, seed=seed).resize((w, h), Image.Resampling.BOX)
        for nx, ny in [(4, 3), (3, 4), (1, 1), (9, 9), (5, 2)]:
            cases.append((im, nx, ny))
    ours = [ph.blurhash(im, nx, ny) for im, nx, ny in cases]
    for (im, nx, ny), mine in zip(cases, ours, strict=True):
        assert mine == py_blurhash.encode(np.asarray(im), nx, ny), (im.size, nx, ny)
    answers = reference(
        [
            {"encode": "blurhash", "width": im.width, "height": im.height}
            | {"rgba": list(im.convert("RGBA").tobytes()), "nx": nx, "ny": ny}
            for im, nx, ny in cases
        ]
    )
    theirs = [a["hash"] for a in answers]
    decoded = reference(
        [
            {"blurhash": h, "width": 16, "height": 12}
            for pair in zip(ours, theirs, strict=True)
            for h in pair
        ]
    )
    for i, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        assert (mine[0], mine[2:6]) == (other[0], other[2:6])
        a, b = (np.array(d["rgba"], dtype=float) for d in decoded[2 * i : 2 * i + 2])
        assert np.abs(a - b).mean() <= 8, (mine, other)


def test_thumbhash_matches_the_reference_encoder(reference: Any) -> None:
    """evanw's encoder on the same pixels: with alpha (no colour matrix), byte for byte;
    opaque, the decoded pictures agree within 1.5 levels on average (pixelpipe rounds L, P and Q to
    8 bits in Pillow's colour matrix: a term may round the other way); and the header's aspect
    ratio is never further off."""
    cases = []
    for seed, (w, h) in enumerate([(16, 12), (12, 16), (16, 16), (16, 9), (16, 5)]):
        im = photo_like(w * 10, h * 10, seed=seed).resize((w, h), Image.Resampling.BOX)
        cases.append(im)
        rgba = im.convert("RGBA")
        rgba.putpixel((0, 0), (10, 20, 30, 100))
        cases.append(rgba)
    answers = reference(
        [
            {"encode": "thumbhash", "width": im.width, "height": im.height}
            | {"rgba": list(im.convert("RGBA").tobytes())}
            for im in cases
        ]
    )
    ours = [base64.b64encode(ph.thumbhash(im)).decode() for im in cases]
    decoded = reference(
        [
            {"thumbhash": h}
            for pair in zip(ours, answers, strict=True)
            for h in (pair[0], pair[1]["hash"])
        ]
    )
    for i, im in enumerate(cases):
        mine, theirs = decoded[2 * i], decoded[2 * i + 1]
        true = im.width / im.height
        assert abs(mine["aspect"] / true - 1) <= abs(theirs["aspect"] / true - 1) + 1e-9
        if mine["aspect"] != theirs["aspect"]:
            continue  # another luminance layout: not comparable term by term
        if im.mode == "RGBA":
            assert ours[i] == answers[i]["hash"], im.size
        else:
            a, b = (np.array(d["rgba"], dtype=float) for d in (mine, theirs))
            assert np.abs(a - b).mean() <= 1.5, im.size
            assert np.abs(a - b).max() <= 4, im.size


def test_thumbhash_aspect_is_the_nearest_the_format_holds() -> None:
    for w, h in [(1600, 1200), (1500, 1000), (1920, 1080), (1000, 1000), (600, 1000), (1000, 800)]:
        raw = list(ph.thumbhash(Image.new("RGB", ph.fit(w, h, 16), "gray"), w / h))
        got = py_thumbhash.thumb_hash_to_approximate_aspect_ratio(raw)
        assert abs(got / (w / h) - 1) <= ASPECT, (w, h, got)


# --- the command, the manifest, the page ---------------------------------------------------


def test_placeholder_command(tmp_path: Path, reference: Any) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(photo_like(800, 600, seed=2), "JPEG"))
    sideways = tmp_path / "sideways.jpg"
    sideways.write_bytes(
        encode(stored_with_orientation(photo_like(300, 500, seed=3), 8), "JPEG", exif=exif_bytes(8))
    )
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image\n")
    for jobs in ("1", "2"):
        args = [
            "placeholder",
            "-j",
            jobs,
            str(photo),
            str(bad),
            str(sideways),
            str(tmp_path / "gone.png"),
        ]
        run = CliRunner().invoke(cli, args)
        assert run.exit_code == 1, run.output
        lines = [json.loads(line) for line in run.stdout.splitlines()]
        assert [line["file"] for line in lines] == [str(photo), str(sideways)]
        assert set(lines[0]) == {
            "file",
            "blurhash",
            "thumbhash",
            "data_uri",
            "color",
            "width",
            "height",
        }
        assert (lines[0]["width"], lines[0]["height"]) == (800, 600)
        assert (lines[1]["width"], lines[1]["height"]) == (300, 500)
        fields = {k: v for k, v in lines[0].items() if k != "file"}
        assert fields == placeholder_of(photo.read_bytes()).as_dict()
        assert run.stderr.splitlines() == [
            f"{bad}: not a recognised image format",
            f"{tmp_path / 'gone.png'}: no such file",
        ]
    check(ph.Placeholder(**fields), upright(photo.read_bytes()), reference)


def test_placeholder_command_in_a_real_process(tmp_path: Path) -> None:
    """As a build step runs it: exit 0, JSON lines on stdout, nothing on stderr."""
    photo = tmp_path / "a.png"
    photo.write_bytes(encode(photo_like(64, 48), "PNG"))
    done = subprocess.run(
        [sys.executable, "-m", "pixelpipe", "placeholder", str(photo), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 2  # the file, then the directory's one file
    assert all(json.loads(line)["file"].endswith("a.png") for line in lines)


def test_the_manifest_carries_it_and_older_manifests_are_redone(stack: Stack) -> None:
    """The pipeline writes the engine's placeholder into the manifest (manifest_version 2);
    a version-1 manifest for the same object and settings no longer counts as done, so
    backfill or the next event gives the image its placeholder."""
    pipe = Pipeline(stack.settings(), stack.storage())
    shown = photo_like(400, 600, seed=8)
    data = encode(stored_with_orientation(shown, 6), "JPEG", exif=exif_bytes(6))
    _, message = stack.upload_and_receive("photos/p.jpg", data, content_type="image/jpeg")
    (ref,) = parse_message_body(message["Body"])
    assert pipe.handle(ref).outcome is Outcome.PROCESSED
    manifest = stack.read_json("_manifests/photos/p.jpg.json")
    assert manifest["manifest_version"] == 2
    assert manifest["placeholder"] == placeholder_of(data).as_dict()  # = the command's
    assert (manifest["placeholder"]["width"], manifest["placeholder"]["height"]) == (400, 600)
    assert pipe.handle(ref).outcome is Outcome.DUPLICATE
    # What version 1 wrote: no placeholder, and the digest without the manifest version.
    s = pipe.settings
    v1 = {"engine": s.engine.output_fields(), "key_template": s.key_template}
    old = {k: v for k, v in manifest.items() if k != "placeholder"}
    old["manifest_version"] = 1
    old["settings_digest"] = hashlib.sha256(
        json.dumps(v1, sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    assert old["settings_digest"] != pipe.digest
    stack.s3.put_object(
        Bucket=stack.processed, Key="_manifests/photos/p.jpg.json", Body=json.dumps(old)
    )
    assert pipe.handle(ref).outcome is Outcome.PROCESSED
    assert stack.read_json("_manifests/photos/p.jpg.json")["placeholder"] == manifest["placeholder"]


def test_the_page_only_takes_a_data_image_and_a_colour() -> None:
    uri = "data:image/png;base64,iVBORw0KGgo="
    assert page_placeholder({"data_uri": uri, "color": "#00ff7f"}) == {
        "data_uri": uri,
        "color": "#00ff7f",
    }
    assert page_placeholder({"data_uri": uri, "color": "red;background:url(x)"}) == {
        "data_uri": uri,
        "color": "",
    }
    for hostile in [
        'data:image/png;base64,AAAA") , url("https://example.invalid/x',
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml;base64,PHN2Zz4=",
        None,
    ]:
        assert page_placeholder({"data_uri": hostile, "color": "#000000"}) is None
    assert page_placeholder(None) is None
    assert page_placeholder(["data:image/png;base64,AAAA"]) is None


@pytest.mark.parametrize(
    ("size", "components"),
    [
        ((1000, 1000), (4, 4)),
        ((1600, 1200), (4, 3)),  # 4:3
        ((1600, 1067), (4, 3)),  # 3:2
        ((1920, 1080), (4, 2)),  # 16:9
        ((1126, 661), (4, 2)),  # the photo of issue 23
        ((3000, 1000), (4, 1)),
        ((1200, 1600), (3, 4)),
    ],
)
def test_blurhash_components_are_what_the_readme_says(
    size: tuple[int, int], components: tuple[int, int]
) -> None:
    assert ph.blurhash_components(*size) == components
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = next(ln for ln in readme.splitlines() if ln.startswith("| `blurhash` |"))
    assert "4x4 square, 4x3 for 4:3 and 3:2, 4x2 for 16:9 (a 1126x661 photo: 4x2)" in row
    assert "4x1 for 3:1" in row
