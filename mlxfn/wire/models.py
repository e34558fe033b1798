"""``/v1/models`` out, and the one field the router reads before a request is parsed."""

from __future__ import annotations

from typing import Any

import orjson

from mlxfn.domain.models import ModelCard

JSON = dict[str, Any]


def requested_model(body: bytes) -> str | None:
    """The ``model`` a JSON body names, if it names one; what is wrong with the body
    otherwise is for the surface's own parser to say.

    >>> requested_model(b'{"model": "tiny", "messages": []}'), requested_model(b"[1]")
    ('tiny', None)
    """
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    model = decoded.get("model") if isinstance(decoded, dict) else None
    return model if isinstance(model, str) else None


def render_model_card(card: ModelCard) -> JSON:
    """OpenAI's model object, with ``state`` (loaded or not) and an adapter's ``parent``.

    >>> render_model_card(ModelCard(id="tiny", created=5))
    {'id': 'tiny', 'object': 'model', 'created': 5, 'owned_by': 'mlxfn', 'state': 'loaded'}
    """
    rendered: JSON = {
        "id": card.id,
        "object": "model",
        "created": card.created,
        "owned_by": "mlxfn",
        "state": card.state,
    }
    if card.parent is not None:
        rendered["parent"] = card.parent
    return rendered


def render_model_cards(cards: tuple[ModelCard, ...]) -> JSON:
    return {"object": "list", "data": [render_model_card(card) for card in cards]}
