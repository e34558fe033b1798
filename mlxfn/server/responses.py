"""Domain values → aiohttp responses: the one place an ApiError becomes an HTTP status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from mlxfn.domain.errors import ApiError, Overloaded, TimedOut, Unauthorized, error_status
from mlxfn.wire.codec import encode_json
from mlxfn.wire.messages_api_render import render_messages_error
from mlxfn.wire.responses import render_error

RETRY_AFTER_SECONDS = "1"
MESSAGES_PATH: Final = "/v1/messages"


def json_response(value: object, status: int = 200) -> web.Response:
    return web.Response(body=encode_json(value), status=status, content_type="application/json")


def error_renderer(path: str) -> Callable[[ApiError], dict[str, Any]]:
    """The error body a route's clients read: Anthropic's under ``/v1/messages`` (its SDK and
    Claude Code parse no other), OpenAI's everywhere else.

    >>> error_renderer("/v1/messages/count_tokens").__name__, error_renderer("/v1/models").__name__
    ('render_messages_error', 'render_error')
    >>> error_renderer("/v1/messagesx").__name__
    'render_error'
    """
    anthropic = path == MESSAGES_PATH or path.startswith(MESSAGES_PATH + "/")
    return render_messages_error if anthropic else render_error


def error_response(err: ApiError, path: str = "") -> web.Response:
    """The error's status and body, in the shape the route at ``path`` answers in."""
    response = json_response(error_renderer(path)(err), error_status(err))
    if isinstance(err, Overloaded) or (isinstance(err, TimedOut) and err.stage == "queue"):
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(err, Unauthorized):  # RFC 6750: say which scheme to use
        response.headers["WWW-Authenticate"] = 'Bearer realm="mlxfn"'
    return response
