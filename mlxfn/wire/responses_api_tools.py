"""A Responses request's ``tools``, ``tool_choice`` and ``parallel_tool_calls`` → one ToolSpec:
function tools are offered to the model, alone or in a namespace; hosted tools are left out."""

from __future__ import annotations

from typing import Any, Final

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.tools import FunctionTool, ToolChoice, ToolSpec
from mlxfn.wire.chat_tools import function_tool, named_choice, offered_choice, refine_tool_list
from mlxfn.wire.responses_api_bodies import FunctionToolBody, ResponsesBody

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
    return refine_tool_list(offered, _refine_tool, name_field=".name")


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
    return function_tool(body.name, body.description, body.parameters, body.strict, param=param)


def _refine_tool_choice(
    raw: str | dict[str, Any] | None, tools: tuple[FunctionTool, ...]
) -> Result[ToolChoice, ApiError]:
    picked: Result[ToolChoice, ApiError]
    match raw:
        case None | "auto":
            return Success("auto")
        case "none":
            return Success("none")
        case "required":
            picked = Success("required")
        case {"type": "function", "name": str(name)}:
            picked = named_choice(
                name,
                tools,
                message=f"tool_choice names the function {name!r}, which is not in tools",
                param="tool_choice.name",
            )
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
    return picked.bind(lambda choice: offered_choice(choice, has_tools=bool(tools)))
