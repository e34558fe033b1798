"""``POST /v1/embeddings``: parsed and tokenized on the tokenizer thread, pooled on the engine
thread between decode steps (MLX runs only there), answered in OpenAI's shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from aiohttp import web
from returns.methods import unwrap_or_failure
from returns.result import Failure, Result, Success

from mlxfn.domain.embeddings import Embeddings, EmbeddingsRequest
from mlxfn.domain.errors import ApiError, EngineFailed, InvalidRequest
from mlxfn.effects import run_io
from mlxfn.engine.embeddings import (
    POOL_CHUNK,
    Pooling,
    finish_pooling,
    hidden_size,
    pool_chunk,
    start_pooling,
)
from mlxfn.engine.loader import LoadedModel
from mlxfn.engine.task import TaskNotRun
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import check_model
from mlxfn.pipeline.embeddings import plan_embeddings
from mlxfn.server.generation import off_loop
from mlxfn.server.keys import IN_FLIGHT
from mlxfn.server.responses import error_response, json_response
from mlxfn.wire.embeddings import check_dimensions, parse_embeddings_request, render_embeddings

log = logging.getLogger(__name__)
_T = TypeVar("_T")
Planned = tuple[EmbeddingsRequest, tuple[tuple[int, ...], ...]]


async def create_embeddings(
    request: web.Request, engine: Engine, body: bytes
) -> web.StreamResponse:
    planned = await off_loop(request, partial(_plan, body, engine))
    if isinstance(planned, Failure):
        return error_response(planned.failure())
    asked, inputs = planned.unwrap()
    model = engine.loaded.name
    with request.app[IN_FLIGHT].holding():  # a drain waits for it: pending does not count it
        pooled = await _pool(engine, inputs)
    answer = pooled.map(lambda found: json_response(render_embeddings(found, asked, model)))
    return unwrap_or_failure(answer.alt(error_response))


async def _pool(
    engine: Engine, inputs: tuple[tuple[int, ...], ...]
) -> Result[Embeddings, ApiError]:
    """One engine task per input, so that running streams get a decode step between two
    inputs of a long list instead of waiting for all of it."""
    vectors: list[tuple[float, ...]] = []
    for tokens in inputs:
        pooled = await _pool_one(engine, tokens)
        if isinstance(pooled, Failure):
            return Failure(pooled.failure())
        vectors.append(pooled.unwrap())
    return Success(Embeddings(tuple(vectors), sum(len(tokens) for tokens in inputs)))


async def _pool_one(engine: Engine, tokens: tuple[int, ...]) -> Result[tuple[float, ...], ApiError]:
    """One input, a chunk per engine task: a context-long input does not stall running
    streams for its whole forward pass."""
    holder: list[Pooling] = []

    def start(loaded: LoadedModel) -> None:
        holder.append(start_pooling(loaded.model))

    def add(chunk: tuple[int, ...]) -> Callable[[LoadedModel], None]:
        return lambda loaded: pool_chunk(loaded.model, holder[0], chunk)

    steps = [start] + [add(tokens[i : i + POOL_CHUNK]) for i in range(0, len(tokens), POOL_CHUNK)]
    for step in steps:
        done = await _on_engine(engine, step)
        if isinstance(done, Failure):
            return Failure(done.failure())
    return await _on_engine(engine, lambda _: finish_pooling(holder[0]))


async def _on_engine(engine: Engine, work: Callable[[LoadedModel], _T]) -> Result[_T, ApiError]:
    started = run_io(engine.run_task(work))
    if isinstance(started, Failure):
        return Failure(started.failure())
    try:
        return Success(await asyncio.wrap_future(started.unwrap()))
    except TaskNotRun as stopped:
        return Failure(stopped.error)
    except Exception:  # an MLX failure while pooling: ours, logged, never the client's
        log.exception("pooling embeddings failed")
        return Failure(EngineFailed("pooling embeddings failed"))


def _plan(body: bytes, engine: Engine) -> Result[Planned, ApiError]:
    loaded, limits = engine.loaded, engine.limits
    width = hidden_size(loaded.model)
    if width is None:
        why = "this model's architecture does not expose the hidden states embeddings pool"
        return Failure(InvalidRequest(why, param="model"))
    return parse_embeddings_request(body).bind(
        lambda asked: (
            check_model(loaded.name, asked.model, limits.model_aliases)
            .bind(lambda _: check_dimensions(asked, width))
            .bind(lambda _: plan_embeddings(asked, loaded.tokenizer, limits))
            .map(lambda inputs: (asked, inputs))
        )
    )
