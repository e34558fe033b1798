"""response_format through the official openai SDK against a real server on a random model:
the output is JSON that validates against the schema, streamed or not."""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
import openai
import pydantic
import pytest

from tests.server.helpers import MODEL, user, validate_body

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "pet": {"enum": ["cat", "dog", "none"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 2},
    },
    "required": ["name", "age", "pet", "tags"],
    "additionalProperties": False,
}
PERSON_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": PERSON, "strict": True},
}


def _request(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": user("describe a person"), "max_tokens": 200, **fields}


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_json_schema_output_validates(client: openai.OpenAI, temperature: float) -> None:
    for seed in range(3):
        raw = client.chat.completions.with_raw_response.create(
            **_request(response_format=PERSON_FORMAT, temperature=temperature, seed=seed)
        )
        body = raw.http_response.json()
        validate_body(body, "CreateChatCompletionResponse")
        choice = raw.parse().choices[0]
        assert choice.finish_reason == "stop"
        jsonschema.validate(json.loads(choice.message.content or ""), PERSON)


def test_json_schema_streamed_output_validates(client: openai.OpenAI) -> None:
    request = _request(response_format=PERSON_FORMAT, temperature=1.0, seed=7)
    with client.chat.completions.create(stream=True, **request) as stream:
        chunks = list(stream)
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    reasons = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert reasons == ["stop"]
    jsonschema.validate(json.loads(text), PERSON)
    # the same seed without streaming gives the same text
    again = client.chat.completions.create(**request)
    assert again.choices[0].message.content == text


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=8)
    age: int = pydantic.Field(ge=0, le=120)
    pet: Literal["cat", "dog", "none"]


def test_the_sdk_parse_helper_gets_its_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(**_request(temperature=0.0), response_format=Person)
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person)
    assert completion.choices[0].finish_reason == "stop"


def test_json_object_gives_an_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        **_request(response_format={"type": "json_object"}, temperature=0.0)
    )
    assert completion.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_an_unenforceable_schema_is_a_400_naming_response_format(client: openai.OpenAI) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "strin"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**_request(response_format=bad))
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "response_format.json_schema.schema"
