"""Domain values → aiohttp responses: the one place an ApiError becomes an HTTP status."""

from __future__ import annotations

from aiohttp import web

from mlxfn.domain.errors import ApiError, Overloaded, TimedOut, Unauthorized, error_status
from mlxfn.wire.codec import encode_json
from mlxfn.wire.responses import render_error

RETRY_AFTER_SECONDS = "1"


def json_response(value: object, status: int = 200) -> web.Response:
    return web.Response(body=encode_json(value), status=status, content_type="application/json")


def error_response(err: ApiError) -> web.Response:
    response = json_response(render_error(err), error_status(err))
    if isinstance(err, Overloaded) or (isinstance(err, TimedOut) and err.stage == "queue"):
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(err, Unauthorized):  # RFC 6750: say which scheme to use
        response.headers["WWW-Authenticate"] = 'Bearer realm="mlxfn"'
    return response
