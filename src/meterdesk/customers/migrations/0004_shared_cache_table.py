"""The table of Django's database cache, the default shared cache: the rate limits of the API and
of registration count there across every server process (docs/adr/0011). Created whatever the
cache setting is now, so that switching METERDESK_CACHE_URL back to the default needs no step."""

from django.core.management.commands.createcachetable import Command
from django.db import migrations

#: The default cache's table (settings._caches).
CACHE_TABLE = "meterdesk_cache"


def create_table(apps, schema_editor):
    command = Command()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_table(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_logins_verified_and_link_history"),
    ]

    operations = [migrations.RunPython(create_table, drop_table)]
