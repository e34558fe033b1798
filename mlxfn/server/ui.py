"""The chat page at ``/``: static files shipped in the package, no build step, no CDN.

The page is a client like any other: it lists models with ``GET /v1/models`` and streams
replies from ``POST /v1/chat/completions``, so everything the API does (auth, limits,
cancellation when the reader goes away) applies to it unchanged. ``--no-ui`` leaves it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

STATIC: Final = Path(__file__).resolve().parent / "static"


async def index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def add_ui_routes(app: web.Application) -> web.AbstractRoute:
    """``GET /`` (the page, returned) and ``GET /ui/...`` (its script and style)."""
    app.router.add_static("/ui", STATIC)
    return app.router.add_get("/", index)
