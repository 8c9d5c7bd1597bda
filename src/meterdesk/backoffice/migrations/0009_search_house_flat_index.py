"""An index of the house and flat numbers of the accounts' addresses, on PostgreSQL only, for the
loose address search ("ленина 5 12"): numbers make no selective trigrams, so the trigram index
alone rechecks every account of the street (``backoffice.search``)."""

from django.db import migrations

NAME = "backoffice_account_house_flat"
# As backoffice.search.HOUSE_SQL and FLAT_SQL write them (the index serves only the same expressions).
HOUSE = r"substring(lower(address), '(?:д\.|дом)\s*([0-9]+)')"
FLAT = r"substring(lower(address), '(?:кв\.|квартира)\s*([0-9]+)')"


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("customers", "Account")._meta.db_table
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {NAME} ON {table} (({HOUSE}), ({FLAT}))")


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0008_inspection_reference_service_debt_roles"),
        ("customers", "0007_phones_consents_language"),
    ]

    operations = [migrations.RunPython(index_create, index_drop)]
