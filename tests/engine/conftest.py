"""Engines of a test's own, for configurations the shared ``engine`` fixture does not have."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine


@pytest.fixture
def own_engine(tiny_model_dir: Path) -> Iterator[Callable[[EngineConfig], Engine]]:
    """Start extra engines with their own config; all are closed after the test."""
    started: list[Engine] = []

    def start(config: EngineConfig) -> Engine:
        engine = run_io(start_engine(ModelSpec(source=str(tiny_model_dir)), config)).unwrap()
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.close()
