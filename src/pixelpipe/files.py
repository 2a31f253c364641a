"""Local files in, local files out: the batch runner behind ``pixelpipe pixelate`` and
``pixelpipe placeholder``, an adapter over the engine like the queue worker.

No click, no Rich: a library user can call it too::

    from pixelpipe.files import collect_inputs, run_batch
    results = run_batch(collect_inputs(["shots/"], recursive=True).files, "out", settings)

What it owns: reading inputs safely (regular files only, the byte limit before reading),
folders (non-hidden files, sorted; ``recursive`` mirrors sub-folders; pixelpipe's own outputs
skipped, and files that are images by neither name nor content: a camera's sidecars), refusing
two inputs whose outputs would overwrite each other, a process pool that shares the CPUs,
and atomic writes with the mode of any new file (``0666 & ~umask``). Failures never raise:
each input gets a result with a one-line reason.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ImageError, byte_limit_reason
from .resources import available_cpus, share_memory
from .settings import EngineSettings

if TYPE_CHECKING:
    from .areas import Area
    from .engine import Pixelated


@dataclass(frozen=True, slots=True)
class FileResult:
    """What happened to one input file."""

    path: str
    ok: bool
    reason: str = ""
    width: int = 0
    height: int = 0
    frames: int = 1
    outputs: tuple[str, ...] = field(default_factory=tuple)
    ms: float = 0.0
    hidden: str = ""  # with --region/--faces: what was hidden, e.g. "2 faces, 1 region"
    # With --region/--faces: the outputs (labels) that anonymise and those that do not (sizes
    # given above the limits: PRIVACY.md); None when the engine did not say.
    anonymising: tuple[str, ...] | None = None
    weak: tuple[str, ...] = ()
    face_min_px: int | None = None  # faces narrower than this may be missed (faces on)
    manifest: str = ""  # the manifest written (--manifest)


class _Rejected(Exception):
    """An input refused before the engine saw it; ``args[0]`` is the reason."""


def _read_input(path: str, max_bytes: int, directory: str) -> bytes:
    """The file's bytes, or ``_Rejected`` with the reason (``directory`` for a folder)."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise _Rejected(directory)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise _Rejected("not a regular file")
        if st.st_size > max_bytes:
            # The engine's message, without reading the file.
            raise _Rejected(byte_limit_reason(st.st_size, max_bytes))
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise _Rejected("no such file") from None
    except OSError as exc:
        raise _Rejected(f"cannot read: {exc.strerror or exc}") from None


def process_file(
    path: str, out_dir: str, settings: EngineSettings, manifest: ManifestTarget | None = None
) -> FileResult:
    """Pixelate one file into ``out_dir`` (created if missing); with ``manifest``, then write
    its manifest. Never raises: failures come back as a reason."""
    from .engine import pixelate

    t0 = time.perf_counter()
    try:
        data = _read_input(path, settings.max_bytes, "is a directory that cannot be listed")
        t_engine = time.perf_counter()
        result = pixelate(data, settings)
        t_store = time.perf_counter()
        name = Path(path).name
        Path(out_dir).mkdir(parents=True, exist_ok=True)  # a mirrored sub-folder (-r)
        written = []
        for variant in result.variants:
            target = Path(out_dir) / variant.filename(name)
            write_atomically(target, variant.data)
            written.append(str(target))
        timings = {"engine": _ms(t_store - t_engine), "store": _ms(time.perf_counter() - t_store)}
        doc = "" if manifest is None else manifest.write(path, data, result, settings, timings, t0)
        marks = [v.anonymised for v in result.variants]
        return FileResult(
            path,
            True,
            width=result.source.width,
            height=result.source.height,
            frames=result.source.frames,
            outputs=tuple(written),
            ms=(time.perf_counter() - t0) * 1000,
            hidden=hidden_summary(result.areas) if settings.hides_areas else "",
            anonymising=None
            if None in marks
            else tuple(v.label for v, m in zip(result.variants, marks, strict=True) if m),
            weak=tuple(v.label for v, m in zip(result.variants, marks, strict=True) if m is False),
            face_min_px=result.face_min_px,
            manifest=doc,
        )
    except _Rejected as exc:
        return FileResult(path, False, str(exc))
    except ImageError as exc:
        return FileResult(path, False, exc.reason)
    except OSError as exc:
        return FileResult(path, False, f"cannot write output: {exc.strerror or exc}")
    except Exception as exc:  # a bug: still one line, and the batch goes on
        return FileResult(path, False, f"internal error: {type(exc).__name__}: {exc}")


