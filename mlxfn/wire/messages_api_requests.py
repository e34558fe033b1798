"""Messages API request bytes → domain values: the same ChatRequest chat completions make.

Content blocks and tools are told apart by ``type`` here, one at a time, so that an error
names the block (``messages[2].content[0].type``). Text blocks become message text,
``tool_use`` blocks an assistant turn's calls, ``tool_result`` blocks tool messages; thinking
blocks are accepted and left out of the prompt. The top-level ``system`` and any message of
role ``system`` (Claude Code sends one) become one leading system message, since many chat
templates refuse a system message anywhere but first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, Final

import attrs
import orjson
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.domain.request import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, ChatRequest, SamplingParams
from mlxfn.domain.response_format import TEXT, JsonSchemaFormat, ResponseFormat
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import (
    MaxTokens,
    MinP,
    ModelName,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
    refine,
)
from mlxfn.pipeline.grammar import check_response_format
from mlxfn.wire.converter import structure_as
from mlxfn.wire.messages_api_bodies import (
    BlockContent,
    CountTokensBody,
    CustomToolBody,
    MessageParamBody,
    MessagesBody,
    OutputConfigBody,
    OutputFormatBody,
    TextBlockBody,
    ThinkingBlockBody,
    ThinkingConfigBody,
    ToolChoiceBody,
    ToolResultBlockBody,
    ToolUseBlockBody,
)
from mlxfn.wire.requests import optional_field, parse_body

_Check = Callable[[Any], bool]
# Fields Anthropic defines that mlxfn cannot honour: (field, is the value harmless?, why not).
# Those Claude Code sends (context_management, output_config.effort, thinking, metadata,
# cache_control) change nothing here and are accepted.
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("mcp_servers", lambda v: not v, "MCP servers are not supported: this server runs no tools"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "standard_only"),
        "only service_tier 'auto' or 'standard_only' is available",
    ),
)
THINKING_TYPES: Final = ("enabled", "disabled", "adaptive", "between_tools")
EFFORTS: Final = ("low", "medium", "high", "xhigh", "max")
SPEEDS: Final = ("standard", "fast")
# Anthropic's versioned server and client tools (web_search_20250305, bash_20250124,
# text_editor_20250728, ...): this server has nothing to run them with, so the model is not
# shown them (Claude Code's custom tools have no type, or type "custom").
SERVER_TOOL: Final = re.compile(r"[a-z][a-z0-9_]*_\d{8}")
MAX_TEMPERATURE: Final = 1.0  # Anthropic's range is [0, 1]
USER_BLOCKS: Final = ("text", "tool_result")
ASSISTANT_BLOCKS: Final = ("text", "tool_use", "thinking", "redacted_thinking")
# Chat's names for the fields a Messages request spells otherwise, for errors of the shared
# pipeline (the server's caps, the schema compiler, the forced-call grammar).
_MESSAGES_PARAM: Final[dict[str, str]] = {
    "stop": "stop_sequences",
    "response_format": "output_config.format",
    "response_format.json_schema.schema": "output_config.format.schema",
}
_OUTPUT_FORMAT_NAME: Final = "output"


def parse_messages_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """``POST /v1/messages`` body bytes → a ChatRequest, or the 4xx naming the field.

    >>> body = b'{"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}'
    >>> parse_messages_request(body).unwrap().conversation.messages
    (UserMessage(content='hi', name=None),)
    >>> parse_messages_request(b'{"model": "m", "messages": []}').failure().param
    'max_tokens'
    """
    return parse_body(body, MessagesBody, refine_messages_body).alt(messages_param)


def parse_count_tokens_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """``POST /v1/messages/count_tokens`` body bytes → the ChatRequest whose prompt is counted."""
    return parse_body(body, CountTokensBody, refine_count_tokens_body).alt(messages_param)


def messages_param(err: ApiError) -> ApiError:
    """An error of the shared chat path, naming the field as a Messages request spells it.

    >>> messages_param(InvalidRequest("too many", param="stop")).param
    'stop_sequences'
    """
    match err:
        case InvalidRequest(param=str(param)) if param in _MESSAGES_PARAM:
            return attrs.evolve(err, param=_MESSAGES_PARAM[param])
        case _:
            return err


def reject_unsupported(body: MessagesBody) -> Result[MessagesBody, ApiError]:
    """Fail on the first field set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    return _check_accepted(body.thinking, body.output_config, body.speed).map(lambda _: body)


