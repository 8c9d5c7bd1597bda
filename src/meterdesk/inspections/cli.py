"""`meterdesk inspections …`: the plan of meter inspections (docs/backoffice.md)."""

from __future__ import annotations

from datetime import date, timedelta

import click

from meterdesk.cliutil import django_setup_migrated


@click.group(name="inspections", help="Inspections of meters and control readings (Decree 354 pp. 82–85).")
def inspections_group() -> None:
    pass


@inspections_group.command(name="plan")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The first day to plan visits on (default: the first day the notice period allows).",
)
@click.option("--days", type=int, default=1, show_default=True, help="How many days to plan.")
@click.option("--per-day", type=int, default=12, show_default=True, help="Visits per inspector and day.")
def plan_command(on: object, days: int, per_day: int) -> None:
    """Plan the inspections due, by street and inspector, and tell the households (run daily)."""
    django_setup_migrated()
    from meterdesk.backoffice.roles import INSPECTOR, group_name
    from meterdesk.customers.models import User
    from meterdesk.inspections.planner import (
        PlanError,
        inspection_rules,
        inspections_notify,
        inspections_plan,
    )
    from meterdesk.utility.selectors import utility_now

    today = utility_now().date()
    first: date = on.date() if on is not None else today + timedelta(days=inspection_rules().notice_days)  # type: ignore[attr-defined]
    inspectors = list(
        User.objects.filter(groups__name=group_name(INSPECTOR), is_staff=True, is_active=True).order_by("pk")
    )
    if not inspectors:
        click.echo("No inspector to plan for: give someone the inspector role. Nothing planned.", err=True)
        return
    try:
        result = inspections_plan(on=first, days=days, inspectors=inspectors, per_day=per_day, today=today)
    except PlanError as error:
        raise click.ClickException(str(error)) from error
    marked, prepared = inspections_notify(today=today)
    click.echo(
        f"Planned {len(result.planned)} inspections from {first:%Y-%m-%d} over {days} day(s): "
        f"{result.silent} of silent meters, {result.annual} yearly; {result.left} due left without a place. "
        f"Notified {marked} (notices stored: {prepared.created})."
    )
