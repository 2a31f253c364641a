"""What this process may use: CPUs and memory. Read from the OS and the Lambda runtime.

The engine never reads its environment: ``pixelpipe.engine.pixelate`` is given these two
probes (its defaults, looked up at call time) and caps its encode threads with them, and
refuses before decoding a job that could not fit in the memory budget.

Jobs that run side by side in one budget -- a worker's ``--concurrency`` threads, the CLI's
``-j`` processes on one machine or container -- each get a share: ``share_memory(n)`` makes
``memory_budget()`` answer 1/n of what the process may use.
"""

from __future__ import annotations

import os
from pathlib import Path

_SHARE = [1]  # jobs sharing this process's memory budget (share_memory)
# cgroup v2's limit, then v1's (Docker and ECS on cgroup v1 hosts); v1 says "no limit" with a
# huge number, which the smallest-known rule ignores.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def memory_limit() -> int:
    """Bytes this process can count on: the Lambda function's memory size, the cgroup's
    memory limit and the memory available now, whichever is smallest of those known."""
    known = []
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if lambda_mb.isdigit():
        known.append(int(lambda_mb) << 20)
    for path in _CGROUP_LIMITS:
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            known.append(int(limit))
            break
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                known.append(int(line.split()[1]) << 10)
    except (OSError, ValueError, IndexError):
        pass
    return min(known) if known else 1 << 62


def memory_budget() -> int:
    """This job's share of :func:`memory_limit` (all of it unless ``share_memory`` said
    that several jobs run at once)."""
    return memory_limit() // _SHARE[0]


def share_memory(jobs: int) -> int:
    """From now on ``memory_budget()`` is 1/``jobs`` of the limit: ``jobs`` images are
    processed at once in this process (a worker's threads) or on this machine (the CLI's
    processes, each calling this). Returns the previous count."""
    previous = _SHARE[0]
    _SHARE[0] = max(1, jobs)
    return previous


def give_back_memory() -> None:
    """Return the C heap's free memory to the OS (glibc's ``malloc_trim``; nothing elsewhere).
    Pillow's image blocks (16 MiB) come from the heap once one has been freed, so a freed
    400 MB frame would stay resident while the next large buffers (the outputs) are mapped
    anew: called when the engine lets go of a full-resolution frame."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


__all__ = ["available_cpus", "give_back_memory", "memory_budget", "memory_limit", "share_memory"]
