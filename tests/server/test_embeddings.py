"""``POST /v1/embeddings`` on a live server, through the openai SDK (which asks for base64 and
decodes it) and as raw JSON: shapes, determinism, unit length, and every refusal a 400."""

from __future__ import annotations

import math

import aiohttp
import openai
import pytest

from tests.schemas import validate_openapi
from tests.server.helpers import MODEL, fetch

WIDTH = 64  # the tiny model's hidden size


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_one_text_is_one_unit_vector(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=MODEL, input="the quick brown fox")
    validate_openapi(reply.model_dump(mode="json"), "CreateEmbeddingResponse")
    (item,) = reply.data
    assert len(item.embedding) == WIDTH
    assert all(math.isfinite(x) for x in item.embedding)
    assert _norm(item.embedding) == pytest.approx(1.0, abs=1e-5)
    assert reply.usage.prompt_tokens == reply.usage.total_tokens > 0


def test_the_same_text_gives_the_same_vector(client: openai.OpenAI) -> None:
    first = client.embeddings.create(model=MODEL, input=["hello world", "what is two plus two?"])
    again = client.embeddings.create(model=MODEL, input="hello world")
    assert [d.index for d in first.data] == [0, 1]
    assert again.data[0].embedding == pytest.approx(first.data[0].embedding, abs=1e-6)
    assert first.data[0].embedding != pytest.approx(first.data[1].embedding, abs=1e-3)


def test_floats_and_base64_agree(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model=MODEL, input="hello", encoding_format="float")
    decoded = client.embeddings.create(model=MODEL, input="hello")  # the SDK's base64
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_token_ids_are_embedded_as_given(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=MODEL, input=[[5, 6, 7], [8, 9]])
    assert [len(d.embedding) for d in reply.data] == [WIDTH, WIDTH]
    assert reply.usage.prompt_tokens == 5
    long = client.embeddings.create(model=MODEL, input=[7] * 500)  # one input, not 500
    assert len(long.data) == 1
    assert long.usage.prompt_tokens == 500


def test_the_models_own_dimensions_are_accepted(client: openai.OpenAI) -> None:
    reply = client.embeddings.create(model=MODEL, input="hi", dimensions=WIDTH)
    assert len(reply.data[0].embedding) == WIDTH


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": [1, 512]}, "input"),  # outside the tiny vocabulary
        ({"input": [[1], []]}, "input"),
        ({"input": "word " * 600}, "input"),  # past the 512-token context
        ({"input": "hi", "dimensions": 8}, "dimensions"),
        ({"input": "hi", "encoding_format": "hex"}, "encoding_format"),
        ({"input": None}, "input"),
        ({"input": ["a"] * 2049}, "input"),  # OpenAI's bound
    ],
)
async def test_bad_inputs_are_400s_naming_the_field(
    http: aiohttp.ClientSession, base_url: str, fields: dict[str, object], param: str
) -> None:
    reply = await fetch(http, "POST", f"{base_url}/v1/embeddings", json={"model": MODEL, **fields})
    assert reply.status == 400, reply.body
    assert reply.json()["error"]["param"] == param


async def test_another_model_is_a_404(http: aiohttp.ClientSession, base_url: str) -> None:
    reply = await fetch(
        http, "POST", f"{base_url}/v1/embeddings", json={"model": "other", "input": "hi"}
    )
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "model_not_found"
