"""The tools a client offers the model, and how far it lets the model choose among them."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import attrs

# OpenAI's rule for function names; also what keeps a name safe inside a grammar's literal.
FUNCTION_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def _function_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not FUNCTION_NAME.fullmatch(value):
        raise ValueError(f"must be 1 to 64 letters, digits, underscores or dashes, got {value!r}")


@attrs.frozen(kw_only=True)
class FunctionTool:
    """A function the model may call. ``parameters`` is its JSON Schema (None: no arguments
    described), kept out of eq and hash since a dict has neither."""

    name: str = attrs.field(validator=_function_name)
    description: str | None = None
    parameters: dict[str, Any] | None = attrs.field(default=None, eq=False, hash=False)
    strict: bool = False


ToolChoiceMode = Literal["none", "auto", "required"]


@attrs.frozen
class NamedToolChoice:
    """The model must call this one function."""

    name: str


# One set of choices for every surface: Anthropic's tool_choice "any" is "required" and its
# {"type": "tool", "name": ...} a NamedToolChoice, so each is forced the same way, on any model.
ToolChoice = ToolChoiceMode | NamedToolChoice


def _distinct_names(
    _: object, attribute: attrs.Attribute[Any], value: tuple[FunctionTool, ...]
) -> None:
    names = [tool.name for tool in value]
    if len(set(names)) != len(names):
        raise ValueError("tool names must be distinct")


@attrs.frozen(kw_only=True)
class ToolSpec:
    """The offered tools, the choice (``auto`` unless the client said otherwise) and whether
    one turn may hold several calls. A named choice always names one of ``tools``."""

    tools: tuple[FunctionTool, ...] = attrs.field(validator=_distinct_names)
    choice: ToolChoice = "auto"
    parallel: bool = True

    def __attrs_post_init__(self) -> None:
        if isinstance(self.choice, NamedToolChoice) and self.choice.name not in self.names:
            raise ValueError(f"tool_choice names {self.choice.name!r}, which is not in tools")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(tool.name for tool in self.tools)

    @property
    def forced(self) -> tuple[FunctionTool, ...]:
        """The tools the model must choose from (all for ``required``, one when named), or
        none when it need not call any."""
        match self.choice:
            case NamedToolChoice(name=name):
                return tuple(tool for tool in self.tools if tool.name == name)
            case "required":
                return self.tools
            case _:
                return ()
