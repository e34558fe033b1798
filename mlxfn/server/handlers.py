"""HTTP handlers: read bytes, run the pure pipeline, submit to the engine, answer.

The chat flow: ``parse_chat_request`` (wire) → ``plan_chat`` (pipeline, off the event loop)
→ ``Engine.submit`` (engine thread) → JSON, or SSE in ``streaming.py``. Legacy completions
take the same path through ``parse_completion_request`` and ``plan_text_completion``, one
engine job per prompt, with SSE in ``text_streaming.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from returns.methods import unwrap_or_failure
from returns.result import Result

from mlxfn._version import __version__
from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Completion, ResponseMeta
from mlxfn.domain.request import (
    ChatRequest,
    CompletionRequest,
    DetokenizeRequest,
    TokenizeRequest,
)
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import check_model, plan_chat
from mlxfn.pipeline.completion import assemble_choices, read_completion
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.prompt import Prompt, build_prompt, build_text_prompt
from mlxfn.pipeline.text_completion import (
    TextCompletionPlan,
    build_text_choices,
    decode_tokens,
    plan_text_completion,
    total_usage,
)
from mlxfn.server.generation import Events, collect_events, generate, off_loop
from mlxfn.server.keys import CONFIG, DRAINING, METRICS, MODELS
from mlxfn.server.openapi import encode_openapi
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.server.responses import error_response, json_response
from mlxfn.server.streaming import stream_chat
from mlxfn.server.text_streaming import stream_text_completion
from mlxfn.wire.completion_requests import parse_completion_request
from mlxfn.wire.completions import render_text_completion
from mlxfn.wire.models import render_model_card, render_model_cards
from mlxfn.wire.requests import parse_chat_request
from mlxfn.wire.responses import (
    StreamMeta,
    render_completions,
    render_detokenized,
    render_token_count,
)
from mlxfn.wire.token_requests import parse_detokenize_request, parse_tokenize_request

_T = TypeVar("_T")
_R = TypeVar("_R")
_P = TypeVar("_P")


def _answer(result: Result[web.Response, ApiError]) -> web.Response:
    return unwrap_or_failure(result.alt(error_response))


_Chat = tuple[ChatRequest, GenerationPlan]
_Text = tuple[CompletionRequest, TextCompletionPlan]


async def chat_completions(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    planned = await off_loop(request, partial(_plan, body, engine))
    model = engine.loaded.name
    return await generate(request, engine, planned, partial(_answer_chat, request, model))


def _plan(body: bytes, engine: Engine) -> Result[tuple[_Chat, tuple[GenerationPlan]], ApiError]:
    loaded = engine.loaded
    return _paired(
        parse_chat_request(body),
        lambda chat: plan_chat(chat, loaded.tokenizer, engine.limits, loaded.name),
    ).map(lambda pair: (pair, (pair[1],)))


def _paired(
    parsed: Result[_R, ApiError], plan: Callable[[_R], Result[_P, ApiError]]
) -> Result[tuple[_R, _P], ApiError]:
    """The parsed request together with its plan: the handler needs both."""
    return parsed.bind(lambda request: plan(request).map(lambda planned: (request, planned)))


async def _answer_chat(
    request: web.Request, model: str, planned: _Chat, events: Events
) -> web.StreamResponse:
    chat, plan = planned
    meta = ResponseMeta(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)
    field = request.app[CONFIG].reasoning_field
    with_logprobs = plan.top_logprobs is not None
    if chat.stream:
        stream_meta = StreamMeta(meta, chat.include_usage, field, with_logprobs)
        return await stream_chat(request, stream_meta, events, plan.n, plan.reading)
    read = partial(read_completion, reading=plan.reading)
    collected = await collect_events(events, plan.n)
    return _answer(
        assemble_choices(meta, collected, plan.n, with_logprobs=with_logprobs).map(
            lambda choices: json_response(
                render_completions(tuple(read(c) for c in choices), field)
            )
        )
    )


async def text_completions(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    """The legacy ``POST /v1/completions``: text in, text out, no chat template; one engine job
    per prompt."""
    planned = await off_loop(request, partial(_plan_text, body, engine))
    model = engine.loaded.name
    return await generate(request, engine, planned, partial(_answer_text, request, model))


def _plan_text(
    body: bytes, engine: Engine
) -> Result[tuple[_Text, tuple[GenerationPlan, ...]], ApiError]:
    loaded = engine.loaded
    return _paired(
        parse_completion_request(body),
        lambda completion: plan_text_completion(
            completion, loaded.tokenizer, engine.limits, loaded.name
        ),
    ).map(lambda pair: (pair, pair[1].plans))


async def _answer_text(
    request: web.Request, model: str, planned: _Text, events: Events
) -> web.StreamResponse:
    completion, plan = planned
    meta = ResponseMeta(id=f"cmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)
    with_logprobs = completion.logprobs is not None
    if completion.stream:
        return await stream_text_completion(
            request,
            meta,
            events,
            plan,
            include_usage=completion.include_usage,
            with_logprobs=with_logprobs,
        )
    collected = await collect_events(events, plan.choices)
    assembled = assemble_choices(meta, collected, plan.choices, with_logprobs=with_logprobs)
    return _answer(assembled.map(partial(_render_text, meta, plan)))


def _render_text(
    meta: ResponseMeta, plan: TextCompletionPlan, choices: tuple[Completion, ...]
) -> web.Response:
    usage = total_usage([(choice.index, choice.usage) for choice in choices], plan.n)
    return json_response(render_text_completion(meta, build_text_choices(choices, plan), usage))


async def list_models(request: web.Request) -> web.Response:
    """Every servable model, loaded or not; listing loads none."""
    statuses = request.app[MODELS].statuses()
    return json_response(render_model_cards(tuple(status.card for status in statuses)))


async def get_model(request: web.Request) -> web.Response:
    """A model by its id or an alias (the served model it names is the one described)."""
    models = request.app[MODELS]
    served = models.resolve(request.match_info["model_id"])
    card = served.map(lambda model_id: render_model_card(models.status(model_id).card))
    return _answer(card.map(json_response))


async def health(request: web.Request) -> web.Response:
    models = request.app[MODELS]
    status = "draining" if request.app[DRAINING].is_set() else "healthy"
    healthy = models.alive and status == "healthy"
    body = {
        "status": status if models.alive else "unhealthy",
        "model": models.default_id,
        "version": __version__,
    }
    return json_response(body, 200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus' text format; engine gauges come from its published snapshot, not from MLX."""
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The document of this server: its models, reasoning field, keys and caps."""
    models, config = request.app[MODELS], request.app[CONFIG]
    facts = OpenApiFacts.of(
        models.ids,
        models.default_config,
        reasoning_field=config.reasoning_field,
        authenticated=bool(config.api_keys),
    )
    body = encode_openapi(facts)
    return web.Response(body=body, content_type="application/json")


async def tokenize(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    """``/v1/tokenize`` and vLLM's ``/tokenize``: one parser, one answer shape."""
    counted = await off_loop(request, partial(_count, body, engine))
    return _answer(counted.map(json_response))


