"""The callers of `meterdesk bench ivr`: one process, one pjsua2 endpoint, up to four real SIP calls
over loopback (G.711, RFC 2833 keys; this pjsua2 wheel is built for four calls at most). Reads a
plan as JSON on stdin (each call's number, URI and keys; the SIP and RTP ports), prints each
call's outcome as JSON to the file the plan names.

Each call waits for the line's first words, then keys each group of its plan one key at a time
(``dialDtmf``) once the line has been silent ``QUIET`` seconds (the prompt heard to its end),
and times, from its last key, the first frame of the answer that is not silence (an
``AudioMediaPort`` receiving the line's audio). After the last group the line hangs up."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj

from meterdesk.phone.sip import endpoint_start, frame_bytes

LOUD = 300  # a sample this far from zero is sound, not silence
QUIET = 0.8  # seconds of silence that end a prompt (longer than the pauses between its sentences)
KEY_GAP = 0.2  # seconds between keys (each RFC 2833 event lasts 160 ms)
ANSWER_WAIT = 10.0  # seconds for an answer before the call counts as failed


class Ear(pj.AudioMediaPort):  # type: ignore[misc]
    """What the caller hears, on PJSIP's media thread: when sound began and when it was last heard."""

    def __init__(self, state: CallState) -> None:
        super().__init__()
        self.state = state

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type != pj.PJMEDIA_FRAME_TYPE_AUDIO or frame.size == 0:
            return
        samples = array("h")
        samples.frombytes(frame_bytes(frame))
        now = time.monotonic()
        state = self.state
        if max(samples, default=0) > LOUD or -min(samples, default=0) > LOUD:
            if not state.loud:
                if not state.sound_began:
                    state.sound_began = now  # the greeting
                if state.awaiting and state.quiet_seen:
                    state.latencies.append(now - state.sent_at)
                    state.awaiting = False
                    state.sound_began = now
            state.loud, state.last_loud = True, now
        else:
            state.loud = False
            if state.awaiting:
                state.quiet_seen = True


@dataclass
class CallState:
    uri: str
    groups: list[str]
    at: int = 0  # the next group
    started: float = 0.0
    established: float = 0.0
    closed: bool = False
    failed: str = ""
    loud: bool = False
    sound_began: float = 0.0  # the first sound of the line's latest answer
    last_loud: float = 0.0
    awaiting: bool = False  # the last key sent, the answer not heard yet
    quiet_seen: bool = False
    sent_at: float = 0.0
    sending: str = ""  # keys of the group not sent yet
    next_key_at: float = 0.0
    latencies: list[float] = field(default_factory=list)
    keys_sent: int = 0


class BenchCall(pj.Call):  # type: ignore[misc]
    def __init__(self, account: pj.Account, state: CallState) -> None:
        super().__init__(account)
        self.state = state
        self.ear: Ear | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.state.established = time.monotonic()
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.state.closed = True

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        if self.ear is not None:
            return
        info = self.getInfo()  # kept: its media list lives only as long as it does
        for index, media in enumerate(list(info.media)):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                fmt = pj.MediaFormatAudio()
                fmt.init(pj.PJMEDIA_FORMAT_PCM, 8000, 1, 20000, 16)
                ear = Ear(self.state)
                ear.createPort(f"ear{info.id}", fmt)
                self.getAudioMedia(index).startTransmit(ear)
                self.ear = ear
                return


def _step(call: BenchCall, now: float) -> None:
    """Move one call on: key the next group once the line has spoken (or been heard long enough)."""
    state = call.state
    if state.closed or state.failed or not state.established:
        return
    if state.sending:
        if now >= state.next_key_at:
            key, state.sending = state.sending[0], state.sending[1:]
            call.dialDtmf(key)
            state.keys_sent += 1
            state.next_key_at = now + KEY_GAP
            if not state.sending:
                state.sent_at, state.awaiting, state.quiet_seen = now, True, False
        return
    if state.awaiting:
        if now - state.sent_at > ANSWER_WAIT:
            state.failed = f"no answer to group {state.at}"
        return
    if state.at >= len(state.groups):
        return  # the line hangs up after the last group
    if not state.sound_began:
        if now - state.established > ANSWER_WAIT:
            state.failed = "no greeting"
        return
    # A key pressed over a prompt would leave its last frames (on their way) to be taken for the
    # answer: each prompt is heard to its end, so that any sound after the key is the answer.
    if not state.loud and now - state.last_loud >= QUIET:
        state.sending, state.next_key_at = state.groups[state.at], now
        state.at += 1


def _account(number: str, plan: dict[str, Any]) -> pj.Account:
    """One calling number (none is on file: every call identifies by keypad)."""
    config = pj.AccountConfig()
    config.idUri = f"sip:{number}@127.0.0.1:{plan['sip_port']}"
    low, high = plan["rtp_ports"]
    config.mediaConfig.transportConfig.port = low
    config.mediaConfig.transportConfig.portRange = high - low
    config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = pj.Account()
    account.create(config)
    return account


def _tick(calls: list[BenchCall], now: float) -> None:
    for call in calls:
        if call.state.failed and not call.state.closed:
            call.state.closed = True
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam(True))
        _step(call, now)


def _dial(call: BenchCall, now: float) -> None:
    call.state.started = now
    try:
        call.makeCall(call.state.uri, pj.CallOpParam(True))
    except pj.Error as error:
        call.state.failed = f"dial: {error.info()}"


def _result(call: BenchCall) -> dict[str, Any]:
    state = call.state
    call.ear = None
    completed = state.closed and not state.failed and state.at == len(state.groups) and not state.awaiting
    return {
        "completed": completed,
        "failed": state.failed or ("" if completed else "unfinished"),
        "keys_sent": state.keys_sent,
        "latencies_ms": [round(v * 1000, 1) for v in state.latencies],
    }


def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    ep = endpoint_start("127.0.0.1", plan["sip_port"], len(plan["calls"]))
    accounts = [_account(number, plan) for number, _uri, _groups in plan["calls"]]
    calls = [
        BenchCall(account, CallState(uri=uri, groups=list(groups)))
        for account, (_number, uri, groups) in zip(accounts, plan["calls"], strict=True)
    ]
    ramp = plan.get("ramp", 0.05)
    began = time.monotonic()
    dialled = 0
    deadline = began + plan.get("timeout", 600)
    while time.monotonic() < deadline:
        now = time.monotonic()
        while dialled < len(calls) and now >= began + dialled * ramp:
            _dial(calls[dialled], now)
            dialled += 1
        ep.libHandleEvents(20)
        now = time.monotonic()
        _tick(calls, now)
        if dialled == len(calls) and all(c.state.closed for c in calls):
            break
    ep.hangupAllCalls()
    for _ in range(50):
        ep.libHandleEvents(10)
    out = [_result(c) for c in calls]
    # Every call and account goes before the library (a call deleted after it aborts).
    calls.clear()
    accounts.clear()
    ep.libDestroy()
    return out


def main() -> None:
    plan = json.load(sys.stdin)
    results = run(plan)
    with open(plan["out"], "w") as out:  # PJSIP writes its log to stdout
        json.dump(results, out)


if __name__ == "__main__":
    main()
