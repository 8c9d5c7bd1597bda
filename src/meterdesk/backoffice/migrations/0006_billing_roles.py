from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    """Billing from the browser: billing_runs, billing_close, rebill."""

    dependencies = [("backoffice", "0005_stats_role")]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
