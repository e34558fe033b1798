"""``/v1/responses`` end to end: the official openai SDK's ``client.responses`` against a live
server, on the tiny model (shapes, store, limits, errors) and on the demo model (answers that
stop by themselves, JSON schemas, tool calls)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest

from tests.conftest import ServerProcess, StartServer
from tests.demo import DEMO_MODEL_DIR
from tests.demo.data import TOOLS
from tests.schemas import validate_openapi

DEMO = "mlxfn-demo"
TINY = "tiny"
CAPITAL = "What is the capital of France?"
WEATHER = "What's the weather in Tokyo?"


def function_tool(name: str) -> dict[str, Any]:
    """A chat tool definition of the demo data in the Responses API's flat shape."""
    function = TOOLS[name]["function"]
    return {"type": "function", **function}


@pytest.fixture(scope="module")
def tiny_server(start_server: StartServer, tiny_model_dir: Any) -> ServerProcess:
    # A small store, so that eviction is seen after a few responses.
    return start_server(
        "--model", str(tiny_model_dir), "--served-model-name", TINY, "--response-store-size", "3"
    )


@pytest.fixture(scope="module")
def tiny(tiny_server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{tiny_server.url}/v1", api_key="x", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def demo_server(start_server: StartServer) -> ServerProcess:
    return start_server("--model", str(DEMO_MODEL_DIR), "--served-model-name", DEMO)


@pytest.fixture(scope="module")
def demo(demo_server: ServerProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{demo_server.url}/v1", api_key="x", max_retries=0) as c:
        yield c


def check_response(response: Any) -> None:
    """The Response validates against OpenAI's own schema for it."""
    validate_openapi(response.model_dump(mode="json", exclude_unset=True), "Response")


# -- create --------------------------------------------------------------------------------------


def test_a_string_input_gets_a_response(demo: openai.OpenAI) -> None:
    response = demo.responses.create(model=DEMO, input=CAPITAL, temperature=0)
    check_response(response)
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == DEMO
    assert "Paris" in response.output_text
    (message,) = response.output
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "output_text"
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens >= 0
    assert usage.output_tokens_details.reasoning_tokens == 0


def test_item_input_and_instructions_reach_the_prompt(demo: openai.OpenAI) -> None:
    items: Any = [
        {"role": "user", "content": [{"type": "input_text", "text": CAPITAL}]},
    ]
    plain = demo.responses.create(model=DEMO, input=items, temperature=0)
    typed = demo.responses.create(
        model=DEMO,
        input=[{"type": "message", "role": "user", "content": CAPITAL}],
        temperature=0,
    )
    instructed = demo.responses.create(
        model=DEMO, input=items, instructions="Answer briefly.", temperature=0
    )
    assert plain.output_text == typed.output_text
    assert "Paris" in plain.output_text
    assert instructed.instructions == "Answer briefly."
    assert plain.usage is not None
    assert instructed.usage is not None
    # the instructions are a system message in front of the input
    assert instructed.usage.input_tokens > plain.usage.input_tokens


def test_max_output_tokens_makes_an_incomplete_response(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(
        model=TINY, input="Once upon a", max_output_tokens=3, temperature=0
    )
    check_response(response)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 3
    assert response.usage is not None
    assert response.usage.output_tokens == 3
    assert [item.status for item in response.output] == ["incomplete"]  # the cut message


def test_the_settings_are_repeated_in_the_response(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(
        model=TINY,
        input="hi",
        max_output_tokens=2,
        temperature=0.5,
        top_p=0.9,
        metadata={"k": "v"},
    )
    assert response.temperature == 0.5
    assert response.top_p == 0.9
    assert response.metadata == {"k": "v"}
    assert response.tools == []
    assert response.tool_choice == "auto"
    assert response.parallel_tool_calls is True
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "text"


# -- streaming -----------------------------------------------------------------------------------


def _check_sequence(events: list[Any]) -> None:
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(numbers)))
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[0].response.status == "in_progress"
    for event in events:
        assert not event.type.startswith("error")


def test_a_stream_has_the_whole_event_sequence(demo: openai.OpenAI) -> None:
    events = list(demo.responses.create(model=DEMO, input=CAPITAL, temperature=0, stream=True))
    _check_sequence(events)
    kinds = [event.type for event in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas >= 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response
    check_response(final)
    assert final.status == "completed"
    assert text == final.output_text
    assert "Paris" in text
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == text
    whole = demo.responses.create(model=DEMO, input=CAPITAL, temperature=0)
    assert whole.output_text == text


def test_the_stream_helper_gives_the_final_response(demo: openai.OpenAI) -> None:
    with demo.responses.stream(model=DEMO, input=CAPITAL, temperature=0) as stream:
        texts = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == final.output_text
    assert final.id.startswith("resp_")
    # a streamed response is stored as any other
    assert demo.responses.retrieve(final.id).output_text == final.output_text


def test_a_stream_cut_at_max_output_tokens_ends_incomplete(tiny: openai.OpenAI) -> None:
    events = list(
        tiny.responses.create(
            model=TINY, input="Once upon a", max_output_tokens=4, temperature=0, stream=True
        )
    )
    _check_sequence(events)
    assert events[-1].type == "response.incomplete"
    final = events[-1].response
    assert final.status == "incomplete"
    assert final.incomplete_details.reason == "max_output_tokens"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text
    (done,) = [e for e in events if e.type == "response.output_item.done"]
    assert done.item.status == "incomplete"
    assert [item.status for item in final.output] == ["incomplete"]


# -- the store -----------------------------------------------------------------------------------


def test_a_stored_response_is_retrieved_and_deleted(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(model=TINY, input="hi", max_output_tokens=3)
    again = tiny.responses.retrieve(response.id)
    assert again.model_dump() == response.model_dump()
    tiny.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        tiny.responses.retrieve(response.id)
    assert caught.value.body["code"] == "response_not_found"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        tiny.responses.delete(response.id)


def test_store_false_is_not_retrievable(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(model=TINY, input="hi", max_output_tokens=2, store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        tiny.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        tiny.responses.create(
            model=TINY, input="more", max_output_tokens=2, previous_response_id=response.id
        )
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_previous_response_id_continues_the_conversation(tiny: openai.OpenAI) -> None:
    first = tiny.responses.create(model=TINY, input="Tell me a story", max_output_tokens=4)
    second = tiny.responses.create(
        model=TINY, input="and then?", max_output_tokens=4, previous_response_id=first.id
    )
    alone = tiny.responses.create(model=TINY, input="and then?", max_output_tokens=4)
    assert second.previous_response_id == first.id
    assert first.usage is not None
    assert second.usage is not None
    assert alone.usage is not None
    # the second prompt holds the first turn, input and output, before its own input
    assert second.usage.input_tokens > alone.usage.input_tokens + first.usage.output_tokens
    assert second.usage.input_tokens > first.usage.input_tokens
    # and the prefix cache kept the first turn's prompt
    assert second.usage.input_tokens_details.cached_tokens > 0


def test_the_store_forgets_the_least_recently_used(tiny: openai.OpenAI) -> None:
    ids = [tiny.responses.create(model=TINY, input="hi", max_output_tokens=1).id for _ in range(4)]
    with pytest.raises(openai.NotFoundError):
        tiny.responses.retrieve(ids[0])
    for kept in ids[1:]:
        assert tiny.responses.retrieve(kept).id == kept


# -- text.format ---------------------------------------------------------------------------------

POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}


def test_a_json_schema_format_is_enforced(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(
        model=TINY,
        input="A point, please",
        max_output_tokens=60,
        temperature=0,
        text={"format": {"type": "json_schema", "name": "point", "schema": POINT, "strict": True}},
    )
    assert response.status == "completed"
    jsonschema.validate(json.loads(response.output_text), POINT)
    assert response.text is not None
    assert response.text.format is not None
    assert response.text.format.type == "json_schema"


def test_json_object_mode_gives_an_object(tiny: openai.OpenAI) -> None:
    response = tiny.responses.create(
        model=TINY,
        input="JSON please",
        max_output_tokens=60,
        temperature=0,
        text={"format": {"type": "json_object"}},
    )
    if response.status == "completed":  # a random model may fill its budget inside the object
        assert isinstance(json.loads(response.output_text), dict)


# -- tools ---------------------------------------------------------------------------------------


def test_a_forced_function_call_comes_back_as_an_item(demo: openai.OpenAI) -> None:
    response = demo.responses.create(
        model=DEMO,
        input=CAPITAL,
        tools=[function_tool("get_weather"), function_tool("add")],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
        temperature=0,
    )
    check_response(response)
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert call.call_id.startswith("call_")
    assert call.id is not None
    assert call.id.startswith("fc_")
    assert set(json.loads(call.arguments)) == {"city"}
    assert response.tool_choice.type == "function"  # type: ignore[union-attr]
    assert [tool.name for tool in response.tools] == ["get_weather", "add"]  # type: ignore[union-attr]


def test_a_function_call_output_is_answered(demo: openai.OpenAI) -> None:
    tools: Any = [function_tool("get_weather")]
    first = demo.responses.create(
        model=DEMO, input=WEATHER, tools=tools, tool_choice="required", temperature=0
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    result = {"city": "Tokyo", "temperature": 21, "condition": "snowy"}
    sent_back: Any = [
        {"role": "user", "content": WEATHER},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(result)},
    ]
    answer = demo.responses.create(model=DEMO, input=sent_back, tools=tools, temperature=0)
    assert answer.status == "completed"
    assert "snowy" in answer.output_text
    # the same turn through the store: only the output goes back
    output: Any = [
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(result)}
    ]
    stored = demo.responses.create(
        model=DEMO, input=output, tools=tools, previous_response_id=first.id, temperature=0
    )
    assert stored.output_text == answer.output_text


def test_a_streamed_function_call_has_its_argument_events(demo: openai.OpenAI) -> None:
    events = list(
        demo.responses.create(
            model=DEMO,
            input=WEATHER,
            tools=[function_tool("get_weather")],  # type: ignore[list-item]
            tool_choice="required",
            temperature=0,
            stream=True,
        )
    )
    _check_sequence(events)
    kinds = [event.type for event in events]
    assert kinds[-5:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == arguments
    (call,) = [item for item in events[-1].response.output if item.type == "function_call"]
    assert call.arguments == arguments
    assert call.name == "get_weather"


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": [{"type": "input_image"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0].type",
        ),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
        ({"input": []}, "input"),
        ({"temperature": 3}, "temperature"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 100000}, "input"),  # more than the context holds
        ({"tools": [{"type": "file_search"}]}, "tools[0].type"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        (
            {"text": {"format": {"type": "json_schema", "name": "a b", "schema": {}}}},
            "text.format.name",
        ),
        ({"background": True}, "background"),
        ({"reasoning": {"effort": "high"}}, "reasoning.effort"),
        ({"include": ["message.output_text.logprobs"]}, "include[0]"),
        ({"truncation": "auto"}, "truncation"),
        ({"stream_options": {"include_obfuscation": False}}, "stream_options"),
        ({"previous_response_id": "resp_nope"}, "previous_response_id"),
    ],
)
def test_bad_fields_are_a_4xx_naming_them(
    tiny: openai.OpenAI, fields: dict[str, Any], param: str
) -> None:
    body = {"model": TINY, "input": "hi", **fields}
    with pytest.raises(openai.APIStatusError) as caught:
        tiny.post("/responses", body=body, cast_to=object)
    error = caught.value
    assert 400 <= error.status_code < 500
    assert set(error.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]
    assert error.body["param"] == param  # type: ignore[index]


def test_a_namespace_offers_its_functions_and_web_search_is_left_out(demo: openai.OpenAI) -> None:
    # what Codex sends: functions grouped in a namespace, and a hosted web_search
    tools: Any = [
        {"type": "namespace", "name": "weather", "tools": [function_tool("get_weather")]},
        {"type": "web_search"},
    ]
    response = demo.responses.create(
        model=DEMO, input=WEATHER, tools=tools, tool_choice="required", temperature=0
    )
    (call,) = [item for item in response.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert call.namespace == "weather"
