"""API keys: ``Authorization: Bearer KEY`` on every ``/v1`` route, checked in constant time.

``/health``, ``/metrics`` and ``/openapi.json`` stay open, for load balancers and scrapers,
and CORS preflights pass, since browsers send them without credentials.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from mlxfn.domain.errors import Unauthorized
from mlxfn.server.keys import CONFIG
from mlxfn.server.responses import error_response

_PROTECTED_PREFIX = "/v1"
_SCHEME = "bearer"


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header value (scheme case-insensitive).

    >>> bearer_token("Bearer sk-1"), bearer_token("bearer  sk-1 "), bearer_token("Basic x")
    ('sk-1', 'sk-1', None)
    """
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == _SCHEME and token else None


def key_matches(token: str, keys: frozenset[str]) -> bool:
    """Whether ``token`` is one of ``keys``, comparing against every key in constant time, so
    neither which key matched nor how much of one did shows in the timing.

    >>> key_matches("sk-1", frozenset({"sk-0", "sk-1"})), key_matches("sk-", frozenset({"sk-1"}))
    (True, False)
    """
    given = token.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    return matched


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    keys = request.app[CONFIG].api_keys
    if (
        not keys
        or not request.path.startswith(_PROTECTED_PREFIX)
        or request.method == hdrs.METH_OPTIONS
    ):
        return await handler(request)
    token = bearer_token(request.headers.get(hdrs.AUTHORIZATION, ""))
    if token is None:
        return error_response(Unauthorized(given=False))
    if not key_matches(token, keys):
        return error_response(Unauthorized(given=True))
    return await handler(request)
