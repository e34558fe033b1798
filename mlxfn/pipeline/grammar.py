"""Response formats → llguidance grammars, checked before a request reaches the engine.

llguidance (Rust, no MLX) compiles JSON Schema and Lark into one grammar format, which the
engine enforces token by token (``engine/constraint.py``). Compiling here, without a
tokenizer, catches a schema it cannot handle as a 400 instead of a failed generation.
"""

from __future__ import annotations

from typing import Any, Final

from llguidance import LLMatcher
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.domain.response_format import (
    JsonObjectFormat,
    JsonSchemaFormat,
    ResponseFormat,
    TextFormat,
)

# Fixed separators, as json.dumps writes them, and no other whitespace: without a bound on
# whitespace a weak model can pad forever and never close the object. A schema may still
# choose otherwise with llguidance's "x-guidance" key, which these defaults yield to.
JSON_OPTIONS: Final[dict[str, Any]] = {
    "whitespace_flexible": False,
    "item_separator": ", ",
    "key_separator": ": ",
}
_ANY_OBJECT: Final = {"type": "object"}


def grammar_of(response_format: ResponseFormat) -> str | None:
    """The llguidance grammar a response format asks for; None for free text.

    >>> grammar_of(TextFormat()) is None
    True
    >>> "json_schema" in grammar_of(JsonObjectFormat())
    True
    """
    match response_format:
        case TextFormat():
            return None
        case JsonObjectFormat():
            return json_schema_grammar(_ANY_OBJECT)
        case JsonSchemaFormat():
            return json_schema_grammar(response_format.schema_object)


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """A JSON Schema as an llguidance grammar, with mlxfn's whitespace rules."""
    return LLMatcher.grammar_from_json_schema(schema, defaults=JSON_OPTIONS)  # type: ignore[arg-type]


SCHEMA_PARAM: Final = "response_format.json_schema.schema"


def check_response_format(response_format: ResponseFormat) -> Result[ResponseFormat, ApiError]:
    """The format itself when its grammar compiles; a 400 naming its schema when not.

    >>> bad = JsonSchemaFormat.parse(name="x", schema={"type": "strin"}).unwrap()
    >>> check_response_format(bad).failure().param
    'response_format.json_schema.schema'
    """
    try:
        grammar = grammar_of(response_format)
    except ValueError as exc:  # llguidance rejects a schema it cannot even read
        return Failure(_unenforceable(str(exc)))
    error = "" if grammar is None else LLMatcher.validate_grammar(grammar)
    if error:
        return Failure(_unenforceable(error))
    return Success(response_format)


def _unenforceable(reason: str) -> InvalidRequest:
    return InvalidRequest(f"this JSON schema cannot be enforced: {reason}", param=SCHEMA_PARAM)
