"""How soon each topic is to be answered, and when a thread counts as overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

from meterdesk.support.models import Status, Topic

#: The time to answer, by topic: readings and payments touch this month's bill, so they go first.
DUE: dict[str, timedelta] = {
    Topic.READINGS: timedelta(hours=24),
    Topic.PAYMENT: timedelta(hours=24),
    Topic.BILL: timedelta(hours=48),
    Topic.METER: timedelta(hours=72),
    Topic.OTHER: timedelta(hours=120),
}

#: The statuses whose clock runs: staff owe an answer.
OPEN = (Status.NEW, Status.IN_PROGRESS)


def due_at(topic: str, since: datetime) -> datetime:
    return since + DUE[topic]


def overdue(status: str, due: datetime, now: datetime) -> bool:
    return status in OPEN and due < now
