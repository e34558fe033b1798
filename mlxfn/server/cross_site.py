"""What web pages may not do: reach the server through DNS rebinding, or post to it cross-site.

A loopback server without an API key is in reach of every page the user's browser opens. A
page can rebind its own name to 127.0.0.1, and is then same-origin with the server: only its
``Host`` gives it away. Any page can also send a "simple" cross-site POST (``text/plain`` or a
form, so no CORS preflight) that starts a generation, even though it cannot read the answer.
So, on every route and before any handler runs:

- ``Host``: without API keys, only the bound address, a loopback name or ``--allowed-hosts``;
- ``Origin``: absent, the server's own, or one of ``--cors-origins``;
- ``Content-Type``: a POST's body must be ``application/json``, which no simple request sends.
"""

from __future__ import annotations

import ipaddress

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from mlxfn.domain.errors import HostNotAllowed, OriginNotAllowed, UnsupportedMediaType
from mlxfn.server.keys import CONFIG, ServerConfig
from mlxfn.server.responses import error_response

ANY = "*"
JSON_MEDIA_TYPE = "application/json"
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host``.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.5"), is_loopback("example.com")
    (False, False, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve anywhere
        return False


def host_name(host: str) -> str:
    """The name in a ``Host`` header (or a ``--host``), without port, brackets or final dot.

    >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("::1")
    ('localhost', '::1', '::1')
    >>> host_name("example.com.:80"), host_name("127.0.0.1")
    ('example.com', '127.0.0.1')
    """
    value = host.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, colon, _ = value.rpartition(":")
    if colon and ":" not in name:  # a bare IPv6 address has more colons than a port does
        value = name
    return value.rstrip(".")


def host_allowed(host: str, config: ServerConfig) -> bool:
    """Whether ``host`` (a ``Host`` header) is a name no rebinding page can send: the bound
    address, a loopback name or one of ``allowed_hosts``, on any port. With API keys, or
    ``allowed_hosts`` holding ``*``, every name is: a rebinding page has no key.

    >>> local = ServerConfig()
    >>> host_allowed("localhost:8000", local), host_allowed("attacker.example:8000", local)
    (True, False)
    >>> host_allowed("llm.lan", ServerConfig(allowed_hosts=frozenset({"LLM.lan"})))
    True
    """
    if config.api_keys or ANY in config.allowed_hosts:
        return True
    name = host_name(host)
    return (
        is_loopback(name)
        or name == host_name(config.bound_host)
        or name in {host_name(allowed) for allowed in config.allowed_hosts}
    )


def normalise_origin(origin: str) -> str:
    """An origin as a browser writes it: lower case, without its scheme's default port.

    >>> normalise_origin("HTTP://LocalHost:80"), normalise_origin("http://127.0.0.1:8000")
    ('http://localhost', 'http://127.0.0.1:8000')
    """
    value = origin.strip().lower()
    default = _DEFAULT_PORTS.get(value.partition("://")[0])
    return value if default is None else value.removesuffix(f":{default}")


def origin_allowed(origin: str, own: str | None, cors_origins: tuple[str, ...]) -> bool:
    """Whether a request's ``Origin`` is the server's ``own`` or one CORS allows; ``null``
    (a sandboxed frame, a file, a redirect) is neither unless it is listed.

    >>> origin_allowed("http://127.0.0.1:8000", "http://127.0.0.1:8000", ())
    True
    >>> origin_allowed("null", "http://127.0.0.1:8000", ()), origin_allowed("null", None, ("*",))
    (False, True)
    """
    return (
        ANY in cors_origins
        or origin in cors_origins
        or (own is not None and normalise_origin(origin) == own)
    )


def is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` is JSON's, whatever its parameters.

    >>> is_json("Application/JSON; charset=utf-8"), is_json("text/plain"), is_json("")
    (True, False, False)
    """
    return content_type.partition(";")[0].strip().lower() == JSON_MEDIA_TYPE


@web.middleware
async def refuse_cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a Host or Origin a web page could forge its way into, 415 for a POST that is not
    JSON; on every route, 404s included, and before the handler reads a byte of the body."""
    config = request.app[CONFIG]
    hosts = [host for host in request.headers.getall(hdrs.HOST, []) if host.strip()]
    for host in hosts:  # none: an HTTP/1.0 client, never a browser
        if not host_allowed(host, config):
            return error_response(HostNotAllowed(host), request.path)
    own = normalise_origin(f"{request.scheme}://{hosts[0]}") if hosts else None
    for origin in request.headers.getall(hdrs.ORIGIN, []):
        if not origin_allowed(origin, own, config.cors_origins):
            return error_response(OriginNotAllowed(origin), request.path)
    # Every POST route takes a JSON body; 404 and 405 answers have a system route ("*").
    if request.match_info.route.method == hdrs.METH_POST:
        content_type = request.headers.get(hdrs.CONTENT_TYPE, "")
        if not is_json(content_type):
            return error_response(UnsupportedMediaType(content_type), request.path)
    return await handler(request)
