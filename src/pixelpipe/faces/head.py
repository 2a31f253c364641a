"""The head around a detected face: an ellipse placed from the face box and its landmarks.

The face box (hairline or brows to chin, cheek to cheek) is not the head: hair is above it,
ears at its sides, and a turned head's back reaches far behind the face. ``head_ellipse``
models the head as an ellipse in the face's own frame:

* **roll** (tilt): the eye line's angle; the ellipse turns with it;
* **yaw** (turn): the nose's offset from the eyes' midpoint along the eye line, in
  inter-ocular distances (~0 frontal, ~0.5 and more in profile). The ellipse widens towards
  the back of the head by ``BACK * |yaw|`` face heights (capped), so a profile's back of
  the head is covered and a frontal face's is not;
* centred on the face box's centre, raised by ``RAISE`` face heights (hair above, little
  below the chin); half-axes ``HALF_W`` x ``HALF_H`` face heights (the height: a profile's
  box is narrow while its head is not);
* grown by ``padding`` face heights on every side (``--face-padding``): the margin beyond
  this model.

Without landmarks (a ``Face`` made by hand) the face is taken as upright and frontal-or-
profile unknown: the ellipse widens to both sides by the profile amount. Constants measured
on tests/face_images.py's hand-drawn heads: docs/faces-evidence.md, bench/bench_head_areas.py.
No numpy: pure arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SettingsError

if TYPE_CHECKING:  # pragma: no cover
    from .detector import Face

# The head model, in face-box heights (see the module's docstring).
HALF_W = 0.58  # half the head's width (frontal: ears included)
HALF_H = 0.64  # half the head's height (crown to chin)
RAISE = 0.2  # the head's centre above the face box's centre
BACK = 1.2  # extra width behind a turned face per unit of yaw
RAISE_TURNED = 0.4  # ... and the centre raised more, per unit of yaw (a profile's crown)
MAX_TURN = 0.4  # yaw counts up to this much (0.4: a profile)
MAX_ROLL = math.radians(60)  # eye lines steeper than this are not trusted: upright
POLYGON_SIDES = 48


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

    def polygon(self, sides: int = POLYGON_SIDES) -> list[tuple[float, float]]:
        """A polygon that contains the ellipse (circumscribed: every side touches it), in
        continuous pixel coordinates. Drawing it fills every pixel whose centre is inside."""
        grow = 1 / math.cos(math.pi / sides)
        c, s = math.cos(self.angle), math.sin(self.angle)
        points = []
        for k in range(sides):
            t = 2 * math.pi * (k + 0.5) / sides
            u, v = self.rx * grow * math.cos(t), self.ry * grow * math.sin(t)
            points.append((self.cx + u * c - v * s, self.cy + u * s + v * c))
        return points


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


def head_ellipse(face: Face, padding: float) -> Ellipse:
    """The ellipse hiding ``face``'s head, grown by ``padding`` face heights on every side."""
    if padding < 0:
        raise SettingsError(f"face padding must not be negative, got {padding}")
    h = float(max(face.h, face.w))
    found = pose(face)
    roll, yaw = (0.0, None) if found is None else (found[0], found[1])
    turn = MAX_TURN if yaw is None else min(MAX_TURN, abs(yaw))
    back = BACK * h * turn
    # Face frame: u along the eye line (image right when upright), v down the face.
    half_w, half_h = HALF_W * h, HALF_H * h
    if yaw is None:  # turn unknown: as wide as a profile to either side
        shift_u, half_w = 0.0, half_w + back
    else:  # the back of the head lies opposite the nose's turn
        shift_u, half_w = -math.copysign(back / 2, yaw), half_w + back / 2
    shift_v = -(RAISE + RAISE_TURNED * turn) * h
    fx, fy = face.x + face.w / 2, face.y + face.h / 2
    c, s = math.cos(roll), math.sin(roll)
    cx, cy = fx + shift_u * c - shift_v * s, fy + shift_u * s + shift_v * c
    head = Ellipse(cx, cy, half_w, half_h, roll)
    # What the detector found is hidden whatever the model says: grow the ellipse (same
    # centre, same shape) until the face box's corners are inside it; then the padding.
    corners = [(face.x + dx, face.y + dy) for dx in (0, face.w) for dy in (0, face.h)]
    k = max(1.0, *(math.sqrt(head.radius2(x, y)) for x, y in corners))
    grow = padding * h
    return Ellipse(cx, cy, half_w * k + grow, half_h * k + grow, roll)
