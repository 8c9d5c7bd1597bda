"""The reading window as versions from a month; its changes move the reference stamp as the
settings' do (the trigger function of 0003)."""

from typing import Any

import django.core.validators
from django.db import migrations, models

TABLE = "utility_readingwindowversion"
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


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements[schema_editor.connection.vendor]:
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("utility", "0004_no_real_company_default_and_labels")]

    operations = [
        migrations.CreateModel(
            name="ReadingWindowVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("valid_from", models.DateField(unique=True, verbose_name="valid from")),
                (
                    "start_day",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(31),
                        ],
                        verbose_name="reading window opens on day",
                    ),
                ),
                (
                    "end_day",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(31),
                        ],
                        verbose_name="reading window closes after day",
                    ),
                ),
            ],
            options={"verbose_name": "reading window", "verbose_name_plural": "reading windows"},
        ),
        migrations.AddConstraint(
            model_name="readingwindowversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("end_day__lte", 31), ("start_day__gte", 1), ("start_day__lte", models.F("end_day"))
                ),
                name="reading_window_version_days",
            ),
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
