"""Request bytes → domain requests: the edge where untrusted JSON stops.

The field policy lives here. Every field OpenAI defines is either honoured (it changes what we
do) or rejected with a 400 naming it; fields nobody defines are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    DeveloperMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.domain.request import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    ONE_CHOICE,
    ChatRequest,
    SamplingParams,
)
from mlxfn.domain.response_format import (
    TEXT,
    JsonObjectFormat,
    JsonSchemaFormat,
    ResponseFormat,
)
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import (
    ChoiceCount,
    LogitBias,
    MaxTokens,
    MinP,
    ModelName,
    Penalty,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopLogprobs,
    TopP,
    refine,
)
from mlxfn.pipeline.grammar import check_response_format
from mlxfn.wire.bodies import (
    AssistantBody,
    ChatBody,
    CompletionBody,
    Content,
    DeveloperBody,
    FunctionBody,
    MessageBody,
    ResponseFormatBody,
    StreamOptionsBody,
    SystemBody,
    ToolBody,
    ToolDefinitionBody,
    UserBody,
)
from mlxfn.wire.codec import decode_json, require_object
from mlxfn.wire.converter import structure_as

# Fields OpenAI defines that mlxfn cannot honour yet: (field, is the value harmless?, why not).
# A harmless value (null, the default, an empty list) is accepted; anything else is a 400.
_Check = Callable[[Any], bool]
_Body = TypeVar("_Body")
_Request = TypeVar("_Request")
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("functions", lambda v: v is None, "functions is deprecated and not supported; use tools"),
    ("function_call", lambda v: v is None, "function_call is deprecated and not supported"),
    ("modalities", lambda v: v in (None, ("text",)), "only the text modality is supported"),
    ("audio", lambda v: v is None, "audio output is not supported"),
    ("prediction", lambda v: v is None, "predicted outputs are not supported"),
    ("reasoning_effort", lambda v: v is None, "this server has no reasoning effort control"),
    ("verbosity", lambda v: v is None, "verbosity is not supported"),
    ("web_search_options", lambda v: v is None, "web search is not supported"),
    ("moderation", lambda v: v is None, "moderation is not supported"),
    ("store", lambda v: v in (None, False), "this server does not store completions"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "default"),
        "only service_tier 'auto' or 'default' is available",
    ),
)


def parse_chat_request(body: bytes) -> Result[ChatRequest, ApiError]:
    """Request body bytes → a ChatRequest, or the 4xx error naming what is wrong.

    >>> parse_chat_request(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')
    ... # doctest: +ELLIPSIS
    <Success: ChatRequest(model=ModelName(value='m'), ...)>
    >>> parse_chat_request(b'{"model": "m", "messages": [], "temperature": 3}').failure().param
    'messages'
    """
    return parse_body(body, ChatBody, refine_chat_body)


def parse_body(
    body: bytes, wire: type[_Body], refine: Callable[[_Body], Result[_Request, ApiError]]
) -> Result[_Request, ApiError]:
    """Request bytes → a JSON object → the wire body ``wire`` → the domain request ``refine``
    makes of it; the first step that fails names what is wrong."""

    def structure(raw: dict[str, Any]) -> Result[_Body, ApiError]:
        return structure_as(raw, wire)

    return flow(body, decode_json, bind(require_object), bind(structure), bind(refine))


def reject_unsupported(body: ChatBody) -> Result[ChatBody, ApiError]:
    """Fail on the first field that is set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    return check_stream_options(body.stream, body.stream_options).map(lambda _: body)


def check_stream_options(
    stream: bool | None, options: StreamOptionsBody | None
) -> Result[None, ApiError]:
    """``stream_options`` needs ``stream``, and obfuscation padding is not offered."""
    if options is not None and not stream:
        return Failure(
            InvalidRequest(
                "stream_options is only allowed when stream is true", param="stream_options"
            )
        )
    if options is not None and options.include_obfuscation:
        return Failure(
            InvalidRequest(
                "stream obfuscation is not supported",
                param="stream_options.include_obfuscation",
                code="unsupported_parameter",
            )
        )
    return Success(None)


def refine_chat_body(body: ChatBody) -> Result[ChatRequest, ApiError]:
    """A structured wire body → the domain request, checking every range."""
    return flow(body, reject_unsupported, bind(_refine_checked_body))


def optional_field(
    raw: Any, parse: Callable[[Any], Result[Any, ApiError]], default: Any = None
) -> Result[Any, ApiError]:
    return Success(default) if raw is None else parse(raw)


def _refine_max_tokens(body: ChatBody) -> Result[MaxTokens | None, ApiError]:
    # max_completion_tokens supersedes the deprecated max_tokens when both are sent.
    if body.max_completion_tokens is not None:
        return MaxTokens.parse(body.max_completion_tokens, "max_completion_tokens")
    return optional_field(body.max_tokens, MaxTokens.parse)


def refine_stop(raw: str | tuple[str, ...] | None) -> Result[Stop | None, ApiError]:
    if raw is None:
        return Success(None)
    return Stop.parse((raw,) if isinstance(raw, str) else raw)


def _penalty(raw: float | None, param: str) -> Result[Penalty | None, ApiError]:
    # 0 is OpenAI's default and changes nothing: no processor for it
    if raw is None or raw == 0:
        return Success(None)
    return Penalty.parse(raw, param)


def _refine_logit_bias(raw: dict[str, float] | None) -> Result[LogitBias | None, ApiError]:
    return Success(None) if not raw else LogitBias.parse(raw)


def refine_sampling(body: ChatBody | CompletionBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            min_p=min_p,
            seed=seed,
            logit_bias=logit_bias,
            presence_penalty=presence,
            frequency_penalty=frequency,
            repetition_penalty=repetition,
        )
        for temperature in optional_field(body.temperature, Temperature.parse, DEFAULT_TEMPERATURE)
        for top_p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for top_k in optional_field(body.top_k, TopK.parse)
        for min_p in optional_field(body.min_p, MinP.parse)
        for seed in optional_field(body.seed, Seed.parse)
        for logit_bias in _refine_logit_bias(body.logit_bias)
        for presence in _penalty(body.presence_penalty, "presence_penalty")
        for frequency in _penalty(body.frequency_penalty, "frequency_penalty")
        for repetition in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )


def _refine_logprobs(body: ChatBody) -> Result[TopLogprobs | None, ApiError]:
    if body.logprobs:
        return TopLogprobs.parse(body.top_logprobs or 0)
    if body.top_logprobs:  # 0 alone is harmless; more needs logprobs, as at OpenAI
        return Failure(
            InvalidRequest("top_logprobs needs logprobs set to true", param="top_logprobs")
        )
    return Success(None)


def _refine_checked_body(body: ChatBody) -> Result[ChatRequest, ApiError]:
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return Result.do(
        ChatRequest(
            model=model,
            conversation=conversation,
            sampling=sampling,
            max_tokens=max_tokens,
            stop=stop,
            n=n,
            logprobs=logprobs,
            stream=bool(body.stream),
            include_usage=include_usage,
            user=body.safety_identifier or body.user,
            tools=tools,
            response_format=response_format,
        )
        for model in ModelName.parse(body.model)
        for conversation in refine_messages(body.messages)
        for sampling in refine_sampling(body)
        for max_tokens in _refine_max_tokens(body)
        for stop in refine_stop(body.stop)
        for n in optional_field(body.n, ChoiceCount.parse, ONE_CHOICE)
        for tools in refine_tools(body)
        for response_format in refine_response_format(body.response_format)
        for logprobs in _refine_logprobs(body)
    )


