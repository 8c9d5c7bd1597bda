"""B-tree indexes of the payers' and the logins' names in lower case (in the "C" collation, which
serves both a prefix LIKE and the order), on PostgreSQL only, for a
surname typed in the search box: a common surname lists its first accounts from them at once
(``backoffice.search._named``); the trigram indexes of 0003 find the names it is not the start of."""

from django.db import migrations

INDEXES = (
    ("backoffice_account_holder_lower", "Account", "holder_name"),
    ("backoffice_user_full_name_lower", "User", "full_name"),
)


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, model, column in INDEXES:
        table = apps.get_model("customers", model)._meta.db_table
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {table} ((lower({column}) COLLATE "C"))')


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _model, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("backoffice", "0009_search_house_flat_index")]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
