"""Writes: loading a bank's registry of payments, and resolving its unmatched rows.

``registry_load`` is all-or-nothing: a file with any problem (encoding, columns, dates, amounts,
footer totals, a payment twice in the file) is refused with every problem and loads nothing; a
good file is loaded in one transaction. A file is loaded once (its SHA-256), and a payment once
(the bank's identity of the row, ``Layout.row_key``): a row already loaded from an earlier file is
recorded as a duplicate of it and posts nothing.

Each row whose account number names an open account becomes a ledger payment through
``billing.services.payment_post`` (external id from the row's key, so it is posted exactly once,
whatever path it takes). The other rows wait in the unmatched queue for staff: ``row_assign``
posts the payment to the account they choose, ``row_reject`` returns the money to the bank.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from meterdesk.billing.models import LedgerEntry
from meterdesk.billing.services import DuplicatePayment, PaymentError, payment_post
from meterdesk.customers.models import Account, User
from meterdesk.dataio.source import Problem
from meterdesk.registries.layouts import Layout
from meterdesk.registries.models import SOURCE, Registry, RegistryRow, RowStatus, UnmatchedReason
from meterdesk.registries.parser import ParsedRow, registry_parse
from meterdesk.registries.selectors import registry_get
from meterdesk.utility.selectors import utility_now, utility_zone

DB_CHUNK = 500


@dataclass
class RegistrySummary:
    rows: int = 0
    matched: int = 0
    unmatched: int = 0
    duplicate: int = 0  # already loaded from an earlier file: not posted again
    amount: Decimal = Decimal("0.00")  # every row of the file
    commission: Decimal = Decimal("0.00")
    matched_amount: Decimal = Decimal("0.00")  # credited to accounts now
    unmatched_amount: Decimal = Decimal("0.00")  # waiting in the queue
    duplicate_amount: Decimal = Decimal("0.00")
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass
class LoadResult:
    problems: list[Problem]
    summary: RegistrySummary | None = None
    registry: Registry | None = None  # None when refused or a dry run
    dry_run: bool = False
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, where it was loaded)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Abort(Exception):
    def __init__(self, *problems: Problem) -> None:
        super().__init__(str(problems[0]))
        self.problems = list(problems)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), DB_CHUNK):
        yield items[start : start + DB_CHUNK]


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def registry_load(
    *,
    data: bytes,
    name: str,
    layout: Layout,
    dry_run: bool = False,
    today: date | None = None,
    user: User | None = None,
) -> LoadResult:
    """Check a registry file and, if it has no problem, load it in one transaction (rolled back
    at the end with ``dry_run``). Nothing at all is loaded if there is any problem."""
    digest = file_hash(data)
    earlier = registry_get(digest)
    if earlier is not None:
        when = timezone.localtime(earlier.loaded_at, utility_zone())
        return LoadResult(
            [
                Problem(
                    name,
                    None,
                    "",
                    f"this file was already loaded on {when:%d.%m.%Y %H:%M} as registry #{earlier.pk} "
                    f"({earlier.name}); nothing was loaded",
                )
            ],
            dry_run=dry_run,
        )
    now = utility_now()
    parsed = registry_parse(data, name, layout, zone=now.tzinfo or utility_zone(), today=today or now.date())
    if parsed.problems:
        return LoadResult(parsed.problems, dry_run=dry_run)
    try:
        with transaction.atomic():
            result = _load(parsed.rows, name, digest, layout, parsed.footer, now, user)
            if dry_run:
                transaction.set_rollback(True)
                result.registry = None
    except _Abort as exc:
        return LoadResult(exc.problems, dry_run=dry_run)
    except IntegrityError as exc:
        problem = Problem(
            name,
            None,
            "",
            f"the database changed while the file was loading ({exc}); nothing was loaded: load it again",
        )
        return LoadResult([problem], dry_run=dry_run)
    result.dry_run = dry_run
    return result


def _load(
    rows: list[ParsedRow],
    name: str,
    digest: str,
    layout: Layout,
    footer: dict[str, str],
    now: Any,
    user: User | None,
) -> LoadResult:
    earlier: dict[str, RegistryRow] = {}
    for part in _chunks([r.key for r in rows]):
        for stored in (
            RegistryRow.objects.filter(row_key__in=part)
            .exclude(status=RowStatus.DUPLICATE)
            .select_related("registry")
        ):
            earlier[stored.row_key] = stored
    changed = [
        Problem(
            name,
            r.line,
            "",
            f"this payment was loaded before (line {earlier[r.key].line} of registry #{earlier[r.key].registry_id}, "
            f"{earlier[r.key].registry.name}) with account {earlier[r.key].account_number or '(none)'} and amount "
            f"{earlier[r.key].amount}; here it has account {r.account or '(none)'} and amount {r.amount}",
            r.key,
        )
        for r in rows
        if r.key in earlier
        and (earlier[r.key].amount, earlier[r.key].account_number) != (r.amount, r.account)
    ]
    if changed:
        raise _Abort(*changed)
    in_ledger: set[str] = set()
    for part in _chunks([r.external_id for r in rows if r.key not in earlier]):
        in_ledger.update(
            str(e)
            for e in LedgerEntry.objects.filter(external_id__in=part).values_list("external_id", flat=True)
        )
    if in_ledger:
        clash = next(r for r in rows if r.external_id in in_ledger)
        raise _Abort(
            Problem(
                name,
                clash.line,
                "",
                f"a payment with the external id {clash.external_id} is already in the ledger, but from no "
                "registry; nothing was loaded",
            )
        )
    if len(earlier) == len(rows):
        seen = earlier[rows[0].key]
        raise _Abort(
            Problem(
                name,
                None,
                "",
                f"every payment of this file is already loaded (line {rows[0].line} as line {seen.line} of "
                f"registry #{seen.registry_id}, {seen.registry.name}); nothing was loaded",
            )
        )
    accounts: dict[str, Account] = {}
    numbers = sorted({r.account for r in rows if layout.account_re.fullmatch(r.account)})
    for part in _chunks(numbers):
        accounts.update((a.number, a) for a in Account.objects.filter(number__in=part))
    registry = Registry.objects.create(
        name=name[:255],
        sha256=digest,
        layout=layout.name,
        bank=layout.bank,
        loaded_at=now,
        loaded_by=user,
        first_paid_on=min(r.paid_on for r in rows),
        last_paid_on=max(r.paid_on for r in rows),
        rows_total=len(rows),
        rows_matched=0,
        rows_unmatched=0,
        rows_duplicate=0,
        amount_total=Decimal("0.00"),
        commission_total=Decimal("0.00"),
        amount_matched=Decimal("0.00"),
        amount_unmatched=Decimal("0.00"),
        footer=footer,
    )
    summary = RegistrySummary(rows=len(rows))
    result = LoadResult([], summary=summary, registry=registry)
    records: list[RegistryRow] = []
    for row in rows:
        summary.amount += row.amount
        summary.commission += row.commission
        record = _record(registry, row)
        first = earlier.get(row.key)
        if first is not None:
            record.status = RowStatus.DUPLICATE
            record.duplicate_of = first
            summary.duplicate += 1
            summary.duplicate_amount += row.amount
            result.duplicates.append(
                (row.line, f"line {first.line} of registry #{first.registry_id} ({first.registry.name})")
            )
        else:
            account, reason = _match(row, layout, accounts)
            if account is None:
                record.status = RowStatus.UNMATCHED
                record.reason = reason
                summary.unmatched += 1
                summary.unmatched_amount += row.amount
                summary.by_reason[reason] = summary.by_reason.get(reason, 0) + 1
            else:
                record.status = RowStatus.MATCHED
                record.account = account
                record.entry = _post(record, account, registry)
                summary.matched += 1
                summary.matched_amount += row.amount
        records.append(record)
    RegistryRow.objects.bulk_create(records, batch_size=DB_CHUNK)
    registry.rows_matched = summary.matched
    registry.rows_unmatched = summary.unmatched
    registry.rows_duplicate = summary.duplicate
    registry.amount_total = summary.amount
    registry.commission_total = summary.commission
    registry.amount_matched = summary.matched_amount
    registry.amount_unmatched = summary.unmatched_amount
    registry.save()
    return result


def _record(registry: Registry, row: ParsedRow) -> RegistryRow:
    return RegistryRow(
        registry=registry,
        line=row.line,
        row_key=row.key,
        external_id=row.external_id,
        paid_at=row.paid_at,
        paid_on=row.paid_on,
        branch=row.branch,
        operation_id=row.operation_id,
        account_number=row.account,
        payer=row.payer,
        address=row.address,
        period=row.period,
        amount=row.amount,
        commission=row.commission,
        raw=row.raw,
    )


def _match(row: ParsedRow, layout: Layout, accounts: dict[str, Account]) -> tuple[Account | None, str]:
    if not layout.account_re.fullmatch(row.account):
        return None, UnmatchedReason.MALFORMED_ACCOUNT
    account = accounts.get(row.account)
    if account is None:
        return None, UnmatchedReason.UNKNOWN_ACCOUNT
    if account.closed_on is not None and account.closed_on < row.paid_on:
        return None, UnmatchedReason.CLOSED_ACCOUNT
    return account, ""


def _detail(record: RegistryRow, registry: Registry) -> dict[str, Any]:
    """What the ledger keeps about a registry payment (its ``detail``)."""
    return {
        "registry": registry.pk,
        "registry_name": registry.name,
        "line": record.line,
        "bank": registry.bank,
        "branch": record.branch,
        "operation_id": record.operation_id,
        "paid_at": record.paid_at.isoformat(),
        "payer": record.payer,
        "period": f"{record.period:%Y-%m}" if record.period else "",
        "commission": str(record.commission),
        "account_as_sent": record.account_number,
    }


def _post(record: RegistryRow, account: Account, registry: Registry) -> LedgerEntry:
    """The ledger payment of a row: what the payer paid (the bank's commission is not credited)."""
    try:
        return payment_post(
            account=account,
            amount=record.amount,
            paid_on=record.paid_on,
            external_id=record.external_id,
            source=SOURCE,
            detail=_detail(record, registry),
        )
    except PaymentError as exc:
        raise _Abort(Problem(registry.name, record.line, "", str(exc), record.external_id)) from exc


# --- the unmatched queue -------------------------------------------------------------------------


class RowResolveError(Exception):
    """The row cannot be resolved as asked (nothing was changed)."""


def _locked_unmatched(row: RegistryRow) -> RegistryRow:
    locked = RegistryRow.objects.select_for_update().select_related("registry").get(pk=row.pk)
    if locked.status != RowStatus.UNMATCHED:
        raise RowResolveError(
            _("Row %(line)s of registry #%(registry)s is not waiting for an account: it is %(status)s.")
            % {"line": locked.line, "registry": locked.registry_id, "status": locked.get_status_display()}
        )
    return locked


def row_assign(
    *, row: RegistryRow, account: Account, user: User | None = None, note: str = ""
) -> LedgerEntry:
    """Post an unmatched row's payment to ``account`` (chosen by staff). Exactly once: a row that is
    no longer unmatched, or whose payment is already in the ledger, is refused."""
    with transaction.atomic():
        locked = _locked_unmatched(row)
        try:
            entry = payment_post(
                account=account,
                amount=locked.amount,
                paid_on=locked.paid_on,
                external_id=locked.external_id,
                source=SOURCE,
                detail={
                    **_detail(locked, locked.registry),
                    "assigned_by": user.pk if user is not None else None,
                    "note": note.strip(),
                },
            )
        except DuplicatePayment as exc:
            raise RowResolveError(
                _("The payment of this row is already in the ledger (account %(account)s).")
                % {"account": exc.entry.account.number}
            ) from exc
        except PaymentError as exc:
            raise RowResolveError(str(exc)) from exc
        locked.status = RowStatus.ASSIGNED
        locked.account = account
        locked.entry = entry
        locked.resolved_at = timezone.now()
        locked.resolved_by = user
        locked.resolution_note = note.strip()
        locked.save(
            update_fields=["status", "account", "entry", "resolved_at", "resolved_by", "resolution_note"]
        )
    row.refresh_from_db()
    return entry


def row_reject(*, row: RegistryRow, reason: str, user: User | None = None) -> RegistryRow:
    """Reject an unmatched row (its money goes back to the bank); the reason is required."""
    text = reason.strip()
    if not text:
        raise RowResolveError(_("Give the reason for returning the payment to the bank."))
    with transaction.atomic():
        locked = _locked_unmatched(row)
        locked.status = RowStatus.REJECTED
        locked.resolved_at = timezone.now()
        locked.resolved_by = user
        locked.resolution_note = text
        locked.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_note"])
    row.refresh_from_db()
    return row


def rows_rematch(*, rows: Iterable[RegistryRow], user: User | None = None) -> int:
    """Match unmatched rows again by the account number the bank sent (an account opened since,
    a typo fixed in the accounts): each one that names an open account now is posted to it.
    Returns how many were posted."""
    posted = 0
    for row in rows:
        if row.status != RowStatus.UNMATCHED:
            continue
        account = Account.objects.filter(number=row.account_number).first()
        if account is None or (account.closed_on is not None and account.closed_on < row.paid_on):
            continue
        try:
            row_assign(row=row, account=account, user=user, note=_("matched again by its account number"))
        except RowResolveError:
            continue
        posted += 1
    return posted
