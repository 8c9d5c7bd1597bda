"""`meterdesk bench …`: benchmarks that print figures."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import click

from meterdesk.cliutil import period_option


@click.group(name="bench", help="Benchmarks that print figures (never timed assertions).")
def bench_group() -> None:
    pass


def _say(as_json: bool) -> Callable[[str], None]:
    """A benchmark's progress lines: on stderr when its figures go to stdout as JSON."""

    def say(message: str) -> None:
        click.echo(message, err=as_json)

    return say


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A benchmark that cannot run (BenchError) ends the command with its reason."""
    from meterdesk.bench.billing import BenchError

    try:
        yield
    except BenchError as error:
        raise click.ClickException(str(error)) from error


def _figures_print(figures: dict[str, Any], as_json: bool, width: int = 20) -> None:
    """A benchmark's figures: one JSON object, or a line each."""
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    click.echo("")
    for key, value in figures.items():
        click.echo(f"{key:<{width}}{value}")


@bench_group.command(
    name="billing",
    help=(
        "Build a synthetic utility of N accounts with two years of history in a dedicated PostgreSQL "
        "database (dropped and created again unless --keep), time the monthly close of its last "
        "month as `meterdesk bill` runs it, and compare it with the plainest set-based SQL."
    ),
)
@click.option("--accounts", required=True, type=click.IntRange(1, 50_000_000), help="N accounts.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--keep",
    is_flag=True,
    help="Reuse the database if it already holds the same data (the month is reopened).",
)
@click.option(
    "--build-only",
    is_flag=True,
    help="Build (or check) the data and stop, without timing the close (with --keep later, the "
    "close is then timed on it).",
)
@click.option(
    "--check-fast-path",
    default=0,
    type=click.IntRange(0, None),
    metavar="K",
    help="Before the timed close, close every K-th chunk with and without the SQL fast path "
    "(rolled back) and compare every row they write; stop if they differ.",
)
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Task workers (default: cores).")
@click.option("--chunk-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--period", callback=period_option, default=None, help="The month closed, YYYY-MM (default 2026-10)."
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same data.")
@click.option(
    "--database-url",
    envvar="METERDESK_BENCH_DATABASE_URL",
    default=None,
    help="Default: DATABASE_URL's PostgreSQL server, database meterdesk_bench "
    "(else postgres://postgres@127.0.0.1:5432/meterdesk_bench). Its name must contain 'bench'.",
)
def billing(
    accounts: int,
    as_json: bool,
    keep: bool,
    build_only: bool,
    check_fast_path: int,
    workers: int | None,
    chunk_size: int,
    period: date | None,
    seed: int,
    database_url: str | None,
) -> None:
    from meterdesk.bench.billing import DEFAULT_PERIOD, bench_billing

    with _refusals():
        figures = bench_billing(
            accounts=accounts,
            workers=workers or os.cpu_count() or 1,
            chunk_size=chunk_size,
            keep=keep,
            build_only=build_only,
            check_fast_path=check_fast_path,
            period=period or DEFAULT_PERIOD,
            seed=seed,
            database_url=database_url,
            say=_say(as_json),
        )
    if as_json or build_only:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    click.echo("")
    click.echo(f"accounts              {figures['accounts']}")
    click.echo(f"seconds               {figures['seconds']}")
    click.echo(f"accounts_per_second   {figures['accounts_per_second']}")
    runs = ", ".join(f"{t}" for t in figures["sql_floor_runs"])
    click.echo(f"sql_floor_seconds     {figures['sql_floor_seconds']} (the fastest of {runs})")
    click.echo(f"ratio_to_floor        {figures['ratio_to_floor']}")
    click.echo(
        f"close's writes alone  {figures['close_writes_seconds']} s, "
        f"{figures['close_writes_ratio_to_floor']}x the floor ({figures['close_writes_rows']} rows, rolled back)"
    )
    click.echo(
        f"peak_rss_mb           {figures['peak_rss_mb']} (largest process; orchestrator "
        f"{figures['orchestrator_rss_mb']}, worker {figures['worker_rss_mb']}, "
        f"all together {figures['peak_rss_total_mb']})"
    )
    click.echo(f"python cpu seconds    {figures['python_cpu_seconds']} (orchestrator and workers)")
    click.echo(f"workers × chunk       {figures['workers']} × {figures['chunk_size']}")
    click.echo(f"ledger lines written  {figures['ledger_lines']}")
    click.echo(f"by basis              {figures['by_basis']}")
    click.echo(f"setup seconds         {figures['setup_seconds']} {figures['setup_steps']}")


@bench_group.command(
    name="api",
    help=(
        "Start the production server on a dedicated PostgreSQL database of N customers (dropped and "
        "created again), drive it from a separate load process with many tokens submitting readings "
        "(and some dashboard reads), and print accepted readings/s with the submissions' latency, "
        "beside two floors measured on the same server: a trivial endpoint and one durable write."
    ),
)
@click.option("--accounts", default=2000, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option(
    "--duration", default=20.0, show_default=True, type=click.FloatRange(0.5, 3600), help="Seconds per phase."
)
@click.option(
    "--clients", default=16, show_default=True, type=click.IntRange(1, 1000), help="Simulated clients."
)
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64), help="Server processes.")
@click.option(
    "--threads", default=2, show_default=True, type=click.IntRange(1, 64), help="Threads per process."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--ceiling",
    is_flag=True,
    help="After the mix, run it again with the submissions made in one call to the database "
    "(bench/ceiling.sql: most rules left out) and print that rate too: the ceiling of such a design "
    "on this machine.",
)
@click.option(
    "--database-url",
    envvar="METERDESK_BENCH_API_DATABASE_URL",
    default=None,
    help="Default: DATABASE_URL's PostgreSQL server, database meterdesk_bench_api "
    "(else postgres://postgres@127.0.0.1:5432/meterdesk_bench_api). Its name must contain 'bench_api'.",
)
def api(
    accounts: int,
    duration: float,
    clients: int,
    workers: int,
    threads: int,
    as_json: bool,
    ceiling: bool,
    database_url: str | None,
) -> None:
    from meterdesk.bench.api import bench_api

    with _refusals():
        figures = bench_api(
            accounts=accounts,
            duration=duration,
            clients=clients,
            workers=workers,
            threads=threads,
            ceiling=ceiling,
            database_url=database_url,
            say=_say(as_json),
        )
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    click.echo("")
    for key in (
        "accepted_per_second",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "trivial_per_second",
        "one_write_per_second",
        "one_write_per_second_before_mix",
        "one_write_per_second_after_mix",
        "ratio_to_one_write",
        "dashboards_per_second",
        "submission_statuses",
        "confirmations_backlog_after_load",
        "confirmations_per_second_draining",
        "server",
        "clients",
    ):
        click.echo(f"{key:<34}{figures[key]}")
    if ceiling:
        top = figures["ceiling"]
        click.echo(
            f"{'ceiling (one call)':<34}{top['accepted_per_second']}/s, "
            f"ratio {top['ratio_to_one_write']}, p99 {top['p99_ms']} ms, {top['statuses']}"
        )


