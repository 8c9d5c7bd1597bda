"""`meterdesk bench search` builds what its database lacks, times mixed searches through the back
office's search and the floor, and prints the figures; every search but a surname finds its account."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from meterdesk.bench.search import _address_loose, _phone_typed, figures_make
from meterdesk.testing import scratch_postgres


def test_an_address_is_typed_loosely_and_a_phone_as_people_type_it():
    assert _address_loose("г. Москва, ул. Ленина, д. 5, кв. 12") == "ленина 5 12"
    assert _address_loose("г. Москва, Кутузовский пр-т, д. 150, кв. 1") == "кутузовский 150 1"
    assert _phone_typed("+79161234567", 2) == "8 (916) 123-45-67"


def test_the_figures_compare_the_p95_with_the_floor():
    figures = figures_make({"number": [1.0] * 19 + [10.0], "address": [2.0] * 20}, [0.5] * 40, 20, 40)
    assert figures["queries"] == 40 and figures["p95_ms"] == 2.0 and figures["floor_p95_ms"] == 0.5
    assert figures["ratio_to_floor"] == 4.0 and figures["p95_ms_by_kind"]["number"] == 1.45


@pytest.fixture
def bench_url():
    server = os.environ.get("METERDESK_BENCH_DATABASE_URL")
    with scratch_postgres(f"meterdesk_bench_search_test_{os.getpid()}", create=True, server=server) as url:
        yield url


def test_bench_search_prints_its_figures(bench_url, tmp_path):
    env = {**os.environ, "METERDESK_DATA_DIR": str(tmp_path), "METERDESK_BENCH_DATABASE_URL": bench_url}
    command = [sys.executable, "-m", "meterdesk.cli", "bench", "search", "--accounts", "300"]
    done = subprocess.run(  # noqa: S603 - this interpreter, our command
        [*command, "--queries", "36", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["queries"] == 36 and figures["accounts"] == 300
    assert figures["p95_ms"] > 0 and figures["floor_p95_ms"] > 0 and figures["ratio_to_floor"] > 0
    assert set(figures["p95_ms_by_kind"]) == {"number", "serial", "phone", "email", "surname", "address"}
    assert figures["found_the_account"] == figures["of"] == 30
    again = subprocess.run(  # noqa: S603 - the data is reused, not built again
        [*command, "--queries", "6", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "build_seconds" not in json.loads(again.stdout.strip().splitlines()[-1])
