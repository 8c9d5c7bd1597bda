"""The accounts and meters an import's rows refer to: this dataset's (accounts.csv, meters.csv)
and the stored ones, looked up in chunks as the sections meet them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Max

from meterdesk.billing.models import AccountClose
from meterdesk.customers.models import Account
from meterdesk.dataio.importer.core import ImportRun, chunks
from meterdesk.dataio.importer.packed import ReadingSlots
from meterdesk.domain import readings as rules
from meterdesk.metering.models import Meter


@dataclass(slots=True)
class AccountRec:
    number: str
    row: int  # 0: stored before this import
    db_id: int | None
    category: str
    opened_on: date
    new: dict[str, Any] | None = None  # the fields to create it with
    last_closed: date | None = None


@dataclass(slots=True)
class MeterRec:
    account: AccountRec
    serial: str
    row: int
    db_id: int | None
    shape: rules.MeterShape
    installed: date
    removed: date | None
    initial: tuple[Decimal, ...]
    new: dict[str, Any] | None = None
    readings: ReadingSlots | None = None  # from readings.csv, until its history is checked


def db_id(rec: AccountRec | MeterRec) -> int:
    if rec.db_id is None:  # pragma: no cover - loading order guarantees it
        raise RuntimeError(f"{rec} has no id yet")
    return rec.db_id


class Records:
    """The accounts (by number) and meters (by account and serial) met so far, and those whose
    own row is bad (not reported again where other rows name them)."""

    def __init__(self, run: ImportRun) -> None:
        self.run = run
        self.accounts: dict[str, AccountRec] = {}
        self.bad_accounts: set[str] = set()
        self._account_misses: set[str] = set()
        self.meters: dict[tuple[str, str], MeterRec] = {}
        self.bad_meters: set[tuple[str, str]] = set()
        self._meters_loaded: set[str] = set()  # accounts whose stored meters are in self.meters
        self._has_closes = AccountClose.objects.exists()

    def account(self, section: str, row: int, number: str | None) -> AccountRec | None:
        """The account a row refers to (in this dataset or stored); reports an unknown one.
        An account whose own row is bad is not reported again."""
        if number is None or number in self.bad_accounts:
            return None
        rec = self.accounts.get(number)
        if rec is None:
            self.accounts_resolve([number])
            rec = self.accounts.get(number)
        if rec is None:
            self.run.problem(
                section,
                row,
                "account",
                "unknown account: not in accounts.csv nor stored",
                number,
                code="unknown_account",
            )
        return rec

    def accounts_resolve(self, numbers: Iterable[str]) -> None:
        """Add the stored accounts among ``numbers`` to ``self.accounts``."""
        wanted = [n for n in set(numbers) if n not in self.accounts and n not in self._account_misses]
        found: list[AccountRec] = []
        for part in chunks(sorted(wanted)):
            for acc_id, number, category, opened in Account.objects.filter(number__in=part).values_list(
                "id", "number", "category", "opened_on"
            ):
                rec = AccountRec(number, 0, acc_id, category, opened)
                self.accounts[number] = rec
                found.append(rec)
        self._account_misses.update(n for n in wanted if n not in self.accounts)
        self.last_closed(found)

    def last_closed(self, recs: list[AccountRec]) -> None:
        """Each stored account's last closed month (a reading or a balance may not change it)."""
        if not self._has_closes or not recs:
            return
        by_id = {r.db_id: r for r in recs if r.db_id is not None}
        for part in chunks(by_id):
            rows = (
                AccountClose.objects.filter(account_id__in=part)
                .values("account_id")
                .annotate(last=Max("period"))
                .values_list("account_id", "last")
            )
            for acc_id, last in rows:
                by_id[acc_id].last_closed = last

    def meters_resolve(self, numbers: Iterable[str]) -> None:
        """Add the stored meters of the stored accounts ``numbers`` to ``self.meters``."""
        accounts = {
            self.accounts[n].db_id: self.accounts[n]
            for n in set(numbers)
            if n not in self._meters_loaded and n in self.accounts and self.accounts[n].db_id
        }
        self._meters_loaded.update(a.number for a in accounts.values())
        for part in chunks(accounts):
            for m in Meter.objects.filter(account_id__in=part):
                account = accounts[m.account_id]
                key = (account.number, m.serial)
                if key in self.meters:
                    continue
                self.meters[key] = MeterRec(
                    account=account,
                    serial=m.serial,
                    row=0,
                    db_id=m.pk,
                    shape=m.shape,
                    installed=m.installed_on,
                    removed=m.removed_on,
                    initial=m.initial_values,
                )

    def meter(self, section: str, row: int, parsed: dict[str, Any]) -> MeterRec | None:
        """The meter a row of ``section`` names (in this dataset or stored); reports an unknown one.
        A meter or account whose own row is bad is not reported again."""
        number, serial = parsed.get("account"), parsed.get("serial")
        if (
            number is None
            or serial is None
            or number in self.bad_accounts
            or (number, serial) in self.bad_meters
        ):
            return None
        meter = self.meters.get((number, serial))
        if meter is None and self.account(section, row, number) is not None:
            self.run.problem(
                section,
                row,
                "serial",
                f"no meter with this serial on account {number}",
                serial,
                "unknown_meter",
            )
        return meter
