"""Response formats become llguidance grammars that accept exactly the JSON they describe."""

from __future__ import annotations

import llguidance
import pytest

from mlxfn.domain.response_format import TEXT, JsonObjectFormat, JsonSchemaFormat
from mlxfn.pipeline.grammar import check_response_format, grammar_of, json_schema_grammar

POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}


def accepts(grammar: str, text: str) -> bool:
    """Whether the grammar matches ``text`` in full, checked byte by byte without a model."""
    tokenizer = llguidance.LLTokenizer("byte")
    matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
    tokens = tokenizer.tokenize_str(text)
    return matcher.consume_tokens(tokens) and matcher.is_accepting()


def test_text_has_no_grammar() -> None:
    assert grammar_of(TEXT) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [('{"x": 1, "y": 2}', True), ('{"x": 1}', False), ('{"x":1,"y":2}', False), ("[1]", False)],
)
def test_a_schema_grammar_accepts_its_json_with_python_separators(text: str, ok: bool) -> None:
    fmt = JsonSchemaFormat.parse(name="p", schema=POINT).unwrap()
    grammar = grammar_of(fmt)
    assert grammar is not None
    assert accepts(grammar, text) == ok


@pytest.mark.parametrize(("text", "ok"), [("{}", True), ('{"a": [1, "b"]}', True), ("1", False)])
def test_json_object_accepts_any_object(text: str, ok: bool) -> None:
    grammar = grammar_of(JsonObjectFormat())
    assert grammar is not None
    assert accepts(grammar, text) == ok


def test_no_free_whitespace_unless_the_schema_asks() -> None:
    assert not accepts(json_schema_grammar(POINT), '{ "x": 1, "y": 2}')
    flexible = {"whitespace_flexible": True, "item_separator": ",", "key_separator": ":"}
    relaxed = {**POINT, "x-guidance": flexible}
    assert accepts(json_schema_grammar(relaxed), '{ "x" : 1 ,\n "y": 2 }')


def test_check_response_format_passes_good_formats_through() -> None:
    fmt = JsonSchemaFormat.parse(name="p", schema=POINT).unwrap()
    assert check_response_format(fmt).unwrap() == fmt
    assert check_response_format(TEXT).unwrap() == TEXT
