"""`meterdesk bench …`: benchmarks that print figures."""

from __future__ import annotations

import click


@click.group(name="bench", help="Benchmarks that print figures (never timed assertions).")
def bench_group() -> None:
    pass