def placeholder_file(path: str, settings: EngineSettings) -> dict[str, object] | str:
    """One file's placeholder as ``{"file": path, ...}``, or the reason it has none."""
    try:
        data = _read_input(path, settings.max_bytes, "is a directory")
        from .engine import placeholder_of

        return {"file": path, **placeholder_of(data, settings).as_dict()}
    except _Rejected as exc:
        return str(exc)
    except ImageError as exc:
        return exc.reason
    except Exception as exc:  # a bug: still one line, and the batch goes on
        return f"internal error: {type(exc).__name__}: {exc}"


def placeholders(
    files: Sequence[str], settings: EngineSettings, jobs: int = 1
) -> Iterator[tuple[str, dict[str, object] | str]]:
    """``(path, placeholder or reason)`` for each file, in order, ``jobs`` processes at once."""
    if jobs <= 1 or len(files) <= 1:
        yield from zip(files, map(placeholder_file, files, repeat(settings)), strict=True)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
        yield from zip(files, pool.map(placeholder_file, files, repeat(settings)), strict=True)


# Faces at least this wide are covered at any photo size the CLI says nothing about.
QUIET_MIN_FACE_PX = 24


def coverage_note(face_min_px: int | None) -> str:
    """``"; faces under N px may be missed"`` when detection covered only faces of N >
    ``QUIET_MIN_FACE_PX`` pixels reliably (a large photo), else ``""``: the end of a file's
    line."""
    if face_min_px is None or face_min_px <= QUIET_MIN_FACE_PX:
        return ""
    return f"; faces under {face_min_px} px may be missed"


def hidden_summary(areas: Sequence[Area]) -> str:
    """``2 faces, 1 region`` (``no face found`` when faces were looked for in vain)."""
    faces = sum(a.source == "face" for a in areas)
    regions = len(areas) - faces
    parts = [f"{faces} face{'s' * (faces != 1)}"] if faces or not regions else []
    if regions:
        parts.append(f"{regions} region{'s' * (regions != 1)}")
    return ", ".join(parts)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: once, at import
    os.umask(mask)
    return mask


NEW_FILE_MODE = 0o666 & ~_umask()


def write_atomically(target: Path, data: bytes) -> None:
    """Write via a temporary file and rename: a reader never sees half an image.

    The file gets the mode any program's new file gets (``0666 & ~umask``), or the mode of
    the file it replaces, not mkstemp's private 0600."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=".pixelpipe-", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


MANIFESTS = "_manifests"  # OUT/_manifests/<the input's path relative to its folder>.json


@dataclass(frozen=True, slots=True)
class ManifestTarget:
    """Where one input's manifest goes (``pixelate --manifest``) and what it names: the
    pipeline's manifest (manifest.py) for a file. ``source.key`` is the input's path relative
    to its folder (a single file: its name), ``etag`` ``sha256:<hex>`` of its bytes (a file
    has no eTag), each output's ``key`` its path relative to OUT."""

    out_root: str  # OUT
    rel: str  # the input's path relative to its folder, "/"-separated

    @property
    def path(self) -> Path:
        return Path(self.out_root, MANIFESTS, *self.rel.split("/")).with_name(
            self.rel.rsplit("/", 1)[-1] + ".json"
        )

    def write(
        self,
        path: str,
        data: bytes,
        result: Pixelated,
        settings: EngineSettings,
        timings: dict[str, float],
        t0: float,
    ) -> str:
        """Write the manifest of ``result`` (after its outputs, atomically); its path."""
        import hashlib
        import json
        from datetime import UTC, datetime

        from .keys import DEFAULT_KEY_TEMPLATE
        from .manifest import Manifest, SourceRecord

        def iso(t: datetime) -> str:
            return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

        folder = self.rel.rpartition("/")[0]
        prefix = f"{folder}/" if folder else ""
        mtime = datetime.fromtimestamp(os.stat(path).st_mtime, UTC)
        source = SourceRecord(
            bucket=None,
            key=self.rel,
            etag=f"sha256:{hashlib.sha256(data).hexdigest()}",
            size=len(data),
            last_modified=iso(mtime),
        )
        name = self.rel.rsplit("/", 1)[-1]
        doc = Manifest.of(
            result,
            settings,
            source=source,
            keys=[prefix + v.filename(name) for v in result.variants],
            key_template=DEFAULT_KEY_TEMPLATE,
            timings_ms=timings,
            total_ms=_ms(time.perf_counter() - t0),
            processed_at=iso(datetime.now(UTC)),
        )
        target = self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc.to_json(), indent=2, ensure_ascii=False) + "\n"
        write_atomically(target, text.encode())
        return str(target)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# pixelpipe's own output names (``pixelated-8x8-cat.jpg``, ``pixelated-16px-grid-cat.png``):
