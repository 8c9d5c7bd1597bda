"""The payee's bank details as versions from a day. Today's details (if any) become the first
version, valid since ever; changes move the reference stamp (the trigger function of 0003)."""

from datetime import UTC, date, datetime
from typing import Any

import django.core.validators
import django.utils.timezone
from django.db import migrations, models

TABLE = "utility_bankdetailsversion"
_SQLITE_UPSERT = (
    "INSERT INTO utility_referencestamp (name, stamp) VALUES ('reference', random()) "
    "ON CONFLICT (name) DO UPDATE SET stamp = excluded.stamp"
)
FORWARD = {
    "postgresql": [
        f"CREATE TRIGGER utility_reference_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION utility_reference_changed()"
    ],
    "sqlite": [
        f"CREATE TRIGGER utility_reference_{TABLE}_{op.lower()} AFTER {op} ON {TABLE} BEGIN {_SQLITE_UPSERT}; END"
        for op in ("INSERT", "UPDATE", "DELETE")
    ],
}
BACKWARD = {
    "postgresql": [f"DROP TRIGGER IF EXISTS utility_reference_changed ON {TABLE}"],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS utility_reference_{TABLE}_{op.lower()}"
        for op in ("INSERT", "UPDATE", "DELETE")
    ],
}
#: The first version (today's details) applies to every bill, however old.
SINCE_EVER = date(2000, 1, 1)


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements[schema_editor.connection.vendor]:
            schema_editor.execute(sql, params=None)

    return run


def carry_over(apps: Any, schema_editor: Any) -> None:
    settings = apps.get_model("utility", "UtilitySettings").objects.order_by("pk").first()
    if settings is None or not (settings.bank_name or settings.settlement_account):
        return
    apps.get_model("utility", "BankDetailsVersion").objects.create(
        valid_from=SINCE_EVER,
        bank_name=settings.bank_name,
        bic=settings.bic,
        settlement_account=settings.settlement_account,
        correspondent_account=settings.correspondent_account,
        recorded_at=datetime(2000, 1, 1, tzinfo=UTC),
    )


class Migration(migrations.Migration):
    dependencies = [("utility", "0005_reading_window_version")]

    operations = [
        migrations.CreateModel(
            name="BankDetailsVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("valid_from", models.DateField(unique=True, verbose_name="valid from")),
                ("bank_name", models.CharField(max_length=200, verbose_name="bank")),
                (
                    "bic",
                    models.CharField(
                        blank=True,
                        default="",
                        max_length=9,
                        validators=[django.core.validators.RegexValidator("^\\d{9}$")],
                        verbose_name="BIC",
                    ),
                ),
                (
                    "settlement_account",
                    models.CharField(
                        blank=True,
                        default="",
                        max_length=20,
                        validators=[django.core.validators.RegexValidator("^\\d{20}$")],
                        verbose_name="settlement account",
                    ),
                ),
                (
                    "correspondent_account",
                    models.CharField(
                        blank=True,
                        default="",
                        max_length=20,
                        validators=[django.core.validators.RegexValidator("^\\d{20}$")],
                        verbose_name="correspondent account",
                    ),
                ),
                (
                    "recorded_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="recorded at"),
                ),
            ],
            options={"verbose_name": "bank details", "verbose_name_plural": "bank details"},
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
    ]
