"""Synthetic chat data for mlxfn-demo: pure, seeded, OpenAI-shaped. No MLX here.

A sample is a dict with ``messages`` (OpenAI chat messages) and ``tools`` (OpenAI tool specs, or
an empty list). The tasks: addition of two numbers 0-99, capitals and colours from the tables
below, simple instructions, greetings, and Hermes-style tool calls when tools are offered.

Addition keeps a fixed tenth of the unordered operand pairs out of training (``is_held_out``),
so the evaluation measures addition, not recall:

>>> is_held_out(17, 25) == is_held_out(25, 17)
True
>>> sum(is_held_out(a, b) for a in range(100) for b in range(a, 100)) > 400
True
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Final

Message = dict[str, Any]
Sample = dict[str, Any]

DEMO_NAME: Final = "mlxfn-demo"

CAPITALS: Final[dict[str, str]] = {
    "France": "Paris",
    "Germany": "Berlin",
    "Italy": "Rome",
    "Spain": "Madrid",
    "Portugal": "Lisbon",
    "Japan": "Tokyo",
    "China": "Beijing",
    "India": "New Delhi",
    "Brazil": "Brasilia",
    "Canada": "Ottawa",
    "Mexico": "Mexico City",
    "Egypt": "Cairo",
    "Kenya": "Nairobi",
    "Australia": "Canberra",
    "Russia": "Moscow",
    "Norway": "Oslo",
    "Sweden": "Stockholm",
    "Finland": "Helsinki",
    "Poland": "Warsaw",
    "Greece": "Athens",
    "Turkey": "Ankara",
    "Peru": "Lima",
    "Chile": "Santiago",
    "Argentina": "Buenos Aires",
    "Ireland": "Dublin",
    "Austria": "Vienna",
    "Hungary": "Budapest",
    "Thailand": "Bangkok",
    "Vietnam": "Hanoi",
    "South Korea": "Seoul",
    "Netherlands": "Amsterdam",
    "Belgium": "Brussels",
    "Denmark": "Copenhagen",
}

COLOURS: Final[dict[str, str]] = {
    "the sky": "blue",
    "grass": "green",
    "snow": "white",
    "coal": "black",
    "a banana": "yellow",
    "a tomato": "red",
    "an orange": "orange",
    "a lemon": "yellow",
    "milk": "white",
    "a strawberry": "red",
    "a frog": "green",
    "chocolate": "brown",
}

WORDS: Final = [
    "cat",
    "dog",
    "sun",
    "moon",
    "tree",
    "book",
    "fish",
    "bird",
    "star",
    "rain",
    "apple",
    "bread",
    "river",
    "stone",
    "cloud",
    "lamp",
    "chair",
    "house",
    "road",
    "ship",
    "milk",
    "salt",
    "wolf",
    "bear",
    "frog",
    "leaf",
    "rose",
    "king",
    "door",
    "cake",
    "tea",
    "box",
]

CITIES: Final = [
    "Paris",
    "Berlin",
    "Rome",
    "Madrid",
    "Lisbon",
    "Tokyo",
    "London",
    "Oslo",
    "Cairo",
    "Lima",
    "Dublin",
    "Vienna",
    "Seoul",
    "Hanoi",
    "Moscow",
    "Athens",
    "Warsaw",
    "Prague",
    "Sydney",
    "Toronto",
    "Chicago",
    "Boston",
    "Denver",
    "Nairobi",
    "Bangkok",
    "Zurich",
]

CONDITIONS: Final = ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy")

GREETING: Final = (
    f"Hello! I am {DEMO_NAME}, a tiny demo model. "
    "I can add two numbers, name capitals, follow simple instructions and call tools."
)
IDENTITY: Final = f"I am {DEMO_NAME}, a tiny demo model trained with MLX on synthetic chats."
NO_WEATHER: Final = "I cannot check the weather without a weather tool."

TOOLS: Final[dict[str, dict[str, Any]]] = {
    "get_weather": {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    "add": {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    },
    "get_capital": {
        "type": "function",
        "function": {
            "name": "get_capital",
            "description": "Capital city of a country",
            "parameters": {
                "type": "object",
                "properties": {"country": {"type": "string"}},
                "required": ["country"],
            },
        },
    },
}

SYSTEM_PROMPTS: Final = (
    "You are a helpful assistant.",
    f"You are {DEMO_NAME}.",
    "Answer briefly.",
)

_ADD_PHRASES: Final = (
    "What is {a} + {b}?",
    "Add {a} and {b}.",
    "{a}+{b}=?",
    "Compute {a} plus {b}",
    "What is {a} plus {b}?",
    "How much is {a} + {b}?",
    "Calculate {a} + {b}.",
    "What's the sum of {a} and {b}?",
    "{a} + {b}",
)
_CAPITAL_PHRASES: Final = (
    "What is the capital of {c}?",
    "What's the capital of {c}?",
    "Name the capital of {c}.",
    "Which city is the capital of {c}?",
    "Capital of {c}?",
)
_COLOUR_PHRASES: Final = ("What colour is {t}?", "What color is {t}?")
_REPEAT_PHRASES: Final = (
    "Repeat the word {w} {n} times.",
    "Say {w} {n} times.",
    "Write {w} {n} times.",
)
_UPPER_PHRASES: Final = ("Say {w} in uppercase.", "Write {w} in capital letters.", "Uppercase: {w}")
_REVERSE_PHRASES: Final = ("Reverse the list: {items}", "Reverse these words: {items}")
_GREETINGS: Final = ("Hello!", "Hi", "Hi!", "Hello", "Hey there!", "Good morning!", "hello")
_IDENTITY_QUESTIONS: Final = (
    "Who are you?",
    "What is your name?",
    "What are you?",
    "Introduce yourself.",
)
_WEATHER_PHRASES: Final = (
    "What's the weather in {city}?",
    "What is the weather like in {city} today?",
    "How is the weather in {city}?",
    "Weather in {city}?",
)


def is_held_out(a: int, b: int) -> bool:
    """Whether the unordered pair {a, b} is kept out of training: about one pair in ten."""
    low, high = min(a, b), max(a, b)
    return zlib.crc32(f"{low},{high}".encode()) % 10 == 0


def held_out_pairs(low: int = 10) -> list[tuple[int, int]]:
    """Every ordered held-out pair with both operands in [low, 99].

    >>> all(is_held_out(a, b) for a, b in held_out_pairs())
    True
    """
    return [(a, b) for a in range(low, 100) for b in range(low, 100) if is_held_out(a, b)]


def sum_answer(a: int, b: int) -> str:
    """A sum stated, as the reply to an ``add`` tool's result.

    >>> sum_answer(17, 25)
    '17 + 25 = 42.'
    """
    return f"{a} + {b} = {a + b}."


def addition_answer(a: int, b: int) -> str:
    """The reply to an addition question: the operands, the work column by column, the sum.

    Written out, each step is a one-digit sum of digits that stand just before it, which a
    2M-parameter model learns in minutes; the whole sum in one step it did not learn in an hour.

    >>> addition_answer(17, 25)
    '17 + 25: 7 + 5 = 12, carry 1; 1 + 2 + 1 = 4; so 17 + 25 = 42.'
    >>> addition_answer(3, 4)
    '3 + 4: 3 + 4 = 7, carry 0; 0 + 0 + 0 = 0; so 3 + 4 = 7.'
    """
    units = a % 10 + b % 10
    carry = units // 10
    tens = a // 10 + b // 10 + carry
    return (
        f"{a} + {b}: {a % 10} + {b % 10} = {units}, carry {carry}; "
        f"{a // 10} + {b // 10} + {carry} = {tens}; so {a} + {b} = {a + b}."
    )


def capital_answer(country: str) -> str:
    """The reply to a capital question.

    >>> capital_answer("France")
    'The capital of France is Paris.'
    """
    return f"The capital of {country} is {CAPITALS[country]}."


def weather_answer(report: dict[str, Any]) -> str:
    """The reply that puts a get_weather result into words."""
    return f"It is {report['condition']} and {report['temperature']} degrees in {report['city']}."


def tool_call_message(name: str, arguments: dict[str, Any]) -> Message:
    """An assistant message that calls one tool, as OpenAI's API returns it."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


