"""The closed set of errors a request can end in, and their one mapping to HTTP status."""

from __future__ import annotations

from typing import Literal, assert_never

import attrs


@attrs.frozen
class InvalidRequest:
    """The client sent something we cannot accept; ``param`` names the offending field."""

    message: str
    param: str | None = None
    code: str | None = None


@attrs.frozen
class Unauthorized:
    """No API key, or not one the server was given. ``given`` says whether one was sent."""

    given: bool


@attrs.frozen
class HostNotAllowed:
    """A ``Host`` this server does not answer: what a DNS-rebinding page sends."""

    host: str


@attrs.frozen
class OriginNotAllowed:
    """A web page of another origin, not one ``--cors-origins`` allows, sent the request."""

    origin: str


@attrs.frozen
class ModelNotFound:
    model: str


@attrs.frozen
class ResponseNotFound:
    """No stored response has this id: never stored, deleted, evicted, or from before a restart."""

    response_id: str
    param: str | None = None  # the request field that named it (None: the URL's path)


@attrs.frozen
class ContextLengthExceeded:
    prompt_tokens: int
    max_tokens: int
    limit: int
    param: str = "messages"  # the field that holds the prompt: messages, or prompt


@attrs.frozen
class Overloaded:
    """The engine's admission queue is full; the client should retry later."""

    pending: int


@attrs.frozen
class RouteNotFound:
    method: str
    path: str


@attrs.frozen
class MethodNotAllowed:
    method: str
    path: str


@attrs.frozen
class BodyTooLarge:
    limit_bytes: int


@attrs.frozen
class UnsupportedMediaType:
    """A JSON route's body sent as something other than ``application/json`` (``""``: none)."""

    content_type: str


@attrs.frozen
class Unavailable:
    """The server cannot serve right now (the engine stopped or is shutting down)."""

    reason: str


@attrs.frozen
class TimedOut:
    """A deadline passed: waiting for a batch slot (``queue``) or for the whole answer."""

    stage: Literal["queue", "total"]
    seconds: float


@attrs.frozen
class EngineFailed:
    """Our fault. ``detail`` goes to the log only; clients get a generic message."""

    detail: str


ApiError = (
    InvalidRequest
    | Unauthorized
    | HostNotAllowed
    | OriginNotAllowed
    | ModelNotFound
    | ResponseNotFound
    | ContextLengthExceeded
    | Overloaded
    | RouteNotFound
    | MethodNotAllowed
    | BodyTooLarge
    | UnsupportedMediaType
    | Unavailable
    | TimedOut
    | EngineFailed
)

# How a generation that has started can end other than by finishing.
GenerationError = EngineFailed | TimedOut | Unavailable


def error_status(err: ApiError) -> int:
    """The HTTP status for an error: the only place this mapping lives.

    >>> error_status(InvalidRequest("bad", param="temperature"))
    400
    """
    match err:
        case InvalidRequest() | ContextLengthExceeded():
            return 400
        case Unauthorized():
            return 401
        case HostNotAllowed() | OriginNotAllowed():
            return 403
        case ModelNotFound() | RouteNotFound() | ResponseNotFound():
            return 404
        case MethodNotAllowed():
            return 405
        case BodyTooLarge():
            return 413
        case UnsupportedMediaType():
            return 415
        case Overloaded():
            return 429
        case EngineFailed():
            return 500
        case Unavailable() | TimedOut():
            return 503
        case _:
            assert_never(err)
