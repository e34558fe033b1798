"""``/openapi.json`` follows the live configuration, and states exactly the bounds the parser
enforces: values just inside and just outside each bound the document states get the same
verdict from the parser (and the plan's caps, where a bound lives there), each rejection naming
the field; and random values of every numeric field get the same verdict from both.

The document is built by the pure builder, so no server runs here."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest, ModelNotFound
from mlxfn.domain.request import ChatRequest, CompletionRequest
from mlxfn.engine.config import EngineConfig
from mlxfn.pipeline.chat import check_model
from mlxfn.pipeline.plan import (
    Limits,
    check_choices,
    check_max_tokens_and_logit_bias,
    check_request_limits,
)
from mlxfn.server.openapi import build_openapi
from mlxfn.server.openapi.facts import OpenApiFacts
from mlxfn.wire.completion_requests import parse_completion_request
from mlxfn.wire.messages_api_requests import messages_param, parse_messages_request
from mlxfn.wire.requests import parse_chat_request
from mlxfn.wire.responses_api_requests import (
    build_chat_request,
    parse_responses_request,
    responses_param,
)
from tests.schemas import mlxfn_validator

JSON = dict[str, Any]
_USER = {"role": "user", "content": "hi"}

# -- the live configuration ----------------------------------------------------------------------


def _schemas(document: JSON) -> JSON:
    schemas: JSON = document["components"]["schemas"]
    return schemas


def _message_fields(document: JSON) -> tuple[set[str], set[str]]:
    schemas = _schemas(document)
    message = schemas["ChatCompletion"]["properties"]["choices"]["items"]["properties"]["message"]
    delta = schemas["ChatCompletionChunk"]["properties"]["choices"]["items"]["properties"]["delta"]
    return set(message["properties"]), set(delta["properties"])


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning", "thinking"])
def test_the_chat_schemas_name_the_configured_reasoning_field(field: str) -> None:
    message, delta = _message_fields(build_openapi(OpenApiFacts(reasoning_field=field)))
    assert field in message
    assert field in delta
    others = {"reasoning_content", "reasoning", "thinking"} - {field}
    assert not (message | delta) & others


def _operations(document: JSON) -> Iterator[tuple[str, str, JSON]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def test_without_keys_nothing_asks_for_one() -> None:
    document = build_openapi(OpenApiFacts(models=("tiny",)))
    assert "securitySchemes" not in document["components"]
    for path, method, operation in _operations(document):
        assert "security" not in operation, (path, method)
        assert "401" not in operation["responses"], (path, method)


def test_with_keys_every_protected_route_takes_a_bearer_token_or_an_x_api_key() -> None:
    document = build_openapi(OpenApiFacts(models=("tiny",), authenticated=True))
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    open_routes = {"/health", "/metrics", "/openapi.json", "/", "/ui/{filename}"}
    for path, method, operation in _operations(document):
        if path in open_routes:
            assert "security" not in operation, (path, method)
        else:  # server/auth.py takes either header on every protected route
            assert operation["security"] == [{"bearer": []}, {"apiKey": []}], (path, method)
            assert "401" in operation["responses"], (path, method)


def test_the_model_field_lists_every_served_id_and_alias() -> None:
    config = EngineConfig(model_aliases=frozenset({"gpt-4o", "claude"}))
    facts = OpenApiFacts.of(("tiny", "other"), config)
    document = build_openapi(facts)
    for body in ("ChatBody", "CompletionBody", "ResponsesBody", "MessagesBody", "EmbeddingsBody"):
        model = _schemas(document)[body]["properties"]["model"]
        assert model["enum"] == ["tiny", "other", "claude", "gpt-4o"], body


def test_a_star_alias_lets_the_model_be_any_id() -> None:
    facts = OpenApiFacts.of(("tiny",), EngineConfig(model_aliases=frozenset({"*"})))
    model = _schemas(build_openapi(facts))["ChatBody"]["properties"]["model"]
    assert "enum" not in model
    assert mlxfn_validator(build_openapi(facts), "ChatBody").is_valid(
        {"model": "anything", "messages": [_USER]}
    )


def test_the_engine_caps_bound_n_max_tokens_and_messages() -> None:
    config = EngineConfig(max_batch=4, max_completion_tokens=100, max_messages=3)
    chat = _schemas(build_openapi(OpenApiFacts.of(("tiny",), config)))["ChatBody"]
    fields = chat["properties"]
    assert fields["n"]["anyOf"][0]["maximum"] == 4
    assert fields["max_tokens"]["anyOf"][0]["maximum"] == 100
    assert fields["max_completion_tokens"]["anyOf"][0]["maximum"] == 100
    assert fields["messages"]["maxItems"] == 3
    wide = _schemas(build_openapi(OpenApiFacts.of(("tiny",), EngineConfig(max_batch=64))))
    assert wide["ChatBody"]["properties"]["n"]["anyOf"][0]["maximum"] == 16


# -- the document's bounds are the parser's ------------------------------------------------------

FACTS = {
    "default": OpenApiFacts(models=("tiny",)),
    "capped": OpenApiFacts(
        models=("tiny", "alias"), max_choices=4, max_completion_tokens=100, max_messages=3
    ),
}


def _limits(facts: OpenApiFacts) -> Limits:
    return Limits(
        context_length=2**62,
        default_max_tokens=16,
        max_completion_tokens=facts.max_completion_tokens,
        max_messages=facts.max_messages,
        max_choices=facts.max_choices,
        model_aliases=frozenset((facts.models or ("tiny", "*"))[1:]),
    )


def _served(facts: OpenApiFacts) -> str:
    return facts.models[0] if facts.models else "tiny"


def _model_checked(
    facts: OpenApiFacts, request: ChatRequest | CompletionRequest
) -> Result[None, ApiError]:
    return check_model(_served(facts), request.model, _limits(facts).model_aliases)


def _chat(facts: OpenApiFacts, body: bytes) -> Result[object, ApiError]:
    limits = _limits(facts)
    return parse_chat_request(body).bind(
        lambda request: _model_checked(facts, request).bind(
            lambda _: check_request_limits(request, limits)
        )
    )


def _completion(facts: OpenApiFacts, body: bytes) -> Result[object, ApiError]:
    limits = _limits(facts)

    def caps(request: CompletionRequest) -> Result[None, ApiError]:
        return check_max_tokens_and_logit_bias(request, limits).bind(
            lambda _: check_choices(len(request.prompts) * request.n.value, limits)
        )

    return parse_completion_request(body).bind(
        lambda request: _model_checked(facts, request).bind(lambda _: caps(request))
    )


def _responses(facts: OpenApiFacts, body: bytes) -> Result[object, ApiError]:
    limits = _limits(facts)
    return (
        parse_responses_request(body)
        .bind(lambda request: build_chat_request(request, ()))
        .bind(
            lambda request: _model_checked(facts, request).bind(
                lambda _: check_request_limits(request, limits)
            )
        )
        .alt(responses_param)
    )


def _messages(facts: OpenApiFacts, body: bytes) -> Result[object, ApiError]:
    limits = _limits(facts)
    return (
        parse_messages_request(body)
        .bind(
            lambda request: _model_checked(facts, request).bind(
                lambda _: check_request_limits(request, limits)
            )
        )
        .alt(messages_param)
    )


@attrs.frozen
class Surface:
    body: str  # the component's name
    base: JSON  # a body every check accepts
    verdict: Callable[[OpenApiFacts, bytes], Result[object, ApiError]]
    # A field's neighbours it needs to be checked at all (top_logprobs needs logprobs).
    context: dict[str, JSON] = attrs.field(factory=dict)
    # One item of each array field, to build arrays of any length from.
    items: dict[str, object] = attrs.field(factory=dict)


SURFACES = {
    "chat": Surface(
        "ChatBody",
        {"model": "tiny", "messages": [_USER]},
        _chat,
        context={"top_logprobs": {"logprobs": True}},
        items={"messages": _USER, "stop": "s"},
    ),
    "completions": Surface(
        "CompletionBody", {"model": "tiny", "prompt": "hi"}, _completion, items={"stop": "s"}
    ),
    "responses": Surface(
        "ResponsesBody",
        {"model": "tiny", "input": "hi"},
        _responses,
        items={"include": "reasoning.encrypted_content", "context_management": {"type": "x"}},
    ),
    "messages": Surface(
        "MessagesBody",
        {"model": "tiny", "max_tokens": 8, "messages": [_USER]},
        _messages,
        items={
            "messages": _USER,
            "stop_sequences": "s",
            "mcp_servers": {"type": "url", "url": "https://example.com", "name": "m"},
        },
    ),
}
# Fields whose stated bounds are only part of the rule: each is checked with its neighbours
# by its own tests (tests/wire), so the generic edges below would need that rule too.
SKIPPED = {
    ("completions", "best_of"): "1 or the value of n: a rule across fields",
}
_INT64 = (-(2**63), 2**63 - 1)
_ERROR_NAMES = {"max_completion_tokens": {"max_completion_tokens", "max_tokens"}}


def _branch(schema: JSON) -> JSON:
    """A property's schema without its null branch."""
    branches = [b for b in schema.get("anyOf", [schema]) if b != {"type": "null"}]
    return branches[0] if len(branches) == 1 and "anyOf" in schema else schema


