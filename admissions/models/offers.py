"""Offers, occupancies and allocation decisions (SPEC §7)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from facilities.models import Bed, CareLevel, Facility

from .append_only import AppendOnlyModel


class OfferState(models.TextChoices):
    PENDING = "pending", _("pending")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    EXPIRED = "expired", _("expired")
    ADMITTED = "admitted", _("admitted")
    FAILED_CHECK = "failed_check", _("failed admission check")
    WITHDRAWN = "withdrawn", _("withdrawn")


O = OfferState  # noqa: E741
LIVE_OFFER_STATES = (O.PENDING, O.ACCEPTED)


class Offer(ConcurrentTransitionMixin, models.Model):
    application = models.ForeignKey("admissions.Application", on_delete=models.PROTECT, related_name="offers")
    queue_entry = models.ForeignKey("admissions.QueueEntry", on_delete=models.PROTECT, related_name="offers")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="offers")
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="offers")
    decision = models.OneToOneField("admissions.AllocationDecision", on_delete=models.PROTECT, related_name="offer")
    state = FSMField(default=O.PENDING, choices=O.choices, protected=True)
    # The care level when the offer was made: what R-NQ-1 counts for as long as the bed is held.
    care_level = models.CharField(max_length=10, choices=CareLevel.choices)
    # The bed's occupancy round when offered: a refusal bars this bed only until someone else
    # has occupied it (R-ALLOC-1 refused_this_bed).
    bed_round = models.PositiveIntegerField()
    made_at = models.DateTimeField()
    respond_by = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    admit_by = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # R-OFF-4: declines, expiries and no-shows are refusals.
    is_refusal = models.BooleanField(default=False)
    reason = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # R-OFF-7: the admission deadline's reminder, its one extension, and the overdue notice.
    admission_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    admit_by_extended_at = models.DateTimeField(null=True, blank=True)
    admit_by_before_extension = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    # R-CPL-2: the other half of a couple's joint offer (set on both).
    partner_offer = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-made_at", "-id"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            # R-OFF-3: an application holds at most one live offer.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(state__in=["pending", "accepted"]),
                name="one_live_offer_per_application",
            ),
            # R-BED-1: a bed holds at most one pending/accepted offer.
            models.UniqueConstraint(
                fields=["bed"], condition=Q(state__in=["pending", "accepted"]), name="one_live_offer_per_bed"
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["accepted", "admitted"]) | Q(admit_by__isnull=False),
                name="offer_accepted_has_admit_by",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "respond_by"], name="offer_state_respond_by"),
            models.Index(fields=["application", "bed", "is_refusal"], name="offer_refusals"),
        ]

    def __str__(self) -> str:
        return f"offer #{self.pk} {self.state}"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_OFFER_STATES

    @property
    def overdue(self) -> bool:
        """R-OFF-7: accepted, and the (extended) admission deadline has passed without an admission."""
        return self.state == O.ACCEPTED and self.admit_by is not None and self.admit_by < timezone.now()

    @transition(field=state, source=O.PENDING, target=O.ACCEPTED)
    def accept(self) -> None: ...

    @transition(field=state, source=O.PENDING, target=O.DECLINED)
    def decline(self) -> None: ...

    @transition(field=state, source=O.PENDING, target=O.EXPIRED)
    def expire(self) -> None: ...

    @transition(field=state, source=O.ACCEPTED, target=O.ADMITTED)
    def admit(self) -> None: ...

    @transition(field=state, source=O.ACCEPTED, target=O.FAILED_CHECK)
    def fail_check(self) -> None: ...

    @transition(field=state, source=[O.PENDING, O.ACCEPTED], target=O.WITHDRAWN)
    def withdraw(self) -> None: ...


class DischargeReason(models.TextChoices):
    DISCHARGED = "discharged", _("discharged")
    DECEASED = "deceased", _("deceased")
    TRANSFERRED = "transferred", _("transferred")


class Occupancy(models.Model):
    """A resident in a bed, from admission to discharge (R-BED-1, R-BED-2)."""

    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="occupancies")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="occupancies")
    application = models.OneToOneField(
        "admissions.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="occupancy"
    )
    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, null=True, blank=True, related_name="occupancy")
    care_level = models.CharField(max_length=10, choices=CareLevel.choices)
    admitted_on = models.DateField()
    discharged_on = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=20, choices=DischargeReason.choices, blank=True)

    class Meta:
        ordering = ["-admitted_on", "-id"]
        verbose_name = _("occupancy")
        verbose_name_plural = _("occupancies")
        constraints = [
            # R-BED-1: at most one occupant per bed.
            models.UniqueConstraint(
                fields=["bed"], condition=Q(discharged_on__isnull=True), name="one_occupant_per_bed"
            ),
            models.CheckConstraint(
                condition=Q(discharged_on__isnull=True, discharge_reason="")
                | Q(discharged_on__isnull=False) & ~Q(discharge_reason=""),
                name="occupancy_discharge_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["facility", "care_level", "admitted_on"], name="occupancy_admissions")]

    def __str__(self) -> str:
        return f"{self.bed} from {self.admitted_on}"


class AllocationDecision(AppendOnlyModel):
    """R-ALLOC-2: one bed's allocation, hash-chained per facility."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="decisions")
    sequence = models.PositiveIntegerField()  # 1, 2, 3 … per facility
    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="decisions")
    made_at = models.DateTimeField()
    policy_version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=40)
    chosen_entry = models.ForeignKey(
        "admissions.QueueEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    chosen = models.JSONField(null=True, blank=True)  # {reference, rank, score}
    skipped = models.JSONField(default=list)  # [{reference, rank, score, reason}]
    quota_before = models.JSONField()
    quota_after = models.JSONField()
    previous_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, unique=True)
    # SPEC §15 (admissions/chain.py): the keyed chain (R-VER-1) and the public log (R-VER-2). Null
    # only until migration 0013 re-chains the decisions from before it; every decision since has them.
    key_id = models.CharField(max_length=40, null=True, blank=True)
    keyed_hash = models.CharField(max_length=64, null=True, blank=True)
    public = models.JSONField(null=True, blank=True)
    public_hash = models.CharField(max_length=64, null=True, blank=True)
    prev_public_hash = models.CharField(max_length=64, null=True, blank=True)
    # R-CPL-2: the partner's decision references the first decision of the joint offer (never the
    # other way: decisions are never updated). In the keyed and plain hashes when set.
    partner_decision = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-made_at", "-id"]
        verbose_name = _("allocation decision")
        verbose_name_plural = _("allocation decisions")
        # A bed's newest decision, read for every vacant bed at the start of each allocation run.
        indexes = [models.Index(fields=["bed", "-sequence"], name="decision_newest_of_bed")]
        constraints = [
            models.UniqueConstraint(fields=["facility", "sequence"], name="decision_sequence_per_facility"),
            models.CheckConstraint(
                condition=Q(sequence=1, previous_hash__isnull=True) | Q(sequence__gt=1, previous_hash__isnull=False),
                name="decision_chain_links_previous",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code} #{self.sequence}"

    @property
    def last_confirmed_at(self):
        """R-ALLOC-2 (amended): when an attempt last found nobody again for the same reasons (None
        if never). A list annotates `confirmed_at_latest` rather than asking once per decision."""
        if "confirmed_at_latest" not in self.__dict__:
            latest = self.confirmations.order_by("-at").values_list("at", flat=True).first() if self.pk else None
            self.__dict__["confirmed_at_latest"] = latest
        return self.__dict__["confirmed_at_latest"]

    @last_confirmed_at.setter
    def last_confirmed_at(self, value) -> None:
        self.__dict__["confirmed_at_latest"] = value


class DecisionConfirmation(AppendOnlyModel):
    """R-ALLOC-2 (amended): an attempt that found no candidate for a bed, with the same (reference,
    reason) pairs and the same quota figures as the bed's last decision, writes no new decision but
    this row. Unhashed: the chain (R-VER-1, R-VER-2) covers decisions only, so a bed that stays
    empty shows once on the board and in the log, however often it is tried."""

    bed = models.ForeignKey(Bed, on_delete=models.PROTECT, related_name="+")
    decision = models.ForeignKey(AllocationDecision, on_delete=models.PROTECT, related_name="confirmations")
    at = models.DateTimeField()
    trigger = models.CharField(max_length=40)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("decision confirmation")
        verbose_name_plural = _("decision confirmations")
        indexes = [models.Index(fields=["decision", "at"], name="decision_confirmation_latest")]

    def __str__(self) -> str:
        return f"{self.decision} confirmed {self.at:%Y-%m-%d %H:%M}"
