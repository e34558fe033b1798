"""Any input to parse_chat_request is a request or a 4xx naming the problem; it never raises."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from returns.result import Result

from mlxfn.domain.errors import ApiError
from mlxfn.domain.request import ChatRequest
from mlxfn.wire.bodies import ChatBody
from mlxfn.wire.requests import parse_chat_request
from mlxfn.wire.responses import render_error
from properties.encoding import Spelling, encode_chat_request
from properties.outcomes import check_outcome, client_json
from properties.strategies import chat_requests, json_values

FIELDS = [field.name for field in attrs.fields(ChatBody)] + ["x_vendor", ""]
MESSAGE_FIELDS = [
    "role",
    "content",
    "name",
    "tool_calls",
    "tool_call_id",
    "refusal",
    "audio",
    "function_call",
]
# Values that reach deeper: the right shape with a wrong or edge-case inside.
NEAR_MISSES = st.sampled_from(
    [
        None,
        0,
        1,
        2,
        -1,
        0.0,
        2.5,
        True,
        False,
        "",
        " ",
        "text",
        [],
        [None],
        [""],
        ["a"] * 5,
        {},
        {"type": "text"},
        {"include_usage": True},
        {"type": "json_object"},
        [{"type": "text", "text": "x"}],
        [{"type": "image_url"}],
        [{"role": "user"}],
        [{"role": "user", "content": "x"}],
        [{"id": "c", "function": {"name": "f"}}],
        2**63 - 1,
        2**63,
        -(2**63) - 1,
    ]
)
any_json = json_values(max_leaves=10) | NEAR_MISSES


def check(result: Result[ChatRequest, ApiError]) -> ApiError | None:
    return check_outcome(result, ChatRequest)


@given(body=st.binary())
def test_any_bytes(body: bytes) -> None:
    check(parse_chat_request(body))


@given(document=json_values(max_leaves=40))
def test_any_json_document(document: Any) -> None:
    check(parse_chat_request(client_json(document)))


@given(document=st.dictionaries(st.sampled_from(FIELDS), any_json, max_size=8))
def test_any_object_of_known_fields(document: dict[str, Any]) -> None:
    check(parse_chat_request(client_json(document)))


@given(request=chat_requests, field=st.sampled_from(FIELDS), value=any_json)
def test_valid_body_with_one_field_replaced(request: ChatRequest, field: str, value: Any) -> None:
    """A failure after one change to a valid body always names a field."""
    body = {**encode_chat_request(request), field: value}
    err = check(parse_chat_request(client_json(body)))
    if err is not None:
        assert render_error(err)["error"]["param"] is not None


@given(
    request=chat_requests,
    index=st.integers(0, 3),
    field=st.sampled_from(MESSAGE_FIELDS),
    value=any_json,
)
def test_valid_body_with_one_message_field_replaced(
    request: ChatRequest, index: int, field: str, value: Any
) -> None:
    body = encode_chat_request(request)
    messages = body["messages"]
    messages[index % len(messages)][field] = value
    err = check(parse_chat_request(client_json(body)))
    if err is not None:
        param = render_error(err)["error"]["param"]
        assert param is not None
        assert param.startswith(f"messages[{index % len(messages)}]") or param == "messages"


@given(request=chat_requests, spelling=st.builds(Spelling), field=st.sampled_from(FIELDS))
def test_removing_a_field_is_fine_unless_it_is_required(
    request: ChatRequest, spelling: Spelling, field: str
) -> None:
    body = encode_chat_request(request, spelling)
    had = field in body
    body.pop(field, None)
    err = check(parse_chat_request(client_json(body)))
    if err is not None:
        assert had
        assert (field, render_error(err)["error"]["param"]) in {
            ("model", "model"),
            ("messages", "messages"),
            ("stream", "stream_options"),
        }
