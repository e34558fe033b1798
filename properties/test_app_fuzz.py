"""The real app under arbitrary HTTP: any body, header, method, path, chat or completions field
combination.

Every response is a well-formed success (checked against mlxfn's own OpenAPI schemas) or a 4xx
with exactly OpenAI's error body; never a 5xx, and never a hang. The app runs over a real engine
on a tiny model, served on its own event loop in a background thread (``@given`` does not mix
with function-scoped fixtures: they are not reset between examples), with API keys and CORS
switched on so that those paths are fuzzed too. The engine's default completion cap is small, so
generations stay short.

Framing and encoding headers (Content-Length, Transfer-Encoding, Content-Encoding) are left to
the HTTP client: aiohttp's parser answers a malformed frame, or a body that arrives with its
headers and is not in its declared encoding, with a plain-text 400 before any application code
runs. A badly encoded body that the handler reads is mlxfn's JSON 400; a regression test in
``tests/server/test_adversarial.py`` sends one.

``HYPOTHESIS_PROFILE=thorough`` runs many more examples (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from returns.result import Success
from yarl import URL

from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import EngineConfig, start_engine
from mlxfn.server.app import make_app
from mlxfn.server.keys import ServerConfig
from mlxfn.server.openapi import build_openapi
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.tiny_model import build_tiny_model
from mlxfn.wire.bodies import ChatBody, CompletionBody
from mlxfn.wire.completion_requests import parse_completion_request
from mlxfn.wire.requests import parse_chat_request

MODEL = "tiny"
KEY = "sk-fuzz"
ORIGIN = "http://fuzz.example"
REQUEST_TIMEOUT_S = 30.0  # far beyond any answer on the tiny model: reaching it is a hang
ERROR_KEYS = {"message", "type", "param", "code"}
ENGINE_CONFIG = EngineConfig(default_max_tokens=6)
FUZZ = settings(  # max_examples comes from the profile: 150 each by default (~15 s in all)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- the app, on a loop of its own ---------------------------------------------------------------


@attrs.frozen
class Reply:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes


class LiveApp:
    """The app on a loop in a background thread; ``send`` blocks until the answer or a hang."""

    def __init__(self, app: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = aiohttp.web.AppRunner(app, handler_cancellation=True, access_log=None)
        self.base, self.session = self._run(self._start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(REQUEST_TIMEOUT_S)

    async def _start(self) -> tuple[str, aiohttp.ClientSession]:
        await self.runner.setup()
        site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        return f"http://{host}:{port}", aiohttp.ClientSession(timeout=timeout)

    async def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Reply:
        url = URL(self.base + path, encoded=True)
        async with self.session.request(method, url, headers=headers, data=body) as response:
            return Reply(
                method,
                path,
                response.status,
                response.headers.get("Content-Type", ""),
                await response.read(),
            )

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> Reply:
        try:
            reply: Reply = self._run(self._send(method, path, headers, body))
        except TimeoutError:  # pragma: no cover - the failure this test exists to catch
            pytest.fail(f"{method} {path} got no answer in {REQUEST_TIMEOUT_S} s")
        return reply

    def close(self) -> None:
        async def stop() -> None:
            await self.session.close()
            await self.runner.cleanup()

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    model_dir: Path = build_tiny_model(tmp_path_factory.mktemp("fuzz") / MODEL)
    engine = run_io(start_engine(ModelSpec(source=str(model_dir)), ENGINE_CONFIG)).unwrap()
    config = ServerConfig(api_keys=frozenset({KEY}), cors_origins=(ORIGIN,))
    app = LiveApp(make_app(engine, config))
    yield app
    app.close()
    engine.close()


# -- what a good answer looks like -------------------------------------------------------------

# What the live app serves: its model, under its engine configuration, with API keys.
_DOCUMENT = build_openapi(OpenApiFacts.of((MODEL,), ENGINE_CONFIG, authenticated=True))
_SUCCESS_SCHEMA = {
    "/v1/models": "ModelList",
    "/v1/tokenize": "TokenCount",
    "/tokenize": "TokenCount",
    "/v1/embeddings": "EmbeddingList",
    "/detokenize": "Detokenized",
    "/health": "Health",
    "/v1/chat/completions": "ChatCompletion",
    "/v1/completions": "TextCompletion",
    "/v1/responses": "Response",
    "/v1/messages": "Message",
    "/v1/messages/count_tokens": "MessageTokensCount",
}
_CHUNK_SCHEMA = {
    "/v1/chat/completions": "ChatCompletionChunk",
    "/v1/completions": "TextCompletionChunk",
}


# The served document, and one without a served model (any non-blank model id is allowed).
_DOCUMENTS = {"served": _DOCUMENT, "any model": build_openapi()}


@functools.cache
def _validator(document: str, name: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        "urn:mlxfn", DRAFT202012.create_resource(_DOCUMENTS[document])
    )
    return Draft202012Validator(
        {"$ref": f"urn:mlxfn#/components/schemas/{name}"}, registry=registry
    )


def _validate(instance: object, name: str, document: str = "served") -> None:
    _validator(document, name).validate(instance)


def _check_stream(body: bytes, chunk: str = "ChatCompletionChunk") -> None:
    frames = body.split(b"\n\n")
    assert frames[-1] == b"", body[-200:]
    events = [frame.removeprefix(b"data: ") for frame in frames[:-1]]
    assert all(frame.startswith(b"data: ") for frame in frames[:-1])
    if events[-1] == b"[DONE]":
        for event in events[:-1]:
            _validate(orjson.loads(event), chunk)
    else:  # a failure after the stream started: an error event, and no [DONE]
        _validate(orjson.loads(events[-1]), "ErrorResponse")
        raise AssertionError(f"the engine failed mid-stream: {events[-1]!r}")


def _check_responses_stream(body: bytes) -> None:
    """The Responses stream: named events numbered from 0, ending with the Response's end."""
    frames = body.split(b"\n\n")
    assert frames[-1] == b"", body[-200:]
    events = []
    for frame in frames[:-1]:
        name, data = frame.split(b"\n")
        event = orjson.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + event["type"].encode()
        _validate(event, "ResponseStreamEvent")
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] in ("response.completed", "response.incomplete"), events[-1]


def _check_messages_stream(body: bytes) -> None:
    """The Messages stream: named events from message_start to message_stop, each block's
    start, deltas and stop under its index, in order."""
    frames = body.split(b"\n\n")
    assert frames[-1] == b"", body[-200:]
    events = []
    for frame in frames[:-1]:
        name, data = frame.split(b"\n")
        event = orjson.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + event["type"].encode()
        _validate(event, "MessageStreamEvent")
        events.append(event)
    assert events[0]["type"] == "message_start"
    assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"], events[-2:]
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert starts == list(range(len(starts)))


def _is_messages_route(route: str) -> bool:
    return route == "/v1/messages" or route.startswith("/v1/messages/")


def check_reply(reply: Reply) -> None:
    """A well-formed success, or a 4xx whose body is exactly OpenAI's error body (Anthropic's
    under /v1/messages)."""
    event(f"{reply.status} {reply.content_type.split(';')[0]}")  # --hypothesis-show-statistics
    assert reply.status < 500, (reply.method, reply.path, reply.status, reply.body[:500])
    if reply.method == "HEAD":
        return  # no body to check
    route = urllib.parse.urlsplit(reply.path).path
    if reply.status >= 400:
        assert reply.content_type.startswith("application/json"), reply
        body = orjson.loads(reply.body)
        if _is_messages_route(route):
            assert set(body) == {"type", "error"}, body
            assert set(body["error"]) == {"type", "message"}, body
            _validate(body, "MessagesError")
            return
        assert set(body) == {"error"}, body
        assert set(body["error"]) == ERROR_KEYS, body
        _validate(body, "ErrorResponse")
        return
    if reply.method == "OPTIONS":  # a CORS preflight that passed
        return
    if reply.content_type.startswith("text/event-stream") and route == "/v1/responses":
        _check_responses_stream(reply.body)
    elif reply.content_type.startswith("text/event-stream") and route == "/v1/messages":
        _check_messages_stream(reply.body)
    elif reply.content_type.startswith("text/event-stream"):
        assert route in _CHUNK_SCHEMA, route
        _check_stream(reply.body, _CHUNK_SCHEMA[route])
    elif route == "/" or route.startswith("/ui/"):  # the chat page and its files
        kind = reply.content_type.split(";")[0]
        assert kind in ("text/html", "text/javascript", "text/css", "application/javascript"), reply
    elif route == "/metrics":
        assert reply.content_type.startswith("text/plain"), reply
        assert b"mlxfn_requests_total" in reply.body
    elif route == "/openapi.json":
        assert orjson.loads(reply.body) == _DOCUMENT
    elif route.startswith("/v1/models/"):
        _validate(orjson.loads(reply.body), "Model")
    elif route.startswith("/v1/responses/") and reply.method == "DELETE":
        _validate(orjson.loads(reply.body), "ResponseDeleted")
    elif route.startswith("/v1/responses/"):
        _validate(orjson.loads(reply.body), "Response")
    else:
        _validate(orjson.loads(reply.body), _SUCCESS_SCHEMA[route])


# -- strategies --------------------------------------------------------------------------------

_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
header_text = st.text(_printable, max_size=40).map(str.strip)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


def encode(value: object) -> bytes:
    # json, not orjson: it writes lone surrogates as \\ud800 escapes and ints past 64 bits.
    return json.dumps(value).encode()


@st.composite
def header_sets(draw: st.DrawFn, *, authorized: bool = False) -> dict[str, str]:
    """Content-Type, Accept, X-Request-ID, Authorization, Origin, ... in any combination."""
    good_auth = st.just(f"Bearer {KEY}")
    choices: dict[str, st.SearchStrategy[str]] = {
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
        )
        | header_text,
        "Accept": st.sampled_from(["application/json", "text/event-stream", "*/*"]) | header_text,
        "X-Request-ID": st.sampled_from(["abc-123", "x" * 200]) | header_text,
        "Authorization": good_auth
        | st.sampled_from(["Bearer", "Bearer  ", "Basic eDp5", f"bearer {KEY}x"])
        | header_text,
        "Origin": st.sampled_from([ORIGIN, "http://evil.example"]) | header_text,
        "Access-Control-Request-Method": st.sampled_from(["POST", "GET", "DELETE"]) | header_text,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(choices)), unique=True))
    headers = {name: draw(choices[name]) for name in chosen}
    if authorized or "Authorization" not in headers:  # mostly past the key check, to go deeper
        headers["Authorization"] = f"Bearer {KEY}"
    if "Content-Type" not in headers:  # mostly JSON too: anything else is a 415 at the door
        headers["Content-Type"] = "application/json"
    return headers


_roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])
_content = (
    st.text(max_size=40)
    | st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "refusal", "image_url"]) | st.text(max_size=6)},
            optional={"text": st.text(max_size=20) | json_values, "refusal": st.text(max_size=9)},
        ),
        max_size=3,
    )
    | json_values
)
_tool_call = st.fixed_dictionaries(
    {
        "id": st.text(max_size=6),
        "function": st.fixed_dictionaries(
            {"name": st.text(max_size=6), "arguments": st.text(max_size=12)}
        )
        | json_values,
    },
    optional={"type": st.just("function") | st.text(max_size=6)},
)
messages = st.fixed_dictionaries(
    {"role": _roles | json_values},
    optional={
        "content": _content,
        "name": st.text(max_size=8) | json_values,
        "tool_call_id": st.text(max_size=8) | json_values,
        "tool_calls": st.lists(_tool_call, max_size=2) | json_values,
        "refusal": st.text(max_size=8) | json_values,
    },
)
_small_ints = st.integers(-2, 12)
_floats = st.floats(-1.0, 3.0, allow_nan=False)
# Plausible values for each field (valid, at the edges, and a little beyond); every field also
# gets arbitrary JSON sometimes.
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from([MODEL, MODEL, "gpt-4o", "", " "]),
    "messages": st.lists(messages, max_size=4),
    "temperature": _floats,
    "top_p": _floats,
    "top_k": st.integers(-2, 60),
    "min_p": _floats,
    "max_tokens": _small_ints | st.integers(min_value=500),
    "max_completion_tokens": _small_ints | st.integers(min_value=500),
    "stop": st.text(max_size=4) | st.lists(st.text(max_size=4), max_size=6),
    "seed": st.integers(-(2**64), 2**64),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries(
        {}, optional={"include_usage": st.booleans(), "include_obfuscation": st.booleans()}
    ),
    "n": _small_ints,
    "logprobs": st.booleans(),
    "top_logprobs": _small_ints,
    "response_format": st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "json_object", "json_schema"])}
    ),
    "tool_choice": st.sampled_from(["none", "auto", "required"]),
    "modalities": st.lists(st.sampled_from(["text", "audio"]), max_size=2),
    "service_tier": st.sampled_from(["auto", "default", "flex"]),
    "store": st.booleans(),
}
chat_fields = {
    field.name: st.none() | _FIELD_VALUES.get(field.name, json_values) | json_values
    for field in attrs.fields(ChatBody)
}
_good_messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer", "user", "assistant"]),
            "content": st.text(max_size=40),
        }
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def _mostly_good_chat(draw: st.DrawFn) -> dict[str, Any]:
    # A body that reaches the engine, then up to four fields of any kind laid over it.
    body: dict[str, Any] = {"model": MODEL, "messages": draw(_good_messages)}
    body["max_tokens"] = draw(st.integers(1, 8))
    if draw(st.booleans()):
        body["stream"] = True
        body["stream_options"] = {"include_usage": draw(st.booleans())}
    for name in draw(st.lists(st.sampled_from(sorted(chat_fields)), unique=True, max_size=4)):
        body[name] = draw(chat_fields[name])
    return body


