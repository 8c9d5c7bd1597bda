"""The rules profile as versions from a month (the settings' profile applies before the first;
closed months keep the profile their run recorded); changes move the reference stamp."""

from typing import Any

from django.db import migrations, models

import meterdesk.utility.models

TABLE = "utility_rulesprofileversion"
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
    dependencies = [
        ("utility", "0006_bank_details_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="RulesProfileVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("valid_from", models.DateField(unique=True, verbose_name="valid from")),
                (
                    "code",
                    models.CharField(
                        max_length=40,
                        validators=[meterdesk.utility.models.validate_rules_profile],
                        verbose_name="rules profile",
                    ),
                ),
            ],
            options={
                "verbose_name": "rules profile version",
                "verbose_name_plural": "rules profile versions",
            },
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
