"""Engine.run_task: MLX work that is not generation runs on the engine thread, between steps."""

from __future__ import annotations

import threading
from pathlib import Path

import mlx.core as mx
import pytest
from returns.io import IOFailure

from mlxfn.domain.errors import Unavailable
from mlxfn.effects import run_io
from mlxfn.engine.embeddings import POOL_CHUNK, pooled_embedding
from mlxfn.engine.loader import LoadedModel, ModelSpec
from mlxfn.engine.thread import Engine, start_engine


def test_a_task_runs_on_the_engine_thread_with_the_model(engine: Engine) -> None:
    def where(loaded: LoadedModel) -> tuple[str, str]:
        return threading.current_thread().name, loaded.name

    future = run_io(engine.run_task(where)).unwrap()
    assert future.result(timeout=30) == ("mlxfn-engine", engine.loaded.name)


def test_what_a_task_raises_reaches_its_caller(engine: Engine) -> None:
    def broken(_: LoadedModel) -> None:
        raise ValueError("no")

    future = run_io(engine.run_task(broken)).unwrap()
    with pytest.raises(ValueError, match="no"):
        future.result(timeout=30)
    assert engine.alive  # and the engine goes on


def test_a_stopped_engine_takes_no_tasks(tiny_model_dir: Path) -> None:
    stopped = run_io(start_engine(ModelSpec(source=str(tiny_model_dir)))).unwrap()
    stopped.close()
    assert stopped.run_task(lambda _: None) == IOFailure(Unavailable("the engine is not running"))


def test_a_long_input_pooled_in_chunks_is_pooled_as_in_one_pass(engine: Engine) -> None:
    """Chunks over a KV cache see what one pass sees: the same vector, to float precision."""
    tokens = tuple(range(5, 5 + 300)) * 2  # 600 tokens: two chunks of POOL_CHUNK
    assert len(tokens) > POOL_CHUNK

    def both(loaded: LoadedModel) -> tuple[tuple[float, ...], tuple[float, ...]]:
        hidden = loaded.model.model(mx.array([tokens]))
        mean = mx.mean(hidden[0].astype(mx.float32), axis=0)
        whole: list[float] = (mean / mx.linalg.norm(mean)).tolist()  # type: ignore[assignment]
        return tuple(whole), pooled_embedding(loaded.model, tokens)

    whole, chunked = run_io(engine.run_task(both)).unwrap().result(timeout=60)
    assert chunked == pytest.approx(whole, abs=1e-4)
