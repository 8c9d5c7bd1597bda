"""The past a utility brings beyond its readings: each meter's verification history
(``verifications.csv``) and the balances carried from the old system (``balances.csv``).

Checked and loaded by the ``Importer`` (its helpers give the rows, the problems and the accounts
and meters of the dataset); docs/import-format.md describes the files.

* A **verification** is history: a stored one with the same data is skipped, with other data it
  is an error. A meter's ``verification_due`` follows its latest verification: the next due date
  of a passed one; the day before a failed one (the meter counts as failed from that day on).
* A **balance** is what an account still owed (or, negative, was owed) for a month billed by the
  old system, and the penalty the old system had accrued on its debts. It is posted as ledger
  lines of that month -- a ``charge`` (basis ``opening``) and a ``penalty`` -- so that the first
  close here opens with it and the penalty rules treat the debt as billed in that month. Each
  line carries the external id ``opening:<account>:<month>`` (``…:penalty``): the ledger's unique
  index keeps it recorded once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from meterdesk.billing.messages import B_OPENING, R_LATE_PAYMENT, R_OPENING_BALANCE
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.dataio import fields as f
from meterdesk.domain.billing import period_end
from meterdesk.domain.periods import month_index, month_start
from meterdesk.metering.models import Meter, MeterVerification, VerificationResult

if TYPE_CHECKING:
    from meterdesk.dataio.importer import Importer, MeterRec

#: The ``basis`` and ``reason`` of a balance's charge line (the bill's words name them).
OPENING_BASIS = B_OPENING
OPENING_REASON = R_OPENING_BALANCE

_VERIFICATION_FIELDS = ("result", "next_due", "verified_by", "note")
_CHUNK = 500


# --- verifications ---------------------------------------------------------------------------


@dataclass(slots=True)
class Verification:
    meter: MeterRec
    row: int
    verified_on: date
    data: dict[str, Any]  # the model's fields but the meter and the date

    @property
    def due(self) -> date:
        """The meter's verification due date when this is its latest verification."""
        if self.data["result"] == VerificationResult.PASSED:
            return self.data["next_due"]  # type: ignore[no-any-return]
        return self.verified_on - timedelta(days=1)


@dataclass
class Verifications:
    new: list[Verification] = field(default_factory=list)
    due_updates: dict[int, date] = field(default_factory=dict)  # stored meter id -> new due date


def verifications_check(imp: Importer) -> None:
    spec: dict[str, tuple[f.Parser, bool]] = {
        "account": (f.ACCOUNT_NUMBER, True),
        "serial": (f.text(40), True),
        "verified_on": (f.a_date, True),
        "result": (f.choice(VerificationResult.values), True),
        "next_due": (f.a_date, False),
        "verified_by": (f.text(200), False),
        "note": (f.text(500), False),
    }
    rows: list[tuple[int, dict[str, Any]]] = []
    for row, values in imp._rows("verifications", spec):
        parsed, ok = imp._clean("verifications", row, values, spec)
        verified, result, due = parsed.get("verified_on"), parsed.get("result"), parsed.get("next_due")
        if verified is not None and verified > imp.today:
            imp._problem(
                "verifications", row, "verified_on", "in the future", values["verified_on"], "in_the_future"
            )
            ok = False
        if result == VerificationResult.PASSED and "next_due" not in values:
            imp._problem(
                "verifications", row, "next_due", "required after a passed verification", code="required"
            )
            ok = False
        if result == VerificationResult.FAILED and "next_due" in values:
            imp._problem(
                "verifications",
                row,
                "next_due",
                "a failed verification has no next due date (the meter counts as failed from that day)",
                values["next_due"],
                "not_expected",
            )
            ok = False
        if due is not None and verified is not None and due <= verified:
            imp._problem(
                "verifications", row, "next_due", "not after verified_on", values["next_due"], "too_early"
            )
            ok = False
        if ok:
            rows.append((row, parsed))
    numbers = {p["account"] for _r, p in rows}
    imp._accounts_resolve(numbers)
    imp._meters_resolve(numbers)
    by_meter: dict[tuple[str, str], list[Verification]] = defaultdict(list)
    seen: dict[tuple[str, str, date], int] = {}
    for row, parsed in rows:
        meter = imp._reading_meter(row, parsed, "verifications")
        if meter is None:
            continue
        key = (meter.account.number, meter.serial, parsed["verified_on"])
        if key in seen:
            imp._problem(
                "verifications",
                row,
                "verified_on",
                f"the same meter and day as row {seen[key]}",
                parsed["verified_on"],
                "duplicate_verification",
            )
            continue
        seen[key] = row
        data = {
            "result": parsed["result"],
            "next_due": parsed.get("next_due"),
            "verified_by": parsed.get("verified_by", ""),
            "note": parsed.get("note", ""),
        }
        by_meter[key[:2]].append(Verification(meter, row, parsed["verified_on"], data))
    stored = _stored_verifications([m[0].meter.db_id for m in by_meter.values() if m[0].meter.db_id])
    for meter_key, items in by_meter.items():
        _meter_verifications(imp, meter_key, items, stored.get(items[0].meter.db_id or 0, {}))
    for meter_key, row in imp.due_pending.items():
        if meter_key not in by_meter and meter_key not in imp.bad_meters:
            imp._problem(
                "meters",
                row,
                "verification_due",
                "required (or give manufactured_on: then 16 years after it; or the meter's verifications)",
                code="required",
            )


def _stored_verifications(meter_ids: list[int]) -> dict[int, dict[date, dict[str, Any]]]:
    stored: dict[int, dict[date, dict[str, Any]]] = defaultdict(dict)
    for start in range(0, len(meter_ids), _CHUNK):
        rows = MeterVerification.objects.filter(meter_id__in=meter_ids[start : start + _CHUNK]).values(
            "meter_id", "verified_on", *_VERIFICATION_FIELDS
        )
        for item in rows:
            stored[item.pop("meter_id")][item.pop("verified_on")] = item
    return stored


def _meter_verifications(
    imp: Importer, key: tuple[str, str], items: list[Verification], stored: dict[date, dict[str, Any]]
) -> None:
    """One meter's verifications from the file: against the stored ones, and its due date."""
    new: list[Verification] = []
    for item in items:
        existing = stored.get(item.verified_on)
        if existing is None:
            new.append(item)
        elif existing == item.data:
            imp.results["verifications"].skipped += 1
        else:
            differences = [
                f"{name} {f_show(existing[name])!r} stored, {f_show(item.data[name])!r} in the file"
                for name in _VERIFICATION_FIELDS
                if existing[name] != item.data[name]
            ]
            imp._problem(
                "verifications",
                item.row,
                "verified_on",
                "this verification is already stored with other data (" + "; ".join(differences) + ")",
                item.verified_on,
                "stored_with_other_data",
            )
    imp.verifications.new.extend(new)
    latest = max(new, key=lambda v: v.verified_on, default=None)
    if latest is None or (stored and max(stored) > latest.verified_on):
        return  # the stored history's latest stays the latest: the due date is already its
    meter = latest.meter
    given = imp.given_dues.get(key)
    if given is not None and given[1] != latest.due:
        imp._problem(
            "meters",
            given[0],
            "verification_due",
            f"differs from the due date given by the meter's latest verification, {latest.due} "
            f"(verifications.csv row {latest.row})",
            given[1],
            "verification_due_mismatch",
        )
        return
    if meter.new is not None:
        meter.new["verification_due"] = latest.due
    elif meter.db_id is not None:
        imp.verifications.due_updates[meter.db_id] = latest.due


def f_show(value: Any) -> str:
    return "(empty)" if value in (None, "") else str(value)


def verifications_load(imp: Importer) -> None:
    new = imp.verifications.new
    for start in range(0, len(new), imp.batch_size):
        MeterVerification.objects.bulk_create(
            MeterVerification(meter_id=imp._db_id(v.meter), verified_on=v.verified_on, **v.data)
            for v in new[start : start + imp.batch_size]
        )
    for meter_id, due in imp.verifications.due_updates.items():
        Meter.objects.filter(pk=meter_id).update(verification_due=due)
    result = imp.results["verifications"]
    result.created = len(new)
    if imp.verifications.due_updates:
        result.extra["stored meters' due dates moved"] = len(imp.verifications.due_updates)


# --- opening balances --------------------------------------------------------------------------


@dataclass(slots=True)
class Balance:
    row: int
    number: str
    period: date
    amount: Decimal
    penalty: Decimal


def opening_id(number: str, period: date, penalty: bool = False) -> str:
    """The external id of a balance's ledger line (unique in the ledger, so posted once)."""
    return f"opening:{number}:{period:%Y-%m}" + (":penalty" if penalty else "")


