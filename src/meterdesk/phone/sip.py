"""The phone line's SIP endpoint on pjsua2 (docs/adr/0018-phone-sip-pjsua2.md).

Three kinds of thread, so that one slow database call stalls no other call's audio or keys:

- the **line thread** (``Line.run``) polls PJSIP's events and is the only Python thread that drives
  pjsua2 objects (answering, players, transfers, hang-ups);
- PJSIP's **media thread** calls ``CallTap.onFrameReceived`` with each 20 ms frame a caller sends,
  and the RFC 2833 events (``LineCall.onDtmfDigit``) may come from it too: both only hand keys to
  the line thread through its inbox (and audio to the call's recogniser);
- a few **workers** (``Workers``) walk the dialogs (the database work, rendering a prompt): each
  call's jobs run in order, one at a time, different calls' side by side; the outcome goes back
  through the inbox and the line thread plays it. A worker closes its database connection when the
  line stops.

A call to ``sip:ivr@HOST:PORT`` (or any user) is answered; its keys (RFC 2833 events and in-band
tones, ``phone.inband``) go to its ``Conversation``; what the dialog says is played from the prompt
files; silences are timed from the end of each prompt; the call is logged when it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pjsua2 as pj
from django.db import close_old_connections, connections
from django.utils import timezone

from meterdesk.phone.dialog import Action, Backend, Conversation, Hangup, Say, Transfer
from meterdesk.phone.inband import Detector, Keys
from meterdesk.phone.speech import Recognizer, SpeechUnavailable, recognizer_for

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
POLL = 20  # ms the line thread waits for PJSIP's events before it looks at its inbox
WORKERS = 8  # dialog threads: they wait on the database far more than they compute

_VECTOR = ctypes.POINTER(ctypes.c_void_p)


def frame_bytes(frame: pj.MediaFrame) -> bytes:
    """A media frame's bytes. SWIG copies a ``ByteVector`` element by element (some 150 µs a
    frame, 50 frames a second a call); its storage is read directly instead: a ``std::vector``
    starts with the pointers to its first and past its last element."""
    buf = frame.buf
    begin, end = ctypes.cast(int(buf.this), _VECTOR)[0:2]
    if not begin or end - begin != buf.size():
        return bytes(tuple(buf))
    return ctypes.string_at(begin, end - begin)


@dataclass
class _Outcome:
    """What a job of the dialog gives the line thread: the actions, their prompt rendered."""

    actions: list[Action]
    prompts: list[Path] = field(default_factory=list)  # played one after another
    seconds: float = 0.0
    counted: bool = True  # a key's or a silence's answer (not speech heard on the way)


@dataclass
class _Live:
    """One call's state beside its dialog. The line thread owns the media and the timing; the
    workers own the conversation (through the jobs, in order)."""

    conversation: Conversation
    started_at: datetime
    call_id: int
    player: pj.AudioMediaPlayer | None = None
    tap: CallTap | None = None
    speaking_until: float = 0.0  # when the prompt being played ends
    deadline: float = 0.0  # when the step's silence runs out (0: not timing)
    end_at: float | None = None  # hang up then (after the last words)
    logged: bool = False
    waiting: int = 0  # jobs for a key or a silence not answered yet
    keys: list[str] = field(default_factory=list)
    ways: Keys = field(default_factory=Keys)
    detector: Detector = field(default_factory=Detector)
    recognizer: Recognizer | None = None
    jobs: deque[tuple[Callable[[], list[Action]], bool]] = field(default_factory=deque)
    busy: bool = False  # a worker is taking its jobs


class Workers:
    """Threads that run the calls' dialog jobs: a call's in the order given, one at a time."""

    def __init__(self, size: int, done: Callable[[_Live, _Outcome], None]) -> None:
        self._done = done
        self._lock = threading.Lock()
        self._ready: queue.SimpleQueue[_Live | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"line-worker-{i}", daemon=True) for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, live: _Live, job: Callable[[], list[Action]], *, counted: bool = True) -> None:
        with self._lock:
            live.jobs.append((job, counted))
            if live.busy:
                return
            live.busy = True
        self._ready.put(live)

    def stop(self) -> None:
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(60)

    def _work(self) -> None:
        try:
            while (live := self._ready.get()) is not None:
                close_old_connections()
                while True:
                    with self._lock:
                        if not live.jobs:
                            live.busy = False
                            break
                        job, counted = live.jobs.popleft()
                    self._done(live, self._run(live, job, counted))
        finally:
            connections.close_all()  # this thread's connection, before the thread ends

    @staticmethod
    def _run(live: _Live, job: Callable[[], list[Action]], counted: bool) -> _Outcome:
        from meterdesk.phone.prompts import wav_seconds

        try:
            actions = job()
            # Each sentence a file of its own: the fixed ones are rendered already, and only
            # what is new (a number read back, an amount) waits for the synthesiser.
            language = live.conversation.language
            paths = [path for a in actions if isinstance(a, Say) for path in _prompt_files(a.text, language)]
            return _Outcome(actions, paths, sum(wav_seconds(p) for p in paths), counted)
        except Exception:  # one call's failure must not take the line down
            log.exception("the dialog failed; the call is ended")
            return _Outcome([Hangup()], counted=counted)


def _prompt_files(text: str, language: str) -> list[Path]:
    """The files of what the line says: the whole text where it is recorded or rendered already
    (the fixed prompts), else each sentence of it, so that the sentences heard before come from
    the cache and only the new one (a number, an amount) waits for the synthesiser."""
    from django.conf import settings

    from meterdesk.phone.prompts import _cache_dir, prompt_file, prompt_key

    name = f"{prompt_key(text, language)}.wav"
    recorded = settings.METERDESK_IVR_PROMPTS
    if (recorded and (Path(recorded) / name).exists()) or (_cache_dir() / name).exists():
        return [prompt_file(text, language)]
    return [prompt_file(sentence, language) for sentence in _SENTENCE_END.split(text) if sentence]


class CallTap(pj.AudioMediaPort):  # type: ignore[misc]
    """Receives what the caller sends (8 kHz 16-bit frames), on PJSIP's media thread: finds the
    in-band keys and feeds the call's recogniser. Touches no pjsua2 object."""

    def __init__(self, line: Line, live: _Live) -> None:
        super().__init__()
        self.line, self.live = line, live

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
            return
        pcm = frame_bytes(frame)
        live = self.live
        for key in live.detector.feed(pcm):
            self.line.post_key(live, key, "inband")
        if live.recognizer is not None and not live.logged:
            self.line.workers_submit(live, _listen(live, pcm), counted=False)


