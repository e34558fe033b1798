"""mlxfn: an OpenAI-compatible LLM server and library on MLX, in a functional style.

The pipeline pieces are plain functions that compose with ``returns.pipeline.flow``::

    engine = start_engine(ModelSpec(source="./tiny"))   # IOResult[Engine, ModelLoadFailed]
    request = parse_chat_request(body)                  # Result[ChatRequest, ApiError]
    plan = request.bind(lambda r: plan_chat(r, tokenizer, limits, served_name))
"""

import sys

if sys.platform == "linux":  # before anything below imports mlx, see mlxfn/blas.py
    from mlxfn.blas import preload_fast_blas

    preload_fast_blas()

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlxfn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

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
