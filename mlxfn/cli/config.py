"""The command line's flags → ``Config`` and ``ChatConfig``: what ``mlxfn.cli`` runs.

Pure apart from reading ``--api-key-file`` (while parsing) and ``MLXFN_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from mlxfn.cli.flags import API_KEY_ENV, PROG, build_chat_parser, build_parser
from mlxfn.engine.config import EngineConfig
from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME, default_model_source
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.weights import WeightLayout
from mlxfn.server.drain import DEFAULT_DRAIN_TIMEOUT_S
from mlxfn.server.keys import ServerConfig


@attrs.frozen(kw_only=True)
class Config:
    model: ModelSpec
    engine: EngineConfig
    server: ServerConfig
    host: str
    port: int
    log_level: str
    insecure: bool = False
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_S


@attrs.frozen(kw_only=True)
class ChatConfig:
    model: ModelSpec
    system: str | None
    max_tokens: int | None
    temperature: float | None


def _model_spec(
    model: str | None, served_name: str | None, context: int | None, weights: WeightLayout
) -> ModelSpec:
    if model is None:  # the default model's GGUF file, under its own name
        return ModelSpec(
            source=default_model_source(),
            served_name=served_name or DEFAULT_MODEL_NAME,
            context_length=context,
            weights=weights,
        )
    return ModelSpec(source=model, served_name=served_name, context_length=context, weights=weights)


def parse_config(argv: Sequence[str], prog: str = PROG) -> Config:
    args = build_parser(prog).parse_args(argv)
    origins = tuple(o.strip() for o in args.cors_origins.split(",") if o.strip())
    from_env = os.environ.get(API_KEY_ENV, "").split(",")
    keys = {k.strip() for k in [*args.api_key, *(args.api_key_file or ()), *from_env]}
    return Config(
        model=_model_spec(args.model, args.served_model_name, args.context_length, args.weights),
        engine=EngineConfig(
            max_pending=args.max_pending,
            max_pending_tokens=args.max_pending_tokens,
            default_max_tokens=args.max_tokens_default,
            max_completion_tokens=args.max_completion_tokens,
            max_output_tokens=args.max_output_tokens,
            model_aliases=frozenset(args.model_alias),
            max_prompt_tokens=args.max_prompt_tokens,
            max_messages=args.max_messages,
            queue_timeout=args.queue_timeout,
            request_timeout=args.request_timeout,
            memory_budget_bytes=args.memory_budget,
            max_batch=args.max_batch,
            prefill_step=args.prefill_step,
            prefill_step_busy=args.prefill_step_busy,
            prompt_cache_bytes=args.prompt_cache_bytes,
        ),
        server=ServerConfig(
            cors_origins=origins,
            bound_host=args.host,
            allowed_hosts=args.allowed_hosts,
            max_body_bytes=args.max_body_bytes,
            api_keys=frozenset(keys - {""}),
            reasoning_field=args.reasoning_field,
            ui=not args.no_ui,
            response_store_size=args.response_store_size,
        ),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        insecure=args.insecure,
        drain_timeout=args.drain_timeout,
    )


def parse_chat_config(argv: Sequence[str]) -> ChatConfig:
    args = build_chat_parser().parse_args(argv)
    return ChatConfig(
        model=_model_spec(args.model, None, args.context_length, args.weights),
        system=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
    )
