"""The attacks web pages make on local LLM servers, against a real ``python -m mlxfn``.

DNS rebinding (a page whose name now points at 127.0.0.1 is same-origin with the server, and
only its ``Host`` gives it away), "simple" cross-site POSTs (``text/plain`` or a form, which
need no CORS preflight), and ``Origin: null`` from a sandboxed frame: each is refused before
any work. What clients legitimately send keeps working: curl, the openai SDK, the server's own
origin, and a ``--cors-origins`` origin with its CORS headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import aiohttp
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ServerProcess, StartServer
from tests.server.helpers import assert_openai_error, chat_body, fetch

KEY = "sk-security"
APP_ORIGIN = "http://app.example"
ATTACKER = "attacker.example"
CHAT = "/v1/chat/completions"
FORM = "application/x-www-form-urlencoded"
# Every route the app serves, an unknown one, and the ones left open to scrapers.
GET_ROUTES = ["/v1/models", "/v1/models/tiny", "/health", "/metrics", "/openapi.json", "/nope"]
JSON_ROUTES = {
    CHAT: chat_body("hi", max_tokens=2),
    "/v1/completions": {"model": "tiny", "prompt": "Once", "max_tokens": 2},
    "/v1/tokenize": {"model": "tiny", "text": "hi"},
}


@pytest.fixture(scope="module")
def cors_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    """No key, one CORS origin, and one extra name to be reached by."""
    return start_server(
        *("--model", str(tiny_model_dir), "--served-model-name", "tiny"),
        *("--cors-origins", APP_ORIGIN, "--allowed-hosts", "llm.lan"),
    )


@pytest.fixture(scope="module")
def keyed_server(start_server: StartServer, tiny_model_dir: Path) -> ServerProcess:
    return start_server(
        *("--model", str(tiny_model_dir), "--served-model-name", "tiny"),
        *("--api-key", KEY, "--cors-origins", APP_ORIGIN),
    )


def _host(server: ServerProcess, name: str = ATTACKER) -> str:
    return f"{name}:{server.port}"


async def _raw(server: ServerProcess, head: list[str], body: bytes = b"") -> tuple[int, bytes]:
    """One request exactly as written, as a browser would send it, with no client tidying."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = [*head, "Connection: close", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), timeout=30)
    writer.close()
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


# -- DNS rebinding: a foreign Host ---------------------------------------------------------------


@pytest.mark.parametrize("path", GET_ROUTES)
async def test_a_rebinding_page_cannot_read_any_route(
    http: aiohttp.ClientSession, server: ServerProcess, path: str
) -> None:
    reply = await fetch(http, "GET", f"{server.url}{path}", headers={"Host": _host(server)})
    error = assert_openai_error(reply, 403, param=None, code="host_not_allowed")
    assert error["type"] == "invalid_request_error"
    assert "--allowed-hosts" in error["message"]


async def test_a_rebinding_page_cannot_run_a_simple_cross_site_chat(
    http: aiohttp.ClientSession, server: ServerProcess
) -> None:
    # The request: same-origin after rebinding, and "simple" (no preflight) anyway.
    headers = {
        "Host": _host(server),
        "Origin": f"http://{_host(server)}",
        "Content-Type": "text/plain",
    }
    body = orjson.dumps(chat_body("hi", max_tokens=2))
    reply = await fetch(http, "POST", f"{server.url}{CHAT}", body=body, headers=headers)
    assert_openai_error(reply, 403, code="host_not_allowed")


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
async def test_loopback_names_are_answered(
    http: aiohttp.ClientSession, server: ServerProcess, name: str
) -> None:
    reply = await fetch(
        http, "GET", f"{server.url}/v1/models", headers={"Host": _host(server, name)}
    )
    assert reply.status == 200, reply.body


async def test_allowed_hosts_add_a_name(
    http: aiohttp.ClientSession, cors_server: ServerProcess
) -> None:
    url = f"{cors_server.url}/v1/models"
    allowed = await fetch(http, "GET", url, headers={"Host": _host(cors_server, "llm.lan")})
    assert allowed.status == 200, allowed.body
    other = await fetch(http, "GET", url, headers={"Host": _host(cors_server, "other.lan")})
    assert_openai_error(other, 403, code="host_not_allowed")


async def test_allowed_hosts_star_turns_the_check_off_with_a_warning(
    http: aiohttp.ClientSession, start_server: StartServer, tiny_model_dir: Path
) -> None:
    server = start_server("--model", str(tiny_model_dir), "--allowed-hosts", "*")
    reply = await fetch(http, "GET", f"{server.url}/v1/models", headers={"Host": _host(server)})
    assert reply.status == 200, reply.body
    output = server.stop()
    assert "WARNING: --allowed-hosts '*' with no API key" in output
    assert "DNS rebinding" in output


