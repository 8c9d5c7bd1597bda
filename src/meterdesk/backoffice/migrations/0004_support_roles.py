from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    """The support queue's actions (support_queue, support_answer, support_escalated)."""

    dependencies = [("backoffice", "0003_search_trigram_indexes")]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
