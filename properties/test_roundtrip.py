"""Round trip: every domain request, written as a client would, parses back to itself."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from returns.result import Success

from mlxfn.domain.request import ChatRequest
from mlxfn.wire.codec import encode_json
from mlxfn.wire.requests import parse_chat_request
from properties.encoding import Spelling, encode_chat_request
from properties.strategies import chat_requests, json_values


@given(request=chat_requests)
def test_parse_encode_round_trip(request: ChatRequest) -> None:
    assert parse_chat_request(encode_json(encode_chat_request(request))) == Success(request)


@given(request=chat_requests, spelling=st.builds(Spelling))
def test_every_spelling_round_trips(request: ChatRequest, spelling: Spelling) -> None:
    body = encode_json(encode_chat_request(request, spelling))
    assert parse_chat_request(body) == Success(request)


UNDEFINED = st.sampled_from(["x_vendor", "typical_p", "chat_template_kwargs", ""])


@given(request=chat_requests, extra=st.dictionaries(UNDEFINED, json_values(max_leaves=10)))
def test_undefined_fields_do_not_change_the_request(
    request: ChatRequest, extra: dict[str, Any]
) -> None:
    body = {**encode_chat_request(request), **extra}
    assert parse_chat_request(encode_json(body)) == Success(request)
