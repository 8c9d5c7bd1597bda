# The premises' total area, printed on the bill (documents); optional, not used in billing.

from decimal import Decimal

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_field_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="area",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                max_digits=7,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0.01"))],
                verbose_name="total area, m²",
            ),
        ),
    ]
