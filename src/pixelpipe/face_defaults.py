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
# How much a face's box grows, in units of the box's height (``faces.pad``). On the test
# set's hand-drawn head boxes (hair, ears, chin; a profile's back of the head is the widest
# part): 0.9 covers every head of every detected face of >= 24 px, upright, flipped, dark,
# blurred and rotated by 15 and 30 degrees.
DEFAULT_PADDING = 0.9
