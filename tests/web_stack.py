"""Helpers for the web page tests: ``pixelpipe up`` as a user starts it, on free ports, and a
raw HTTP client that sends paths exactly as written (no normalisation of ``..``)."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from test_local_stack import UpCommand, wait_for

START_TIMEOUT = 30.0
DEADLINE = 30.0  # upload -> done
ARTIFACTS = Path(__file__).resolve().parents[1] / "out" / "test-artifacts"
SAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
LABELS = ("8x8", "16x16", "32x32", "48x48", "64x64")
WEB_LINE = re.compile(r"web page\s+(http://\S+/)")


class WebUp(UpCommand):
    """``python -m pixelpipe up --ui-port 0`` (the OS picks the page's port; it is read from
    the start-up lines) in a session of its own."""

    def __init__(self, tmp: Path, *extra: str, workers: int = 1) -> None:
        super().__init__(tmp, ["--workers", str(workers), "--ui-port", "0", *extra])
        self.url = ""

    def wait_ready(self) -> WebUp:
        def ready() -> str | None:
            if self.proc.poll() is not None:
                pytest.fail(f"pixelpipe up exited {self.proc.returncode}: {self.stderr()}")
            out = self.stdout()
            found = WEB_LINE.search(out)
            return found.group(1) if found and "Ctrl-C to stop" in out else None

        self.url = wait_for(ready, START_TIMEOUT, "pixelpipe up to print its web page", 0.2)
        return self

    @property
    def ui_port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        return request(self.ui_port, method, path, body, headers)

    def state(self) -> dict[str, Any]:
        status, _, body = self.request("GET", "/api/state")
        assert status == 200, body
        doc = json.loads(body)
        assert isinstance(doc, dict)
        return doc

    def item(self, key: str) -> dict[str, Any] | None:
        return next((i for i in self.state()["items"] if i["key"] == key), None)

    def wait_status(self, key: str, *statuses: str, timeout: float = DEADLINE) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            item = self.item(key)
            return item if item and item["status"] in statuses else None

        found: dict[str, Any] = wait_for(reached, timeout, f"{key} to be {'/'.join(statuses)}")
        return found

    def upload(self, name: str, data: bytes, query: str = "") -> tuple[int, dict[str, Any]]:
        """POST /api/upload; ``query``: more parameters, e.g. ``&regions=1,2,3,4``."""
        status, _, body = self.request(
            "POST",
            f"/api/upload?name={quote(name, safe='')}{query}",
            data,
            {"X-Pixelpipe-Upload": "1", "Content-Type": "application/octet-stream"},
        )
        return status, json.loads(body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent verbatim; (status, headers lower-cased, body)."""
    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        sent = {k.lower() for k in (headers or {})}
        conn.putrequest(method, path, skip_host="host" in sent, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None and "content-length" not in sent:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        conn.close()


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state = fields[1], fields[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                    if width == 8:
                        found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                    else:
                        found.add(address)
    return found
