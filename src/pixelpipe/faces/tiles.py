"""Detection in passes over bounded tiles: small faces in large photos, in bounded memory.

One CenterFace run needs ~200 bytes of activations per input pixel, and finds a face reliably
from ~12 (real frontal faces) to 24 (profiles, 30-degree rotations, dark faces) pixels wide
in what it sees. So (measured: docs/PERFORMANCE.md, docs/PRIVACY.md):

1. **Base pass**: the working copy (long side ``working_size``, scale ``s1``), as one run when
   it is at most ``MAX_RUN_AREA`` pixels, else in equal strips of at most that area
   overlapping by ``OVERLAP`` px (every face up to that tall lies whole in one strip), plus
   one **coarse** run at ``s1 / COARSE`` that finds the faces larger than the overlap.
2. **Merge**: a box lying ``INSIDE`` or more within a larger one is dropped (a face cut by a
   strip's edge), then non-maximum suppression across runs (IoU ``NMS_IOU``). A weak
   detection near a run's inner edge stands only if a run centred on it finds it again.
3. **Detail pass** at ``s2 = min(1, D_DETAIL / min_face_size)`` when that is finer than ``s1``:
   the photo at ``s2`` laid out in equal tiles (bounded like the strips, ``DETAIL_OVERLAP``),
   of which only the tiles run that hold a *trigger*: a base-pass heat cell of at least
   ``TRIGGER_HEAT`` outside the faces found large, or the centre of a face found narrower
   than ``SMALL_FACE`` working px. Portraits and face-free photos run none. When the faces
   asked for are smaller than the trigger can see (``TRIGGER_FLOOR / s1``), every tile runs.

The smallest face covered reliably (``Plan.min_face_px``, in the photo's pixels) is the
conservative figure: ``max(ceil(D_COVERED / s2), ceil(TRIGGER_FLOOR / s1))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    Floats = npt.NDArray[np.float64]

# Detector pixels at which real faces in context are found: sets the detail pass's scale (a
# face of ``min_face_size`` photo px is this wide in the detail tiles). Real frontal faces of
# a group photo are found at 10-11 px (130 of 130), but on a 12 MP crowd of real faces, frontal
# and turned, 12 found 10 of the 17 under 22 px and 12 of 14 at 26-31 px; 14 finds 13/17 and
# 14/14, 265 of 269 faces, for +12 % of the detection's CPU (docs/PRIVACY.md).
D_DETAIL = 14
# Detector pixels from which every variant of the evidence set is found (profiles, 30-degree
# rotations, dark faces): the size the manifest states as covered.
D_COVERED = 24
MAX_RUN_AREA = 600_000  # px per run: ~120 MB of activations (fp32)
MAX_RUN_WIDTH = 1664  # a 1632 px working copy runs as full-width strips
OVERLAP = 128  # base-pass strips: faces up to this tall lie whole in one strip
COARSE = 4  # the coarse run's reduction: finds faces >= 24 * 4 = 96 working px
DETAIL_OVERLAP = 64  # detail tiles: faces >= SMALL_FACE working px come from the base pass
TRIGGER_HEAT = 0.2  # heat that makes a detail tile run (0 false detections at 0.2)
SMALL_FACE = 40  # working px: a face found narrower makes its detail tile run
TRIGGER_FLOOR = 8  # working px: below this the trigger does not fire reliably
NMS_IOU = 0.3
INSIDE = 0.6
# A tile cuts the picture's context: near its inner edges (within EDGE_ZONE px) weak
# detections (score < VERIFY_BELOW) are false ones as often as not (measured: gravel 0.41, the
# chin of a face cut by the edge 0.31). Each that no other tile found surely is run again
# centred in a window of at least VERIFY_SIDE px (3x the face), and stands only if found there
# too; detections within VERIFY_MARGIN px of the window's edge wait for a window of their own.
EDGE_ZONE = OVERLAP
VERIFY_BELOW = 0.6
VERIFY_SIDE = 288
VERIFY_MARGIN = 64
ROUND = 32  # tile sides are multiples of CenterFace's stride


@dataclass(frozen=True, slots=True)
class Plan:
    """How one photo is looked at: scales, whether and how the detail pass runs, and the
    smallest face covered reliably (photo pixels)."""

    s1: float  # base pass: working copy / photo
    s2: float  # detail pass: detail copy / photo (== s1 when there is none)
    detail: str  # "none", "triggered" or "all"
    min_face_px: int


def auto_min_face(width: int, height: int) -> float:
    """The default smallest face to look for: the long side / 200 (20 px at 4032)."""
    return max(width, height) / 200


def plan(width: int, height: int, working_size: int, min_face_size: int = 0) -> Plan:
    """The passes for a ``width`` x ``height`` photo; ``min_face_size`` 0 = ``auto_min_face``."""
    s1 = min(1.0, working_size / max(width, height, 1))
    wanted = float(min_face_size) if min_face_size > 0 else auto_min_face(width, height)
    s2 = min(1.0, D_DETAIL / wanted)
    if s2 <= 1.05 * s1:
        return Plan(s1, s1, "none", math.ceil(D_COVERED / s1))
    if wanted < TRIGGER_FLOOR / s1:  # the trigger would not see them: look everywhere
        return Plan(s1, s2, "all", math.ceil(D_COVERED / s2))
    covered = max(math.ceil(D_COVERED / s2), math.ceil(TRIGGER_FLOOR / s1))
    return Plan(s1, s2, "triggered", covered)


def layout(length: int, limit: int, overlap: int) -> tuple[int, list[int]]:
    """Equal tiles along ``length``: (side, starts), side <= ``limit`` (a multiple of 32
    unless one tile holds it all), neighbours overlapping by at least ``overlap``."""
    if length <= limit:
        return length, [0]
    n = math.ceil((length - overlap) / (limit - overlap))
    side = min(limit, -(-math.ceil((length + (n - 1) * overlap) / n) // ROUND) * ROUND)
    step = (length - side) / (n - 1)
    return side, [round(i * step) for i in range(n)]


def grid(width: int, height: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles ``(x, y, w, h)`` covering ``width`` x ``height``, each <= ``MAX_RUN_AREA`` px."""
    tw, xs = layout(width, MAX_RUN_WIDTH, overlap)
    limit = max(overlap + 2 * ROUND, MAX_RUN_AREA // tw // ROUND * ROUND)
    th, ys = layout(height, limit, overlap)
    return [(x, y, tw, th) for y in ys for x in xs]


@dataclass
class Found:
    """Detections in photo pixels: boxes (n x 4: x1, y1, x2, y2), scores, landmarks (n x 5 x 2)."""

    boxes: Floats
    scores: Floats
    points: Floats

    @classmethod
    def empty(cls) -> Found:
        import numpy as np

        return cls(np.empty((0, 4)), np.empty(0), np.empty((0, 5, 2)))

    @classmethod
    def join(cls, parts: list[Found]) -> Found:
        import numpy as np

        parts = [p for p in parts if len(p.scores)]
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.points for p in parts]),
        )

    def mapped(self, dx: float, dy: float, fx: float, fy: float) -> Found:
        """Tile pixels -> photo pixels: ``(x + dx) * fx``, ``(y + dy) * fy``."""
        import numpy as np

        b = (self.boxes + np.array([dx, dy, dx, dy])) * np.array([fx, fy, fx, fy])
        p = (self.points + np.array([dx, dy])) * np.array([fx, fy])
        return Found(b, self.scores, p)

    def take(self, keep: list[int] | npt.NDArray[np.bool_]) -> Found:
        return Found(self.boxes[keep], self.scores[keep], self.points[keep])


