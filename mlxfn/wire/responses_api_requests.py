"""Responses API request bytes → domain values: the same ChatRequest chat completions make.

``input`` items are told apart by ``type`` here, one item at a time, so that an error names
the item (``input[2].call_id``). Messages, function calls and their outputs become chat
messages; reasoning items are accepted and left out of the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ContextLengthExceeded, InvalidRequest
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
from mlxfn.domain.request import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, ChatRequest, SamplingParams
from mlxfn.domain.response_format import (
    TEXT,
    JsonObjectFormat,
    JsonSchemaFormat,
    ResponseFormat,
)
from mlxfn.domain.responses_api import ResponsesRequest
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import (
    MaxTokens,
    MinP,
    ModelName,
    RepetitionPenalty,
    Seed,
    Temperature,
    TopK,
    TopP,
    refine,
)
from mlxfn.pipeline.grammar import check_response_format
from mlxfn.wire.converter import structure_as
from mlxfn.wire.requests import check_stream_options, optional_field, parse_body
from mlxfn.wire.responses_api_bodies import (
    FunctionCallItemBody,
    FunctionCallOutputItemBody,
    FunctionToolBody,
    InputContent,
    MessageItemBody,
    ReasoningItemBody,
    ResponsesBody,
    TextFormatBody,
)

_Check = Callable[[Any], bool]
# Fields OpenAI defines that mlxfn cannot honour: (field, is the value harmless?, why not).
UNSUPPORTED: tuple[tuple[str, _Check, str], ...] = (
    ("background", lambda v: v in (None, False), "background responses are not supported"),
    (
        "conversation",
        lambda v: v is None,
        "conversations are not supported; use previous_response_id",
    ),
    ("prompt", lambda v: v is None, "prompt templates are not supported"),
    ("context_management", lambda v: not v, "context management is not supported"),
    ("max_tool_calls", lambda v: v is None, "max_tool_calls is not supported"),
    ("top_logprobs", lambda v: v in (None, 0), "logprobs are not offered on this endpoint"),
    ("truncation", lambda v: v in (None, "disabled"), "only truncation 'disabled' is offered"),
    (
        "service_tier",
        lambda v: v in (None, "auto", "default"),
        "only service_tier 'auto' or 'default' is available",
    ),
)
# ``include`` values that ask for nothing this server leaves out: there is no encrypted
# reasoning, so asking for it (as Codex does with store: false) changes nothing.
HARMLESS_INCLUDES: Final = frozenset({"reasoning.encrypted_content"})
# Chat's names for the fields a Responses request spells otherwise, for errors of the shared
# pipeline (the context check, the server's caps, the schema compiler).
_RESPONSES_PARAM: Final[dict[str, str]] = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "response_format": "text.format",
    "response_format.json_schema.name": "text.format.name",
    "response_format.json_schema.schema": "text.format.schema",
}
_MESSAGE_ROLES: Final = ("user", "system", "developer", "assistant")


def parse_responses_request(body: bytes) -> Result[ResponsesRequest, ApiError]:
    """``POST /v1/responses`` body bytes → a ResponsesRequest, or the 4xx naming the field.

    >>> parse_responses_request(b'{"model": "m", "input": "hi"}').unwrap().input
    (UserMessage(content='hi', name=None),)
    >>> parse_responses_request(b'{"model": "m", "input": [{"type": "x"}]}').failure().param
    'input[0].type'
    """
    return parse_body(body, ResponsesBody, refine_responses_body).alt(responses_param)


def responses_param(err: ApiError) -> ApiError:
    """An error of the shared chat path, naming the field as a Responses request spells it.

    >>> responses_param(InvalidRequest("too long", param="max_tokens")).param
    'max_output_tokens'
    """
    match err:
        case InvalidRequest(param=str(param)) if param in _RESPONSES_PARAM:
            return attrs.evolve(err, param=_RESPONSES_PARAM[param])
        case ContextLengthExceeded(param="messages"):
            return attrs.evolve(err, param="input")
        case _:
            return err


def reject_unsupported(body: ResponsesBody) -> Result[ResponsesBody, ApiError]:
    """Fail on the first field set to something mlxfn does not honour."""
    for field, harmless, why in UNSUPPORTED:
        if not harmless(getattr(body, field)):
            return Failure(InvalidRequest(why, param=field, code="unsupported_parameter"))
    for index, included in enumerate(body.include or ()):
        if included not in HARMLESS_INCLUDES:
            return Failure(
                InvalidRequest(
                    f"include {included!r} is not supported",
                    param=f"include[{index}]",
                    code="unsupported_parameter",
                )
            )
    if body.text is not None and body.text.verbosity not in (None, "medium"):
        return Failure(
            InvalidRequest(
                "verbosity is not supported", param="text.verbosity", code="unsupported_parameter"
            )
        )
    if body.reasoning is not None and body.reasoning.effort is not None:
        return Failure(
            InvalidRequest(
                "this server has no reasoning effort control: a reasoning model thinks as its "
                "chat template has it",
                param="reasoning.effort",
                code="unsupported_parameter",
            )
        )
    return check_stream_options(body.stream, body.stream_options).map(lambda _: body)


def refine_responses_body(body: ResponsesBody) -> Result[ResponsesRequest, ApiError]:
    return flow(body, reject_unsupported, bind(_refine_checked))


def _refine_checked(body: ResponsesBody) -> Result[ResponsesRequest, ApiError]:
    return Result.do(
        ResponsesRequest(
            model=model,
            instructions=body.instructions,
            input=items,
            sampling=sampling,
            max_output_tokens=max_tokens,
            tools=tools,
            tool_choice=body.tool_choice if isinstance(body.tool_choice, str) else "auto",
            response_format=response_format,
            stream=bool(body.stream),
            store=body.store is not False,
            previous_response_id=body.previous_response_id,
            user=body.safety_identifier or body.user,
            metadata=dict(body.metadata or {}),
            namespaces=tool_namespaces(body),
        )
        for model in ModelName.parse(body.model)
        for items in refine_input(body.input)
        for sampling in _refine_sampling(body)
        for max_tokens in optional_field(
            body.max_output_tokens, lambda v: MaxTokens.parse(v, "max_output_tokens")
        )
        for tools in refine_tools(body)
        for response_format in refine_text_format(body.text.format if body.text else None)
    )


def _refine_sampling(body: ResponsesBody) -> Result[SamplingParams, ApiError]:
    return Result.do(
        SamplingParams(temperature=t, top_p=p, top_k=k, min_p=m, seed=s, repetition_penalty=r)
        for t in optional_field(body.temperature, Temperature.parse, DEFAULT_TEMPERATURE)
        for p in optional_field(body.top_p, TopP.parse, DEFAULT_TOP_P)
        for k in optional_field(body.top_k, TopK.parse)
        for m in optional_field(body.min_p, MinP.parse)
        for s in optional_field(body.seed, Seed.parse)
        for r in optional_field(body.repetition_penalty, RepetitionPenalty.parse)
    )


# -- input ---------------------------------------------------------------------------------------


def refine_input(
    raw: str | tuple[dict[str, Any], ...] | None,
) -> Result[tuple[Message, ...], ApiError]:
    """A string is one user message; items become messages in order, consecutive function
    calls (and the assistant text before them) one assistant turn."""
    if raw is None:
        return Success(())
    if isinstance(raw, str):
        return Success((UserMessage(raw),))
    messages: list[Message] = []
    for index, item in enumerate(raw):
        match _refine_item(item, f"input[{index}]"):
            case Success(None):
                pass
            case Success(message):
                _append(messages, message)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(tuple(messages))


def _append(messages: list[Message], message: Message) -> None:
    """A function call joins the assistant turn it follows: chat holds text and calls in one."""
    last = messages[-1] if messages else None
    match message, last:
        case AssistantMessage(content=None, tool_calls=calls), AssistantMessage() as turn:
            messages[-1] = attrs.evolve(turn, tool_calls=(*turn.tool_calls, *calls))
        case _:
            messages.append(message)


def _structured(item: dict[str, Any], cls: type[Any], param: str) -> Result[Any, ApiError]:
    def where(err: ApiError) -> ApiError:
        if not isinstance(err, InvalidRequest):
            return err
        inner = err.param
        return InvalidRequest(
            f"{param}: {err.message}", param=f"{param}.{inner}" if inner else param
        )

    return structure_as(item, cls).alt(where)


def _refine_item(item: dict[str, Any], param: str) -> Result[Message | None, ApiError]:
    kind = item.get("type")
    if kind is None or kind == "message":
        return _structured(item, MessageItemBody, param).bind(lambda m: _message(m, param))
    if kind == "function_call":
        return _structured(item, FunctionCallItemBody, param).map(_function_call)
    if kind == "function_call_output":
        return _structured(item, FunctionCallOutputItemBody, param).bind(
            lambda out: _text_of(out.output, f"{param}.output").map(
                lambda text: ToolMessage(text, out.call_id)
            )
        )
    if kind == "reasoning":
        return _structured(item, ReasoningItemBody, param).map(lambda _: None)
    return Failure(
        InvalidRequest(
            f"input item type {kind!r} is not supported; this server accepts message, "
            "function_call, function_call_output and reasoning items",
            param=f"{param}.type",
        )
    )


def _function_call(body: FunctionCallItemBody) -> Message:
    return AssistantMessage(None, (ToolCall(body.call_id, body.name, body.arguments),))


def _message(body: MessageItemBody, param: str) -> Result[Message | None, ApiError]:
    text = _text_of(body.content, f"{param}.content")
    match body.role:
        case "user":
            return text.map(UserMessage)
        case "system":
            return text.map(SystemMessage)
        case "developer":
            return text.map(DeveloperMessage)
        case "assistant":
            return text.map(AssistantMessage)
        case other:
            roles = ", ".join(_MESSAGE_ROLES)
            return Failure(
                InvalidRequest(f"role must be one of {roles}; got {other!r}", param=f"{param}.role")
            )


def _text_of(content: InputContent, param: str) -> Result[str, ApiError]:
    """String-or-parts content as one string; only text parts are accepted."""
    if isinstance(content, str):
        return Success(content)
    texts: list[str] = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if part.type not in ("input_text", "output_text", "refusal"):
            return Failure(
                InvalidRequest(
                    f"content part type {part.type!r} is not supported; this server accepts "
                    "input_text, output_text and refusal parts only",
                    param=f"{where}.type",
                )
            )
        field = "refusal" if part.type == "refusal" else "text"
        text = part.refusal if part.type == "refusal" else part.text
        if text is None:
            return Failure(
                InvalidRequest(f"a {part.type} part needs its {field}", param=f"{where}.{field}")
            )
        texts.append(text)
    return Success("".join(texts))


def build_chat_request(
    request: ResponsesRequest, earlier: tuple[Message, ...]
) -> Result[ChatRequest, ApiError]:
    """The chat request of one Responses turn: the instructions as a system message, then the
    stored earlier turns (an earlier request's instructions are not carried over, as at
    OpenAI), then this turn's input."""
    head = () if request.instructions is None else (SystemMessage(request.instructions),)
    messages = (*head, *earlier, *request.input)
    if not messages:
        return Failure(InvalidRequest("input must hold at least one item", param="input"))
    return Success(
        ChatRequest(
            model=request.model,
            conversation=Conversation(messages),
            sampling=request.sampling,
            max_tokens=request.max_output_tokens,
            stream=request.stream,
            user=request.user,
            tools=request.tools,
            response_format=request.response_format,
        )
    )


