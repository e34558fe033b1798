"""The server on a background thread, called with the blocking openai SDK from the same process."""

from __future__ import annotations

import socket

from openai import OpenAI
from returns.result import Failure

import mlxfn
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine


def test_the_openai_sdk_gets_a_completion_from_a_background_server(engine: Engine) -> None:
    with run_io(mlxfn.serve_in_background(engine)).unwrap() as server:
        client = OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(
            model=engine.loaded.name,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=3,
            temperature=0,
        )
        assert reply.usage is not None
        assert reply.usage.completion_tokens == 3
        assert [m.id for m in client.models.list()] == [engine.loaded.name]
    assert engine.alive  # closing the server leaves the caller's engine running


def test_a_port_in_use_is_a_failure_value(engine: Engine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert isinstance(run_io(mlxfn.serve_in_background(engine, port=port)), Failure)
