"""A real caller for the tests: baresip (Debian), driven over its ctrl_tcp module (JSON in
netstrings), dialling over loopback with G.711 and sending RFC 2833 digits. Its microphone is a
file of silence, or the WAV given (8 kHz mono 16-bit); what it hears is not kept."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

from meterdesk.testing import free_port


class Caller:
    def __init__(self, folder: Path, number: str = "+79161234567", microphone: Path | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        silence = folder / "silence.wav"
        with wave.open(str(silence), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\0\0" * 8000 * 30)
        # Ports are chosen free but may be taken again before baresip binds them (its TLS transport
        # takes the SIP port + 1, its RTP a range): start again on new ports when it could not bind.
        for attempt in range(5):
            self._start(microphone or silence, number)
            try:
                self.sock = self._connect()
                break
            except RuntimeError as error:
                self.process.kill()
                self.process.wait()
                if "Address already in use" not in str(error) or attempt == 4:
                    raise
        self.buffer = b""
        self.events: list[dict[str, Any]] = []

    def _start(self, microphone: Path, number: str) -> None:
        self.control = free_port()
        sip, rtp = free_port(), free_port()
        folder = self.folder
        (folder / "config").write_text(
            "\n".join(
                [
                    "poll_method\tpoll",
                    f"sip_listen\t127.0.0.1:{sip}",
                    f"rtp_ports\t{rtp}-{rtp + 9}",
                    f"audio_source\taufile,{microphone}",
                    "audio_player\taufile,/dev/null",
                    "audio_alert\taufile,/dev/null",
                    "module_path\t/usr/lib/baresip/modules",
                    "module\tg711.so",
                    "module\taufile.so",
                    "module_app\tmenu.so",
                    "module_app\tctrl_tcp.so",
                    "module_app\taccount.so",
                    f"ctrl_tcp_listen\t127.0.0.1:{self.control}",
                    "",
                ]
            )
        )
        (folder / "accounts").write_text(f"<sip:{number}@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
        self.process = subprocess.Popen(  # noqa: S603
            ["baresip", "-f", str(folder)],  # noqa: S607
            stdin=subprocess.DEVNULL,
            stdout=(folder / "out.log").open("wb"),
            stderr=subprocess.STDOUT,
        )

    def _connect(self) -> socket.socket:
        for _ in range(100):
            try:
                return socket.create_connection(("127.0.0.1", self.control), timeout=5)
            except OSError:
                if self.process.poll() is not None:  # it gave up (e.g. a port taken): no use waiting
                    break
                time.sleep(0.05)
        raise RuntimeError("baresip's ctrl_tcp did not come up: " + (self.folder / "out.log").read_text())

    def command(self, name: str, params: str = "") -> None:
        body = json.dumps({"command": name, "params": params, "token": name}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            self.buffer += self.sock.recv(65536)
        except TimeoutError:
            return
        while b":" in self.buffer:
            length, _sep, rest = self.buffer.partition(b":")
            size = int(length)
            if len(rest) < size + 1:
                break
            self.events.append(json.loads(rest[:size]))
            self.buffer = rest[size + 1 :]

    def wait(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for event in self.events:
                if event.get("type") == event_type:
                    self.events.remove(event)
                    return event
            self._read(0.1)
        raise TimeoutError(f"no {event_type}; had {self.events}")

    def keys(self, digits: str, gap: float = 0.25) -> None:
        for digit in digits:
            self.command("sndcode", digit)
            time.sleep(gap)

    def close(self) -> None:
        try:
            self.command("quit")
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
