"""The forced-call grammar, checked with llguidance's own matcher on the demo model's vocabulary."""

from __future__ import annotations

import functools
from typing import Any

import llguidance
import llguidance.hf
import pytest
from transformers import AutoTokenizer

from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolSpec
from mlxfn.pipeline.markup import Markers
from mlxfn.pipeline.tool_grammar import CallFormat, build_tool_grammar
from tests.demo import DEMO_MODEL_DIR

WEATHER = FunctionTool(
    name="get_weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ADD = FunctionTool(
    name="add",
    parameters={
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
    },
)
FORM = CallFormat(
    parser="json_tools",
    calls=Markers("<tool_call>", "</tool_call>"),
    tokens=frozenset({"<tool_call>", "</tool_call>"}),
)
W_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
A_CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'


@functools.cache
def _tokenizers() -> tuple[Any, Any]:
    hf = AutoTokenizer.from_pretrained(str(DEMO_MODEL_DIR))
    return hf, llguidance.hf.from_tokenizer(hf)


def _accepts(grammar: str, text: str) -> bool:
    hf, tokenizer = _tokenizers()
    assert llguidance.LLMatcher.validate_grammar(grammar, tokenizer) == ""
    matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
    return bool(matcher.consume_tokens(hf.encode(text, add_special_tokens=False))) and bool(
        matcher.is_accepting()
    )


@pytest.mark.parametrize(
    ("spec", "text", "accepted"),
    [
        (ToolSpec(tools=(WEATHER, ADD), choice="required"), W_CALL, True),
        (ToolSpec(tools=(WEATHER, ADD), choice="required"), f"{W_CALL}\n{A_CALL}", True),
        (
            ToolSpec(tools=(WEATHER, ADD), choice="required", parallel=False),
            f"{W_CALL}\n{A_CALL}",
            False,
        ),
        (ToolSpec(tools=(WEATHER, ADD), choice="required"), "It is sunny.", False),
        (ToolSpec(tools=(WEATHER, ADD), choice=NamedToolChoice("add")), A_CALL, True),
        (ToolSpec(tools=(WEATHER, ADD), choice=NamedToolChoice("add")), W_CALL, False),
        (
            ToolSpec(tools=(WEATHER,), choice="required"),
            W_CALL.replace('"city": "Oslo"', '"town": "Oslo"'),
            False,
        ),
    ],
)
def test_the_grammar_allows_only_calls_matching_the_schemas(
    spec: ToolSpec, text: str, accepted: bool
) -> None:
    grammar = build_tool_grammar(spec, FORM).unwrap()
    assert grammar is not None
    assert _accepts(grammar, text) == accepted


def test_no_grammar_unless_forced() -> None:
    assert build_tool_grammar(ToolSpec(tools=(WEATHER,)), FORM).unwrap() is None


def test_an_unknown_format_or_bad_schema_is_a_400() -> None:
    spec = ToolSpec(tools=(WEATHER,), choice="required")
    other = CallFormat(parser="pythonic", calls=Markers("<|tool_call_start|>", "<|tool_call_end|>"))
    assert build_tool_grammar(spec, other).failure().param == "tool_choice"
    bad = FunctionTool(
        name="f", parameters={"type": "object", "properties": {"a": {"type": "frob"}}}
    )
    assert (
        build_tool_grammar(ToolSpec(tools=(bad,), choice="required"), FORM).failure().param
        == "tools"
    )
