"""Variants on several cores: a shared thread pool.

Variants are independent and Pillow's codecs and zlib release the GIL while they work (see
``blocks.save_bytes``), so one image's variants encode on several cores at once. How many
threads, and the memory cap on them, are :class:`~pixelpipe.engine.hooks.Hooks`' to say.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
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


# CPython's C API through ctypes (``pythonapi`` holds the GIL in these calls): a new bytes
# object of a given size, uninitialised, and the address of its contents. ``memmove``
# releases the GIL.
_NEW_BYTES = ctypes.pythonapi.PyBytes_FromStringAndSize
_NEW_BYTES.restype = ctypes.py_object
_NEW_BYTES.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
_BYTES_AT = ctypes.pythonapi.PyBytes_AsString
_BYTES_AT.restype = ctypes.c_void_p
_BYTES_AT.argtypes = (ctypes.py_object,)


def join_threads(
    parts: Sequence[Sequence[bytes]], threads: int, run: Runner = run_threads
) -> list[bytes]:
    """``[b"".join(p) for p in parts]``, each result allocated in the calling thread and
    filled on ``run``'s pool over ``threads`` threads (the copies, and the page faults of
    the new memory, two at a time on two threads). Allocated in a pool thread, a result under
    glibc's largest mmap threshold (32 MiB) can land in that thread's arena, whose top
    neither ``free`` (under the trim threshold, twice the mmap threshold) nor ``malloc_trim``
    gives back once the caller frees it: memory held between jobs, under the next job's
    peak. The calling thread's arena (the main one in the CLI) is the one that thread's next
    job reuses, and the main one is trimmed whole by ``resources.give_back_memory``. A
    bytes object made by
    ``PyBytes_FromStringAndSize(NULL, n)`` may be written until it is shared (the C API's
    documented way to build one), and none is shared before every copy is done."""
    sizes = [sum(len(b) for b in p) for p in parts]
    if threads <= 1 or len(parts) < 2 or min(sizes) < 2:  # 0 and 1 byte: shared singletons
        return [b"".join(p) for p in parts]
    out: list[bytes] = [_NEW_BYTES(None, n) for n in sizes]

    def fill(i: int) -> None:
        at: int = _BYTES_AT(out[i])
        for b in parts[i]:
            ctypes.memmove(at, b, len(b))
            at += len(b)

    run(fill, len(parts), threads)
    return out
