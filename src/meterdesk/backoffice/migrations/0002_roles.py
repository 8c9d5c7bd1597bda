from django.db import migrations


def roles_make(apps, schema_editor):
    from meterdesk.backoffice.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("backoffice", "0001_office"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_make, migrations.RunPython.noop)]