def _numbers(schema: JSON) -> list[object]:
    """Each numeric bound's value, and its neighbours on either side."""
    step: float = 1 if schema.get("type") == "integer" else 0.5
    values: list[object] = []
    for key in ("minimum", "maximum", "exclusiveMinimum"):
        if key in schema:
            edge = schema[key]
            values += [edge - step, edge, edge + step]
    if schema.get("type") == "number" and "exclusiveMinimum" in schema:
        values.append(schema["exclusiveMinimum"] + 1e-9)
    return values


def _candidates(schema: JSON, item: object) -> list[object]:
    """Values at and around every bound a field's schema states."""
    values: list[object] = []
    for branch in schema.get("anyOf", [schema]):
        if branch == {"type": "null"}:
            continue
        if "anyOf" in branch:  # a union's branches, the field's bounds laid over them
            values += _candidates(branch, item)
            continue
        values += _numbers(branch)
        if "const" in branch:
            const = branch["const"]
            other: object = (
                (not const)
                if isinstance(const, bool)
                else const + 1
                if isinstance(const, int)
                else ["audio"]
                if isinstance(const, list)
                else f"{const}-other"
            )
            values += [const, other]
        if "enum" in branch:
            values += [*branch["enum"], "no-such-value"]
        if "minLength" in branch:
            values += ["", "x"]
        if "maxLength" in branch:
            values += ["x" * branch["maxLength"], "x" * (branch["maxLength"] + 1)]
        if branch.get("type") == "array" and item is not None:
            for key in ("minItems", "maxItems"):
                if key in branch:
                    values += [[item] * n for n in (branch[key] - 1, branch[key], branch[key] + 1)]
        if branch.get("type") == "array" and isinstance(branch.get("items"), dict):
            inner = branch["items"]
            values += [[v] for v in _numbers(inner) + inner.get("enum", [])]
            if "enum" in inner:
                values.append(["no-such-value"])
        extra = branch.get("additionalProperties")
        if isinstance(extra, dict):
            values += [{"1": v} for v in _numbers(extra)]
    return values


