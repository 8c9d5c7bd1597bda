"""payments.csv: payments received, by external id, posted through ``billing.services.payment_post``
one by one as a bank registry's are: the open-month rule and the once-per-external-id guarantee
are the service's. ``period``, when given, is the month a payment pays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from meterdesk.billing.models import EntryKind, LedgerEntry
from meterdesk.billing.services import PaymentError, payment_post
from meterdesk.customers.models import Account
from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import (
    ACCOUNT_NUMBER,
    Adding,
    ImportAborted,
    Spec,
    chunks,
    fmt,
)
from meterdesk.dataio.source import Problem
from meterdesk.domain.periods import month_index

#: What the check keeps of a payment: row, account, paid_on, amount, external id, source, the
#: month it pays ("YYYY-MM" or "").
_Payment = tuple[int, str, date, Decimal, str, str, str]


class Payments(Adding[_Payment]):
    name = "payments"

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "paid_on": (f.a_date, True),
            "amount": (f.decimal(2, max_integer_digits=12, positive=True), True),
            "external_id": (f.text(80), True),
            "source": (f.text(40), False),
            "period": (f.a_period, False),
        }
        seen: dict[str, int] = {}
        rows: list[tuple[int, dict[str, Any]]] = []
        for row, values in self.run.rows("payments", spec):
            parsed, ok = self.run.clean("payments", row, values, spec)
            if "paid_on" in parsed and parsed["paid_on"] > self.run.today:
                self.run.problem(
                    "payments", row, "paid_on", "in the future", values["paid_on"], "in_the_future"
                )
                ok = False
            if "paid_on" in parsed and parsed.get("period", date.min) > parsed["paid_on"]:
                self.run.problem(
                    "payments",
                    row,
                    "period",
                    f"after the month of payment ({parsed['paid_on']:%Y-%m}): a payment pays a month billed "
                    "before it or the month it is made in",
                    values["period"],
                    "period_after_payment",
                )
                ok = False
            ext = parsed.get("external_id")
            if ext is not None:
                if ext in seen:
                    self.run.problem(
                        "payments",
                        row,
                        "external_id",
                        f"the same external id as row {seen[ext]}",
                        ext,
                        code="duplicate_external_id",
                    )
                    continue
                seen[ext] = row
            if ok:
                rows.append((row, parsed))
        self.records.accounts_resolve(p["account"] for _r, p in rows)
        stored: dict[str, tuple[str, str, date, Decimal, str]] = {}
        for part in chunks([p["external_id"] for _r, p in rows]):
            for ext, kind, acc_number, posted, amount, detail in LedgerEntry.objects.filter(
                external_id__in=part
            ).values_list("external_id", "kind", "account__number", "posted_on", "amount", "detail"):
                paid_for = detail.get("period", "") if isinstance(detail, dict) else ""
                stored[str(ext)] = (kind, acc_number, posted, amount, paid_for)
        for row, parsed in rows:
            account = self.records.account("payments", row, parsed["account"])
            if account is None:
                continue
            ext = parsed["external_id"]
            period = parsed.get("period")
            if period is not None and month_index(period) < month_index(account.opened_on):
                self.run.problem(
                    "payments",
                    row,
                    "period",
                    f"before the account was opened on {account.opened_on}",
                    f"{period:%Y-%m}",
                    "before_opened",
                )
                continue
            label = f"{period:%Y-%m}" if period is not None else ""
            if ext in stored:
                kind, acc_number, posted, amount, paid_for = stored[ext]
                if (
                    kind == EntryKind.PAYMENT
                    and acc_number == account.number
                    and posted == parsed["paid_on"]
                    and -amount == parsed["amount"]
                    and paid_for == label
                ):
                    self.result.skipped += 1
                else:
                    self.run.problem(
                        "payments",
                        row,
                        "external_id",
                        f"already used by a stored {kind} of account {acc_number} on {posted} for "
                        f"{fmt(-amount if kind == EntryKind.PAYMENT else amount)}"
                        + (f" paying {paid_for}" if paid_for else ""),
                        ext,
                        "external_id_used",
                    )
                continue
            self.new.append(
                (
                    row,
                    account.number,
                    parsed["paid_on"],
                    parsed["amount"],
                    ext,
                    parsed.get("source", "import"),
                    label,
                )
            )

    def load(self) -> None:
        if not self.new:
            return
        done = 0
        for part in chunks(self.new, self.run.batch_size):
            accounts = Account.objects.in_bulk([self.records.accounts[p[1]].db_id for p in part])
            for row, number, paid_on, amount, ext, source, paid_for in part:
                account = accounts[self.records.accounts[number].db_id or 0]
                detail: dict[str, Any] = {"import_row": row}
                if paid_for:
                    detail["period"] = paid_for  # the month it pays, as a registry's payment keeps it
                try:
                    payment_post(
                        account=account,
                        amount=amount,
                        paid_on=paid_on,
                        external_id=ext,
                        source=source,
                        detail=detail,
                    )
                except PaymentError as exc:
                    raise ImportAborted(
                        Problem(
                            self.run.ds.display("payments"), row, "external_id", str(exc), ext, code=exc.code
                        )
                    ) from exc
            done += len(part)
            self.run.progress("posted {n} payments", done, False)
        self.result.created = done
        self.run.progress("posted {n} payments", done, True)
