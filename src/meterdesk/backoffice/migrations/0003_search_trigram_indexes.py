"""Trigram indexes for the back office's search, on PostgreSQL only (SQLite searches without):
the case-insensitive regular expressions of ``backoffice.search`` (``~*``) use them."""

from django.db import migrations

INDEXES = (
    ("backoffice_account_address_trgm", "Account", "address"),
    ("backoffice_account_holder_trgm", "Account", "holder_name"),
    ("backoffice_user_full_name_trgm", "User", "full_name"),
)


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, model, column in INDEXES:
        table = apps.get_model("customers", model)._meta.db_table
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _model, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0002_roles"),
        ("customers", "0007_phones_consents_language"),
    ]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
