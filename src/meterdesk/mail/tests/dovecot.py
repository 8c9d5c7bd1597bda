"""A private dovecot IMAP server for the tests: its own configuration, directories, port and
user, started by the test and stopped after it (Debian's dovecot-imapd; scripts/test.sh installs
it)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from meterdesk.devtools import free_port

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
mail_location = maildir:{root}/mail/%u
default_login_user = dovenull
default_internal_user = dovecot
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    user: str = "readings"
    password: str = "imap-test-password"

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)


def start(root: Path) -> Dovecot:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise RuntimeError(
            "dovecot is not installed (apt-get install dovecot-imapd; scripts/test.sh does it)"
        )
    server = Dovecot(root, free_port())
    for folder in ("run", "state", "mail", "home"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)  # noqa: S103 - the login process (dovenull) reaches its sockets through it
    os.chmod(root / "run", 0o755)  # noqa: S103
    (root / "passwd").write_text(f"{server.user}:{{PLAIN}}{server.password}::::::\n")
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:  # dovecot will not keep mail as root: as its own system user, then
        account = pwd.getpwnam("dovecot")
        uid, gid = account.pw_uid, account.pw_gid
        for folder in ("mail", "home"):
            os.chown(root / folder, uid, gid)
    config = CONFIG.format(root=root, port=server.port, uid=uid, gid=gid)
    (root / "dovecot.conf").write_text(config)
    # In the foreground (-F): the test's own child, stopped with it.
    server.process = subprocess.Popen(  # noqa: S603 - dovecot with our configuration
        [binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return server
        except OSError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                server.stop() if server.process.poll() is None else None
                log = (
                    (root / "dovecot.log").read_text(errors="replace")
                    if (root / "dovecot.log").exists()
                    else ""
                )
                raise RuntimeError(f"dovecot did not start: {log}") from None
            time.sleep(0.1)