def _check_accepted(
    thinking: ThinkingConfigBody | None, output: OutputConfigBody | None, speed: str | None
) -> Result[None, ApiError]:
    """The fields accepted and left alone must still hold values Anthropic defines."""
    if thinking is not None and thinking.type not in THINKING_TYPES:
        return Failure(
            InvalidRequest(
                f"thinking.type must be one of {', '.join(THINKING_TYPES)}; got {thinking.type!r}",
                param="thinking.type",
            )
        )
    budget = None if thinking is None else thinking.budget_tokens
    if thinking is not None and thinking.type == "enabled" and (budget is None or budget < 1):
        return Failure(
            InvalidRequest(
                "thinking.budget_tokens: enabled thinking needs a positive budget_tokens",
                param="thinking.budget_tokens",
            )
        )
    if output is not None and output.effort not in (None, *EFFORTS):
        return Failure(
            InvalidRequest(
                f"output_config.effort must be one of {', '.join(EFFORTS)}; got {output.effort!r}",
                param="output_config.effort",
            )
        )
    if speed not in (None, *SPEEDS):
        return Failure(
            InvalidRequest(f"speed must be 'standard' or 'fast'; got {speed!r}", param="speed")
        )
    return Success(None)


def refine_messages_body(body: MessagesBody) -> Result[ChatRequest, ApiError]:
    return flow(body, reject_unsupported, bind(_refine_checked))


def _refine_checked(body: MessagesBody) -> Result[ChatRequest, ApiError]:
    return Result.do(
        ChatRequest(
            model=model,
            conversation=conversation,
            sampling=sampling,
            max_tokens=max_tokens,
            stop=stop,
            stream=bool(body.stream),
            user=body.metadata.user_id if body.metadata else None,
            tools=tools,
            response_format=response_format,
        )
        for model in ModelName.parse(body.model)
        for conversation in refine_conversation(body.system, body.messages)
        for sampling in _refine_sampling(body)
        for max_tokens in MaxTokens.parse(body.max_tokens)
        for stop in _refine_stop(body.stop_sequences)
        for tools in refine_tools(body.tools, body.tool_choice)
        for response_format in refine_output_format(body.output_config, body.output_format)
    )


def refine_count_tokens_body(body: CountTokensBody) -> Result[ChatRequest, ApiError]:
    """The request whose prompt is counted: its model, messages, system and tools."""
    if body.mcp_servers:
        return Failure(
            InvalidRequest(
                "MCP servers are not supported: this server runs no tools", param="mcp_servers"
            )
        )
    return _check_accepted(body.thinking, body.output_config, body.speed).bind(
        lambda _: Result.do(
            ChatRequest(model=model, conversation=conversation, tools=tools)
            for model in ModelName.parse(body.model)
            for conversation in refine_conversation(body.system, body.messages)
            for tools in refine_tools(body.tools, body.tool_choice)
            for _format in refine_output_format(body.output_config, body.output_format)
        )
    )


def _temperature(raw: float) -> Result[Temperature, ApiError]:
    if raw > MAX_TEMPERATURE:
        return Failure(
            InvalidRequest(
                f"temperature must be a number in [0, 1], got {raw}", param="temperature"
            )
        )
    return Temperature.parse(raw)


def _refine_sampling(body: MessagesBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(temperature=t, top_p=p, top_k=k, min_p=m, seed=s, repetition_penalty=r)
        for t in optional_field(body.temperature, _temperature, DEFAULT_TEMPERATURE)
        for p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for k in optional_field(body.top_k, TopK.parse)
        for m in optional_field(body.min_p, MinP.parse)
        for s in optional_field(body.seed, Seed.parse)
        for r in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )


def _refine_stop(raw: tuple[str, ...] | None) -> Result[Stop | None, ApiError]:
    return Success(None) if not raw else Stop.parse(raw)


# -- messages ------------------------------------------------------------------------------------


def refine_conversation(
    system: str | tuple[TextBlockBody, ...] | None, bodies: tuple[MessageParamBody, ...]
) -> Result[Conversation, ApiError]:
    """``system`` and ``messages`` → the conversation: every system text in one leading
    system message, then the turns in order."""
    if not bodies:
        return Failure(InvalidRequest("messages must hold at least one message", param="messages"))
    systems = [] if system is None else [_system_text(system)]
    turns: list[Message] = []
    for index, body in enumerate(bodies):
        match _refine_message(body, f"messages[{index}]"):
            case Success(messages):
                for message in messages:
                    if isinstance(message, SystemMessage):
                        systems.append(message.content)
                    else:
                        turns.append(message)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    head = (SystemMessage("\n\n".join(systems)),) if systems else ()
    return Success(Conversation((*head, *turns)))


def _system_text(system: str | tuple[TextBlockBody, ...]) -> str:
    return system if isinstance(system, str) else "\n\n".join(block.text for block in system)


