"""`meterdesk bench mail` on a few letters: every figure the issue asks for, nothing lost; and
with the server killed again and again, nothing lost and nothing processed twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from meterdesk.mail.tests import servers


def _bench(folder: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "meterdesk.cli", "bench", "mail", *args, "--json"],
        env=servers.env(folder),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bench_mail_prints_its_figures_as_json(tmp_path):
    figures = _bench(tmp_path, "--letters", "6", "--workers", "1")
    for key in ("letters", "letters_per_second", "floor_letters_per_second", "ratio_to_floor", "p99_ms"):
        assert figures[key] is not None, key
    assert figures["letters"] == figures["accepted_250"] == figures["answered"] == 6
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    assert figures["peak_rss_mb"] > 0 and figures["ratio_to_floor"] > 0
    assert figures["readings_stored"] == figures["processed"] == 6 and figures["processed_twice"] == 0


def test_bench_mail_kills_the_server_and_counts_what_was_lost(tmp_path):
    figures = _bench(tmp_path, "--letters", "30", "--workers", "1", "--kill-every", "1")
    assert figures["killed_servers"] + figures["killed_workers"] > 0, figures
    assert figures["accepted_250"] == figures["letters_stored"] == figures["processed"] == 30
    assert (figures["lost"], figures["lost_after_250"], figures["processed_twice"]) == (0, 0, 0)
    assert figures["readings_stored"] == 30
