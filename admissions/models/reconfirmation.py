"""Re-confirmation (R-CHG-3): each time a family is asked to confirm that they still want to wait.

One row per ask. It is open (unconfirmed) from `asked_at` until `confirmed_at`; `respond_by` is the
end of the grace period (`reconfirm_grace_days`), `reminded_at` the one reminder before it, and
`lapsed_at` when the system suspended the application `not_reconfirmed` for want of an answer. A
confirmation after the lapse is still recorded on the same row. A row without `asked_at` records a
confirmation nobody asked for: staff confirming on the family's word, or a live offer (which counts
as a confirmation). `cancelled_at` closes an ask the application no longer needs: it left `waiting`
for another reason (suspended by staff, withdrawn, …). The next ask is due `reconfirm_interval_days`
after the latest confirmation (or cancellation); the first one after `queued_at`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from .applications import Application, ApplicationState


class ReconfirmedVia(models.TextChoices):
    FAMILY = "family", _("the family, on the status page")
    STAFF = "staff", _("staff, on the family's word")
    OFFER = "offer", _("a live offer")


class Reconfirmation(models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="reconfirmations")
    due_at = models.DateTimeField(_("due at"))  # when the ask fell due (the spread of R-CHG-3)
    asked_at = models.DateTimeField(_("asked at"), null=True, blank=True)
    respond_by = models.DateTimeField(_("confirm by"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    lapsed_at = models.DateTimeField(_("suspended for want of a confirmation at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_via = models.CharField(_("confirmed by"), max_length=10, choices=ReconfirmedVia.choices, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("re-confirmation")
        verbose_name_plural = _("re-confirmations")
        constraints = [
            # At most one ask open (neither confirmed nor cancelled) per application.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(confirmed_at__isnull=True, cancelled_at__isnull=True),
                name="one_open_reconfirmation_per_application",
            ),
            models.CheckConstraint(
                condition=Q(asked_at__isnull=False) | Q(confirmed_at__isnull=False),
                name="reconfirmation_asked_or_confirmed",
            ),
        ]
        indexes = [
            models.Index(
                fields=["application"],
                condition=Q(confirmed_at__isnull=True, cancelled_at__isnull=True),
                name="reconfirmation_open",
            ),
        ]

    def __str__(self) -> str:
        return f"re-confirmation #{self.pk} of {self.application_id}"

    @property
    def is_open(self) -> bool:
        return self.confirmed_at is None and self.cancelled_at is None


# --- reads (the dashboard, the boards, the watchdog: R-CHG-3 "unconfirmed") ------------------------
def unconfirmed_applications(queryset: QuerySet[Application] | None = None) -> QuerySet[Application]:
    """R-CHG-3 "unconfirmed": asked and not yet confirmed (waiting), plus suspended `not_reconfirmed`."""
    queryset = Application.objects.all() if queryset is None else queryset
    open_asks = Reconfirmation.objects.filter(
        application=OuterRef("pk"), asked_at__isnull=False, confirmed_at__isnull=True, cancelled_at__isnull=True
    )
    lapsed = open_asks.filter(lapsed_at__isnull=False)
    # Both kinds have an open ask, so the few applications with one are found first from the asks
    # (`pk__in`): with the condition only inside an OR of EXISTS, PostgreSQL tested every
    # application of the city (a home's queue page: 190 ms at 100,000 applications, issue 18).
    asked = Reconfirmation.objects.filter(asked_at__isnull=False, confirmed_at__isnull=True, cancelled_at__isnull=True)
    return queryset.filter(pk__in=asked.values("application_id")).filter(
        Q(Exists(open_asks), state=ApplicationState.WAITING) | Q(Exists(lapsed), state=ApplicationState.SUSPENDED)
    )


def unconfirmed_listing(queryset: QuerySet[Application] | None = None) -> QuerySet[Application]:
    """The unconfirmed applications with their ask's `reconfirm_by`, the oldest deadline first."""
    respond_by = Reconfirmation.objects.filter(
        application=OuterRef("pk"), confirmed_at__isnull=True, cancelled_at__isnull=True
    ).values("respond_by")[:1]
    return unconfirmed_applications(queryset).annotate(reconfirm_by=Subquery(respond_by)).order_by("reconfirm_by", "pk")


def with_reconfirmation(queryset: QuerySet[Application]) -> QuerySet[Application]:
    """What `reconfirm_due` reads, for a whole page in one query: the open ask's `respond_by` and
    the latest confirmation or cancellation."""
    open_ask = Reconfirmation.objects.filter(
        application=OuterRef("pk"), confirmed_at__isnull=True, cancelled_at__isnull=True
    )
    settled = Reconfirmation.objects.filter(application=OuterRef("pk")).exclude(
        confirmed_at__isnull=True, cancelled_at__isnull=True
    )
    return queryset.annotate(
        reconfirm_open=Exists(open_ask),
        reconfirm_open_respond_by=Subquery(open_ask.values("respond_by")[:1]),
        reconfirm_last_settled=Subquery(
            settled.annotate(at=Coalesce("confirmed_at", "cancelled_at")).order_by("-at").values("at")[:1]
        ),
    )
