"""Engine events and usage."""

from __future__ import annotations

from mlxfn.domain.errors import EngineFailed
from mlxfn.domain.events import Delta, Failed, Finished, Usage, is_final


def test_usage_total_is_the_sum() -> None:
    assert Usage(prompt_tokens=7, completion_tokens=5).total_tokens == 12


def test_only_deltas_are_not_final() -> None:
    usage = Usage(prompt_tokens=1, completion_tokens=1)
    assert not is_final(Delta("x"))
    assert is_final(Finished("stop", usage))
    assert is_final(Failed(EngineFailed("boom")))
