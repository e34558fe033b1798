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
    from mlxfn.engine.registry import ModelRegistry, ServedModel
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

# The module that defines each public name.
_MODULES: Final[dict[str, tuple[str, ...]]] = {
    "mlxfn.domain.errors": ("ApiError", "error_status"),
    "mlxfn.domain.events": ("Completion", "Delta", "Event", "Failed", "Finished", "Usage"),
    "mlxfn.domain.request": ("ChatRequest", "CompletionRequest"),
    "mlxfn.engine.loader": ("ModelSpec", "default_model_spec", "load_model"),
    "mlxfn.engine.registry": ("ModelRegistry", "ServedModel"),
    "mlxfn.engine.thread": ("Engine", "EngineConfig", "start_engine"),
    "mlxfn.notebook": ("chat", "generate"),
    "mlxfn.pipeline.chat": ("check_model", "plan_chat"),
    "mlxfn.pipeline.completion": ("assemble_completion",),
    "mlxfn.pipeline.plan": ("GenerationPlan", "Limits", "build_plan"),
    "mlxfn.pipeline.prompt": ("Prompt", "build_prompt"),
    "mlxfn.pipeline.text_completion": ("plan_text_completion",),
    "mlxfn.server.app": ("make_app",),
    "mlxfn.server.background": ("BackgroundServer", "serve_in_background"),
    "mlxfn.wire.completion_requests": ("parse_completion_request",),
    "mlxfn.wire.requests": ("parse_chat_request",),
    "mlxfn.wire.responses": ("render_completion", "render_error"),
}
_EXPORTS: Final[dict[str, str]] = {
    name: module for module, names in _MODULES.items() for name in names
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
    "ModelRegistry",
    "ModelSpec",
    "Prompt",
    "ServedModel",
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