# -- cross-site requests: a foreign Origin -------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", FORM, "multipart/form-data; boundary=x", "application/json"]
)
@pytest.mark.parametrize("origin", [f"http://{ATTACKER}", "null", "http://localhost:3000"])
async def test_a_foreign_origin_is_refused_whatever_its_content_type(
    http: aiohttp.ClientSession, server: ServerProcess, origin: str, content_type: str
) -> None:
    headers = {"Origin": origin, "Content-Type": content_type}
    body = orjson.dumps(chat_body("hi", max_tokens=2))
    reply = await fetch(http, "POST", f"{server.url}{CHAT}", body=body, headers=headers)
    error = assert_openai_error(reply, 403, param=None, code="origin_not_allowed")
    assert "--cors-origins" in error["message"]
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.parametrize("path", GET_ROUTES)
async def test_a_foreign_origin_cannot_read_a_get_route(
    http: aiohttp.ClientSession, server: ServerProcess, path: str
) -> None:
    reply = await fetch(http, "GET", f"{server.url}{path}", headers={"Origin": "null"})
    assert_openai_error(reply, 403, code="origin_not_allowed")


async def test_a_form_post_from_a_web_page_is_refused(server: ServerProcess) -> None:
    # What <form method=post action=http://127.0.0.1:PORT/v1/chat/completions> sends.
    head = [
        f"POST {CHAT} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        f"Origin: http://{ATTACKER}",
        f"Content-Type: {FORM}",
    ]
    status, body = await _raw(server, head, b'{"model": "tiny", "messages": []}=')
    assert status == 403
    assert orjson.loads(body)["error"]["code"] == "origin_not_allowed"


