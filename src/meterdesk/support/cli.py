"""`meterdesk support …`: the support queue's scheduled work (docs/support.md)."""

from __future__ import annotations

import click

from meterdesk.cliutil import django_setup_migrated


@click.group(name="support", help="Customer support: the queue's scheduled work.")
def support_group() -> None:
    pass


@support_group.command(name="escalate")
def escalate_command() -> None:
    """Bring in callback requests and letters not understood, mark the questions past their due
    time as escalated, and tell the supervisors by e-mail (e.g. every 15 minutes from cron)."""
    django_setup_migrated()
    from meterdesk.backoffice.roles import SUPERVISOR, group_name
    from meterdesk.customers.models import User
    from meterdesk.support.intake import queue_intake
    from meterdesk.support.services import escalation_mail, threads_escalate

    taken = queue_intake()
    escalated = threads_escalate()
    supervisors = list(
        User.objects.filter(groups__name=group_name(SUPERVISOR), is_staff=True, is_active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )
    escalation_mail(escalated, supervisors)
    click.echo(
        f"Brought into the queue: {taken}. Escalated: {len(escalated)}"
        + (f", told {len(supervisors)} supervisor(s)." if escalated else ".")
    )
