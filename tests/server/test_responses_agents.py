"""The openai-agents SDK over ``/v1/responses``: an Agent with a function tool, run against
the demo model (which really calls tools), the SDK set to the Responses API and no tracing
(there is no network here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import agents
import pytest
from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool
from openai import AsyncOpenAI

from tests.conftest import ServerProcess, StartServer
from tests.demo import DEMO_MODEL_DIR

DEMO = "mlxfn-demo"
REPORT = {"city": "Tokyo", "temperature": 21, "condition": "snowy"}
called: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    called.append(city)
    return json.dumps({**REPORT, "city": city})


@pytest.fixture(scope="module")
def demo_server(start_server: StartServer) -> ServerProcess:
    return start_server("--model", str(DEMO_MODEL_DIR), "--served-model-name", DEMO)


@pytest.fixture
async def model(demo_server: ServerProcess) -> AsyncIterator[OpenAIResponsesModel]:
    agents.set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=f"{demo_server.url}/v1", api_key="unused", max_retries=0)
    yield OpenAIResponsesModel(model=DEMO, openai_client=client)
    await client.close()


async def test_the_tool_result_ends_the_run(model: OpenAIResponsesModel) -> None:
    called.clear()
    agent = Agent(
        name="weather",
        tools=[get_weather],
        model=model,
        model_settings=ModelSettings(tool_choice="required", temperature=0),
        tool_use_behavior="stop_on_first_tool",
    )
    result = await Runner.run(agent, "What's the weather in Tokyo?")
    assert len(called) == 1
    assert json.loads(result.final_output) == {**REPORT, "city": called[0]}


async def test_the_model_answers_from_the_tool_result(model: OpenAIResponsesModel) -> None:
    called.clear()
    # required for the first turn; the SDK resets the choice to auto after a call, so the
    # second turn answers in words from the tool's output
    agent = Agent(
        name="weather",
        tools=[get_weather],
        model=model,
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=48),
    )
    result = await Runner.run(agent, "What's the weather in Tokyo?", max_turns=3)
    assert len(called) == 1
    assert "snowy" in result.final_output
