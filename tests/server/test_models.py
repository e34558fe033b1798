"""Several models and an adapter behind one endpoint: each answers by its id, loads on
demand, is unloaded under a tight memory budget or after its keep-alive, and an unknown id
is a 404 that leaves every loaded model loaded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from returns.io import IOResult

from mlxfn.effects import run_io
from mlxfn.engine.config import EngineConfig
from mlxfn.engine.loader import ModelLoadFailed, ModelSpec
from mlxfn.engine.registry import ModelRegistry, ServedModel, Starter
from mlxfn.engine.thread import Engine, start_engine
from mlxfn.notebook import chat
from mlxfn.server.app import make_app
from mlxfn.server.background import serve_in_background
from mlxfn.tiny_model import build_tiny_adapter, build_tiny_model
from tests.conftest import ServerProcess, StartServer

QUESTION: list[Any] = [{"role": "user", "content": "Say something about the sea."}]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("several")
    small = build_tiny_model(root / "small", seed=0)
    other = build_tiny_model(root / "other", seed=7)
    return {"small": small, "other": other, "lora": build_tiny_adapter(small, root / "lora")}


@pytest.fixture(scope="module")
def several(start_server: StartServer, model_dirs: dict[str, Path]) -> ServerProcess:
    return start_server(
        "--model",
        f"small={model_dirs['small']}",
        "--adapter",
        f"small-lora={model_dirs['lora']}",
        "--model",
        f"other={model_dirs['other']}",
    )


def _states(url: str) -> dict[str, dict[str, Any]]:
    listed = openai.OpenAI(base_url=f"{url}/v1", api_key="unused").models.list()
    return {model.id: model.model_dump() for model in listed.data}


def _answer(url: str, model: str, max_tokens: int = 12) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
    reply = client.chat.completions.create(
        model=model,
        messages=QUESTION,
        temperature=0,
        max_tokens=max_tokens,
    )
    assert reply.model == model
    return reply.choices[0].message.content or ""


def test_every_model_is_listed_with_its_state_and_none_loads_for_it(
    several: ServerProcess,
) -> None:
    states = _states(several.url)
    assert list(states) == ["small", "other", "small-lora"]  # the models, then adapters
    assert states["small"]["state"] == "loaded"  # the first loads at start
    assert states["other"]["state"] == "unloaded"
    assert states["small-lora"]["state"] == "unloaded"
    assert states["small-lora"]["parent"] == "small"
    assert "parent" not in states["small"]
    assert _states(several.url)["other"]["state"] == "unloaded"  # listing loaded nothing


def test_each_model_answers_by_its_id_and_the_adapter_differs_from_its_base(
    several: ServerProcess,
) -> None:
    small, adapted, other = (_answer(several.url, m) for m in ("small", "small-lora", "other"))
    assert small
    assert adapted
    assert other
    assert adapted != small
    assert other != small
    assert _answer(several.url, "small") == small  # greedy: the same again
    assert _answer(several.url, "small-lora") == adapted
    states = _states(several.url)
    assert {m: s["state"] for m, s in states.items()} == dict.fromkeys(states, "loaded")


def test_an_unknown_model_is_a_404_and_every_loaded_model_stays(several: ServerProcess) -> None:
    _answer(several.url, "other")
    before = {m for m, s in _states(several.url).items() if s["state"] == "loaded"}
    client = openai.OpenAI(base_url=f"{several.url}/v1", api_key="unused")
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    messages = anthropic.Anthropic(base_url=several.url, api_key="unused")
    with pytest.raises(anthropic.NotFoundError) as missing:
        messages.messages.create(model="claude-x", max_tokens=4, messages=QUESTION)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    after = {m for m, s in _states(several.url).items() if s["state"] == "loaded"}
    assert before <= after
    assert client.models.retrieve("small-lora").model_dump()["parent"] == "small"


def test_a_malformed_request_is_still_a_400_before_an_unknown_model(
    several: ServerProcess,
) -> None:
    client = openai.OpenAI(base_url=f"{several.url}/v1", api_key="unused")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="nope", messages=QUESTION, temperature=7)
    assert caught.value.body["param"] == "temperature"  # type: ignore[index]


def test_every_surface_routes_by_model(several: ServerProcess) -> None:
    base = openai.OpenAI(base_url=f"{several.url}/v1", api_key="unused")
    texts = {
        m: base.completions.create(model=m, prompt="The sea", max_tokens=8, temperature=0)
        for m in ("small", "other")
    }
    assert texts["small"].choices[0].text != texts["other"].choices[0].text
    vectors = {
        m: base.embeddings.create(model=m, input="the sea").data[0].embedding
        for m in ("small", "other")
    }
    assert vectors["small"] != vectors["other"]
    replies = {
        m: base.responses.create(model=m, input="The sea", max_output_tokens=8, temperature=0)
        for m in ("small-lora", "other")
    }
    assert {r.model for r in replies.values()} == {"small-lora", "other"}
    messages = anthropic.Anthropic(base_url=several.url, api_key="unused")
    message = messages.messages.create(model="other", max_tokens=8, messages=QUESTION)
    assert message.model == "other"


async def test_requests_for_different_models_run_together(several: ServerProcess) -> None:
    body = {"messages": QUESTION, "max_tokens": 40, "temperature": 0, "stream": True}

    async def stream(http: aiohttp.ClientSession, model: str) -> int:
        chunks = 0
        async with http.post(
            f"{several.url}/v1/chat/completions", json={**body, "model": model}
        ) as reply:
            assert reply.status == 200
            async for line in reply.content:
                chunks += line.startswith(b"data: {")
        return chunks

    async with aiohttp.ClientSession() as http:
        counts = await asyncio.gather(*(stream(http, m) for m in ("small", "other", "small-lora")))
    assert all(count > 1 for count in counts)


def _metric(url: str, line_start: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics") as reply:
        text = reply.read().decode()
    found = [line for line in text.splitlines() if line.startswith(line_start)]
    assert found, line_start
    return float(found[0].rsplit(" ", 1)[1])


def test_a_tight_budget_unloads_the_least_recently_used_and_reloads_it_transparently(
    start_server: StartServer, model_dirs: dict[str, Path]
) -> None:
    server = start_server(
        "--model",
        f"small={model_dirs['small']}",
        "--model",
        f"other={model_dirs['other']}",
        "--models-memory",
        "1",  # one byte: only the model in use stays
    )
    first = _answer(server.url, "small")
    other = _answer(server.url, "other")
    states = _states(server.url)
    assert (states["small"]["state"], states["other"]["state"]) == ("unloaded", "loaded")
    assert _answer(server.url, "small") == first  # loaded again, answering the same
    assert _answer(server.url, "other") == other
    assert _metric(server.url, 'mlxfn_model_loads_total{model="small"}') == 2
    assert _metric(server.url, 'mlxfn_model_loaded{model="other"}') == 1
    assert _metric(server.url, 'mlxfn_model_tokens_total{kind="completion",model="small"}') > 0


def test_keep_alive_unloads_an_idle_model(
    start_server: StartServer, model_dirs: dict[str, Path]
) -> None:
    server = start_server(
        "--model", f"small={model_dirs['small']}", "--keep-alive", "0.5", "--preload"
    )
    deadline = time.monotonic() + 10
    while _states(server.url)["small"]["state"] == "loaded" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _states(server.url)["small"]["state"] == "unloaded"
    assert _answer(server.url, "small")  # the next request loads it again
    assert "unloading model small: idle" in server.output()


def test_preload_loads_every_model_at_start(
    start_server: StartServer, model_dirs: dict[str, Path]
) -> None:
    server = start_server(
        "--model", str(model_dirs["small"]), "--model", str(model_dirs["other"]), "--preload"
    )
    assert {s["state"] for s in _states(server.url).values()} == {"loaded"}
    assert list(_states(server.url)) == ["small", "other"]  # the folders' names


def _slow_start(seconds: float) -> Starter:
    """The real loader, after a wait: a load as slow as a large model's."""

    def start(spec: ModelSpec, config: EngineConfig) -> IOResult[Engine, ModelLoadFailed]:
        time.sleep(seconds)
        return start_engine(spec, config)

    return start


