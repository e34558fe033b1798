"""What ``/openapi.json`` depends on beyond the code: the live configuration of one server."""

from __future__ import annotations

import attrs

from mlxfn.engine.config import EngineConfig
from mlxfn.pipeline.plan import DEFAULT_MAX_CHOICES
from mlxfn.wire.responses import DEFAULT_REASONING_FIELD


@attrs.frozen(kw_only=True)
class OpenApiFacts:
    """The served model ids (None: any non-blank id, as with a ``*`` alias), the name of the
    reasoning field, whether the server has API keys, and the caps that bound request fields.
    The defaults are a server's with no flags set; a frozen value, so the document is cached
    by it."""

    models: tuple[str, ...] | None = None
    reasoning_field: str = DEFAULT_REASONING_FIELD
    authenticated: bool = False
    max_choices: int = DEFAULT_MAX_CHOICES
    max_completion_tokens: int | None = None
    max_messages: int | None = None

    @classmethod
    def of(
        cls,
        ids: tuple[str, ...],
        config: EngineConfig,
        *,
        reasoning_field: str = DEFAULT_REASONING_FIELD,
        authenticated: bool = False,
    ) -> OpenApiFacts:
        """The facts of a server of the models ``ids`` (the first is the one aliases name)
        under this engine configuration; none of them need be loaded.

        >>> config = EngineConfig(max_batch=4, model_aliases=frozenset({"gpt-4o"}))
        >>> facts = OpenApiFacts.of(("tiny",), config)
        >>> facts.models, facts.max_choices
        (('tiny', 'gpt-4o'), 4)
        """
        aliases = config.model_aliases
        models = None if "*" in aliases else (*ids, *sorted(aliases - set(ids)))
        return cls(
            models=models,
            reasoning_field=reasoning_field,
            authenticated=authenticated,
            # as Engine.limits has it: every choice is a sequence in the engine's batch
            max_choices=min(DEFAULT_MAX_CHOICES, config.max_batch),
            max_completion_tokens=config.max_completion_tokens,
            max_messages=config.max_messages,
        )
