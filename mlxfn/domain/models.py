"""The served models as ``/v1/models`` lists them."""

from __future__ import annotations

from typing import Literal

import attrs

ModelState = Literal["loaded", "loading", "unloaded"]


@attrs.frozen(kw_only=True)
class ModelCard:
    """One servable model: loaded or not, and, for an adapter, its base model's id."""

    id: str
    created: int
    state: ModelState = "loaded"
    parent: str | None = None
