"""The HTTP server on a thread of its own, for notebooks and scripts that want to call it.

A notebook's kernel already runs an event loop, and a blocking client such as the ``openai``
SDK would stall it: so the server gets its own loop on a daemon thread, and the caller keeps
a plain blocking handle with the URL to point clients at.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import attrs
from aiohttp import web
from returns.io import IOResult, impure_safe

from mlxfn.engine.registry import ModelRegistry
from mlxfn.engine.thread import Engine
from mlxfn.server.app import make_app
from mlxfn.server.keys import ServerConfig

_STOP_TIMEOUT_S = 10.0


@attrs.frozen
class BackgroundServer:
    """A running server: ``base_url`` for OpenAI clients, ``close()`` to stop it.

    The engine (or registry) is the caller's: closing the server leaves it running.
    """

    base_url: str
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread

    def close(self) -> None:
        """Stop listening, finish the app's cleanup, and end the server's thread."""
        if not self._thread.is_alive():
            return
        cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        cleanup.result(timeout=_STOP_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_STOP_TIMEOUT_S)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@impure_safe(exceptions=(OSError,))
def _start(
    engine: ModelRegistry | Engine, config: ServerConfig, host: str, port: int
) -> BackgroundServer:
    loop = asyncio.new_event_loop()
    started: Future[web.AppRunner] = Future()

    async def listen() -> web.AppRunner:
        runner = web.AppRunner(make_app(engine, config), handler_cancellation=True)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started.set_result(loop.run_until_complete(listen()))
        except BaseException as exc:  # noqa: BLE001 - the caller's thread re-raises it
            started.set_exception(exc)
            loop.close()
            return
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name="mlxfn-http", daemon=True)
    thread.start()
    runner = started.result()  # re-raises the OSError of a port in use, say
    bound_host, bound_port = runner.addresses[0][:2]
    return BackgroundServer(
        base_url=f"http://{bound_host}:{bound_port}", loop=loop, runner=runner, thread=thread
    )


def serve_in_background(
    engine: ModelRegistry | Engine,
    config: ServerConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
) -> IOResult[BackgroundServer, OSError]:
    """Serve the OpenAI API over ``engine`` (or several models: a ``ModelRegistry``) on a
    background thread (port 0: any free port).

    ``run_io(serve_in_background(engine)).unwrap().base_url`` is what to give
    ``openai.OpenAI(base_url=... + "/v1")``.
    """
    # The bound address is one a request may name in its Host.
    config = attrs.evolve(config or ServerConfig(), bound_host=host)
    return _start(engine, config, host, port)
