"""``/v1/responses``: OpenAI's Responses API over the same pipeline and engine as chat.

A request is parsed into a ResponsesRequest (wire), joined to the stored earlier turn that
``previous_response_id`` names, made into a ChatRequest and planned by ``plan_chat``; the
engine's events become a Response object, or the Responses stream's typed events, each with
its ``sequence_number``: ``response.created``, ``response.in_progress``, then per output item
``output_item.added``, ``content_part.added``, text deltas (``output_text`` or
``reasoning_text``) or ``function_call_arguments`` delta and done, the ``done`` events, and
last ``response.completed``, ``response.incomplete`` or ``response.failed``.
"""

from __future__ import annotations

import time
import uuid
from functools import partial
from typing import Any, assert_never

import attrs
from aiohttp import web
from returns.methods import unwrap_or_failure
from returns.result import Result, Success

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Completion, Delta, Event, Failed, Finished, ResponseMeta, Usage
from mlxfn.domain.messages import Message, ToolCall
from mlxfn.domain.responses_api import (
    FunctionCallItem,
    MessageItem,
    OutputItem,
    ReasoningItem,
    ResponsesRequest,
    ResponseStatus,
    assistant_turn,
    status_of,
)
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import plan_chat
from mlxfn.pipeline.completion import assemble_completion, read_completion
from mlxfn.pipeline.markup import TextPiece
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.reading import OutputReader, OutputReading
from mlxfn.server.generation import Events, collect_events, generate, off_loop
from mlxfn.server.response_store import RESPONSE_STORE, ResponseStore, StoredResponse
from mlxfn.server.responses import error_response, json_response
from mlxfn.server.streaming import stream_events
from mlxfn.wire.responses_api_render import (
    JSON,
    ItemStatus,
    ResponseIdentity,
    encode_stream_event,
    render_deleted,
    render_item,
    render_output_text,
    render_reasoning_text,
    render_response,
)
from mlxfn.wire.responses_api_requests import (
    build_chat_request,
    parse_responses_request,
    responses_param,
)

_Turn = tuple[ResponsesRequest, tuple[Message, ...]]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


