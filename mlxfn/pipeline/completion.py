"""Engine events → a whole completion, for the non-streaming answer."""

from __future__ import annotations

from collections.abc import Iterable

from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, EngineFailed
from mlxfn.domain.events import Completion, Delta, Event, Failed, Finished, ResponseMeta


def assemble_completion(
    meta: ResponseMeta, events: Iterable[Event]
) -> Result[Completion, ApiError]:
    """Join the deltas up to ``Finished``; a ``Failed`` event fails the whole completion."""
    parts: list[str] = []
    for event in events:
        match event:
            case Delta(text=text):
                parts.append(text)
            case Finished(reason=reason, usage=usage):
                return Success(
                    Completion(meta=meta, content="".join(parts), finish_reason=reason, usage=usage)
                )
            case Failed(error=error):
                return Failure(error)
            case _:
                raise AssertionError("unreachable")
    return Failure(EngineFailed("the event stream ended without Finished"))