def _structured(item: dict[str, Any], cls: type[Any], param: str) -> Result[Any, ApiError]:
    def where(err: ApiError) -> ApiError:
        if not isinstance(err, InvalidRequest):
            return err
        inner = err.param
        return InvalidRequest(
            f"{param}: {err.message}", param=f"{param}.{inner}" if inner else param
        )

    return structure_as(item, cls).alt(where)


def _refine_message(body: MessageParamBody, param: str) -> Result[tuple[Message, ...], ApiError]:
    content = f"{param}.content"
    match body.role:
        case "user":
            return _user_turn(body.content, content)
        case "assistant":
            return _assistant_turn(body.content, content)
        case "system":  # what Claude Code sends inside messages
            return _text_blocks(body.content, content).map(lambda text: (SystemMessage(text),))
        case other:
            return Failure(
                InvalidRequest(
                    f"role must be 'user' or 'assistant'; got {other!r}", param=f"{param}.role"
                )
            )


def _unsupported_block(kind: object, param: str, accepted: tuple[str, ...]) -> ApiError:
    return InvalidRequest(
        f"content block type {kind!r} is not supported here; this server accepts "
        f"{', '.join(accepted)} blocks (it reads no images or documents)",
        param=f"{param}.type",
    )


def _user_turn(content: BlockContent, param: str) -> Result[tuple[Message, ...], ApiError]:
    """Text blocks become user messages, tool results tool messages, in the order sent."""
    if isinstance(content, str):
        return Success((UserMessage(content),))
    messages: list[Message] = []
    texts: list[str] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        kind = block.get("type")
        if kind == "text":
            match _structured(block, TextBlockBody, where):
                case Success(text):
                    texts.append(text.text)
                case Failure(err):
                    return Failure(err)
                case _:
                    raise AssertionError("unreachable")
        elif kind == "tool_result":
            match _structured(block, ToolResultBlockBody, where).bind(
                partial(_tool_result, param=where)
            ):
                case Success(message):
                    if texts:
                        messages.append(UserMessage("\n".join(texts)))
                        texts = []
                    messages.append(message)
                case Failure(err):
                    return Failure(err)
                case _:
                    raise AssertionError("unreachable")
        else:
            return Failure(_unsupported_block(kind, where, USER_BLOCKS))
    if texts or not messages:
        messages.append(UserMessage("\n".join(texts)))
    return Success(tuple(messages))


def _tool_result(result: ToolResultBlockBody, param: str) -> Result[Message, ApiError]:
    content = "" if result.content is None else result.content
    return _text_blocks(content, f"{param}.content").map(
        lambda text: ToolMessage(f"Error: {text}" if result.is_error else text, result.tool_use_id)
    )


def _text_blocks(content: BlockContent, param: str) -> Result[str, ApiError]:
    """String-or-blocks content as one string; only text blocks are accepted."""
    if isinstance(content, str):
        return Success(content)
    texts: list[str] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        if block.get("type") != "text":
            return Failure(_unsupported_block(block.get("type"), where, ("text",)))
        match _structured(block, TextBlockBody, where):
            case Success(text):
                texts.append(text.text)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success("\n".join(texts))


def _assistant_turn(content: BlockContent, param: str) -> Result[tuple[Message, ...], ApiError]:
    """Text blocks are the turn's text, tool_use blocks its calls; thinking is left out."""
    if isinstance(content, str):
        return Success((AssistantMessage(content),))
    texts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        where = f"{param}[{index}]"
        kind = block.get("type")
        cls: type[Any]
        if kind == "text":
            cls = TextBlockBody
        elif kind == "tool_use":
            cls = ToolUseBlockBody
        elif kind in ("thinking", "redacted_thinking"):
            cls = ThinkingBlockBody
        else:
            return Failure(_unsupported_block(kind, where, ASSISTANT_BLOCKS))
        match _structured(block, cls, where):
            case Success(TextBlockBody(text=text)):
                texts.append(text)
            case Success(ToolUseBlockBody(id=call_id, name=name, input=arguments)):
                calls.append(ToolCall(call_id, name, orjson.dumps(arguments).decode()))
            case Success(_):
                pass
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    text = "\n".join(texts)
    return Success((AssistantMessage(text if text or not calls else None, tuple(calls)),))


# -- tools and output formats --------------------------------------------------------------------


def refine_tools(
    raw: tuple[dict[str, Any], ...] | None, choice: ToolChoiceBody | None
) -> Result[ToolSpec | None, ApiError]:
    """``tools`` and ``tool_choice`` → one ToolSpec (None: no tools offered). Anthropic's
    ``any`` is ``required``, ``{"type": "tool", "name": ...}`` a named choice."""
    return _refine_tool_list(raw or ()).bind(
        lambda tools: _refine_tool_choice(choice, tools).map(
            lambda picked: _tool_spec(tools, picked, choice)
        )
    )


