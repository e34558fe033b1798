"""logprobs, logit_bias and the penalties through the official SDK against the real server."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import orjson
import pytest

from tests.server.helpers import MODEL, check_stream_chunks, parse_sse, user, validate_body

PROMPT = "tell me a story about a cat who lived in paris"


def _request(**fields: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": user(PROMPT),
        "max_tokens": 12,
        "temperature": 0,
        **fields,
    }


def _create(client: openai.OpenAI, **fields: Any) -> tuple[Any, Any]:
    raw = client.chat.completions.with_raw_response.create(**_request(**fields))
    body = raw.http_response.json()
    validate_body(body, "CreateChatCompletionResponse")
    return body, raw.parse()


def test_logprobs_in_json(client: openai.OpenAI) -> None:
    body, completion = _create(client, logprobs=True, top_logprobs=5)
    choice = completion.choices[0]
    assert body["choices"][0]["logprobs"]["refusal"] is None
    content = choice.logprobs.content
    assert content
    assert "".join(t.token for t in content) == choice.message.content
    for token in content:
        assert token.logprob <= 0
        assert len(token.top_logprobs) == 5
        values = [t.logprob for t in token.top_logprobs]
        assert values == sorted(values, reverse=True)
        assert len({t.token for t in token.top_logprobs}) <= 5
        # greedy: the chosen token is the most likely one
        assert token.logprob == pytest.approx(max(values))
        assert bytes(token.bytes or []).decode("utf-8", "replace") == token.token


def test_no_logprobs_unless_asked(client: openai.OpenAI) -> None:
    body, _ = _create(client)
    assert body["choices"][0]["logprobs"] is None
    _, completion = _create(client, logprobs=True)
    assert all(t.top_logprobs == [] for t in completion.choices[0].logprobs.content)


def test_streamed_logprobs_equal_json(client: openai.OpenAI) -> None:
    _, completion = _create(client, logprobs=True, top_logprobs=2)
    request = urllib.request.Request(
        f"{client.base_url}chat/completions",
        data=orjson.dumps(_request(stream=True, logprobs=True, top_logprobs=2)),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        chunks = parse_sse(reply.read())
    check_stream_chunks(chunks)
    streamed: list[Any] = []
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice["delta"].get("content"):
                assert choice["logprobs"] is not None
            if choice["logprobs"] is not None:
                streamed.extend(choice["logprobs"]["content"])
    expected = [t.model_dump() for t in completion.choices[0].logprobs.content]
    assert streamed == expected


def test_top_logprobs_without_logprobs_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**_request(top_logprobs=3))
    assert caught.value.body["param"] == "top_logprobs"  # type: ignore[index]


def test_logit_bias_outside_vocabulary_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**_request(logit_bias={"100000000": 5}))
    assert caught.value.body["param"] == "logit_bias"  # type: ignore[index]


def test_logit_bias_forces_and_bans(client: openai.OpenAI) -> None:
    _, plain = _create(client, logprobs=True)
    first = plain.choices[0].logprobs.content[0]
    tokens = client.post("/tokenize", body={"model": MODEL, "text": "qu"}, cast_to=object)
    (forced,) = tokens["tokens"]  # type: ignore[index]
    _, biased = _create(client, logprobs=True, logit_bias={str(forced): 100})
    assert {t.token for t in biased.choices[0].logprobs.content} == {"qu"}
    banned_id = client.post("/tokenize", body={"model": MODEL, "text": first.token}, cast_to=object)
    ids = banned_id["tokens"]  # type: ignore[index]
    if len(ids) == 1:
        _, without = _create(client, logprobs=True, logit_bias={str(ids[0]): -100})
        assert all(t.token != first.token for t in without.choices[0].logprobs.content)


def test_presence_penalty_stops_repeats(client: openai.OpenAI) -> None:
    _, plain = _create(client, logprobs=True, max_tokens=16)
    _, penalised = _create(client, logprobs=True, max_tokens=16, presence_penalty=2)
    # by bytes: tokens that are parts of characters all read as U+FFFD
    tokens = [tuple(t.bytes) for t in penalised.choices[0].logprobs.content]
    plain_tokens = [tuple(t.bytes) for t in plain.choices[0].logprobs.content]
    assert len(set(plain_tokens)) < len(plain_tokens)  # the random model repeats itself
    assert len(set(tokens)) == len(tokens)  # -2 on every used token outweighs its spread


def test_seeded_penalised_request_reproducible_in_a_batch(client: openai.OpenAI) -> None:
    fields = {
        "temperature": 1.0,
        "seed": 1234,
        "frequency_penalty": 0.7,
        "presence_penalty": 0.3,
        "extra_body": {"repetition_penalty": 1.2},
        "logit_bias": {"3": 2},
    }
    alone = _create(client, **fields)[1].choices[0].message.content

    def one(i: int) -> str:
        extra = fields if i == 0 else {"temperature": 1.0, "seed": i}
        return str(_create(client, **extra)[1].choices[0].message.content)

    with ThreadPoolExecutor(4) as pool:
        batched = list(pool.map(one, range(4)))
    assert batched[0] == alone