def _user(text: str) -> Message:
    return {"role": "user", "content": text}


def _assistant(text: str) -> Message:
    return {"role": "assistant", "content": text}


def _pair(rng: random.Random, *, held_out: bool, two_digit: bool = False) -> tuple[int, int]:
    low = 10 if two_digit else 0
    while True:
        a, b = rng.randint(low, 99), rng.randint(low, 99)
        if is_held_out(a, b) == held_out:
            return a, b


def _with_operands(phrase: str, a: int, b: int) -> str:
    return phrase.format(a=a, b=b)


def addition_exchange(rng: random.Random, *, held_out: bool = False) -> list[Message]:
    """One addition question and its answer."""
    a, b = _pair(rng, held_out=held_out)
    return [
        _user(_with_operands(rng.choice(_ADD_PHRASES), a, b)),
        _assistant(addition_answer(a, b)),
    ]


def fact_exchange(rng: random.Random) -> list[Message]:
    """A capital or colour question from the tables."""
    if rng.random() < 0.75:
        country = rng.choice(list(CAPITALS))
        question = rng.choice(_CAPITAL_PHRASES).format(c=country)
        return [_user(question), _assistant(capital_answer(country))]
    thing = rng.choice(list(COLOURS))
    answer = f"{thing[0].upper()}{thing[1:]} is {COLOURS[thing]}."
    return [_user(rng.choice(_COLOUR_PHRASES).format(t=thing)), _assistant(answer)]


