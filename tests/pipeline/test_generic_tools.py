"""The generic tool format: tools, calls and results as prompt text on templates that have no
tool-call format of their own, read back and forced as json_tools markup."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import llguidance
import llguidance.hf
import pytest
from transformers import AutoTokenizer

from mlxfn.domain.messages import (
    AssistantMessage,
    Conversation,
    DeveloperMessage,
    Message,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.tools import FunctionTool, NamedToolChoice, ToolSpec
from mlxfn.domain.values import ModelName
from mlxfn.pipeline.chat import call_format_of, plan_chat
from mlxfn.pipeline.generic_tools import (
    GENERIC_CALLS,
    call_markup,
    generic_conversation,
    tool_format_of,
    tool_line,
    tools_section,
)
from mlxfn.pipeline.plan import Limits
from mlxfn.pipeline.prompt import build_prompt
from mlxfn.pipeline.reading import build_reading, read_output
from mlxfn.pipeline.tool_grammar import build_tool_grammar
from mlxfn.tiny_model import CHATML_TEMPLATE

# SmolLM2-135M-Instruct's chat template (the default model's), as its GGUF file carries it:
# it writes message['content'] as a string and knows no tools, tool_calls or tool role.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# A template that refuses any role but user and assistant after an optional system turn, and
# insists they alternate (as Llama 2 and Mistral templates do).
STRICT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% if not loop.first %}"
    "{{ raise_exception('system only first') }}{% endif %}"
    "{% elif message['role'] not in ('user', 'assistant') %}"
    "{{ raise_exception('unknown role ' + message['role']) }}"
    "{% endif %}"
    "{{ '[' + message['role'] + '] ' + message['content'] + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '[assistant] ' }}{% endif %}"
)

WEATHER = FunctionTool(
    name="get_weather",
    description="The weather in a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}},
        "required": ["city"],
    },
)
ADD = FunctionTool(
    name="add",
    parameters={
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": 0, "maximum": 99},
            "b": {"type": "integer", "minimum": 0, "maximum": 99},
        },
        "required": ["a", "b"],
    },
)
CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
HISTORY = (
    UserMessage("What's the weather in Oslo and Bergen?"),
    AssistantMessage(
        "Let me look.", (CALL, ToolCall("call_2", "get_weather", '{"city": "Bergen"}'))
    ),
    ToolMessage('{"temperature": 3}', "call_1"),
    ToolMessage('{"temperature": 5}', "call_2"),
    AssistantMessage("Cold in both."),
    UserMessage("And in Rome?"),
)


@attrs.define
class NativeTokenizer:
    """mlx-lm's view of a model whose template has a tool format."""

    has_tool_calling: bool = True
    seen: list[dict[str, Any]] = attrs.Factory(list)

    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> Any:
        self.seen.append({"messages": conversation, **kwargs})
        return [1]

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        return [1]


@functools.cache
def _wrapped(folder: str, template: str) -> Any:
    """mlx-lm's tokenizer wrapper for the tiny model, with another chat template."""
    from mlx_lm.utils import load_tokenizer

    tokenizer = load_tokenizer(Path(folder))  # type: ignore[no-untyped-call]
    tokenizer._tokenizer.chat_template = template
    return tokenizer


def _rendered(tiny_model_dir: Path, template: str, messages: tuple[Message, ...]) -> str:
    tokenizer = _wrapped(str(tiny_model_dir), template)
    prompt = build_prompt(Conversation(messages), tokenizer, (WEATHER, ADD)).unwrap()
    return str(tokenizer.decode(list(prompt.token_ids)))


def test_only_a_tokenizer_with_a_tool_parser_is_native(tiny_model_dir: Path) -> None:
    assert tool_format_of(NativeTokenizer()) == "native"
    assert tool_format_of(NativeTokenizer(has_tool_calling=False)) == "generic"
    assert tool_format_of(object()) == "generic"
    # the tiny model's ChatML template writes <tool_call> but mlx-lm finds no format in it
    from mlx_lm.utils import load_tokenizer

    assert not load_tokenizer(tiny_model_dir).has_tool_calling  # type: ignore[no-untyped-call]


