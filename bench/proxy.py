"""A small HTTP proxy between pixelpipe's workers and an S3 + SQS endpoint, which counts what
passes and can misbehave on purpose.

* counts every forwarded request by (method, path) and response status, so a load run can see
  whether any output object was written twice;
* answers a fraction of S3 requests itself with ``503 SlowDown`` or ``500 InternalError``
  (the errors S3 gives under load), seeded, so runs repeat;
* answers S3 requests ``deny`` matches with ``403 AccessDenied``;
* ``down()`` makes the endpoint unreachable (connections refused, open ones dropped) until
  ``up()``.

It is a real network hop: the workers are configured with the proxy's URL as their endpoint and
do not know it is there. Used by ``bench/load.py`` and ``tests/test_faults.py``.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade"}
)


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        buckets: tuple[str, ...],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.buckets = frozenset(buckets)
        self.host = host
        self.port = port
        self.fault_rate = 0.0  # fraction of S3 requests answered with a 5xx
        self.deny: Callable[[str, str], bool] | None = None  # (method, key) -> 403?
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.forwarded: Counter[tuple[str, str, int]] = Counter()  # (method, path, status)
        self.injected: Counter[str] = Counter()  # error code -> count
        self.refused = 0
        self._down = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        handler = type("Handler", (_Handler,), {"proxy": self})
        server = _Server((self.host, self.port), handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def down(self) -> None:
        """Unreachable: refuse new connections, drop the open ones at their next request."""
        self._down.set()
        self.stop()

    def up(self) -> None:
        self._down.clear()
        self.start()

    # --- what passed -------------------------------------------------------------------------

    def puts(self, bucket: str) -> Counter[str]:
        """Successful PUTs per key of ``bucket``."""
        out: Counter[str] = Counter()
        with self.lock:
            for (method, path, status), n in self.forwarded.items():
                if method == "PUT" and 200 <= status < 300:
                    b, key = _split(path)
                    if b == bucket and key:
                        out[key] += n
        return out

    # --- decisions ---------------------------------------------------------------------------

    def fault_for(self, method: str, path: str) -> tuple[int, str] | None:
        bucket, key = _split(path)
        if bucket not in self.buckets:
            return None  # SQS, or the service root
        if self.deny is not None and self.deny(method, key):
            return 403, "AccessDenied"
        with self.lock:
            if self.fault_rate and self.rng.random() < self.fault_rate:
                return (503, "SlowDown") if self.rng.random() < 0.5 else (500, "InternalError")
        return None

    def before_forward(self, method: str, path: str, client_port: int) -> None:
        """Called before a request goes upstream (subclasses may delay it)."""


def _split(path: str) -> tuple[str, str]:
    bucket, _, rest = urlsplit(path).path.lstrip("/").partition("/")
    return bucket, unquote(rest)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (a killed worker) is not the proxy's problem


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        proxy = self.proxy
        if proxy._down.is_set():
            proxy.refused += 1
            self.close_connection = True
            return  # no response: the client sees the connection dropped
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = proxy.fault_for(self.command, self.path)
        if fault is not None:
            status, code = fault
            with proxy.lock:
                proxy.injected[code] += 1
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>injected by the fault proxy</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        proxy.before_forward(self.command, self.path, self.client_address[1])
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection(*proxy.upstream, timeout=120)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            self.close_connection = True
            return
        finally:
            conn.close()
        with proxy.lock:
            proxy.forwarded[(self.command, self.path, resp.status)] += 1
        self.send_response(resp.status, resp.reason)
        for name, value in resp.getheaders():
            if name.lower() in HOP_BY_HOP or name.lower() in ("content-length", "server", "date"):
                continue
            self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle
