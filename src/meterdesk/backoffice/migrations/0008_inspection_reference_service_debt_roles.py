from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    """Inspections, reference data, service requests and debt cases."""

    dependencies = [("backoffice", "0007_residents_role")]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
