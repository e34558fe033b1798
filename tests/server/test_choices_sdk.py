"""``n`` choices through the official SDK against the real server: indexed choices in JSON and
in the stream, seeded choices reproducible inside a busy batch, logprobs per choice."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import orjson

from tests.server.helpers import MODEL, check_stream_chunks, parse_sse, user, validate_body

PROMPT = "tell me a story about a cat who lived in paris"
SEEDED = {"temperature": 1.0, "seed": 99, "max_tokens": 10}


def _request(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": user(PROMPT), **fields}


def _create(client: openai.OpenAI, **fields: Any) -> tuple[Any, Any]:
    raw = client.chat.completions.with_raw_response.create(**_request(**fields))
    body = raw.http_response.json()
    validate_body(body, "CreateChatCompletionResponse")
    return body, raw.parse()


def _stream(client: openai.OpenAI, n: int, **fields: Any) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{client.base_url}chat/completions",
        data=orjson.dumps(_request(stream=True, n=n, **fields)),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        chunks = parse_sse(reply.read())
    check_stream_chunks(chunks, n)
    return chunks


def _texts(completion: Any) -> list[str]:
    return [str(choice.message.content) for choice in completion.choices]


def test_three_seeded_choices(client: openai.OpenAI) -> None:
    _, single = _create(client, **SEEDED)
    _, three = _create(client, n=3, **SEEDED)
    assert [c.index for c in three.choices] == [0, 1, 2]
    texts = _texts(three)
    assert texts[0] == single.choices[0].message.content  # choice 0 is the seed's n=1 answer
    assert len(set(texts)) == 3  # the others sample on seeds of their own
    assert _texts(_create(client, n=3, **SEEDED)[1]) == texts
    # the prompt is counted once, the choices' tokens summed
    assert three.usage.prompt_tokens == single.usage.prompt_tokens
    finished = [c for c in three.choices if c.finish_reason == "length"]
    assert three.usage.completion_tokens >= 10 * len(finished)


def test_greedy_choices_agree(client: openai.OpenAI) -> None:
    _, two = _create(client, n=2, temperature=0, max_tokens=8)
    first, second = _texts(two)
    assert first == second


def test_streamed_choices_equal_json(client: openai.OpenAI) -> None:
    _, three = _create(client, n=3, **SEEDED)
    chunks = _stream(client, n=3, stream_options={"include_usage": True}, **SEEDED)
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in chunks[:-1]:
        (choice,) = chunk["choices"]
        texts[choice["index"]] = texts.get(choice["index"], "") + (
            choice["delta"].get("content") or ""
        )
        if choice["finish_reason"] is not None:
            finishes[choice["index"]] = choice["finish_reason"]
    assert [texts[i] for i in range(3)] == _texts(three)
    assert [finishes[i] for i in range(3)] == [c.finish_reason for c in three.choices]
    usage = chunks[-1]
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == three.usage.completion_tokens


def test_each_choice_has_its_logprobs(client: openai.OpenAI) -> None:
    _, two = _create(client, n=2, logprobs=True, top_logprobs=2, **SEEDED)
    for choice in two.choices:
        joined = "".join(t.token for t in choice.logprobs.content)
        # a SentencePiece detokenizer drops the first token's leading space from the text
        assert joined in (choice.message.content, f" {choice.message.content}")
        assert all(len(t.top_logprobs) == 2 for t in choice.logprobs.content)


def test_seeded_choices_reproducible_in_a_busy_batch(client: openai.OpenAI) -> None:
    alone = _texts(_create(client, n=2, **SEEDED)[1])

    def one(i: int) -> list[str]:
        if i == 0:
            return _texts(_create(client, n=2, **SEEDED)[1])
        return _texts(_create(client, temperature=1.0, seed=i, max_tokens=12)[1])

    with ThreadPoolExecutor(4) as pool:
        batched = list(pool.map(one, range(4)))
    assert batched[0] == alone


def test_logprobs_under_a_schema_are_json(client: openai.OpenAI) -> None:
    """A grammar bans most tokens; their -inf logprobs must not reach the JSON."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "boolean"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    fields = {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "flag", "schema": schema, "strict": True},
        },
        "logprobs": True,
        "top_logprobs": 20,
        "temperature": 0,
        "max_tokens": 30,
    }
    raw = client.chat.completions.with_raw_response.create(**_request(**fields))
    body = orjson.loads(raw.http_response.content)  # strict: rejects NaN and Infinity
    validate_body(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert json.loads(choice["message"]["content"]) in ({"a": True}, {"a": False})
    assert (
        "".join(t["token"] for t in choice["logprobs"]["content"]) == choice["message"]["content"]
    )
