"""Grammars enforced in the batched engine: constrained and free sequences share a batch, and
the free ones decode exactly as they would alone."""

from __future__ import annotations

import json
import queue

import attrs
import jsonschema

from mlxfn.domain.events import Event
from mlxfn.domain.request import SamplingParams
from mlxfn.domain.values import Seed, Temperature
from mlxfn.effects import run_io
from mlxfn.engine.thread import Engine, Job
from mlxfn.pipeline.grammar import json_schema_grammar
from mlxfn.pipeline.plan import GenerationPlan
from tests.engine.generated import collect_text

GREEDY = SamplingParams(temperature=Temperature(0.0))
POINT = {
    "type": "object",
    "properties": {"x": {"type": "integer", "minimum": 0, "maximum": 9}, "ok": {"type": "boolean"}},
    "required": ["x", "ok"],
    "additionalProperties": False,
}


def submit(engine: Engine, plan: GenerationPlan) -> queue.SimpleQueue[Event]:
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    job: Job = run_io(engine.submit(plan, events.put)).unwrap()
    assert job.plan is plan
    return events


def plan_for(engine: Engine, text: str, **fields: object) -> GenerationPlan:
    prompt = tuple(engine.loaded.tokenizer.encode(text))
    return GenerationPlan(prompt=prompt, max_tokens=40, sampling=GREEDY, **fields)  # type: ignore[arg-type]


def test_a_constrained_sequence_ends_with_stop_and_valid_json(engine: Engine) -> None:
    base = plan_for(engine, "a point", grammar=json_schema_grammar(POINT))
    for seed in range(4):
        sampling = SamplingParams(temperature=Temperature(1.0), seed=Seed(seed))
        text, finished = collect_text(submit(engine, attrs.evolve(base, sampling=sampling)))
        assert finished.reason == "stop", text
        jsonschema.validate(json.loads(text), POINT)


def test_free_sequences_are_untouched_by_a_constrained_neighbour(engine: Engine) -> None:
    free = [plan_for(engine, f"tell me about the number {i}") for i in range(3)]
    alone = [collect_text(submit(engine, plan))[0] for plan in free]
    constrained = plan_for(engine, "a point", grammar=json_schema_grammar(POINT))
    queues = [submit(engine, constrained), *(submit(engine, plan) for plan in free)]
    results = [collect_text(q) for q in queues]
    assert [text for text, _ in results[1:]] == alone
    text, finished = results[0]
    assert finished.reason == "stop"
    jsonschema.validate(json.loads(text), POINT)
