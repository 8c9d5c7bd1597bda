"""The database connection as settings.py configures it from DATABASE_URL and the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import connection


def _options(env: dict[str, str]) -> dict:
    code = (
        "import json; from meterdesk import settings; d = settings.DATABASES['default']; "
        "print(json.dumps({'options': d.get('OPTIONS', {}), 'age': d.get('CONN_MAX_AGE')}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "METERDESK_DB_PREPARED"}}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


PG = "postgres://meterdesk@db.example:5432/meterdesk"


def test_postgresql_prepares_statements_with_server_side_binding_by_default():
    got = _options({"DATABASE_URL": PG})
    assert got["options"]["server_side_binding"] is True
    assert got["options"]["prepare_threshold"] == 5
    assert got["age"] == 60


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    got = _options({"DATABASE_URL": PG, "METERDESK_DB_PREPARED": "0"})
    assert "server_side_binding" not in got["options"] and "prepare_threshold" not in got["options"]


def test_sqlite_has_no_such_options(tmp_path):
    got = _options({"METERDESK_DATA_DIR": str(tmp_path)})
    assert "server_side_binding" not in got["options"]
    assert "init_command" in got["options"]


@pytest.mark.django_db
def test_the_live_connection_prepares_what_it_runs_often():
    """On PostgreSQL a statement run five times is prepared on the server; SQLite has no such thing."""
    with connection.cursor() as cursor:
        for _ in range(6):
            cursor.execute("SELECT COUNT(*) FROM customers_account WHERE id > %s", [0])
            cursor.fetchone()
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%customers_account WHERE id > $1%"],
            )
            assert cursor.fetchone()[0] == 1
            assert connection.connection.prepare_threshold == 5
        else:
            assert connection.vendor == "sqlite"
            assert not hasattr(connection.connection, "prepare_threshold")
