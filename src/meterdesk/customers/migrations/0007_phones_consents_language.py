"""A login's phone numbers (several, in E.164, indexed by number for the phone line), the consents
to personal data processing with the texts agreed to, and the language as a choice.

The one phone registration kept on the login (``User.phone``, as typed minus separators) moves
into the new table, normalised to E.164 by the same library and rule as new numbers
(``domain.phones``, docs/adr/0015); a value that names no valid number is not carried over. The
rule is repeated here rather than imported, so that this migration keeps doing what it did."""

import re

import django.db.models.deletion
import django.utils.timezone
import phonenumbers
from django.conf import settings
from django.db import migrations, models

_TYPED = re.compile(r"\+?[0-9 \u00a0().\-]+")


def _e164(text):
    text = (text or "").strip()
    if not text or len(text) > 40 or not _TYPED.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phones_forward(apps, schema_editor):
    User = apps.get_model("customers", "User")
    Phone = apps.get_model("customers", "Phone")
    rows = []
    for user_id, phone, joined in User.objects.exclude(phone="").values_list("pk", "phone", "date_joined"):
        number = _e164(phone)
        if number is not None:
            rows.append(Phone(user_id=user_id, number=number, label="mobile", added_at=joined))
    Phone.objects.bulk_create(rows, batch_size=1000)


def phones_backward(apps, schema_editor):
    User = apps.get_model("customers", "User")
    Phone = apps.get_model("customers", "Phone")
    for phone in Phone.objects.order_by("-added_at", "-pk"):  # the earliest number wins
        User.objects.filter(pk=phone.user_id).update(phone=phone.number)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0006_account_area"),
    ]

    operations = [
        migrations.CreateModel(
            name="Phone",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.CharField(max_length=16, verbose_name="number")),
                (
                    "label",
                    models.CharField(
                        choices=[
                            ("mobile", "mobile"),
                            ("home", "home"),
                            ("work", "work"),
                            ("other", "other"),
                        ],
                        default="mobile",
                        max_length=10,
                        verbose_name="label",
                    ),
                ),
                (
                    "added_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="added at"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="phones",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "phone number",
                "verbose_name_plural": "phone numbers",
                "ordering": ["added_at", "pk"],
                "indexes": [models.Index(fields=["number"], name="phone_number_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("user", "number"), name="phone_unique_per_login"),
                    models.CheckConstraint(
                        condition=models.Q(("number__regex", "^\\+[1-9][0-9]{6,14}$")), name="phone_e164"
                    ),
                ],
            },
        ),
        migrations.RunPython(phones_forward, phones_backward),
        migrations.RemoveField(model_name="user", name="phone"),
        migrations.AlterField(
            model_name="user",
            name="language",
            field=models.CharField(
                choices=[("ru", "Русский"), ("en", "English")],
                default="ru",
                max_length=8,
                verbose_name="language",
            ),
        ),
        migrations.CreateModel(
            name="ConsentText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.CharField(max_length=20, verbose_name="version")),
                (
                    "language",
                    models.CharField(
                        choices=[("ru", "Русский"), ("en", "English")], max_length=8, verbose_name="language"
                    ),
                ),
                ("text", models.TextField(verbose_name="text")),
                ("sha256", models.CharField(max_length=64, unique=True, verbose_name="SHA-256 of the text")),
                (
                    "first_shown_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="first shown at"),
                ),
            ],
            options={
                "verbose_name": "text of a consent",
                "verbose_name_plural": "texts of consents",
                "ordering": ["-first_shown_at", "-pk"],
            },
        ),
        migrations.CreateModel(
            name="Consent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.CharField(max_length=254, verbose_name="e-mail at the time")),
                ("version", models.CharField(max_length=20, verbose_name="version")),
                (
                    "given_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="given at"),
                ),
                (
                    "address",
                    models.CharField(blank=True, default="", max_length=64, verbose_name="client address"),
                ),
                (
                    "user_agent",
                    models.CharField(blank=True, default="", max_length=300, verbose_name="browser"),
                ),
                ("channel", models.CharField(default="registration", max_length=20, verbose_name="channel")),
                (
                    "text",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consents",
                        to="customers.consenttext",
                        verbose_name="text agreed to",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consents",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "consent to personal data processing",
                "verbose_name_plural": "consents to personal data processing",
                "ordering": ["-given_at", "-pk"],
                "indexes": [models.Index(fields=["user", "given_at"], name="consent_user_given_idx")],
            },
        ),
    ]