def _tool_spec(
    tools: tuple[FunctionTool, ...], choice: ToolChoice, body: ToolChoiceBody | None
) -> ToolSpec | None:
    if not tools:
        return None
    parallel = body is None or not body.disable_parallel_tool_use
    return ToolSpec(tools=tools, choice=choice, parallel=parallel)


def _refine_tool_list(
    raw: tuple[dict[str, Any], ...],
) -> Result[tuple[FunctionTool, ...], ApiError]:
    tools: list[FunctionTool] = []
    for index, item in enumerate(raw):
        where = f"tools[{index}]"
        kind = item.get("type")
        if isinstance(kind, str) and SERVER_TOOL.fullmatch(kind):
            continue
        if kind not in (None, "custom"):
            return Failure(
                InvalidRequest(
                    f"tool type {kind!r} is not supported; custom tools are, and Anthropic's "
                    "versioned server tools (web_search_20250305, ...) are left out",
                    param=f"{where}.type",
                )
            )
        match _structured(item, CustomToolBody, where).bind(partial(_refine_tool, param=where)):
            case Success(tool):
                if tool.name in {t.name for t in tools}:
                    return Failure(
                        InvalidRequest(
                            f"tools holds the name {tool.name!r} twice", param=f"{where}.name"
                        )
                    )
                tools.append(tool)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(tuple(tools))


def _refine_tool(body: CustomToolBody, param: str) -> Result[FunctionTool, ApiError]:
    schema = body.input_schema
    if schema is not None and schema.get("type", "object") != "object":
        return Failure(
            InvalidRequest(
                "input_schema must be a JSON Schema of type object",
                param=f"{param}.input_schema",
            )
        )
    return refine(
        lambda name: FunctionTool(
            name=name, description=body.description, parameters=schema, strict=bool(body.strict)
        ),
        body.name,
        f"{param}.name",
    )


def _refine_tool_choice(
    body: ToolChoiceBody | None, tools: tuple[FunctionTool, ...]
) -> Result[ToolChoice, ApiError]:
    choice: ToolChoice
    match body:
        case None | ToolChoiceBody(type="auto"):
            return Success("auto")
        case ToolChoiceBody(type="none"):
            return Success("none")
        case ToolChoiceBody(type="any"):
            choice = "required"
        case ToolChoiceBody(type="tool", name=str(name)):
            if name not in {t.name for t in tools}:
                return Failure(
                    InvalidRequest(
                        f"tool_choice.name names the tool {name!r}, which is not in tools",
                        param="tool_choice.name",
                    )
                )
            choice = NamedToolChoice(name)
        case ToolChoiceBody(type="tool"):
            return Failure(
                InvalidRequest(
                    "tool_choice.name: a tool choice of type 'tool' needs its name",
                    param="tool_choice.name",
                )
            )
        case ToolChoiceBody(type=other):
            return Failure(
                InvalidRequest(
                    f"tool_choice.type must be 'auto', 'any', 'tool' or 'none'; got {other!r}",
                    param="tool_choice.type",
                )
            )
        case _:
            raise AssertionError("unreachable")
    if not tools:
        return Failure(
            InvalidRequest(
                "tool_choice forces a tool call, but no tools are offered", param="tool_choice"
            )
        )
    return Success(choice)


def refine_output_format(
    config: OutputConfigBody | None, beta: OutputFormatBody | None
) -> Result[ResponseFormat, ApiError]:
    """``output_config.format`` (or the beta ``output_format``): a JSON schema the answer is
    held to by the same constrained decoding chat's response_format uses."""
    if config is not None and config.format is not None:
        return _output_format(config.format, "output_config.format")
    if beta is not None:
        return _output_format(beta, "output_format")
    return Success(TEXT)


def _output_format(body: OutputFormatBody, param: str) -> Result[ResponseFormat, ApiError]:
    if body.type != "json_schema":
        return Failure(
            InvalidRequest(
                f"{param}.type must be 'json_schema'; got {body.type!r}", param=f"{param}.type"
            )
        )
    if body.schema is None:
        return Failure(
            InvalidRequest(f"{param}.schema: a json_schema format needs its schema", param=param)
        )

    def named(err: ApiError) -> ApiError:
        if isinstance(err, InvalidRequest) and err.param is not None:
            return attrs.evolve(err, param=param + ".schema")
        return err

    return (
        JsonSchemaFormat.parse(name=_OUTPUT_FORMAT_NAME, schema=body.schema, strict=True)
        .bind(check_response_format)
        .alt(named)
    )
