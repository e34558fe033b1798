"""The official ``openai`` SDK against the real server: what clients actually see."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import ServerProcess
from tests.server.helpers import MODEL, post_json, user, validate_body

PROMPT = "tell me a story about a cat who lived in paris"
MAX_TOKENS = 16


def _create(client: openai.OpenAI, **fields: Any) -> Any:
    """A greedy chat call; returns (raw JSON, parsed ChatCompletion)."""
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": user(PROMPT),
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        **fields,
    }
    raw = client.chat.completions.with_raw_response.create(**request)
    body = raw.http_response.json()
    validate_body(body, "CreateChatCompletionResponse")
    return body, raw.parse()


def _stream_chunks(client: openai.OpenAI, **fields: Any) -> list[Any]:
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": user(PROMPT),
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        **fields,
    }
    with client.chat.completions.create(stream=True, **request) as stream:
        return list(stream)


def _content_of(chunks: list[Any]) -> str:
    return "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)


def _deltas_of(chunks: list[Any]) -> list[str]:
    return [c.delta.content for chunk in chunks for c in chunk.choices if c.delta.content]


def test_non_stream_completion_is_valid_and_counts_tokens(
    client: openai.OpenAI, base_url: str
) -> None:
    body, completion = _create(client)
    choice = completion.choices[0]
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.id.startswith("chatcmpl-")
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "length"
    assert isinstance(choice.message.content, str)
    assert choice.message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens == MAX_TOKENS
    counted = post_json(f"{base_url}/v1/tokenize", {"messages": user(PROMPT)})
    assert completion.usage.prompt_tokens == counted["count"] > 0
    assert completion.usage.total_tokens == counted["count"] + MAX_TOKENS
    assert body["choices"][0]["message"]["content"] == choice.message.content


def test_greedy_is_deterministic(client: openai.OpenAI) -> None:
    first = _create(client)[1].choices[0].message.content
    second = _create(client)[1].choices[0].message.content
    assert first == second


def test_max_completion_tokens_caps_like_max_tokens(client: openai.OpenAI) -> None:
    _, completion = _create(client, max_tokens=None, max_completion_tokens=5)
    assert completion.usage.completion_tokens == 5
    assert completion.choices[0].finish_reason == "length"


def test_stream_matches_non_stream(client: openai.OpenAI) -> None:
    _, completion = _create(client)
    chunks = _stream_chunks(client)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({chunk.id for chunk in chunks}) == 1
    assert _content_of(chunks) == completion.choices[0].message.content
    assert len(_deltas_of(chunks)) > 1, "content should arrive in several deltas"
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices[0].finish_reason == "length"
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_include_usage_ends_with_a_usage_chunk(client: openai.OpenAI) -> None:
    _, completion = _create(client)
    chunks = _stream_chunks(client, stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == completion.usage.prompt_tokens
    assert last.usage.completion_tokens == MAX_TOKENS
    assert last.usage.total_tokens == completion.usage.total_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "length"
    assert _content_of(chunks) == completion.choices[0].message.content


def _boundary_stop(deltas: list[str]) -> tuple[str, str]:
    """A 4-character stop string spanning two deltas in the middle; and the text before it.

    Prefers a boundary whose stop string first occurs right there, so the stop really is
    split across tokens.
    """
    text = "".join(deltas)
    candidates: list[tuple[str, str]] = []
    position = 0
    for left in deltas[:-1]:
        position += len(left)
        stop = text[position - 2 : position + 2]
        if position < 4 or len(stop) != 4 or "\ufffd" in stop or not stop.strip():
            continue
        first = text.find(stop)
        if first > 0:
            candidates.append((stop, text[:first]))
            if first == position - 2:
                return stop, text[:first]
    assert candidates, f"no usable stop string in {deltas!r}"
    return candidates[len(candidates) // 2]


def test_stop_string_across_tokens_non_stream_and_stream(client: openai.OpenAI) -> None:
    deltas = _deltas_of(_stream_chunks(client))
    stop, before = _boundary_stop(deltas)

    _, stopped = _create(client, stop=[stop])
    assert stopped.choices[0].message.content == before
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage.completion_tokens < MAX_TOKENS

    chunks = _stream_chunks(client, stop=[stop])
    assert _content_of(chunks) == before
    assert stop not in _content_of(chunks)
    assert [c.finish_reason for ch in chunks for c in ch.choices if c.finish_reason] == ["stop"]


def test_stop_as_a_plain_string(client: openai.OpenAI) -> None:
    deltas = _deltas_of(_stream_chunks(client))
    stop, before = _boundary_stop(deltas)
    _, stopped = _create(client, stop=stop)
    assert stopped.choices[0].message.content == before
    assert stopped.choices[0].finish_reason == "stop"


def test_held_back_stop_prefix_is_flushed_when_no_stop_follows(client: openai.OpenAI) -> None:
    # The output ends with the start of this stop string, so the server holds that tail back
    # in case the stop completes; when generation ends first, the tail must still be sent.
    _, plain = _create(client)
    full = plain.choices[0].message.content
    stop = full[-2:] + "\x00never"
    _, completion = _create(client, stop=[stop])
    assert completion.choices[0].message.content == full
    assert completion.choices[0].finish_reason == "length"
    chunks = _stream_chunks(client, stop=[stop])
    assert _content_of(chunks) == full
    assert chunks[-1].choices[0].finish_reason == "length"


def test_eos_model_stops_with_empty_content(eos_server: ServerProcess) -> None:
    client = openai.OpenAI(base_url=f"{eos_server.url}/v1", api_key="unused", max_retries=0)
    _, completion = _create(client)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content == ""
    assert completion.usage.completion_tokens <= 1
    chunks = _stream_chunks(client)
    assert _content_of(chunks) == ""
    assert [c.finish_reason for ch in chunks for c in ch.choices if c.finish_reason] == ["stop"]


def test_same_seed_reproduces_and_other_seeds_differ(client: openai.OpenAI) -> None:
    def sample(seed: int) -> str:
        _, completion = _create(client, temperature=1.0, seed=seed, max_tokens=20)
        return str(completion.choices[0].message.content)

    first = sample(1234)
    assert sample(1234) == first
    others = {sample(seed) for seed in (1, 2, 3)}
    assert others - {first}, "different seeds should give different samples"
    assert len(others) > 1


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [model.id for model in models.data] == [MODEL]
    model = client.models.retrieve(MODEL)
    assert model.id == MODEL
    assert model.object == "model"
    assert model.owned_by


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"temperature": 5}, "temperature", None),
        ({"n": 17}, "n", "invalid_value"),
        ({"max_tokens": 100_000}, "messages", "context_length_exceeded"),
        ({"messages": []}, "messages", None),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", None),
    ],
)
def test_bad_requests_raise_bad_request_error(
    client: openai.OpenAI, fields: dict[str, Any], param: str, code: str | None
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        _create(client, **fields)
    assert raised.value.status_code == 400
    assert raised.value.param == param
    assert raised.value.code == code


def test_context_overflow_raises_bad_request_when_streaming(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        _stream_chunks(client, max_tokens=100_000)
    assert raised.value.code == "context_length_exceeded"


def test_unknown_model_raises_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        _create(client, model="gpt-4")
    assert raised.value.code == "model_not_found"
    assert raised.value.param == "model"
    with pytest.raises(openai.NotFoundError) as raised_stream:
        _stream_chunks(client, model="gpt-4")
    assert raised_stream.value.code == "model_not_found"


def test_retrieving_an_unknown_model_raises_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("nope")
    assert raised.value.code == "model_not_found"
