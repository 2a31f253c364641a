"""Stopping on a signal, written once: ``pixelpipe up``, ``pixelpipe worker`` and the local
stack's worker processes wait on the event this returns, so SIGINT (Ctrl-C) and SIGTERM let
them finish what they hold and exit 0 instead of dying mid-message."""

from __future__ import annotations

import signal
import threading


def stop_event() -> threading.Event:
    """An event set by the next SIGINT or SIGTERM (handlers installed now; main thread only)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    return stop
