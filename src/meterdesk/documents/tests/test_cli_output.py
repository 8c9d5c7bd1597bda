"""An output file that cannot be written (`-o` into a missing directory, onto a directory, without
permission) is one clear line and a non-zero exit, never a traceback, for every export."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from meterdesk.cli import main

pytestmark = pytest.mark.django_db


def _commands(number: str) -> dict[str, list[str]]:
    return {
        "charges": ["export", "charges", "--period", "2025-09"],
        "charges json": ["export", "charges", "--period", "2025-09", "--format", "json"],
        "statement": ["export", "statement", "--account", number, "--period", "2025-09"],
        "bill": ["export", "bill", "--account", number, "--period", "2025-09"],
    }


@pytest.mark.parametrize("command", ["charges", "charges json", "statement", "bill"])
def test_an_output_in_a_missing_directory(history, tmp_path, command):
    args = _commands(history[1].account.number)[command]
    target = tmp_path / "no" / "such" / "dir" / "x"
    result = CliRunner().invoke(main, [*args, "-o", str(target)])
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OSError)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert lines == [f"Error: cannot write {target}: No such file or directory"]
    assert not target.parent.exists()


@pytest.mark.parametrize("command", ["charges", "statement", "bill"])
def test_an_output_that_is_a_directory_or_not_writable(history, tmp_path, command):
    args = _commands(history[1].account.number)[command]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path)])
    assert result.exit_code != 0
    assert not isinstance(result.exception, OSError)
    assert f"cannot write {tmp_path}" in result.output or "is a directory" in result.output
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = CliRunner().invoke(main, [*args, "-o", str(locked / "x")])
        assert result.exit_code == 1
        assert f"Error: cannot write {locked / 'x'}: Permission denied" in result.output


def test_a_good_output_is_still_written(history, tmp_path):
    number = history[1].account.number
    for name, args in _commands(number).items():
        target = tmp_path / f"{name.replace(' ', '-')}.out"
        result = CliRunner().invoke(main, [*args, "-o", str(target)])
        assert result.exit_code == 0, (name, result.output)
        assert target.stat().st_size > 0