def balances_check(imp: Importer) -> None:
    spec: dict[str, tuple[f.Parser, bool]] = {
        "account": (f.ACCOUNT_NUMBER, True),
        "period": (f.a_period, True),
        "amount": (f.decimal(2, max_integer_digits=12, signed=True), True),
        "penalty": (f.decimal(2, max_integer_digits=12), False),
    }
    this_month = month_start(imp.today)
    rows: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for row, values in imp._rows("balances", spec):
        parsed, ok = imp._clean("balances", row, values, spec)
        period = parsed.get("period")
        if period is not None and period >= this_month:
            imp._problem(
                "balances",
                row,
                "period",
                f"a balance is of a month the old system billed, before the current one ({this_month:%Y-%m}), "
                "which meterdesk bills",
                values["period"],
                "not_a_past_month",
            )
            ok = False
        if parsed.get("amount") == 0 and not parsed.get("penalty"):
            imp._problem(
                "balances", row, "amount", "nothing owed: leave the row out", values["amount"], "nothing_owed"
            )
            ok = False
        if ok:
            rows.append((row, parsed, values))
    imp._accounts_resolve(p["account"] for _r, p, _v in rows)
    seen: dict[tuple[str, date], int] = {}
    candidates: list[Balance] = []
    for row, parsed, values in rows:
        account = imp._account("balances", row, parsed["account"])
        if account is None:
            continue
        period = parsed["period"]
        key = (account.number, period)
        if key in seen:
            imp._problem(
                "balances",
                row,
                "period",
                f"the same account and month as row {seen[key]}",
                values["period"],
                "duplicate_balance",
            )
            continue
        seen[key] = row
        if month_index(period) < month_index(account.opened_on):
            imp._problem(
                "balances",
                row,
                "period",
                f"before the account was opened on {account.opened_on}",
                values["period"],
                "before_opened",
            )
            continue
        candidates.append(
            Balance(row, account.number, period, parsed["amount"], parsed.get("penalty", Decimal("0.00")))
        )
    stored = _stored_balances(candidates)
    for balance in candidates:
        amount, penalty = (
            stored.get(opening_id(balance.number, balance.period)),
            stored.get(opening_id(balance.number, balance.period, penalty=True)),
        )
        if amount is not None or penalty is not None:
            if (amount or 0) == balance.amount and (penalty or 0) == balance.penalty:
                imp.results["balances"].skipped += 1
            else:
                imp._problem(
                    "balances",
                    balance.row,
                    "amount",
                    f"a balance of this account for {balance.period:%Y-%m} is already stored: {amount or 0} "
                    f"and a penalty of {penalty or 0}; an import does not change it",
                    balance.amount,
                    "stored_with_other_values",
                )
            continue
        last_closed = imp.accounts[balance.number].last_closed
        if last_closed is not None:
            imp._problem(
                "balances",
                balance.row,
                "account",
                f"account {balance.number} is already billed in meterdesk (the last closed month is "
                f"{last_closed:%Y-%m}): a balance carried from the old system is loaded before its first close",
                balance.number,
                "account_already_billed",
            )
            continue
        imp.balances.append(balance)


def _stored_balances(balances: list[Balance]) -> dict[str, Decimal]:
    ids = [opening_id(b.number, b.period, penalty) for b in balances for penalty in (False, True)]
    stored: dict[str, Decimal] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = LedgerEntry.objects.filter(external_id__in=ids[start : start + _CHUNK]).values_list(
            "external_id", "amount"
        )
        stored.update((str(ext), amount) for ext, amount in rows)
    return stored


def balances_load(imp: Importer) -> None:
    entries: list[LedgerEntry] = []
    for b in imp.balances:
        account_id = imp._db_id(imp.accounts[b.number])
        common = {"account_id": account_id, "period": b.period, "posted_on": period_end(b.period)}
        detail = {"import_row": b.row}
        if b.amount:
            entries.append(
                LedgerEntry(
                    **common,
                    kind=EntryKind.CHARGE,
                    basis=OPENING_BASIS,
                    amount=b.amount,
                    reason=OPENING_REASON,
                    detail=detail,
                    external_id=opening_id(b.number, b.period),
                )
            )
        if b.penalty:
            entries.append(
                LedgerEntry(
                    **common,
                    kind=EntryKind.PENALTY,
                    amount=b.penalty,
                    reason=R_LATE_PAYMENT,
                    detail={**detail, "opening": True},
                    external_id=opening_id(b.number, b.period, penalty=True),
                )
            )
    LedgerEntry.objects.bulk_create(entries, batch_size=imp.batch_size)
    result = imp.results["balances"]
    result.created = len(imp.balances)
    result.extra["ledger lines"] = len(entries)