chat_bodies = _mostly_good_chat() | st.fixed_dictionaries({}, optional=chat_fields)
_token_ids = st.lists(st.integers(-1, 600), max_size=6)
_COMPLETION_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{name: _FIELD_VALUES[name] for name in ("model", "temperature", "top_p", "stop", "seed")},
    **{name: _FIELD_VALUES[name] for name in ("stream", "stream_options", "n", "max_tokens")},
    "prompt": st.text(max_size=30)
    | st.lists(st.text(max_size=12), max_size=3)
    | _token_ids
    | st.lists(_token_ids, max_size=3),
    "logprobs": st.integers(-1, 6) | st.booleans(),
    "echo": st.booleans(),
    "best_of": _small_ints,
    "suffix": st.sampled_from(["", "end"]),
}
completion_fields = {
    field.name: st.none() | _COMPLETION_VALUES.get(field.name, json_values) | json_values
    for field in attrs.fields(CompletionBody)
}


@st.composite
def _mostly_good_completion(draw: st.DrawFn) -> dict[str, Any]:
    # A body that reaches the engine, then up to four fields of any kind laid over it.
    prompt = st.text(min_size=1, max_size=30) | st.lists(st.integers(0, 511), min_size=1)
    body: dict[str, Any] = {"model": MODEL, "prompt": draw(prompt | st.lists(prompt, max_size=3))}
    body["max_tokens"] = draw(st.integers(1, 8))
    if draw(st.booleans()):
        body["stream"] = True
        body["stream_options"] = {"include_usage": draw(st.booleans())}
    for name in draw(st.lists(st.sampled_from(sorted(completion_fields)), unique=True, max_size=4)):
        body[name] = draw(completion_fields[name])
    return body


completion_bodies = _mostly_good_completion() | st.fixed_dictionaries(
    {}, optional=completion_fields
)
_ROUTES = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/models",
    f"/v1/models/{MODEL}",
    "/v1/models/other",
    "/v1/tokenize",
    "/tokenize",
    "/detokenize",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/responses/resp_0",
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/messages/other",
    "/health",
    "/metrics",
    "/openapi.json",
    "/",
    "/ui/chat.js",
    "/ui/../pyproject.toml",
]
paths = (
    st.sampled_from(_ROUTES)
    | st.sampled_from(_ROUTES)
    | st.text(max_size=30).map(lambda text: "/" + urllib.parse.quote(text, safe="/"))
)
queries = st.just("") | st.text(_printable, max_size=20).map(
    lambda text: "?" + urllib.parse.quote(text, safe="=&")
)
targets = st.tuples(paths, queries).map("".join)
methods = st.sampled_from(["GET", "POST"]) | st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"]
)
bodies = st.none() | st.binary(max_size=200) | json_values.map(encode) | chat_bodies.map(encode)


# -- the properties ----------------------------------------------------------------------------


@FUZZ
@given(body=bodies, headers=header_sets())
def test_any_body_with_any_headers_to_chat(
    live: LiveApp, body: bytes | None, headers: dict[str, str]
) -> None:
    check_reply(live.send("POST", "/v1/chat/completions", headers, body))


@FUZZ
@given(body=chat_bodies, headers=header_sets(authorized=True))
def test_any_combination_of_chat_fields(
    live: LiveApp, body: dict[str, Any], headers: dict[str, str]
) -> None:
    check_reply(live.send("POST", "/v1/chat/completions", headers, encode(body)))


