"""OpenAI's request shapes as they arrive on the wire, quirks included.

Only ``wire/`` knows these classes; ``requests.py`` refines them into domain values.
Every field OpenAI defines for chat completions is listed here, so that none is silently
ignored: ``requests.py`` honours it or rejects it with a 400 naming it.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ContentPartBody:
    type: str
    text: str | None = None
    refusal: str | None = None  # an assistant's refusal part carries its text here


Content = str | tuple[ContentPartBody, ...]


@attrs.frozen
class FunctionCallBody:
    name: str
    arguments: str


@attrs.frozen
class ToolCallBody:
    id: str
    function: FunctionCallBody
    type: str = "function"


@attrs.frozen
class SystemBody:
    content: Content
    name: str | None = None


@attrs.frozen
class DeveloperBody:
    content: Content
    name: str | None = None


@attrs.frozen
class UserBody:
    content: Content
    name: str | None = None


@attrs.frozen
class AssistantBody:
    content: Content | None = None
    tool_calls: tuple[ToolCallBody, ...] | None = None
    name: str | None = None
    refusal: str | None = None
    audio: dict[str, Any] | None = None
    function_call: dict[str, Any] | None = None


@attrs.frozen
class ToolBody:
    content: Content
    tool_call_id: str


@attrs.frozen
class FunctionBody:
    """The deprecated ``function`` role: parsed so that it can be rejected by name."""

    content: str | None = None
    name: str | None = None


MessageBody = SystemBody | DeveloperBody | UserBody | AssistantBody | ToolBody | FunctionBody

ROLE_OF_BODY: dict[type[Any], str] = {
    SystemBody: "system",
    DeveloperBody: "developer",
    UserBody: "user",
    AssistantBody: "assistant",
    ToolBody: "tool",
    FunctionBody: "function",
}


@attrs.frozen
class StreamOptionsBody:
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


@attrs.frozen
class JsonSchemaBody:
    name: str
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


@attrs.frozen
class ResponseFormatBody:
    """``text``, ``json_object``, or ``json_schema`` with its ``json_schema`` object."""

    type: str
    json_schema: JsonSchemaBody | None = None


@attrs.frozen
class FunctionDefinitionBody:
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


@attrs.frozen
class ToolDefinitionBody:
    """A tool; only ``function`` tools are honoured, a ``custom`` one is rejected by name."""

    type: str
    function: FunctionDefinitionBody | None = None
    custom: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class ChatBody:
    """CreateChatCompletionRequest, every field OpenAI defines, plus top_k, min_p and
    repetition_penalty."""

    model: str
    messages: tuple[MessageBody, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | tuple[str, ...] | None = None
    seed: int | None = None
    stream: bool | None = None
    stream_options: StreamOptionsBody | None = None
    n: int | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: ResponseFormatBody | None = None
    tools: tuple[ToolDefinitionBody, ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    modalities: tuple[str, ...] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    functions: tuple[dict[str, Any], ...] | None = None
    function_call: str | dict[str, Any] | None = None
    # Extensions that OpenAI does not define but local servers commonly accept.
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None


# ``prompt`` as it arrives: a string, or an array of strings, of token ids, or of token-id
# arrays; the array's items are told apart (and mixtures rejected) in ``refine``.
PromptItemBody = str | int | tuple[int, ...]


@attrs.frozen(kw_only=True)
class CompletionBody:
    """CreateCompletionRequest (the legacy ``POST /v1/completions``), every field OpenAI
    defines, plus chat's top_k, min_p and repetition_penalty. ``max_tokens`` is OpenAI's 16
    when absent; an explicit null asks for the server's own default."""

    model: str
    prompt: str | tuple[PromptItemBody, ...]  # null is refused: no document-start default
    best_of: int | None = None
    echo: bool | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = None
    max_tokens: int | None = 16
    n: int | None = None
    presence_penalty: float | None = None
    seed: int | None = None
    stop: str | tuple[str, ...] | None = None
    stream: bool | None = None
    stream_options: StreamOptionsBody | None = None
    suffix: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    # The sampling extensions chat accepts, for the same clients.
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None


@attrs.frozen
class TokenizeBody:
    """``POST /v1/tokenize`` and ``POST /tokenize``: ``text`` (or ``prompt``, vLLM's name for
    it) or ``messages``."""

    model: str | None = None
    text: str | None = None
    prompt: str | None = None
    messages: tuple[MessageBody, ...] | None = None
    add_special_tokens: bool | None = None
    add_generation_prompt: bool | None = None  # messages only; true when absent
    return_token_strs: bool | None = None


@attrs.frozen
class DetokenizeBody:
    """``POST /detokenize``: token ids back to text."""

    tokens: tuple[int, ...]
    model: str | None = None
