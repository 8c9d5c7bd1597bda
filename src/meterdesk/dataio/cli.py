"""`meterdesk import` and `meterdesk export` (click commands; Django is set up inside them)."""

from __future__ import annotations

import click


@click.command(name="import", help="Load a dataset file (see docs/import-format.md); nothing is loaded on error.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(path: str) -> None:
    raise click.ClickException("not implemented yet")


@click.group(name="export", help="Export charges and statements.")
def export_group() -> None:
    pass
