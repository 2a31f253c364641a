"""The face detector's two measured defaults that are also settings, and nothing else.

``settings`` takes them as the defaults of ``face_working_size`` and ``face_padding``;
:mod:`pixelpipe.faces` as the defaults of a detection and of ``pad``. This module holds no
detector code, so that settings imports nothing of the detector (no onnxruntime probe when
an ``EngineSettings`` is made). Measured on the test set: docs/faces-evidence.md.
"""

from __future__ import annotations

# Long side of the reduced copy the detector sees. At 1632 a 12 MP photo costs ~0.5 s on one
# core and faces of >= 24 px *in the working copy* are found.
DEFAULT_WORKING_SIZE = 1632
# How much the head ellipse grows beyond the head model (``faces.head_ellipse``), in face-box
# heights, on every side. On the test set's hand-drawn heads (hair, ears, chin; a profile's
# back of the head): 0.02 is the least that covers every head of every detected face of
# >= 16 px, upright, flipped, dark, blurred and rotated by 15 and 30 degrees; 0.03 keeps a
# margin, and frontal faces' hidden area stays under 3x their box (bench/bench_head_areas.py).
DEFAULT_PADDING = 0.03
