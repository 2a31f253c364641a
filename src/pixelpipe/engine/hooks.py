"""What the engine is given rather than finds out itself, passed in like httpx's transport:
``pixelate(data, settings, hooks=Hooks(...))``. The defaults are the real ones; a test or a
benchmark replaces one field (``dataclasses.replace(Hooks.default(), run=spy)``) instead of
patching a private name of the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..placeholder import Placeholder
from ..resources import available_cpus, memory_budget
from ..settings import EngineSettings
from .decode import Decoded
from .parallel import Runner, run_threads
from .preview import frame_placeholder

if TYPE_CHECKING:  # pragma: no cover
    from ..faces import Detector

# ``placeholder(first frame, orientation to apply, ICC profile, 16-bit data)``.
PlaceholderMaker = Callable[[Decoded, int, bytes | None, bool], Placeholder]


@dataclass(frozen=True, slots=True)
class Hooks:
    """The pool runner, the CPU count, the memory budget (:mod:`pixelpipe.resources`), the
    placeholder maker and the face detector. The first four may not change an output byte:
    they decide how the work is spread and timed, and the placeholder is the engine's own
    unless a caller wraps it; the detector decides which faces are hidden."""

    run: Runner = run_threads
    cpus: Callable[[], int] = available_cpus
    memory_budget: Callable[[], int] = memory_budget
    placeholder: PlaceholderMaker = frame_placeholder
    # Finds the faces when settings ask for them; None: the process's (faces.default_detector).
    detector: Detector | None = None

    @classmethod
    def default(cls) -> Hooks:
        """The real pool, this machine's CPUs and memory, the engine's placeholder."""
        return cls()

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