def refine_response_format(body: ResponseFormatBody | None) -> Result[ResponseFormat, ApiError]:
    """The wire's response_format → a domain format whose grammar llguidance can compile.

    A json_schema without a schema asks for any JSON value.
    """
    if body is None:
        return Success(TEXT)
    match body.type:
        case "text":
            return Success(TEXT)
        case "json_object":
            return Success(JsonObjectFormat())
        case "json_schema":
            spec = body.json_schema
            if spec is None:
                return Failure(
                    InvalidRequest(
                        "a json_schema response format needs its json_schema object",
                        param="response_format.json_schema",
                    )
                )
            return JsonSchemaFormat.parse(
                name=spec.name,
                schema={} if spec.schema is None else spec.schema,
                description=spec.description,
                strict=bool(spec.strict),
            ).bind(check_response_format)
        case other:
            return Failure(
                InvalidRequest(
                    f"response_format type must be 'text', 'json_object' or 'json_schema', "
                    f"got {other!r}",
                    param="response_format.type",
                )
            )


def refine_messages(bodies: tuple[MessageBody, ...]) -> Result[Conversation, ApiError]:
    if not bodies:
        return Failure(InvalidRequest("messages must hold at least one message", param="messages"))
    messages: list[Message] = []
    for index, body in enumerate(bodies):
        match refine_message(body, f"messages[{index}]"):
            case Success(message):
                messages.append(message)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(Conversation(tuple(messages)))


def _text_of(content: Content, param: str) -> Result[str, ApiError]:
    """Normalise string-or-parts content to one string; only text parts are accepted."""
    if isinstance(content, str):
        return Success(content)
    texts: list[str] = []
    for index, part in enumerate(content):
        where = f"{param}.content[{index}]"
        if part.type not in ("text", "refusal"):
            return Failure(
                InvalidRequest(
                    f"content part type {part.type!r} is not supported; this server "
                    "accepts text parts only",
                    param=f"{where}.type",
                )
            )
        text = part.refusal if part.type == "refusal" else part.text
        if text is None:  # the field a part of this type carries its text in
            return Failure(
                InvalidRequest(
                    f"a {part.type} part needs its {part.type}", param=f"{where}.{part.type}"
                )
            )
        texts.append(text)
    return Success("".join(texts))


def refine_message(body: MessageBody, param: str) -> Result[Message, ApiError]:
    match body:
        case SystemBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: SystemMessage(t, name))
        case DeveloperBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: DeveloperMessage(t, name))
        case UserBody(content=content, name=name):
            return _text_of(content, param).map(lambda t: UserMessage(t, name))
        case ToolBody(content=content, tool_call_id=call_id):
            return _text_of(content, param).map(lambda t: ToolMessage(t, call_id))
        case AssistantBody():
            return _refine_assistant(body, param)
        case FunctionBody():
            return Failure(
                InvalidRequest(
                    "the function role is deprecated and not supported; use tool messages",
                    param=f"{param}.role",
                )
            )
        case _:
            raise AssertionError("unreachable")


def _refine_assistant(body: AssistantBody, param: str) -> Result[Message, ApiError]:
    if body.audio is not None or body.function_call is not None:
        field = "audio" if body.audio is not None else "function_call"
        return Failure(InvalidRequest(f"{field} is not supported", param=f"{param}.{field}"))
    calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in body.tool_calls or ()
    )
    if body.content is None and not calls and body.refusal is None:
        return Failure(
            InvalidRequest(
                "an assistant message needs content or tool_calls", param=f"{param}.content"
            )
        )
    content = body.content if body.content is not None else body.refusal
    if content is None:
        return Success(AssistantMessage(None, calls, body.name))
    return _text_of(content, param).map(lambda t: AssistantMessage(t, calls, body.name))