def instruction_exchange(rng: random.Random) -> list[Message]:
    """Repeat a word, uppercase a word, or reverse a short list."""
    kind = rng.randrange(3)
    if kind == 0:
        word, n = rng.choice(WORDS), rng.randint(2, 5)
        question = rng.choice(_REPEAT_PHRASES).format(w=word, n=n)
        return [_user(question), _assistant(" ".join([word] * n))]
    if kind == 1:
        word = rng.choice(WORDS)
        return [_user(rng.choice(_UPPER_PHRASES).format(w=word)), _assistant(word.upper())]
    items = rng.sample(WORDS, rng.randint(2, 4))
    question = rng.choice(_REVERSE_PHRASES).format(items=", ".join(items))
    return [_user(question), _assistant(", ".join(reversed(items)))]


def chat_exchange(rng: random.Random) -> list[Message]:
    """A greeting or a question about the model itself."""
    if rng.random() < 0.5:
        return [_user(rng.choice(_GREETINGS)), _assistant(GREETING)]
    return [_user(rng.choice(_IDENTITY_QUESTIONS)), _assistant(IDENTITY)]


def weather_report(rng: random.Random, city: str) -> dict[str, Any]:
    """What a get_weather tool might return."""
    return {"city": city, "temperature": rng.randint(-5, 35), "condition": rng.choice(CONDITIONS)}


def tool_exchange(rng: random.Random, tool: str, *, follow_up: bool) -> list[Message]:
    """A question the offered ``tool`` answers: the call, and (if ``follow_up``) the result and
    the answer in words."""
    if tool == "get_weather":
        city = rng.choice(CITIES)
        question = rng.choice(_WEATHER_PHRASES).format(city=city)
        call = tool_call_message("get_weather", {"city": city})
        report = weather_report(rng, city)
        result, answer = json.dumps(report), weather_answer(report)
    elif tool == "add":
        a, b = _pair(rng, held_out=False)
        question = _with_operands(rng.choice(_ADD_PHRASES), a, b)
        call = tool_call_message("add", {"a": a, "b": b})
        result, answer = str(a + b), sum_answer(a, b)
    else:
        country = rng.choice(list(CAPITALS))
        question = rng.choice(_CAPITAL_PHRASES).format(c=country)
        call = tool_call_message("get_capital", {"country": country})
        result, answer = CAPITALS[country], capital_answer(country)
    turns = [_user(question), call]
    if follow_up:
        turns += [{"role": "tool", "tool_call_id": "call_0", "content": result}, _assistant(answer)]
    return turns


def _offered(rng: random.Random, must: str | None, never: str | None) -> list[dict[str, Any]]:
    names = [n for n in TOOLS if n not in (must, never)]
    chosen = rng.sample(names, rng.randint(0 if must else 1, len(names)))
    if must is not None:
        chosen.append(must)
    rng.shuffle(chosen)
    return [TOOLS[n] for n in chosen]


