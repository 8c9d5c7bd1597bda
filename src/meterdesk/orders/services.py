"""Writes of service requests: a household orders (any channel), staff schedule it (the household
gets a notice) and record the outcome. A paid service done is posted to the ledger once, in the
same transaction (``billing.services.service_charge_post``). Staff's changes are written to the
back office's audit (django-auditlog's ``LogEntry``, the shape of ``backoffice.audit``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from auditlog.models import LogEntry
from django.db import transaction
from django.utils import timezone

from meterdesk.billing.services import service_charge_post
from meterdesk.customers.models import Account, AccountLink, User
from meterdesk.orders.models import FINAL, WINDOWS, Channel, Service, ServiceRequest, Status
from meterdesk.orders.selectors import service_current
from meterdesk.utility.selectors import utility_now

MAX_COMMENT = 1000
#: Requests of one account not yet done, cancelled or failed, at most.
MAX_OPEN = 10
#: How far ahead a preferred or scheduled day may be.
HORIZON = timedelta(days=180)


class OrderError(Exception):
    """The request cannot be made or changed as asked (nothing was changed). ``code`` is stable;
    the words are ``orders.messages.order_message``'s."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def _today() -> date:
    return utility_now().date()


def _day_check(day: date | None, today: date, code: str) -> None:
    if day is not None and not (today <= day <= today + HORIZON):
        raise OrderError(code, day.isoformat())


def _comment(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_COMMENT:
        raise OrderError("comment_too_long")
    if "\x00" in text:
        raise OrderError("comment_invalid")
    return text


def request_order(
    *,
    account: Account,
    service_code: str,
    channel: str,
    user: User | None = None,
    preferred_on: date | None = None,
    comment: str = "",
) -> ServiceRequest:
    """A household's order of the service ``service_code`` at its price of today (fixed on the
    request). Refused (OrderError) for a service not offered, a day in the past or too far ahead,
    a closed account or too many open requests."""
    if channel not in Channel.values:
        raise OrderError("channel_unknown", channel)
    today = _today()
    service = service_current(service_code, today)
    if service is None:
        raise OrderError("service_unknown", service_code)
    _day_check(preferred_on, today, "day_invalid")
    text = _comment(comment)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        if locked.closed_on is not None:
            raise OrderError("account_closed")
        open_count = ServiceRequest.objects.filter(account=locked).exclude(status__in=FINAL).count()
        if open_count >= MAX_OPEN:
            raise OrderError("too_many_open")
        request = ServiceRequest.objects.create(
            account=locked,
            user=user,
            service=service,
            price=service.price,
            channel=channel,
            preferred_on=preferred_on,
            comment=text,
        )
        request.number = f"З-{request.pk:06d}"
        request.save(update_fields=["number"])
    return request


def _locked(request: ServiceRequest) -> ServiceRequest:
    return (
        ServiceRequest.objects.select_related("account", "service", "user")
        .select_for_update(of=("self",))
        .get(pk=request.pk)
    )


def _audit(
    *, actor: User | None, request: ServiceRequest, changes: Mapping[str, tuple[object, object]], what: str
) -> None:
    LogEntry.objects.log_create(
        request,
        action=LogEntry.Action.UPDATE,
        changes={
            field: [None if a is None else str(a), None if b is None else str(b)]
            for field, (a, b) in changes.items()
        },
        actor=actor,
        actor_email=actor.email if actor else "",
        additional_data={
            "account": request.account.number,
            "reason": request.reason,
            "service_request": what,
        },
        force_log=True,
    )


def _not_final(request: ServiceRequest) -> None:
    if request.status in FINAL:
        raise OrderError("request_closed", request.status)


def request_schedule(*, staff: User, request: ServiceRequest, on: date, window: str) -> ServiceRequest:
    """Schedule (or move) the visit: a day and a time window; the household gets a notice."""
    if window not in WINDOWS:
        raise OrderError("window_invalid", window)
    _day_check(on, _today(), "day_invalid")
    with transaction.atomic():
        locked = _locked(request)
        _not_final(locked)
        changes = {
            "status": (locked.status, Status.SCHEDULED),
            "scheduled_on": (locked.scheduled_on, on),
            "window": (locked.window or None, window),
        }
        locked.status, locked.scheduled_on, locked.window = Status.SCHEDULED, on, window
        locked.scheduled_by, locked.updated_at = staff, timezone.now()
        locked.save(update_fields=["status", "scheduled_on", "window", "scheduled_by", "updated_at"])
        _audit(actor=staff, request=locked, changes=changes, what="schedule")
        _notice(locked)
    return locked


def _notice(request: ServiceRequest) -> None:
    """The notice of the visit to every login of the account (personal account, e-mail, SMS as
    each chose); moved again, it is a new notice (the key holds the day and window)."""
    from meterdesk.notify.models import Topic
    from meterdesk.notify.prepare import Event, notices_store

    assert request.scheduled_on is not None  # noqa: S101 - scheduled
    links = AccountLink.objects.filter(account_id=request.account_id, user__is_active=True).select_related(
        "user"
    )
    events = [
        Event(
            user_id=link.user_id,
            account_id=request.account_id,
            key=f"{request.number}:{request.scheduled_on:%Y-%m-%d}:{request.window}",
            email=link.user.email,
            language=link.user.language,
            values={
                "number": request.account.number,
                "service": request.service.name(link.user.language),
                "request": request.number,
                "on": request.scheduled_on,
                "hours": request.window,
            },
        )
        for link in links.order_by("user_id")
    ]
    notices_store(Topic.SERVICE_SCHEDULED, events)


def request_done(
    *, staff: User, request: ServiceRequest, outcome: str, done_on: date | None = None
) -> ServiceRequest:
    """The service was done: its outcome in words. A paid one is posted to the ledger (once) for
    the account's first open month, so the next bill shows it."""
    text = outcome.strip()
    if not text:
        raise OrderError("outcome_missing")
    today = _today()
    done_on = done_on or today
    if done_on > today:
        raise OrderError("day_invalid", done_on.isoformat())
    with transaction.atomic():
        locked = _locked(request)
        _not_final(locked)
        changes: dict[str, tuple[object, object]] = {
            "status": (locked.status, Status.DONE),
            "done_on": (None, done_on),
        }
        locked.status, locked.outcome, locked.done_on = Status.DONE, text, done_on
        if locked.price > 0 and locked.entry_id is None:
            locked.entry = service_charge_post(
                account=locked.account,
                amount=Decimal(locked.price),
                done_on=done_on,
                external_id=f"service:{locked.number}",
                detail={
                    "request": locked.number,
                    "code": locked.service.code,
                    "service": {"ru": locked.service.name_ru, "en": locked.service.name_en},
                    "price": str(locked.price),
                },
            )
            changes["entry"] = (None, locked.entry.pk)
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "outcome", "done_on", "entry", "updated_at"])
        _audit(actor=staff, request=locked, changes=changes, what="done")
    return locked


