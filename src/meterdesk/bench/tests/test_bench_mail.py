"""`meterdesk bench mail` on a few letters: every figure the issue asks for, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys

from meterdesk.mail.tests import servers


def test_bench_mail_prints_its_figures_as_json(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "meterdesk.cli",
            "bench",
            "mail",
            "--letters",
            "6",
            "--workers",
            "1",
            "--json",
        ],
        env=servers.env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for key in ("letters", "letters_per_second", "floor_letters_per_second", "ratio_to_floor", "p99_ms"):
        assert figures[key] is not None, key
    assert figures["letters"] == figures["accepted_250"] == figures["answered"] == 6
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    assert figures["peak_rss_mb"] > 0 and figures["ratio_to_floor"] > 0
