"""Re-review (复核) of an assessment's outcome (R-ASM-6).

One row per assessment re-reviewed (a database constraint: a second request for the same assessment
is refused). The family asks through staff with a reason; a reviewer assigns an assessor who took no
part in the first assessment or its approval; that assessor's new assessment is linked here and is
approved by the reviewer's decision, not before. The rules are in admissions/services/review_requests.py.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReviewRequestState(models.TextChoices):
    REQUESTED = "requested", _("requested")
    ASSIGNED = "assigned", _("assigned")
    DECIDED = "decided", _("decided")


class ReviewOutcome(models.TextChoices):
    UPHELD = "upheld", _("upheld")
    CHANGED = "changed", _("changed")


class ReviewRequest(models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="review_requests")
    # The assessment whose outcome is re-reviewed.
    assessment = models.ForeignKey("assessments.Assessment", on_delete=models.PROTECT, related_name="review_requests")
    reason = models.TextField(_("reason"))
    state = models.CharField(
        _("state"), max_length=10, choices=ReviewRequestState.choices, default=ReviewRequestState.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    # The end of the review_decision_working_days-th working day after the request.
    due_by = models.DateTimeField(_("decision due by"), db_index=True)
    assessor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The re-review's own assessment, recorded by the assigned assessor.
    new_assessment = models.OneToOneField(
        "assessments.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="made_for_review",
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=ReviewOutcome.choices, null=True, blank=True)
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # A changed outcome is applied at once, or when a live offer ends: null until then.
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("re-review")
        verbose_name_plural = _("re-reviews")
        constraints = [
            # R-ASM-6: one re-review per assessment.
            models.UniqueConstraint(fields=["assessment"], name="one_review_request_per_assessment"),
            models.CheckConstraint(
                condition=Q(state="decided", outcome__isnull=False, decided_at__isnull=False)
                | Q(~Q(state="decided"), outcome__isnull=True),
                name="review_request_outcome_when_decided",
            ),
        ]
        indexes = [models.Index(fields=["state", "due_by"], name="review_request_due")]

    def __str__(self) -> str:
        return f"re-review #{self.pk} of assessment #{self.assessment_id} ({self.state})"

    @property
    def awaiting_application(self) -> bool:
        """A changed outcome not yet applied (a live offer was holding it)."""
        return self.outcome == ReviewOutcome.CHANGED and self.applied_at is None
