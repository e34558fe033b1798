"""The closed error set and its one mapping to HTTP status."""

from __future__ import annotations

from typing import get_args

import pytest

from mlxfn.domain.errors import (
    ApiError,
    BodyTooLarge,
    ContextLengthExceeded,
    EngineFailed,
    HostNotAllowed,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    OriginNotAllowed,
    Overloaded,
    ResponseNotFound,
    RouteNotFound,
    TimedOut,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    error_status,
)

# One example of every error class, with the status it must map to.
STATUS_OF: list[tuple[ApiError, int]] = [
    (InvalidRequest("bad", param="temperature"), 400),
    (InvalidRequest("bad"), 400),
    (ContextLengthExceeded(prompt_tokens=10, max_tokens=5, limit=12), 400),
    (Unauthorized(given=False), 401),
    (Unauthorized(given=True), 401),
    (HostNotAllowed("attacker.example:8000"), 403),
    (OriginNotAllowed("http://attacker.example"), 403),
    (ModelNotFound("gpt-4"), 404),
    (RouteNotFound("GET", "/nope"), 404),
    (ResponseNotFound("resp_1"), 404),
    (MethodNotAllowed("GET", "/v1/chat/completions"), 405),
    (BodyTooLarge(1024), 413),
    (UnsupportedMediaType("text/plain"), 415),
    (Overloaded(8), 429),
    (EngineFailed("CUDA fell over"), 500),
    (Unavailable("shutting down"), 503),
    (TimedOut("queue", 30.0), 503),
    (TimedOut("total", 600.0), 503),
]


@pytest.mark.parametrize(("err", "status"), STATUS_OF, ids=lambda x: type(x).__name__)
def test_error_status(err: ApiError, status: int) -> None:
    assert error_status(err) == status


def test_every_error_class_has_a_status_case() -> None:
    """Adding an error class to ApiError must add a row to STATUS_OF above."""
    assert {type(err) for err, _ in STATUS_OF} == set(get_args(ApiError))


def test_client_errors_are_4xx_and_ours_are_5xx() -> None:
    client = {
        InvalidRequest,
        Unauthorized,
        HostNotAllowed,
        OriginNotAllowed,
        ContextLengthExceeded,
        ModelNotFound,
        ResponseNotFound,
        RouteNotFound,
        MethodNotAllowed,
        BodyTooLarge,
        UnsupportedMediaType,
        Overloaded,
    }
    for err, status in STATUS_OF:
        assert (400 <= status < 500) == (type(err) in client)
