"""The shell every generating route shares: plan off the event loop, submit to the engine,
answer from the events, and cancel the job when the answer ends (a no-op once finished; it
frees the batch slots when the client went away)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiohttp import web
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Event, Failed, Finished
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine, Job
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.text_completion import renumber
from mlxfn.server.keys import MAILBOX, TOKENIZER_POOL, TRACE
from mlxfn.server.metrics import Trace
from mlxfn.server.responses import error_response

_T = TypeVar("_T")
_R = TypeVar("_R")
Events = asyncio.Queue[Event]


async def off_loop(request: web.Request, work: Callable[[], _T]) -> _T:
    """Run tokenizer work on the tokenizer thread so the event loop stays free."""
    return await asyncio.get_running_loop().run_in_executor(request.app[TOKENIZER_POOL], work)


def submit_plans(
    request: web.Request, engine: Engine, plans: Sequence[GenerationPlan], events: Events
) -> Result[list[Job], ApiError]:
    """One job per plan, all delivering to ``events`` (plan ``p``'s choices numbered after
    those of the plans before it); if one is refused, those already queued are cancelled."""
    trace, mailbox = request.get(TRACE) or Trace(), request.app[MAILBOX]
    jobs: list[Job] = []
    for prompt, plan in enumerate(plans):
        first = prompt * plan.n

        def deliver(event: Event, prompt: int = prompt, first: int = first) -> None:
            trace.observe(event, prompt)  # on the event loop: the trace times every event
            events.put_nowait(renumber(event, first) if first else event)

        def sink(event: Event, deliver: Callable[[Event], None] = deliver) -> None:
            mailbox.post(deliver, event)  # called on the engine thread

        submitted = run_io(engine.submit(plan, sink))
        if isinstance(submitted, Failure):
            for job in jobs:
                job.cancel()
            return Failure(submitted.failure())
        jobs.append(submitted.unwrap())
    return Success(jobs)


async def generate(
    request: web.Request,
    engine: Engine,
    planned: Result[tuple[_R, Sequence[GenerationPlan]], ApiError],
    respond: Callable[[_R, Events], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Submit a planned request's plans and answer with ``respond`` from their events; a
    refusal at either step is the surface's own error."""
    events: Events = asyncio.Queue()
    submitted = planned.bind(
        lambda pair: submit_plans(request, engine, pair[1], events).map(
            lambda jobs: (pair[0], jobs)
        )
    )
    if isinstance(submitted, Failure):
        return error_response(submitted.failure(), request.path)
    parsed, jobs = submitted.unwrap()
    try:
        return await respond(parsed, events)
    finally:
        for job in jobs:
            job.cancel()


async def collect_events(events: Events, n: int) -> list[Event]:
    """The events of ``n`` choices, up to the last one's ``Finished`` or the first failure."""
    collected: list[Event] = []
    finished = 0
    while True:
        event = await events.get()
        collected.append(event)
        finished += isinstance(event, Finished)
        if isinstance(event, Failed) or finished == n:
            return collected
