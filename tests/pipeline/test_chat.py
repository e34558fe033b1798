"""check_model and plan_chat: the chat steps composed."""

from __future__ import annotations

from typing import Any

from returns.result import Failure, Success

from mlxfn.domain.errors import ContextLengthExceeded, ModelNotFound
from mlxfn.domain.messages import Conversation, UserMessage
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.values import ModelName
from mlxfn.pipeline.chat import check_model, plan_chat
from mlxfn.pipeline.plan import GenerationPlan, Limits


class CharTokenizer:
    def apply_chat_template(self, conversation: list[dict[str, Any]], **kwargs: Any) -> Any:
        return [ord(c) for m in conversation for c in m["content"]]

    def encode(self, text: str, **kwargs: Any) -> list[int]:
        return [ord(c) for c in text]


def request(model: str, text: str = "hi") -> ChatRequest:
    return ChatRequest(model=ModelName(model), conversation=Conversation((UserMessage(text),)))


def test_check_model() -> None:
    assert check_model("tiny", ModelName("tiny")) == Success(None)
    assert check_model("tiny", None) == Success(None)
    assert check_model("tiny", ModelName("gpt-4")) == Failure(ModelNotFound("gpt-4"))


def test_plan_chat() -> None:
    limits = Limits(context_length=10, default_max_tokens=4)
    assert plan_chat(request("tiny"), CharTokenizer(), limits, "tiny") == Success(
        GenerationPlan(prompt=(104, 105), max_tokens=4)
    )


def test_plan_chat_checks_the_model_first() -> None:
    limits = Limits(context_length=1, default_max_tokens=4)
    result = plan_chat(request("gpt-4", "x" * 50), CharTokenizer(), limits, "tiny")
    assert result == Failure(ModelNotFound("gpt-4"))


def test_plan_chat_fits_the_context() -> None:
    limits = Limits(context_length=2, default_max_tokens=4)
    assert plan_chat(request("tiny"), CharTokenizer(), limits, "tiny") == Failure(
        ContextLengthExceeded(prompt_tokens=2, max_tokens=1, limit=2)
    )
