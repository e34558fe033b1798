"""``/v1/messages``: Anthropic's Messages API over the same pipeline and engine as chat.

A request is parsed into a ChatRequest (wire) and planned by ``plan_chat``; the engine's events
become a Message object, or the Messages stream's named events: ``message_start``, then per
content block ``content_block_start``, its deltas (``thinking_delta``, ``text_delta`` or one
``input_json_delta``) and ``content_block_stop``, then ``message_delta`` with the stop reason
and usage, and last ``message_stop``. A failure once the stream has begun is an ``error``
event. ``/v1/messages/count_tokens`` counts the prompt the same request would have.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import assert_never

import orjson
from aiohttp import web
from returns.methods import unwrap_or_failure
from returns.result import Result

from mlxfn.domain.errors import ApiError
from mlxfn.domain.events import Completion, Delta, Event, Failed, Finished, ResponseMeta
from mlxfn.domain.messages import ToolCall
from mlxfn.domain.messages_api import (
    ContentBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    content_blocks,
    stopped_by,
)
from mlxfn.domain.request import ChatRequest
from mlxfn.engine.thread import Engine
from mlxfn.pipeline.chat import check_model, offered_tools, plan_chat
from mlxfn.pipeline.completion import assemble_completion, read_completion
from mlxfn.pipeline.markup import TextPiece
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.pipeline.prompt import build_prompt
from mlxfn.pipeline.reading import OutputReader
from mlxfn.server.generation import Events, collect_events, generate, off_loop
from mlxfn.server.responses import error_response, json_response
from mlxfn.server.streaming import stream_events
from mlxfn.wire.messages_api_render import (
    JSON,
    encode_stream_event,
    render_block,
    render_message,
    render_messages_error,
    render_token_count,
    render_usage,
)
from mlxfn.wire.messages_api_requests import (
    messages_param,
    parse_count_tokens_request,
    parse_messages_request,
)


def _new_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


async def create_message(request: web.Request, engine: Engine, body: bytes) -> web.StreamResponse:
    planned = await off_loop(request, partial(_plan, body, engine))
    model = engine.loaded.name
    return await generate(request, engine, planned, partial(_answer_message, request, model))


def _plan(
    body: bytes, engine: Engine
) -> Result[tuple[tuple[ChatRequest, GenerationPlan], tuple[GenerationPlan]], ApiError]:
    loaded = engine.loaded

    def plan_of(chat: ChatRequest) -> Result[tuple[ChatRequest, GenerationPlan], ApiError]:
        return plan_chat(chat, loaded.tokenizer, engine.limits, loaded.name).map(
            lambda plan: (chat, plan)
        )

    planned = parse_messages_request(body).bind(plan_of).alt(messages_param)
    return planned.map(lambda pair: (pair, (pair[1],)))


def _stop_sequences(chat: ChatRequest) -> tuple[str, ...]:
    return () if chat.stop is None else chat.stop.sequences


async def _answer_message(
    request: web.Request, model: str, planned: tuple[ChatRequest, GenerationPlan], events: Events
) -> web.StreamResponse:
    chat, plan = planned
    message_id = _new_id()
    if chat.stream:
        writer = MessageEvents(message_id, model, plan, _stop_sequences(chat))
        return await stream_events(request, writer.opening(), events, writer)
    collected = await collect_events(events, 1)
    return _answer(
        _whole_message(message_id, model, plan, _stop_sequences(chat), collected), request.path
    )


def _whole_message(
    message_id: str,
    model: str,
    plan: GenerationPlan,
    stop_sequences: tuple[str, ...],
    collected: list[Event],
) -> Result[JSON, ApiError]:
    meta = ResponseMeta(id=message_id, created=0, model=model)
    finished = next((e for e in collected if isinstance(e, Finished)), None)

    def render(completion: Completion) -> JSON:
        read = read_completion(completion, plan.reading)
        reason, stop = ("stop", None) if finished is None else (finished.reason, finished.stop)
        stopped = stopped_by(reason, stop, stop_sequences, made_calls=bool(read.tool_calls))
        blocks = content_blocks(read.reasoning, read.content, read.tool_calls)
        return render_message(message_id, model, blocks, stopped, render_usage(read.usage))

    return assemble_completion(meta, collected).map(render)


def _answer(result: Result[JSON, ApiError], path: str) -> web.Response:
    return unwrap_or_failure(result.map(json_response).alt(lambda err: error_response(err, path)))


async def count_tokens(request: web.Request, engine: Engine, body: bytes) -> web.Response:
    counted = await off_loop(request, partial(_count, body, engine))
    return _answer(counted, request.path)


def _count(body: bytes, engine: Engine) -> Result[JSON, ApiError]:
    """The prompt's tokens as ``plan_chat`` renders it: chat template, system and tools."""
    loaded = engine.loaded

    def count(chat: ChatRequest) -> Result[JSON, ApiError]:
        return (
            check_model(loaded.name, chat.model, engine.limits.model_aliases)
            .bind(
                lambda _: build_prompt(
                    chat.conversation,
                    loaded.tokenizer,
                    offered_tools(chat.tools),
                    continue_final=chat.continue_final,
                )
            )
            .map(lambda prompt: render_token_count(prompt.token_count))
        )

    return parse_count_tokens_request(body).bind(count).alt(messages_param)