def _encodable(value: object) -> bool:
    # orjson, as the server reads bodies, refuses integers beyond 64 bits and NaN: such a
    # value is a 400 before any field is read, whatever the document says about the field
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return not (isinstance(value, float) and not math.isfinite(value))


@functools.cache
def _document(facts: OpenApiFacts) -> JSON:
    return build_openapi(facts)


@functools.cache
def _validator(facts: OpenApiFacts, body: str) -> Draft202012Validator:
    return mlxfn_validator(_document(facts), body)


def _agree(facts: OpenApiFacts, surface: Surface, field: str, value: object) -> bool:
    """Whether the document and the server agree on ``value`` for ``field``; assert the
    server's rejection names the field. Returns the document's verdict."""
    body = {**surface.base, **surface.context.get(field, {}), field: value}
    documented = bool(_validator(facts, surface.body).is_valid(body))
    verdict = surface.verdict(facts, orjson.dumps(body))
    assert documented == isinstance(verdict, Success), (surface.body, field, value, verdict)
    if isinstance(verdict, Failure):
        error = verdict.failure()
        if isinstance(error, ModelNotFound):
            assert field == "model", (field, value, error)
        else:
            assert isinstance(error, InvalidRequest), error
            names = _ERROR_NAMES.get(field, {field})
            param = (error.param or "").split(".")[0].split("[")[0]
            assert param in names, (surface.body, field, value, error)
    return documented


