"""The aiohttp application: routes, middleware, CORS, and the tokenizer thread's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import aiohttp_cors
from aiohttp import web

from mlxfn.engine.registry import ModelRegistry
from mlxfn.engine.thread import Engine
from mlxfn.platform.os_threads import name_os_thread
from mlxfn.server import embeddings, handlers, messages_api, responses_api
from mlxfn.server.auth import require_api_key
from mlxfn.server.cross_site import refuse_cross_site
from mlxfn.server.drain import refuse_while_draining
from mlxfn.server.in_flight import InFlight
from mlxfn.server.keys import (
    CONFIG,
    DRAINING,
    IN_FLIGHT,
    MAILBOX,
    METRICS,
    MODELS,
    TOKENIZER_POOL,
    ServerConfig,
)
from mlxfn.server.mailbox import Mailbox
from mlxfn.server.metrics import Metrics
from mlxfn.server.middleware import echo_request_id, openai_errors, request_ids
from mlxfn.server.response_store import RESPONSE_STORE, ResponseStore
from mlxfn.server.routing import by_model
from mlxfn.server.ui import add_ui_routes


async def _tokenizer_pool(app: web.Application) -> AsyncIterator[None]:
    pool = ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="mlxfn-tokenizer", initializer=name_os_thread
    )
    app[TOKENIZER_POOL] = pool
    yield
    pool.shutdown(wait=False, cancel_futures=True)


async def _mailbox(app: web.Application) -> None:
    app[MAILBOX] = Mailbox(asyncio.get_running_loop())


# How often idle models are checked against --keep-alive.
_EXPIRY_POLL_S = 1.0


async def _expire_idle_models(app: web.Application) -> AsyncIterator[None]:
    models = app[MODELS]
    if models.keep_alive is None:
        yield
        return

    async def expire() -> None:
        while True:
            await asyncio.sleep(min(_EXPIRY_POLL_S, models.keep_alive or _EXPIRY_POLL_S))
            await asyncio.to_thread(models.expire_idle)  # stopping joins a thread

    task = asyncio.create_task(expire())
    yield
    task.cancel()


def make_app(models: ModelRegistry | Engine, config: ServerConfig | None = None) -> web.Application:
    """The OpenAI-compatible app over several models, or over one started engine. The caller
    owns the models' lifetime (a drain stops them)."""
    config = config or ServerConfig()
    models = models if isinstance(models, ModelRegistry) else ModelRegistry.of_engine(models)
    app = web.Application(
        # The key check comes before the cross-site one: a wrong key is a 401, whatever else.
        middlewares=[
            request_ids,
            openai_errors,
            refuse_while_draining,
            require_api_key,
            refuse_cross_site,
        ],
        client_max_size=config.max_body_bytes,
    )
    app[MODELS] = models
    app[CONFIG] = config
    app[DRAINING] = asyncio.Event()
    app[METRICS] = Metrics(models)
    app[RESPONSE_STORE] = ResponseStore(config.response_store_size)
    app[IN_FLIGHT] = InFlight()
    app.cleanup_ctx.append(_tokenizer_pool)
    app.cleanup_ctx.append(_expire_idle_models)
    app.on_startup.append(_mailbox)
    app.on_response_prepare.append(echo_request_id)
    routes = [
        app.router.add_post("/v1/chat/completions", by_model(handlers.chat_completions)),
        app.router.add_post("/v1/completions", by_model(handlers.text_completions)),
        app.router.add_post("/v1/responses", by_model(responses_api.create_response)),
        app.router.add_get("/v1/responses/{response_id}", responses_api.retrieve_response),
        app.router.add_delete("/v1/responses/{response_id}", responses_api.delete_response),
        app.router.add_post("/v1/messages", by_model(messages_api.create_message)),
        app.router.add_post("/v1/messages/count_tokens", by_model(messages_api.count_tokens)),
        app.router.add_get("/v1/models", handlers.list_models),
        app.router.add_get("/v1/models/{model_id:.+}", handlers.get_model),
        app.router.add_post("/v1/embeddings", by_model(embeddings.create_embeddings)),
        app.router.add_post("/v1/tokenize", by_model(handlers.tokenize)),
        app.router.add_post("/tokenize", by_model(handlers.tokenize)),
        app.router.add_post("/detokenize", by_model(handlers.detokenize)),
        app.router.add_get("/health", handlers.health),
        app.router.add_get("/metrics", handlers.metrics),
        app.router.add_get("/openapi.json", handlers.openapi),
    ]
    if config.ui:
        routes += add_ui_routes(app)
    if config.cors_origins:
        options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
            allow_headers="*", expose_headers=("X-Request-ID",), max_age=600
        )
        cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(config.cors_origins, options))
        for route in routes:
            cors.add(route)
    return app