class MessageEvents:
    """One message's engine events → the Messages stream's named events, block by block."""

    def __init__(
        self, message_id: str, model: str, plan: GenerationPlan, stop_sequences: tuple[str, ...]
    ) -> None:
        self.message_id = message_id
        self.model = model
        self.prompt_tokens = len(plan.prompt)
        self.stop_sequences = stop_sequences
        self.reader = OutputReader(plan.reading)
        self.index = 0  # the next block's
        self.open: ThinkingBlock | TextBlock | None = None  # the block text still goes to
        self.calls = 0
        self.done = False

    def opening(self) -> bytes:
        # the prefix cache's share is known once the prompt is in; message_delta says it
        usage = {
            "input_tokens": self.prompt_tokens,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
        message = render_message(self.message_id, self.model, (), None, usage)
        return encode_stream_event({"type": "message_start", "message": message})

    def frames(self, event: Event) -> bytes:
        match event:
            case Delta(text=text):
                return self._pieces(self.reader.feed(text))
            case Finished(reason=reason, usage=usage, stop=stop):
                frames = self._pieces(self.reader.finish()) + self._close()
                if self.index == 0:  # an empty answer is still an (empty) text block
                    frames += self._start(TextBlock("")) + self._close_index()
                stopped = stopped_by(reason, stop, self.stop_sequences, made_calls=self.calls > 0)
                self.done = True
                delta = {
                    "type": "message_delta",
                    "delta": {"stop_reason": stopped.reason, "stop_sequence": stopped.sequence},
                    "usage": render_usage(usage),
                }
                return (
                    frames
                    + encode_stream_event(delta)
                    + encode_stream_event({"type": "message_stop"})
                )
            case Failed(error=error):
                self.done = True
                return encode_stream_event(render_messages_error(error))
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

    def _start(self, block: ContentBlock) -> bytes:
        return encode_stream_event(
            {
                "type": "content_block_start",
                "index": self.index,
                "content_block": render_block(block, started=True),
            }
        )

    def _delta(self, delta: JSON) -> bytes:
        return encode_stream_event(
            {"type": "content_block_delta", "index": self.index, "delta": delta}
        )

    def _close_index(self) -> bytes:
        frames = encode_stream_event({"type": "content_block_stop", "index": self.index})
        self.index += 1
        return frames

    def _text(self, piece: TextPiece) -> bytes:
        thinking = piece.kind == "reasoning"
        frames = b""
        if self.open is None or isinstance(self.open, ThinkingBlock) != thinking:
            frames += self._close()
            self.open = ThinkingBlock("") if thinking else TextBlock("")
            frames += self._start(self.open)
        if not piece.text:
            return frames
        if thinking:
            return frames + self._delta({"type": "thinking_delta", "thinking": piece.text})
        return frames + self._delta({"type": "text_delta", "text": piece.text})

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        frames = b""
        if isinstance(self.open, ThinkingBlock):  # no signature: nothing here signs thinking
            frames += self._delta({"type": "signature_delta", "signature": ""})
        self.open = None
        return frames + self._close_index()

    def _call(self, call: ToolCall) -> bytes:
        """A whole call: mlx-lm's parsers read a call once it is complete, so its input
        comes in one delta."""
        self.calls += 1
        block = ToolUseBlock(call)
        # the input as the whole message renders it, so that both ways give the same object
        whole = orjson.dumps(render_block(block)["input"]).decode()
        return (
            self._start(block)
            + self._delta({"type": "input_json_delta", "partial_json": whole})
            + self._close_index()
        )
