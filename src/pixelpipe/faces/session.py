"""The onnxruntime session that runs the model: its options, loading, and one run.

onnxruntime and numpy are imported here only inside functions: importing pixelpipe (and the
file commands, and a Lambda cold start) does not pay for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DetectionError
from .model import make_dynamic

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt

# What the detector needs installed (the ``faces`` extra).
RUNTIME = ("onnxruntime", "numpy")


def missing_runtime() -> list[str]:
    """Which of ``RUNTIME`` cannot be imported here (imports them, once)."""
    return [name for name in RUNTIME if not _importable(name)]


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except Exception:  # ImportError, or a broken binary (OSError, ...): either way, cannot run
        return False
    return True


@dataclass(frozen=True)
class Session:
    """The model loaded for one thread count."""

    session: Any  # onnxruntime.InferenceSession
    input_name: str
    output_names: tuple[str, ...]
    threads: int
    run_options: Any  # onnxruntime.RunOptions
    release_options: Any  # onnxruntime.RunOptions that shrink the arena after the run

    def release(self) -> None:
        """Give the arena's free memory back (one tiny run that shrinks it): after a
        detection's last run, so that the encodes that follow have it."""
        import numpy as np

        blob = np.zeros((1, 3, 32, 32), dtype=np.float32)
        try:
            self.session.run(
                list(self.output_names[:1]), {self.input_name: blob}, self.release_options
            )
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeError types
            raise DetectionError(f"face detection failed: {type(exc).__name__}: {exc}") from exc

    def run(self, blob: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        """CenterFace's heat map, scale, offset and landmarks for ``blob`` (1 x 3 x H x W, H
        and W multiples of 32); a ``DetectionError`` when onnxruntime fails."""
        try:
            outputs: list[npt.NDArray[np.float32]] = self.session.run(
                list(self.output_names), {self.input_name: blob}, self.run_options
            )
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeError types
            raise DetectionError(f"face detection failed: {type(exc).__name__}: {exc}") from exc
        return outputs


def load(path: Path, threads: int) -> Session:
    """``path``'s model on ``threads`` threads; a ``DetectionError`` (one line) when the file
    cannot be read or is not CenterFace."""
    import onnxruntime as ort

    try:
        data = make_dynamic(path.read_bytes())
        options = ort.SessionOptions()
        # Explicit thread counts: ORT's automatic choice pins threads to cores and fails in a
        # restricted cpuset (pthread_setaffinity_np); pixelpipe decides how many it may use.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # the model's unused initializers warn otherwise
        # Idle threads must not spin: the engine encodes on the same cores meanwhile.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The arena is kept between runs (a shrink after every run cost +40 % CPU) and the
        # memory pattern is off (it is planned per input shape, and tiles vary). Memory is
        # bounded by the largest run instead: every run is at most tiles.MAX_RUN_AREA pixels
        # (~120 MB of activations); ``Session.release`` gives the arena back after a
        # detection's last run (docs/PERFORMANCE.md).
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = False
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        inputs = session.get_inputs()
        outputs = session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 4:
            raise ValueError(f"{len(inputs)} inputs and {len(outputs)} outputs, not CenterFace's")
    except (OSError, ValueError, RuntimeError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
        raise DetectionError(
            f"face model {path} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    # heat map (1 channel), scale (2), offset (2), landmarks (10), all at stride 4.
    names = tuple(o.name for o in outputs[:4])
    # The arena is kept between the runs of one detection and given back after its last
    # (``release``): ~+5 % CPU per detection instead of +40 % for a shrink after every run.
    release = ort.RunOptions()
    release.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return Session(session, inputs[0].name, names, threads, ort.RunOptions(), release)
