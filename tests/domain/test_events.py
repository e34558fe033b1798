"""Engine events and usage."""

from __future__ import annotations

from mlxfn.domain.events import Usage


def test_usage_total_is_the_sum() -> None:
    assert Usage(prompt_tokens=7, completion_tokens=5).total_tokens == 12