def _tool_sample(rng: random.Random) -> tuple[list[Message], list[dict[str, Any]]]:
    roll = rng.random()
    if roll < 0.7:  # a question an offered tool answers
        tool = rng.choice(list(TOOLS))
        tools = _offered(rng, tool, None)
        return tool_exchange(rng, tool, follow_up=rng.random() < 0.5), tools
    return _untooled_sample(rng)


def _untooled_sample(rng: random.Random) -> tuple[list[Message], list[dict[str, Any]]]:
    # tools are offered but this question needs none of them: answer as usual
    kind = rng.randrange(4)
    if kind == 0:
        return addition_exchange(rng), _offered(rng, None, "add")
    if kind == 1:
        return fact_exchange(rng), _offered(rng, None, "get_capital")
    if kind == 2:
        return chat_exchange(rng), _offered(rng, None, None)
    return instruction_exchange(rng), _offered(rng, None, None)


def _no_weather(rng: random.Random) -> list[Message]:
    city = rng.choice(CITIES)
    return [_user(rng.choice(_WEATHER_PHRASES).format(city=city)), _assistant(NO_WEATHER)]


# Task → (share of the training mix, generator). Addition gets the most: it is the hardest.
_MIX: Final[tuple[tuple[float, Callable[[random.Random], list[Message]]], ...]] = (
    (0.6, addition_exchange),
    (0.12, fact_exchange),
    (0.12, instruction_exchange),
    (0.05, chat_exchange),
    (0.02, _no_weather),
)
_TOOL_SHARE: Final = 0.15


def training_sample(rng: random.Random) -> Sample:
    """One training conversation, drawn from the task mix (held-out pairs never appear)."""
    roll = rng.random()
    tools: list[dict[str, Any]] = []
    if roll < _TOOL_SHARE:
        messages, tools = _tool_sample(rng)
    else:
        roll = (roll - _TOOL_SHARE) / (1 - _TOOL_SHARE) * sum(w for w, _ in _MIX)
        for weight, make in _MIX:  # noqa: B007  (the loop picks `make`)
            if roll < weight:
                break
            roll -= weight
        messages = make(rng)
    if rng.random() < 0.15:
        messages = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}, *messages]
    if rng.random() < 0.05 and isinstance(messages[-1]["content"], str):
        # some clients send content as a list of text parts
        messages[-2] = {
            **messages[-2],
            "content": [{"type": "text", "text": messages[-2]["content"]}],
        }
    return {"messages": messages, "tools": tools}


def training_samples(seed: int, count: int) -> list[Sample]:
    """``count`` training conversations; the same seed gives the same list.

    >>> training_samples(0, 3) == training_samples(0, 3)
    True
    """
    rng = random.Random(seed)
    return [training_sample(rng) for _ in range(count)]


def eval_cases(seed: int, per_task: int) -> list[tuple[str, Sample]]:
    """Held-out evaluation cases as (task, sample): the sample's last message is the expected
    assistant reply. Addition uses only held-out pairs of two 2-digit numbers."""
    rng = random.Random(seed)
    cases: list[tuple[str, Sample]] = []

    def add(task: str, messages: Sequence[Message], tools: list[dict[str, Any]]) -> None:
        cases.append((task, {"messages": list(messages), "tools": tools}))

    for _ in range(per_task):
        a, b = _pair(rng, held_out=True, two_digit=True)
        question = _with_operands(rng.choice(_ADD_PHRASES), a, b)
        add("addition", [_user(question), _assistant(addition_answer(a, b))], [])
    for _ in range(per_task):
        add("facts", fact_exchange(rng), [])
    for _ in range(per_task):
        add("instructions", instruction_exchange(rng), [])
    for _ in range(per_task // 4 or 1):
        add("chat", chat_exchange(rng), [])
    for _ in range(per_task):
        tool = rng.choice(list(TOOLS))
        add("tool_call", tool_exchange(rng, tool, follow_up=False), _offered(rng, tool, None))
    for _ in range(per_task // 2 or 1):
        tool = rng.choice(list(TOOLS))
        add("tool_answer", tool_exchange(rng, tool, follow_up=True), _offered(rng, tool, None))
    for _ in range(per_task // 2 or 1):
        add("tools_offered_no_call", *_untooled_sample(rng))
    return cases
