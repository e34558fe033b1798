"""Graceful shutdown: stop taking work, let what runs finish, then end the rest cleanly.

On SIGTERM or SIGINT the server keeps listening but answers new ``/v1`` requests with 503 and
``/health`` with 503 "draining", so a load balancer moves on; requests in flight get up to the
drain timeout to finish. Whatever is still running then is told, as a final error event or a
503, that the server is shutting down. Nothing in flight ends without a word.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from mlxfn.domain.errors import Unavailable
from mlxfn.server.keys import DRAINING, IN_FLIGHT, MODELS
from mlxfn.server.responses import error_response

DEFAULT_DRAIN_TIMEOUT_S = 30.0
_POLL_S = 0.05
SHUTTING_DOWN = Unavailable("the server is shutting down")


def draining(app: web.Application) -> bool:
    return app[DRAINING].is_set()


@web.middleware
async def refuse_while_draining(request: web.Request, handler: Handler) -> web.StreamResponse:
    if draining(request.app) and request.path.startswith("/v1"):
        response = error_response(SHUTTING_DOWN, request.path)
        response.headers["Connection"] = "close"
        return response
    return await handler(request)


async def drain(app: web.Application, timeout: float, interrupted: asyncio.Event) -> int:
    """Refuse new work and wait until nothing is in flight, ``timeout`` passes or
    ``interrupted`` is set; then stop every model's engine, which fails whatever still runs
    with a 503. Returns how many requests were still in flight when the wait ended."""
    app[DRAINING].set()
    models = app[MODELS]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    running = app[IN_FLIGHT]

    def busy() -> int:
        return models.pending + running.count

    while busy() and loop.time() < deadline and not interrupted.is_set():
        await asyncio.sleep(_POLL_S)
    left = busy()
    await asyncio.to_thread(models.close)  # joins the engine threads: off the event loop
    # Let the handlers of failed requests write their last event before the server closes.
    await asyncio.sleep(_POLL_S)
    return left
