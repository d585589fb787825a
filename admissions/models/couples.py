"""Couples (SPEC §13, R-CPL-1…3): two applications of spouses linked to be placed together or
either first. A couple is live until it is unlinked; an application is in at most one live couple,
which the database enforces on the membership rows."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CoupleMode(models.TextChoices):
    TOGETHER = "together", _("placed together")
    EITHER_FIRST = "either_first", _("either may be placed first")


class Couple(models.Model):
    mode = models.CharField(_("mode"), max_length=20, choices=CoupleMode.choices)
    reason = models.TextField(_("reason"))
    linked_at = models.DateTimeField(_("linked at"))
    linked_by = models.CharField(max_length=150)
    unlinked_at = models.DateTimeField(_("unlinked at"), null=True, blank=True)
    unlinked_by = models.CharField(max_length=150, blank=True)
    unlink_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-linked_at", "-id"]
        verbose_name = _("couple")
        verbose_name_plural = _("couples")

    def __str__(self) -> str:
        return f"couple #{self.pk} {self.mode}"

    @property
    def is_live(self) -> bool:
        return self.unlinked_at is None


class CoupleMember(models.Model):
    """One of the two applications of a couple. `live` is the couple's, kept here so that the
    database can refuse an application in two live couples (R-CPL-1)."""

    couple = models.ForeignKey(Couple, on_delete=models.PROTECT, related_name="members")
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="couple_members")
    live = models.BooleanField(default=True)

    class Meta:
        ordering = ["couple_id", "id"]
        verbose_name = _("couple member")
        verbose_name_plural = _("couple members")
        constraints = [
            # R-CPL-1: an application is in at most one live couple.
            models.UniqueConstraint(
                fields=["application"], condition=Q(live=True), name="one_live_couple_per_application"
            ),
            models.UniqueConstraint(fields=["couple", "application"], name="couple_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} in couple #{self.couple_id}"
