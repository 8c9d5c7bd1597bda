"""Billing work that runs on the task workers."""

from __future__ import annotations

from django_tasks import task

from meterdesk.billing.close import chunk_close


@task(queue_name="billing")
def close_chunk_task(chunk_id: int) -> int:
    """Close one chunk of accounts (idempotent: a chunk already done is skipped)."""
    return chunk_close(chunk_id)
