"""API keys: ``Authorization: Bearer KEY`` or ``x-api-key: KEY`` (Anthropic's header, which its
SDK and Claude Code send) on every ``/v1`` route and on ``/tokenize`` and ``/detokenize``,
checked in constant time.

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

# vLLM leaves its /tokenize and /detokenize open; here they use the model, so they need a key.
_PROTECTED = ("/v1", "/tokenize", "/detokenize")
_SCHEME = "bearer"
API_KEY_HEADER = "x-api-key"


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header value (scheme case-insensitive).

    >>> bearer_token("Bearer sk-1"), bearer_token("bearer  sk-1 "), bearer_token("Basic x")
    ('sk-1', 'sk-1', None)
    """
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == _SCHEME and token else None


def sent_keys(authorization: str, api_key: str) -> tuple[str, ...]:
    """The keys a request sent: a Bearer token, an ``x-api-key`` value, or both (either may
    be the right one: clients that send both do not agree which one counts).

    >>> sent_keys("Bearer sk-1", ""), sent_keys("", " sk-2 "), sent_keys("Basic x", "")
    (('sk-1',), ('sk-2',), ())
    """
    bearer = bearer_token(authorization)
    return tuple(key for key in (bearer, api_key.strip()) if key)


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
    if not keys or not request.path.startswith(_PROTECTED) or request.method == hdrs.METH_OPTIONS:
        return await handler(request)
    tokens = sent_keys(
        request.headers.get(hdrs.AUTHORIZATION, ""), request.headers.get(API_KEY_HEADER, "")
    )
    if not tokens:
        return error_response(Unauthorized(given=False), request.path)
    if not any(key_matches(token, keys) for token in tokens):
        return error_response(Unauthorized(given=True), request.path)
    return await handler(request)