def request_close(*, staff: User | None, request: ServiceRequest, status: str, reason: str) -> ServiceRequest:
    """Cancel the request, or record that the visit failed: the reason in words. Posts nothing."""
    if status not in (Status.CANCELLED, Status.FAILED):
        raise OrderError("status_invalid", status)
    text = reason.strip()
    if not text:
        raise OrderError("reason_missing")
    with transaction.atomic():
        locked = _locked(request)
        _not_final(locked)
        changes = {"status": (locked.status, status)}
        locked.status, locked.reason, locked.updated_at = status, text, timezone.now()
        locked.save(update_fields=["status", "reason", "updated_at"])
        _audit(actor=staff, request=locked, changes=changes, what=status)
    return locked


def request_cancel(*, user: User, request: ServiceRequest, reason: str = "") -> ServiceRequest:
    """The household withdraws its request before the service is done (a scheduled visit too):
    cancelled, with its words or, given none, that the customer cancelled it. Posts nothing."""
    from django.utils.translation import gettext

    return request_close(
        staff=user,
        request=request,
        status=Status.CANCELLED,
        reason=_comment(reason) or gettext("cancelled by the customer"),
    )


def service_price_set(
    *, code: str, price: Decimal, valid_from: date, template: Service | None = None
) -> Service:
    """A new version of the service ``code`` with ``price`` from ``valid_from`` (the requests made
    before keep the price they were made at). Words as the current version's."""
    base = template or Service.objects.filter(code=code).order_by("-valid_from").first()
    if base is None:
        raise OrderError("service_unknown", code)
    if price < 0 or price != price.quantize(Decimal("0.01")):
        raise OrderError("price_invalid", str(price))
    return Service.objects.create(
        code=code,
        name_ru=base.name_ru,
        name_en=base.name_en,
        description_ru=base.description_ru,
        description_en=base.description_en,
        price=price,
        active=True,
        valid_from=valid_from,
    )
