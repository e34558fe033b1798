"""Hypothesis strategies: one ``st.builds`` per domain type, making only valid values.

``st.from_type`` ignores range validators, so every range is spelled out here. Text has no
lone surrogates (they cannot be encoded as UTF-8 JSON) and floats are finite (JSON has no NaN or
infinity).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st

from mlxfn.domain.errors import (
    ApiError,
    BodyTooLarge,
    ContextLengthExceeded,
    EngineFailed,
    HostNotAllowed,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    OriginNotAllowed,
    Overloaded,
    ResponseNotFound,
    RouteNotFound,
    TimedOut,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from mlxfn.domain.events import Completion, Delta, Finished, ResponseMeta, Usage
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
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.domain.values import (
    INT64_MAX,
    MaxTokens,
    MinP,
    ModelName,
    Seed,
    Stop,
    Temperature,
    TopK,
    TopP,
)
from mlxfn.pipeline.plan import Limits
from mlxfn.pipeline.prompt import Prompt

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
# Text that stresses framing and escaping: line breaks, quotes, separators, astral characters.
tricky_texts = st.text(
    alphabet=st.sampled_from('\n\r\t "\\:/é\u2028\u0000😀')
    | st.characters(exclude_categories=["Cs"])
)
names = st.none() | texts

# -- refined values -------------------------------------------------------------------------------

temperatures = st.builds(Temperature, st.floats(0.0, 2.0))
top_ps = st.builds(TopP, st.floats(0.0, 1.0, exclude_min=True))
top_ks = st.builds(TopK, st.integers(1, INT64_MAX))
min_ps = st.builds(MinP, st.floats(0.0, 1.0))
max_tokens = st.builds(MaxTokens, st.integers(1, INT64_MAX))
seeds = st.builds(Seed, st.integers(-(2**63), INT64_MAX - 1))
stops = st.builds(Stop, st.lists(texts.filter(bool), min_size=1, max_size=4).map(tuple))
model_names = st.builds(ModelName, texts.filter(str.strip))

# -- messages -------------------------------------------------------------------------------------

tool_calls = st.builds(ToolCall, id=texts, name=texts, arguments=texts)
system_messages = st.builds(SystemMessage, content=tricky_texts, name=names)
developer_messages = st.builds(DeveloperMessage, content=tricky_texts, name=names)
user_messages = st.builds(UserMessage, content=tricky_texts, name=names)
# An assistant turn has text, tool calls, or both; one with neither cannot be sent.
assistant_messages = st.one_of(
    st.builds(
        AssistantMessage,
        content=tricky_texts,
        tool_calls=st.lists(tool_calls, max_size=2).map(tuple),
        name=names,
    ),
    st.builds(
        AssistantMessage,
        content=st.none(),
        tool_calls=st.lists(tool_calls, min_size=1, max_size=2).map(tuple),
        name=names,
    ),
)
tool_messages = st.builds(ToolMessage, content=tricky_texts, tool_call_id=texts)
messages: st.SearchStrategy[Message] = st.one_of(
    system_messages, developer_messages, user_messages, assistant_messages, tool_messages
)
conversations = st.builds(Conversation, st.lists(messages, min_size=1, max_size=4).map(tuple))

# -- requests -------------------------------------------------------------------------------------

sampling_params = st.builds(
    SamplingParams,
    temperature=temperatures,
    top_p=top_ps,
    top_k=st.none() | top_ks,
    min_p=st.none() | min_ps,
    seed=st.none() | seeds,
)


def _sendable(request: ChatRequest) -> ChatRequest:
    # include_usage is a stream option: a client can only ask for it on a stream.
    return request if request.stream else attrs.evolve(request, include_usage=False)


chat_requests = st.builds(
    ChatRequest,
    model=model_names,
    conversation=conversations,
    sampling=sampling_params,
    max_tokens=st.none() | max_tokens,
    stop=st.none() | stops,
    stream=st.booleans(),
    include_usage=st.booleans(),
    user=names,
).map(_sendable)

# -- events and errors ----------------------------------------------------------------------------

counts = st.integers(0, 2**31)
usages = st.builds(Usage, prompt_tokens=counts, completion_tokens=counts)
finish_reasons = st.sampled_from(["stop", "length"])
deltas = st.builds(Delta, texts)
finisheds = st.builds(Finished, reason=finish_reasons, usage=usages)
response_metas = st.builds(ResponseMeta, id=texts, created=st.integers(0, 2**40), model=texts)
completions = st.builds(
    Completion,
    meta=response_metas,
    content=tricky_texts,
    finish_reason=finish_reasons,
    usage=usages,
)

api_errors: st.SearchStrategy[ApiError] = st.one_of(
    st.builds(InvalidRequest, message=texts, param=names, code=names),
    st.builds(Unauthorized, st.booleans()),
    st.builds(HostNotAllowed, texts),
    st.builds(OriginNotAllowed, texts),
    st.builds(ModelNotFound, texts),
    st.builds(ContextLengthExceeded, prompt_tokens=counts, max_tokens=counts, limit=counts),
    st.builds(Overloaded, counts),
    st.builds(RouteNotFound, texts, texts),
    st.builds(ResponseNotFound, texts, st.none() | texts),
    st.builds(MethodNotAllowed, texts, texts),
    st.builds(BodyTooLarge, counts),
    st.builds(UnsupportedMediaType, texts),
    st.builds(Unavailable, texts),
    st.builds(TimedOut, st.sampled_from(["queue", "total"]), st.floats(0, 1e6)),
    st.builds(EngineFailed, texts),
)

# -- pipeline -------------------------------------------------------------------------------------

prompts = st.builds(Prompt, st.lists(st.integers(0, 2**17), max_size=64).map(tuple))
limits = st.builds(Limits, context_length=st.integers(1, 96), default_max_tokens=st.integers(1, 96))

# -- JSON -----------------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_texts
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON document orjson can write: nested arrays and objects of finite scalars."""
    return st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
        max_leaves=max_leaves,
    )
