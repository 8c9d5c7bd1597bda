"""The runs of the scheduled jobs: one row per job and time slot, inserted before the job runs, so
that a slot runs once however many schedulers there are (docs/operations.md, "The schedule")."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    job = models.CharField(_("job"), max_length=40)
    slot = models.CharField(_("time slot"), max_length=20, help_text=_("the day, or the start of the period"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    output = models.TextField(_("output"), blank=True, default="")

    class Meta:
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="job_run_once_a_slot")]
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"{self.job} {self.slot}"
