"""The chat steps composed: a parsed request → the plan the engine runs."""

from __future__ import annotations

from typing import Any

import attrs
from returns.pipeline import flow
from returns.pointfree import bind
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, InvalidRequest, ModelNotFound
from mlxfn.domain.request import ChatRequest
from mlxfn.domain.tools import FunctionTool, ToolSpec
from mlxfn.domain.values import LOGIT_BIAS_LIMIT, LogitBias, ModelName
from mlxfn.pipeline.plan import GenerationPlan, Limits, build_plan, check_request_limits
from mlxfn.pipeline.prompt import ChatTokenizer, Prompt, build_prompt
from mlxfn.pipeline.reading import OutputReading, build_reading
from mlxfn.pipeline.tool_grammar import CallFormat, build_tool_grammar


def check_model(
    served: str, model: ModelName | None, aliases: frozenset[str] = frozenset()
) -> Result[None, ApiError]:
    """Only the served model answers, by its name or an alias (``*``: any name); any other
    name is a 404, as OpenAI does.

    >>> check_model("tiny", ModelName("gpt-4"))
    <Failure: ModelNotFound(model='gpt-4')>
    >>> check_model("tiny", ModelName("gpt-4"), frozenset({"gpt-4"}))
    <Success: None>
    """
    if model is None or model.value == served or model.value in aliases or "*" in aliases:
        return Success(None)
    return Failure(ModelNotFound(model.value))


def plan_chat(
    request: ChatRequest, tokenizer: ChatTokenizer, limits: Limits, served: str
) -> Result[GenerationPlan, ApiError]:
    """Check the model name and the server's caps, render and count the prompt, and fit it
    into the context."""

    def limits_of(_: None) -> Result[None, ApiError]:
        return check_request_limits(request, limits)

    def prompt_of(_: None) -> Result[Prompt, ApiError]:
        return build_prompt(
            request.conversation,
            tokenizer,
            offered_tools(request.tools),
            continue_final=request.continue_final,
        )

    def plan_of(prompt: Prompt) -> Result[GenerationPlan, ApiError]:
        return build_plan(request, prompt, limits)

    def read_with(plan: GenerationPlan) -> Result[GenerationPlan, ApiError]:
        reading = build_reading(request.tools, tokenizer, plan.prompt)
        return Success(plan_tool_calls(plan, reading, request.tools))

    def force_calls(plan: GenerationPlan) -> Result[GenerationPlan, ApiError]:
        return plan_forced_calls(
            ban_tool_calls(plan, request.tools, tokenizer), request.tools, tokenizer
        )

    return flow(
        check_model(served, request.model, limits.model_aliases),
        bind(limits_of),
        bind(prompt_of),
        bind(plan_of),
        bind(read_with),
        bind(force_calls),
    )


def plan_tool_calls(
    plan: GenerationPlan, reading: OutputReading, tools: ToolSpec | None
) -> GenerationPlan:
    """Settle how tool calls are read and bounded. Without ``parallel_tool_calls`` the
    generation ends at the first call's end marker (a stop string, so at most one call; the
    reader takes the call whose end the stop scan removed)."""
    calls = reading.markup.calls
    stop = plan.stop
    if tools is not None and not tools.parallel and calls is not None and calls.end:
        stop = (*stop, calls.end)
    return attrs.evolve(plan, reading=reading, stop=stop)


def ban_tool_calls(plan: GenerationPlan, tools: ToolSpec | None, tokenizer: Any) -> GenerationPlan:
    """``tool_choice: none``: a model that calls tools unasked must not start a call, so its
    call-start marker, when it is one token, gets OpenAI's banning bias (-100), over any bias
    the request gave it. A marker of several tokens cannot be banned this way (their parts
    are ordinary text); the template not showing the tools is then the only guard."""
    if tools is None or tools.choice != "none":
        return plan
    start = getattr(tokenizer, "tool_call_start_tokens", None)
    if not getattr(tokenizer, "has_tool_calling", False) or start is None or len(start) != 1:
        return plan
    sampling = plan.sampling
    biases = dict(sampling.logit_bias.entries) if sampling.logit_bias else {}
    biases[start[0]] = -LOGIT_BIAS_LIMIT
    banned = LogitBias(tuple(sorted(biases.items())))
    return attrs.evolve(plan, sampling=attrs.evolve(sampling, logit_bias=banned))


def offered_tools(tools: ToolSpec | None) -> tuple[FunctionTool, ...]:
    """The tools the template shows the model: none for ``tool_choice: none``, so that a
    model that has not seen them does not call them."""
    if tools is None or tools.choice == "none":
        return ()
    return tools.tools


def call_format_of(tokenizer: Any, reading: OutputReading) -> CallFormat | None:
    """What the forced-call grammar needs of the model's markup, from mlx-lm's tokenizer
    wrapper: its parser's module name, and which markers are single tokens. The generic
    format is json_tools' markup, written as text: its markers are no special tokens."""
    calls = reading.markup.calls
    parser = getattr(tokenizer, "tool_parser", None)
    if calls is None:
        return None
    singles: list[tuple[str, Any]] = []
    if reading.tool_format == "generic":
        name = "json_tools"
    elif parser is None:
        return None
    else:
        name = str(getattr(parser, "__module__", "")).rpartition(".")[2]
        singles += [
            (calls.start, getattr(tokenizer, "tool_call_start_tokens", None)),
            (calls.end, getattr(tokenizer, "tool_call_end_tokens", None)),
        ]
    thinking = reading.markup.thinking
    if thinking is not None:
        singles += [
            (thinking.start, getattr(tokenizer, "think_start_tokens", None)),
            (thinking.end, getattr(tokenizer, "think_end_tokens", None)),
        ]
    return CallFormat(
        parser=name,
        calls=calls,
        tokens=frozenset(text for text, ids in singles if ids is not None and len(ids) == 1),
        thinking=thinking,
        starts_thinking=reading.markup.starts_thinking,
    )


def plan_forced_calls(
    plan: GenerationPlan, tools: ToolSpec | None, tokenizer: Any
) -> Result[GenerationPlan, ApiError]:
    """``tool_choice: required`` or a named function: the grammar of the model's call markup
    becomes the plan's grammar, so the engine lets the model write nothing else."""
    if tools is None or not tools.forced:
        return Success(plan)
    if plan.grammar is not None:
        return Failure(
            InvalidRequest(
                "a forced tool_choice and a JSON response_format cannot both constrain "
                "one answer; send one of them",
                param="response_format",
            )
        )
    return build_tool_grammar(tools, call_format_of(tokenizer, plan.reading)).map(
        lambda grammar: attrs.evolve(plan, grammar=grammar)
    )
