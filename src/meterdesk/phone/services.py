"""The phone line's writes: the record of a call once it ends (callback requests are written by the
backend as the caller asks)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from meterdesk.phone.dialog import Conversation
from meterdesk.phone.models import Call


def call_record(
    *, conversation: Conversation, via: str, started_at: datetime, ended_at: datetime | None = None
) -> Call:
    """Store the call: its caller, the account identified, the steps it went through, the keys
    (readings and account numbers; the line takes no card data), the topics and how it ended."""
    account = conversation.account
    return Call.objects.create(
        caller=conversation.caller[:32],
        account_id=None if account is None else account.id,
        via=via,
        language=conversation.language,
        started_at=started_at,
        ended_at=ended_at or timezone.now(),
        path=" ".join(conversation.path),
        inputs=" ".join(conversation.inputs),
        topics=" ".join(dict.fromkeys(conversation.topics)),
        readings=conversation.readings,
        outcome=conversation.outcome,
    )