# One model run on an H x W x 3 float32 array: its detections in the array's pixels, and the
# heat map (stride 4).
Runner = Callable[["npt.NDArray[np.float32]"], tuple[Found, "npt.NDArray[np.float32]"]]
Nms = Callable[["Floats", "Floats", float], list[int]]
ToArray = Callable[["Image.Image"], "npt.NDArray[np.float32]"]


def merge(found: Found, nms: Nms) -> Found:
    """One box per face across runs: a box lying ``INSIDE`` or more within a larger one goes
    first (a face cut by a strip's edge, found whole by a neighbour or the coarse run: its part
    may score higher than the whole), then non-maximum suppression (IoU ``NMS_IOU``)."""
    found = _drop_contained(found)
    return found.take(nms(found.boxes, found.scores, NMS_IOU))


def _drop_contained(found: Found) -> Found:
    import numpy as np

    b = found.boxes
    if len(b) < 2:
        return found
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = np.ones(len(b), dtype=bool)
    for i in range(len(b)):
        ix = np.clip(np.minimum(b[i, 2], b[:, 2]) - np.maximum(b[i, 0], b[:, 0]), 0, None)
        iy = np.clip(np.minimum(b[i, 3], b[:, 3]) - np.maximum(b[i, 1], b[:, 1]), 0, None)
        inside = ix * iy / max(area[i], 1e-9)
        inside[i] = 0.0
        keep[i] = not bool(((inside >= INSIDE) & (area > area[i])).any())
    return found.take(keep)


