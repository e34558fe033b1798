"""Anthropic's Messages API request shapes (``POST /v1/messages``, ``.../count_tokens``) as
they arrive on the wire.

Only ``wire/`` knows these classes; ``messages_api_requests.py`` refines them into the same
ChatRequest chat completions make. Every top-level field Anthropic defines (the beta client's
too, which Claude Code uses) is listed, so that none is silently ignored: it is honoured,
accepted as harmless, or rejected with a 400 naming it. A message's content blocks and the
tools are told apart by ``type`` there, one at a time, so that an error names the block.
"""

from __future__ import annotations

from typing import Any

import attrs

# A message's or a tool result's content: a string, or content blocks told apart by type.
BlockContent = str | tuple[dict[str, Any], ...]


@attrs.frozen
class MessageParamBody:
    """One turn: ``user`` or ``assistant`` (and ``system``, which Claude Code also sends)."""

    role: str
    content: BlockContent


@attrs.frozen
class TextBlockBody:
    type: str
    text: str
    cache_control: dict[str, Any] | None = None
    citations: tuple[dict[str, Any], ...] | None = None


@attrs.frozen
class ToolUseBlockBody:
    """A tool call the model made in an earlier assistant turn."""

    type: str
    id: str
    name: str
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


@attrs.frozen
class ToolResultBlockBody:
    """What the client's tool returned for ``tool_use_id``, in a user turn."""

    type: str
    tool_use_id: str
    content: BlockContent | None = None
    is_error: bool | None = None
    cache_control: dict[str, Any] | None = None


@attrs.frozen
class ThinkingBlockBody:
    """An earlier turn's ``thinking`` (or ``redacted_thinking``, its ``data``). Accepted and
    left out of the prompt: chat templates drop the thinking of earlier turns."""

    type: str
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    cache_control: dict[str, Any] | None = None


@attrs.frozen
class CustomToolBody:
    """A client tool: ``name``, ``description`` and the ``input_schema`` of its input.
    Anthropic's versioned server tools (``web_search_20250305``, ``bash_20250124``, ...) are
    told apart by their ``type`` before this class is used."""

    name: str
    type: str | None = None  # "custom" when sent
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None
    strict: bool | None = None


@attrs.frozen
class ToolChoiceBody:
    type: str
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


@attrs.frozen
class ThinkingConfigBody:
    """``{"type": "enabled", "budget_tokens": N}``, ``disabled`` or ``adaptive``."""

    type: str
    budget_tokens: int | None = None
    display: str | None = None


@attrs.frozen
class OutputFormatBody:
    type: str
    schema: dict[str, Any] | None = None


@attrs.frozen
class OutputConfigBody:
    effort: str | None = None
    format: OutputFormatBody | None = None


@attrs.frozen
class MetadataBody:
    user_id: str | None = None


@attrs.frozen(kw_only=True)
class MessagesBody:
    """MessageCreateParams, every field Anthropic defines (the beta ones included), plus
    chat's min_p, seed and repetition_penalty."""

    model: str
    messages: tuple[MessageParamBody, ...]
    max_tokens: int
    system: str | tuple[TextBlockBody, ...] | None = None
    stop_sequences: tuple[str, ...] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stream: bool | None = None
    metadata: MetadataBody | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: ThinkingConfigBody | None = None
    output_config: OutputConfigBody | None = None
    output_format: OutputFormatBody | None = None
    service_tier: str | None = None
    container: str | dict[str, Any] | None = None
    mcp_servers: tuple[dict[str, Any], ...] | None = None
    context_management: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None
    inference_geo: str | None = None
    speed: str | None = None
    diagnostics: dict[str, Any] | None = None
    user_profile_id: str | None = None
    workspace_id: str | None = None
    # Extensions that Anthropic does not define but local servers commonly accept.
    min_p: float | None = None
    seed: int | None = None
    repetition_penalty: float | None = None


@attrs.frozen(kw_only=True)
class CountTokensBody:
    """MessageCountTokensParams: what shapes the prompt, without the sampling fields."""

    model: str
    messages: tuple[MessageParamBody, ...]
    system: str | tuple[TextBlockBody, ...] | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: ToolChoiceBody | None = None
    thinking: ThinkingConfigBody | None = None
    output_config: OutputConfigBody | None = None
    output_format: OutputFormatBody | None = None
    mcp_servers: tuple[dict[str, Any], ...] | None = None
    context_management: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None
    speed: str | None = None
    user_profile_id: str | None = None
    workspace_id: str | None = None
