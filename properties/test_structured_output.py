"""For generated bounded JSON schemas, a random-weight model's constrained output always parses,
validates against its schema and ends with "stop" within max_tokens."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlxfn.domain.events import Event, Finished
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Seed, Temperature
from mlxfn.effects import run_io
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.thread import Engine, EngineConfig, start_engine
from mlxfn.pipeline.grammar import json_schema_grammar
from mlxfn.pipeline.plan import GenerationPlan
from mlxfn.tiny_model import build_tiny_model
from tests.engine.generated import collect_text


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder = build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
    started = run_io(start_engine(ModelSpec(source=str(folder)), EngineConfig())).unwrap()
    yield started
    started.close()


_names = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
_leaves: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.integers(0, 8).map(lambda n: {"type": "string", "maxLength": n}),
    st.tuples(st.integers(-50, 50), st.integers(0, 100)).map(
        lambda t: {"type": "integer", "minimum": t[0], "maximum": t[0] + t[1]}
    ),
    st.lists(
        st.text(alphabet="xyz", min_size=1, max_size=3), min_size=1, max_size=3, unique=True
    ).map(lambda values: {"enum": values}),
    st.just({"type": "boolean"}),
)


def _objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_names, children, min_size=1, max_size=3).map(
        lambda props: {
            "type": "object",
            "properties": props,
            "required": sorted(props),
            "additionalProperties": False,
        }
    )


def _arrays(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(children, st.integers(0, 2)).map(
        lambda t: {"type": "array", "items": t[0], "maxItems": t[1]}
    )


schemas = st.recursive(
    _leaves, lambda inner: _objects(inner) | _arrays(inner), max_leaves=5
).flatmap(lambda s: _objects(st.just(s)))


def _generate(engine: Engine, plan: GenerationPlan) -> tuple[str, Finished]:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    run_io(engine.submit(plan, events.put)).unwrap()
    return collect_text(events)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=schemas, seed=st.integers(0, 2**31), temperature=st.sampled_from([0.0, 1.0]))
def test_constrained_output_always_validates(
    engine: Engine, schema: dict[str, Any], seed: int, temperature: float
) -> None:
    prompt = tuple(engine.loaded.tokenizer.encode("json please"))
    sampling = SamplingParams(temperature=Temperature(temperature), seed=Seed(seed))
    plan = GenerationPlan(
        prompt=prompt, max_tokens=400, sampling=sampling, grammar=json_schema_grammar(schema)
    )
    text, finished = _generate(engine, plan)
    assert finished.reason == "stop", (schema, text)
    jsonschema.validate(json.loads(text), schema)
