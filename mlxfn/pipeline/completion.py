"""Engine events → whole completions, for the non-streaming answer."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, EngineFailed
from mlxfn.domain.events import (
    Completion,
    Delta,
    Event,
    Failed,
    Finished,
    FinishReason,
    ResponseFinishReason,
    ResponseMeta,
    TokenLogprob,
)
from mlxfn.pipeline.reading import OutputReading, read_output


def assemble_completion(
    meta: ResponseMeta, events: Iterable[Event], *, with_logprobs: bool = False
) -> Result[Completion, ApiError]:
    """Join the deltas up to ``Finished``; a ``Failed`` event fails the whole completion.
    ``with_logprobs``: the request asked for logprobs, so the completion carries them."""
    return assemble_choices(meta, events, 1, with_logprobs=with_logprobs).map(
        lambda choices: choices[0]
    )


def assemble_choices(
    meta: ResponseMeta, events: Iterable[Event], n: int, *, with_logprobs: bool = False
) -> Result[tuple[Completion, ...], ApiError]:
    """Join each choice's deltas up to its ``Finished``, until all ``n`` have finished; the
    choices come back in index order. A ``Failed`` event fails them all.

    >>> from mlxfn.domain.events import Usage
    >>> meta = ResponseMeta(id="c", created=0, model="m")
    >>> events = [Delta("a", index=1), Delta("b"), Finished("stop", Usage(2, 1)),
    ...           Finished("length", Usage(2, 1), index=1)]
    >>> [c.content for c in assemble_choices(meta, events, 2).unwrap()]
    ['b', 'a']
    """
    parts: dict[int, list[str]] = {index: [] for index in range(n)}
    scores: dict[int, list[TokenLogprob]] = {index: [] for index in range(n)}
    done: dict[int, Completion] = {}
    for event in events:
        match event:
            case Delta(text=text, logprobs=scored, index=index):
                parts[index].append(text)
                scores[index].extend(scored)
            case Finished(reason=reason, usage=usage, index=index):
                done[index] = Completion(
                    meta=meta,
                    content="".join(parts[index]),
                    finish_reason=reason,
                    usage=usage,
                    index=index,
                    logprobs=tuple(scores[index]) if with_logprobs else None,
                )
                if len(done) == n:
                    return Success(tuple(done[i] for i in range(n)))
            case Failed(error=error):
                return Failure(error)
    return Failure(EngineFailed("the event stream ended without Finished"))


def finish_reason_of(reason: FinishReason, made_calls: bool) -> ResponseFinishReason:
    """A generation that ended by itself after tool calls finished with ``tool_calls``."""
    return "tool_calls" if made_calls and reason == "stop" else reason


def read_completion(completion: Completion, reading: OutputReading) -> Completion:
    """Split the generated text into answer, reasoning and tool calls, as ``reading`` says.

    >>> from mlxfn.domain.events import Usage
    >>> from mlxfn.pipeline.markup import Markers, OutputMarkup
    >>> meta = ResponseMeta(id="c", created=0, model="m")
    >>> done = Completion(meta=meta, content="<t>a</t>b", finish_reason="stop", usage=Usage(1, 2))
    >>> reading = OutputReading(markup=OutputMarkup(thinking=Markers("<t>", "</t>")))
    >>> read = read_completion(done, reading)
    >>> read.content, read.reasoning
    ('b', 'a')
    """
    if reading.plain:
        return completion
    read = read_output(completion.content, reading)
    reason = completion.finish_reason
    if reason != "tool_calls":
        reason = finish_reason_of(reason, bool(read.tool_calls))
    return attrs.evolve(
        completion,
        content=read.content or "",
        reasoning=read.reasoning,
        tool_calls=read.tool_calls,
        finish_reason=reason,
    )
