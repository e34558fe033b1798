"""Samplers: greedy at temperature 0, reproducible per seed, and independent of MLX's global RNG."""

from __future__ import annotations

import mlx.core as mx
import pytest

from mlxfn.domain.request import DEFAULT_TOP_P, SamplingParams
from mlxfn.domain.values import (
    LogitBias,
    MinP,
    Penalty,
    RepetitionPenalty,
    Seed,
    Temperature,
    TopK,
    TopP,
)
from mlxfn.engine.sampling import Sampler, greedy, make_logits_processors, make_sampler
from mlxfn.pipeline.plan import GenerationPlan

VOCAB = 512
STEPS = 24


def logprobs_rows(count: int = STEPS, seed: int = 7) -> list[mx.array]:
    """Fixed, fairly flat log-probability rows shaped like the model's: (1, vocab)."""
    logits = mx.random.normal((count, 1, VOCAB), key=mx.random.key(seed))
    rows = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    return [rows[i] for i in range(count)]


def token_of(sampled: mx.array) -> int:
    assert sampled.shape == (1,)
    tokens = sampled.tolist()
    assert isinstance(tokens, list)
    assert isinstance(tokens[0], int)
    return tokens[0]


def draw(sampler: Sampler, rows: list[mx.array]) -> list[int]:
    return [token_of(sampler(row)) for row in rows]


def params(
    temperature: float = 1.0,
    seed: int | None = None,
    *,
    top_p: TopP = DEFAULT_TOP_P,
    top_k: TopK | None = None,
    min_p: MinP | None = None,
) -> SamplingParams:
    return SamplingParams(
        temperature=Temperature(temperature),
        seed=Seed(seed) if seed is not None else None,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
    )


def argmaxes(rows: list[mx.array]) -> list[int]:
    return [token_of(mx.argmax(row, axis=-1)) for row in rows]


def test_temperature_zero_is_greedy() -> None:
    sampler = make_sampler(params(temperature=0.0, seed=5))
    assert sampler is greedy
    row = mx.array([[0.1, 3.0, -1.0, 2.9]])
    assert sampler(row).tolist() == [1]
    rows = logprobs_rows()
    assert draw(sampler, rows) == argmaxes(rows)


def test_the_same_seed_gives_the_same_tokens() -> None:
    rows = logprobs_rows()
    first = draw(make_sampler(params(seed=1234)), rows)
    second = draw(make_sampler(params(seed=1234)), rows)
    assert first == second
    # The rows are flat enough that sampling really samples: not just the argmax every time.
    assert first != argmaxes(rows)


def test_different_seeds_give_different_tokens() -> None:
    rows = logprobs_rows()
    assert draw(make_sampler(params(seed=1)), rows) != draw(make_sampler(params(seed=2)), rows)


def test_negative_and_extreme_seeds_work() -> None:
    rows = logprobs_rows(count=4)
    for seed in (-(2**63), -1, 0, 2**63 - 2):
        a = draw(make_sampler(params(seed=seed)), rows)
        assert a == draw(make_sampler(params(seed=seed)), rows)


def test_samplers_with_the_same_seed_do_not_share_state() -> None:
    rows = logprobs_rows()
    alone = draw(make_sampler(params(seed=99)), rows)
    a, b = make_sampler(params(seed=99)), make_sampler(params(seed=99))
    interleaved_a, interleaved_b = [], []
    for row in rows:  # alternate calls, as the engine does for concurrent sequences
        interleaved_a.append(token_of(a(row)))
        interleaved_b.append(token_of(b(row)))
    assert interleaved_a == alone
    assert interleaved_b == alone


def test_top_k_one_at_temperature_one_is_greedy() -> None:
    rows = logprobs_rows()
    assert draw(make_sampler(params(seed=3, top_k=TopK(1))), rows) == argmaxes(rows)


