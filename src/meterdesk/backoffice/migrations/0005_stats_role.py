from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    """The statistics page's action (stats): billing, supervisors, administrators."""

    dependencies = [("backoffice", "0004_support_roles")]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
