"""Chat's ``tools``, ``tool_choice`` and ``response_format`` → the domain's ToolSpec and
ResponseFormat: what the answer may call and what shape it must have, both held by constrained
decoding."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.response_format import TEXT, JsonObjectFormat, JsonSchemaFormat, ResponseFormat
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolChoice, ToolSpec
from mlxfn.domain.values import refine
from mlxfn.pipeline.grammar import check_response_format
from mlxfn.wire.bodies import ChatBody, ResponseFormatBody, ToolDefinitionBody

_Body = TypeVar("_Body")


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
    checked: Result[ToolChoice, ApiError] = (
        named_choice(
            choice.name,
            tools,
            message=f"tool_choice names the function {choice.name!r}, which is not in tools",
            param="tool_choice.function.name",
        )
        if isinstance(choice, NamedToolChoice)
        else Success(choice or "auto")
    )
    return checked.map(
        lambda picked: ToolSpec(tools=tools, choice=picked, parallel=parallel is not False)
    )


def _refine_tool_list(
    bodies: tuple[ToolDefinitionBody, ...],
) -> Result[tuple[FunctionTool, ...], ApiError]:
    offered = ((body, f"tools[{index}]") for index, body in enumerate(bodies))
    return refine_tool_list(offered, _refine_tool, name_field=".function.name")


def refine_tool_list(
    offered: Iterable[tuple[_Body, str]],
    refine_one: Callable[[_Body, str], Result[FunctionTool, ApiError]],
    *,
    name_field: str,
    named: str = "the function name",
) -> Result[tuple[FunctionTool, ...], ApiError]:
    """Each tool body, with where it stands (``tools[2]``), refined in turn: the first error
    stops it, and so does a name offered twice (at ``where`` + ``name_field``), whatever the
    surface calls its tools and their names."""
    tools: list[FunctionTool] = []
    for body, where in offered:
        refined = refine_one(body, where)
        if isinstance(refined, Failure):
            return Failure(refined.failure())
        tool = refined.unwrap()
        if tool.name in {t.name for t in tools}:
            return Failure(
                InvalidRequest(
                    f"tools holds {named} {tool.name!r} twice", param=f"{where}{name_field}"
                )
            )
        tools.append(tool)
    return Success(tuple(tools))


def function_tool(
    name: str,
    description: str | None,
    schema: dict[str, Any] | None,
    strict: bool | None,
    *,
    param: str,
    schema_field: str = "parameters",
) -> Result[FunctionTool, ApiError]:
    """A tool's fields, as found at ``param``, → a FunctionTool: its schema (in the field
    ``schema_field``) must describe an object, and its name must be a valid one."""
    if schema is not None and schema.get("type", "object") != "object":
        return Failure(
            InvalidRequest(
                f"{schema_field} must be a JSON Schema of type object",
                param=f"{param}.{schema_field}",
            )
        )
    return refine(
        lambda valid: FunctionTool(
            name=valid, description=description, parameters=schema, strict=bool(strict)
        ),
        name,
        f"{param}.name",
    )


def named_choice(
    name: str, tools: tuple[FunctionTool, ...], *, message: str, param: str
) -> Result[ToolChoice, ApiError]:
    """A tool_choice that names a tool, which must be one of those offered."""
    if name not in {t.name for t in tools}:
        return Failure(InvalidRequest(message, param=param))
    return Success(NamedToolChoice(name))


def offered_choice(choice: ToolChoice, *, has_tools: bool) -> Result[ToolChoice, ApiError]:
    """A choice that forces a call needs tools to call; ``none`` and ``auto`` need none."""
    if not has_tools and choice not in ("none", "auto"):
        return Failure(
            InvalidRequest(
                "tool_choice forces a tool call, but no tools are offered",
                param="tool_choice",
            )
        )
    return Success(choice)


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
    return function_tool(
        function.name,
        function.description,
        function.parameters,
        function.strict,
        param=f"{param}.function",
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
    return offered_choice(choice, has_tools=has_tools)


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
            return json_schema_format(spec.name, spec.schema, spec.description, spec.strict)
        case other:
            return Failure(
                InvalidRequest(
                    f"response_format type must be 'text', 'json_object' or 'json_schema', "
                    f"got {other!r}",
                    param="response_format.type",
                )
            )


def json_schema_format(
    name: str, schema: dict[str, Any] | None, description: str | None, strict: bool | None
) -> Result[ResponseFormat, ApiError]:
    """A JSON schema format whose grammar llguidance can compile; no schema asks for any JSON
    value."""
    return JsonSchemaFormat.parse(
        name=name,
        schema={} if schema is None else schema,
        description=description,
        strict=bool(strict),
    ).bind(check_response_format)
