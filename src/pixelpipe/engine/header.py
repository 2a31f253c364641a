"""Open the input and read what its header tells, enforcing every limit before decoding."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ..formats import InputFormat, OutputFormat, input_format, output_format_for, readable_formats
from ..settings import EngineSettings, Frames, OutputMode
from .limits import (
    MAX_FRAMES,
    check_bytes,
    check_frames,
    check_pixels,
    check_side,
    pillow_bomb_limit,
)
from .orient import orientation, swaps
from .results import SourceInfo
from .translate import translate


@dataclass(frozen=True, slots=True)
class Source:
    """An opened input, its header read and its limits checked; nothing decoded yet."""

    im: Image.Image
    traits: InputFormat
    n_frames: int  # frames (or pages) in the file
    frames_used: int  # frames to pixelate
    sizes: list[tuple[int, int]]  # stored size of each frame used
    orientation: int  # EXIF orientation as read
    transform: int  # orientation still to apply (1 when the plugin applied it on load)
    out_format: OutputFormat

    @property
    def format(self) -> str:
        return self.traits.pil

    @property
    def swap(self) -> bool:
        return swaps(self.transform)

    def info(self, mode: str, width: int, height: int, size: int) -> SourceInfo:
        """What the result says of this input: ``mode`` as stored, displayed size, bytes."""
        return SourceInfo(
            format=self.format,
            mode=mode,
            width=width,
            height=height,
            frames=self.n_frames,
            orientation=self.orientation,
            bytes=size,
        )


def read_header(
    data: bytes, settings: EngineSettings, admit: Callable[[Source], None] | None = None
) -> Source:
    """Byte limit, open (header only) with the format whitelist, frame, pixel and side
    limits, then ``admit(source)`` (its orientation not read yet: a PNG's EXIF may follow
    its pixels, and Pillow decodes them to find it). Raises an ImageError subclass with its
    one-line reason."""
    check_bytes(len(data), settings)
    with translate("reading the header"), pillow_bomb_limit(settings.max_pixels):
        im = Image.open(io.BytesIO(data), formats=readable_formats())
        traits = input_format(im.format)
        n_frames = count_frames(im, traits, MAX_FRAMES)
    out_format = output_format_for(settings.format, traits.pil)
    animated_out = out_format.animation and settings.frames is Frames.ALL
    frames_used = n_frames if animated_out else 1
    check_frames(n_frames, frames_used)
    if n_frames > MAX_FRAMES:  # only the first frame is used: count them all, for the record
        with translate("reading the header"):
            n_frames = max(1, int(getattr(im, "n_frames", 1)))
            im.seek(0)
    out_format = out_format.for_frames(frames_used)
    with translate("reading the header"):
        sizes = frame_sizes(im, traits, frames_used)
    check_pixels(sizes, settings)
    if admit is not None:
        admit(Source(im, traits, n_frames, frames_used, sizes, 1, 1, out_format))
    with translate("reading metadata"):
        exif_orientation = orientation(im)
    # Some plugins (TIFF) rotate while loading and report the displayed size already.
    transform = 1 if traits.oriented_on_load else exif_orientation
    if settings.output is not OutputMode.GRID:  # refuse before decoding, not after
        check_side(*((sizes[0][1], sizes[0][0]) if swaps(transform) else sizes[0]), out_format)
    return Source(im, traits, n_frames, frames_used, sizes, exif_orientation, transform, out_format)


def count_frames(im: Image.Image, traits: InputFormat, cap: int) -> int:
    """Frames (or pages) in ``im``; over ``cap`` comes back as ``cap + 1``. Pillow counts GIF
    frames and TIFF pages by reading every one: stop after ``cap`` instead. (One frame at a
    time: a TIFF seek past the end records the target frame as the page count.)"""
    if not traits.frames_by_seeking:
        return max(1, int(getattr(im, "n_frames", 1)))
    count = 1
    try:
        while count <= cap:
            im.seek(count)
            count += 1
    except EOFError:
        pass
    im.seek(0)
    return count


def frame_sizes(im: Image.Image, traits: InputFormat, count: int) -> list[tuple[int, int]]:
    """Each frame's size, read from headers only. Pages of a TIFF or MPO may differ."""
    if count == 1 or not traits.sizes_per_frame:
        return [im.size] * count
    sizes = []
    for index in range(count):
        im.seek(index)
        sizes.append(im.size)
    im.seek(0)
    return sizes
