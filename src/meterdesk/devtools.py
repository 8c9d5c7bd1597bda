"""Helpers shared by the tests and the benchmarks, outside the product's import graph: a free
local port, a database of Django's settings as a URL. No Django here."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

#: The address the benchmarks' and the tests' servers listen on.
LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def database_url(database: Mapping[str, Any]) -> str:
    """A PostgreSQL database of Django's settings (HOST, PORT, USER, PASSWORD, NAME) as a URL, for
    a child process's DATABASE_URL."""
    user = quote(str(database.get("USER") or "postgres"), safe="")
    password = f":{quote(str(database['PASSWORD']), safe='')}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{quote(str(database['NAME']), safe='')}"