def _listen(live: _Live, pcm: bytes) -> Callable[[], list[Action]]:
    """A job: more of the caller's audio to its recogniser; what it made out, to the dialog."""

    def job() -> list[Action]:
        recognizer = live.recognizer
        text = recognizer.accept(pcm) if recognizer is not None else None
        if not text or live.conversation.finished:
            return []
        return live.conversation.heard(text)

    return job


def _press(live: _Live, key: str) -> Callable[[], list[Action]]:
    """A job: a key to the dialog; what the recogniser heard of an utterance begun is dropped."""

    def job() -> list[Action]:
        if live.recognizer is not None:
            live.recognizer.reset()
        return live.conversation.press(key)

    return job


def _start(live: _Live, language: str) -> Callable[[], list[Action]]:
    """A job: the call's recogniser (none: keys only), then the dialog's first words."""

    def job() -> list[Action]:
        try:
            live.recognizer = recognizer_for(language)
        except SpeechUnavailable:
            log.exception("no speech recognition for this call")
        live.conversation.speech = live.recognizer is not None
        return live.conversation.start()

    return job


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
        info = self.getInfo()  # kept: its media list lives only as long as it does
        media = [(m.type, m.status) for m in info.media]
        if self.live is None and (pj.PJMEDIA_TYPE_AUDIO, pj.PJSUA_CALL_MEDIA_ACTIVE) in media:
            self.line.begin(self)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        if self.live is not None:
            self.line.post_key(self.live, prm.digit, "rfc2833")


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


#: Calls one endpoint takes. This pjsua2 wheel is built with PJSUA_MAX_CALLS = 4 and caps
#: ``maxCalls`` there (more calls are refused, 486): more calls take more line processes.
MAX_CALLS = 4


