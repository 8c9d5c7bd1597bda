"""`meterdesk programme …`: the responsible-customer programme's monthly draw (docs/programme.md)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from meterdesk.cliutil import django_setup_migrated, period_option


@click.group(name="programme", help="The responsible-customer programme: announce, hold and check draws.")
def programme_group() -> None:
    pass


def _programme(code: str):  # type: ignore[no-untyped-def]
    django_setup_migrated()
    from meterdesk.programme.models import Programme

    programme = Programme.objects.filter(code=code).first()
    if programme is None:
        known = (
            ", ".join(Programme.objects.values_list("code", flat=True)) or "none yet (add one in the admin)"
        )
        click.echo(f"No programme {code!r}. Programmes: {known}.", err=True)
        sys.exit(2)
    return programme


PROGRAMME = click.option("--programme", "code", default="responsible", show_default=True, help="Its code.")
PERIOD = click.option("--period", required=True, callback=period_option, help="The month, YYYY-MM.")


@programme_group.command(help="Publish the seed of a month's draw (before the month's close).")
@PROGRAMME
@PERIOD
def announce(code: str, period: date) -> None:
    from meterdesk.programme.draw import DrawError, draw_announce

    try:
        draw = draw_announce(_programme(code), period)
    except DrawError as error:
        click.echo(f"Not announced: {error}.", err=True)
        sys.exit(1)
    click.echo(f"Draw {period:%Y-%m}: seed {draw.seed} (announced {draw.announced_at:%Y-%m-%d %H:%M} UTC).")


@programme_group.command(help="Hold a month's announced draw (after the month's close) and tell the winners.")
@PROGRAMME
@PERIOD
@click.option(
    "--export", "export_path", type=click.Path(dir_okay=False, path_type=Path), help="Write its file here."
)
def draw(code: str, period: date, export_path: Path | None) -> None:
    from meterdesk.programme.draw import DrawError, draw_export, draw_hold

    try:
        held = draw_hold(_programme(code), period)
    except DrawError as error:
        click.echo(f"Not held: {error}.", err=True)
        sys.exit(1)
    click.echo(f"Draw {period:%Y-%m}: {held.eligible} eligible accounts, {held.winners.count()} winners.")
    for winner in held.winners.select_related("account").order_by("place"):
        click.echo(f"  {winner.place:>3}. account {winner.account.number}  ticket {winner.ticket[:16]}…")
    if export_path is not None:
        export_path.write_text(json.dumps(draw_export(held), ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"Its file: {export_path}")


@programme_group.command(help="Check a draw's file: do its winners follow from its seed and list?")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify(path: Path) -> None:
    from meterdesk.programme.draw import draw_verify

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        click.echo(f"{path} is not a draw's file: {error}", err=True)
        sys.exit(2)
    problems = draw_verify(data) if isinstance(data, dict) else ["not a draw's file"]
    if problems:
        for problem in problems:
            click.echo(f"WRONG: {problem}")
        sys.exit(1)
    click.echo(
        f"OK: {len(data.get('winners') or [])} winners of {len(data.get('eligible') or [])} eligible "
        f"follow from the seed {data.get('seed')}."
    )
