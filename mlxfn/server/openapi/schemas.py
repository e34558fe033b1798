"""The schema builder of ``/openapi.json``: wire types (attrs classes, unions, tuples, dicts)
turned into JSON Schema, one component per attrs class, with each class's bounds, null-only
fields and cross-field rules laid over it; and the small pieces every part of the document
shares."""

from __future__ import annotations

import types
import typing
from typing import Any, Final, Union

import attrs

from mlxfn.wire.bodies import ROLE_OF_BODY

JSON = dict[str, Any]

REF: Final = "#/components/schemas/"
NULL: Final[JSON] = {"type": "null"}
_PRIMITIVES: Final[dict[object, JSON]] = {
    str: {"type": "string"},
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    type(None): NULL,
    Any: {},
}


def present(field: str, schema: JSON) -> JSON:
    return {"properties": {field: schema}, "required": [field]}


def when(field: str, value: object, then: JSON) -> JSON:
    return {"if": present(field, {"const": value}), "then": then}


def object_schema(properties: JSON, required: list[str] | None = None) -> JSON:
    """An object with these properties, all of them required unless ``required`` says which."""
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def sse_event(event_types: tuple[str, ...], event: str) -> JSON:
    """A named server-sent event whose data is the JSON of the component ``event``."""
    # Before OpenAPI 3.2's itemSchema, an event stream's schema describes each event.
    return {
        "type": "object",
        "description": "one server-sent event: its type as the event name, the event as data",
        "properties": {
            "event": {"enum": list(event_types)},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": REF + event},
            },
        },
        "required": ["event", "data"],
    }


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = tuple(arg for arg in args if arg is not type(None))
        return (rest[0] if len(rest) == 1 else Union[rest]), True  # noqa: UP007  a runtime union
    return tp, False


class Schemas:
    """Turns wire types into JSON Schema, collecting one component per attrs class."""

    def __init__(
        self,
        ranges: dict[type[Any], dict[str, JSON]],
        *,
        null_only: dict[type[Any], frozenset[str]],
        rules: dict[type[Any], JSON],
        rejected: frozenset[type[Any]],
    ) -> None:
        self.ranges = ranges
        self.null_only = null_only  # fields that only null passes
        self.rules = rules  # rules across fields, added to the object schemas
        self.rejected = rejected  # union members left out: classes the parser always refuses
        self.components: dict[str, JSON] = {}

    def of(self, tp: Any) -> JSON:
        if tp in _PRIMITIVES:
            return dict(_PRIMITIVES[tp])
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (Union, types.UnionType):
            inner, nullable = _unwrap_optional(tp)
            if nullable:
                return {"anyOf": [self.of(inner), NULL]}
            return {"anyOf": [self.of(arg) for arg in args if arg not in self.rejected]}
        if origin is tuple:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            return {"type": "object", "additionalProperties": self.of(args[1])}
        if attrs.has(tp):
            return self.component(tp)
        raise TypeError(f"no JSON Schema for {tp!r}")

    def component(self, cls: type[Any]) -> JSON:
        name = cls.__name__
        if name not in self.components:
            self.components[name] = {}  # claimed first, so that a cycle would end here
            self.components[name] = self._object(cls)
        return {"$ref": REF + name}

    def _object(self, cls: type[Any]) -> JSON:
        ranges, nulls = self.ranges.get(cls, {}), self.null_only.get(cls, frozenset())
        hints = typing.get_type_hints(cls)
        properties: JSON = {}
        required: list[str] = []
        role = ROLE_OF_BODY.get(cls)
        if role is not None:  # a message body: its role is the tag that picks the class
            properties["role"] = {"const": role}
            required.append("role")
        for field in attrs.fields(cls):
            if field.name in nulls:
                properties[field.name] = {"type": "null", "description": "not supported"}
                continue
            inner, nullable = _unwrap_optional(hints[field.name])
            schema = {**self.of(inner), **ranges.get(field.name, {})}
            properties[field.name] = {"anyOf": [schema, NULL]} if nullable else schema
            if field.default is attrs.NOTHING:
                required.append(field.name)
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema | self.rules.get(cls, {})
