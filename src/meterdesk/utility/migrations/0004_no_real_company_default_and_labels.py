from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("utility", "0003_reference_stamp"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="referencestamp",
            options={"verbose_name": "reference data stamp", "verbose_name_plural": "reference data stamps"},
        ),
        migrations.AlterField(
            model_name="referencestamp",
            name="name",
            field=models.CharField(max_length=20, primary_key=True, serialize=False, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="referencestamp",
            name="stamp",
            field=models.BigIntegerField(verbose_name="stamp"),
        ),
        # The defaults live in Python only (Django sets no database default), so the tables stay as
        # they are: on SQLite an altered field rebuilds its table, which would drop the
        # reference-change triggers of 0003.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="utilitysettings",
                    name="name",
                    field=models.CharField(
                        default="Энергосбытовая компания", max_length=200, verbose_name="name"
                    ),
                ),
                migrations.AlterField(
                    model_name="utilitysettings",
                    name="short_name",
                    field=models.CharField(default="Энергосбыт", max_length=60, verbose_name="short name"),
                ),
            ],
        ),
    ]
