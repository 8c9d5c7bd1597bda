"""accounts.csv: personal accounts, by number. A stored account is never changed. Created before
the sections that refer to them are loaded; the number of residents, when not given, is the latest
of residents.csv."""

from __future__ import annotations

from typing import Any

from meterdesk.customers.models import Account
from meterdesk.dataio import fields as f
from meterdesk.dataio.importer.core import (
    ACCOUNT_NUMBER,
    CATEGORY,
    ImportRun,
    Section,
    Spec,
    chunks,
    differences,
)
from meterdesk.dataio.importer.records import AccountRec, Records
from meterdesk.dataio.importer.residents import Residents


class Accounts(Section):
    name = "accounts"

    def __init__(self, run: ImportRun, records: Records, residents: Residents) -> None:
        super().__init__(run, records)
        self.residents = residents

    def check(self) -> None:
        spec: Spec = {
            "number": (ACCOUNT_NUMBER, True),
            "payer": (f.text(200), True),
            "address": (f.text(300), True),
            "category": (CATEGORY, True),
            "rooms": (f.integer(1, 100), False),
            "residents": (f.integer(0, 1000), False),
            "area": (f.decimal(2, max_integer_digits=5, positive=True), False),
            "meter_required": (f.boolean, False),
            "opened_on": (f.a_date, True),
            "closed_on": (f.a_date, False),
        }
        rows: dict[str, AccountRec] = {}
        for row, values in self.run.rows("accounts", spec):
            parsed, ok = self.run.clean("accounts", row, values, spec)
            number = parsed.get("number")
            if not self.run.dates_in_order(
                "accounts", row, values, parsed, "opened_on", "closed_on", code="before_opened"
            ):
                ok = False
            if number is not None and number in rows:
                self.run.problem(
                    "accounts",
                    row,
                    "number",
                    f"the same account number as row {rows[number].row}",
                    number,
                    code="duplicate_account",
                )
                continue
            if not ok or number is None:
                self.records.bad_accounts.add(number or values.get("number", ""))
                continue
            new = {
                "number": number,
                "holder_name": parsed["payer"],
                "address": parsed["address"],
                "category": parsed["category"],
                "rooms": parsed.get("rooms", 1),
                "area": parsed.get("area"),
                "meter_required": parsed.get("meter_required", True),
                "opened_on": parsed["opened_on"],
                "closed_on": parsed.get("closed_on"),
            }
            if "residents" in parsed:
                new["residents"] = parsed["residents"]
            rows[number] = AccountRec(number, row, None, new["category"], new["opened_on"], new)
        # Against the stored accounts.
        stored_recs: list[AccountRec] = []
        for part in chunks(sorted(rows)):
            for stored in Account.objects.filter(number__in=part):
                rec = rows[stored.number]
                changed = differences(stored, rec.new or {})
                if changed:
                    self.run.problem(
                        "accounts",
                        rec.row,
                        "number",
                        "this account is already stored with other data ("
                        + "; ".join(changed)
                        + "); an import does not change stored accounts",
                        rec.number,
                        code="stored_with_other_data",
                    )
                    self.records.bad_accounts.add(rec.number)
                    del rows[stored.number]
                else:
                    rec.db_id, rec.new = stored.pk, None
                    stored_recs.append(rec)
                    self.result.skipped += 1
        self.records.accounts.update(rows)
        self.records.last_closed(stored_recs)

    def load(self) -> None:
        new = [a for a in self.records.accounts.values() if a.new is not None]
        done = 0
        for part in chunks(new, self.run.batch_size):
            objects = []
            for rec in part:
                values = dict(rec.new or {})
                if "residents" not in values:
                    latest = self.residents.latest.get(rec.number)
                    values["residents"] = latest[1] if latest else 1
                objects.append(Account(**values))
            created = Account.objects.bulk_create(objects)
            ids = _ids(created, Account, "number", [o.number for o in objects])
            for rec, obj in zip(part, objects, strict=True):
                rec.db_id = ids[obj.number]
                rec.new = None
            done += len(part)
            self.run.progress("loaded {n} accounts", done, False)
        self.result.created = len(new)
        self.run.progress("loaded {n} accounts", done, True)


def _ids(created: list[Any], model: Any, field_name: str, keys: list[Any]) -> dict[Any, int]:
    """Primary keys of just-created rows (returned by the database where it can, else read)."""
    if all(o.pk is not None for o in created):
        return {getattr(o, field_name): o.pk for o in created}
    return dict(model.objects.filter(**{f"{field_name}__in": keys}).values_list(field_name, "pk"))