# -- tools and text.format -----------------------------------------------------------------------


# Hosted tools run by OpenAI's servers: this one has none to run them with, so the model is not
# shown them (agent clients such as Codex offer web_search on every request).
HOSTED_TOOLS: Final = frozenset({"web_search", "web_search_preview"})


def refine_tools(body: ResponsesBody) -> Result[ToolSpec | None, ApiError]:
    """``tools``, ``tool_choice`` and ``parallel_tool_calls`` → one ToolSpec (None: none).
    A namespace's functions are offered as functions of their own."""
    return _refine_tool_list(body).bind(
        lambda tools: _refine_tool_choice(body.tool_choice, tools).map(
            lambda choice: _tool_spec(tools, choice, body.parallel_tool_calls)
        )
    )


def tool_namespaces(body: ResponsesBody) -> dict[str, str]:
    """Function name → the namespace tool it came in, for the calls' output items."""
    return {
        function.name: tool.name
        for tool in body.tools or ()
        if tool.type == "namespace" and tool.name is not None
        for function in tool.tools or ()
        if function.name is not None
    }


def _refine_tool_list(body: ResponsesBody) -> Result[tuple[FunctionTool, ...], ApiError]:
    offered: list[tuple[FunctionToolBody, str]] = []
    for index, tool_body in enumerate(body.tools or ()):
        where = f"tools[{index}]"
        if tool_body.type == "namespace":
            offered.extend(
                (inner, f"{where}.tools[{i}]") for i, inner in enumerate(tool_body.tools or ())
            )
        elif tool_body.type not in HOSTED_TOOLS:
            offered.append((tool_body, where))
    tools: list[FunctionTool] = []
    for tool_body, where in offered:
        match _refine_tool(tool_body, where):
            case Success(tool):
                if tool.name in {t.name for t in tools}:
                    return Failure(
                        InvalidRequest(
                            f"tools holds the function name {tool.name!r} twice",
                            param=f"{where}.name",
                        )
                    )
                tools.append(tool)
            case Failure(err):
                return Failure(err)
            case _:
                raise AssertionError("unreachable")
    return Success(tuple(tools))


