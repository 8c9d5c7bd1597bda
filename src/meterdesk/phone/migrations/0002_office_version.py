"""Offices as versions from a day: each office's values today become its first version, valid
since ever."""

from datetime import date
from typing import Any

import django.db.models.deletion
from django.db import migrations, models

FIELDS = ("name", "address", "latitude", "longitude", "hours_ru", "hours_en", "active")


def carry_over(apps: Any, schema_editor: Any) -> None:
    version = apps.get_model("phone", "OfficeVersion")
    for office in apps.get_model("phone", "Office").objects.all():
        version.objects.create(
            office=office, valid_from=date(2000, 1, 1), **{name: getattr(office, name) for name in FIELDS}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0001_offices_calls_callbacks"),
    ]

    operations = [
        migrations.CreateModel(
            name="OfficeVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("valid_from", models.DateField(verbose_name="valid from")),
                ("name", models.CharField(max_length=200, verbose_name="name")),
                ("address", models.CharField(max_length=300, verbose_name="address")),
                ("latitude", models.DecimalField(decimal_places=6, max_digits=9, verbose_name="latitude")),
                ("longitude", models.DecimalField(decimal_places=6, max_digits=9, verbose_name="longitude")),
                ("hours_ru", models.CharField(max_length=300, verbose_name="hours (Russian)")),
                ("hours_en", models.CharField(max_length=300, verbose_name="hours (English)")),
                ("active", models.BooleanField(default=True, verbose_name="open to the public")),
                (
                    "office",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="versions",
                        to="phone.office",
                    ),
                ),
            ],
            options={
                "verbose_name": "office version",
                "verbose_name_plural": "office versions",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("office", "valid_from"), name="phone_office_version_once_a_day"
                    )
                ],
            },
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
    ]
