"""What ``/openapi.json`` lays over the chat, completions, tokenize and detokenize bodies it
derives from ``wire/bodies.py``: the bounds ``wire/requests.py`` and the domain values check
beyond the types, the fields only null passes, and the rules across fields."""

from __future__ import annotations

from typing import Any, Final

from mlxfn.domain.values import INT64_MAX, MAX_CHOICES
from mlxfn.pipeline.plan import DEFAULT_MAX_CHOICES
from mlxfn.server.openapi.schemas import JSON, NULL, present, when
from mlxfn.wire.bodies import (
    AssistantBody,
    ChatBody,
    CompletionBody,
    ContentPartBody,
    DetokenizeBody,
    FunctionBody,
    FunctionDefinitionBody,
    JsonSchemaBody,
    ResponseFormatBody,
    StreamOptionsBody,
    TokenizeBody,
    ToolDefinitionBody,
)

# What wire/requests.py and the domain values check beyond the types, laid over the non-null
# branch of each field: ranges, and the one harmless value of each field mlxfn cannot honour yet.
_NON_EMPTY = {"type": "string", "minLength": 1}
CHAT_RANGES: Final[dict[str, JSON]] = {
    "model": {"minLength": 1, "pattern": r"\S", "description": "the served model's id"},
    "messages": {"minItems": 1},
    "temperature": {"minimum": 0, "maximum": 2, "description": "0 means greedy decoding"},
    "top_p": {"exclusiveMinimum": 0, "maximum": 1},
    "top_k": {"minimum": 1, "maximum": INT64_MAX, "description": "an mlxfn extension"},
    "min_p": {"minimum": 0, "maximum": 1, "description": "an mlxfn extension"},
    "max_tokens": {"minimum": 1, "maximum": INT64_MAX},
    "max_completion_tokens": {
        "minimum": 1,
        "maximum": INT64_MAX,
        "description": "supersedes max_tokens when both are sent",
    },
    "seed": {"minimum": -(2**63), "maximum": INT64_MAX},
    "stop": {
        "anyOf": [
            _NON_EMPTY,
            {"type": "array", "items": _NON_EMPTY, "minItems": 1, "maxItems": 4},
        ]
    },
    "n": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "choices of the one prompt; this server generates at most "
        f"min({DEFAULT_MAX_CHOICES}, its batch size), else 400",
    },
    "frequency_penalty": {"minimum": -2, "maximum": 2},
    "presence_penalty": {"minimum": -2, "maximum": 2},
    "repetition_penalty": {
        "exclusiveMinimum": 0,
        "description": "an mlxfn extension: mlx-lm's multiplicative penalty over the last "
        "20 tokens of the context",
    },
    "logit_bias": {
        "propertyNames": {"pattern": "^[0-9]{1,19}$"},
        "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
        "description": "keys are token ids inside the model's vocabulary",
    },
    "top_logprobs": {"minimum": 0, "maximum": 20},
    "modalities": {"const": ["text"]},
    "store": {"const": False},
    "service_tier": {"enum": ["auto", "default"]},
}
_TOKEN_IDS: Final[JSON] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0},
    "minItems": 1,
}
_SHARED_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "logit_bias",
)
COMPLETION_RANGES: Final[dict[str, JSON]] = {
    "model": CHAT_RANGES["model"],
    **{field: CHAT_RANGES[field] for field in _SHARED_SAMPLING},
    "prompt": {
        "anyOf": [
            _NON_EMPTY,
            {"type": "array", "items": _NON_EMPTY, "minItems": 1},
            _TOKEN_IDS,
            {"type": "array", "items": _TOKEN_IDS, "minItems": 1},
        ],
        "description": "each string or token-id array is a prompt of its own; text is "
        "tokenized as it is (no chat template), token ids must be inside the vocabulary",
    },
    "max_tokens": {
        "minimum": 1,
        "maximum": INT64_MAX,
        "description": "16 when absent, as at OpenAI; null: the server's default cap",
    },
    "n": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "choices of each prompt; all prompts' choices together are at most "
        f"min({DEFAULT_MAX_CHOICES}, the server's batch size), else 400",
    },
    "best_of": {
        "minimum": 1,
        "maximum": MAX_CHOICES,
        "description": "only 1 or the value of n: candidates are not ranked",
    },
    "logprobs": {
        "minimum": 0,
        "maximum": 5,
        "description": "alternatives per generated token; the chosen token is always listed",
    },
    "echo": {
        "description": "the prompt's text before each choice's; only generated tokens are scored"
    },
    "suffix": {"maxLength": 0, "description": "not supported: no fill-in-the-middle"},
}
RANGES: Final[dict[type[Any], dict[str, JSON]]] = {
    ChatBody: CHAT_RANGES,
    CompletionBody: COMPLETION_RANGES,
    ContentPartBody: {"type": {"enum": ["text", "refusal"]}},
    StreamOptionsBody: {"include_obfuscation": {"const": False}},
    ResponseFormatBody: {"type": {"enum": ["text", "json_object", "json_schema"]}},
    JsonSchemaBody: {
        "name": {"pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "schema": {"description": "a JSON Schema llguidance can compile; enforced while decoding"},
        "strict": {"description": "the schema is enforced either way"},
    },
    ToolDefinitionBody: {"type": {"const": "function"}},
    FunctionDefinitionBody: {
        "name": {"pattern": "^[a-zA-Z0-9_-]{1,64}$"},
        "parameters": {"properties": {"type": {"const": "object"}}},
    },
    TokenizeBody: {
        "messages": {"minItems": 1},
        "add_special_tokens": {
            "description": "the tokenizer's special tokens (a BOS, say) around text or prompt; "
            "default true for prompt (as vLLM), false for text; must be false with messages, "
            "whose template writes them"
        },
    },
    DetokenizeBody: {
        "tokens": {"items": {"type": "integer", "minimum": 0}},
    },
}
# Fields (and message classes) that mlxfn rejects whenever they are set: only null passes.
NULL_ONLY: Final[dict[type[Any], frozenset[str]]] = {
    ChatBody: frozenset(
        {
            "functions",
            "function_call",
            "audio",
            "prediction",
            "reasoning_effort",
            "verbosity",
            "web_search_options",
            "moderation",
        }
    ),
    AssistantBody: frozenset({"audio", "function_call"}),
    ToolDefinitionBody: frozenset({"custom"}),
}
REJECTED: Final = frozenset({FunctionBody})  # the deprecated function role


_STREAM_OPTIONS_NEED_STREAM: Final[JSON] = {
    "if": present("stream_options", {"type": "object"}),
    "then": present("stream", {"const": True}),
}
# Rules across fields, checked in wire/requests.py, added to the object schemas.
RULES: Final[dict[type[Any], JSON]] = {
    CompletionBody: _STREAM_OPTIONS_NEED_STREAM,
    ChatBody: {
        "allOf": [
            _STREAM_OPTIONS_NEED_STREAM,
            {
                "if": present("top_logprobs", {"type": "integer", "minimum": 1}),
                "then": present("logprobs", {"const": True}),
            },
        ]
    },
    ToolDefinitionBody: present("function", {"type": "object"}),
    ContentPartBody: {
        "allOf": [
            when("type", "text", present("text", {"type": "string"})),
            when("type", "refusal", present("refusal", {"type": "string"})),
        ]
    },
    AssistantBody: {
        "anyOf": [
            present("content", {"not": NULL}),
            present("refusal", {"type": "string"}),
            present("tool_calls", {"type": "array", "minItems": 1}),
        ]
    },
    ResponseFormatBody: when("type", "json_schema", present("json_schema", {"type": "object"})),
    TokenizeBody: {
        "oneOf": [
            present("text", {"type": "string"}),
            present("prompt", {"type": "string"}),
            present("messages", {"type": "array"}),
        ],
        "if": present("messages", {"type": "array"}),
        "then": {"properties": {"add_special_tokens": {"not": {"const": True}}}},
    },
}
CHAT_DESCRIPTION: Final = (
    "Every field OpenAI defines is listed. Fields mlxfn cannot honour (audio, web search, "
    "predicted outputs, ...) accept only "
    "their harmless values (null, the default, empty); anything else is a 400 whose param "
    "names the field. stream_options needs stream: true. Fields nobody defines are ignored."
)


COMPLETION_DESCRIPTION: Final = (
    "OpenAI's legacy completions: text in, text out, no chat template. Every field OpenAI "
    "defines is listed; suffix, and a best_of other than 1 or n, are a 400 naming the field. "
    "stream_options needs stream: true. Fields nobody defines are ignored."
)
