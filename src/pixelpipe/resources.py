"""What this process may use: CPUs and memory. Read from the OS and the Lambda runtime.

The engine never reads its environment: ``pixelpipe.engine.pixelate`` is given these two
probes (its defaults, looked up at call time) and caps its encode threads with them.
"""

from __future__ import annotations

import os
from pathlib import Path


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def memory_budget() -> int:
    """Bytes this process can count on: the Lambda function's memory size, the cgroup's
    memory limit and the memory available now, whichever is smallest of those known."""
    known = []
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if lambda_mb.isdigit():
        known.append(int(lambda_mb) << 20)
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            known.append(int(limit))
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                known.append(int(line.split()[1]) << 10)
    except (OSError, ValueError, IndexError):
        pass
    return min(known) if known else 1 << 62


__all__ = ["available_cpus", "memory_budget"]
