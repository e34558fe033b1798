"""``POST /v1/completions`` through the official SDK (``client.completions.create``) against
the real server, every body and stream chunk checked against OpenAI's CreateCompletionResponse."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from tests.conftest import ServerProcess, StartServer
from tests.schemas import validate_completion_chunk, validate_openapi
from tests.server.conftest import LIMITED_DEFAULT_MAX_TOKENS
from tests.server.helpers import (
    MODEL,
    assert_openai_error,
    chat_body,
    fetch,
    parse_sse,
    post_json,
    user,
    validate_body,
)

PROMPT = "Once upon a"
OTHER = "the quick brown fox"
MAX_TOKENS = 8
# The chat-templated "hello world" runs 5000 greedy tokens on the tiny model without an EOS
# (see test_concurrency.py); as a token prompt it does the same here.
ENDLESS_MESSAGE = "hello world"
LONG = 50_000
SLOT_FREED_WITHIN_S = 8.0
SPACE_ABOUT = " about"  # one token of the tiny model's vocabulary, with its leading space


def _fields(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0, **fields}


def _create(client: openai.OpenAI, **fields: Any) -> tuple[Any, Any]:
    """A greedy completion; (raw JSON, parsed Completion), the JSON schema-checked."""
    raw = client.completions.with_raw_response.create(**_fields(**fields))
    body = raw.http_response.json()
    validate_openapi(body, "CreateCompletionResponse")
    return body, raw.parse()


def _stream(client: openai.OpenAI, **fields: Any) -> list[Any]:
    """The raw chunks of a streamed completion, framing and every chunk checked."""
    request = urllib.request.Request(
        f"{client.base_url}completions",
        data=orjson.dumps(_fields(stream=True, **fields)),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.headers["Content-Type"] == "text/event-stream"
        chunks = parse_sse(reply.read())
    for chunk in chunks:
        validate_completion_chunk(chunk)
    assert len({chunk["id"] for chunk in chunks}) == 1
    return chunks


def _texts(chunks: list[Any]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    return texts


def _finishes(chunks: list[Any]) -> dict[int, str]:
    return {
        choice["index"]: choice["finish_reason"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["finish_reason"] is not None
    }


def _tokens(base_url: str, **body: Any) -> list[int]:
    ids: list[int] = post_json(f"{base_url}/v1/tokenize", body)["tokens"]
    return ids


def test_a_string_prompt(client: openai.OpenAI, base_url: str) -> None:
    body, completion = _create(client)
    assert completion.object == "text_completion"
    assert completion.id.startswith("cmpl-")
    assert completion.model == MODEL
    (choice,) = completion.choices
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "length", None)
    assert choice.text
    assert body["choices"][0]["text"] == choice.text
    assert completion.usage is not None
    # the tiny tokenizer adds no BOS: the prompt is its text's tokens, with no template
    prompt_tokens = len(_tokens(base_url, text=PROMPT))
    assert completion.usage.prompt_tokens == prompt_tokens
    assert completion.usage.completion_tokens == MAX_TOKENS
    assert completion.usage.total_tokens == prompt_tokens + MAX_TOKENS


def test_greedy_is_deterministic_and_the_default_is_16_tokens(client: openai.OpenAI) -> None:
    first, again = (
        client.completions.create(model=MODEL, prompt=PROMPT, temperature=0) for _ in range(2)
    )
    assert first.choices[0].text == again.choices[0].text
    assert first.usage is not None
    assert first.usage.completion_tokens == 16  # OpenAI's default when max_tokens is absent


def test_null_max_tokens_is_the_servers_default(limited_server: ServerProcess) -> None:
    limited = openai.OpenAI(base_url=f"{limited_server.url}/v1", api_key="unused", max_retries=0)
    completion = limited.completions.create(**_fields(max_tokens=None))  # sent as null
    assert completion.usage is not None
    assert completion.usage.completion_tokens == LIMITED_DEFAULT_MAX_TOKENS


def test_a_list_of_prompts_with_n_2(client: openai.OpenAI, base_url: str) -> None:
    alone = [_create(client, prompt=p)[1].choices[0].text for p in (PROMPT, OTHER)]
    assert alone[0] != alone[1]
    _, completion = _create(client, prompt=[PROMPT, OTHER], n=2)
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    # OpenAI's order: prompt p's choice c is index p * n + c; greedy choices are alike
    assert [c.text for c in completion.choices] == [alone[0], alone[0], alone[1], alone[1]]
    prompts = sum(len(_tokens(base_url, text=p)) for p in (PROMPT, OTHER))
    assert completion.usage.prompt_tokens == prompts  # each prompt once, whatever n is
    assert completion.usage.completion_tokens == 4 * MAX_TOKENS


def test_seeded_choices_differ_and_reproduce(client: openai.OpenAI) -> None:
    fields = {"prompt": [PROMPT, OTHER], "n": 2, "temperature": 1.0, "seed": 11}
    texts = [c.text for c in _create(client, **fields)[1].choices]
    assert texts == [c.text for c in _create(client, **fields)[1].choices]
    assert len(set(texts)) == 4


def test_a_token_prompt_is_used_as_given(client: openai.OpenAI, base_url: str) -> None:
    ids = _tokens(base_url, text=PROMPT)
    text = _create(client)[1].choices[0].text
    _, completion = _create(client, prompt=ids)
    assert completion.choices[0].text == text
    _, several = _create(client, prompt=[ids, ids[:3]])
    assert [c.index for c in several.choices] == [0, 1]
    assert several.choices[0].text == text
    assert several.usage.prompt_tokens == len(ids) + 3


def test_echo_puts_the_prompt_first(client: openai.OpenAI, base_url: str) -> None:
    text = _create(client)[1].choices[0].text
    assert _create(client, echo=True)[1].choices[0].text == PROMPT + text
    ids = _tokens(base_url, text=PROMPT)
    echoed = _create(client, prompt=ids, echo=True)[1].choices[0].text
    assert echoed == PROMPT + text  # the token prompt detokenized
    streamed = _stream(client, echo=True)
    assert streamed[0]["choices"][0]["text"] == PROMPT  # the echo is the first chunk
    assert _texts(streamed) == {0: PROMPT + text}


def test_the_first_tokens_leading_space_is_kept(client: openai.OpenAI, base_url: str) -> None:
    (space_about,) = _tokens(base_url, text=SPACE_ABOUT)
    bias = {str(space_about): 100}
    _, completion = _create(client, logit_bias=bias, max_tokens=1, echo=True)
    assert completion.choices[0].text == PROMPT + SPACE_ABOUT  # it continues the prompt
    assert _texts(_stream(client, logit_bias=bias, max_tokens=1)) == {0: SPACE_ABOUT}
    chat = client.chat.completions.create(
        model=MODEL, messages=user(PROMPT), max_tokens=1, temperature=0, logit_bias=bias
    )
    assert chat.choices[0].message.content == SPACE_ABOUT.strip()  # a chat reply drops it


def test_stop_cuts_before_the_stop_string(client: openai.OpenAI) -> None:
    text = _create(client, max_tokens=16)[1].choices[0].text
    stop = text[4:6]
    assert stop.strip(), text
    _, stopped = _create(client, max_tokens=16, stop=[stop, "never appears"])
    assert stopped.choices[0].text == text[: text.index(stop)]
    assert stopped.choices[0].finish_reason == "stop"
    chunks = _stream(client, max_tokens=16, stop=stop)
    assert _texts(chunks) == {0: text[: text.index(stop)]}
    assert _finishes(chunks) == {0: "stop"}


def test_logprobs_in_json(client: openai.OpenAI) -> None:
    body, completion = _create(client, logprobs=2)
    logprobs = completion.choices[0].logprobs
    assert len(logprobs.tokens) == MAX_TOKENS
    assert len(logprobs.token_logprobs) == len(logprobs.top_logprobs) == MAX_TOKENS
    assert logprobs.text_offset[0] == 0
    assert logprobs.text_offset == sorted(logprobs.text_offset)
    for token, value, top in zip(
        logprobs.tokens, logprobs.token_logprobs, logprobs.top_logprobs, strict=True
    ):
        assert value <= 0
        assert token in top  # the chosen token is always listed
        assert 1 <= len(top) <= 3
        assert value == pytest.approx(max(top.values()))  # greedy: the most likely
    assert body["choices"][0]["logprobs"]["tokens"] == logprobs.tokens
    echoed = _create(client, logprobs=2, echo=True)[1].choices[0].logprobs
    assert echoed.tokens == logprobs.tokens  # only the generated tokens are scored
    assert echoed.text_offset == [offset + len(PROMPT) for offset in logprobs.text_offset]
    none = _create(client, logprobs=0)[1].choices[0].logprobs
    assert [list(top) for top in none.top_logprobs] == [[t] for t in none.tokens]


def test_streamed_logprobs_concatenate_to_the_json_ones(client: openai.OpenAI) -> None:
    for fields in ({"logprobs": 2}, {"logprobs": 2, "echo": True, "prompt": [PROMPT, OTHER]}):
        body, _ = _create(client, **fields)
        chunks = _stream(client, **fields)
        for choice in body["choices"]:
            streamed: dict[str, list[Any]] = {
                "tokens": [],
                "token_logprobs": [],
                "top_logprobs": [],
                "text_offset": [],
            }
            for chunk in chunks:
                for part in chunk["choices"]:
                    if part["index"] != choice["index"]:
                        continue
                    if part["text"]:
                        assert part["logprobs"] is not None
                    for key, values in (part["logprobs"] or {}).items():
                        streamed[key] += values
            assert streamed == choice["logprobs"]
        assert _texts(chunks) == {c["index"]: c["text"] for c in body["choices"]}


def test_stream_matches_json_and_ends_with_usage(client: openai.OpenAI) -> None:
    body, _ = _create(client, prompt=[PROMPT, OTHER], n=2)
    chunks = _stream(client, prompt=[PROMPT, OTHER], n=2, stream_options={"include_usage": True})
    assert _texts(chunks) == {c["index"]: c["text"] for c in body["choices"]}
    assert _finishes(chunks) == dict.fromkeys(range(4), "length")
    *rest, last = chunks
    assert last["choices"] == []
    assert last["usage"] == body["usage"]
    assert all("usage" not in chunk for chunk in rest)
    assert all(len(chunk["choices"]) == 1 for chunk in rest)


def test_the_sdk_streams_completions(client: openai.OpenAI) -> None:
    text = _create(client)[1].choices[0].text
    with client.completions.create(**_fields(stream=True)) as stream:
        chunks = list(stream)
    assert all(chunk.object == "text_completion" for chunk in chunks)
    assert "".join(c.text for chunk in chunks for c in chunk.choices) == text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_greedy_output_equals_chat_for_the_same_tokens(
    client: openai.OpenAI, base_url: str
) -> None:
    messages = user("tell me a story about a cat who lived in paris")
    ids = _tokens(base_url, messages=messages)
    chat = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=12, temperature=0, logprobs=True
    )
    _, completion = _create(client, prompt=ids, max_tokens=12, logprobs=0)
    text = completion.choices[0].text
    # the same engine run: the same tokens; only a chat reply drops a first leading space
    assert completion.choices[0].logprobs.tokens == [
        t.token for t in chat.choices[0].logprobs.content
    ]
    assert text.removeprefix(" ") == chat.choices[0].message.content
    assert completion.usage.prompt_tokens == chat.usage.prompt_tokens
    assert completion.choices[0].finish_reason == chat.choices[0].finish_reason


def _rejected(client: openai.OpenAI, **fields: Any) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(**_fields(**fields))
    error: dict[str, Any] = raised.value.body  # type: ignore[assignment]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_suffix_is_unsupported(client: openai.OpenAI) -> None:
    error = _rejected(client, suffix="The end.")
    assert (error["param"], error["code"]) == ("suffix", "unsupported_parameter")


def test_best_of_that_ranks_is_unsupported(client: openai.OpenAI) -> None:
    error = _rejected(client, best_of=3)
    assert (error["param"], error["code"]) == ("best_of", "unsupported_parameter")
    assert _create(client, best_of=2, n=2)[1].choices[1].index == 1  # nothing to rank


def test_a_prompt_past_the_context(client: openai.OpenAI, base_url: str) -> None:
    error = _rejected(client, prompt=[5] * 600)
    assert (error["param"], error["code"]) == ("prompt", "context_length_exceeded")
    error = _rejected(client, max_tokens=100_000)
    assert (error["param"], error["code"]) == ("prompt", "context_length_exceeded")
    error = _rejected(client, prompt=[OTHER, "x " * 600], stream=True)  # before the stream
    assert error["code"] == "context_length_exceeded"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [1, 10**9]}, "prompt"),  # outside the vocabulary
        ({"prompt": [[1], ["a"]]}, "prompt[1][0]"),
        ({"logprobs": 6}, "logprobs"),
        ({"n": 17}, "n"),  # over the server's cap on choices
        ({"prompt": [PROMPT] * 9, "n": 2}, "n"),  # all prompts' choices together
        ({"logit_bias": {"100000000": 1}}, "logit_bias"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
    ids=str,
)
def test_bad_requests_name_their_field(
    client: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    assert _rejected(client, **fields)["param"] == param


async def test_errors_are_openai_bodies(http: aiohttp.ClientSession, base_url: str) -> None:
    url = f"{base_url}/v1/completions"
    for body, status in (
        (b"{", 400),
        (orjson.dumps({"model": MODEL}), 400),
        (orjson.dumps(_fields(model="gpt-3.5-turbo-instruct")), 404),
    ):
        assert_openai_error(await fetch(http, "POST", url, body=body), status)


# -- clients that go away --------------------------------------------------------------------


@pytest.fixture(scope="module")
def roomy_server(start_server: StartServer, tiny_model_dir: Any) -> ServerProcess:
    """Room for several endless prompts at once, and for generations longer than any test."""
    return start_server(
        "--model", str(tiny_model_dir), "--max-pending", "4", "--context-length", "100000"
    )


def _endless(url: str, prompts: int = 1, **fields: Any) -> dict[str, Any]:
    ids = _tokens(url, messages=user(ENDLESS_MESSAGE))
    return _fields(prompt=[ids] * prompts, max_tokens=LONG, **fields)


async def _hold_stream(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> aiohttp.ClientResponse:
    """Open a long stream and read until its first chunk: it is then generating."""
    response = await http.post(f"{url}/v1/completions", json={**body, "stream": True})
    assert response.status == 200
    assert (await response.content.readline()).startswith(b'data: {"')
    return response


async def _running(http: aiohttp.ClientSession, url: str) -> float:
    reply = await fetch(http, "GET", f"{url}/metrics")
    found = re.search(rb"^mlxfn_sequences_running (\S+)$", reply.body, re.M)
    assert found is not None
    return float(found.group(1))


async def _wait_until_idle(http: aiohttp.ClientSession, url: str) -> None:
    started = time.monotonic()
    while time.monotonic() - started < SLOT_FREED_WITHIN_S:
        if await _running(http, url) == 0:
            reply = await fetch(http, "POST", f"{url}/v1/completions", json=_fields(max_tokens=2))
            if reply.status == 200:
                return
        await asyncio.sleep(0.05)
    pytest.fail(f"the slots were not freed within {SLOT_FREED_WITHIN_S} s")


async def test_a_disconnected_stream_frees_every_prompts_slots(
    http: aiohttp.ClientSession, roomy_server: ServerProcess
) -> None:
    url = roomy_server.url
    held = await _hold_stream(http, url, _endless(url, prompts=2, n=2))
    assert await _running(http, url) >= 1
    held.close()
    await _wait_until_idle(http, url)


async def test_a_disconnected_plain_request_frees_its_slots(
    http: aiohttp.ClientSession, roomy_server: ServerProcess
) -> None:
    url = roomy_server.url
    body = _endless(url, prompts=3)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(fetch(http, "POST", f"{url}/v1/completions", json=body), 0.5)
    await _wait_until_idle(http, url)


async def test_a_prompt_the_queue_refuses_cancels_the_others(
    http: aiohttp.ClientSession, single_slot_server: ServerProcess
) -> None:
    url = single_slot_server.url
    reply = await fetch(http, "POST", f"{url}/v1/completions", json=_endless(url, prompts=2))
    assert_openai_error(reply, 429, code="server_overloaded")  # one job at a time
    # the first prompt's job was taken back, so the slot is free at once
    served = await fetch(
        http, "POST", f"{url}/v1/chat/completions", json=chat_body("hi", max_tokens=2)
    )
    assert served.status == 200, served.body
    validate_body(served.json(), "CreateChatCompletionResponse")


@pytest.mark.parametrize("route", ["completions", "chat/completions"])
def test_logprobs_stay_numbers_when_the_logits_overflow(client: openai.OpenAI, route: str) -> None:
    # a vanishing repetition penalty divides logits by ~1e-324: their log-softmax is NaN
    extra = {"repetition_penalty": 5e-324, "top_k": 1}
    if route == "completions":
        body = _create(client, logprobs=1, extra_body=extra)[0]
        values = body["choices"][0]["logprobs"]["token_logprobs"]
    else:
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=user(PROMPT),
            max_tokens=4,
            temperature=0,
            logprobs=True,
            extra_body=extra,
        )
        body = raw.http_response.json()
        validate_body(body, "CreateChatCompletionResponse")
        values = [t["logprob"] for t in body["choices"][0]["logprobs"]["content"]]
    assert values
    assert all(isinstance(value, float) and -9999 <= value <= 0 for value in values)
