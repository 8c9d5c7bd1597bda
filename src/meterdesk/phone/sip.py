"""The phone line's SIP endpoint on pjsua2 (docs/adr/0018-phone-sip-pjsua2.md).

PJSIP runs with no threads of its own: ``Line.run`` polls its events from one thread, which also
walks each call's dialog, so no PJSIP callback ever runs on a thread Python did not start. A call
to ``sip:ivr@HOST:PORT`` (or any user) is answered; its keys (RFC 2833 events) go to its
``Conversation``; what the dialog says is played from the prompt files; silences are timed from
the end of each prompt; the call is logged (``services.call_record``) when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pjsua2 as pj
from django.db import close_old_connections, connections
from django.utils import timezone

from meterdesk.phone.dialog import Action, Backend, Conversation, Hangup, Say, Transfer

log = logging.getLogger(__name__)


@dataclass
class _Live:
    """One call's state beside its dialog."""

    conversation: Conversation
    started_at: datetime
    player: pj.AudioMediaPlayer | None = None
    speaking_until: float = 0.0  # when the prompt being played ends
    deadline: float = 0.0  # when the step's silence runs out
    end_at: float | None = None  # hang up then (after the last words)
    logged: bool = False
    keys: list[str] = field(default_factory=list)


class LineCall(pj.Call):  # type: ignore[misc]
    def __init__(self, line: Line, account: pj.Account, call_id: int) -> None:
        super().__init__(account, call_id)
        self.line = line
        self.live: _Live | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.line.ended(self)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        if self.live is not None:
            return
        info = self.getInfo()
        caller = info.remoteUri.split("sip:", 1)[-1].split("@", 1)[0].strip('<>" ')
        conversation = Conversation(self.line.backend_factory(), caller=caller, language=self.line.language)
        self.live = _Live(conversation, timezone.now())
        self.line.act(self, conversation.start())

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        if self.live is None:
            return
        self.live.keys.append(prm.digit)
        self.line.stop_prompt(self)
        self.line.act(self, self.live.conversation.press(prm.digit))


class LineAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, line: Line) -> None:
        super().__init__()
        self.line = line

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = LineCall(self.line, self, prm.callId)
        self.line.calls[prm.callId] = call
        answer = pj.CallOpParam()
        answer.statusCode = 200
        call.answer(answer)


class Line:
    """The endpoint: ``start`` binds the SIP port, ``run`` serves until ``stop``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        sip_port: int = 5070,
        rtp_ports: tuple[int, int] = (40000, 40999),
        language: str = "ru",
        backend_factory: Callable[[], Backend] | None = None,
        via: str = "sip",
        registrar: str = "",
    ) -> None:
        from meterdesk.phone.backend import CoreBackend

        self.host, self.sip_port, self.rtp_ports = host, sip_port, rtp_ports
        self.language, self.via, self.registrar = language, via, registrar
        self.backend_factory = backend_factory or CoreBackend
        self.calls: dict[int, LineCall] = {}
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.endpoint: pj.Endpoint | None = None

    def start(self) -> None:
        ep = pj.Endpoint()
        ep.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.maxCalls = 512
        config.logConfig.level = 1
        config.logConfig.consoleLevel = 1
        config.medConfig.threadCnt = 1
        config.medConfig.clockRate = 8000
        config.medConfig.sndClockRate = 8000
        config.medConfig.noVad = True
        ep.libInit(config)
        transport = pj.TransportConfig()
        transport.port = self.sip_port
        transport.boundAddress = self.host
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            priority = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}.get(codec.codecId, 0)
            ep.codecSetPriority(codec.codecId, priority)
        ep.libStart()
        account_config = pj.AccountConfig()
        account_config.idUri = f"sip:ivr@{self.host}:{self.sip_port}"
        if self.registrar:
            account_config.regConfig.registrarUri = self.registrar
        account_config.mediaConfig.transportConfig.port = self.rtp_ports[0]
        account_config.mediaConfig.transportConfig.portRange = self.rtp_ports[1] - self.rtp_ports[0]
        account_config.mediaConfig.transportConfig.boundAddress = self.host
        self.account = LineAccount(self)
        self.account.create(account_config)
        self.endpoint = ep

    def run(self) -> None:
        assert self.endpoint is not None  # noqa: S101
        self.ready.set()
        while not self.stopping.is_set():
            self.endpoint.libHandleEvents(10)
            self._tick(time.monotonic())
        self.endpoint.hangupAllCalls()
        for _ in range(20):
            self.endpoint.libHandleEvents(10)
        for call in list(self.calls.values()):
            self.ended(call)
        self.endpoint.libDestroy()
        connections.close_all()  # this thread's connection, before the thread ends

    def stop(self) -> None:
        self.stopping.set()

    # the calls

    def _tick(self, now: float) -> None:
        for call in list(self.calls.values()):
            live = call.live
            if live is None or live.logged:
                continue
            if live.end_at is not None:
                if now >= live.end_at:
                    live.end_at = None
                    self._hangup(call)
                continue
            if live.deadline and now >= live.deadline:
                live.deadline = 0.0
                self.act(call, live.conversation.silence())

    def act(self, call: LineCall, actions: list[Action]) -> None:
        from meterdesk.phone.prompts import prompt_file, wav_seconds

        live = call.live
        assert live is not None  # noqa: S101
        texts = [a.text for a in actions if isinstance(a, Say)]
        now = time.monotonic()
        if texts:
            path = prompt_file(" ".join(texts), live.conversation.language)
            self.stop_prompt(call)
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(call.getAudioMedia(-1))
            live.player = player
            live.speaking_until = now + wav_seconds(path)
        start = max(now, live.speaking_until)
        for action in actions:
            if isinstance(action, Transfer):
                call.xfer(action.target, pj.CallOpParam(True))
            elif isinstance(action, Hangup):
                live.end_at = start + 0.2
        if not live.conversation.finished:
            expect = live.conversation.expect
            wait = expect.between if expect.digits and live.conversation.entry else expect.timeout
            live.deadline = start + wait
        elif live.end_at is None:
            live.end_at = start + 0.2

    def stop_prompt(self, call: LineCall) -> None:
        live = call.live
        if live is not None and live.player is not None:
            with contextlib.suppress(pj.Error):  # the call's media may be gone already
                live.player.stopTransmit(call.getAudioMedia(-1))
            live.player = None

    def _hangup(self, call: LineCall) -> None:
        try:
            call.hangup(pj.CallOpParam(True))
        except pj.Error:
            self.ended(call)

    def ended(self, call: LineCall) -> None:
        from meterdesk.phone.services import call_record

        live = call.live
        for key, value in list(self.calls.items()):
            if value is call:
                del self.calls[key]
        if live is None or live.logged:
            return
        live.logged = True
        live.conversation.hang_up()
        close_old_connections()
        try:
            call_record(conversation=live.conversation, via=self.via, started_at=live.started_at)
        except Exception:  # a lost log must not take the line down
            log.exception("the call could not be logged")
