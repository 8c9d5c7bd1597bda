"""balances.csv: the balances carried from the old system. A balance is what an account still owed
(or, negative, was owed) for a month billed by the old system, and the penalty the old system had
accrued on its debts. It is posted as ledger lines of that month -- a ``charge`` (basis
``opening``) and a ``penalty`` -- so that the first close here opens with it and the penalty rules
treat the debt as billed in that month. Each line carries the external id
``opening:<account>:<month>`` (``…:penalty``): the ledger's unique index keeps it recorded once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from meterdesk.billing.messages import B_OPENING, R_LATE_PAYMENT, R_OPENING_BALANCE
from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import ACCOUNT_NUMBER, DB_CHUNK, Adding, Spec
from meterdesk.dataio.importer.records import db_id
from meterdesk.domain.billing import period_end
from meterdesk.domain.periods import month_index, month_start

#: The ``basis`` and ``reason`` of a balance's charge line (the bill's words name them).
OPENING_BASIS = B_OPENING
OPENING_REASON = R_OPENING_BALANCE


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


class Balances(Adding[Balance]):
    name = "balances"

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "period": (f.a_period, True),
            "amount": (f.decimal(2, max_integer_digits=12, signed=True), True),
            "penalty": (f.decimal(2, max_integer_digits=12), False),
        }
        this_month = month_start(self.run.today)
        rows: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        for row, values in self.run.rows("balances", spec):
            parsed, ok = self.run.clean("balances", row, values, spec)
            period = parsed.get("period")
            if period is not None and period >= this_month:
                self.run.problem(
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
                self.run.problem(
                    "balances",
                    row,
                    "amount",
                    "nothing owed: leave the row out",
                    values["amount"],
                    "nothing_owed",
                )
                ok = False
            if ok:
                rows.append((row, parsed, values))
        self.records.accounts_resolve(p["account"] for _r, p, _v in rows)
        seen: dict[tuple[str, date], int] = {}
        candidates: list[Balance] = []
        for row, parsed, values in rows:
            account = self.records.account("balances", row, parsed["account"])
            if account is None:
                continue
            period = parsed["period"]
            key = (account.number, period)
            if key in seen:
                self.run.problem(
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
                self.run.problem(
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
                    self.result.skipped += 1
                else:
                    self.run.problem(
                        "balances",
                        balance.row,
                        "amount",
                        f"a balance of this account for {balance.period:%Y-%m} is already stored: {amount or 0} "
                        f"and a penalty of {penalty or 0}; an import does not change it",
                        balance.amount,
                        "stored_with_other_values",
                    )
                continue
            last_closed = self.records.accounts[balance.number].last_closed
            if last_closed is not None:
                self.run.problem(
                    "balances",
                    balance.row,
                    "account",
                    f"account {balance.number} is already billed in meterdesk (the last closed month is "
                    f"{last_closed:%Y-%m}): a balance carried from the old system is loaded before its first close",
                    balance.number,
                    "account_already_billed",
                )
                continue
            self.new.append(balance)

    def load(self) -> None:
        if not self.new:
            return
        entries: list[LedgerEntry] = []
        for b in self.new:
            account_id = db_id(self.records.accounts[b.number])
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
        LedgerEntry.objects.bulk_create(entries, batch_size=self.run.batch_size)
        result = self.result
        result.created = len(self.new)
        result.extra["ledger lines"] = len(entries)


def _stored_balances(balances: list[Balance]) -> dict[str, Decimal]:
    ids = [opening_id(b.number, b.period, penalty) for b in balances for penalty in (False, True)]
    stored: dict[str, Decimal] = {}
    for start in range(0, len(ids), DB_CHUNK):
        rows = LedgerEntry.objects.filter(external_id__in=ids[start : start + DB_CHUNK]).values_list(
            "external_id", "amount"
        )
        stored.update((str(ext), amount) for ext, amount in rows)
    return stored
