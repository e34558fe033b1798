"""Messages, conversations, events and requests: the invariants the classes hold themselves."""

from __future__ import annotations

import attrs
import pytest

from mlxfn.domain.events import Usage
from mlxfn.domain.messages import ROLE_OF, Conversation, Message, UserMessage
from mlxfn.domain.request import ChatRequest, SamplingParams
from mlxfn.domain.values import ModelName, Temperature, TopP


def test_conversation_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        Conversation(())


def test_conversation_keeps_messages_in_order() -> None:
    messages = (UserMessage("a"), UserMessage("b"))
    assert Conversation(messages).messages == messages


def test_every_message_class_has_a_role() -> None:
    assert set(ROLE_OF) == set(Message.__args__)  # type: ignore[attr-defined]
    assert sorted(ROLE_OF.values()) == ["assistant", "developer", "system", "tool", "user"]


def test_usage_total_is_the_sum() -> None:
    assert Usage(prompt_tokens=7, completion_tokens=5).total_tokens == 12


def test_request_defaults_are_openai_defaults() -> None:
    request = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))
    assert request.sampling == SamplingParams(temperature=Temperature(1.0), top_p=TopP(1.0))
    assert (request.max_tokens, request.stop, request.stream, request.include_usage) == (
        None, None, False, False
    )
    assert request.user is None


def test_request_is_frozen() -> None:
    request = ChatRequest(model=ModelName("m"), conversation=Conversation((UserMessage("hi"),)))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.stream = True  # type: ignore[misc]