@FUZZ
@given(body=completion_bodies.map(encode) | bodies, headers=header_sets(authorized=True))
def test_any_combination_of_completion_fields(
    live: LiveApp, body: bytes | None, headers: dict[str, str]
) -> None:
    check_reply(live.send("POST", "/v1/completions", headers, body))


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "text": st.text(max_size=40) | json_values,
            "messages": st.lists(messages, max_size=3) | json_values,
            "model": _FIELD_VALUES["model"] | json_values,
        },
    ).map(encode)
    | bodies,
    headers=header_sets(authorized=True),
)
def test_any_tokenize_body(live: LiveApp, body: bytes | None, headers: dict[str, str]) -> None:
    check_reply(live.send("POST", "/v1/tokenize", headers, body))


@FUZZ
@given(
    route=st.sampled_from(["/tokenize", "/detokenize"]),
    body=st.fixed_dictionaries(
        {},
        optional={
            "prompt": st.text(max_size=40) | json_values,
            "messages": st.lists(messages, max_size=3) | json_values,
            "add_special_tokens": st.booleans() | json_values,
            "tokens": st.lists(st.integers(-5, 1000), max_size=8) | json_values,
            "model": _FIELD_VALUES["model"] | json_values,
        },
    ).map(encode)
    | bodies,
    headers=header_sets(authorized=True),
)
def test_any_vllm_tokenize_or_detokenize_body(
    live: LiveApp, route: str, body: bytes | None, headers: dict[str, str]
) -> None:
    check_reply(live.send("POST", route, headers, body))


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "input": st.text(max_size=20)
            | st.lists(st.text(max_size=8), max_size=3)
            | st.lists(st.integers(-5, 1000), max_size=6)
            | json_values,
            "encoding_format": st.sampled_from(["float", "base64", "hex"]) | json_values,
            "dimensions": st.integers(-2, 100) | json_values,
            "model": _FIELD_VALUES["model"] | json_values,
        },
    ).map(encode)
    | bodies,
    headers=header_sets(authorized=True),
)
def test_any_embeddings_body(live: LiveApp, body: bytes | None, headers: dict[str, str]) -> None:
    check_reply(live.send("POST", "/v1/embeddings", headers, body))


@FUZZ
@given(method=methods, target=targets, headers=header_sets(), body=bodies)
def test_any_method_path_and_headers(
    live: LiveApp, method: str, target: str, headers: dict[str, str], body: bytes | None
) -> None:
    check_reply(live.send(method, target, headers, body))


response_items = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool"]) | json_values},
        optional={
            "content": st.text(max_size=20)
            | st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["input_text", "output_text", "input_image"])},
                    optional={"text": st.text(max_size=10) | json_values},
                ),
                max_size=2,
            )
            | json_values,
            "type": st.just("message") | json_values,
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["function_call", "function_call_output", "reasoning", "x"])},
        optional={
            "call_id": st.text(max_size=8) | json_values,
            "name": st.sampled_from(["f", "a b"]) | json_values,
            "arguments": st.just("{}") | json_values,
            "output": st.text(max_size=10) | json_values,
        },
    ),
    json_values,
)
responses_fields: dict[str, st.SearchStrategy[Any]] = {
    "model": st.just(MODEL) | json_values,
    "input": st.text(max_size=20) | st.lists(response_items, max_size=3) | json_values,
    "instructions": st.text(max_size=20) | json_values,
    "max_output_tokens": st.integers(-1, 8) | json_values,
    "temperature": st.floats(-1, 3, allow_nan=False) | json_values,
    "top_p": st.floats(-1, 2, allow_nan=False) | json_values,
    "stream": st.booleans() | json_values,
    "store": st.booleans() | json_values,
    "previous_response_id": st.just("resp_0") | json_values,
    "tools": st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["function", "web_search"])},
            optional={"name": st.sampled_from(["f", "g", "a b"]), "parameters": json_values},
        ),
        max_size=2,
    )
    | json_values,
    "tool_choice": st.sampled_from(["none", "auto", "required"])
    | st.fixed_dictionaries({"type": st.just("function"), "name": st.sampled_from(["f", "x"])})
    | json_values,
    "text": st.fixed_dictionaries(
        {},
        optional={
            "format": st.fixed_dictionaries(
                {"type": st.sampled_from(["text", "json_object", "json_schema", "xml"])},
                optional={"name": st.just("p") | json_values, "schema": json_values},
            )
            | json_values
        },
    )
    | json_values,
    "reasoning": json_values,
    "include": json_values,
    "background": json_values,
    "truncation": json_values,
}


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {"model": st.just(MODEL)},
        optional={k: v for k, v in responses_fields.items() if k != "model"},
    ).map(encode)
    | st.fixed_dictionaries({}, optional=responses_fields).map(encode)
    | bodies,
    headers=header_sets(authorized=True),
)
def test_any_responses_body(live: LiveApp, body: bytes | None, headers: dict[str, str]) -> None:
    """Any bytes or field combination to /v1/responses: a Response, its stream, or a 4xx
    naming the field."""
    check_reply(live.send("POST", "/v1/responses", headers, body))


