"""OpenAI's Responses API request shapes (``POST /v1/responses``) as they arrive on the wire.

Only ``wire/`` knows these classes; ``responses_api_requests.py`` refines them into the same
domain values chat completions use. Every field OpenAI defines for CreateResponse is listed,
so that none is silently ignored: it is honoured, or rejected with a 400 naming it.
"""

from __future__ import annotations

from typing import Any

import attrs

from mlxfn.wire.bodies import StreamOptionsBody


@attrs.frozen
class InputPartBody:
    """A content part: ``input_text`` or ``output_text`` (its ``text``), or ``refusal``; the
    image, file and audio parts are rejected by type."""

    type: str
    text: str | None = None
    refusal: str | None = None


InputContent = str | tuple[InputPartBody, ...]


@attrs.frozen
class MessageItemBody:
    """A message item: EasyInputMessage (no ``type``) or an input or output message item."""

    role: str
    content: InputContent
    type: str | None = None  # "message" when sent
    id: str | None = None
    status: str | None = None
    phase: str | None = None


@attrs.frozen
class FunctionCallItemBody:
    """A function call the model made in an earlier turn, sent back as input."""

    type: str
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: str | None = None
    namespace: str | None = None


@attrs.frozen
class FunctionCallOutputItemBody:
    """What the client's function returned for ``call_id``."""

    type: str
    call_id: str
    output: InputContent
    id: str | None = None
    status: str | None = None


@attrs.frozen
class ReasoningItemBody:
    """An earlier turn's reasoning. Accepted and left out of the prompt: chat templates drop
    the thinking of earlier turns."""

    type: str
    id: str | None = None
    summary: tuple[dict[str, Any], ...] | None = None
    content: tuple[dict[str, Any], ...] | None = None
    encrypted_content: str | None = None
    status: str | None = None


@attrs.frozen
class FunctionToolBody:
    """A tool: a ``function`` (flat: name, parameters at the top), a ``namespace`` grouping
    function tools (as Codex sends), or a hosted ``web_search``, which is not offered."""

    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    tools: tuple[FunctionToolBody, ...] | None = None  # a namespace's functions


@attrs.frozen
class TextFormatBody:
    """``text.format``: text, json_object, or json_schema with its fields inline."""

    type: str
    name: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


@attrs.frozen
class TextConfigBody:
    format: TextFormatBody | None = None
    verbosity: str | None = None


@attrs.frozen
class ReasoningConfigBody:
    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


@attrs.frozen(kw_only=True)
class ResponsesBody:
    """CreateResponse, every field OpenAI defines, plus chat's top_k, min_p, seed and
    repetition_penalty. ``input`` is a string, or items told apart by ``type`` (a message
    may leave it out) in ``responses_api_requests.py``."""

    model: str
    input: str | tuple[dict[str, Any], ...] | None = None
    instructions: str | None = None
    tools: tuple[FunctionToolBody, ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    text: TextConfigBody | None = None
    reasoning: ReasoningConfigBody | None = None
    store: bool | None = None
    previous_response_id: str | None = None
    stream: bool | None = None
    stream_options: StreamOptionsBody | None = None
    metadata: dict[str, str] | None = None
    include: tuple[str, ...] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    truncation: str | None = None
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    context_management: tuple[dict[str, Any], ...] | None = None
    # Extensions that OpenAI does not define but local servers commonly accept.
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    repetition_penalty: float | None = None