async def create_response(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    parsed = await off_loop(request, partial(parse_responses_request, body))
    # The store is read on the event loop, its only user; planning goes back off it.
    turn = parsed.bind(partial(_with_earlier, request.app[RESPONSE_STORE]))
    planned = await off_loop(request, partial(_plan, turn, engine))
    model = engine.loaded.name
    return await generate(request, engine, planned, partial(_answer_response, request, model))


def _with_earlier(store: ResponseStore, responses: ResponsesRequest) -> Result[_Turn, ApiError]:
    previous = responses.previous_response_id
    if previous is None:
        return Success((responses, ()))
    return store.get(previous, "previous_response_id").map(
        lambda stored: (responses, stored.conversation)
    )


def _plan(
    turn: Result[_Turn, ApiError], engine: Engine
) -> Result[tuple[tuple[_Turn, GenerationPlan], tuple[GenerationPlan]], ApiError]:
    loaded = engine.loaded

    def plan_of(pair: _Turn) -> Result[tuple[_Turn, GenerationPlan], ApiError]:
        responses, earlier = pair
        return (
            build_chat_request(responses, earlier)
            .bind(lambda chat: plan_chat(chat, loaded.tokenizer, engine.limits, loaded.name))
            .alt(responses_param)
            .map(lambda plan: (pair, plan))
        )

    return turn.bind(plan_of).map(lambda planned: (planned, (planned[1],)))


async def _answer_response(
    request: web.Request, model: str, planned: tuple[_Turn, GenerationPlan], events: Events
) -> web.StreamResponse:
    (responses, earlier), plan = planned
    identity = ResponseIdentity(id=_new_id("resp"), created_at=int(time.time()), model=model)
    store = request.app[RESPONSE_STORE]
    if responses.stream:
        writer = ResponseEvents(identity, responses, plan.reading)
        streamed = await stream_events(request, writer.opening(), events, writer)
        if writer.final is not None:
            _keep(store, responses, earlier, writer.items, writer.final)
        return streamed
    collected = await collect_events(events, 1)
    meta = ResponseMeta(id=identity.id, created=identity.created_at, model=identity.model)

    def answer(completion: Completion) -> web.Response:
        read = read_completion(completion, plan.reading)
        items = output_items(read, responses.namespaces)
        status = status_of(read.finish_reason)
        body = render_response(identity, responses, status=status, output=items, usage=read.usage)
        _keep(store, responses, earlier, items, body)
        return json_response(body)

    return unwrap_or_failure(assemble_completion(meta, collected).map(answer).alt(error_response))


def output_items(
    completion: Completion, namespaces: dict[str, str] | None = None
) -> tuple[OutputItem, ...]:
    """A read completion as output items: its reasoning, its answer (also when empty, unless
    it only called tools) and its calls."""
    items: list[OutputItem] = []
    if completion.reasoning:
        items.append(ReasoningItem(_new_id("rs"), completion.reasoning))
    if completion.content or not completion.tool_calls:
        items.append(MessageItem(_new_id("msg"), completion.content))
    spaces = namespaces or {}
    items.extend(
        FunctionCallItem(_new_id("fc"), call, spaces.get(call.name))
        for call in completion.tool_calls
    )
    return tuple(items)


def _keep(
    store: ResponseStore,
    responses: ResponsesRequest,
    earlier: tuple[Message, ...],
    items: tuple[OutputItem, ...],
    body: JSON,
) -> None:
    if responses.store:
        conversation = (*earlier, *responses.input, assistant_turn(items))
        store.put(str(body["id"]), StoredResponse(conversation, body))


async def retrieve_response(request: web.Request) -> web.Response:
    stored = request.app[RESPONSE_STORE].get(request.match_info["response_id"])
    return _answer(stored.map(lambda s: json_response(s.body)))


async def delete_response(request: web.Request) -> web.Response:
    response_id = request.match_info["response_id"]
    deleted = request.app[RESPONSE_STORE].delete(response_id)
    return _answer(deleted.map(lambda _: json_response(render_deleted(response_id))))


def _answer(result: Result[web.Response, ApiError]) -> web.Response:
    return unwrap_or_failure(result.alt(error_response))


class ResponseEvents:
    """One response's engine events → the Responses stream's events, numbered in order.
    ``final`` is the Response once it has ended well (completed or incomplete)."""

    def __init__(
        self, identity: ResponseIdentity, responses: ResponsesRequest, reading: OutputReading
    ) -> None:
        self.identity = identity
        self.responses = responses
        self.reader = OutputReader(reading)
        self.sequence = 0
        self.items: tuple[OutputItem, ...] = ()
        self.open: ReasoningItem | MessageItem | None = None  # the item text still goes to
        self.final: JSON | None = None
        self.done = False

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return encode_stream_event(event)

    def _response(self, status: ResponseStatus, usage: Usage | None = None, **extra: Any) -> JSON:
        return render_response(
            self.identity, self.responses, status=status, output=self.items, usage=usage, **extra
        )

    def opening(self) -> bytes:
        response = self._response("in_progress")
        return self._event("response.created", response=response) + self._event(
            "response.in_progress", response=response
        )

    def frames(self, event: Event) -> bytes:
        match event:
            case Delta(text=text):
                return self._pieces(self.reader.feed(text))
            case Finished(reason=reason, usage=usage):
                status = status_of(reason)
                last: ItemStatus = "incomplete" if status == "incomplete" else "completed"
                frames = self._pieces(self.reader.finish()) + self._close(last)
                if not self.items:  # an empty answer is still an (empty) message
                    frames += self._text(TextPiece("content", "")) + self._close(last)
                self.final = self._response(status, usage)
                self.done = True
                kind = "response.incomplete" if status == "incomplete" else "response.completed"
                return frames + self._event(kind, response=self.final)
            case Failed(error=error):
                self.done = True
                failed = self._response("failed", error=error)
                return self._event("response.failed", response=failed)
            case _:
                assert_never(event)

    def _pieces(self, pieces: list[TextPiece | ToolCall]) -> bytes:
        frames = b""
        for piece in pieces:
            if isinstance(piece, ToolCall):
                frames += self._close() + self._call(piece)
            else:
                frames += self._text(piece)
        return frames

    def _index(self) -> int:
        return len(self.items)

    def _text(self, piece: TextPiece) -> bytes:
        reasoning = piece.kind == "reasoning"
        frames = b""
        if self.open is None or isinstance(self.open, ReasoningItem) != reasoning:
            frames += self._close()
            item: ReasoningItem | MessageItem = (
                ReasoningItem(_new_id("rs"), "") if reasoning else MessageItem(_new_id("msg"), "")
            )
            self.open = item
            part = render_reasoning_text("") if reasoning else render_output_text("")
            frames += self._event(
                "response.output_item.added",
                output_index=self._index(),
                item=render_item(item, "in_progress"),
            )
            frames += self._event(
                "response.content_part.added",
                item_id=item.id,
                output_index=self._index(),
                content_index=0,
                part=part,
            )
        open_item = self.open
        self.open = attrs.evolve(open_item, text=open_item.text + piece.text)
        if not piece.text:
            return frames
        if reasoning:
            return frames + self._event(
                "response.reasoning_text.delta",
                item_id=open_item.id,
                output_index=self._index(),
                content_index=0,
                delta=piece.text,
            )
        return frames + self._event(
            "response.output_text.delta",
            item_id=open_item.id,
            output_index=self._index(),
            content_index=0,
            delta=piece.text,
            logprobs=[],
        )

    def _close(self, status: ItemStatus = "completed") -> bytes:
        """End the open text item: its text's done, its part's done, the item's done (with
        ``status``: ``incomplete`` for the item a token cap cut short)."""
        item = self.open
        if item is None:
            return b""
        self.open = None
        index = self._index()
        if isinstance(item, ReasoningItem):
            part = render_reasoning_text(item.text)
            frames = self._event(
                "response.reasoning_text.done",
                item_id=item.id,
                output_index=index,
                content_index=0,
                text=item.text,
            )
        else:
            part = render_output_text(item.text)
            frames = self._event(
                "response.output_text.done",
                item_id=item.id,
                output_index=index,
                content_index=0,
                text=item.text,
                logprobs=[],
            )
        frames += self._event(
            "response.content_part.done",
            item_id=item.id,
            output_index=index,
            content_index=0,
            part=part,
        )
        self.items = (*self.items, item)
        return frames + self._event(
            "response.output_item.done", output_index=index, item=render_item(item, status)
        )

    def _call(self, call: ToolCall) -> bytes:
        """A whole call: mlx-lm's parsers read a call once it is complete, so its arguments
        come in one delta."""
        item = FunctionCallItem(_new_id("fc"), call, self.responses.namespaces.get(call.name))
        index = self._index()
        frames = self._event(
            "response.output_item.added",
            output_index=index,
            item=render_item(item, "in_progress"),
        )
        frames += self._event(
            "response.function_call_arguments.delta",
            item_id=item.id,
            output_index=index,
            delta=call.arguments,
        )
        frames += self._event(
            "response.function_call_arguments.done",
            item_id=item.id,
            output_index=index,
            name=call.name,
            arguments=call.arguments,
        )
        self.items = (*self.items, item)
        return frames + self._event(
            "response.output_item.done", output_index=index, item=render_item(item)
        )
