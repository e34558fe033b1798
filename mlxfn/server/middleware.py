"""Request ids, the access log, and turning every failure into OpenAI's error body."""

from __future__ import annotations

import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from mlxfn.domain.errors import (
    ApiError,
    BodyTooLarge,
    EngineFailed,
    InvalidRequest,
    MethodNotAllowed,
    RouteNotFound,
)
from mlxfn.server.keys import CLIENT_LEFT, CONFIG, METRICS, REQUEST_ID, TRACE
from mlxfn.server.metrics import UNMATCHED_ROUTE, Trace, build_record, render_access_line
from mlxfn.server.responses import error_response

log = logging.getLogger("mlxfn.access")
error_log = logging.getLogger("mlxfn.server")

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_of(request: web.Request) -> str:
    return str(request.get(REQUEST_ID, "-"))


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Honour a sane client ``X-Request-ID`` or make one; record and log each request once."""
    given = request.headers.get("X-Request-ID", "")
    request[REQUEST_ID] = given if _CLIENT_ID.fullmatch(given) else f"req_{uuid.uuid4().hex}"
    request[TRACE] = trace = Trace()
    status = 499  # stays so if the client goes away mid-request
    try:
        response = await handler(request)
        # A stream cut short by its reader shows 499 whichever way aiohttp noticed: a
        # cancelled handler never gets here, a failed write returns the prepared 200.
        status = 499 if request.get(CLIENT_LEFT) else response.status
        return response
    finally:  # a stream has ended by now: its handler returns after the last event
        _record(request, trace, status)


def route_of(request: web.Request) -> str:
    """The matched route's pattern (``/v1/models/{model_id}``), so labels stay few."""
    resource = request.match_info.route.resource
    return UNMATCHED_ROUTE if resource is None else resource.canonical


def _record(request: web.Request, trace: Trace, status: int) -> None:
    record = build_record(
        trace,
        request_id=request[REQUEST_ID],
        method=request.method,
        route=route_of(request),
        path=request.path,
        status=status,
        ended=time.perf_counter(),
    )
    log.info("%s", render_access_line(record))
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.record(record)


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


def _payload_error(exc: web.RequestPayloadError) -> ApiError:
    """A body that aiohttp cannot read, such as one that is not in its Content-Encoding."""
    cause = exc.__cause__
    detail = cause.message if isinstance(cause, HttpProcessingError) else "it is malformed"
    return InvalidRequest(f"the request body could not be read: {detail}")


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 and any escaped exception get the OpenAI error body."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_http_error(request, exc), request.path)
        response.set_status(exc.status)  # keep aiohttp's status for the rarer 4xx it raises
        if "Allow" in exc.headers:  # a 405 must say which methods are allowed
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except web.RequestPayloadError as exc:  # the body cannot be read: the client's fault
        return error_response(_payload_error(exc), request.path)
    except Exception:  # noqa: BLE001  the last line of defence: a 500 in OpenAI's shape, logged
        error_log.exception("request %s failed", request_id_of(request))
        return error_response(EngineFailed("unhandled exception"), request.path)