def refine_tools(body: ChatBody) -> Result[ToolSpec | None, ApiError]:
    """``tools``, ``tool_choice`` and ``parallel_tool_calls`` → one ToolSpec, or None when no
    tools are offered (then only the harmless choices ``none`` and ``auto`` are accepted)."""

    def spec_of(tools: tuple[FunctionTool, ...]) -> Result[ToolSpec | None, ApiError]:
        return _refine_tool_choice(body.tool_choice, has_tools=bool(tools)).bind(
            lambda choice: _tool_spec(tools, choice, body.parallel_tool_calls)
        )

    return _refine_tool_list(body.tools or ()).bind(spec_of)


def _tool_spec(
    tools: tuple[FunctionTool, ...], choice: ToolChoice | None, parallel: bool | None
) -> Result[ToolSpec | None, ApiError]:
    if not tools:
        return Success(None)
    if isinstance(choice, NamedToolChoice) and choice.name not in {t.name for t in tools}:
        return Failure(
            InvalidRequest(
                f"tool_choice names the function {choice.name!r}, which is not in tools",
                param="tool_choice.function.name",
            )
        )
    return Success(ToolSpec(tools=tools, choice=choice or "auto", parallel=parallel is not False))


def _refine_tool_list(
    bodies: tuple[ToolDefinitionBody, ...],
) -> Result[tuple[FunctionTool, ...], ApiError]:
    tools: list[FunctionTool] = []
    for index, body in enumerate(bodies):
        match _refine_tool(body, f"tools[{index}]"):
            case Success(tool):
                if tool.name in {t.name for t in tools}:
                    return Failure(
                        InvalidRequest(
                            f"tools holds the function name {tool.name!r} twice",
                            param=f"tools[{index}].function.name",
                        )
                    )
                tools.append(tool)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(tuple(tools))


def _refine_tool(body: ToolDefinitionBody, param: str) -> Result[FunctionTool, ApiError]:
    if body.type != "function":
        return Failure(
            InvalidRequest(
                f"tool type {body.type!r} is not supported; only function tools are",
                param=f"{param}.type",
            )
        )
    function = body.function
    if function is None:
        return Failure(
            InvalidRequest("a function tool needs its function", param=f"{param}.function")
        )
    if function.parameters is not None and function.parameters.get("type", "object") != "object":
        return Failure(
            InvalidRequest(
                "parameters must be a JSON Schema of type object",
                param=f"{param}.function.parameters",
            )
        )
    return refine(
        lambda name: FunctionTool(
            name=name,
            description=function.description,
            parameters=function.parameters,
            strict=bool(function.strict),
        ),
        function.name,
        f"{param}.function.name",
    )


_TOOL_CHOICE_MODES = ("none", "auto", "required")


def _refine_tool_choice(
    raw: str | dict[str, Any] | None, *, has_tools: bool
) -> Result[ToolChoice | None, ApiError]:
    choice: ToolChoice
    if raw is None:
        return Success(None)
    if isinstance(raw, str):
        if raw not in _TOOL_CHOICE_MODES:
            return Failure(
                InvalidRequest(
                    f"tool_choice must be 'none', 'auto', 'required' or a named function, "
                    f"got {raw!r}",
                    param="tool_choice",
                )
            )
        choice = "none" if raw == "none" else "auto" if raw == "auto" else "required"
    else:
        match raw:
            case {"type": "function", "function": {"name": str(name)}}:
                choice = NamedToolChoice(name)
            case {"type": "function"}:
                return Failure(
                    InvalidRequest(
                        "a named tool_choice needs function.name, a string",
                        param="tool_choice.function.name",
                    )
                )
            case _:
                return Failure(
                    InvalidRequest(
                        "tool_choice must be 'none', 'auto', 'required' or "
                        "{'type': 'function', 'function': {'name': ...}}",
                        param="tool_choice",
                    )
                )
    if not has_tools and choice not in ("none", "auto"):
        return Failure(
            InvalidRequest(
                "tool_choice forces a tool call, but no tools are offered",
                param="tool_choice",
            )
        )
    return Success(choice)