@bench_group.command(
    name="mail",
    help=(
        "Readings by e-mail end to end: N letters over SMTP to `meterdesk mail serve` (a data dir of "
        "its own), timed from the first SMTP byte to each answer reaching a local SMTP sink, beside "
        "the floor of a do-nothing aiosmtpd taking the same letters in the same run."
    ),
)
@click.option(
    "--letters", required=True, type=click.IntRange(1, 1_000_000), help="N letters (one per account)."
)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Task workers.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--database-url",
    default=None,
    help="A PostgreSQL database to fill (its tables are created by migrate); default: SQLite in a "
    "temporary data dir.",
)
@click.option(
    "--kill-every",
    default=None,
    type=click.FloatRange(0.2, None),
    metavar="SECONDS",
    help="Kill -9 the server or one of its workers about every SECONDS (then started again) and "
    "count the letters lost and processed twice.",
)
def bench_mail_command(
    letters: int, workers: int, as_json: bool, database_url: str | None, kill_every: float | None
) -> None:
    from meterdesk.bench.mail import bench_mail

    figures = bench_mail(
        letters=letters, workers=workers, database_url=database_url, say=_say(as_json), kill_every=kill_every
    )
    _figures_print(figures, as_json, width=28)


@bench_group.command(
    name="ivr",
    help=(
        "Phone calls end to end: N concurrent real SIP calls over loopback to `meterdesk ivr serve` "
        "(a data dir of its own), each identifying by keypad and giving a two-zone reading; prints "
        "the calls completed, keys lost, readings stored, the prompt latency and the line's CPU per call."
    ),
)
@click.option("--calls", required=True, type=click.IntRange(1, 400), help="N calls at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--database-url",
    default=None,
    help="A PostgreSQL database to fill (its tables are created by migrate); default: SQLite in a "
    "temporary data dir.",
)
def bench_ivr_command(calls: int, as_json: bool, database_url: str | None) -> None:
    from meterdesk.bench.ivr import bench_ivr

    figures = bench_ivr(calls=calls, database_url=database_url, say=_say(as_json))
    _figures_print(figures, as_json, width=20)


