"""A Messages request's ``tools``, ``tool_choice`` and output format → the domain's ToolSpec
and ResponseFormat: custom tools are offered to the model, Anthropic's versioned server tools
are left out, and a JSON schema format is held by constrained decoding."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Final

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.response_format import TEXT, ResponseFormat
from mlxfn.domain.tools import FunctionTool, ToolChoice, ToolSpec
from mlxfn.wire.chat_tools import (
    function_tool,
    json_schema_format,
    named_choice,
    offered_choice,
    refine_tool_list,
)
from mlxfn.wire.converter import structured_at
from mlxfn.wire.messages_api_bodies import (
    CustomToolBody,
    OutputConfigBody,
    OutputFormatBody,
    ToolChoiceBody,
)

# Anthropic's versioned server and client tools (web_search_20250305, bash_20250124,
# text_editor_20250728, ...): this server has nothing to run them with, so the model is not
# shown them (Claude Code's custom tools have no type, or type "custom").
SERVER_TOOL: Final = re.compile(r"[a-z][a-z0-9_]*_\d{8}")
_OUTPUT_FORMAT_NAME: Final = "output"


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
    offered = (
        (item, f"tools[{index}]")
        for index, item in enumerate(raw)
        if not _is_server_tool(item.get("type"))
    )
    return refine_tool_list(offered, _refine_item, name_field=".name", named="the name")


def _is_server_tool(kind: object) -> bool:
    return isinstance(kind, str) and SERVER_TOOL.fullmatch(kind) is not None


def _refine_item(item: dict[str, Any], where: str) -> Result[FunctionTool, ApiError]:
    kind = item.get("type")
    if kind not in (None, "custom"):
        return Failure(
            InvalidRequest(
                f"tool type {kind!r} is not supported; custom tools are, and Anthropic's "
                "versioned server tools (web_search_20250305, ...) are left out",
                param=f"{where}.type",
            )
        )
    return structured_at(item, CustomToolBody, where).bind(partial(_refine_tool, param=where))


def _refine_tool(body: CustomToolBody, param: str) -> Result[FunctionTool, ApiError]:
    return function_tool(
        body.name,
        body.description,
        body.input_schema,
        body.strict,
        param=param,
        schema_field="input_schema",
    )


def _refine_tool_choice(
    body: ToolChoiceBody | None, tools: tuple[FunctionTool, ...]
) -> Result[ToolChoice, ApiError]:
    picked: Result[ToolChoice, ApiError]
    match body:
        case None | ToolChoiceBody(type="auto"):
            return Success("auto")
        case ToolChoiceBody(type="none"):
            return Success("none")
        case ToolChoiceBody(type="any"):
            picked = Success("required")
        case ToolChoiceBody(type="tool", name=str(name)):
            picked = named_choice(
                name,
                tools,
                message=f"tool_choice.name names the tool {name!r}, which is not in tools",
                param="tool_choice.name",
            )
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
    return picked.bind(lambda choice: offered_choice(choice, has_tools=bool(tools)))


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

    return json_schema_format(_OUTPUT_FORMAT_NAME, body.schema, None, True).alt(named)
