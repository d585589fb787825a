"""Versioned policy (SPEC §9). A version is never edited: a change is a new version with its own
`effective_from`. The parameters and their defaults are defined in admissions/policy.py."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Policy(models.Model):
    version = models.PositiveIntegerField(_("version"), unique=True)
    effective_from = models.DateField(_("effective from"))
    parameters = models.JSONField(_("parameters"))
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-version"]
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")

    def __str__(self) -> str:
        return f"v{self.version} ({self.effective_from})"


class PolicyActivation(models.Model):
    """R-POL-1: a version takes effect when the act that brings every open entry and application
    under it commits; this row is written in that same transaction. The version in force today is
    the newest activated one: until its row exists the previous version answers everything. Written
    once by the act and never changed (the audit trail itself is the AuditEntry written with it)."""

    policy = models.OneToOneField(Policy, on_delete=models.PROTECT, related_name="activation")
    activated_at = models.DateTimeField()
    # What the act changed, per facility code: {"YX01": {"entries": 40, "scores": 12, ...}}.
    counts = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("policy activation")
        verbose_name_plural = _("policy activations")

    def __str__(self) -> str:
        return f"v{self.policy.version} in force since {self.activated_at:%Y-%m-%d %H:%M}"