def test_the_section_lists_each_tool_as_one_json_line() -> None:
    section = tools_section((WEATHER, ADD))
    inside = section.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    assert [json.loads(line) for line in inside.splitlines()] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": WEATHER.parameters,
        },
        {"name": "add", "description": "", "parameters": ADD.parameters},
    ]
    assert tool_line(ADD) in section
    assert '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}' in section
    assert "<tool_response></tool_response>" in section


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        (SystemMessage("Be brief."), SystemMessage),
        (DeveloperMessage("Be brief."), DeveloperMessage),
    ],
)
def test_the_section_joins_the_first_system_turn(first: Message, expected: type) -> None:
    out = generic_conversation(Conversation((first, UserMessage("hi"))), (WEATHER,)).messages
    assert len(out) == 2
    assert isinstance(out[0], expected)
    assert out[0].content == "Be brief.\n\n" + tools_section((WEATHER,))
    assert out[1] == UserMessage("hi")


def test_without_a_system_turn_the_section_is_one() -> None:
    out = generic_conversation(Conversation((UserMessage("hi"),)), (WEATHER,)).messages
    assert out == (SystemMessage(tools_section((WEATHER,))), UserMessage("hi"))


def test_calls_and_results_become_text() -> None:
    out = generic_conversation(Conversation(HISTORY), ()).messages
    assert out[1] == AssistantMessage(
        'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bergen"}}\n'
        "</tool_call>"
    )
    assert out[2] == UserMessage(
        '<tool_response>\n{"temperature": 3}\n</tool_response>\n'
        '<tool_response>\n{"temperature": 5}\n</tool_response>'
    )
    assert out[3:] == HISTORY[4:]
    assert not any(isinstance(m, ToolMessage) for m in out)


def test_a_plain_conversation_is_left_as_it_is() -> None:
    plain = Conversation((SystemMessage("s"), UserMessage("u"), AssistantMessage("a")))
    assert generic_conversation(plain, ()) == plain