def _tool_spec(
    tools: tuple[FunctionTool, ...], choice: ToolChoice, parallel: bool | None
) -> ToolSpec | None:
    if not tools:
        return None
    return ToolSpec(tools=tools, choice=choice, parallel=parallel is not False)


def _refine_tool(body: FunctionToolBody, param: str) -> Result[FunctionTool, ApiError]:
    if body.type != "function":
        return Failure(
            InvalidRequest(
                f"tool type {body.type!r} is not supported; only function tools (alone or in "
                "a namespace) are, and web_search is left out",
                param=f"{param}.type",
            )
        )
    if body.name is None:
        return Failure(InvalidRequest("a function tool needs its name", param=f"{param}.name"))
    parameters = body.parameters
    if parameters is not None and parameters.get("type", "object") != "object":
        return Failure(
            InvalidRequest(
                "parameters must be a JSON Schema of type object", param=f"{param}.parameters"
            )
        )
    return refine(
        lambda name: FunctionTool(
            name=name,
            description=body.description,
            parameters=parameters,
            strict=bool(body.strict),
        ),
        body.name,
        f"{param}.name",
    )


def _refine_tool_choice(
    raw: str | dict[str, Any] | None, tools: tuple[FunctionTool, ...]
) -> Result[ToolChoice, ApiError]:
    choice: ToolChoice
    match raw:
        case None | "auto":
            return Success("auto")
        case "none":
            return Success("none")
        case "required":
            choice = "required"
        case {"type": "function", "name": str(name)}:
            if name not in {t.name for t in tools}:
                return Failure(
                    InvalidRequest(
                        f"tool_choice names the function {name!r}, which is not in tools",
                        param="tool_choice.name",
                    )
                )
            choice = NamedToolChoice(name)
        case {"type": "function"}:
            return Failure(
                InvalidRequest(
                    "a function tool_choice needs name, a string", param="tool_choice.name"
                )
            )
        case _:
            return Failure(
                InvalidRequest(
                    "tool_choice must be 'none', 'auto', 'required' or "
                    "{'type': 'function', 'name': ...}",
                    param="tool_choice",
                )
            )
    if not tools:
        return Failure(
            InvalidRequest(
                "tool_choice forces a tool call, but no tools are offered", param="tool_choice"
            )
        )
    return Success(choice)


def refine_text_format(body: TextFormatBody | None) -> Result[ResponseFormat, ApiError]:
    """``text.format`` → the domain format that chat's response_format also becomes."""
    if body is None:
        return Success(TEXT)
    match body.type:
        case "text":
            return Success(TEXT)
        case "json_object":
            return Success(JsonObjectFormat())
        case "json_schema":
            if body.name is None:
                return Failure(
                    InvalidRequest("a json_schema format needs its name", param="text.format.name")
                )
            return (
                JsonSchemaFormat.parse(
                    name=body.name,
                    schema={} if body.schema is None else body.schema,
                    description=body.description,
                    strict=bool(body.strict),
                )
                .bind(check_response_format)
                .alt(responses_param)
            )
        case other:
            return Failure(
                InvalidRequest(
                    f"text.format type must be 'text', 'json_object' or 'json_schema', "
                    f"got {other!r}",
                    param="text.format.type",
                )
            )