async def test_a_slow_load_blocks_neither_the_event_loop_nor_another_models_stream(
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
    model_dirs: dict[str, Path],
) -> None:
    specs = [ModelSpec(source=str(model_dirs[m]), served_name=m) for m in ("small", "other")]
    served = [ServedModel(id=s.served_name or "", spec=s, config=EngineConfig()) for s in specs]
    models = ModelRegistry(served, starter=_slow_start(2.0))
    client = await aiohttp_client(make_app(models))
    try:
        body = {"messages": QUESTION, "temperature": 0, "max_tokens": 4}
        first = await client.post("/v1/chat/completions", json={**body, "model": "small"})
        assert first.status == 200  # loaded (slowly) on first use
        loading = asyncio.create_task(
            client.post("/v1/chat/completions", json={**body, "model": "other"})
        )
        await asyncio.sleep(0.3)
        assert models.status("other").state == "loading"
        started = time.monotonic()
        health = await client.get("/health")
        streamed = await client.post(
            "/v1/chat/completions", json={**body, "model": "small", "stream": True}
        )
        chunks = (await streamed.read()).count(b"data: {")
        answered = time.monotonic() - started
        assert health.status == 200
        assert chunks > 1
        assert models.status("other").state == "loading"  # still: both answered meanwhile
        assert answered < 1.5
        assert (await loading).status == 200
    finally:
        await asyncio.to_thread(models.close)


def test_a_notebook_serves_several_models_in_the_background(model_dirs: dict[str, Path]) -> None:
    specs = [ModelSpec(source=str(model_dirs["small"])), ModelSpec(source=str(model_dirs["other"]))]
    models = ModelRegistry.of_specs(specs)
    try:
        with models.using("other") as engine:
            direct = chat(engine, QUESTION, max_tokens=6, temperature=0).unwrap()
        with run_io(serve_in_background(models)).unwrap() as server:
            assert _answer(server.base_url, "other", max_tokens=6) == direct.content
            assert _answer(server.base_url, "small", max_tokens=6)
            assert {s["state"] for s in _states(server.base_url).values()} == {"loaded"}
    finally:
        models.close()
