"""Blocking conveniences for notebooks and scripts: one call from OpenAI-shaped input to a Result.

These compose the same pure steps the server uses (parse → plan → generate → assemble), so
what works here works over HTTP.
"""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from typing import Any

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.events import Completion, Event, Failed, Finished, ResponseMeta
from mlxfn.domain.request import ChatRequest
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import plan_chat
from mlxfn.pipeline.completion import assemble_completion, read_completion
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.wire.codec import encode_json
from mlxfn.wire.requests import parse_chat_request


def generate(engine: Engine, plan: GenerationPlan) -> Result[Iterator[Event], ApiError]:
    """Submit a plan and iterate its events as they come (blocking); stops after the last one
    (the last choice's ``Finished`` when ``plan.n`` > 1, or a ``Failed``)."""
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()

    def drain() -> Iterator[Event]:
        finished = 0
        while True:
            event = events.get()
            yield event
            finished += isinstance(event, Finished)
            if isinstance(event, Failed) or finished == plan.n:
                return

    return run_io(engine.submit(plan, events.put)).map(lambda _: drain())


def chat(
    engine: Engine, messages: Sequence[Mapping[str, Any]], **fields: Any
) -> Result[Completion, ApiError]:
    """Chat with the engine's model using OpenAI's request fields.

    ``mlxfn.chat(engine, [{"role": "user", "content": "Hi"}], temperature=0, max_tokens=20)``
    returns ``Success(Completion)`` or ``Failure(ApiError)``, exactly as the server would decide.
    """
    loaded = engine.loaded
    body = encode_json({"model": loaded.name, **fields, "messages": list(messages)})

    def plan_of(request: ChatRequest) -> Result[GenerationPlan, ApiError]:
        return plan_chat(request, loaded.tokenizer, engine.limits, loaded.name)

    def run(plan: GenerationPlan) -> Result[Completion, ApiError]:
        if plan.n != 1:
            return Failure(
                InvalidRequest("chat() returns one completion; use generate() for n > 1", "n")
            )
        meta = ResponseMeta(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=loaded.name
        )
        with_logprobs = plan.top_logprobs is not None
        return (
            generate(engine, plan)
            .bind(lambda events: assemble_completion(meta, events, with_logprobs=with_logprobs))
            .map(partial(read_completion, reading=plan.reading))
        )

    return flow(body, parse_chat_request, bind(plan_of), bind(run))


__all__ = ["Failure", "Success", "chat", "generate"]
