"""The mailbox hands engine events to the loop in order, waking it once per burst."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from mlxfn.server.mailbox import Mailbox


class CountingLoop:
    """Forwards to the real loop, counting the wake-ups the mailbox asks for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wakeups = 0

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> Any:
        self.wakeups += 1
        return self.loop.call_soon_threadsafe(callback, *args)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        self.loop.call_exception_handler(context)


def test_a_burst_from_another_thread_arrives_in_order_with_one_wakeup() -> None:
    async def main() -> tuple[list[int], int]:
        loop = CountingLoop(asyncio.get_running_loop())
        mailbox = Mailbox(loop)  # type: ignore[arg-type]
        received: list[int] = []
        poster = threading.Thread(
            target=lambda: [mailbox.post(received.append, i) for i in range(100)]
        )
        poster.start()
        poster.join()  # the loop is busy here, as it is while it writes to a socket
        while len(received) < 100:
            await asyncio.sleep(0)
        return received, loop.wakeups

    received, wakeups = asyncio.run(main())
    assert received == list(range(100))
    assert wakeups == 1


def test_posts_after_a_delivery_wake_the_loop_again() -> None:
    async def main() -> list[int]:
        mailbox = Mailbox(asyncio.get_running_loop())
        received: list[int] = []
        for i in range(3):
            threading.Thread(target=mailbox.post, args=(received.append, i)).start()
            deadline = time.monotonic() + 5
            while len(received) <= i and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        return received

    assert asyncio.run(main()) == [0, 1, 2]


def test_a_failing_call_loses_no_other_event() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        errors: list[object] = []
        loop.set_exception_handler(lambda _, context: errors.append(context["exception"]))
        mailbox = Mailbox(loop)
        received: list[int] = []

        def fail(_: int) -> None:
            raise ValueError("boom")

        mailbox.post(received.append, 1)
        mailbox.post(fail, 2)
        mailbox.post(received.append, 3)
        await asyncio.sleep(0.01)
        assert len(errors) == 1
        return received

    assert asyncio.run(main()) == [1, 3]
