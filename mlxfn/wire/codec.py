"""Bytes ↔ JSON values, with orjson (strict: no NaN, no 1e400, UTF-8 only)."""

from __future__ import annotations

from typing import Any

import orjson
from returns.result import Failure, Result, Success, safe

from mlxfn.domain.errors import ApiError, InvalidRequest


@safe(exceptions=(orjson.JSONDecodeError,))  # only what we expect; a bug still raises
def _loads(body: bytes) -> object:
    return orjson.loads(body)


def decode_json(body: bytes) -> Result[object, ApiError]:
    """Parse a request body as JSON.

    >>> decode_json(b'{"a": 1}')
    <Success: {'a': 1}>
    """
    return _loads(body).alt(lambda exc: InvalidRequest(f"body is not valid JSON: {exc}"))


def require_object(value: object) -> Result[dict[str, Any], ApiError]:
    if isinstance(value, dict):
        return Success(value)
    return Failure(InvalidRequest("body must be a JSON object"))


def encode_json(value: object) -> bytes:
    return orjson.dumps(value)
