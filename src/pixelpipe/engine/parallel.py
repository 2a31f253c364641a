"""Variants on several cores: a shared thread pool, sized by CPUs and memory.

Variants are independent and Pillow's codecs and zlib release the GIL while they work (see
``blocks.save_bytes``), so one image's variants encode on several cores at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..placeholder import Placeholder
from ..settings import EngineSettings
from .decode import Decoded

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _map(fn: Callable[[int], Any], count: int, threads: int) -> list[Any]:
    """``[fn(0), ..., fn(count - 1)]`` on up to ``threads`` threads. The first exception is
    raised once every started task has finished."""
    threads = min(count, threads)
    if threads <= 1:
        return [fn(i) for i in range(count)]
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, "pixelpipe-encode")
    futures = [pool.submit(fn, i) for i in range(count)]
    wait(futures)
    return [f.result() for f in futures]


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the engine is given rather than finds out itself: the pool runner, the CPU count,
    the memory budget (``pixelpipe.resources``) and the placeholder maker. ``pixelpipe.engine``
    binds its own attributes at each call, so tests and benches replace them there."""

    run: Callable[[Callable[[int], Any], int, int], list[Any]]
    cpus: Callable[[], int]
    memory_budget: Callable[[], int]
    placeholder: Callable[[Decoded, int, bytes | None, bool], Placeholder]

    def threads(self, settings: EngineSettings) -> int:
        """The thread count asked for; 0 (auto) is one per CPU."""
        return settings.threads or self.cpus()

    def capped(self, threads: int, settings: EngineSettings, per_task: int) -> int:
        """Auto: no more tasks at once than half the memory budget holds, at ``per_task``
        bytes each (a 24 MP lossless WebP takes ~380 MB to write; two at once would not fit
        a 1 GB Lambda). An explicit thread count is taken as asked."""
        if settings.threads:
            return threads
        return max(1, min(threads, self.memory_budget() // 2 // per_task))
