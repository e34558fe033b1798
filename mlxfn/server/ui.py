"""The chat page at ``/``: static files shipped in the package, no build step, no CDN.

The page is a client like any other: it lists models with ``GET /v1/models`` and streams
replies from ``POST /v1/chat/completions``, so everything the API does (auth, limits,
cancellation when the reader goes away) applies to it unchanged. ``--no-ui`` leaves it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

from mlxfn.domain.errors import RouteNotFound
from mlxfn.server.responses import error_response

STATIC: Final = Path(__file__).resolve().parent / "static"
# Only these are served: no path from a request ever reaches the file system.
_FILES: Final = {"chat.js": "text/javascript", "chat.css": "text/css"}
_NO_CACHE: Final = {"Cache-Control": "no-cache"}


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=_NO_CACHE)


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["filename"]
    kind = _FILES.get(name)
    if kind is None:
        return error_response(RouteNotFound(request.method, request.path))
    return web.FileResponse(STATIC / name, headers=_NO_CACHE | {"Content-Type": kind})


def add_ui_routes(app: web.Application) -> list[web.AbstractRoute]:
    """``GET /`` (the page) and ``GET /ui/{filename}`` (its script and style)."""
    return [app.router.add_get("/", index), app.router.add_get("/ui/{filename}", asset)]
