"""Which model's engine serves a request: read the body's ``model``, lease that model's
engine (loading it first, off the event loop, if it is not loaded), run the handler with it,
and give the lease back when the response has ended."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError
from mlxfn.engine.registry import ModelRegistry
from mlxfn.engine.thread import Engine
from mlxfn.server.keys import MODELS, TRACE
from mlxfn.server.responses import error_response
from mlxfn.wire.models import requested_model

Routed = Callable[[web.Request, Engine, bytes], Awaitable[web.StreamResponse]]
# Bodies up to this size are read for their model on the event loop (well under a millisecond).
_READ_ON_LOOP_BYTES = 256 * 1024


def by_model(handler: Routed) -> Handler:
    """The handler, given the engine of the model its request names."""

    async def route(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if len(body) <= _READ_ON_LOOP_BYTES:
            wanted = requested_model(body)
        else:
            wanted = await asyncio.get_running_loop().run_in_executor(None, requested_model, body)
        models = request.app[MODELS]
        served = models.resolve(wanted)
        if isinstance(served, Failure):
            # A loaded model parses the request, so that a malformed body is still a 400
            # before the unknown model's 404, which its own check then gives.
            fallback = models.any_loaded()
            if fallback is None:
                return error_response(served.failure(), request.path)
            served = Success(fallback)
        model_id = served.unwrap()
        leased = await _lease(models, model_id)
        if isinstance(leased, Failure):
            return error_response(leased.failure(), request.path)
        if (trace := request.get(TRACE)) is not None:
            trace.model = model_id
        try:
            return await handler(request, leased.unwrap(), body)
        finally:
            models.release(model_id)

    return route


async def _lease(models: ModelRegistry, model_id: str) -> Result[Engine, ApiError]:
    """The model's engine; a load runs on a worker thread. A client that leaves during the
    load leaves the load running, and its lease is given back when the load ends."""
    if (engine := models.try_lease(model_id)) is not None:
        return Success(engine)
    loading = asyncio.get_running_loop().run_in_executor(None, models.lease, model_id)
    try:
        return await asyncio.shield(loading)
    except asyncio.CancelledError:

        def give_back(done: asyncio.Future[Result[Engine, ApiError]]) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().map(lambda _: models.release(model_id))

        loading.add_done_callback(give_back)
        raise
