"""What the `meterdesk` subcommands share: setting Django up, the --period option, the member of
staff of --by, amounts, opening an output file, and the progress bar of the commands that work
through every account.

Importable before Django is set up (nothing here imports a model at module level), so every
subcommand's module imports it at the top."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
import django
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from meterdesk.domain.money import money_text
from meterdesk.domain.periods import month_parse

if TYPE_CHECKING:
    from meterdesk.customers.models import User

#: The settings of every `meterdesk` process unless DJANGO_SETTINGS_MODULE names others.
SETTINGS_MODULE = "meterdesk.settings"


def django_setup(settings_module: str | None = None) -> None:
    """Set Django up (``settings_module`` if given, else DJANGO_SETTINGS_MODULE, else the
    product's settings); a setting the environment got wrong stops with one line, no traceback."""
    if settings_module is not None:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    try:
        django.setup()
    except ImproperlyConfigured as error:
        raise click.ClickException(f"configuration: {error}") from error


def database_current() -> bool:
    """True if every migration has been applied (after ``django_setup``)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def django_setup_migrated() -> None:
    """Set Django up for a command that works on the data: refused while migrations are pending."""
    django_setup()
    if not database_current():
        raise click.ClickException("the database is not up to date: run `meterdesk migrate` first")


def migrate(verbosity: int = 0) -> None:
    """Apply every pending migration (after ``django_setup``)."""
    call_command("migrate", interactive=False, verbosity=verbosity)


def period_parse(value: str) -> date:
    """A month given as YYYY-MM, as its first day; else a usage error that says what was expected."""
    try:
        return month_parse(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected a month YYYY-MM, e.g. 2025-10; got {value!r}") from exc


def period_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """The click callback of a --period YYYY-MM option (None when the option is not given)."""
    return None if value is None else period_parse(value)


def staff_get(email: str | None, param_hint: str = "--by") -> User | None:
    """The active member of staff with this e-mail (any case), None when no e-mail is given; a
    usage error when there is none (after ``django_setup``)."""
    if not email:
        return None
    from meterdesk.customers.models import User

    user = User.objects.filter(email__iexact=email.strip(), is_staff=True, is_active=True).first()
    if user is None:
        raise click.BadParameter(
            f"no active member of staff with the e-mail {email!r}", param_hint=param_hint
        )
    return user


def money(value: Any) -> str:
    """An amount as the commands print it (in English, like the rest of their output):
    ``1,234.50 ₽`` (``domain.money.money_text``)."""
    return money_text(value, "en")


def output_open(path: str | Path, mode: str, **kwargs: Any) -> Any:
    """Open a file to write output to, or stop with one clear line (a missing directory, a
    directory, no permission …) instead of a traceback."""
    try:
        return open(path, mode, **kwargs)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def accounts_progress(
    label: str, total: int, *, done: int = 0, file: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """A progress bar on standard error (``file``) that counts accounts: done / total, the share,
    the time left and the rate, accounts a second since it started (``done`` accounts were done
    before: they count towards the total, not the rate). Yields the function that adds accounts
    done. Standard output keeps the command's result alone, for scripts to read."""
    started = time.monotonic()
    counted = 0

    def rate(_item: object) -> str:
        seconds = time.monotonic() - started
        per_second = counted / seconds if seconds > 0 else 0.0
        return f"{per_second:,.0f} accounts/s"

    with click.progressbar(
        length=total,
        label=label,
        show_pos=True,
        show_percent=True,
        item_show_func=rate,
        file=file or sys.stderr,
    ) as bar:
        bar.update(done)

        def advance(accounts: int) -> None:
            nonlocal counted
            counted += accounts
            bar.update(accounts)

        yield advance
