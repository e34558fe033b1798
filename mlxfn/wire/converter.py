"""The one cattrs converter: untrusted JSON values become wire bodies, or a typed error.

Hooks live only here. They are strict (no ``"3"`` → 3, no string → tuple of characters) and
every failure carries the JSON path of the offending field, which becomes the error's ``param``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import attrs
from cattrs import Converter
from cattrs.errors import (
    BaseValidationError,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest
from mlxfn.wire.bodies import ROLE_OF_BODY, MessageBody

_NONE = type(None)
_T = TypeVar("_T")


class FieldError(ValueError):
    """A value error about a named key inside the object being structured."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


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
        (item, *_rest) = get_args(tp)

        def structure(raw: object, _: Any) -> tuple[Any, ...]:
            if not isinstance(raw, list):
                raise _expect("an array", raw)
            errors: list[Exception] = []
            out: list[Any] = []
            for index, value in enumerate(raw):
                try:
                    out.append(self.conv.structure(value, item))
                except Exception as exc:  # noqa: BLE001  collected into the group, like cattrs does
                    note = IterableValidationNote(f"Structuring {tp} @ index {index}", index, item)
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    errors.append(exc)
            if errors:
                raise IterableValidationError("invalid items", errors, tp)
            return tuple(out)

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
            raise FieldError(f"role must be one of {roles}; got {role!r}", key="role")
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


def _first_error(exc: BaseException, path: str) -> tuple[str, str]:
    """Walk cattrs' exception groups to the first leaf: (JSON path, message)."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        if with_notes:
            inner, note = with_notes[0]
            return _first_error(inner, f"{path}.{note.name}" if path else note.name)
        return _first_error(without[0], path)
    if isinstance(exc, IterableValidationError):
        with_index, without_index = exc.group_exceptions()
        if with_index:
            inner, index_note = with_index[0]
            return _first_error(inner, f"{path}[{index_note.index}]")
        return _first_error(without_index[0], path)
    if isinstance(exc, BaseValidationError):
        return _first_error(exc.exceptions[0], path)
    if isinstance(exc, FieldError):
        return (f"{path}.{exc.key}" if path else exc.key), str(exc)
    if isinstance(exc, KeyError):
        return path, "is required"
    return path, str(exc)


def structure_as(raw: object, cls: type[_T]) -> Result[_T, ApiError]:
    """Structure a decoded JSON value into a wire body, or an InvalidRequest naming the field."""
    try:
        return Success(WIRE.structure(raw, cls))
    except (BaseValidationError, TypeError, ValueError, KeyError) as exc:
        param, message = _first_error(exc, "")
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
