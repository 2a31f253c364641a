"""The web page in a real browser: Debian's Chromium driven by Playwright, against
``pixelpipe up`` run as a user runs it. One stack and one browser for the module (its tests
run in file order on one xdist worker: ``--dist loadgroup``). Screenshots are kept in
out/test-artifacts/."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moto_stack import image_bytes
from web_stack import ARTIFACTS, DEADLINE, LABELS, SAMPLES, WebUp

pytestmark = pytest.mark.xdist_group("web-ui")

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIMIT_TEXT = "300.0 KiB"
WAIT_MS = DEADLINE * 1000
# Predicates are functions: an expression string would be eval'd on each poll, which the
# page's Content-Security-Policy (no 'unsafe-eval') rightly refuses.
VIEWER_OPEN = "() => document.getElementById('viewer').open"
VIEWER_CLOSED = "() => !document.getElementById('viewer').open"
X = "\u00d7"  # the page writes grid sizes with a multiplication sign


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebUp]:
    with WebUp(tmp_path_factory.mktemp("web-ui"), "--max-bytes", "300KiB") as stack:
        yield stack.wait_ready()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make test installs it (apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, up: WebUp) -> Iterator[Any]:
    """A fresh desktop-sized page on the stack's web page; no script error may happen."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(up.url)
    tab.wait_for_selector("#queue:has-text('Queue:')")
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def card(page: Any, key: str, status: str | None = None) -> Any:
    selector = f'li.card[data-key="{key}"]'
    if status:
        selector += f'[data-status="{status}"]'
    locator = page.locator(selector)
    locator.wait_for(timeout=WAIT_MS)
    return locator


def ensure(up: WebUp, name: str, data: bytes | None = None) -> None:
    """``name`` is in the gallery (uploaded through the API if an earlier test did not), so
    that each test also runs on its own."""
    if up.item(name) is None:
        status, doc = up.upload(name, data if data is not None else (SAMPLES / name).read_bytes())
        assert status == 201, doc