_blocks = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["text", "tool_use", "tool_result", "thinking", "image", "document"]
            )
            | json_values
        },
        optional={
            "text": st.text(max_size=10) | json_values,
            "id": st.just("toolu_1") | json_values,
            "tool_use_id": st.just("toolu_1") | json_values,
            "name": st.sampled_from(["f", "a b"]) | json_values,
            "input": st.just({}) | json_values,
            "content": st.text(max_size=10) | json_values,
            "thinking": st.text(max_size=5),
            "is_error": st.booleans() | json_values,
        },
    ),
    max_size=3,
)
_turn = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool"]) | json_values},
    optional={"content": st.text(max_size=20) | _blocks | json_values},
)
messages_fields: dict[str, st.SearchStrategy[Any]] = {
    "model": st.just(MODEL) | json_values,
    "messages": st.lists(_turn, max_size=3) | json_values,
    "max_tokens": st.integers(-1, 8) | st.integers(min_value=500) | json_values,
    "system": st.text(max_size=20)
    | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=8)}))
    | json_values,
    "temperature": st.floats(-1, 2, allow_nan=False) | json_values,
    "top_p": st.floats(-1, 2, allow_nan=False) | json_values,
    "top_k": st.integers(-1, 50) | json_values,
    "stop_sequences": st.lists(st.text(max_size=3), max_size=5) | json_values,
    "stream": st.booleans() | json_values,
    "tools": st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["custom", "web_search_20250305", "x"]),
                "name": st.sampled_from(["f", "g", "a b"]),
                "input_schema": json_values,
            },
        ),
        max_size=2,
    )
    | json_values,
    "tool_choice": st.fixed_dictionaries(
        {"type": st.sampled_from(["auto", "any", "tool", "none", "x"])},
        optional={"name": st.sampled_from(["f", "x"]), "disable_parallel_tool_use": st.booleans()},
    )
    | json_values,
    "thinking": st.fixed_dictionaries(
        {"type": st.sampled_from(["enabled", "disabled", "adaptive", "x"])},
        optional={"budget_tokens": st.integers(-1, 2000)},
    )
    | json_values,
    "output_config": json_values,
    "metadata": json_values,
    "mcp_servers": json_values,
    "service_tier": json_values,
}


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {
            "model": st.just(MODEL),
            "max_tokens": st.integers(1, 8),
            "messages": st.lists(
                st.fixed_dictionaries(
                    {"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=9)}
                ),
                min_size=1,
                max_size=2,
            ),
        },
        optional={
            k: v for k, v in messages_fields.items() if k not in ("model", "max_tokens", "messages")
        },
    ).map(encode)
    | st.fixed_dictionaries({}, optional=messages_fields).map(encode)
    | bodies,
    path=st.sampled_from(["/v1/messages", "/v1/messages/count_tokens"]),
    headers=header_sets(authorized=True),
)
def test_any_messages_body(
    live: LiveApp, body: bytes | None, path: str, headers: dict[str, str]
) -> None:
    """Any bytes or field combination to /v1/messages (and count_tokens): a Message, its
    event stream, a token count, or a 4xx in Anthropic's error shape."""
    check_reply(live.send("POST", path, headers, body))


# -- the document and the parser agree -------------------------------------------------------


@FUZZ
@given(body=chat_bodies)
def test_every_chat_body_the_parser_accepts_the_document_allows(body: dict[str, Any]) -> None:
    if isinstance(parse_chat_request(encode(body)), Success):
        _validate(body, "ChatBody", document="any model")


@FUZZ
@given(body=completion_bodies)
def test_every_completion_body_the_parser_accepts_the_document_allows(
    body: dict[str, Any],
) -> None:
    if isinstance(parse_completion_request(encode(body)), Success):
        _validate(body, "CompletionBody", document="any model")
