"""The benchmark's load: scenarios and their prompts, as plain data.

Every request gets a unique opening tag (scenario, repetition, index), so no server can answer
one scenario from a prompt cache filled by another; only the multi-turn scenario shares a
prefix on purpose. Prompts are cut to a token budget with the served model's own tokenizer and
chat template, so "1k tokens" means 1k tokens as the servers count them.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Message = dict[str, str]
Kind = Literal["wave", "multiturn", "burst"]

_WORD_TEXT = (
    "the a an of to in and for on with at by from about as into over after under between "
    "model server token request answer question result value number list table window river "
    "city mountain weather morning evening winter summer garden kitchen library station "
    "engine thread queue batch cache memory prompt stream latency budget report summary "
    "small large quick slow bright quiet careful simple early late green blue red yellow "
    "runs reads writes waits sends holds keeps finds builds checks counts measures returns "
    "people student teacher doctor farmer writer painter driver sailor baker child friend "
    "because while when although before until since unless whether which that where who "
    "music story letter picture journey history science language market island forest "
    "one two three four five seven ten twelve twenty hundred thousand first second last "
    "Paris Tokyo Lisbon Cairo Lima Oslo Seoul Nairobi Denver Madrid Hanoi Quebec Perth"
)
_WORDS = tuple(_WORD_TEXT.split())


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: Kind
    description: str
    prompt_tokens: int
    concurrency: int = 1
    stream: bool = True


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("short-c1", "wave", "one ~20-token prompt at a time", 20, 1),
    Scenario("short-c4", "wave", "4 concurrent ~20-token prompts", 20, 4),
    Scenario("short-c16", "wave", "16 concurrent ~20-token prompts", 20, 16),
    Scenario("long-c1", "wave", "one ~1k-token prompt at a time", 1024, 1),
    Scenario("long-c4", "wave", "4 concurrent ~1k-token prompts", 1024, 4),
    Scenario("long-c16", "wave", "16 concurrent ~1k-token prompts", 1024, 16),
    Scenario("json-short-c4", "wave", "4 concurrent short prompts, non-streaming", 20, 4, False),
    Scenario("json-long-c1", "wave", "one ~1k-token prompt, non-streaming", 1024, 1, False),
    Scenario(
        "multiturn",
        "multiturn",
        "cold ~1.1k-token turn, then a follow-up turn sharing that prefix",
        1100,
    ),
    Scenario("burst", "burst", "a ~2k-token prompt arriving while 8 short streams run", 2000, 8),
)
SCENARIO_NAMES: tuple[str, ...] = tuple(s.name for s in SCENARIOS)
DEFAULT_SCENARIOS: tuple[str, ...] = SCENARIO_NAMES
QUICK_SCENARIOS: tuple[str, ...] = (
    "short-c1",
    "short-c4",
    "long-c1",
    "json-short-c4",
    "multiturn",
    "burst",
)
QUICK_PROMPT_SCALE = 0.25  # --quick: a quarter of the long prompts (256, 275, 500 tokens)

# Short streams in the burst scenario get this many times --max-tokens, so they are still
# running when the long prompt's prefill ends; the long prompt joins after this fraction.
BURST_STREAM_FACTOR = 2
BURST_JOIN_AFTER = 0.25
FOLLOW_UP = "Thanks. Now answer again in two sentences, and name the cities you mentioned."


@dataclass(frozen=True)
class Conversation:
    """The requests one repetition of a scenario sends, in order of arrival."""

    requests: tuple[tuple[Message, ...], ...]
    # burst: requests[-1] is the long prompt; multiturn: requests[0] is turn one, and turn two
    # is built from its answer with ``follow_up_turn``.


def scenario_named(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The scenario with long prompts shrunk (short prompts stay short)."""
    if scenario.prompt_tokens <= 64:
        return scenario
    tokens = max(64, round(scenario.prompt_tokens * factor))
    return Scenario(
        scenario.name,
        scenario.kind,
        scenario.description,
        tokens,
        scenario.concurrency,
        scenario.stream,
    )


CountTokens = Callable[[Sequence[Message]], int]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def fit_messages(
    count: CountTokens,
    target: int,
    tag: str,
    build: Callable[[str], list[Message]],
    *,
    seed: str,
) -> tuple[Message, ...]:
    """The longest ``build(tag + words)`` whose templated prompt has at most ``target`` tokens."""
    rng = random.Random(seed)
    pool = _words(rng, 4 * target + 16).split(" ")

    def size(n: int) -> int:
        return count(build(f"{tag} {' '.join(pool[:n])}"))

    low, high = 0, len(pool)
    while low < high:  # largest n with size(n) <= target
        mid = (low + high + 1) // 2
        if size(mid) <= target:
            low = mid
        else:
            high = mid - 1
    return tuple(build(f"{tag} {' '.join(pool[:low])}"))


def _user_prompt(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


def _short_question(seed: str) -> str:
    rng = random.Random(seed)
    return f"Question: {_words(rng, 6)}?"


def _document_and_question(question: str) -> Callable[[str], list[Message]]:
    def build(text: str) -> list[Message]:
        return [
            {"role": "system", "content": f"Read this document and answer briefly.\n{text}"},
            {"role": "user", "content": question},
        ]

    return build


def _tag(key: str) -> str:
    """A short opening tag (a few tokens) unique to the request, so prompts share no prefix.

    >>> _tag("f32/short-c1/0/0")
    '#36861:'
    """
    return f"#{zlib.crc32(key.encode()) % 100_000}:"


def build_conversation(
    scenario: Scenario, count: CountTokens, *, variant: str, repetition: int
) -> Conversation:
    """The prompts for one repetition: same inputs give the same prompts, for every server."""
    prefix = f"{variant}/{scenario.name}/{repetition}"

    def user_prompt(key: str, tokens: int) -> tuple[Message, ...]:
        return fit_messages(count, tokens, _tag(key), _user_prompt, seed=key)

    match scenario.kind:
        case "wave":
            return Conversation(
                tuple(
                    user_prompt(f"{prefix}/{i}", scenario.prompt_tokens)
                    for i in range(scenario.concurrency)
                )
            )
        case "multiturn":
            first = fit_messages(
                count,
                scenario.prompt_tokens,
                _tag(prefix),
                _document_and_question(_short_question(prefix)),
                seed=prefix,
            )
            return Conversation((first,))
        case "burst":
            streams = tuple(user_prompt(f"{prefix}/{i}", 20) for i in range(scenario.concurrency))
            long_prompt = user_prompt(f"{prefix}/long", scenario.prompt_tokens)
            return Conversation((*streams, long_prompt))


def follow_up_turn(first: Sequence[Message], answer: str) -> tuple[Message, ...]:
    """Turn two of the multi-turn scenario: turn one, its answer, and a short follow-up."""
    return (
        *first,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": FOLLOW_UP},
    )