def human(n: int) -> str:
    """The page's way of writing a byte count."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def assert_every_variant_shown(page: Any, up: WebUp, key: str) -> None:
    done = card(page, key, "done")
    item = up.item(key)
    assert item is not None
    assert item["status"] == "done"
    tiles = done.locator(".tile.variant")
    assert tiles.count() == len(LABELS)
    for i, variant in enumerate(item["variants"]):
        tile = tiles.nth(i)
        assert tile.get_attribute("data-label") == LABELS[i]
        n = LABELS[i].split("x")[0]
        assert tile.locator(".grid").inner_text() == f"{n}{X}{n}"
        assert tile.locator(".bytes").inner_text() == human(variant["bytes"])
        href = tile.locator("a.download").get_attribute("href")
        assert href == variant["download"]
    done.scroll_into_view_if_needed()
    page.wait_for_function(
        """key => [...document.querySelector(`li.card[data-key="${key}"]`)
                     .querySelectorAll('.tile img')]
                 .every(img => img.complete && img.naturalWidth > 0)""",
        arg=key,
        timeout=WAIT_MS,
    )


def assert_outlined(layer: Any, item: dict[str, Any], shown: dict[str, float], px: float) -> None:
    """``layer`` (an <svg> over a picture drawn at ``shown``) outlines each hidden head as the
    turned ellipse the manifest gives, and the detector's face box in it, where they are on
    the picture (within ``px`` screen pixels)."""
    scale = shown["width"] / item["width"]
    heads = layer.locator(".outline-face")
    boxes = layer.locator(".outline-facebox")
    assert heads.count() == boxes.count() == len(item["areas"])
    for i, area in enumerate(item["areas"]):
        assert area["shape"] == "ellipse"
        head = heads.nth(i)
        assert head.evaluate("n => n.tagName") == "ellipse"
        # The head ellipse (in the picture's pixels), turned with the head, ...
        cx, cy, rx, ry, turn = area["ellipse"]
        geometry = head.evaluate(
            "n => { const b = n.getBBox(); "
            "return [b.x, b.y, b.width, b.height, n.getAttribute('transform')]; }"
        )
        assert geometry[:4] == pytest.approx([cx - rx, cy - ry, 2 * rx, 2 * ry], abs=0.01)
        assert geometry[4] == f"rotate({turn:g} {cx:g} {cy:g})"
        # ... drawn where it is on the picture (its centre: the browser's box of a turned
        # shape includes the stroke generously), ...
        outline = head.bounding_box()
        assert abs(outline["x"] + outline["width"] / 2 - (shown["x"] + cx * scale)) <= px
        assert abs(outline["y"] + outline["height"] / 2 - (shown["y"] + cy * scale)) <= px
        # ... and the detector's face box, hidden too.
        fx, fy, fw, fh = area["face"]
        face = boxes.nth(i).bounding_box()
        assert abs(face["x"] - (shown["x"] + fx * scale)) <= px
        assert abs(face["y"] - (shown["y"] + fy * scale)) <= px
        assert abs(face["width"] - fw * scale) <= px
        assert abs(face["height"] - fh * scale) <= px


def test_upload_with_the_file_picker_shows_every_variant(
    page: Any, up: WebUp, tmp_path: Path, artifacts: Path
) -> None:
    files = []
    for name in ("street.jpg", "sprite.png"):
        shutil.copy(SAMPLES / name, tmp_path / name)
        files.append(str(tmp_path / name))
    page.set_input_files("#file-input", files)  # several files at once
    for name in ("street.jpg", "sprite.png"):
        row = page.locator(".upload-row.ok", has_text=name)
        row.wait_for(timeout=WAIT_MS)
        assert "uploaded" in row.inner_text()
    for name in ("street.jpg", "sprite.png"):
        assert_every_variant_shown(page, up, name)
    meta = card(page, "street.jpg").locator(".meta").inner_text()
    assert re.search(
        rf"^1600{X}1067 · JPEG · 233\.9 KiB · processed in (\d+ ms|\d+\.\d s) · "
        r"ready (\d+ ms|\d+\.\d s) after upload$",
        meta,
    ), meta
    assert card(page, "street.jpg").locator(".badge").inner_text().lower() == "done"
    page.screenshot(path=str(artifacts / "web-ui-upload.png"), full_page=True)


def test_a_bad_file_shows_its_failure_reason(page: Any, up: WebUp, tmp_path: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is a text file, not a JPEG\n" * 10)
    page.set_input_files("#file-input", str(bad))
    failed = card(page, "notes.jpg", "failed")
    assert failed.locator(".badge").inner_text().lower() == "failed"
    assert failed.locator(".reason").inner_text() == "Failed: not a recognised image format"
    assert failed.locator(".tile").count() == 0


def test_the_faces_switch_hides_faces_and_the_boxes_are_outlined(
    page: Any, up: WebUp, tmp_path: Path, artifacts: Path
) -> None:
    """The switch (off: the workers' setting) makes an upload ask for its faces to be hidden;
    the done card says what was hidden and outlines each box over the original."""
    from face_images import scene

    path = tmp_path / "two-people.jpg"
    scene(96, "original", count=2).image.save(path, quality=85)  # under the 300 KiB limit
    switch = page.locator("#faces")
    assert switch.is_enabled()
    assert not switch.is_checked()
    # The switch says what it writes (the workers' sizes: the area default, #21).
    assert page.locator("#faces-note").inner_text() == (
        f"Writes 3{X}3 and 5{X}5 outputs that anonymise each face (3 and 5 blocks across it); "
        "the rest of the photo is kept."
    )
    switch.check()
    page.set_input_files("#file-input", str(path))
    done = card(page, "two-people.jpg", "done")
    assert done.locator(".hidden-areas").inner_text() == (
        f"Hidden: 2 faces in 3{X}3 and 5{X}5 (outlined on the original)"
    )
    assert done.locator(".tile.variant .anon").all_inner_texts() == ["anonymises"] * 2
    item = up.item("two-people.jpg")
    assert item is not None
    assert [a["source"] for a in item["areas"]] == ["face", "face"]
    # The original's thumbnail outlines each hidden head and face box as its full-size view
    # does (one drawing function for both).
    thumb = done.locator(".tile.original .frame").bounding_box()
    assert thumb is not None
    assert_outlined(done.locator(".tile.original .frame svg.areas"), item, thumb, 2)
    done.screenshot(path=str(artifacts / "web-ui-faces.png"))
    # The full-size original outlines each hidden head (an ellipse) and the face box in it.
    done.locator(".tile.original .thumb").click()
    page.wait_for_function(VIEWER_OPEN)
    page.wait_for_function("() => document.getElementById('viewer-img').naturalWidth > 0")
    shown = page.locator("#viewer-img").bounding_box()
    assert shown is not None
    scale = shown["width"] / item["width"]
    assert scale > 2 * (thumb["width"] / item["width"])  # far larger than the thumbnail
    assert_outlined(page.locator("#viewer-areas"), item, shown, 3)
    page.screenshot(path=str(artifacts / "web-ui-viewer-faces.png"))
    page.keyboard.press("Escape")
    page.wait_for_function(VIEWER_CLOSED)
    # A variant's full-size view has no outlines (it shows what was written).
    done.locator(".tile.variant .thumb").first.click()
    page.wait_for_function(VIEWER_OPEN)
    assert page.locator("#viewer-areas").is_hidden()
    page.keyboard.press("Escape")
    switch.uncheck()


def test_outputs_that_do_not_anonymise_are_said_so(
    browser: Any, tmp_path: Path, artifacts: Path
) -> None:
    """Workers with an explicit weaker size (``--sizes 64``): the switch says its output does
    not anonymise, the card does not say "Hidden", the output is labelled (#21)."""
    from face_images import scene

    path = tmp_path / "pair.jpg"
    scene(96, "original", count=2).image.save(path, quality=85)
    with WebUp(tmp_path / "stack", "--max-bytes", "300KiB", "--sizes", "64") as weak:
        weak.wait_ready()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            tab = context.new_page()
            tab.goto(weak.url)
            tab.wait_for_selector("#queue:has-text('Queue:')")
            assert tab.locator("#faces-note").inner_text() == (
                f"Writes 64{X}64 output: it does not anonymise each face (at most 5 blocks "
                "across it)."
            )
            tab.locator("#faces").check()
            tab.set_input_files("#file-input", str(path))
            done = card(tab, "pair.jpg", "done")
            assert done.locator(".hidden-areas").inner_text() == (
                "Faces found: 2 — no output anonymises them (outlined on the original)"
            )
            assert done.locator(".tile.variant .anon").all_inner_texts() == ["does not anonymise"]
            done.screenshot(path=str(artifacts / "web-ui-not-anonymised.png"))
        finally:
            context.close()


def test_drag_and_drop_uploads(page: Any, up: WebUp) -> None:
    data = base64.b64encode(image_bytes("PNG", size=(96, 64), seed=5)).decode()
    dragging = page.evaluate(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, {type: "image/png"}));
            const zone = document.getElementById("dropzone");
            const fire = type => zone.dispatchEvent(
                new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
            fire("dragenter");
            fire("dragover");
            const lit = zone.classList.contains("dragging");
            fire("drop");
            return [lit, zone.classList.contains("dragging")];
        }""",
        ["dropped.png", data],
    )
    assert dragging == [True, False]
    assert_every_variant_shown(page, up, "dropped.png")


def test_an_over_limit_upload_shows_the_413_reason(page: Any, up: WebUp, tmp_path: Path) -> None:
    big = tmp_path / "huge.png"
    big.write_bytes(b"\0" * (400 * 1024))
    page.set_input_files("#file-input", str(big))
    row = page.locator(".upload-row.error", has_text="huge.png")
    row.wait_for(timeout=WAIT_MS)
    text = row.inner_text()
    assert text.endswith(
        f"not uploaded (413): input is 400.0 KiB, over the {LIMIT_TEXT} upload limit "
        "(pixelpipe up --max-bytes)"
    )
    assert up.item("huge.png") is None


def test_full_size_view_opens_and_closes_with_the_keyboard(page: Any, up: WebUp) -> None:
    ensure(up, "street.jpg")
    done = card(page, "street.jpg", "done")
    button = done.locator('button[data-focus="v-8x8"]')
    button.focus()
    page.keyboard.press("Enter")
    viewer = page.locator("#viewer")
    page.wait_for_function(VIEWER_OPEN)
    assert "pixelated-8x8-street.jpg" in page.locator("#viewer-img").get_attribute("src")
    page.wait_for_function(
        "() => { const i = document.getElementById('viewer-img');"
        " return i.complete && i.naturalWidth === 1600; }"
    )
    assert viewer.locator("#viewer-title").inner_text() == "street.jpg: 8x8"
    download = viewer.locator("#viewer-download").get_attribute("href")
    assert download is not None
    assert download.endswith("&download=1")
    assert page.evaluate("document.activeElement.id") == "viewer-close"
    page.keyboard.press("Escape")
    page.wait_for_function(VIEWER_CLOSED)
    assert page.evaluate("document.activeElement.dataset.focus") == "v-8x8"
    # And again with Space, closed with the Close button from the keyboard.
    page.keyboard.press(" ")
    page.wait_for_function(VIEWER_OPEN)
    page.keyboard.press("Enter")  # focus is on Close
    page.wait_for_function(VIEWER_CLOSED)


def test_the_compare_slider_moves_and_switches_grid(page: Any, up: WebUp) -> None:
    ensure(up, "street.jpg")
    done = card(page, "street.jpg", "done")
    slider = done.get_by_label("Slider")
    assert slider.get_attribute("type") == "range"
    assert slider.input_value() == "50"
    top = done.locator(".compare-variant")
    assert top.evaluate("e => e.style.clipPath") == "inset(0px 50% 0px 0px)"
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    assert slider.input_value() == "55"
    assert top.evaluate("e => e.style.clipPath") == "inset(0px 45% 0px 0px)"
    assert "55% pixelated" in (slider.get_attribute("aria-valuetext") or "")
    page.keyboard.press("Home")
    assert slider.input_value() == "0"
    grid = done.get_by_label("Compare grid")
    grid.select_option(label=f"8{X}8")
    assert "pixelated-8x8-street.jpg" in (top.get_attribute("src") or "")
    grid.select_option(label=f"64{X}64")
    assert "pixelated-64x64-street.jpg" in (top.get_attribute("src") or "")


def test_placeholders_show_while_the_images_load(browser: Any, up: WebUp) -> None:
    """Every tile and the compare view show the manifest's placeholder (its data-URI image
    on its average colour) until their image has loaded, then their own background again."""
    ensure(up, "street.jpg")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    held: list[Any] = []

    def hold(route: Any) -> None:
        if held and held[0] is None:  # released
            route.continue_()
        else:
            held.append(route)  # the image waits until released

    context.route(re.compile(r"/objects/"), hold)
    try:
        tab = context.new_page()
        tab.goto(up.url)
        done = card(tab, "street.jpg", "done")
        item = up.item("street.jpg")
        assert item is not None
        placeholder = item["placeholder"]
        assert placeholder["data_uri"].startswith("data:image/png;base64,")
        r, g, b = (int(placeholder["color"][i : i + 2], 16) for i in (1, 3, 5))
        boxes = done.locator(".thumb, .compare-view")
        assert boxes.count() == 1 + len(LABELS) + 1
        for i in range(boxes.count()):
            box = boxes.nth(i)
            assert "placeholder" in (box.get_attribute("class") or "")
            style = box.evaluate(
                "e => [getComputedStyle(e).backgroundImage, getComputedStyle(e).backgroundColor]"
            )
            assert style[0].startswith(f'url("{placeholder["data_uri"]}")'), style
            assert style[1] == f"rgb({r}, {g}, {b})", style
        # The placeholder is a real image the browser decodes, shaped like the photo.
        size = tab.evaluate(
            """uri => new Promise((ok, fail) => { const i = new Image();
                 i.onload = () => ok([i.naturalWidth, i.naturalHeight]); i.onerror = fail;
                 i.src = uri; })""",
            placeholder["data_uri"],
        )
        assert size[0] / size[1] == pytest.approx(1600 / 1067, rel=0.1), size
        waiting, held[:] = list(held), [None]
        for route in waiting:
            route.continue_()
        tab.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
        tab.wait_for_function(
            """() => [...document.querySelectorAll('li.card[data-key="street.jpg"] img')]
                       .every(i => i.complete && i.naturalWidth > 0)
                  && !document.querySelector('li.card[data-key="street.jpg"] .placeholder')""",
            timeout=WAIT_MS,
        )
        thumb = done.locator(".tile.original .thumb")
        assert "data:" not in thumb.evaluate("e => getComputedStyle(e).backgroundImage")
    finally:
        context.close()


def test_a_phone_sized_screen_has_no_horizontal_overflow(
    browser: Any, up: WebUp, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True
    )
    ensure(up, "street.jpg")
    ensure(up, "notes.jpg", b"this is a text file, not a JPEG\n")
    try:
        tab = context.new_page()
        tab.goto(up.url)
        card(tab, "street.jpg", "done")
        card(tab, "notes.jpg", "failed")
        # The faces switch's note is a sentence on its own line, not a stray ":" (#23).
        note = tab.locator("#faces-note")
        assert note.inner_text()[:1].isupper(), note.inner_text()
        label, note_box = tab.locator("label[for=faces]").bounding_box(), note.bounding_box()
        assert label is not None
        assert note_box is not None
        assert note_box["y"] >= label["y"] + label["height"] - 1
        widths = tab.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1] == 375, widths
        wide = tab.evaluate(
            """[...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > 375.5)
                 .map(e => e.tagName + '.' + e.className)"""
        )
        assert not wide, wide
        tab.screenshot(path=str(artifacts / "web-ui-phone.png"), full_page=True)
        # The full-size view fits too.
        tab.locator('li.card[data-key="street.jpg"] button[data-focus="v-16x16"]').click()
        tab.wait_for_function(VIEWER_OPEN)
        box = tab.locator("#viewer").bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
    finally:
        context.close()


def test_gallery_screenshot(page: Any, up: WebUp, artifacts: Path) -> None:
    """The whole page after the module's uploads (the README's picture comes from here)."""
    ensure(up, "street.jpg")
    ensure(up, "sprite.png")
    ensure(up, "notes.jpg", b"this is a text file, not a JPEG\n")
    card(page, "street.jpg", "done")
    card(page, "sprite.png", "done")
    card(page, "notes.jpg", "failed")
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card img')].every(i => i.complete && i.naturalWidth)"
    )
    page.screenshot(path=str(artifacts / "web-ui-desktop.png"), full_page=True)
