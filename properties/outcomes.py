"""What every parse of untrusted input must give, for the parsing properties of each endpoint."""

from __future__ import annotations

import json
from typing import Any

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, error_status
from mlxfn.wire.responses import render_error
from tests.schemas import validate


def client_json(value: Any) -> bytes:
    """Like a client would: stdlib json also writes integers past 64 bits, which orjson refuses."""
    return json.dumps(value, ensure_ascii=False).encode()


def check_outcome(result: Result[object, ApiError], kind: type) -> ApiError | None:
    """The invariant on every outcome: a request of ``kind``, or a 4xx with OpenAI's four
    error keys (returned, for the caller to look at)."""
    match result:
        case Success(request) if isinstance(request, kind):
            return None
        case Failure(err):
            assert 400 <= error_status(err) < 500
            rendered = render_error(err)
            assert set(rendered["error"]) == {"message", "type", "param", "code"}
            validate(rendered, "ErrorResponse")
            return err  # type: ignore[no-any-return]
        case _:
            raise AssertionError(f"not a Result of a {kind.__name__}: {result!r}")
