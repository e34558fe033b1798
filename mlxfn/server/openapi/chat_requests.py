"""What ``/openapi.json`` lays over the chat, completions, tokenize and detokenize bodies it
derives from ``wire/bodies.py``: the bounds ``wire/requests.py`` and the domain values check
beyond the types, the fields only null passes, and the rules across fields."""

from __future__ import annotations

from typing import Any, Final

from mlxfn.domain.values import (
    LOGIT_BIAS_LIMIT,
    TOKEN_ID_DIGITS,
    MaxTokens,
    MinP,
    ModelName,
    Penalty,
    RepetitionPenalty,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopLogprobs,
    TopP,
    bounds,
)
from mlxfn.server.openapi.facts import OpenApiFacts
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
from mlxfn.wire.completion_requests import MAX_LEGACY_LOGPROBS

_NON_EMPTY: Final[JSON] = {"type": "string", "minLength": 1}


def model_range(facts: OpenApiFacts) -> JSON:
    """The ids a request may name: the served ones, or any non-blank id."""
    if facts.models is None:
        return {**bounds(ModelName), "description": "any model id names the served model"}
    return {"enum": list(facts.models), "description": "the served model's id"}


def max_tokens_range(facts: OpenApiFacts, description: str | None = None) -> JSON:
    """A completion's length: the server's --max-completion-tokens refuses more, when set."""
    cap = facts.max_completion_tokens
    schema: JSON = bounds(MaxTokens) if cap is None else {**bounds(MaxTokens), "maximum": cap}
    return schema if description is None else {**schema, "description": description}


def _choices(facts: OpenApiFacts, description: str) -> JSON:
    # ChoiceCount allows OpenAI's 128; the server's batch caps it lower (Limits.max_choices)
    return {"minimum": 1, "maximum": facts.max_choices, "description": description}


def sampling_ranges() -> dict[str, JSON]:
    """The sampling fields chat, completions and the other surfaces refine alike, each
    bounded by the domain value it becomes."""
    return {
        "temperature": {**bounds(Temperature), "description": "0 means greedy decoding"},
        "top_p": bounds(TopP),
        "top_k": {**bounds(TopK), "description": "an mlxfn extension"},
        "min_p": {**bounds(MinP), "description": "an mlxfn extension"},
        "seed": bounds(Seed),
        "stop": {"anyOf": [_NON_EMPTY, {"type": "array", **bounds(Stop)}]},
        "frequency_penalty": bounds(Penalty),
        "presence_penalty": bounds(Penalty),
        "repetition_penalty": {
            **bounds(RepetitionPenalty),
            "description": "an mlxfn extension: mlx-lm's multiplicative penalty over the last "
            "20 tokens of the context",
        },
        "logit_bias": {
            "propertyNames": {"pattern": f"^[0-9]{{1,{TOKEN_ID_DIGITS}}}$"},
            "additionalProperties": {
                "type": "number",
                "minimum": -int(LOGIT_BIAS_LIMIT),
                "maximum": int(LOGIT_BIAS_LIMIT),
            },
            "description": "keys are token ids inside the model's vocabulary",
        },
    }


# What wire/requests.py and the domain values check beyond the types, laid over the non-null
# branch of each field: ranges, and the one harmless value of each field mlxfn cannot honour yet.
def chat_ranges(facts: OpenApiFacts) -> dict[str, JSON]:
    messages: JSON = {"minItems": 1}
    if facts.max_messages is not None:
        messages["maxItems"] = facts.max_messages
    return {
        "model": {"type": "string", **model_range(facts)},
        "messages": messages,
        **sampling_ranges(),
        "max_tokens": max_tokens_range(facts),
        "max_completion_tokens": max_tokens_range(
            facts, "supersedes max_tokens when both are sent"
        ),
        "n": _choices(facts, "choices of the one prompt, at most this server's batch, else 400"),
        "top_logprobs": bounds(TopLogprobs),
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


def completion_ranges(facts: OpenApiFacts) -> dict[str, JSON]:
    return {
        "model": {"type": "string", **model_range(facts)},
        **{field: sampling_ranges()[field] for field in _SHARED_SAMPLING},
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
        "max_tokens": max_tokens_range(
            facts, "16 when absent, as at OpenAI; null: the server's default cap"
        ),
        "n": _choices(
            facts,
            "choices of each prompt; all prompts' choices together are at most this "
            "server's batch, else 400",
        ),
        "best_of": _choices(facts, "only 1 or the value of n: candidates are not ranked"),
        "logprobs": {
            "minimum": 0,
            "maximum": MAX_LEGACY_LOGPROBS,
            "description": "alternatives per generated token; the chosen token is always listed",
        },
        "echo": {
            "description": "the prompt's text before each choice's; only generated tokens are "
            "scored"
        },
        "suffix": {"maxLength": 0, "description": "not supported: no fill-in-the-middle"},
    }


def ranges(facts: OpenApiFacts) -> dict[type[Any], dict[str, JSON]]:
    model = model_range(facts)
    return {
        ChatBody: chat_ranges(facts),
        CompletionBody: completion_ranges(facts),
        ContentPartBody: {"type": {"enum": ["text", "refusal"]}},
        StreamOptionsBody: {"include_obfuscation": {"const": False}},
        ResponseFormatBody: {"type": {"enum": ["text", "json_object", "json_schema"]}},
        JsonSchemaBody: {
            "name": {"pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "schema": {
                "description": "a JSON Schema llguidance can compile; enforced while decoding"
            },
            "strict": {"description": "the schema is enforced either way"},
        },
        ToolDefinitionBody: {"type": {"const": "function"}},
        FunctionDefinitionBody: {
            "name": {"pattern": "^[a-zA-Z0-9_-]{1,64}$"},
            "parameters": {"properties": {"type": {"const": "object"}}},
        },
        TokenizeBody: {
            "model": model,
            "messages": {"minItems": 1},
            "add_special_tokens": {
                "description": "the tokenizer's special tokens (a BOS, say) around text or "
                "prompt; default true for prompt (as vLLM), false for text; must be false with "
                "messages, whose template writes them"
            },
        },
        DetokenizeBody: {
            "model": model,
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
