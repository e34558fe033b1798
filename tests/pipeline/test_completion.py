"""assemble_completion: the deltas up to Finished, or the failure."""

from __future__ import annotations

from collections.abc import Iterator

from returns.result import Failure, Success

from mlxfn.domain.errors import EngineFailed
from mlxfn.domain.events import Completion, Delta, Event, Failed, Finished, ResponseMeta, Usage
from mlxfn.pipeline.completion import assemble_completion

META = ResponseMeta(id="chatcmpl-1", created=1, model="tiny")
USAGE = Usage(prompt_tokens=4, completion_tokens=3)


def test_deltas_are_joined_up_to_finished() -> None:
    events: list[Event] = [Delta("Hel"), Delta(""), Delta("lo ✓"), Finished("length", USAGE)]
    assert assemble_completion(META, events) == Success(
        Completion(meta=META, content="Hello ✓", finish_reason="length", usage=USAGE)
    )


def test_finished_without_deltas_is_empty_content() -> None:
    completion = assemble_completion(META, [Finished("stop", USAGE)]).unwrap()
    assert (completion.content, completion.finish_reason) == ("", "stop")


def test_failed_fails_the_whole_completion() -> None:
    error = EngineFailed("out of memory")
    assert assemble_completion(META, [Delta("partial"), Failed(error)]) == Failure(error)


def test_stream_ending_without_finished_is_engine_failed() -> None:
    match assemble_completion(META, [Delta("a")]):
        case Failure(EngineFailed()):
            pass
        case other:
            raise AssertionError(f"expected EngineFailed, got {other!r}")
    assert isinstance(assemble_completion(META, []).failure(), EngineFailed)


def test_nothing_is_read_after_finished() -> None:
    def events() -> Iterator[Event]:
        yield Delta("done")
        yield Finished("stop", USAGE)
        raise AssertionError("read past Finished")

    assert assemble_completion(META, events()).unwrap().content == "done"
