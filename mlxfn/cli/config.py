"""The command line's flags → ``Config`` and ``ChatConfig``: what ``mlxfn.cli`` runs.

Pure apart from reading ``--api-key-file`` (while parsing) and ``MLXFN_API_KEY``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from mlxfn.cli.flags import API_KEY_ENV, PROG, build_chat_parser, build_parser
from mlxfn.cli.model_flags import ModelArg
from mlxfn.engine.config import EngineConfig
from mlxfn.engine.gguf.shipped import DEFAULT_MODEL_NAME, default_model_source
from mlxfn.engine.loader import ModelSpec
from mlxfn.engine.registry import ServedModel, served_id
from mlxfn.engine.weights import WeightLayout
from mlxfn.server.drain import DEFAULT_DRAIN_TIMEOUT_S
from mlxfn.server.keys import ServerConfig


@attrs.frozen
class AdapterFlag:
    """``--adapter NAME=DIR``, on the model at ``base`` (0: the first)."""

    name: str
    path: str
    base: int


@attrs.frozen(kw_only=True)
class Config:
    model: ModelSpec  # the first model: the default one
    engine: EngineConfig
    server: ServerConfig
    host: str
    port: int
    log_level: str
    insecure: bool = False
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_S
    more_models: tuple[ModelSpec, ...] = ()  # each further --model
    adapters: tuple[AdapterFlag, ...] = ()
    preload: bool = False
    models_memory: int | None = None
    keep_alive: float | None = None


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


def _models(
    given: Sequence[ModelArg], served_name: str | None, context: int | None, weights: WeightLayout
) -> tuple[ModelSpec, tuple[ModelSpec, ...], tuple[AdapterFlag, ...]]:
    """The first model, the others, and the adapters, each on the model given before it."""
    models: list[ModelSpec] = []
    adapters: list[AdapterFlag] = []
    for arg in given:
        if arg.kind == "adapter":
            adapters.append(AdapterFlag(arg.name or "", arg.source, max(len(models) - 1, 0)))
        elif not models:
            models.append(_model_spec(arg.source, arg.name or served_name, context, weights))
        else:
            models.append(_model_spec(arg.source, arg.name, context, weights))
    if not models:
        models.append(_model_spec(None, served_name, context, weights))
    return models[0], tuple(models[1:]), tuple(adapters)


def served_models(config: Config) -> list[ServedModel]:
    """What the registry serves: each model under its id (the first with the aliases), then
    each adapter as a model of its own on its base model."""
    specs = [config.model, *config.more_models]
    ids = [served_id(spec) for spec in specs]
    plain = attrs.evolve(config.engine, model_aliases=frozenset())
    served = [
        ServedModel(
            id=model_id,
            spec=attrs.evolve(spec, served_name=model_id),
            config=config.engine if i == 0 else plain,
        )
        for i, (model_id, spec) in enumerate(zip(ids, specs, strict=True))
    ]
    served += [
        ServedModel(
            id=adapter.name,
            spec=attrs.evolve(specs[adapter.base], served_name=adapter.name, adapter=adapter.path),
            config=plain,
            parent=ids[adapter.base],
        )
        for adapter in config.adapters
    ]
    return served


def parse_config(argv: Sequence[str], prog: str = PROG) -> Config:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    first, more, adapters = _models(
        args.models or (), args.served_model_name, args.context_length, args.weights
    )
    ids = [served_id(spec) for spec in (first, *more)] + [a.name for a in adapters]
    if len(set(ids)) != len(ids):
        parser.error(f"two models have one id: {ids}; name them with --model NAME=DIR")
    origins = tuple(o.strip() for o in args.cors_origins.split(",") if o.strip())
    from_env = os.environ.get(API_KEY_ENV, "").split(",")
    keys = {k.strip() for k in [*args.api_key, *(args.api_key_file or ()), *from_env]}
    return Config(
        model=first,
        more_models=more,
        adapters=adapters,
        preload=args.preload,
        models_memory=args.models_memory,
        keep_alive=args.keep_alive,
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
