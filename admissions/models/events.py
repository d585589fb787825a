"""The append-only event log of applications (R-FSM-2)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .append_only import AppendOnlyModel


class ActorKind(models.TextChoices):
    USER = "user", _("staff user")
    CLIENT = "client", _("API client")
    SYSTEM = "system", _("system")
    FAMILY = "family", _("the family (public status page)")


class ApplicationEvent(AppendOnlyModel):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="events")
    transition = models.CharField(max_length=60)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_name = models.CharField(max_length=150)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(db_index=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("application event")
        verbose_name_plural = _("application events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.transition} {self.from_state}→{self.to_state}"
