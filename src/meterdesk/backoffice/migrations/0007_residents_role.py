from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    """Recording a change in the number of residents (residents)."""

    dependencies = [("backoffice", "0006_billing_roles")]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
