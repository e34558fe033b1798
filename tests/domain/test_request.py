"""ChatRequest: OpenAI's defaults, frozen."""

from __future__ import annotations

import attrs
import pytest

from mlxfn.domain.messages import Conversation, UserMessage
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.domain.values import ModelName, Temperature, TopP

REQUEST = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))


def test_request_defaults_are_openai_defaults() -> None:
    assert REQUEST.sampling == SamplingParams(temperature=Temperature(1.0), top_p=TopP(1.0))
    assert (REQUEST.max_tokens, REQUEST.stop, REQUEST.stream, REQUEST.include_usage) == (
        None,
        None,
        False,
        False,
    )
    assert REQUEST.user is None


def test_request_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        REQUEST.stream = True  # type: ignore[misc]
