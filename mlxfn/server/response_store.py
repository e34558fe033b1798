"""The Responses API's store: the last responses sent with ``store: true``, in memory only.

A bounded LRU of response id → the conversation so far (domain messages, instructions left
out) and the Response JSON, so that ``GET /v1/responses/{id}`` and ``previous_response_id``
work. Nothing survives a restart. It is used on the event loop only, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

import attrs
from aiohttp import web
from returns.result import Failure, Result, Success

from mlxfn.domain.errors import ApiError, ResponseNotFound
from mlxfn.domain.messages import Message
from mlxfn.server.keys import DEFAULT_RESPONSE_STORE_SIZE


@attrs.frozen
class StoredResponse:
    conversation: tuple[Message, ...]
    body: dict[str, Any] = attrs.field(eq=False, hash=False)


class ResponseStore:
    """At most ``capacity`` responses; storing one more forgets the least recently used."""

    def __init__(self, capacity: int = DEFAULT_RESPONSE_STORE_SIZE) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, response_id: str, stored: StoredResponse) -> None:
        if self.capacity < 1:
            return
        self._entries[response_id] = stored
        self._entries.move_to_end(response_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, response_id: str, param: str | None = None) -> Result[StoredResponse, ApiError]:
        """The stored response, or ResponseNotFound naming ``param`` (None: the URL's id)."""
        stored = self._entries.get(response_id)
        if stored is None:
            return Failure(ResponseNotFound(response_id, param))
        self._entries.move_to_end(response_id)
        return Success(stored)

    def delete(self, response_id: str) -> Result[None, ApiError]:
        if self._entries.pop(response_id, None) is None:
            return Failure(ResponseNotFound(response_id))
        return Success(None)


RESPONSE_STORE: Final = web.AppKey("response_store", ResponseStore)
