"""The head around a detected face: an ellipse placed from the face box and its landmarks.

The face box (hairline or brows to chin, cheek to cheek) is not the head: hair is above it and
beside it, ears at its sides, and a turned head's back reaches far behind the face. What is
hidden of a face is the union of the detector's box and ``head_ellipse``, which models the
head as an ellipse in the face's own frame. Which model depends on the landmarks:

* **Frontal** (the eyes at least ``FRONTAL_EYES`` face widths apart: a turned face's eyes
  close up): the ellipse turns with the eye line (roll), is centred ``FRONT_RAISE`` face
  heights above the box's centre (hair above; the box covers the chin) with half-axes
  ``FRONT_HALF_W`` face widths x ``FRONT_HALF_H`` face heights (ears and hair beside the
  temples). It need not hold the box's corners (background beside the chin and the brow):
  the box is hidden with it.
* **Turned, or unknown** (no landmarks, a steep eye line, or eyes close together): the
  nose's offset from the eyes' midpoint along the eye line, in inter-ocular distances, is
  the yaw (~0.5 and more in profile); the ellipse widens towards the back of the head by
  ``BACK * |yaw|`` face heights (capped at ``MAX_TURN``; to both sides when the turn is
  unknown) and rises by ``RAISE_TURNED * |yaw|``; half-axes ``HALF_W`` x ``HALF_H`` face
  heights around a centre ``RAISE`` above the box's. A turned face's eye line is unreliable
  (one eye is hidden: rotated profiles gave the wrong tilt), so the ellipse turns by only
  ``TURNED_ROLL`` of it. Like the frontal one it need not hold the box's corners: the box is
  hidden with it (until 2026-12-05 it grew until it held them, which put a profile-sized
  ellipse around a face turned a little: 2.9 % of a group photo for one face).
* **Cut by the picture's edge** (the box within ``EDGE`` face sizes of it): the box is only
  the visible part of the face, and the landmarks of its hidden part are guesses. The turn
  is unknown and the tilt is not trusted: the unknown turn's ellipse for a face ``CUT_GROW``
  times the box, upright, centred ``CUT_RAISE`` above the box's centre. Measured on crops
  of the astronaut cut at each edge (tests/test_faces.py): the frontal model missed the chin
  or an ear in 10 of 35 crops (1-736 px); this one misses nothing.

All grow by ``padding`` face heights on every side (``--face-padding``): the margin beyond
the model, and by half a pixel (the rounding of the detector's box: it counts at 16 px).
Constants fitted on tests/face_images.py's hand-drawn heads (every head of 16 px and more
wholly hidden, profiles and 15-30 degree rotations included; a rotated head is the upright
head's ellipse turned with the picture) with the least picture hidden outside the faces on a
real group photo: docs/faces-evidence.md, bench/bench_head_areas.py.
Pure arithmetic, except ``Ellipse.mask`` (the pixels, with numpy, imported when called).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SettingsError

if TYPE_CHECKING:  # pragma: no cover
    from .detector import Face

# The frontal head, in face-box widths (x) and heights (y) (see the module's docstring).
FRONTAL_EYES = 0.34  # eyes at least this many face widths apart: frontal (turned: ~0.15-0.3)
FRONT_HALF_W = 0.88  # half the head's width: ears, and hair beside the temples
FRONT_HALF_H = 0.83  # half the head's height: crown to chin
FRONT_RAISE = 0.175  # the head's centre above the face box's centre
# The turned head, in face-box heights.
HALF_W = 0.92  # half the head's width
HALF_H = 1.1  # half the head's height (crown to below the chin)
RAISE = 0.25  # the head's centre above the face box's centre
BACK = 0.75  # extra width behind a turned face per unit of yaw
RAISE_TURNED = 0.4  # ... and the centre raised more, per unit of yaw (a profile's crown)
MAX_TURN = 0.4  # yaw counts up to this much (0.4: a profile)
TURNED_ROLL = 0.4  # a turned face's ellipse turns by this share of its eye line's tilt
EDGE = 0.1  # a box this many face sizes from the picture's edge may be cut by it
CUT_GROW = 0.85  # a cut face's head: the unknown turn's ellipse for a face this many boxes in size
CUT_RAISE = 0.2  # ... centred this many (visible) face heights above the box's centre
MAX_ROLL = math.radians(60)  # eye lines steeper than this are not trusted: upright


@dataclass(frozen=True, slots=True)
class Ellipse:
    """An ellipse in image pixels (continuous coordinates: pixel (i, j) spans [i, i + 1) x
    [j, j + 1)): centre, half-axes along its own x and y, turned by ``angle`` radians
    (clockwise on screen: y points down)."""

    cx: float
    cy: float
    rx: float
    ry: float
    angle: float = 0.0

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the turned ellipse."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        half_w = math.hypot(self.rx * c, self.ry * s)
        half_h = math.hypot(self.rx * s, self.ry * c)
        return self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h

    def box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The pixels' bounding box (x, y, w, h), rounded outwards and clipped to a ``width``
        x ``height`` image; None when none of it is inside."""
        left, top, right, bottom = self.bounds()
        x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
        x1, y1 = min(width, math.ceil(right)), min(height, math.ceil(bottom))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1 - x0, y1 - y0

    def radius2(self, x: float, y: float) -> float:
        """(u / rx)^2 + (v / ry)^2 of the point (x, y) in the ellipse's frame: <= 1 inside."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        u, v = dx * c + dy * s, -dx * s + dy * c
        return (u / self.rx) ** 2 + (v / self.ry) ** 2

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (x, y) lies inside (or on) the ellipse."""
        return self.radius2(x, y) <= 1.0

    def mask(self, x: int, y: int, w: int, h: int) -> bytearray:
        """The box (x, y, w, h) as an 8-bit mask, row by row: 255 for the pixels whose centres
        lie inside (or on) the ellipse, else 0. Exact: each row's chord is solved (no
        rasteriser between the ellipse and its pixels). Made in bands of rows: it holds the
        mask once (a face filling a 100 MP photo: 100 MB), not numpy's temporaries of it.
        Needs numpy (the detector's)."""
        import numpy as np

        c, s = math.cos(self.angle), math.sin(self.angle)
        ia, ib = 1 / (self.rx * self.rx), 1 / (self.ry * self.ry)
        # On a row dy below the centre, the pixels' dx solve dx^2 qa + dx qb + qc <= 0.
        qa = c * c * ia + s * s * ib
        columns = np.arange(x, x + w, dtype=np.float64)
        out = bytearray(w * h)
        band = max(1, (1 << 20) // max(1, w))  # rows per step: ~1 M pixels
        for top in range(y, y + h, band):
            dy = np.arange(top, min(y + h, top + band), dtype=np.float64) + 0.5 - self.cy
            qb = 2 * dy * c * s * (ia - ib)
            disc = qb * qb - 4 * qa * (dy * dy * (s * s * ia + c * c * ib) - 1)
            root = np.sqrt(np.maximum(disc, 0.0))
            left = np.where(disc < 0, np.inf, self.cx + (-qb - root) / (2 * qa))
            right = self.cx + (-qb + root) / (2 * qa)
            first, last = np.ceil(left - 0.5), np.floor(right - 0.5)  # pixel i: centre i + 0.5
            inside = (columns >= first[:, None]) & (columns <= last[:, None])
            start = (top - y) * w
            out[start : start + inside.size] = (inside.view(np.uint8) * 255).tobytes()
        return out


def pose(face: Face) -> tuple[float, float] | None:
    """(roll in radians, yaw) from ``face``'s landmarks, None without them. Yaw is the nose's
    offset from the eyes' midpoint along the eye line in inter-ocular distances: positive
    when the face turns towards the image's right (its back of the head is then on the left)."""
    if len(face.landmarks) < 3:
        return None
    (lx, ly), (rx, ry), (nx, ny) = face.landmarks[:3]
    dx, dy = rx - lx, ry - ly
    iod = math.hypot(dx, dy)
    if iod < 1e-6:
        return None
    roll = math.atan2(dy, dx)
    if abs(roll) > MAX_ROLL:
        return None
    ux, uy = dx / iod, dy / iod
    along = (nx - (lx + rx) / 2) * ux + (ny - (ly + ry) / 2) * uy
    return roll, along / iod


def head_ellipse(face: Face, padding: float, frame: tuple[int, int] | None = None) -> Ellipse:
    """The ellipse hiding ``face``'s head (with the face's box: see the module's docstring),
    grown by ``padding`` face heights on every side. ``frame``: the (width, height) of the
    picture the face was found in; a face at its edge is cut by it (its box, and so the
    frontal model's size and centre, are the visible part only) and gets the turned model."""
    if padding < 0:
        raise SettingsError(f"face padding must not be negative, got {padding}")
    # The padding, and half a pixel: the detector's box is rounded to whole pixels.
    grow = padding * max(face.w, face.h) + 0.5
    found = pose(face)
    cut = at_edge(face, frame)
    if found is not None and not cut and eye_distance(face) >= FRONTAL_EYES * face.w:
        roll = found[0]
        return _placed(face, roll, 0.0, FRONT_RAISE * face.h, FRONT_HALF_W * face.w + grow,
                       FRONT_HALF_H * face.h + grow)  # fmt: skip
    h = float(max(face.h, face.w))
    roll, yaw = (0.0, None) if found is None else (TURNED_ROLL * found[0], found[1])
    visible = h
    if cut:  # the visible part of a larger face, its landmarks perhaps guesses outside the
        roll, yaw, h = 0.0, None, CUT_GROW * h  # picture: upright, turn unknown
    turn = MAX_TURN if yaw is None else min(MAX_TURN, abs(yaw))
    back = BACK * h * turn
    half_w, half_h = HALF_W * h, HALF_H * h
    if yaw is None:  # turn unknown: as wide as a profile to either side
        shift_u, half_w = 0.0, half_w + back
    else:  # the back of the head lies opposite the nose's turn
        shift_u, half_w = -math.copysign(back / 2, yaw), half_w + back / 2
    raise_v = CUT_RAISE * visible if cut else (RAISE + RAISE_TURNED * turn) * h
    return _placed(face, roll, shift_u, raise_v, half_w + grow, half_h + grow)


def at_edge(face: Face, frame: tuple[int, int] | None) -> bool:
    """Whether ``face``'s box comes within ``EDGE`` face sizes of ``frame``'s edge: the face
    may be cut by it (the detector's box of a cut face stops at, or just short of, the edge)."""
    if frame is None:
        return False
    margin = EDGE * max(face.w, face.h)
    width, height = frame
    return (
        min(face.x, face.y) <= margin
        or face.x + face.w >= width - margin
        or face.y + face.h >= height - margin
    )


def eye_distance(face: Face) -> float:
    """The distance between the eyes' landmarks (0 without landmarks)."""
    if len(face.landmarks) < 2:
        return 0.0
    (lx, ly), (rx, ry) = face.landmarks[:2]
    return math.hypot(rx - lx, ry - ly)


def _placed(
    face: Face, roll: float, shift_u: float, raise_v: float, half_w: float, half_h: float
) -> Ellipse:
    """An ellipse turned by ``roll``, centred on the face box's centre moved by ``shift_u``
    along the eye line and raised by ``raise_v`` (the face's own frame)."""
    fx, fy = face.x + face.w / 2, face.y + face.h / 2
    c, s = math.cos(roll), math.sin(roll)
    return Ellipse(
        fx + shift_u * c + raise_v * s, fy + shift_u * s - raise_v * c, half_w, half_h, roll
    )
