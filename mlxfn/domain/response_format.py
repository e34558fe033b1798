"""What shape a completion's text must take: free text, any JSON object, or a JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
from returns.result import Result

from mlxfn.domain.errors import ApiError
from mlxfn.domain.values import refine

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@attrs.frozen
class TextFormat:
    """No constraint: the model writes what it likes (OpenAI's default)."""


@attrs.frozen
class JsonObjectFormat:
    """OpenAI's JSON mode: the text is one JSON object, of any shape."""


def _format_name(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _NAME.fullmatch(value):
        raise ValueError(f"must be 1 to 64 of a-z, A-Z, 0-9, '_' or '-', got {value!r}")


def _json_object_text(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(json.loads(value), dict):
        raise ValueError("must be a JSON object")


@attrs.frozen(kw_only=True)
class JsonSchemaFormat:
    """Structured outputs: the text is JSON valid against ``schema``.

    ``schema`` is kept as JSON text, so that the value stays immutable and hashable. The schema
    is enforced whatever ``strict`` says: constrained decoding costs little, and a client that
    sends a schema wants output that matches it.

    >>> JsonSchemaFormat.parse(name="point", schema={"type": "object"}).unwrap().schema
    '{"type":"object"}'
    >>> JsonSchemaFormat.parse(name="a point", schema={}).failure().param
    'response_format.json_schema.name'
    """

    name: str = attrs.field(validator=_format_name)
    schema: str = attrs.field(validator=_json_object_text)
    description: str | None = None
    strict: bool = False

    @property
    def schema_object(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.schema)
        return loaded

    @classmethod
    def parse(
        cls,
        *,
        name: str,
        schema: dict[str, Any],
        description: str | None = None,
        strict: bool = False,
    ) -> Result[JsonSchemaFormat, ApiError]:
        return refine(
            lambda n: cls(
                name=n,
                schema=_compact_json(schema),
                description=description,
                strict=strict,
            ),
            name,
            "response_format.json_schema.name",
        )


def _compact_json(value: dict[str, Any]) -> str:
    # The standard library's json, so that the domain needs no JSON library of its own; the
    # schema came from a JSON document, so it has no NaN and only string keys.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


ResponseFormat = TextFormat | JsonObjectFormat | JsonSchemaFormat

TEXT = TextFormat()
