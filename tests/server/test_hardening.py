"""The production flags end to end, on a real ``python -m mlxfn``: keys, caps, deadlines, and
a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from mlxfn.cli import main
from tests.conftest import ServerProcess, StartServer
from tests.schemas import validate

KEY = "sk-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
STORY = "tell me a story"  # greedy on the tiny model meets no end-of-turn for thousands of tokens


def chat(content: str = "hi", **fields: Any) -> dict[str, Any]:
    return {
        "model": "tiny",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        **fields,
    }


@pytest.fixture(scope="module")
def guarded(
    start_server: StartServer, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    key_file = tmp_path_factory.mktemp("keys") / "keys.txt"
    key_file.write_text(f"# clients\n{KEY}\n\nsk-other\n")
    return start_server(
        *("--model", str(tiny_model_dir), "--api-key-file", str(key_file)),
        *("--max-messages", "2", "--max-completion-tokens", "40", "--max-prompt-tokens", "60"),
        *("--request-timeout", "0.5", "--context-length", "100000"),
    )


async def post(session: aiohttp.ClientSession, url: str, body: Any, **kw: Any) -> tuple[int, Any]:
    async with session.post(f"{url}/v1/chat/completions", json=body, **kw) as response:
        return response.status, orjson.loads(await response.read())


async def test_each_limit_is_its_own_clear_error(
    guarded: ServerProcess, http: aiohttp.ClientSession
) -> None:
    url = guarded.url
    status, body = await post(http, url, chat(max_tokens=5))
    assert (status, body["error"]["code"]) == (401, "invalid_api_key")
    status, body = await post(http, url, chat(max_tokens=5), headers=AUTH)
    assert status == 200
    assert body["usage"]["completion_tokens"] == 5
    cases = [
        (chat(max_tokens=41), 400, "max_tokens", "invalid_value"),
        (
            {**chat(), "messages": [{"role": "user", "content": "a"}] * 3},
            400,
            "messages",
            "too_many_messages",
        ),
        (chat("word " * 80, max_tokens=5), 400, "messages", "context_length_exceeded"),
        (chat(STORY, max_tokens=40, stream=False), 200, None, None),
    ]
    for request, want_status, param, code in cases:
        status, body = await post(http, url, request, headers=AUTH)
        assert status == want_status, body
        if want_status != 200:
            validate(body, "ErrorResponse")
            assert (body["error"]["param"], body["error"]["code"]) == (param, code)


async def test_a_request_past_the_deadline_is_a_503_and_a_stream_ends_with_an_error(
    start_server: StartServer, tiny_model_dir: Path, http: aiohttp.ClientSession
) -> None:
    server = start_server(
        *("--model", str(tiny_model_dir), "--request-timeout", "0.3"),
        *("--context-length", "100000", "--max-tokens-default", "50000"),
    )
    status, body = await post(http, server.url, chat(STORY))
    assert status == 503
    assert body["error"]["code"] == "timeout"
    async with http.post(f"{server.url}/v1/chat/completions", json=chat(STORY, stream=True)) as r:
        assert r.status == 200
        text = await r.text()
    last = [frame for frame in text.split("\n\n") if frame][-1]
    error = orjson.loads(last.removeprefix("data: "))
    validate(error, "ErrorResponse")
    assert error["error"]["code"] == "timeout"


def test_a_public_address_without_a_key_is_refused(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--model", str(tiny_model_dir), "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("mlxfn: refusing to serve on 0.0.0.0 without an API key")
    assert "--insecure" in err[0]


def test_an_unreadable_key_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--api-key-file", str(tmp_path / "missing.txt")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "mlxfn: argument --api-key-file: cannot read" in err
    assert "Traceback" not in err


async def test_sigterm_drains_then_exits_0(
    start_server: StartServer, tiny_model_dir: Path, http: aiohttp.ClientSession
) -> None:
    server = start_server(
        *("--model", str(tiny_model_dir), "--drain-timeout", "2"),
        *("--context-length", "100000", "--max-tokens-default", "50000"),
    )
    url = server.url
    async with http.post(f"{url}/v1/chat/completions", json=chat(STORY, stream=True)) as long:
        assert long.status == 200
        await long.content.readuntil(b"\n\n")
        short = asyncio.create_task(post(http, url, chat(max_tokens=30)))
        await asyncio.sleep(0.2)  # the short one is in flight
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        status, body = await post(http, url, chat(max_tokens=3))
        assert status == 503, body
        assert body["error"]["code"] == "service_unavailable"
        async with http.get(f"{url}/health") as health:
            assert health.status == 503
            assert (await health.json())["status"] == "draining"
        rest = await long.content.read()
    status, body = await short  # it finished normally inside the drain
    assert status == 200
    assert body["usage"]["completion_tokens"] == 30
    last = [frame for frame in rest.split(b"\n\n") if frame][-1]
    assert b"shutting down" in last  # the long stream was ended with an error event
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert "shutting down" in server.stop()
