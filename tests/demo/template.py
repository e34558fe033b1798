"""The chat template of mlxfn-demo: ChatML as Qwen2.5 writes it, with Hermes-style tools.

Tools go into the system turn, one line per tool between ``<tools>`` and ``</tools>``: a JSON
object with the name, the description and the parameters' ``properties`` (terse on purpose);
the model answers a call as ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``;
tool results come back in a user turn as ``<tool_response>...</tool_response>``. The template
names ``tool_call.name`` so that mlx-lm infers its ``json_tools`` parser from it.
"""

from __future__ import annotations

from typing import Any, Final

SPECIAL_TOKENS: Final = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TOOL_CALL_TOKENS: Final = ("<tool_call>", "</tool_call>")

# Kept terse: every token of the tools block is paid for in training time on two CPU cores.
CHAT_TEMPLATE: Final = (
    "{%- macro text(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- elif content is iterable and content is not mapping -%}"
    "{%- for part in content -%}{%- if part.type == 'text' -%}{{ part.text }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{%- endmacro -%}"
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- text(messages[0].content) + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}"
    "{%- set f = tool.function if tool.function is defined else tool %}"
    "{%- set params = (f.parameters or {}).properties or {} %}"
    "{{- '\\n' + ({'name': f.name, 'description': f.description or '', 'parameters': params}"
    " | tojson) }}"
    "{%- endfor %}"
    "{{- '\\n</tools>\\nCall a tool with <tool_call>\\n"
    '{"name": <name>, "arguments": <arguments>}'
    "\\n</tool_call><|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}"
    "{%- if not (loop.first and tools) %}"
    "{{- '<|im_start|>system\\n' + text(message.content) + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- elif message.role == 'user' %}"
    "{{- '<|im_start|>user\\n' + text(message.content) + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set said = text(message.content) %}"
    "{{- '<|im_start|>assistant\\n' + said }}"
    "{%- for call in message.tool_calls or [] %}"
    "{%- set tool_call = call.function if call.function is defined else call %}"
    "{%- if said or not loop.first %}{{- '\\n' }}{%- endif %}"
    '{{- \'<tool_call>\\n{"name": "\' + tool_call.name + \'", "arguments": \' }}'
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}"
    "{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + text(message.content) + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def render_chat(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = False,
) -> str:
    """Render a conversation with the demo template, as ``apply_chat_template`` would.

    >>> render_chat([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    from transformers.utils.chat_template_utils import render_jinja_template

    offered: Any = tools or None
    # it returns (texts, generation indices), whatever its annotation says
    result: Any = render_jinja_template(
        conversations=[messages],
        tools=offered,
        chat_template=CHAT_TEMPLATE,
        add_generation_prompt=add_generation_prompt,
    )
    text: str = result[0][0]
    return text