# a folder holding earlier outputs is not pixelated again.
_OUTPUT_NAME = re.compile(r"pixelated-\d+(?:x\d+|px)(?:-grid)?-.")


def is_own_output(name: str) -> bool:
    return _OUTPUT_NAME.match(name) is not None


# Extensions of the formats pixelpipe reads (HEIF with the heic extra): a file named so claims
# to be an image, and is reported when it cannot be read.
_JPEG_PNG_GIF = (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".apng", ".gif")
_OTHERS = (".webp", ".tif", ".tiff", ".bmp", ".dib", ".ico", ".avif", ".avifs", ".heic", ".heif")
IMAGE_EXTENSIONS = frozenset((*_JPEG_PNG_GIF, *_OTHERS, ".hif"))
# ISO base media ("ftyp") brands of still images; video brands (isom, mp42, qt) are not.
_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")


def image_signature(head: bytes) -> str | None:
    """The output format name (``jpeg``, ``png``, ...) of the format pixelpipe reads that
    ``head`` (a file's first 32 bytes) starts like, or None."""
    starts = {
        b"\xff\xd8\xff": "jpeg",
        b"\x89PNG\r\n\x1a\n": "png",
        b"GIF87a": "gif",
        b"GIF89a": "gif",
        b"II*\x00": "tiff",
        b"MM\x00*": "tiff",
        b"\x00\x00\x01\x00": "ico",
    }
    found = next((name for sig, name in starts.items() if head.startswith(sig)), None)
    if found is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = "webp"
    if found is None and head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, 32, 4)}
        found = "avif" if brands & {b"avif", b"avis"} else None
        found = found or ("heif" if brands & set(_IMAGE_BRANDS) else None)
    # BMP: "BM", then the DIB header's size at byte 14 (one of the known header sizes).
    if found is None and head[:2] == b"BM":
        size = int.from_bytes(head[14:18], "little")
        found = "bmp" if size in (12, 40, 52, 56, 64, 108, 124) else None
    return found


def has_image_signature(head: bytes) -> bool:
    """Whether ``head`` (a file's first 32 bytes) starts like a format pixelpipe reads."""
    return image_signature(head) is not None