def test_tiny_top_p_and_full_min_p_are_greedy() -> None:
    # Rows with a clear winner, so nucleus and min-p filtering keep one token only.
    rows = [
        row + mx.where(mx.arange(VOCAB) == 17 + i, 20.0, 0.0)
        for i, row in enumerate(logprobs_rows(4))
    ]
    assert draw(make_sampler(params(seed=3, top_p=TopP(1e-6))), rows) == argmaxes(rows)
    assert draw(make_sampler(params(seed=3, min_p=MinP(1.0))), rows) == argmaxes(rows)


def test_unseeded_samplers_still_sample() -> None:
    rows = logprobs_rows()
    tokens = draw(make_sampler(params()), rows)
    assert all(0 <= t < VOCAB for t in tokens)


def test_sampling_ignores_and_keeps_mlx_global_random_state() -> None:
    rows = logprobs_rows()
    expected = draw(make_sampler(params(seed=42)), rows)

    sampler = make_sampler(params(seed=42, top_p=TopP(0.9), top_k=TopK(50), min_p=MinP(0.01)))
    plain = make_sampler(params(seed=42))
    disturbed = []
    for i, row in enumerate(rows):
        mx.random.seed(1000 + i)  # someone else using MLX's global generator in between
        mx.eval(mx.random.uniform(shape=(3,)))
        disturbed.append(token_of(plain(row)))
        sampler(row)
    assert disturbed == expected

    # And the sampler leaves the global generator where it was.
    mx.random.seed(5)
    before = mx.random.uniform(shape=(4,)).tolist()
    mx.random.seed(5)
    draw(make_sampler(params(seed=42, top_p=TopP(0.9), top_k=TopK(50), min_p=MinP(0.01))), rows)
    assert mx.random.uniform(shape=(4,)).tolist() == before


def test_top_k_larger_than_the_vocabulary_keeps_every_token() -> None:
    rows = logprobs_rows()
    expected = draw(make_sampler(params(seed=8)), rows)
    assert draw(make_sampler(params(seed=8, top_k=TopK(VOCAB * 4))), rows) == expected


def _plan(prompt_length: int, **sampling: object) -> GenerationPlan:
    return GenerationPlan(
        prompt=tuple(range(prompt_length)),
        max_tokens=4,
        sampling=SamplingParams(**sampling),  # type: ignore[arg-type]
    )


def _apply(plan: GenerationPlan, tokens: list[int], logits: mx.array) -> mx.array:
    for processor in make_logits_processors(plan):
        logits = processor(mx.array(tokens), logits)
    return logits


def test_no_fields_no_processors() -> None:
    assert make_logits_processors(_plan(3)) == []


def test_logit_bias_forces_and_bans_under_greedy() -> None:
    row = mx.array([[0.0, 5.0, 1.0, 2.0]])
    forced = _plan(1, logit_bias=LogitBias(((2, 100.0),)))
    assert greedy(_apply(forced, [0], row)).tolist() == [2]
    banned = _plan(1, logit_bias=LogitBias(((1, -100.0),)))
    assert greedy(_apply(banned, [0], row)).tolist() == [3]


def test_penalties_count_the_completion_only() -> None:
    row = mx.array([[0.0, 5.0, 4.5, 1.0]])
    plan = _plan(2, presence_penalty=Penalty(1.0))
    # token 1 is in the prompt (positions 0-1) only: no penalty
    assert greedy(_apply(plan, [1, 1], row)).tolist() == [1]
    # generated once: 5 - 1 < 4.5
    assert greedy(_apply(plan, [1, 1, 1], row)).tolist() == [2]
    frequency = _plan(1, frequency_penalty=Penalty(0.3))
    out = _apply(frequency, [0, 1, 1], row)
    assert out.tolist()[0] == pytest.approx([0.0, 4.4, 4.5, 1.0])
    assert greedy(out).tolist() == [2]


def test_repetition_penalty_is_mlx_lms() -> None:
    row = mx.array([[0.0, 5.0, 4.5, 1.0]])
    plan = _plan(1, repetition_penalty=RepetitionPenalty(2.0))
    assert _apply(plan, [1], row).tolist()[0] == pytest.approx([0.0, 2.5, 4.5, 1.0])