Tile = tuple[int, int, int, int]  # x, y, w, h in a layer's pixels


class Layer:
    """The photo at one scale, cut into runs: ``crop(tile)`` gives a tile's pixels, and
    ``fx``, ``fy`` map the layer's pixels to the photo's."""

    def __init__(
        self,
        size: tuple[int, int],
        crop: Callable[[Tile], npt.NDArray[np.float32]],
        photo: tuple[int, int],
    ) -> None:
        self.width, self.height = size
        self.crop = crop
        self.fx, self.fy = photo[0] / size[0], photo[1] / size[1]

    def run(self, tiles: list[Tile], run: Runner) -> tuple[Found, Floats]:
        """Every tile run; detections and heat points >= ``TRIGGER_HEAT``, in photo pixels. A
        weak detection near a tile's inner edge (where the tile cuts the picture's context)
        stands only if another tile found it surely or a run centred on it finds it too
        (``verify``)."""
        import numpy as np

        parts, points, doubtful = [], [], []
        for tile in tiles:
            x, y = tile[:2]
            found, heat = run(self.crop(tile))
            rows, cols = np.nonzero(heat >= TRIGGER_HEAT)
            cells = np.stack([(cols + 0.5) * 4 + x, (rows + 0.5) * 4 + y], axis=1)
            points.append(cells * np.array([self.fx, self.fy]))
            near = self._near_inner_edge(found, tile) & (found.scores < VERIFY_BELOW)
            parts.append(found.take(~near).mapped(x, y, 1.0, 1.0))
            doubtful.append(found.take(near).mapped(x, y, 1.0, 1.0))
        sure, unsure = Found.join(parts), Found.join(doubtful)
        # A doubtful detection that another tile found surely is that face: nothing to verify.
        alone = [i for i, b in enumerate(unsure.boxes) if _best_iou(b, sure.boxes) is None]
        verified = self.verify(unsure.take(alone), run)
        return Found.join([sure, verified]).mapped(0, 0, self.fx, self.fy), np.concatenate(points)

    def _near_inner_edge(self, found: Found, tile: Tile) -> npt.NDArray[np.bool_]:
        x, y, w, h = tile
        b, m = found.boxes, EDGE_ZONE
        left = (x > 0) & (b[:, 0] < m)
        top = (y > 0) & (b[:, 1] < m)
        right = (x + w < self.width) & (b[:, 2] > w - m)
        bottom = (y + h < self.height) & (b[:, 3] > h - m)
        near: npt.NDArray[np.bool_] = left | top | right | bottom
        return near

    def verify(self, doubtful: Found, run: Runner) -> Found:
        """The doubtful detections (layer pixels) a run centred on each finds again (IoU >=
        ``NMS_IOU``), as that run found them; nearby ones share a run."""
        kept: list[Found] = []
        order = list(range(len(doubtful.scores)))
        while order:
            x1, y1, x2, y2 = doubtful.boxes[order[0]]
            side = max(VERIFY_SIDE, -(-math.ceil(3 * max(x2 - x1, y2 - y1)) // ROUND) * ROUND)
            w, h = min(side, self.width), min(side, self.height)
            x = int(min(max(0, round((x1 + x2 - w) / 2)), self.width - w))
            y = int(min(max(0, round((y1 + y2 - h) / 2)), self.height - h))
            found, _ = run(self.crop((x, y, w, h)))
            found = found.mapped(x, y, 1.0, 1.0)
            # This one, and every other doubtful detection well inside the window, is settled.
            rest = []
            for j in order:
                bx1, by1, bx2, by2 = doubtful.boxes[j]
                inner = min(bx1 - x, by1 - y, x + w - bx2, y + h - by2)
                if j != order[0] and inner < VERIFY_MARGIN:
                    rest.append(j)
                    continue
                match = _best_iou(doubtful.boxes[j], found.boxes)
                if match is not None:
                    kept.append(found.take([match]))
            order = rest
        return Found.join(kept)


def _best_iou(box: Floats, boxes: Floats) -> int | None:
    """The index of the box in ``boxes`` overlapping ``box`` most, if by IoU >= ``NMS_IOU``."""
    import numpy as np

    if not len(boxes):
        return None
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    union = (
        (box[2] - box[0]) * (box[3] - box[1])
        + ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
        - inter
    )
    iou = inter / np.maximum(union, 1e-9)
    best = int(np.argmax(iou))
    return best if iou[best] >= NMS_IOU else None


@dataclass(frozen=True, slots=True)
class Passes:
    """The outcome of the passes over one photo, in photo pixels."""

    found: Found
    plan: Plan
    base_runs: int
    detail_tiles: int  # detail tiles that ran
    detail_grid: int  # detail tiles there were


def run_passes(
    image: Image.Image,
    working: Image.Image,
    the_plan: Plan,
    run: Runner,
    nms: Nms,
    to_array: ToArray,
) -> Passes:
    """Every pass of ``the_plan`` over ``image`` (any resizable mode), whose working copy
    (at ``s1``) is ``working``."""
    base, points, runs = _base_pass(image, working, run, to_array)
    found = merge(base, nms)
    if the_plan.detail == "none":
        return Passes(found, the_plan, runs, 0, 0)
    width, height = image.size
    size = (max(1, round(width * the_plan.s2)), max(1, round(height * the_plan.s2)))
    from PIL import Image

    def crop(tile: Tile) -> npt.NDArray[np.float32]:
        x, y, w, h = tile
        box = (x * fx, y * fy, (x + w) * fx, (y + h) * fy)
        return to_array(image.resize((w, h), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0))

    detail = Layer(size, crop, image.size)
    fx, fy = detail.fx, detail.fy
    every = grid(*size, DETAIL_OVERLAP)
    tiles = every
    if the_plan.detail == "triggered":
        triggers = _triggers(found, points, working.width / width)
        tiles = [t for t in every if _holds(t, triggers, fx, fy)]
    if tiles:
        more, _ = detail.run(tiles, run)
        found = merge(Found.join([found, more]), nms)
    return Passes(found, the_plan, runs, len(tiles), len(every))


def _base_pass(
    image: Image.Image, working: Image.Image, run: Runner, to_array: ToArray
) -> tuple[Found, Floats, int]:
    """The working copy in strips (+ the coarse run): detections and heat points >=
    ``TRIGGER_HEAT``, both in photo pixels, and the number of runs."""
    pixels = to_array(working)

    def crop(tile: Tile) -> npt.NDArray[np.float32]:
        x, y, w, h = tile
        return pixels[y : y + h, x : x + w]

    layer = Layer(working.size, crop, image.size)
    tiles = grid(working.width, working.height, OVERLAP)
    found, points = layer.run(tiles, run)
    if len(tiles) == 1:
        return found, points, 1
    from PIL import Image

    size = (max(1, round(working.width / COARSE)), max(1, round(working.height / COARSE)))
    coarse, _ = run(to_array(working.resize(size, Image.Resampling.BILINEAR)))
    found = Found.join([found, coarse.mapped(0, 0, image.width / size[0], image.height / size[1])])
    return found, points, len(tiles) + 1


def _triggers(found: Found, points: Floats, s1: float) -> Floats:
    """Where the detail pass must look (photo pixels): heat points outside the faces found
    large (their boxes grown by half their width), and the centres of the faces found small."""
    import numpy as np

    small = SMALL_FACE / s1
    keep = np.ones(len(points), dtype=bool)
    centres = []
    for x1, y1, x2, y2 in found.boxes:
        w = x2 - x1
        if w < small:
            centres.append(((x1 + x2) / 2, (y1 + y2) / 2))
            continue
        g = 0.5 * w
        px, py = points[:, 0], points[:, 1]
        keep &= ~((px >= x1 - g) & (px <= x2 + g) & (py >= y1 - g) & (py <= y2 + g))
    return np.concatenate([points[keep], np.array(centres, dtype=np.float64).reshape(-1, 2)])


def _holds(tile: tuple[int, int, int, int], triggers: Floats, fx: float, fy: float) -> bool:
    x, y, w, h = tile
    tx, ty = triggers[:, 0], triggers[:, 1]
    inside = (tx >= x * fx) & (tx < (x + w) * fx) & (ty >= y * fy) & (ty < (y + h) * fy)
    return bool(inside.any())
