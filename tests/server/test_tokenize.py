"""vLLM's ``POST /tokenize`` and ``POST /detokenize`` on a live server: the shapes its clients
script against, counted as the chat route counts, and round-tripping text."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from transformers import AutoTokenizer

from tests.schemas import validate
from tests.server.helpers import MODEL, fetch, user

PROMPT = "what is two plus two?"


async def _post(http: aiohttp.ClientSession, url: str, body: object) -> tuple[int, dict]:
    reply = await fetch(http, "POST", url, json=body)
    return reply.status, reply.json()


async def test_a_prompt_is_tokenized_in_vllms_shape(
    http: aiohttp.ClientSession, base_url: str, tiny_model_dir: Path
) -> None:
    status, counted = await _post(http, f"{base_url}/tokenize", {"model": MODEL, "prompt": PROMPT})
    assert status == 200
    assert set(counted) == {"count", "max_model_len", "tokens", "token_strs"}
    assert counted["token_strs"] is None  # unless asked for
    assert counted["count"] == len(counted["tokens"]) > 0
    assert counted["max_model_len"] == 512
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    assert counted["tokens"] == tokenizer.encode(PROMPT, add_special_tokens=True)
    _, bare = await _post(
        http, f"{base_url}/tokenize", {"prompt": PROMPT, "add_special_tokens": False}
    )
    assert bare["tokens"] == tokenizer.encode(PROMPT, add_special_tokens=False)


async def test_messages_count_what_the_chat_route_counts(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    _, counted = await _post(http, f"{base_url}/tokenize", {"messages": user(PROMPT)})
    body = {"model": MODEL, "messages": user(PROMPT), "max_tokens": 1, "temperature": 0}
    _, completion = await _post(http, f"{base_url}/v1/chat/completions", body)
    assert counted["count"] == completion["usage"]["prompt_tokens"]
    _, same = await _post(http, f"{base_url}/v1/tokenize", {"messages": user(PROMPT)})
    assert same == counted  # one parser and one answer for both routes


async def test_token_strs_and_a_closed_chat_on_request(
    http: aiohttp.ClientSession, base_url: str, tiny_model_dir: Path
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    _, spelled = await _post(
        http, f"{base_url}/tokenize", {"prompt": PROMPT, "return_token_strs": True}
    )
    assert spelled["token_strs"] == tokenizer.convert_ids_to_tokens(spelled["tokens"])
    _, opened = await _post(http, f"{base_url}/tokenize", {"messages": user(PROMPT)})
    _, closed = await _post(
        http,
        f"{base_url}/tokenize",
        {"messages": user(PROMPT), "add_generation_prompt": False},
    )
    assert closed["count"] < opened["count"]
    assert opened["tokens"][: closed["count"]] == closed["tokens"]


async def test_detokenize_gives_the_text_back(http: aiohttp.ClientSession, base_url: str) -> None:
    _, counted = await _post(
        http, f"{base_url}/tokenize", {"prompt": PROMPT, "add_special_tokens": False}
    )
    status, text = await _post(http, f"{base_url}/detokenize", {"tokens": counted["tokens"]})
    assert status == 200
    assert text == {"prompt": PROMPT}
    _, empty = await _post(http, f"{base_url}/detokenize", {"model": MODEL, "tokens": []})
    assert empty == {"prompt": ""}


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("/detokenize", {"tokens": [1, 512]}, "tokens[1]"),  # the tiny vocabulary is 512
        ("/detokenize", {"tokens": [-1]}, "tokens[0]"),
        ("/detokenize", {"tokens": "hi"}, "tokens"),
        ("/detokenize", {}, "tokens"),
        ("/tokenize", {"messages": user("hi"), "add_special_tokens": True}, "add_special_tokens"),
        ("/tokenize", {"prompt": "a", "text": "b"}, "prompt"),
        ("/tokenize", {}, "text"),
    ],
)
async def test_bad_bodies_are_400s_naming_the_field(
    http: aiohttp.ClientSession, base_url: str, route: str, body: object, param: str
) -> None:
    status, error = await _post(http, f"{base_url}{route}", body)
    assert status == 400
    validate(error, "ErrorResponse")
    assert error["error"]["param"] == param


@pytest.mark.parametrize("route", ["/tokenize", "/detokenize"])
async def test_another_model_is_a_404(
    http: aiohttp.ClientSession, base_url: str, route: str
) -> None:
    status, error = await _post(
        http, f"{base_url}{route}", {"model": "other", "prompt": "hi", "tokens": [1]}
    )
    assert status == 404
    assert error["error"]["code"] == "model_not_found"
