"""The web page of ``pixelpipe up``: a standard-library HTTP server over the local stack.

It is just another S3 (and SQS) client of the stack's endpoint:

* ``GET /`` and ``GET /static/{name}``: the page (``index.html``, ``app.js``, ``app.css``),
  read from this package at start-up. Only those names are served; nothing is joined onto a
  file-system path, so no request path can reach another file.
* ``GET /api/state``: the gallery, built from three listings (the source bucket, the
  manifests and the failure records in the processed bucket), the manifests and failure
  records themselves (cached by their eTag), and the queue's message counts.
* ``POST /api/upload?name=FILE``: the request body is put into the source bucket as ``FILE``
  (its base name). Over the byte limit: ``413`` with a one-line reason, before the body is
  read. A custom header (``X-Pixelpipe-Upload``) is required, so another web site cannot
  upload through a visitor's browser (a cross-origin request with it needs a CORS preflight,
  which this server never grants).
* ``GET /objects/source/{key}`` and ``GET /objects/processed/{key}``: an object of one of
  the two buckets, streamed; ``?download=1`` asks the browser to save it. The key is the
  rest of the path, percent-decoded; it is only ever an S3 key in one of those buckets.

What the page shows (the status of each source object, its variants, the queue's counts) is
:class:`~pixelpipe.web.gallery.Gallery`'s; this module is the HTTP side.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import socket
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from .. import storage
from ..areas import format_regions, parse_regions
from ..errors import SettingsError, byte_limit_reason
from ..settings import parse_bool
from .gallery import (  # re-exported: the gallery lived here
    MAX_ITEMS,
    Gallery,
    GalleryConfig,
    HttpError,
    _status,
    gallery_for,
    object_url,
    upload_key,
)
from .gallery import (
    _placeholder as _placeholder,  # the page's placeholder filter (tests import it from here)
)

DEFAULT_UI_PORT = 8080
CHUNK = 64 * 1024
DRAIN_LIMIT = 256 * 1024 * 1024  # read (and drop) an over-limit body up to this, then close
UPLOAD_HEADER = "X-Pixelpipe-Upload"
# Served inline; any other content type is sent as a download (an uploaded .html or .svg
# must not run as a page of this origin).
INLINE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"}
)
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
OBJECT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

log = logging.getLogger("pixelpipe.web")


def _upload_areas(query: Mapping[str, list[str]]) -> tuple[bool | None, str]:
    """An upload's ``faces=1|0`` and ``regions=x,y,w,h;...``, checked before the body is
    read (a malformed box would otherwise fail in the worker, after the upload)."""
    faces = None
    if "faces" in query:
        try:
            faces = parse_bool(query["faces"][0], "faces")
        except SettingsError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, exc.reason) from None
    regions = (query.get("regions") or [""])[0]
    if regions:
        try:
            regions = format_regions(parse_regions(regions))
        except SettingsError as exc:
            raise HttpError(HTTPStatus.BAD_REQUEST, exc.reason) from None
    return faces, regions


# --------------------------------------------------------------------------------------------
# Static files: read once from the package


def load_static() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, content type) of every file in the package's ``static`` folder."""
    files: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("pixelpipe.web").joinpath("static")
    for entry in folder.iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            ctype = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith(("javascript", "json")):
                ctype += "; charset=utf-8"
            files[entry.name] = (entry.read_bytes(), ctype)
    if "index.html" not in files:
        raise FileNotFoundError("pixelpipe/web/static/index.html is missing from the package")
    return files


