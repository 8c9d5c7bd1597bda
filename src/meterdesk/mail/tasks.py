"""The mail channel's work on the task workers (``meterdesk mail serve`` starts them)."""

from __future__ import annotations

from django_tasks import task


@task()
def letter_process_task(letter_id: int) -> str | None:
    """Process a stored letter (exactly once: a letter already processed is left alone)."""
    from meterdesk.mail.services import letter_run

    return letter_run(letter_id)


@task()
def answer_send_task(answer_id: int) -> bool:
    """Send a stored answer (a sent one is left alone)."""
    from meterdesk.mail.answers import answer_send

    return answer_send(answer_id)