async def test_refused_requests_do_no_work(
    http: aiohttp.ClientSession, cors_server: ServerProcess
) -> None:
    before = await _work(http, cors_server)
    body = orjson.dumps(chat_body("a prompt to prefill", max_tokens=4))
    url = f"{cors_server.url}{CHAT}"
    attacks: list[Mapping[str, str]] = [
        {"Host": _host(cors_server), "Content-Type": "application/json"},
        {"Origin": f"http://{ATTACKER}", "Content-Type": "text/plain"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Content-Type": "text/plain"},
    ]
    for headers in attacks:
        reply = await fetch(http, "POST", url, body=body, headers=headers)
        assert reply.status in (403, 415), reply.body
    assert await _work(http, cors_server) == before


async def _work(http: aiohttp.ClientSession, server: ServerProcess) -> float:
    """Prompt tokens prefilled and tokens generated so far, from ``/metrics``."""
    reply = await fetch(http, "GET", f"{server.url}/metrics")
    counted = ("mlxfn_prefill_tokens", "mlxfn_completion_tokens")
    return sum(
        sample.value
        for family in text_string_to_metric_families(reply.body.decode())
        for sample in family.samples
        if sample.name.startswith(counted)
    )


# -- content types: JSON routes take only JSON ---------------------------------------------------


@pytest.mark.parametrize("path", sorted(JSON_ROUTES))
@pytest.mark.parametrize("content_type", ["text/plain", FORM, "application/jsonx", "text/json"])
async def test_a_json_route_refuses_other_content_types(
    http: aiohttp.ClientSession, server: ServerProcess, path: str, content_type: str
) -> None:
    body = orjson.dumps(JSON_ROUTES[path])
    headers = {"Content-Type": content_type}
    reply = await fetch(http, "POST", f"{server.url}{path}", body=body, headers=headers)
    error = assert_openai_error(reply, 415, param=None, code="unsupported_media_type")
    assert error["type"] == "invalid_request_error"
    assert content_type in error["message"]


async def test_a_body_without_a_content_type_is_a_415(server: ServerProcess) -> None:
    # fetch() with a Blob body of no type sends no Content-Type, and is a simple request too.
    head = [f"POST {CHAT} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    status, body = await _raw(server, head, orjson.dumps(chat_body("hi", max_tokens=2)))
    assert status == 415
    assert orjson.loads(body)["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", sorted(JSON_ROUTES))
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
async def test_json_with_or_without_parameters_is_accepted(
    http: aiohttp.ClientSession, server: ServerProcess, path: str, content_type: str
) -> None:
    body = orjson.dumps(JSON_ROUTES[path])
    headers = {"Content-Type": content_type}
    reply = await fetch(http, "POST", f"{server.url}{path}", body=body, headers=headers)
    assert reply.status == 200, reply.body


# -- what legitimate clients send ----------------------------------------------------------------


async def test_curl_like_requests_without_origin_work(server: ServerProcess) -> None:
    head = [
        f"POST {CHAT} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "User-Agent: curl/8.5.0",
        "Accept: */*",
        "Content-Type: application/json",
    ]
    status, body = await _raw(server, head, orjson.dumps(chat_body("hi", max_tokens=2)))
    assert status == 200, body
    assert orjson.loads(body)["usage"]["completion_tokens"] == 2


def test_the_openai_sdk_works(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["tiny"]
    reply = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 2


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_a_same_origin_browser_request_works(
    http: aiohttp.ClientSession, server: ServerProcess, name: str
) -> None:
    headers = {"Host": _host(server, name), "Origin": f"http://{_host(server, name)}"}
    models = await fetch(http, "GET", f"{server.url}/v1/models", headers=headers)
    assert models.status == 200, models.body
    posted = await fetch(
        http, "POST", f"{server.url}{CHAT}", json=chat_body("hi", max_tokens=2), headers=headers
    )
    assert posted.status == 200, posted.body


async def test_another_loopback_origin_is_another_site(
    http: aiohttp.ClientSession, server: ServerProcess
) -> None:
    # A page on localhost:3000 (say, a dev server) is not this server's own origin.
    headers = {"Host": _host(server, "localhost"), "Origin": f"http://127.0.0.1:{server.port}"}
    reply = await fetch(http, "GET", f"{server.url}/v1/models", headers=headers)
    assert_openai_error(reply, 403, code="origin_not_allowed")


async def test_a_cors_origin_works_and_gets_the_cors_headers(
    http: aiohttp.ClientSession, cors_server: ServerProcess
) -> None:
    headers = {"Origin": APP_ORIGIN}
    body = chat_body("hi", max_tokens=2)
    reply = await fetch(http, "POST", f"{cors_server.url}{CHAT}", json=body, headers=headers)
    assert reply.status == 200, reply.body
    assert reply.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "X-Request-ID" in reply.headers["Access-Control-Expose-Headers"]
    preflight = await fetch(
        http,
        "OPTIONS",
        f"{cors_server.url}{CHAT}",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 200, preflight.body
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


async def test_a_cors_origin_still_sends_json(
    http: aiohttp.ClientSession, cors_server: ServerProcess
) -> None:
    headers = {"Origin": APP_ORIGIN, "Content-Type": "text/plain"}
    body = orjson.dumps(chat_body("hi", max_tokens=2))
    reply = await fetch(http, "POST", f"{cors_server.url}{CHAT}", body=body, headers=headers)
    assert_openai_error(reply, 415, code="unsupported_media_type")


async def test_a_preflight_from_a_foreign_origin_is_refused(
    http: aiohttp.ClientSession, cors_server: ServerProcess
) -> None:
    headers = {"Origin": f"http://{ATTACKER}", "Access-Control-Request-Method": "POST"}
    reply = await fetch(http, "OPTIONS", f"{cors_server.url}{CHAT}", headers=headers)
    assert_openai_error(reply, 403, code="origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in reply.headers


# -- with an API key -----------------------------------------------------------------------------


async def test_with_a_key_any_host_is_answered(
    http: aiohttp.ClientSession, keyed_server: ServerProcess
) -> None:
    headers = {"Host": _host(keyed_server), "Authorization": f"Bearer {KEY}"}
    models = await fetch(http, "GET", f"{keyed_server.url}/v1/models", headers=headers)
    assert models.status == 200, models.body
    health = await fetch(
        http, "GET", f"{keyed_server.url}/health", headers={"Host": _host(keyed_server)}
    )
    assert health.status == 200, health.body
    body = chat_body("hi", max_tokens=2)
    chat = await fetch(http, "POST", f"{keyed_server.url}{CHAT}", json=body, headers=headers)
    assert chat.status == 200, chat.body


@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong"])
@pytest.mark.parametrize(
    ("method", "path"), [("POST", CHAT), ("GET", "/v1/models"), ("GET", "/v1/nope")]
)
async def test_with_a_key_a_bad_key_is_a_401_before_host_or_origin(
    http: aiohttp.ClientSession,
    keyed_server: ServerProcess,
    authorization: str | None,
    method: str,
    path: str,
) -> None:
    headers = {
        "Host": _host(keyed_server),
        "Origin": f"http://{ATTACKER}",
        "Content-Type": "text/plain",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    body = orjson.dumps(chat_body("hi", max_tokens=2))
    reply = await fetch(http, method, f"{keyed_server.url}{path}", body=body, headers=headers)
    assert_openai_error(reply, 401, code="invalid_api_key")


async def test_with_a_key_origin_and_content_type_are_still_checked(
    http: aiohttp.ClientSession, keyed_server: ServerProcess
) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    url = f"{keyed_server.url}{CHAT}"
    body = orjson.dumps(chat_body("hi", max_tokens=2))
    foreign = {**auth, "Origin": "null"}
    refused = await fetch(http, "POST", url, body=body, headers=foreign)
    assert_openai_error(refused, 403, code="origin_not_allowed")
    health = await fetch(http, "GET", f"{keyed_server.url}/health", headers={"Origin": "null"})
    assert_openai_error(health, 403, code="origin_not_allowed")
    plain = await fetch(
        http, "POST", url, body=body, headers={**auth, "Content-Type": "text/plain"}
    )
    assert_openai_error(plain, 415, code="unsupported_media_type")
    app = {**auth, "Origin": APP_ORIGIN}
    allowed = await fetch(http, "POST", url, body=body, headers=app)
    assert allowed.status == 200, allowed.body
    assert allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