def test_a_native_template_still_gets_the_tools_and_calls() -> None:
    tokenizer = NativeTokenizer()
    build_prompt(Conversation(HISTORY), tokenizer, (WEATHER,)).unwrap()
    (seen,) = tokenizer.seen
    assert [t["function"]["name"] for t in seen["tools"]] == ["get_weather"]
    assert seen["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
    assert seen["messages"][2]["role"] == "tool"


@pytest.mark.parametrize(
    "template",
    [CHATML_TEMPLATE, SMOLLM2_TEMPLATE, STRICT_TEMPLATE],
    ids=["tiny-chatml", "smollm2", "strict"],
)
def test_templates_without_tools_render_tools_calls_and_results(
    tiny_model_dir: Path, template: str
) -> None:
    text = _rendered(tiny_model_dir, template, HISTORY)
    assert text.count(tool_line(WEATHER)) == 1
    assert text.index("# Tools") < text.index("What's the weather")
    assert call_markup(CALL) in text
    assert '<tool_response>\n{"temperature": 5}\n</tool_response>' in text
    assert "You are a helpful AI assistant named SmolLM" not in text  # the section replaces it


def test_an_assistant_turn_of_calls_only_renders_on_smollm2(tiny_model_dir: Path) -> None:
    # SmolLM2's template concatenates content, so a call turn with null content must be text
    messages = (UserMessage("hi"), AssistantMessage(None, (CALL,)), ToolMessage("3C", "call_1"))
    text = _rendered(tiny_model_dir, SMOLLM2_TEMPLATE, messages)
    assert f"<|im_start|>assistant\n{call_markup(CALL)}<|im_end|>" in text


def test_generic_calls_are_read_back() -> None:
    reading = build_reading(ToolSpec(tools=(WEATHER,)), object(), (1, 2))
    assert reading.markup.calls == GENERIC_CALLS
    assert reading.tool_format == "generic"
    read = read_output("Sure. " + call_markup(CALL), reading)
    assert read.content == "Sure. "
    ((call),) = read.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Oslo"})


def test_tool_choice_none_reads_no_calls() -> None:
    reading = build_reading(ToolSpec(tools=(WEATHER,), choice="none"), object(), (1,))
    assert reading.markup.calls is None
    assert read_output(call_markup(CALL), reading).tool_calls == ()


@functools.cache
def _ll(folder: str) -> tuple[Any, Any]:
    hf = AutoTokenizer.from_pretrained(folder)
    return hf, llguidance.hf.from_tokenizer(hf)


def _accepts(folder: Path, grammar: str, text: str) -> bool:
    hf, tokenizer = _ll(str(folder))
    assert llguidance.LLMatcher.validate_grammar(grammar, tokenizer) == ""
    matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
    return bool(matcher.consume_tokens(hf.encode(text, add_special_tokens=False))) and bool(
        matcher.is_accepting()
    )


@pytest.mark.parametrize(
    ("choice", "text", "accepted"),
    [
        ("required", call_markup(CALL), True),
        ("required", call_markup(ToolCall("c", "add", '{"a": 1, "b": 2}')), True),
        ("required", call_markup(ToolCall("c", "add", '{"a": 1}')), False),
        ("required", call_markup(ToolCall("c", "get_weather", '{"city": 3}')), False),
        ("required", "It is sunny.", False),
        (NamedToolChoice("add"), call_markup(ToolCall("c", "add", '{"a": 1, "b": 2}')), True),
        (NamedToolChoice("add"), call_markup(CALL), False),
    ],
)
def test_the_forced_grammar_is_the_generic_markup(
    tiny_model_dir: Path, choice: Any, text: str, accepted: bool
) -> None:
    spec = ToolSpec(tools=(WEATHER, ADD), choice=choice)
    reading = build_reading(spec, object(), (1,))
    form = call_format_of(object(), reading)
    assert form is not None
    assert form.tokens == frozenset()  # the generic markers are text, not special tokens
    grammar = build_tool_grammar(spec, form).unwrap()
    assert grammar is not None
    assert _accepts(tiny_model_dir, grammar, text) is accepted


def test_plan_chat_forces_a_generic_call_on_the_tiny_model(tiny_model_dir: Path) -> None:
    from mlx_lm.utils import load_tokenizer

    tokenizer = load_tokenizer(tiny_model_dir)  # type: ignore[no-untyped-call]
    request = ChatRequest(
        model=ModelName("tiny"),
        conversation=Conversation(HISTORY),
        tools=ToolSpec(tools=(WEATHER, ADD), choice=NamedToolChoice("add"), parallel=False),
    )
    limits = Limits(context_length=4096, default_max_tokens=64)
    plan = plan_chat(request, tokenizer, limits, "tiny").unwrap()
    assert plan.grammar is not None
    assert plan.reading.tool_format == "generic"
    assert plan.stop == ("</tool_call>",)
    prompt = tokenizer.decode(list(plan.prompt))
    assert tool_line(ADD) in prompt
    # what the grammar lets the model write reads back as the call
    written = call_markup(ToolCall("c", "add", '{"a": 4, "b": 5}'))
    ((call),) = read_output(written, plan.reading).tool_calls
    jsonschema.validate(json.loads(call.arguments), ADD.parameters)


def test_the_newline_between_parallel_calls_is_no_content() -> None:
    reading = build_reading(ToolSpec(tools=(WEATHER, ADD)), object(), (1,))
    add = ToolCall("c", "add", '{"a": 1, "b": 2}')
    read = read_output(f"{call_markup(CALL)}\n{call_markup(add)}\n", reading)
    assert [c.name for c in read.tool_calls] == ["get_weather", "add"]
    assert read.content is None
    after = read_output(f"{call_markup(CALL)}\n\nDone.", reading)
    assert after.content == "Done."
