"""Variants on several cores: a shared thread pool.

Variants are independent and Pillow's codecs and zlib release the GIL while they work (see
``blocks.save_bytes``), so one image's variants encode on several cores at once. How many
threads, and the memory cap on them, are :class:`~pixelpipe.engine.hooks.Hooks`' to say.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

# ``run(fn, count, threads)``: ``[fn(0), ..., fn(count - 1)]`` on up to ``threads`` threads
# (:func:`run_threads`, or what a caller gives the engine as ``Hooks.run``).
Runner = Callable[[Callable[[int], Any], int, int], list[Any]]

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def run_threads(fn: Callable[[int], Any], count: int, threads: int) -> list[Any]:
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