def endpoint_start(host: str, sip_port: int, max_calls: int) -> pj.Endpoint:
    """PJSIP's endpoint for a line or a caller: no threads of its own for SIP (the caller of
    ``libHandleEvents`` polls), one media thread, 8 kHz, the null sound device, UDP on
    ``host:sip_port``, G.711 first."""
    ep = pj.Endpoint()
    ep.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.maxCalls = max_calls
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.threadCnt = 1
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    config.medConfig.noVad = True
    config.medConfig.maxMediaPorts = 4 * max_calls + 16  # a call, its player and its tap
    ep.libInit(config)
    transport = pj.TransportConfig()
    transport.port = sip_port
    transport.boundAddress = host
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        priority = {"PCMU/8000/1": 255, "PCMA/8000/1": 254}.get(codec.codecId, 0)
        ep.codecSetPriority(codec.codecId, priority)
    ep.libStart()
    return ep


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
        workers: int = WORKERS,
    ) -> None:
        from meterdesk.phone.backend import CoreBackend

        self.host, self.sip_port, self.rtp_ports = host, sip_port, rtp_ports
        self.language, self.via, self.registrar = language, via, registrar
        self.backend_factory = backend_factory or CoreBackend
        self.calls: dict[int, LineCall] = {}
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.endpoint: pj.Endpoint | None = None
        self.worker_count = workers
        self.workers: Workers | None = None
        # Keys and the workers' outcomes for the line thread, from any thread.
        self._inbox: queue.SimpleQueue[tuple[_Live, str, Any]] = queue.SimpleQueue()

    def start(self) -> None:
        ep = endpoint_start(self.host, self.sip_port, MAX_CALLS)
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
        self.workers = Workers(self.worker_count, self._finished_job)
        self.ready.set()
        while not self.stopping.is_set():
            # The workers' outcomes wait here up to POLL ms: audio goes out on the media clock's
            # ticks anyway, and polling more often costs an idle line CPU (docs/benchmarks.md).
            self.endpoint.libHandleEvents(POLL)
            self._drain()
            self._tick(time.monotonic())
        self.endpoint.hangupAllCalls()
        for _ in range(20):
            self.endpoint.libHandleEvents(10)
        while self.calls:  # no call may outlive the library (deleting one then aborts)
            self.ended(next(iter(self.calls.values())))
        self.workers.stop()  # the calls' records are written before it returns
        del self.account
        self.endpoint.libDestroy()
        self.endpoint = None  # PJSIP's endpoint is one a process: the next line makes its own
        connections.close_all()

    def stop(self) -> None:
        self.stopping.set()

    # from any thread

    def post_key(self, live: _Live, key: str, way: str) -> None:
        self._inbox.put((live, "key", (key, way, time.monotonic())))

    def workers_submit(self, live: _Live, job: Callable[[], list[Action]], *, counted: bool = True) -> None:
        assert self.workers is not None  # noqa: S101
        self.workers.submit(live, job, counted=counted)

    def _finished_job(self, live: _Live, outcome: _Outcome) -> None:
        self._inbox.put((live, "outcome", outcome))

    # the line thread

    def begin(self, call: LineCall) -> None:
        info = call.getInfo()
        caller = info.remoteUri.split("sip:", 1)[-1].split("@", 1)[0].strip('<>" ')
        conversation = Conversation(self.backend_factory(), caller=caller, language=self.language)
        live = _Live(conversation, timezone.now(), info.id)
        call.live = live
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
        tap = CallTap(self, live)
        try:
            tap.createPort(f"tap{info.id}", fmt)
            call.getAudioMedia(-1).startTransmit(tap)
            live.tap = tap
        except pj.Error:  # no audio to listen to: RFC 2833 keys only
            log.exception("no in-band keys for this call")
        live.waiting += 1
        self.workers_submit(live, _start(live, self.language))

    def _drain(self) -> None:
        while True:
            try:
                live, kind, item = self._inbox.get_nowait()
            except queue.Empty:
                return
            call = self.calls.get(live.call_id)
            if call is None or call.live is not live or live.logged:
                continue
            if kind == "key":
                self._key(call, live, *item)
            else:
                self._outcome(call, live, item)

    def _key(self, call: LineCall, live: _Live, key: str, way: str, at: float) -> None:
        if not live.ways.take(key, way, at):
            return
        live.keys.append(key)
        self.stop_prompt(call)
        live.deadline = 0.0
        live.waiting += 1
        self.workers_submit(live, _press(live, key))

    def _outcome(self, call: LineCall, live: _Live, outcome: _Outcome) -> None:
        if outcome.counted:
            live.waiting -= 1
        elif not outcome.actions:
            return
        self.act(call, outcome)

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
                live.waiting += 1
                self.workers_submit(live, live.conversation.silence)

    def act(self, call: LineCall, outcome: _Outcome) -> None:
        live = call.live
        assert live is not None  # noqa: S101
        now = time.monotonic()
        # A prompt answering a key already followed by another is not played: the caller has
        # answered over it (as pressing a key stops a prompt being played).
        if outcome.prompts and not (outcome.counted and live.waiting):
            self.stop_prompt(call)
            player = pj.AudioMediaPlayer()
            if len(outcome.prompts) == 1:
                player.createPlayer(str(outcome.prompts[0]), pj.PJMEDIA_FILE_NO_LOOP)
            else:
                files = pj.StringVector([str(p) for p in outcome.prompts])
                player.createPlaylist(files, "prompt", pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(call.getAudioMedia(-1))
            live.player = player
            live.speaking_until = now + outcome.seconds
        start = max(now, live.speaking_until)
        for action in outcome.actions:
            if isinstance(action, Transfer):
                call.xfer(action.target, pj.CallOpParam(True))
            elif isinstance(action, Hangup):
                live.end_at = start + 0.2
        conversation = live.conversation
        if not conversation.finished:
            if live.waiting == 0:  # else the answer to a later key is on its way
                expect = conversation.expect
                wait = expect.between if expect.digits and conversation.entry else expect.timeout
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
        live = call.live
        for key, value in list(self.calls.items()):
            if value is call:
                del self.calls[key]
        if live is None or live.logged:
            return
        live.logged = True
        self.stop_prompt(call)
        # The media ports go here, on the line thread, before the call's own.
        live.tap, live.player = None, None
        self.workers_submit(live, self._record(live), counted=False)

    def _record(self, live: _Live) -> Callable[[], list[Action]]:
        def job() -> list[Action]:
            from meterdesk.phone.services import call_record

            live.conversation.hang_up()
            try:
                call_record(conversation=live.conversation, via=self.via, started_at=live.started_at)
            except Exception:  # a lost log must not take the line down
                log.exception("the call could not be logged")
            return []

        return job
