"""The environment is read in settings.py only, from its declared table, and the README's
configuration table lists exactly the variables of that table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from meterdesk import settings as product_settings
from meterdesk.settings import ENVIRONMENT, Variable

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "meterdesk"
SETTINGS = PACKAGE / "settings.py"
#: settings.py's readers of a declared variable.
READERS = {"_env", "_env_text", "_env_bool", "_env_int"}


def readme_variables(text: str) -> set[str]:
    """The variables named in the first column of the README's "Configuration" table."""
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # after the header
    names: set[str] = set()
    for row in rows:
        first = row.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
    return names


def table_differences(declared: tuple[Variable, ...], listed: set[str]) -> list[str]:
    names = {variable.name for variable in declared}
    return [f"declared but not in the README: {name}" for name in sorted(names - listed)] + [
        f"in the README but not declared: {name}" for name in sorted(listed - names)
    ]


def test_the_readme_lists_exactly_the_declared_variables():
    listed = readme_variables((ROOT / "README.md").read_text(encoding="utf-8"))
    assert table_differences(ENVIRONMENT, listed) == []


def test_a_variable_declared_but_missing_from_the_readme_is_reported():
    listed = readme_variables((ROOT / "README.md").read_text(encoding="utf-8"))
    added = (*ENVIRONMENT, Variable("METERDESK_SOMETHING_NEW", "", "a new setting"))
    assert table_differences(added, listed) == ["declared but not in the README: METERDESK_SOMETHING_NEW"]
    assert table_differences(ENVIRONMENT, {*listed, "METERDESK_GONE"}) == [
        "in the README but not declared: METERDESK_GONE"
    ]


def test_every_variable_is_declared_once_with_its_meaning():
    names = [variable.name for variable in ENVIRONMENT]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in names)
    assert all(variable.meaning.strip() for variable in ENVIRONMENT)


def test_settings_read_exactly_the_declared_variables():
    """Each declared variable is read (none is dead), by name, through the readers of the table."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    read = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in READERS
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert read == {variable.name for variable in ENVIRONMENT}


def test_an_undeclared_variable_cannot_be_read():
    with pytest.raises(KeyError):
        product_settings._env("METERDESK_NOT_DECLARED")


# --- nothing else reads the environment --------------------------------------------------------


def environment_reads(source: str, *, bench_options: bool = False) -> list[str]:
    """Where ``source`` reads the environment: ``os.environ.get``, ``os.environ[...]``, ``in
    os.environ``, ``os.getenv``, a click option's ``envvar``. Allowed: choosing Django's settings
    module (``DJANGO_SETTINGS_MODULE``), setting or removing a variable for a child process, and
    handing the whole environment to one (``{**os.environ, …}``); with ``bench_options``, a
    benchmark's own options (``envvar="METERDESK_BENCH_…"``)."""
    tree = ast.parse(source)
    found: list[str] = []

    def is_environ(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ"
        )

    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, owner = node.func.attr, node.func.value
            if is_environ(owner) and method in {"get", "items", "keys", "values", "copy"}:
                found.append(f"{where}: os.environ.{method}")
            if is_environ(owner) and method == "setdefault":
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and first.value == "DJANGO_SETTINGS_MODULE"):
                    found.append(f"{where}: os.environ.setdefault")
            if method == "getenv":
                found.append(f"{where}: os.getenv")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getenv":
            found.append(f"{where}: getenv")
        if isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            found.append(f"{where}: os.environ[...]")
        if isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            found.append(f"{where}: in os.environ")
        if isinstance(node, ast.keyword) and node.arg in {"envvar", "auto_envvar_prefix"}:
            value = node.value
            own = isinstance(value, ast.Constant) and str(value.value).startswith("METERDESK_BENCH_")
            if not (bench_options and own):
                found.append(f"{where}: click {node.arg}")
    return found


def test_nothing_but_settings_reads_the_environment():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if path == SETTINGS or "tests" in relative.parts:
            continue
        reads = environment_reads(
            path.read_text(encoding="utf-8"), bench_options=relative.parts[0] == "bench"
        )
        if reads:
            offenders[str(relative)] = reads
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "import os\nx = os.environ.get('METERDESK_X', '1')",
        "import os\nx = os.environ['METERDESK_X']",
        "import os\nx = os.getenv('METERDESK_X')",
        "from os import environ\nx = environ.get('METERDESK_X')",
        "import os\nx = 'METERDESK_X' in os.environ",
        "import os\nx = os.environ.setdefault('METERDESK_X', '1')",
        "import click\nopt = click.option('--x', envvar='METERDESK_X')",
    ],
)
def test_the_check_finds_a_read_of_the_environment(source):
    assert environment_reads(source) != []


def test_the_check_allows_what_is_not_a_read():
    source = (
        "import os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'meterdesk.settings')\n"
        "os.environ['DATABASE_URL'] = 'postgres://x'\n"
        "os.environ.pop('METERDESK_TASKS', None)\n"
        "child = {**os.environ, 'DATABASE_URL': 'postgres://x'}\n"
    )
    assert environment_reads(source) == []
    bench = "import click\nopt = click.option('--database-url', envvar='METERDESK_BENCH_DATABASE_URL')"
    assert environment_reads(bench, bench_options=True) == []
    assert environment_reads(bench) != []


# --- the settings the code reads instead -------------------------------------------------------


def test_the_fast_path_follows_its_setting(settings):
    from django.db import connection

    from meterdesk.billing.fast_path import fast_path_available

    settings.METERDESK_BILLING_FAST_PATH = False
    assert fast_path_available() is False
    settings.METERDESK_BILLING_FAST_PATH = True
    assert fast_path_available() is (connection.vendor == "postgresql")
