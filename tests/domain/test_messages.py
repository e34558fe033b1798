"""Messages: a union by role, and the non-empty conversation they form."""

from __future__ import annotations

from typing import get_args

import pytest

from mlxfn.domain.messages import ROLE_OF, Conversation, Message, UserMessage


def test_conversation_must_not_be_empty() -> None:
    with pytest.raises(ValueError, match="at least one message"):
        Conversation(())


def test_conversation_keeps_messages_in_order() -> None:
    messages = (UserMessage("a"), UserMessage("b"))
    assert Conversation(messages).messages == messages


def test_every_message_class_has_a_role() -> None:
    assert set(ROLE_OF) == set(get_args(Message))
    assert sorted(ROLE_OF.values()) == ["assistant", "developer", "system", "tool", "user"]
