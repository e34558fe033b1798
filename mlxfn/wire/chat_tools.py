"""Chat's ``tools``, ``tool_choice`` and ``response_format`` → the domain's ToolSpec and
ResponseFormat: what the answer may call and what shape it must have, both held by constrained
decoding."""

from __future__ import annotations

from typing import Any

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.response_format import TEXT, JsonObjectFormat, JsonSchemaFormat, ResponseFormat
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import refine
from mlxfn.pipeline.grammar import check_response_format
from mlxfn.wire.bodies import ChatBody, ResponseFormatBody, ToolDefinitionBody


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