def _head(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(32)


def looks_like_an_image(path: Path) -> bool:
    """An image by name (extension) or by content (signature). A file that cannot be read is
    kept, so that it is reported like any other unreadable input."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    try:
        return has_image_signature(_head(path))
    except OSError:
        return True


@dataclass
class Inputs:
    """The files a command line names, each with the sub-folder its outputs go to."""

    files: list[tuple[str, str]] = field(default_factory=list)  # (path, relative out dir)
    skipped_dirs: int = 0  # sub-folders not read (no --recursive)
    skipped_outputs: int = 0  # pixelpipe's own outputs found in the folders
    # Files in the folders that are images by neither name nor content (a camera folder's
    # sidecars: .xmp, .json, .aae, .txt, videos), counted by extension.
    skipped_other: dict[str, int] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.files]

    def skipped_other_line(self) -> str:
        """``3 files skipped, not images: 2 .xmp, 1 .json`` (empty when none was)."""
        if not self.skipped_other:
            return ""
        total = sum(self.skipped_other.values())
        kinds = sorted(self.skipped_other.items(), key=lambda kv: (-kv[1], kv[0]))
        listed = ", ".join(f"{n} {kind}" for kind, n in kinds)
        return f"{total} file{'s' * (total != 1)} skipped, not images: {listed}"


def collect_inputs(
    inputs: Iterable[str],
    *,
    recursive: bool = False,
    skip_outputs: bool = False,
    exclude: str | None = None,
) -> Inputs:
    """Files as given; directories replaced by their (non-hidden) files, sorted.

    ``recursive`` reads sub-folders too (outputs mirror them); otherwise they are counted
    in ``skipped_dirs``. Files in folders that are images by neither name nor content (a
    camera's sidecars) are counted in ``skipped_other``; files named on the command line are
    always kept (asked for by name, they are reported if they are no image). ``skip_outputs``
    leaves out files named like pixelpipe's outputs (counted); ``exclude`` is a folder never
    read (the output folder, when it is inside an input folder). A directory that cannot be
    listed stays in the list as itself, so that it is reported like any other unreadable
    input and the rest of the batch goes on.
    """
    found = Inputs()
    excluded = os.path.realpath(exclude) if exclude else None

    def walk(folder: Path, rel: str) -> None:
        try:
            children = sorted(folder.iterdir())
        except OSError:
            found.files.append((str(folder), rel))
            return
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                if excluded is not None and os.path.realpath(child) == excluded:
                    continue
                if recursive and not child.is_symlink():  # no symlink loops
                    walk(child, os.path.join(rel, child.name))
                else:
                    found.skipped_dirs += 1
            elif child.is_file():
                if skip_outputs and is_own_output(child.name):
                    found.skipped_outputs += 1
                elif not looks_like_an_image(child):
                    kind = child.suffix.lower() or "(no extension)"
                    found.skipped_other[kind] = found.skipped_other.get(kind, 0) + 1
                else:
                    found.files.append((str(child), rel))

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            walk(p, "")
        else:
            found.files.append((item, ""))
    return found


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Files as given; directories replaced by their (non-hidden) files, one level deep."""
    return collect_inputs(inputs).paths


@dataclass
class Batch:
    """Files to pixelate into one folder: those refused up front (their outputs would
    overwrite another input's) and the rest, each with the folder its outputs go to."""

    settings: EngineSettings
    refused: dict[int, FileResult] = field(default_factory=dict)  # by input position
    todo: list[tuple[int, str, str]] = field(default_factory=list)  # (position, path, out dir)
    manifests: dict[int, ManifestTarget] = field(default_factory=dict)  # --manifest, by position

    def run(
        self, jobs: int = 1, on_result: Callable[[FileResult], None] | None = None
    ) -> list[FileResult]:
        """Process ``todo`` with ``jobs`` processes, calling ``on_result`` as each finishes;
        every result (refused ones too), in input order."""
        results = dict(self.refused)
        for i, r in _run(self.todo, self.settings, jobs, self.manifests):
            results[i] = r
            if on_result is not None:
                on_result(r)
        return [results[i] for i in sorted(results)]


def plan_batch(
    files: Sequence[str | tuple[str, str]],
    out_dir: str,
    settings: EngineSettings,
    *,
    manifests: bool = False,
) -> Batch:
    """A ``Batch`` of ``files``; a file may come with the sub-folder of ``out_dir`` its
    outputs go to (``collect_inputs(..., recursive=True)``). ``manifests``: each file's
    manifest goes to ``out_dir/_manifests/<sub-folder>/<name>.json`` too."""
    from .formats import BY_NAME
    from .keys import output_name

    batch = Batch(settings)
    seen: dict[tuple[str, str], str] = {}
    fmt = None if settings.format == "source" else BY_NAME[settings.format]
    items = [(item, "") if isinstance(item, str) else item for item in files]
    # Files named as images claim their output names first (an image by content only, such
    # as a camera's .THM thumbnail, is the one refused when both would give the same name).
    order = sorted(
        range(len(items)), key=lambda i: Path(items[i][0]).suffix.lower() not in IMAGE_EXTENSIONS
    )
    for i in order:
        path, rel = items[i]
        # Outputs are named after the file name (its extension replaced by --format's): two
        # inputs giving one output name in one folder would overwrite each other.
        # Case-folded, for the file systems that fold case.
        name = Path(path).name
        out = output_name(name, fmt.name, fmt.extension) if fmt else _source_output(path, name)
        key = (os.path.normcase(rel).casefold(), out.casefold())
        if key in seen:
            why = f"output names would be the same as {seen[key]}'s; outputs would overwrite"
            batch.refused[i] = FileResult(path, False, why)
            continue
        seen[key] = path
        batch.todo.append((i, path, os.path.join(out_dir, rel) if rel else out_dir))
        if manifests:
            rel_path = Path(rel, name).as_posix() if rel else name
            batch.manifests[i] = ManifestTarget(out_dir, rel_path)
    batch.todo.sort()
    return batch


def _source_output(path: str, name: str) -> str:
    """The output name with ``--format source``: the name, unless the extension is no image's
    (a camera's ``IMG_0001.THM`` is a JPEG: its outputs are named ``IMG_0001.jpg``)."""
    from .formats import BY_NAME
    from .keys import output_name

    if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
        return name
    try:
        found = image_signature(_head(path))
    except OSError:
        return name
    if found is None or found not in BY_NAME:
        return name
    return output_name(name, found, BY_NAME[found].extension)


def run_batch(
    files: Sequence[str | tuple[str, str]],
    out_dir: str,
    settings: EngineSettings,
    jobs: int = 1,
    on_result: Callable[[FileResult], None] | None = None,
    *,
    manifests: bool = False,
) -> list[FileResult]:
    """Pixelate ``files`` into ``out_dir`` with ``jobs`` processes: ``plan_batch`` then
    ``Batch.run``. ``on_result`` sees the processed files' results as they finish."""
    return plan_batch(files, out_dir, settings, manifests=manifests).run(jobs, on_result)


def _run(
    todo: Sequence[tuple[int, str, str]],
    settings: EngineSettings,
    jobs: int,
    manifests: Mapping[int, ManifestTarget],
) -> Iterator[tuple[int, FileResult]]:
    """``(position, result)`` as each file finishes: in this process, or in a pool."""
    if jobs <= 1 or len(todo) <= 1:
        for i, path, target in todo:
            yield i, process_file(path, target, settings, manifests.get(i))
        return
    from concurrent.futures import Future, ProcessPoolExecutor, as_completed

    processes = min(jobs, len(todo))
    if settings.threads == 0:  # share the CPUs between the processes
        settings = settings.replace(threads=max(1, available_cpus() // processes))
    # The processes share this machine's (or container's) memory: each gets its share.
    with ProcessPoolExecutor(processes, initializer=share_memory, initargs=(processes,)) as pool:
        futures: dict[Future[FileResult], tuple[int, str]] = {
            pool.submit(process_file, path, target, settings, manifests.get(i)): (i, path)
            for i, path, target in todo
        }
        for fut in as_completed(futures):
            i, path = futures[fut]
            try:
                r = fut.result()
            except Exception as exc:  # the worker process died
                r = FileResult(path, False, f"internal error: worker failed: {exc}")
            yield i, r


__all__: list[str] = [
    "Batch",
    "FileResult",
    "Inputs",
    "ManifestTarget",
    "collect_inputs",
    "expand_inputs",
    "has_image_signature",
    "image_signature",
    "is_own_output",
    "looks_like_an_image",
    "placeholder_file",
    "placeholders",
    "plan_batch",
    "process_file",
    "run_batch",
    "write_atomically",
]
