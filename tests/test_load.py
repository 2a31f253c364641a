"""Load, small (issue #8): 100 uploads through the local stack with 2 worker processes;
nothing lost, nothing written twice (bench/load.py; ``make load`` runs 1000). Timing is
reported by the bench, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
import load


def test_hundred_uploads_none_lost_none_duplicated(tmp_path: Path) -> None:
    # A process of its own: moto's in-memory state is per process.
    bench = Path(load.__file__)
    done = subprocess.run(
        [sys.executable, str(bench), "--uploads", "100", "--workers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("{")]
    report = json.loads(line)
    assert report["processed"] == 100, done.stdout
    assert report["lost"] == []
    assert report["duplicated"] == []
    assert report["extra"] == []
    assert report["incomplete"] == []
    assert report["failed"] == []
    assert report["dlq"] == 0
    assert done.returncode == 0, done.stdout


def test_duplicates_are_detectable() -> None:
    """The versioning check sees a second PUT of identical bytes (what it relies on)."""
    from pixelpipe.local import LocalStack, clients, free_port

    name = uuid.uuid4().hex[:8]  # moto's state is per process: names of this test's own
    stack = LocalStack(port=free_port(), source_bucket=f"s-{name}", processed_bucket=f"p-{name}")
    stack.start()
    try:
        s3, _ = clients(stack.endpoint)
        bucket = stack.processed_bucket
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for _ in range(2):
            s3.put_object(Bucket=bucket, Key="load/pixelated-8x8-a.jpg", Body=b"same")
        report = load.Report(uploads=1, workers=0, size="small")
        load._verify(report, s3, bucket, {"load/a.jpg": b""}, {"load/a.jpg": 0.0}, 0.0)
        assert report.duplicated == ["load/pixelated-8x8-a.jpg"]
        assert report.lost == ["load/a.jpg"]
        assert not report.ok
    finally:
        stack.stop()
