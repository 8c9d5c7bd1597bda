"""residents.csv: the history of an account's number of residents (the norm charge follows it),
by account and the date it takes effect. A stored change is never changed."""

from __future__ import annotations

from datetime import date
from typing import Any

from meterdesk.customers.models import ResidentsChange
from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import ACCOUNT_NUMBER, Adding, ImportRun, Spec, chunks, fmt
from meterdesk.dataio.importer.records import AccountRec, Records, db_id

#: What the check keeps of a change: account, from, residents, reported on.
_Change = tuple[str, date, int, date | None]


class Residents(Adding[_Change]):
    name = "residents"

    def __init__(self, run: ImportRun, records: Records) -> None:
        super().__init__(run, records)
        self.latest: dict[str, tuple[date, int]] = {}  # account -> the latest change of the file

    def check(self) -> None:
        spec: Spec = {
            "account": (ACCOUNT_NUMBER, True),
            "effective_from": (f.a_date, True),
            "residents": (f.integer(0, 1000), True),
            "reported_on": (f.a_date, False),
        }
        parsed_rows: list[tuple[int, dict[str, Any]]] = []
        for row, values in self.run.rows("residents", spec):
            parsed, ok = self.run.clean("residents", row, values, spec)
            if ok:
                parsed_rows.append((row, parsed))
        self.records.accounts_resolve(p["account"] for _r, p in parsed_rows)
        seen: dict[tuple[str, date], int] = {}
        stored_ids: dict[int, str] = {}
        candidates: list[tuple[int, dict[str, Any], AccountRec]] = []
        for row, parsed in parsed_rows:
            account = self.records.account("residents", row, parsed["account"])
            if account is None:
                continue
            key = (account.number, parsed["effective_from"])
            if key in seen:
                self.run.problem(
                    "residents",
                    row,
                    "effective_from",
                    f"the same account and date as row {seen[key]}",
                    fmt(key[1]),
                    code="duplicate_residents",
                )
                continue
            seen[key] = row
            candidates.append((row, parsed, account))
            if account.db_id is not None:
                stored_ids[account.db_id] = account.number
        stored: dict[tuple[str, date], ResidentsChange] = {}
        for part in chunks(stored_ids):
            for change in ResidentsChange.objects.filter(account_id__in=part):
                stored[(stored_ids[change.account_id], change.effective_from)] = change
        for row, parsed, account in candidates:
            key = (account.number, parsed["effective_from"])
            existing = stored.get(key)
            if existing is not None:
                if existing.residents == parsed["residents"] and existing.reported_on == parsed.get(
                    "reported_on"
                ):
                    self.result.skipped += 1
                else:
                    self.run.problem(
                        "residents",
                        row,
                        "residents",
                        f"already stored for this date: {existing.residents} residents, reported on "
                        f"{fmt(existing.reported_on)}",
                        fmt(parsed["residents"]),
                        code="stored_with_other_data",
                    )
                continue
            self.new.append((account.number, key[1], parsed["residents"], parsed.get("reported_on")))
            latest = self.latest.get(account.number)
            if latest is None or latest[0] < key[1]:
                self.latest[account.number] = (key[1], parsed["residents"])

    def load(self) -> None:
        if not self.new:
            return
        for part in chunks(self.new, self.run.batch_size):
            ResidentsChange.objects.bulk_create(
                ResidentsChange(
                    account_id=db_id(self.records.accounts[number]),
                    effective_from=start,
                    residents=count,
                    reported_on=reported,
                )
                for number, start, count, reported in part
            )
        self.result.created = len(self.new)
