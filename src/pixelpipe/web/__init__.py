"""The local web page of ``pixelpipe up``: upload images, watch their variants appear.

A thin adapter: an HTTP server (standard library) that is just another S3 client of the
local stack. See :mod:`pixelpipe.web.server`.
"""

from __future__ import annotations

from .server import DEFAULT_UI_PORT, Gallery, WebServer

__all__ = ["DEFAULT_UI_PORT", "Gallery", "WebServer"]
