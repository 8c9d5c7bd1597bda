"""A FastAGI server for utilities that run Asterisk: the same dialog, Asterisk playing the
prompts and collecting the keys (``STREAM FILE`` with every key as an escape digit, then
``WAIT FOR DIGIT`` for the step's silence). In the dialplan:
``exten => _X.,1,AGI(agi://HOST:4573/ivr)``. Built on panoramisk's FastAGI application."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import connections
from django.utils import timezone
from panoramisk.fast_agi import Application

from meterdesk.phone.dialog import Action, Conversation, Hangup, Say, Transfer

KEYS = "0123456789*#"
T = TypeVar("T")


def _digit(result: dict[str, Any]) -> str | None:
    """The key a ``STREAM FILE``/``WAIT FOR DIGIT`` result names; "" for none; None: hung up."""
    if "error" in result:
        return None
    value = int(result.get("result", ("0", ""))[0] or 0)
    if value < 0:
        return None
    return chr(value) if value else ""


class Session:
    def __init__(self, request: Any, language: str, backend: Any) -> None:
        self.request = request
        headers = request.headers
        caller = headers.get("agi_callerid", "")
        self.conversation = Conversation(
            backend, caller="" if caller == "unknown" else caller, language=language
        )
        self.started_at = timezone.now()
        # The call's database work runs on a thread of its own, off the event loop; its
        # connection is closed with it when the call ends.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agi-call")

    async def _sync(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(function, *args, **kwargs))

    async def run(self) -> None:
        from meterdesk.phone.services import call_record

        await self.request.send_command("ANSWER")
        actions = await self._sync(self.conversation.start)
        try:
            while True:
                key = await self._perform(actions)
                if key is None or (self.conversation.finished and not key):
                    break
                if key:
                    actions = await self._sync(self.conversation.press, key)
                else:
                    actions = await self._sync(self.conversation.silence)
        finally:
            self.conversation.hang_up()
            await self._sync(
                call_record, conversation=self.conversation, via="agi", started_at=self.started_at
            )
            await self._sync(connections.close_all)
            self._thread.shutdown()

    async def _perform(self, actions: list[Action]) -> str | None:
        """Say and do ``actions``; the key pressed then ("" for a silence), None once hung up."""
        from meterdesk.phone.prompts import prompt_file

        texts = [a.text for a in actions if isinstance(a, Say)]
        if texts:
            path = await self._sync(prompt_file, " ".join(texts), self.conversation.language)
            result = await self.request.send_command(f'STREAM FILE {path.with_suffix("")} "{KEYS}"')
            key = _digit(result)
            if key is None or (key and not self.conversation.finished):
                return key
        for action in actions:
            if isinstance(action, Transfer):
                await self.request.send_command(f"EXEC Transfer {action.target}")
                return None
            if isinstance(action, Hangup):
                await self.request.send_command("HANGUP")
                return None
        if self.conversation.finished:
            await self.request.send_command("HANGUP")
            return None
        expect = self.conversation.expect
        wait = expect.between if expect.digits and self.conversation.entry else expect.timeout
        return _digit(await self.request.send_command(f"WAIT FOR DIGIT {int(wait * 1000)}"))


def agi_application(language: str = "ru", backend_factory: Any = None) -> Application:
    from meterdesk.phone.backend import CoreBackend

    factory = backend_factory or CoreBackend
    app = Application()

    async def ivr(request: Any) -> None:
        await Session(request, language, factory()).run()

    app.add_route("ivr", ivr)
    return app


async def agi_serve(host: str, port: int, language: str = "ru", ready: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(agi_application(language).handler, host, port)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()
