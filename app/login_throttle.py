"""Exponential back-off of the Gradio demo's sign-in, per client address (an ASGI middleware).

Gradio checks the ``--auth`` password at ``POST /login`` and answers 400 to a wrong one, as
fast as it is asked. This middleware watches that route: a wrong answer counts against the
client's address (``core/throttle.py``), and while the client must wait its tries are answered
``429 Too Many Requests`` (with ``Retry-After``) without reaching Gradio; a right one clears it.
"""
from __future__ import annotations

import json
import math
from typing import Any

from core.throttle import BackOff, wait_message

LOGIN_PATHS = ("/login", "/login/")


class LoginThrottle:
    def __init__(self, app: Any, backoff: BackOff | None = None) -> None:
        self.app = app
        self.backoff = backoff or BackOff()

    @classmethod
    def middleware(cls, backoff: BackOff | None = None) -> Any:
        """The Starlette ``Middleware`` entry for ``FastAPI(middleware=[...])``."""
        from starlette.middleware import Middleware

        return Middleware(cls, backoff=backoff or BackOff())

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.backoff.wait_s(client)
        if wait > 0:
            body = json.dumps({"detail": wait_message(wait)}).encode()
            await send({"type": "http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", str(math.ceil(wait)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        status: list[int] = []

        async def watch(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if status and status[0] == 200:
            self.backoff.succeeded(client)
        elif status and status[0] in (400, 401, 403):
            self.backoff.failed(client)
