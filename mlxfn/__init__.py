"""mlxfn: an OpenAI-compatible LLM server and library on MLX, in a functional style.

The pipeline pieces are plain functions that compose with ``returns.pipeline.flow``::

    engine = start_engine(ModelSpec(source="./tiny"))   # IOResult[Engine, ModelLoadFailed]
    request = parse_chat_request(body)                  # Result[ChatRequest, ApiError]
    plan = request.bind(lambda r: plan_chat(r, tokenizer, limits, served_name))

Each name here is imported from its module on first use, so ``import mlxfn.domain`` loads
neither MLX nor aiohttp; the engine loads the fast BLAS before it imports MLX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from mlxfn._version import __version__

if TYPE_CHECKING:
    from mlxfn.domain.errors import ApiError, error_status
    from mlxfn.domain.events import Completion, Delta, Event, Failed, Finished, Usage
    from mlxfn.domain.request import ChatRequest, CompletionRequest
    from mlxfn.engine.loader import ModelSpec, default_model_spec, load_model
    from mlxfn.engine.thread import Engine, EngineConfig, start_engine
    from mlxfn.notebook import chat, generate
    from mlxfn.pipeline.chat import check_model, plan_chat
    from mlxfn.pipeline.completion import assemble_completion
    from mlxfn.pipeline.plan import GenerationPlan, Limits, build_plan
    from mlxfn.pipeline.prompt import Prompt, build_prompt
    from mlxfn.pipeline.text_completion import plan_text_completion
    from mlxfn.server.app import make_app
    from mlxfn.server.background import BackgroundServer, serve_in_background
    from mlxfn.wire.completion_requests import parse_completion_request
    from mlxfn.wire.requests import parse_chat_request
    from mlxfn.wire.responses import render_completion, render_error

# Each public name → the module that defines it.
_EXPORTS: Final = {
    "ApiError": "mlxfn.domain.errors",
    "error_status": "mlxfn.domain.errors",
    "Completion": "mlxfn.domain.events",
    "Delta": "mlxfn.domain.events",
    "Event": "mlxfn.domain.events",
    "Failed": "mlxfn.domain.events",
    "Finished": "mlxfn.domain.events",
    "Usage": "mlxfn.domain.events",
    "ChatRequest": "mlxfn.domain.request",
    "CompletionRequest": "mlxfn.domain.request",
    "ModelSpec": "mlxfn.engine.loader",
    "default_model_spec": "mlxfn.engine.loader",
    "load_model": "mlxfn.engine.loader",
    "Engine": "mlxfn.engine.thread",
    "EngineConfig": "mlxfn.engine.thread",
    "start_engine": "mlxfn.engine.thread",
    "chat": "mlxfn.notebook",
    "generate": "mlxfn.notebook",
    "check_model": "mlxfn.pipeline.chat",
    "plan_chat": "mlxfn.pipeline.chat",
    "assemble_completion": "mlxfn.pipeline.completion",
    "GenerationPlan": "mlxfn.pipeline.plan",
    "Limits": "mlxfn.pipeline.plan",
    "build_plan": "mlxfn.pipeline.plan",
    "Prompt": "mlxfn.pipeline.prompt",
    "build_prompt": "mlxfn.pipeline.prompt",
    "plan_text_completion": "mlxfn.pipeline.text_completion",
    "make_app": "mlxfn.server.app",
    "BackgroundServer": "mlxfn.server.background",
    "serve_in_background": "mlxfn.server.background",
    "parse_completion_request": "mlxfn.wire.completion_requests",
    "parse_chat_request": "mlxfn.wire.requests",
    "render_completion": "mlxfn.wire.responses",
    "render_error": "mlxfn.wire.responses",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562), and keep the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlxfn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "ApiError",
    "BackgroundServer",
    "ChatRequest",
    "Completion",
    "CompletionRequest",
    "Delta",
    "Engine",
    "EngineConfig",
    "Event",
    "Failed",
    "Finished",
    "GenerationPlan",
    "Limits",
    "ModelSpec",
    "Prompt",
    "Usage",
    "__version__",
    "assemble_completion",
    "build_plan",
    "build_prompt",
    "chat",
    "check_model",
    "default_model_spec",
    "error_status",
    "generate",
    "load_model",
    "make_app",
    "parse_chat_request",
    "parse_completion_request",
    "plan_chat",
    "plan_text_completion",
    "render_completion",
    "render_error",
    "serve_in_background",
    "start_engine",
]
