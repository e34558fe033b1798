"""HTTP handlers: read bytes, run the pure pipeline, submit to the engine, answer.

The chat flow: ``parse_chat_request`` (wire) → ``plan_chat`` (pipeline, off the event loop)
→ ``Engine.submit`` (engine thread) → JSON, or SSE in ``streaming.py``. Legacy completions
take the same path through ``parse_completion_request`` and ``plan_text_completion``, one
engine job per prompt, with SSE in ``text_streaming.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from returns.methods import unwrap_or_failure
from returns.result import Failure, Result, Success

from mlxfn._version import __version__
from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Completion, Event, Failed, Finished, ResponseMeta
from mlxfn.domain.request import (
    ChatRequest,
    CompletionRequest,
    DetokenizeRequest,
    TokenizeRequest,
)
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine, Job
from mlxfn.pipeline.chat import check_model, plan_chat
from mlxfn.pipeline.completion import assemble_choices, read_completion
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.prompt import Prompt, build_prompt, build_text_prompt
from mlxfn.pipeline.text_completion import (
    TextCompletionPlan,
    build_text_choices,
    decode_tokens,
    plan_text_completion,
    renumber,
    total_usage,
)
from mlxfn.server.keys import CONFIG, DRAINING, MAILBOX, METRICS, MODELS, TOKENIZER_POOL, TRACE
from mlxfn.server.mailbox import Mailbox
from mlxfn.server.metrics import Trace
from mlxfn.server.openapi import encode_openapi
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


async def _off_loop(request: web.Request, work: Callable[[], _T]) -> _T:
    """Run tokenizer work on the tokenizer thread so the event loop stays free."""
    return await asyncio.get_running_loop().run_in_executor(request.app[TOKENIZER_POOL], work)


def _answer(result: Result[web.Response, ApiError]) -> web.Response:
    return unwrap_or_failure(result.alt(error_response))


async def chat_completions(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    loaded = engine.loaded
    planned = await _off_loop(request, partial(_plan, body, engine))
    match planned:
        case Success((chat, plan)):
            return await _generate(request, engine, chat, plan, loaded.name)
        case Failure(err):
            return error_response(err)
        case _:
            raise AssertionError("unreachable")


def _plan(body: bytes, engine: Engine) -> Result[tuple[ChatRequest, GenerationPlan], ApiError]:
    loaded = engine.loaded
    return _paired(
        parse_chat_request(body),
        lambda chat: plan_chat(chat, loaded.tokenizer, engine.limits, loaded.name),
    )


def _paired(
    parsed: Result[_R, ApiError], plan: Callable[[_R], Result[_P, ApiError]]
) -> Result[tuple[_R, _P], ApiError]:
    """The parsed request together with its plan: the handler needs both."""
    return parsed.bind(lambda request: plan(request).map(lambda planned: (request, planned)))


def _submit(
    engine: Engine, plan: GenerationPlan, trace: Trace, mailbox: Mailbox
) -> tuple[Result[Job, ApiError], asyncio.Queue[Event]]:
    events: asyncio.Queue[Event] = asyncio.Queue()
    return _submit_into(engine, plan, events, trace=trace, mailbox=mailbox), events


def _submit_into(
    engine: Engine,
    plan: GenerationPlan,
    events: asyncio.Queue[Event],
    *,
    trace: Trace,
    mailbox: Mailbox,
    prompt: int = 0,
) -> Result[Job, ApiError]:
    """Submit one plan whose events go to ``events``; as a completions request's prompt
    ``prompt``, its choices are renumbered after those of the prompts before it."""
    first = prompt * plan.n

    def deliver(event: Event) -> None:  # on the event loop: the trace times every event
        trace.observe(event, prompt)
        events.put_nowait(renumber(event, first) if first else event)

    def sink(event: Event) -> None:  # called on the engine thread
        mailbox.post(deliver, event)

    return run_io(engine.submit(plan, sink))


async def _generate(
    request: web.Request, engine: Engine, chat: ChatRequest, plan: GenerationPlan, model: str
) -> web.StreamResponse:
    submitted, events = _submit(engine, plan, request.get(TRACE) or Trace(), request.app[MAILBOX])
    match submitted:
        case Success(job):
            pass
        case Failure(err):
            return error_response(err)
        case _:
            raise AssertionError("unreachable")
    meta = ResponseMeta(id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)
    field = request.app[CONFIG].reasoning_field
    with_logprobs = plan.top_logprobs is not None
    try:
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
    finally:
        job.cancel()  # a no-op once finished; frees the slots of all n if the client went away


async def text_completions(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    """The legacy ``POST /v1/completions``: text in, text out, no chat template."""
    planned = await _off_loop(request, partial(_plan_text, body, engine))
    match planned:
        case Success((completion, plan)):
            return await _generate_text(request, engine, completion, plan)
        case Failure(err):
            return error_response(err)
        case _:
            raise AssertionError("unreachable")


def _plan_text(
    body: bytes, engine: Engine
) -> Result[tuple[CompletionRequest, TextCompletionPlan], ApiError]:
    loaded = engine.loaded
    return _paired(
        parse_completion_request(body),
        lambda completion: plan_text_completion(
            completion, loaded.tokenizer, engine.limits, loaded.name
        ),
    )


def _submit_prompts(
    engine: Engine,
    plan: TextCompletionPlan,
    events: asyncio.Queue[Event],
    trace: Trace,
    mailbox: Mailbox,
) -> Result[list[Job], ApiError]:
    """One job per prompt; if one is refused, those already queued are cancelled."""
    jobs: list[Job] = []
    for prompt, prompt_plan in enumerate(plan.plans):
        match _submit_into(
            engine, prompt_plan, events, trace=trace, mailbox=mailbox, prompt=prompt
        ):
            case Success(job):
                jobs.append(job)
            case Failure(err):
                for job in jobs:
                    job.cancel()
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(jobs)


async def _generate_text(
    request: web.Request,
    engine: Engine,
    completion: CompletionRequest,
    plan: TextCompletionPlan,
) -> web.StreamResponse:
    events: asyncio.Queue[Event] = asyncio.Queue()
    trace = request.get(TRACE) or Trace()
    submitted = _submit_prompts(engine, plan, events, trace, request.app[MAILBOX])
    match submitted:
        case Success(jobs):
            pass
        case Failure(err):
            return error_response(err)
        case _:
            raise AssertionError("unreachable")
    model = engine.loaded.name
    meta = ResponseMeta(id=f"cmpl-{uuid.uuid4().hex}", created=int(time.time()), model=model)
    with_logprobs = completion.logprobs is not None
    try:
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
    finally:
        for job in jobs:  # a no-op once finished; frees every prompt's slots if the client left
            job.cancel()


def _render_text(
    meta: ResponseMeta, plan: TextCompletionPlan, choices: tuple[Completion, ...]
) -> web.Response:
    usage = total_usage([(choice.index, choice.usage) for choice in choices], plan.n)
    return json_response(render_text_completion(meta, build_text_choices(choices, plan), usage))


async def collect_events(events: asyncio.Queue[Event], n: int) -> list[Event]:
    """The events of ``n`` choices, up to the last one's ``Finished`` or the first failure."""
    collected: list[Event] = []
    finished = 0
    while True:
        event = await events.get()
        collected.append(event)
        finished += isinstance(event, Finished)
        if isinstance(event, Failed) or finished == n:
            return collected


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
    body = encode_openapi(request.app[MODELS].default_id)
    return web.Response(body=body, content_type="application/json")


async def tokenize(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    """``/v1/tokenize`` and vLLM's ``/tokenize``: one parser, one answer shape."""
    counted = await _off_loop(request, partial(_count, body, engine))
    return _answer(counted.map(json_response))


async def detokenize(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    decoded = await _off_loop(request, partial(_decode_tokens, body, engine))
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
