"""``/metrics`` and the access log: what each request did is counted, timed and logged once.

The app runs in-process over the shared engine; each app has its own registry, so the counts
here are this test's alone.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mlxfn.engine.thread import Engine, EngineStats
from mlxfn.server.app import make_app
from tests.server.helpers import chat_body

ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
Client = TestClient[web.Request, web.Application]
CHAT = "/v1/chat/completions"
JSON_TYPE = {"Content-Type": "application/json"}
PROMPT = "count the metrics, please"


@pytest.fixture
async def client(aiohttp_client: ClientFactory, engine: Engine) -> Client:
    return await aiohttp_client(make_app(engine))


async def _samples(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _requests(route: str, status: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("mlxfn_requests_total", (("route", route), ("status", str(status))))


async def _gauges_once(
    client: Client, running: int
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    # The engine publishes its snapshot as it loops back after a step, a moment after the
    # step's events reach the client.
    for _ in range(250):
        samples = await _samples(client)
        if samples[("mlxfn_sequences_running", ())] == running:
            return samples
        await asyncio.sleep(0.02)
    raise AssertionError(f"the engine never reported {running} running sequences")


async def _idle_gauges(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return await _gauges_once(client, running=0)


async def test_metrics_count_routes_tokens_and_timings(client: Client) -> None:
    plain = [
        await (await client.post(CHAT, json=chat_body(PROMPT, max_tokens=4))).json()
        for _ in range(2)  # the second prompt finds the first one's prefix cached
    ]
    stream = chat_body(PROMPT, max_tokens=3, stream=True, stream_options={"include_usage": True})
    async with client.post(CHAT, json=stream) as response:
        assert response.status == 200
        await response.read()
    assert (await client.post(CHAT, data=b"{not json", headers=JSON_TYPE)).status == 400
    assert (await client.get("/v1/models")).status == 200
    assert (await client.get("/v1/models/nope")).status == 404
    assert (await client.get("/no/such/route")).status == 404

    samples = await _idle_gauges(client)
    assert samples[_requests(CHAT, 200)] == 3
    assert samples[_requests(CHAT, 400)] == 1
    assert samples[_requests("/v1/models", 200)] == 1
    assert samples[_requests("/v1/models/{model_id}", 404)] == 1  # the pattern, not the path
    assert samples[_requests("unmatched", 404)] == 1
    usages = [reply["usage"] for reply in plain]
    assert samples[("mlxfn_completion_tokens_total", ())] == 4 + 4 + 3
    assert samples[("mlxfn_prompt_tokens_total", ())] == 3 * usages[0]["prompt_tokens"]
    cached = [usage["prompt_tokens_details"]["cached_tokens"] for usage in usages]
    assert cached[1] > 0
    assert samples[("mlxfn_prefix_cache_hit_tokens_total", ())] >= sum(cached)
    for histogram in (
        "mlxfn_time_to_first_token_seconds",
        "mlxfn_time_per_output_token_seconds",
        "mlxfn_e2e_request_latency_seconds",
    ):
        assert samples[(f"{histogram}_count", ())] == 3, histogram
        assert samples[(f"{histogram}_sum", ())] > 0, histogram
    ttft = samples[("mlxfn_time_to_first_token_seconds_sum", ())]
    assert ttft < samples[("mlxfn_e2e_request_latency_seconds_sum", ())]
    assert samples[("mlxfn_requests_queued", ())] == 0
    assert samples[("mlxfn_mlx_active_memory_bytes", ())] > 0  # the weights, at least
    assert (
        samples[("mlxfn_mlx_peak_memory_bytes", ())]
        >= samples[("mlxfn_mlx_active_memory_bytes", ())]
    )
    assert ("mlxfn_mlx_cache_memory_bytes", ()) in samples


async def test_completions_count_each_prompt_once(client: Client) -> None:
    body = {
        "model": "tiny",
        "prompt": [[5, 6, 7], [8, 9]],
        "n": 2,
        "max_tokens": 3,
        "temperature": 0,
    }
    for stream in (False, True):
        async with client.post("/v1/completions", json={**body, "stream": stream}) as response:
            assert response.status == 200
            await response.read()
    samples = await _idle_gauges(client)
    assert samples[_requests("/v1/completions", 200)] == 2
    assert samples[("mlxfn_prompt_tokens_total", ())] == 2 * (3 + 2)  # not once per choice
    assert samples[("mlxfn_completion_tokens_total", ())] == 2 * 4 * 3


async def test_each_app_counts_in_its_own_registry(
    aiohttp_client: ClientFactory, engine: Engine
) -> None:
    first, second = await aiohttp_client(make_app(engine)), await aiohttp_client(make_app(engine))
    assert (await first.get("/health")).status == 200
    assert (await _samples(first))[_requests("/health", 200)] == 1
    assert _requests("/health", 200) not in await _samples(second)


async def test_a_running_generation_shows_in_the_gauges(client: Client, engine: Engine) -> None:
    body = chat_body(PROMPT, max_tokens=400, stream=True)
    async with client.post(CHAT, json=body) as response:
        await response.content.readuntil(b"\n\n")
        await response.content.readuntil(b"\n\n")  # a token: the generation is in the batch
        await _gauges_once(client, running=1)
        assert isinstance(engine.stats, EngineStats)
        assert engine.stats.running == 1
        response.close()  # leave early; the engine drops the generation
    await _idle_gauges(client)


def _access_lines(caplog: pytest.LogCaptureFixture, request_id: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "mlxfn.access" and f"id={request_id} " in record.getMessage()
    ]


def _fields(line: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))


async def test_one_access_line_per_request_with_tokens_and_timings(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlxfn.access")
    headers = {"X-Request-ID": "access-json"}
    await client.post(CHAT, json=chat_body(PROMPT, max_tokens=3), headers=headers)
    (line,) = _access_lines(caplog, "access-json")
    fields = _fields(line)
    assert fields["method"] == "POST"
    assert fields["route"] == CHAT
    assert fields["status"] == "200"
    assert fields["completion_tokens"] == "3"
    assert int(fields["prompt_tokens"]) > 0
    assert int(fields["cached_tokens"]) >= 0
    assert 0 <= float(fields["ttft_s"]) <= float(fields["total_s"])
    assert float(fields["tpot_s"]) >= 0


async def test_a_stream_is_logged_when_it_ends(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlxfn.access")
    body = chat_body(PROMPT, max_tokens=5, stream=True)
    async with client.post(CHAT, json=body, headers={"X-Request-ID": "access-sse"}) as response:
        await response.content.readuntil(b"\n\n")
        assert _access_lines(caplog, "access-sse") == []  # not before the stream ends
        await response.read()
    (line,) = _access_lines(caplog, "access-sse")
    assert _fields(line)["status"] == "200"
    assert _fields(line)["completion_tokens"] == "5"


async def test_errors_are_logged_without_tokens_and_paths_are_quoted(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlxfn.access")
    await client.post(CHAT, data=b"[]", headers={**JSON_TYPE, "X-Request-ID": "access-400"})
    await client.get("/odd%20path%0Aid=forged", headers={"X-Request-ID": "access-404"})
    (bad,) = _access_lines(caplog, "access-400")
    assert _fields(bad)["status"] == "400"
    assert "prompt_tokens" not in bad
    assert "ttft_s" not in bad
    (unknown,) = _access_lines(caplog, "access-404")
    assert "\n" not in unknown
    fields = _fields(unknown)
    assert fields["route"] == "unmatched"
    assert fields["path"] == '"/odd path\\nid=forged"'
    assert fields["id"] == "access-404"  # the forged field stays inside the quoted path
