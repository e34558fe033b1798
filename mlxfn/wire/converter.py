"""The one cattrs converter: untrusted JSON values become wire bodies, or a typed error.

Hooks live only here. They are strict (no ``"3"`` → 3, no string → tuple of characters) and
every failure carries the JSON path of the offending field, which becomes the error's ``param``
(cattrs' ``transform_error`` finds it). Tuples are cattrs' own, behind a check that the value is
an array. Unions and the role-tagged message union keep their own hooks: cattrs' union
passthrough and ``configure_tagged_union`` would name neither what was expected ("expected a
string or null, got a number") nor the roles there are.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Final, TypeVar, Union, cast, get_args, get_origin

import attrs
from cattrs import Converter, transform_error
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import AttributeValidationNote, BaseValidationError, ClassValidationError
from cattrs.gen import make_dict_structure_fn
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.wire.bodies import ROLE_OF_BODY, MessageBody

_NONE = type(None)
_T = TypeVar("_T")


def _kind_name(raw: object) -> str:
    match raw:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return type(raw).__name__


def _expect(expected: str, raw: object) -> TypeError:
    return TypeError(f"expected {expected}, got {_kind_name(raw)}")


def _structure_str(raw: object, _: type) -> str:
    if not isinstance(raw, str):
        raise _expect("a string", raw)
    return raw


def _structure_bool(raw: object, _: type) -> bool:
    if not isinstance(raw, bool):
        raise _expect("a boolean", raw)
    return raw


def _structure_int(raw: object, _: type) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise _expect("an integer", raw)
    return raw


def _structure_float(raw: object, _: type) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        raise _expect("a number", raw)
    return float(raw)


def _accepts(member: Any, raw: object) -> bool:
    """Whether a union member is the one a raw JSON value of this kind belongs to."""
    origin = get_origin(member)
    if member is _NONE:
        return raw is None
    if member is bool:
        return isinstance(raw, bool)
    if member is int:
        return isinstance(raw, int) and not isinstance(raw, bool)
    if member is float:
        return isinstance(raw, int | float) and not isinstance(raw, bool)
    if member is str:
        return isinstance(raw, str)
    if origin is tuple:
        return isinstance(raw, list)
    return isinstance(raw, dict) and (origin is dict or attrs.has(member))


def _describe(member: Any) -> str:
    origin = get_origin(member)
    names = {
        _NONE: "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
    }
    if member in names:
        return names[member]
    return "an array" if origin is tuple else "an object"


def _is_tuple(tp: Any) -> bool:
    return get_origin(tp) is tuple


def _is_dict(tp: Any) -> bool:
    return get_origin(tp) is dict


def _is_json_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType) and tp != MessageBody


class _Hooks:
    """Hook factories that need the converter to structure nested values."""

    def __init__(self, conv: Converter) -> None:
        self.conv = conv

    def union(self, tp: Any) -> Callable[[object, Any], Any]:
        members = get_args(tp)

        def structure(raw: object, _: Any) -> Any:
            for member in members:
                if _accepts(member, raw):
                    return None if member is _NONE else self.conv.structure(raw, member)
            expected = " or ".join(_describe(m) for m in members)
            raise _expect(expected, raw)

        return structure

    def tuple_of(self, tp: Any) -> Callable[[object, Any], Any]:
        inner = homogenous_tuple_structure_factory(tp, self.conv)

        def structure(raw: object, _: Any) -> tuple[Any, ...]:
            if not isinstance(raw, list):  # cattrs takes any iterable: "END" → ('E', 'N', 'D')
                raise _expect("an array", raw)
            structured: tuple[Any, ...] = inner(raw, tp)
            return structured

        return structure

    def mapping(self, tp: Any) -> Callable[[object, Any], Any]:
        key_type, value_type = get_args(tp) or (str, Any)

        def structure(raw: object, _: Any) -> dict[Any, Any]:
            if not isinstance(raw, dict):
                raise _expect("an object", raw)
            if value_type is Any:
                return dict(raw)
            return {
                self.conv.structure(k, key_type): self.conv.structure(v, value_type)
                for k, v in raw.items()
            }

        return structure

    def attrs_class(self, cls: type) -> Callable[[object, Any], Any]:
        inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, self.conv)

        def structure(raw: object, _: Any) -> Any:
            if not isinstance(raw, dict):  # cattrs would read attributes off any object
                raise _expect("an object", raw)
            return inner(raw, cls)

        return structure

    def message(self, raw: object, _: Any) -> MessageBody:
        if not isinstance(raw, dict):
            raise _expect("an object", raw)
        role = raw.get("role")
        by_role = {role: cls for cls, role in ROLE_OF_BODY.items()}
        if not isinstance(role, str) or role not in by_role:
            roles = ", ".join(sorted(by_role))
            wrong = ValueError(f"role must be one of {roles}; got {role!r}")
            # noted as cattrs notes a field's error, so that the path ends in .role
            wrong.add_note(AttributeValidationNote("Structuring the role", "role", str))
            raise ClassValidationError("no known role", [wrong], cast(type, MessageBody))
        body = {k: v for k, v in raw.items() if k != "role"}
        structured: MessageBody = self.conv.structure(body, by_role[role])
        return structured


def make_wire_converter() -> Converter:
    """The converter for request bodies. Fields nobody defines are ignored (clients send extras)."""
    conv = Converter(forbid_extra_keys=False, detailed_validation=True)
    hooks = _Hooks(conv)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(Any, lambda raw, _: raw)
    conv.register_structure_hook_factory(attrs.has, hooks.attrs_class)
    conv.register_structure_hook_factory(_is_tuple, hooks.tuple_of)
    conv.register_structure_hook_factory(_is_dict, hooks.mapping)
    conv.register_structure_hook_factory(_is_json_union, hooks.union)
    conv.register_structure_hook(MessageBody, hooks.message)
    return conv


WIRE: Final = make_wire_converter()


def _message_of(exc: BaseException, _: type | None) -> str:
    return "is required" if isinstance(exc, KeyError) else str(exc)


def _first_error(exc: BaseException) -> tuple[str, str]:
    """The first error cattrs found, as (the JSON path without its ``$.``, message)."""
    message, _, path = transform_error(exc, format_exception=_message_of)[0].rpartition(" @ ")
    return path.removeprefix("$").removeprefix("."), message


def structure_as(raw: object, cls: type[_T]) -> Result[_T, ApiError]:
    """Structure a decoded JSON value into a wire body, or an InvalidRequest naming the field."""
    try:
        return Success(WIRE.structure(raw, cls))
    except (BaseValidationError, TypeError, ValueError, KeyError) as exc:
        param, message = _first_error(exc)
        where = f"'{param}'" if param else "body"
        return Failure(InvalidRequest(f"{where}: {message}", param=param or None))


def structured_at(item: dict[str, Any], cls: type[Any], param: str) -> Result[Any, ApiError]:
    """Structure a JSON object found at ``param`` (``messages[2]``), the error naming its field
    from there."""

    def where(err: ApiError) -> ApiError:
        if not isinstance(err, InvalidRequest):
            return err
        inner = err.param
        return InvalidRequest(
            f"{param}: {err.message}", param=f"{param}.{inner}" if inner else param
        )

    return structure_as(item, cls).alt(where)