def _bounded_fields() -> Iterator[tuple[str, str, str, JSON]]:
    for facts_name, facts in FACTS.items():
        for surface_name, surface in SURFACES.items():
            properties = _schemas(_document(facts))[surface.body]["properties"]
            for field, schema in properties.items():
                if (surface_name, field) not in SKIPPED:
                    yield facts_name, surface_name, field, schema


_CASES = [
    (facts, surface, field)
    for facts, surface, field, schema in _bounded_fields()
    if _candidates(schema, SURFACES[surface].items.get(field))
]


@pytest.mark.parametrize(("facts_name", "surface_name", "field"), _CASES)
def test_each_stated_bound_is_where_the_parser_draws_it(
    facts_name: str, surface_name: str, field: str
) -> None:
    facts, surface = FACTS[facts_name], SURFACES[surface_name]
    schema = _schemas(_document(facts))[surface.body]["properties"][field]
    values = [v for v in _candidates(schema, surface.items.get(field)) if _encodable(v)]
    verdicts = [_agree(facts, surface, field, value) for value in values]
    assert any(verdicts), (field, values)  # the edges were reached from both sides
    assert not all(verdicts), (field, values)


def test_every_bound_the_document_states_is_checked_here() -> None:
    stated = {(s, f) for _, s, f in _CASES}
    expected = {
        "chat": "temperature top_p top_k min_p seed stop n max_tokens max_completion_tokens "
        "top_logprobs logit_bias messages model frequency_penalty repetition_penalty",
        "completions": "temperature n max_tokens logprobs stop suffix model prompt",
        "responses": "temperature top_p max_output_tokens top_logprobs model service_tier",
        "messages": "temperature top_k max_tokens stop_sequences messages model mcp_servers",
    }
    for surface, fields in expected.items():
        for field in fields.split():
            assert (surface, field) in stated, (surface, field)


def _numeric_fields() -> list[tuple[str, str, str, str]]:
    found = []
    for facts_name, surface_name, field, schema in _bounded_fields():
        branch = _branch(schema)
        kind = branch.get("type")
        if kind in ("integer", "number"):
            found.append((facts_name, surface_name, field, kind))
    return found


_NUMERIC = _numeric_fields()
_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-300, 300),
    st.floats(-300, 300, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(_NUMERIC), value=_VALUES)
def test_the_parser_and_the_document_agree_on_any_number(
    case: tuple[str, str, str, str], value: float
) -> None:
    """Bounds the parser enforces and the document left out would show here."""
    facts_name, surface_name, field, kind = case
    if kind == "integer" and isinstance(value, float):
        value = math.floor(value)
        if not _INT64[0] <= value <= _INT64[1]:
            return
    _agree(FACTS[facts_name], SURFACES[surface_name], field, value)
