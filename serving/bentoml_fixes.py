"""A fix to BentoML 1.4's HTTP stack, applied when serving.service is imported.

`TimeoutMiddleware` (bentoml/_internal/server/http/traffic.py) arms `loop.call_later(timeout, …)`
for every request and never cancels it: each request leaves a timer handle, its waiter future and
a context alive for the whole traffic timeout (120 s here). Under load that is ~10⁵ live objects
per worker, memory that grows for two minutes, and garbage-collector passes over all of them — the
service's latency tail. The replacement below is the same logic with the timer cancelled once the
request is over; nothing else changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse


async def _timeout_call(self: Any, scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: Any) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await waiter
    except TimeoutError:
        if fut.cancel():
            resp = JSONResponse({"error": f"Not able to process the request in {self.timeout} seconds"}, 504)
            await resp(scope, receive, send)
    else:
        await fut
    finally:
        timer.cancel()


def apply() -> None:
    traffic.TimeoutMiddleware.__call__ = _timeout_call  # type: ignore[method-assign]