async def detokenize(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    decoded = await off_loop(request, partial(_decode_tokens, body, engine))
    return _answer(decoded.map(json_response))


def _decode_tokens(body: bytes, engine: Engine) -> Result[object, ApiError]:
    loaded = engine.loaded

    def text_of(req: DetokenizeRequest) -> Result[str, ApiError]:
        return check_model(loaded.name, req.model, engine.limits.model_aliases).bind(
            lambda _: decode_tokens(req.tokens, loaded.tokenizer, engine.limits.vocab_size)
        )

    return parse_detokenize_request(body).bind(text_of).map(render_detokenized)


def _count(body: bytes, engine: Engine) -> Result[object, ApiError]:
    loaded = engine.loaded

    def prompt_of(req: TokenizeRequest) -> Result[Prompt, ApiError]:
        checked = check_model(loaded.name, req.model, engine.limits.model_aliases)
        if isinstance(req.text, str):
            text, special = req.text, req.add_special_tokens
            return checked.bind(
                lambda _: build_text_prompt(text, loaded.tokenizer, add_special_tokens=special)
            )
        conversation, opened = req.text, req.add_generation_prompt
        return checked.bind(
            lambda _: build_prompt(conversation, loaded.tokenizer, generation_prompt=opened)
        )

    def counted(req: TokenizeRequest) -> Result[object, ApiError]:
        def render(prompt: Prompt) -> object:
            ids = prompt.token_ids
            spelled = loaded.tokenizer.convert_ids_to_tokens(list(ids)) if req.token_strs else None
            return render_token_count(ids, loaded.context_length, spelled)

        return prompt_of(req).map(render)

    return parse_tokenize_request(body).bind(counted)
