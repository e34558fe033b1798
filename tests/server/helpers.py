"""Small helpers for the end-to-end tests: request bodies, strict SSE parsing, error checks."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from tests.schemas import validate

MODEL = "tiny"
ERROR_KEYS = {"message", "type", "param", "code"}
DONE_FRAME = b"data: [DONE]"

JSON = dict[str, Any]


def user(content: str) -> list[JSON]:
    return [{"role": "user", "content": content}]


def chat_body(content: str, **fields: Any) -> JSON:
    """A greedy chat request for the served model; ``fields`` override or add to it."""
    return {"model": MODEL, "messages": user(content), "temperature": 0, **fields}


@attrs.frozen
class Reply:
    status: int
    headers: CIMultiDictProxy[str]  # case-insensitive, like HTTP
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def fetch(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    json: object = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    data = orjson.dumps(json) if json is not None else body
    sent = {"Content-Type": "application/json"} if data is not None else {}
    sent.update(headers or {})
    async with http.request(method, url, data=data, headers=sent) as response:
        headers = CIMultiDictProxy(CIMultiDict(response.headers))
        return Reply(response.status, headers, await response.read())


def post_json(url: str, payload: object) -> Any:
    """A plain synchronous POST for the SDK tests, which need no aiohttp session."""
    request = urllib.request.Request(
        url, data=orjson.dumps(payload), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return orjson.loads(response.read())


def parse_sse(raw: bytes) -> list[JSON]:
    """Check the framing strictly (``data: {...}\\n\\n`` frames ending in ``[DONE]``) and decode."""
    assert raw.endswith(DONE_FRAME + b"\n\n"), raw[-200:]
    frames = raw.split(b"\n\n")
    assert frames[-1] == b"", "the body must end with a blank line"
    frames = frames[:-1]
    for frame in frames:
        assert frame.startswith(b"data: "), frame
        assert b"\n" not in frame, f"one line per event: {frame!r}"
        assert b"\r" not in frame, f"one line per event: {frame!r}"
    assert frames[-1] == DONE_FRAME
    assert DONE_FRAME not in frames[:-1], "[DONE] must come exactly once, last"
    return [orjson.loads(frame[len(b"data: ") :]) for frame in frames[:-1]]


def stream_content(chunks: list[JSON]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )


def finish_reasons(chunks: list[JSON]) -> list[str]:
    return [
        choice["finish_reason"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["finish_reason"] is not None
    ]


def validate_body(instance: JSON, schema_name: str) -> None:
    """Validate a response body strictly against OpenAI's schema."""
    validate(instance, schema_name)


def check_stream_chunks(chunks: list[JSON], n: int = 1) -> None:
    """Every chunk is schema-valid and all share one id; each of the ``n`` choices has its
    role chunk first, before any other of its chunks, and exactly one finish chunk."""
    for chunk in chunks:
        validate_body(chunk, "CreateChatCompletionStreamResponse")
    assert len({chunk["id"] for chunk in chunks}) == 1
    by_choice: dict[int, list[JSON]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            by_choice.setdefault(choice["index"], []).append(choice)
    assert sorted(by_choice) == list(range(n))
    for choices in by_choice.values():
        assert choices[0]["delta"]["role"] == "assistant"
        assert all("role" not in c["delta"] for c in choices[1:])
        assert sum(c["finish_reason"] is not None for c in choices) == 1


def assert_openai_error(
    reply: Reply,
    status: int,
    *,
    param: str | object | None = ...,
    code: str | object | None = ...,
) -> JSON:
    """The reply is OpenAI's error body, exactly four keys, schema-valid, with this status."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"}
    error: JSON = body["error"]
    assert set(error) == ERROR_KEYS
    assert isinstance(error["message"], str)
    assert error["message"]
    validate(body, "ErrorResponse")
    if param is not ...:
        assert error["param"] == param, error
    if code is not ...:
        assert error["code"] == code, error
    return error
