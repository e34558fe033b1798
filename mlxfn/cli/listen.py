"""Whether the server can listen where it was asked to, checked before a long load, and what
to say when it cannot."""

from __future__ import annotations

import errno
import socket


def describe_listen_failure(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        hint = "another server is using it; stop it or pick another --port"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = "ports below 1024 need privileges; pick another --port"
    else:
        hint = "--host takes an address of this machine, e.g. 127.0.0.1 or 0.0.0.0"
    reason = exc.strerror or str(exc)
    return f"cannot listen on {host}:{port}: {reason.lower()} ({hint})"


def check_listen(host: str, port: int) -> OSError | None:
    """Whether ``host:port`` can be bound now, so a taken port fails before a long load."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return OSError(exc.errno, f"unknown host {host!r}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            sock.bind(address)
        except OSError as exc:
            return exc
    return None
