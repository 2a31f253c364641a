"""Load: N small uploads through the local stack, as a user runs it; throughput, latency, and
proof that nothing was lost or done twice.

    python bench/load.py --uploads 1000 --workers 2 --size small      (make load)

The stack is ``pixelpipe.local.LocalStack`` (moto's S3 + SQS server in this process, the
S3 -> SQS notification, the DLQ) with ``--workers`` real worker processes. Uploads go in
concurrently (``--concurrency`` threads); then the processed bucket is polled until every
manifest is there.

* **Latency** is upload-to-manifest: from the moment ``PutObject`` returned to the client to
  the manifest's ``processed_at`` (stamped by the worker just before it writes the manifest,
  on the same machine's clock, in milliseconds). Reading the stamp rather than polling for
  the manifest means the poll interval adds no error; the manifest's own PUT (a few ms) is
  not included.
* **Throughput** is uploads / (last ``processed_at`` - first upload start).
* **Lost**: an uploaded key without a manifest (or with a failure record) at the end.
* **Duplicated**: the processed bucket has *versioning* enabled for the run, so every PUT of
  an output or manifest leaves a version: a key with more than one version was written more
  than once. (Without versioning a second PUT of the same bytes is invisible.) Also counted:
  keys that should not exist, and manifests not listing exactly the expected five outputs.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image

from pixelpipe.local import LocalStack, clients, free_port

LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")
SIZES = {
    "small": (64, 48),
    "medium": (640, 480),
    "large": (1600, 1200),
    "2mp": (1632, 1224),  # photo-like content (bench_engine.photo_like), as the engine bench
    "12mp": (4000, 3000),
}


@dataclass
class Report:
    uploads: int
    workers: int
    size: str
    serial: bool = False
    seconds: float = 0.0
    throughput: float = 0.0  # images per second
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    processed: int = 0
    lost: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)  # keys written more than once
    extra: list[str] = field(default_factory=list)  # keys nobody asked for
    incomplete: list[str] = field(default_factory=list)  # manifests not listing 5 outputs
    dlq: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.failed or self.duplicated or self.extra or self.incomplete
        ) and (self.dlq == 0)

    def table(self) -> str:
        rows = [
            (
                "uploads",
                f"{self.uploads} ({self.size}, {SIZES[self.size][0]}x{SIZES[self.size][1]} JPEG)",
            ),
            ("workers", str(self.workers)),
            ("uploads sent", "one at a time" if self.serial else "all at once"),
            ("wall time, first upload to last manifest", f"{self.seconds:.1f} s"),
            ("throughput", f"{self.throughput:.1f} images/s"),
            (
                "latency p50 / p95 / p99 / max",
                f"{self.p50_ms:.0f} / {self.p95_ms:.0f} / {self.p99_ms:.0f} / {self.max_ms:.0f} ms",
            ),
            ("processed (manifests)", str(self.processed)),
            ("lost", str(len(self.lost))),
            ("duplicated (keys written twice)", str(len(self.duplicated))),
            ("extra or incomplete", str(len(self.extra) + len(self.incomplete))),
            ("failed / in DLQ", f"{len(self.failed)} / {self.dlq}"),
        ]
        out = ["| measure | value |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(out)


def make_image(i: int, size: tuple[int, int]) -> bytes:
    """A distinct picture per index: gradients when small, a photo-like scene when large."""
    w, h = size
    if w * h >= 1_000_000:
        return _photo(i, size)
    base = Image.linear_gradient("L").resize((w, h))
    tint = Image.new("L", (w, h), (i * 37) % 256)
    im = Image.merge("RGB", (base, tint, base.rotate(90 * (i % 4)).resize((w, h))))
    im.putpixel((i % w, (i // w) % h), (255, 255 - i % 256, i % 256))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@functools.cache
def _scene(size: tuple[int, int]) -> Image.Image:
    from bench_engine import scene  # the engine benchmark's corpus generator

    return scene(*size)


def _photo(i: int, size: tuple[int, int]) -> bytes:
    im = _scene(size).copy()
    x = i * 64 % (size[0] - 64)
    im.paste((i * 37 % 256, i * 91 % 256, i * 13 % 256), (x, 0, x + 64, 64))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def outputs_for(key: str) -> set[str]:
    folder, _, name = key.rpartition("/")
    folder = folder + "/" if folder else ""
    return {f"{folder}pixelated-{label}-{name}" for label in LABELS}


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run(
    uploads: int = 1000,
    workers: int = 2,
    size: str = "small",
    *,
    concurrency: int = 16,
    timeout: float = 600.0,
    prefix: str = "load/",
    serial: bool = False,
) -> Report:
    """``serial``: one upload at a time, the next once the last one's manifest is written
    (latency on an idle stack); otherwise every upload at once (throughput, queueing)."""
    report = Report(uploads=uploads, workers=workers, size=size, serial=serial)
    stack = LocalStack(port=free_port())
    stack.start()
    try:
        s3, sqs = clients(stack.endpoint)
        s3.put_bucket_versioning(
            Bucket=stack.processed_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        stack.start_workers(workers, wait_seconds=1)
        _wait_idle(sqs, stack.queue_url, 60)  # workers up: the S3 test event is consumed
        bodies = {f"{prefix}img-{i:05d}.jpg": make_image(i, SIZES[size]) for i in range(uploads)}
        uploaded_at: dict[str, float] = {}

        def put(key: str) -> None:
            s3.put_object(Bucket=stack.source_bucket, Key=key, Body=bodies[key])
            uploaded_at[key] = time.time()

        deadline = time.monotonic() + timeout
        start = time.time()
        if serial:
            for key in bodies:
                put(key)
                _wait_for(s3, stack.processed_bucket, key, deadline)
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(put, bodies))
        manifests: set[str] = set()
        while time.monotonic() < deadline:
            manifests = _keys(s3, stack.processed_bucket, "_manifests/" + prefix)
            failures = _keys(s3, stack.processed_bucket, "_failures/" + prefix)
            if len(manifests) + len(failures) >= uploads:
                break
            time.sleep(0.5)
        _wait_idle(sqs, stack.queue_url, 30)
        report.dlq = int(
            sqs.get_queue_attributes(
                QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        _verify(report, s3, stack.processed_bucket, bodies, uploaded_at, start)
    finally:
        stack.stop()
    return report


def _verify(
    report: Report,
    s3: Any,
    bucket: str,
    bodies: dict[str, bytes],
    uploaded_at: dict[str, float],
    start: float,
) -> None:
    expected: set[str] = set()
    for key in bodies:
        expected |= outputs_for(key) | {f"_manifests/{key}.json"}
    versions: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            versions[v["Key"]] += 1
    present = set(versions)
    report.extra = sorted(present - expected - {f"_failures/{k}.json" for k in bodies})
    report.duplicated = sorted(k for k, n in versions.items() if n > 1)
    latencies, done_at = [], []
    for key in bodies:
        if f"_failures/{key}.json" in present:
            report.failed.append(key)
        mkey = f"_manifests/{key}.json"
        if mkey not in present:
            report.lost.append(key)
            continue
        doc = json.loads(s3.get_object(Bucket=bucket, Key=mkey)["Body"].read())
        if {o["key"] for o in doc["outputs"]} != outputs_for(key) or not outputs_for(
            key
        ) <= present:
            report.incomplete.append(key)
        finished = _ts(doc["processed_at"])
        done_at.append(finished)
        latencies.append((finished - uploaded_at[key]) * 1000)
    report.processed = len(latencies)
    if latencies:
        report.seconds = max(done_at) - start
        report.throughput = len(latencies) / report.seconds if report.seconds else 0.0
        report.p50_ms = statistics.median(latencies)
        report.p95_ms = _percentile(latencies, 95)
        report.p99_ms = _percentile(latencies, 99)
        report.max_ms = max(latencies)


def _wait_for(s3: Any, bucket: str, key: str, deadline: float) -> None:
    """Until ``key``'s manifest or failure record is in ``bucket`` (or the deadline)."""
    while time.monotonic() < deadline:
        for record in (f"_manifests/{key}.json", f"_failures/{key}.json"):
            if _keys(s3, bucket, record):
                return
        time.sleep(0.05)


def _keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for p in pages for o in p.get("Contents", [])}


def _wait_idle(sqs: Any, queue_url: str, timeout: float) -> None:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
        if all(attrs.get(n) == "0" for n in names):
            return
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pixelpipe load test on the local stack")
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--concurrency", type=int, default=16, help="upload threads")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument(
        "--serial", action="store_true", help="one upload at a time (latency when idle)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args(argv)
    report = run(
        args.uploads,
        args.workers,
        args.size,
        concurrency=args.concurrency,
        timeout=args.timeout,
        serial=args.serial,
    )
    print(report.table())
    if args.json:
        print(json.dumps(asdict(report)))
    for what in ("lost", "failed", "duplicated", "extra", "incomplete"):
        items = getattr(report, what)
        if items:
            print(f"{what}: {', '.join(items[:10])}{' ...' if len(items) > 10 else ''}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
