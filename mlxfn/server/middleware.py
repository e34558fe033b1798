"""Request ids, the access log, and turning every failure into OpenAI's error body."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from mlxfn.domain.errors import (
    ApiError,
    BodyTooLarge,
    EngineFailed,
    InvalidRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from mlxfn.server.keys import CONFIG, REQUEST_ID
from mlxfn.server.responses import error_response

log = logging.getLogger("mlxfn.access")
error_log = logging.getLogger("mlxfn.server")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(request: web.Request) -> str:
    return str(request.get(REQUEST_ID, "-"))


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Honour a sane client ``X-Request-ID`` or make one; log one line per request."""
    given = request.headers.get("X-Request-ID", "")
    request[REQUEST_ID] = given if _CLIENT_ID.fullmatch(given) else f"req_{uuid.uuid4().hex}"
    started = time.perf_counter()
    status = 499  # stays so if the client goes away mid-request
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        log.info(
            "%s %s %s %d %.1fms",
            request[REQUEST_ID],
            request.method,
            request.path,
            status,
            (time.perf_counter() - started) * 1000,
        )


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: streamed responses get the header too, before their first byte."""
    response.headers["X-Request-ID"] = request_id_of(request)


def _http_error(request: web.Request, exc: web.HTTPException) -> ApiError:
    match exc:
        case web.HTTPNotFound():
            return RouteNotFound(request.method, request.path)
        case web.HTTPMethodNotAllowed():
            return MethodNotAllowed(request.method, request.path)
        case web.HTTPRequestEntityTooLarge():
            return BodyTooLarge(request.app[CONFIG].max_body_bytes)
        case _:
            return InvalidRequest(exc.reason or "bad request")


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 and any escaped exception get the OpenAI error body."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_http_error(request, exc))
        response.set_status(exc.status)  # keep aiohttp's status for the rarer 4xx it raises
        if "Allow" in exc.headers:  # a 405 must say which methods are allowed
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:  # noqa: BLE001  the last line of defence: a 500 in OpenAI's shape, logged
        error_log.exception("request %s failed", request_id_of(request))
        return error_response(EngineFailed("unhandled exception"))
