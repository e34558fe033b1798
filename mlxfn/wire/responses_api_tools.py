"""A Responses request's ``tools``, ``tool_choice`` and ``parallel_tool_calls`` → one ToolSpec:
function tools are offered to the model, alone or in a namespace; hosted tools are left out."""

from __future__ import annotations

from typing import Any, Final

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import refine
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
