"""The confirmation e-mails' outbox (docs/adr/0010-confirmation-outbox.md). The confirmations that
task workers had not yet sent (tasks of ``reading_confirmation_task`` still ready to run) move
into it, so that none is lost or sent twice by the upgrade."""

import json

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

TASK_PATH = "meterdesk.metering.tasks.reading_confirmation_task"


def tasks_to_outbox(apps, schema_editor):
    Task = apps.get_model("django_tasks_database", "DBTaskResult")
    Mail = apps.get_model("metering", "ConfirmationMail")
    Reading = apps.get_model("metering", "Reading")
    now = timezone.now()
    waiting = Task.objects.filter(task_path=TASK_PATH, status="READY").order_by("enqueued_at")
    # A task whose reading has been deleted since has nothing left to confirm.
    existing = set(
        Reading.objects.filter(pk__in=[t.args_kwargs["args"][0] for t in waiting]).values_list(
            "pk", flat=True
        )
    )
    mails = []
    for task in waiting:
        reading_id, email, language, charge = task.args_kwargs["args"]
        if reading_id in existing:
            mails.append(
                Mail(
                    reading_id=reading_id,
                    email=email,
                    language=language,
                    charge=charge if isinstance(charge, str) else json.dumps(charge),
                    created_at=task.enqueued_at or now,
                    next_attempt_at=now,
                )
            )
    Mail.objects.bulk_create(mails, batch_size=1000)
    waiting.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0003_fewer_reading_indexes"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfirmationMail",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.CharField(max_length=254, verbose_name="e-mail")),
                ("language", models.CharField(max_length=10, verbose_name="language")),
                ("charge", models.TextField(verbose_name="charge")),
                ("created_at", models.DateTimeField(verbose_name="created at")),
                ("next_attempt_at", models.DateTimeField(verbose_name="next attempt at")),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="attempts")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="sent at")),
                ("failed_at", models.DateTimeField(blank=True, null=True, verbose_name="given up at")),
                ("last_error", models.TextField(blank=True, default="", verbose_name="last error")),
                (
                    "reading",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="metering.reading",
                    ),
                ),
            ],
            options={
                "verbose_name": "confirmation e-mail",
                "verbose_name_plural": "confirmation e-mails",
                "indexes": [
                    models.Index(
                        condition=models.Q(("failed_at__isnull", True), ("sent_at__isnull", True)),
                        fields=["next_attempt_at", "id"],
                        name="confirmation_mail_pending",
                    )
                ],
            },
        ),
        migrations.RunPython(tasks_to_outbox, migrations.RunPython.noop),
    ]
