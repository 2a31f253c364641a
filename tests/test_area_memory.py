"""Area jobs within the process's memory (issue #24): an area job that cannot fit in the
memory budget is refused before decoding, in one line naming the memory it needs and what to
raise; one that fits runs with its threads capped by the budget. Checked under a real memory
limit (``RLIMIT_DATA`` on a child process: an overrun there fails for real), in the engine,
and through the pipeline against real S3 (moto's server), which writes the failure record."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import encode, photo_like
from moto_stack import Stack
from pixelpipe import EngineSettings, pixelate
from pixelpipe.engine import Hooks
from pixelpipe.errors import ImageTooLarge, NotEnoughMemory
from pixelpipe.events import parse_message_body
from pixelpipe.pipeline import Outcome, Pipeline
from pixelpipe.resources import memory_budget, memory_limit, share_memory

MIB = 1 << 20
REASON = re.compile(
    r"^hiding areas in this (\d+)x(\d+) image at full resolution needs about ([\d,]+) MiB of "
    r"memory, over the ([\d,]+) MiB a job may use of this process's ([\d,]+) MiB: raise the "
    r"memory \(the Lambda function's MemorySize, the container's memory limit\) or lower "
    r"PIXELPIPE_MAX_PIXELS"
)
REGION = ((10, 10, 200, 150),)
SRC = str(Path(__file__).resolve().parents[1] / "src")


def jpeg(width: int, height: int) -> bytes:
    return encode(photo_like(width, height, seed=5), "JPEG", quality=85)


def test_refused_before_decoding_in_one_line() -> None:
    """The header is enough: a JPEG cut after its header would be a CorruptImage if it were
    decoded; the budget refuses it first."""
    data = jpeg(1600, 1200)
    cut = data[: len(data) // 8]
    hooks = Hooks(memory_budget=lambda: 40 * MIB)
    with pytest.raises(NotEnoughMemory) as info:
        pixelate(cut, EngineSettings(regions=REGION), hooks=hooks)
    reason = str(info.value)
    assert "\n" not in reason
    found = REASON.match(reason)
    assert found is not None, reason
    assert found.group(1, 2) == ("1600", "1200")
    assert int(found.group(3).replace(",", "")) > 36
    assert found.group(4, 5) == ("36", "40")  # nine tenths of the budget are planned for
    assert isinstance(info.value, ImageTooLarge)  # permanent: an ImageError


def test_a_png_is_refused_before_its_pixels_are_read() -> None:
    """Pillow decodes a PNG to look for EXIF after its pixels (the orientation): the budget
    is checked before that, so a PNG cut in its pixel data is refused, not found corrupt."""
    data = encode(photo_like(1600, 1200, seed=8), "PNG")
    with pytest.raises(NotEnoughMemory):
        pixelate(
            data[: len(data) // 2],
            EngineSettings(regions=REGION),
            hooks=Hooks(memory_budget=lambda: 40 * MIB),
        )


def test_the_whole_image_path_is_not_refused_by_the_area_budget() -> None:
    """Only the full-resolution area path holds the whole frame; pixelating the whole image
    decodes reduced and stays within the same small budget."""
    hooks = Hooks(memory_budget=lambda: 40 * MIB)
    assert pixelate(jpeg(1600, 1200), EngineSettings(sizes=(8,)), hooks=hooks).variants


def test_threads_are_capped_by_the_budget_on_the_area_path() -> None:
    data = jpeg(1600, 1200)
    seen: list[int] = []

    def run(fn: Any, count: int, threads: int) -> list[Any]:
        seen.append(threads)
        return [fn(i) for i in range(count)]

    # TIFF: no band writer, so the variants are encoded one per task on the pool.
    settings = EngineSettings(regions=REGION, threads=4, format="tiff")
    roomy = Hooks(run=run, memory_budget=lambda: 64 << 30)
    pixelate(data, settings, hooks=roomy)
    # Just enough for one variant at a time (found by bisection on the refusal).
    lo, hi = 1, 64 << 10
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            pixelate(data, settings, hooks=Hooks(run=run, memory_budget=lambda m=mid: m * MIB))
        except NotEnoughMemory:
            lo = mid + 1
        else:
            hi = mid
    seen.clear()
    tight = Hooks(run=run, memory_budget=lambda: lo * MIB)
    result = pixelate(data, settings, hooks=tight)
    assert seen == [1]
    # The same bytes as with room to spare: the budget decides how, never what.
    wide = pixelate(data, settings, hooks=dataclasses.replace(roomy, run=run))
    assert len(result.variants) == len(wide.variants) >= 2
    assert [v.data for v in result.variants] == [v.data for v in wide.variants]


def smallest_budget(data: bytes, settings: EngineSettings) -> int:
    """The smallest budget in MiB that admits the job (by bisection on the refusal)."""
    lo, hi = 1, 64 << 10
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            pixelate(data, settings, hooks=Hooks(memory_budget=lambda m=mid: m * MIB))
        except NotEnoughMemory:
            lo = mid + 1
        else:
            hi = mid
    return lo


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_the_band_writers_need_less_than_variant_by_variant() -> None:
    """A JPEG whose variants the band writers write is admitted on a budget on which
    encoding them one by one (TIFF: no band writer) is refused, with the same pixels."""
    data = jpeg(1600, 1200)
    as_jpeg, as_tiff = EngineSettings(regions=REGION), EngineSettings(regions=REGION, format="tiff")
    budget = smallest_budget(data, as_jpeg)
    with pytest.raises(NotEnoughMemory):
        pixelate(data, as_tiff, hooks=Hooks(memory_budget=lambda: budget * MIB))
    tight = pixelate(data, as_jpeg, hooks=Hooks(memory_budget=lambda: budget * MIB))
    roomy = pixelate(data, as_jpeg)
    for a, b in zip(tight.variants, roomy.variants, strict=True):
        assert np.array_equal(pixels(a.data), pixels(b.data))


def test_the_lean_jpeg_writer_gives_the_same_pixels() -> None:
    """On a tight budget the JPEG band writer builds no stack: the first variant is written
    in the frame itself, the others' bands in pieces of a few MiB (standard Huffman tables,
    so larger files). Wide enough for several pieces per band; areas overlapping, and one
    reaching the short last MCU row."""
    data = encode(photo_like(8000, 1203, seed=3), "JPEG", quality=85)
    boxes = ((100, 100, 700, 850), (5000, 1000, 300, 203), (400, 300, 900, 100))
    settings = EngineSettings(regions=boxes)
    budget = smallest_budget(data, settings)
    tight = pixelate(data, settings, hooks=Hooks(memory_budget=lambda: budget * MIB))
    roomy = pixelate(data, settings)
    for a, b in zip(tight.variants, roomy.variants, strict=True):
        assert a.data != b.data  # the lean writer's files (standard Huffman tables)
        assert len(a.data) < 1.2 * len(b.data)
        assert np.array_equal(pixels(a.data), pixels(b.data))
    assert tight.areas == roomy.areas


def test_jobs_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fixed limit (1 GiB, below this machine's available memory): the memory available
    # moves between two readings, which made this test flaky.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    assert memory_limit() == 1 << 30
    previous = share_memory(4)
    try:
        assert memory_budget() == memory_limit() // 4
    finally:
        share_memory(previous)
    assert memory_budget() == memory_limit() // previous


def test_a_worker_shares_the_budget_between_the_images_it_holds() -> None:
    """A worker's threads share its memory; with ``memory_share`` (the local stack's worker
    processes side by side) every image in hand on the machine does."""
    import threading

    from pixelpipe.worker import Worker

    stop = threading.Event()
    stop.set()  # the threads start and end at once: only the share is looked at
    previous = share_memory(1)
    try:
        for kwargs, share in (({"concurrency": 3}, 3), ({"concurrency": 2, "memory_share": 8}, 8)):
            worker = Worker(None, None, "queue", visibility_timeout=30, **kwargs)  # type: ignore[arg-type]
            worker.run(stop, check=False)
            assert memory_budget() == memory_limit() // share
    finally:
        share_memory(previous)


def test_lambda_memory_size_is_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    assert memory_limit() == 128 * MIB


# --------------------------------------------------------------------------------------------
# Under a real limit: the CLI in a child process whose data segment is capped at LIMIT_MIB


LIMIT_MIB = 176


def limited(args: list[str], budget_mib: int, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``pixelpipe ARGS`` in a child under ``RLIMIT_DATA`` = LIMIT_MIB (private writable
    memory: what Pillow's and libjpeg's buffers take; an overrun fails for real), with the
    Lambda variable saying ``budget_mib``."""
    code = (
        "import resource, runpy, sys\n"
        f"resource.setrlimit(resource.RLIMIT_DATA, ({LIMIT_MIB * MIB}, {LIMIT_MIB * MIB}))\n"
        "sys.argv = ['pixelpipe', *sys.argv[1:]]\n"
        "runpy.run_module('pixelpipe', run_name='__main__')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(budget_mib),
    }
    return subprocess.run(
        [sys.executable, "-c", code, "pixelate", *args, "-o", str(tmp / "out"), "-j", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("limited")
    small, large = folder / "small.jpg", folder / "large.jpg"
    small.write_bytes(jpeg(4000, 3000))  # 12 MP: fits, written the lean way
    large.write_bytes(jpeg(6000, 4500))  # 27 MP: its frame alone is 103 MiB
    return small, large


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA as Linux has it")
def test_under_a_real_limit_what_fits_runs_and_what_cannot_is_refused(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    small, large = inputs
    region = ["--region", "10,10,200,150"]
    ok = limited([str(small), *region], LIMIT_MIB, tmp_path)
    assert ok.returncode == 0, ok.stderr
    expected = pixelate(small.read_bytes(), EngineSettings(regions=((10, 10, 200, 150),)))
    assert len(list((tmp_path / "out").glob("pixelated-*"))) == len(expected.variants) >= 2

    refused = limited([str(large), *region], LIMIT_MIB, tmp_path / "b")
    assert refused.returncode == 1
    (line,) = refused.stderr.strip().splitlines()[:1]
    assert line.startswith(f"{large}: hiding areas in this 6000x4500 image"), refused.stderr
    assert REASON.match(line.split(": ", 1)[1])
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "b" / "out").exists() or not any((tmp_path / "b" / "out").iterdir())

    # The limit is real: told it has room (a 64 GiB function), the same job runs out of it.
    overrun = limited([str(large), *region], 64 << 10, tmp_path / "c")
    assert overrun.returncode != 0
    assert "memory" in overrun.stderr.lower()


# --------------------------------------------------------------------------------------------
# The pipeline (what the Lambda function runs): a failure record with the same line


def test_pipeline_writes_the_refusal_as_a_failure_record(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64")
    pipe = Pipeline(stack.settings(engine=EngineSettings(sizes=(4, 8))), stack.storage())
    data = jpeg(2400, 1800)
    _, message = stack.upload_and_receive(
        "big.jpg", data, content_type="image/jpeg", metadata={"pixelpipe-regions": "10,10,50,50"}
    )
    (ref,) = parse_message_body(message["Body"])
    result = pipe.handle(ref)
    assert result.outcome is Outcome.FAILED
    assert result.error_class == "NotEnoughMemory"
    record = stack.read_json("_failures/big.jpg.json")
    assert REASON.match(record["reason"]), record["reason"]
    assert "a job may use of this process's 64 MiB" in record["reason"]
    assert not any(k.startswith("pixelated-") for k in stack.objects())
    stack.verify_sources()
    # Nothing was decoded for it: a second look is a duplicate (permanent), not a retry.
    assert pipe.handle(ref).outcome is Outcome.DUPLICATE


def test_a_region_in_a_job_that_fits_is_hidden_exactly() -> None:
    """The admission check changes nothing of what a fitting job hides."""
    im = photo_like(640, 480, seed=7)
    data = encode(im, "PNG")
    got = pixelate(data, EngineSettings(regions=((100, 100, 64, 64),), sizes=(4,)))
    out = Image.open(io.BytesIO(got.variants[0].data)).convert("RGB")
    assert out.crop((100, 100, 164, 164)).getcolors(64 * 64) is not None
    assert len(out.crop((100, 100, 164, 164)).getcolors(64 * 64) or []) <= 16
    assert out.crop((300, 300, 400, 400)).tobytes() == im.crop((300, 300, 400, 400)).tobytes()