@bench_group.command(
    name="search",
    help=(
        "The back office's search box on a large utility: the p95 of mixed searches (account number, "
        "meter serial, phone, e-mail, surname, loose address) against a plain indexed lookup by "
        "account number. Builds what the database lacks (accounts, names, logins, phones) first."
    ),
)
@click.option(
    "--accounts",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(1, 50_000_000),
    help="N accounts, made only when the database has none.",
)
@click.option("--queries", default=200, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same searches.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--database-url",
    envvar="METERDESK_BENCH_DATABASE_URL",
    default=None,
    help="Default: the product's PostgreSQL server (else the local one), database meterdesk_bench_search; "
    "a copy of the billing bench's database (createdb -T meterdesk_bench) gets only what it lacks.",
)
def bench_search_command(
    accounts: int, queries: int, seed: int, as_json: bool, database_url: str | None
) -> None:
    from meterdesk.bench.search import bench_search

    def find(text: str) -> list[Any]:
        from meterdesk.backoffice.search import customers_find  # after Django's setup

        return customers_find(text)

    with _refusals():
        figures = bench_search(
            accounts=accounts,
            queries=queries,
            seed=seed,
            find=find,
            database_url=database_url,
            say=_say(as_json),
        )
    _figures_print(figures, as_json, width=20)


@bench_group.command(
    name="notify",
    help=(
        "The readings window's opening reminder to N households (each with a verified e-mail), "
        "prepared and sent by the batch sender to a local SMTP sink; messages/s against the sink's "
        "floor, duplicates, peak RSS at N and N/10."
    ),
)
@click.option("--accounts", required=True, type=click.IntRange(1, 10_000_000), help="N households.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--database-url",
    default=None,
    help="A PostgreSQL database of its own, built by bench.synth; default: a copy of meterdesk_bench "
    "(meterdesk_bench_notify, dropped at the end unless --keep).",
)
@click.option("--keep", is_flag=True, help="Keep the copy for the next run.")
def bench_notify_command(accounts: int, as_json: bool, database_url: str | None, keep: bool) -> None:
    from meterdesk.bench.notify import bench_notify

    with _refusals():
        figures = bench_notify(accounts=accounts, database_url=database_url, keep=keep, say=_say(as_json))
    _figures_print(figures, as_json, width=26)


@bench_group.command(
    name="stats",
    help=(
        "The supervisors' dashboard (`meterdesk stats`) for one month of the 1,000,000-account bench, "
        "against the floor: the plain COUNT(*) of that month's readings on the same database. Measures "
        "on a copy of meterdesk_bench (made once, migrated), never on meterdesk_bench itself."
    ),
)
@click.option(
    "--month",
    callback=period_option,
    default=None,
    help="The month, YYYY-MM (default: the bench's last, 2026-09).",
)
@click.option("--runs", default=3, show_default=True, type=click.IntRange(1, 100), help="Timed runs of each.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--database-url",
    default=None,
    help="Measure on this PostgreSQL database (migrated first; its name must contain 'bench'); default: "
    "the product's PostgreSQL server (else the local one), database meterdesk_bench_stats.",
)
def bench_stats_command(month: date | None, runs: int, as_json: bool, database_url: str | None) -> None:
    from meterdesk.bench.stats import DEFAULT_MONTH, bench_stats

    with _refusals():
        figures = bench_stats(
            month=month or DEFAULT_MONTH, runs=runs, database_url=database_url, say=_say(as_json)
        )
    _figures_print(figures, as_json, width=20)
