"""The grammar that forces a tool call: ``tool_choice`` ``required`` or a named function.

A forced call is not hoped for: the engine enforces this llguidance grammar token by token,
so the model can write nothing but its own tool-call markup around a JSON body whose
``arguments`` match the function's ``parameters`` schema. Only call formats whose markup is
known here get a grammar (mlx-lm's ``json_tools``: Hermes, Qwen2.5, Qwen3, and mlxfn's generic
format for templates with none, which is the same markup); for the others a forced choice is
a 400 rather than a call that may not come.
"""

from __future__ import annotations

import json
from typing import Final

import attrs
import llguidance
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.tools import FunctionTool, ToolSpec
from mlxfn.pipeline.grammar import JSON_OPTIONS
from mlxfn.pipeline.markup import Markers

# mlx-lm's parser modules whose call markup this module can write as a grammar.
GRAMMAR_PARSERS: Final = frozenset({"json_tools"})


@attrs.frozen(kw_only=True)
class CallFormat:
    """What the grammar needs to know of a model's markup. A marker that is one token of
    the vocabulary is written as that token (``<tool_call>`` in llguidance's lark), so the
    model cannot spell it out in pieces; otherwise as text."""

    parser: str  # mlx-lm's tool-parser module name, e.g. "json_tools"
    calls: Markers
    tokens: frozenset[str] = frozenset()  # markers that are single tokens
    thinking: Markers | None = None
    starts_thinking: bool = False


def _marker(text: str, tokens: frozenset[str]) -> str:
    return text if text in tokens else json.dumps(text)


def _arguments_schema(tool: FunctionTool) -> str:
    """The parameters schema with the JSON grammar's whitespace rules: a model that is not
    sure what to write next (a small or weak one) would otherwise pad the arguments with
    whitespace until it runs out of tokens. A schema's own ``x-guidance`` wins."""
    schema = tool.parameters if tool.parameters is not None else {"type": "object"}
    return json.dumps({"x-guidance": JSON_OPTIONS, **schema})


def _call_rule(index: int, tool: FunctionTool, form: CallFormat) -> str:
    start, end = _marker(form.calls.start, form.tokens), _marker(form.calls.end, form.tokens)
    head = json.dumps(f'\n{{"name": "{tool.name}", "arguments": ')
    return (
        f'call_{index}: {start} {head} args_{index} "}}\\n" {end}\n'
        f"args_{index}: %json {_arguments_schema(tool)}\n"
    )


def _thinking_rule(form: CallFormat) -> str:
    """Room to think first, where the model's thinking markers are tokens: free text cannot
    hold a token, so the thinking ends exactly at its end marker."""
    thinking = form.thinking
    if thinking is None or not {thinking.start, thinking.end} <= form.tokens:
        return 'prefix: ""\n'
    lexemes = "THOUGHT: /(.|\\n)*/\nWS: /\\s*/\n"
    if form.starts_thinking:
        return f"prefix: THOUGHT {thinking.end} WS\n{lexemes}"
    return f"prefix: ({thinking.start} THOUGHT {thinking.end} WS)?\n{lexemes}"


def build_tool_grammar(spec: ToolSpec, form: CallFormat | None) -> Result[str | None, ApiError]:
    """The lark grammar for a forced choice (None when the model may answer freely), or a
    400 naming ``tool_choice`` when the model's call format has no grammar here."""
    forced = spec.forced
    if not forced:
        return Success(None)
    if form is None or form.parser not in GRAMMAR_PARSERS or not form.calls.end:
        parser = form.parser if form is not None else "none"
        return Failure(
            InvalidRequest(
                f"tool_choice {_choice_text(spec)} needs constrained decoding, which this "
                f"server has only for the json_tools call format (this model's: {parser}); "
                "use 'auto'",
                param="tool_choice",
                code="unsupported_parameter",
            )
        )
    rules = "".join(_call_rule(i, tool, form) for i, tool in enumerate(forced))
    call = " | ".join(f"call_{i}" for i in range(len(forced)))
    calls = 'call ("\\n" call)*' if spec.parallel else "call"
    lark = f"start: prefix {calls}\ncall: {call}\n{_thinking_rule(form)}{rules}"
    return _compiled(lark)


def _choice_text(spec: ToolSpec) -> str:
    return repr(spec.choice) if isinstance(spec.choice, str) else "naming a function"


def _compiled(lark: str) -> Result[str | None, ApiError]:
    grammar = llguidance.LLMatcher.grammar_from_lark(lark)
    # Checked without the tokenizer: it catches a parameters schema llguidance cannot
    # enforce, while the markers' tokens are looked up when the engine builds its matcher.
    problem = llguidance.LLMatcher.validate_grammar(grammar)
    if problem:
        return Failure(
            InvalidRequest(
                f"the tools' parameters cannot be enforced as a grammar: {problem}",
                param="tools",
            )
        )
    return Success(grammar)