# --------------------------------------------------------------------------------------------
# HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    gallery: Gallery | None = None
    static: dict[str, tuple[bytes, str]]
    loopback_only: bool = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # One line in the log, never a traceback on the terminal.
        import sys

        exc = sys.exc_info()[1]
        log.debug("request from %s failed: %s", client_address, exc)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pixelpipe"
    sys_version = ""
    server: _Server
    _body_read: bool = False

    # --- plumbing ---------------------------------------------------------------------------

    def version_string(self) -> str:
        return "pixelpipe"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(doc, separators=(",", ":")).encode()
        self._send(
            status,
            body,
            "application/json",
            {"Cache-Control": "no-store", **(headers or {})},
        )

    def _error(self, status: HTTPStatus, reason: str) -> None:
        if self.path.startswith("/api/"):
            self._json(status, {"error": reason, "status": int(status)})
        else:
            self._send(status, (reason + "\n").encode(), "text/plain; charset=utf-8")

    def _run(self, route: Any) -> None:
        self._body_read = False
        try:
            self._check_host()
            route()
        except HttpError as exc:
            if self.command == "POST" and not self._body_read:
                self._drain()  # then answer: a client still sending may miss a response
            self._error(exc.status, exc.reason)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except ClientError as exc:
            reason = exc.response.get("Error", {}).get("Message") or str(exc)
            self._error(HTTPStatus.BAD_GATEWAY, "storage: " + " ".join(str(reason).split()))
        except BotoCoreError as exc:
            self._error(HTTPStatus.BAD_GATEWAY, "storage: " + " ".join(str(exc).split()))
        except Exception as exc:  # a bug: one line, the server goes on
            log.warning("internal error on %s %s: %r", self.command, self.path, exc)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}")

    def _check_host(self) -> None:
        """Loopback-only servers answer only to loopback host names (DNS rebinding)."""
        if not self.server.loopback_only:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in LOOPBACK_NAMES:
            raise HttpError(HTTPStatus.MISDIRECTED_REQUEST, f"unexpected Host header {host!r}")

    @property
    def _gallery(self) -> Gallery:
        if self.server.gallery is None:
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, "the local stack is still starting")
        return self.server.gallery

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._run(self._get)

    def do_HEAD(self) -> None:
        self._run(self._get)

    def do_POST(self) -> None:
        self._run(self._post)

    def _get(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path[len("/static/") :])
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self._gallery.state())
        elif path.startswith("/objects/"):
            bucket, _, key = path[len("/objects/") :].partition("/")
            self._object(bucket, unquote(key), download="download" in query)
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, "not found")

    def _static(self, name: str) -> None:
        found = self.server.static.get(name)
        if found is None:
            raise HttpError(HTTPStatus.NOT_FOUND, "not found")
        body, ctype = found
        headers = {"Cache-Control": "no-cache"}
        if name == "index.html":
            headers["Content-Security-Policy"] = PAGE_CSP
        self._send(HTTPStatus.OK, body, ctype, headers)

    def _object(self, alias: str, key: str, *, download: bool) -> None:
        gallery = self._gallery
        buckets = {
            "source": gallery.config.source_bucket,
            "processed": gallery.config.processed_bucket,
        }
        if alias not in buckets or not key:
            raise HttpError(HTTPStatus.NOT_FOUND, "not found")
        if_none_match = self.headers.get("If-None-Match")
        try:
            obj = storage.open_object(gallery.s3, buckets[alias], key, if_none_match=if_none_match)
        except ClientError as exc:
            status = _status(exc)
            if status == 304:
                self._send(HTTPStatus.NOT_MODIFIED, b"", "application/octet-stream")
                return
            if status in (403, 404):
                raise HttpError(HTTPStatus.NOT_FOUND, "not found") from None
            raise
        body = obj["Body"]
        try:
            ctype = str(obj.get("ContentType") or "application/octet-stream").split(";")[0]
            inline = ctype in INLINE_TYPES and not download
            name = key.rsplit("/", 1)[-1]
            ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
            disposition = "inline" if inline else "attachment"
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", ctype if inline else "application/octet-stream")
            self.send_header("Content-Length", str(int(obj.get("ContentLength", 0))))
            self.send_header(
                "Content-Disposition",
                f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}",
            )
            self.send_header("ETag", str(obj.get("ETag", "")))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Security-Policy", OBJECT_CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                for chunk in body.iter_chunks(CHUNK):
                    self.wfile.write(chunk)
        finally:
            body.close()

    def _post(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/api/upload":
            raise HttpError(HTTPStatus.NOT_FOUND, "not found")
        self._check_same_origin()
        gallery = self._gallery
        query = parse_qs(parts.query)
        name = (query.get("name") or [""])[0]
        faces, regions = _upload_areas(query)
        length = self._content_length()
        limit = gallery.config.max_upload_bytes
        if length > limit:
            upload_key(name)  # a bad name is the first thing to say
            reason = byte_limit_reason(length, limit).replace(" limit", " upload limit")
            raise HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{reason} (pixelpipe up --max-bytes)"
            )
        body = self._read_body(length)
        result = gallery.upload(name, body, faces=faces, regions=regions)
        self._json(HTTPStatus.CREATED, result)

    def _check_same_origin(self) -> None:
        if self.headers.get(UPLOAD_HEADER) != "1":
            raise HttpError(HTTPStatus.FORBIDDEN, f"uploads need the {UPLOAD_HEADER}: 1 header")
        origin = self.headers.get("Origin")
        host = self.headers.get("Host") or ""
        if origin and origin not in ("null",) and urlsplit(origin).netloc != host:
            raise HttpError(HTTPStatus.FORBIDDEN, f"cross-origin upload from {origin} refused")

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "send the file with a Content-Length")
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw or "")
        except ValueError:
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required") from None
        if length < 0:
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, "negative Content-Length")
        return length

    def _read_body(self, length: int) -> bytes:
        self._body_read = True
        chunks, got = [], 0
        while got < length:
            chunk = self.rfile.read(min(CHUNK * 16, length - got))
            if not chunk:
                self.close_connection = True
                raise HttpError(HTTPStatus.BAD_REQUEST, "the upload ended early")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _drain(self) -> None:
        """A refused body (over the limit, bad name, ...) is not stored. Read and drop it (up
        to DRAIN_LIMIT, a few seconds at most) so that the client is not reset before it
        reads the answer; then close the connection."""
        self._body_read = True
        self.close_connection = True
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return
        if self.headers.get("Expect", "").lower() == "100-continue" or length > DRAIN_LIMIT:
            return  # the client waits for our answer before sending, or it is absurd
        deadline = time.monotonic() + 5.0
        self.connection.settimeout(1.0)
        with contextlib.suppress(OSError):
            left = length
            while left > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read(min(CHUNK * 16, left))
                if not chunk:
                    break
                left -= len(chunk)

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue`` (curl, for larger files): refuse an over-limit upload
        before its body is sent."""
        gallery = self.server.gallery
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = 0
        if gallery is not None and length > gallery.config.max_upload_bytes:
            return True  # _post answers 413 without reading the body
        return super().handle_expect_100()


class WebServer:
    """The page's HTTP server, in a thread of the ``up`` process.

    Binding happens in the constructor (so a port in use is known before anything else
    starts); :meth:`start` attaches the gallery and serves.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_UI_PORT) -> None:
        cls = _Server6 if ":" in host else _Server
        self.httpd = cls((host, port), Handler)
        self.httpd.static = load_static()
        self.httpd.loopback_only = host in LOOPBACK_NAMES or host.startswith("127.")
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def start(self, gallery: Gallery) -> WebServer:
        self.httpd.gallery = gallery
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="pixelpipe-web",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self.httpd.server_close()


__all__ = [
    "DEFAULT_UI_PORT",
    "MAX_ITEMS",
    "Gallery",
    "GalleryConfig",
    "HttpError",
    "WebServer",
    "gallery_for",
    "object_url",
]
