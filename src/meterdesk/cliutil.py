"""Small helpers shared by the `meterdesk` subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def output_open(path: str | Path, mode: str, **kwargs: Any) -> Any:
    """Open a file to write output to, or stop with one clear line (a missing directory, a
    directory, no permission …) instead of a traceback."""
    try:
        return open(path, mode, **kwargs)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc
