"""Allocation (SPEC §7): the one service that hands out beds.

Everything that can start an allocation (R-ALLOC-3) calls `allocation_run` or
`allocation_run_for_application`. Both lock the facility row first, so at one facility only one
allocation, discharge, acceptance or expiry runs at a time: the quota count read at the start is
still true when the offer is written (R-NQ-1, R-NQ-3).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.chain import decision_hash, decision_payload, decision_references, seal, subjects_at
from admissions.models import (
    AllocationDecision,
    Application,
    ApplicationState,
    CoupleMember,
    CoupleMode,
    DecisionConfirmation,
    Offer,
    OfferState,
    QueueEntry,
)
from admissions.policy import PolicyInForce
from admissions.selectors import QueueStep, facility_quota, policy_in_force, queue_walk
from admissions.workdays import deadline_after
from core.actor import SYSTEM, Actor
from core.dates import shown_datetime_later
from core.errors import Conflict, NotFound
from facilities.models import Bed, BedStatus, BedType, CareLevel, Facility
from facilities.selectors import Quota

from .couples import together_partner_ids
from .locks import lock_facilities
from .notifications import home_context, notify
from .queue import entries_rescore_for_policy
from .transitions import transition_apply
from .webhooks import offer_webhook_data, webhooks_enqueue

S = ApplicationState


class SkipReason:
    """R-ALLOC-1, in the words the decision records."""

    BED_TYPE_MISMATCH = "bed_type_mismatch"
    RESERVED_FOR_NURSING = "reserved_for_nursing"
    NURSING_QUOTA_FULL = "nursing_quota_full"
    ASSESSMENT_EXPIRED = "assessment_expired"
    OFFER_PENDING = "offer_pending"
    SUSPENDED = "suspended"
    REFUSED_THIS_BED = "refused_this_bed"
    # R-CPL-2: a member of a `together` couple whose partner no second vacant bed here suits; and,
    # on the partner's bed of a joint offer, everyone ranked above the partner.
    PARTNER_BED_UNAVAILABLE = "partner_bed_unavailable"
    COUPLE_PARTNER = "couple_partner"


@dataclass
class _Candidate:
    step: QueueStep
    rank: int

    @property
    def score(self) -> int:
        return self.step.score

    def row(self, reason: str | None = None) -> dict:
        row = {"reference": self.step.reference, "rank": self.rank, "score": self.score}
        if reason:
            row["reason"] = reason
        return row


def _reason_before_bed_rules(
    candidate: _Candidate,
    *,
    today: dt.date,
    refused_here: set[int],
    busy: set[int],
    couple_skips: dict[int, str] | None = None,
) -> str | None:
    """The reasons that do not depend on the bed type or the quota."""
    step = candidate.step
    if step.application_state == S.SUSPENDED:
        return SkipReason.SUSPENDED
    # Offered or admission_check: it holds a live offer (R-OFF-3). `busy`: another transaction is
    # changing it right now, most likely making it an offer elsewhere.
    if step.application_state != S.WAITING or step.application_id in busy:
        return SkipReason.OFFER_PENDING
    if step.assessment_valid_until is None or step.assessment_valid_until < today:
        return SkipReason.ASSESSMENT_EXPIRED
    if step.application_id in refused_here:
        return SkipReason.REFUSED_THIS_BED
    if couple_skips and step.application_id in couple_skips:
        return couple_skips[step.application_id]
    return None


def _choose(
    bed: Bed,
    queue,
    *,
    quota: Quota,
    today: dt.date,
    refused_here: set[int],
    busy: set[int],
    couple_skips: dict[int, str] | None = None,
):
    """Walk the queue in order (R-ALLOC-1) and return (chosen candidate or None, skipped rows).

    A self-care applicant may take a nursing bed only when no nursing-level entry further down
    could be offered it now (R-NQ-2), so self-care entries met on a nursing bed are held aside
    until the walk either finds such an entry (they are skipped: reserved_for_nursing) or ends
    (the first of them is chosen, if the quota allows).
    """
    skipped: list[dict] = []
    held_aside: list[_Candidate] = []
    # R-NQ-1 is enforced here, and only here: a self-care applicant takes a bed only below the cap.
    quota_full = quota.self_care_held >= quota.self_care_cap
    for rank, entry in enumerate(queue, start=1):
        candidate = _Candidate(step=entry, rank=rank)
        reason = _reason_before_bed_rules(
            candidate, today=today, refused_here=refused_here, busy=busy, couple_skips=couple_skips
        )
        if reason:
            skipped.append(candidate.row(reason))
            continue
        if entry.care_level == CareLevel.NURSING:
            if bed.bed_type == BedType.GENERAL:
                skipped.append(candidate.row(SkipReason.BED_TYPE_MISMATCH))
                continue
            skipped.extend(c.row(SkipReason.RESERVED_FOR_NURSING) for c in held_aside)
            skipped.sort(key=lambda row: row["rank"])
            return candidate, skipped
        # A self-care applicant.
        if bed.bed_type == BedType.NURSING:
            held_aside.append(candidate)
            continue
        if quota_full:
            skipped.append(candidate.row(SkipReason.NURSING_QUOTA_FULL))
            # No one further down can take a general bed now: nursing-level applicants never
            # take one, and every self-care one meets the same full quota.
            return None, skipped
        return candidate, skipped
    # The walk ended with no nursing-level applicant able to take this nursing bed.
    if held_aside:
        first, rest = held_aside[0], held_aside[1:]
        if quota_full:
            skipped.extend(c.row(SkipReason.NURSING_QUOTA_FULL) for c in held_aside)
            skipped.sort(key=lambda row: row["rank"])
            return None, skipped
        skipped.sort(key=lambda row: row["rank"])
        # Entries held aside below the chosen one are not "ranked above" it: not recorded.
        del rest
        return first, [row for row in skipped if row["rank"] < first.rank]
    return None, skipped


def _pairs(skipped: list[dict]) -> list[tuple[str, str]]:
    return sorted((str(row.get("reference")), str(row.get("reason"))) for row in skipped)


def _same_empty_decision(
    last: AllocationDecision | None, *, skipped: list[dict], quota_before: Quota, quota_after: Quota
):
    """`last` (the bed's last decision) when it too chose nobody, with the same (reference, reason)
    pairs and the same quota figures (ranks and scores may differ: waiting points move them); else None."""
    if (
        last is None
        or last.chosen is not None
        or last.quota_before != quota_before.figures()
        or last.quota_after != quota_after.figures()
        or _pairs(last.skipped) != _pairs(skipped)
    ):
        return None
    return last


def _lock_waiting_application(application_id: int) -> Application | None:
    """SKIP LOCKED: an application another transaction is changing (an offer at another home, a
    withdrawal) is passed over rather than waited for, so allocations never deadlock."""
    return (
        Application.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("applicant", "current_assessment")
        .filter(pk=application_id, state=S.WAITING)
        .first()
    )


def _offer(
    *,
    entry: QueueEntry,
    bed: Bed,
    facility: Facility,
    decision: AllocationDecision,
    now,
    policy: PolicyInForce,
    actor: Actor,
    partner: Application | None = None,
) -> Offer:
    application = entry.application
    params = policy.parameters
    offer = Offer.objects.create(
        application=application,
        queue_entry=entry,
        facility=facility,
        bed=bed,
        decision=decision,
        care_level=entry.care_level,
        bed_round=bed.occupancy_round,
        made_at=now,
        respond_by=deadline_after(now, params.offer_response_working_days),
    )
    bed.status = BedStatus.RESERVED
    bed.holder_care_level = entry.care_level
    bed.save(update_fields=["status", "holder_care_level"])
    transition_apply(
        application,
        "make_offer",
        actor=SYSTEM,  # SPEC §5: offers are made by the system; who set the allocation off is in data
        data={
            "started_by": actor.name,
            "offer": offer.pk,
            "facility": facility.code,
            "bed": bed.code,
            "decision": decision.pk,
            "respond_by": offer.respond_by.isoformat(),
        },
        notify_family=False,  # the offer_made message below says more
    )
    context = {
        **home_context(facility),
        "respond_by": shown_datetime_later(offer.respond_by),
        "admission_days": params.admission_working_days,
    }
    if partner is not None:  # R-CPL-2: a joint offer; the message names both
        context["partner"] = f"{partner.applicant.name} ({partner.reference})"
    notify(application=application, kind="joint_offer_made" if partner else "offer_made", context=context)
    webhooks_enqueue(type="offer.made", data=offer_webhook_data(offer))
    return offer


@dataclass
class _PartnerPlace:
    """R-CPL-2: the second bed of a joint offer and the partner who takes it."""

    bed: Bed
    candidate: _Candidate
    application: Application
    ranked_above: list[_Candidate]


def _quota_plus(quota: Quota, care_level: str) -> Quota:
    self_care = care_level == CareLevel.SELF_CARE
    return Quota(
        nursing_target=quota.nursing_target,
        self_care_cap=quota.self_care_cap,
        self_care_held=quota.self_care_held + (1 if self_care else 0),
        nursing_held=quota.nursing_held + (0 if self_care else 1),
    )


def _refusals_at(facility: Facility) -> dict[int, set[int]]:
    """R-ALLOC-1 refused_this_bed, for every vacant bed of the facility at once: {bed id: the
    applications that refused it since its last occupant moved in}. A failed admission check for
    another reason is treated alike: the bed is not offered straight back. A joint offer refused is
    refused by both (R-CPL-2), so neither is offered the other's bed."""
    rows = (
        Offer.objects.filter(bed__facility=facility, bed__status=BedStatus.VACANT, bed_round=F("bed__occupancy_round"))
        .filter(Q(is_refusal=True) | Q(state=OfferState.FAILED_CHECK))
        .values_list(
            "bed_id",
            "application_id",
            "partner_offer__application_id",
            "partner_offer__is_refusal",
            "partner_offer__state",
        )
    )
    refused: dict[int, set[int]] = defaultdict(set)
    for bed_id, application_id, partner_id, partner_refused, partner_state in rows:
        refused[bed_id].add(application_id)
        # Not a partner whose offer was only withdrawn because this member left.
        if partner_id is not None and (partner_refused or partner_state == OfferState.FAILED_CHECK):
            refused[bed_id].add(partner_id)
    return refused


def _last_decisions_at(facility: Facility) -> dict[int, AllocationDecision]:
    """{bed id: its newest decision}, for every vacant bed of the facility, in one query."""
    newest = AllocationDecision.objects.filter(bed=OuterRef("pk")).order_by("-sequence").values("pk")[:1]
    vacant = Bed.objects.filter(facility=facility, status=BedStatus.VACANT).annotate(newest=Subquery(newest))
    decisions = AllocationDecision.objects.filter(pk__in=vacant.values("newest")).select_related("facility", "bed")
    return {decision.bed_id: decision for decision in decisions}


class _Walk:
    """One walk of the queue, read as far as someone asks and replayed after that. A couple's skip
    walks the same queue again, and the partner's place needs the whole of it (R-CPL-2): without
    this each `together` member met read the home's whole queue again. Its data stay true while the
    facility is locked, except for an application changed under the run (`busy`): then the run
    starts a new walk."""

    def __init__(self, steps: Iterator[QueueStep]):
        self._steps = steps
        self._read: list[QueueStep] = []

    def __iter__(self) -> Iterator[QueueStep]:
        index = 0
        while True:
            if index == len(self._read):
                step = next(self._steps, None)
                if step is None:
                    return
                self._read.append(step)
            yield self._read[index]
            index += 1


class _Run:
    """What one allocation run knows while it holds the facility's lock: nobody else can change
    this facility's beds meanwhile, so the quota is read once and kept up to date here, and a bed
    type that found nobody finds nobody again until an offer changes something."""

    def __init__(self, *, facility: Facility, policy: PolicyInForce, trigger: str, actor: Actor, now):
        self.facility, self.policy, self.trigger, self.actor, self.now = facility, policy, trigger, actor, now
        self.today = timezone.localdate(now)
        self.quota = facility_quota(facility, policy)
        self.nobody_for: dict[str, list[dict]] = {}  # bed type → the skipped rows of a walk that chose nobody
        self.partner_decisions: list[AllocationDecision] = []  # R-CPL-2: the second decisions of joint offers
        self.taken: set[int] = set()  # beds offered in this run: single offers and both halves of joint ones
        self._vacant: list[Bed] | None = None  # see _vacant_beds
        # Read once per run, kept up to date by `_record` (nobody else writes them while the lock is
        # held); a home may have thousands of vacant beds, and one query each would hold the lock long.
        self.refused = _refusals_at(facility)
        self.last_of_bed = _last_decisions_at(facility)
        self.tip = AllocationDecision.objects.filter(facility=facility).order_by("-sequence").first()
        self.subjects: dict[str, tuple[str, str]] = {}  # reference → (channel, care level), see _subjects
        self.confirmations: list[DecisionConfirmation] = []  # written together by `finish`
        self._partners: dict[int, int] | None = None  # see partner_of

    def partner_of(self, application_id: int) -> int | None:
        """R-CPL-2: the partner of a live `together` couple's member. The couples are read once per
        run, at the first candidate chosen (a few hundred rows in a city): a query per candidate cost
        more than the couples' walk itself."""
        if self._partners is None:
            self._partners = together_partner_ids(None)
        return self._partners.get(application_id)

    def allocate(self, bed: Bed) -> AllocationDecision:
        refused_here = self.refused.get(bed.pk, set())
        if not refused_here and bed.bed_type in self.nobody_for:
            return self._record(bed, chosen=None, skipped=self.nobody_for[bed.bed_type], quota_after=self.quota)
        busy: set[int] = set()
        couple_skips: dict[int, str] = {}
        queue = None
        while True:
            if queue is None:
                queue = _Walk(queue_walk(self.facility, now=self.now, policy=self.policy))
            chosen, skipped = _choose(
                bed,
                queue,
                quota=self.quota,
                today=self.today,
                refused_here=refused_here,
                busy=busy,
                couple_skips=couple_skips,
            )
            if chosen is None:
                if not refused_here and not busy and not couple_skips:
                    self.nobody_for[bed.bed_type] = skipped
                return self._record(bed, chosen=None, skipped=skipped, quota_after=self.quota)
            quota_after = _quota_plus(self.quota, chosen.step.care_level)
            partner_id = self.partner_of(chosen.step.application_id)
            place = None
            if partner_id is not None:
                # Asked before the candidate is locked: most such candidates are skipped here.
                place = self._partner_place(bed, chosen, partner_id, quota=quota_after, busy=busy, queue=queue)
                if place is None:
                    # R-CPL-2: no second bed here suits the partner: skipped, keeping their place.
                    couple_skips[chosen.step.application_id] = SkipReason.PARTNER_BED_UNAVAILABLE
                    continue
            locked = _lock_waiting_application(chosen.step.application_id)
            if locked is None:
                # Changed under us (an offer elsewhere, a withdrawal): walk again with fresh data.
                busy.add(chosen.step.application_id)
                queue = None
                continue
            entry = QueueEntry.objects.get(pk=chosen.step.entry_id)
            entry.application = locked
            decision = self._record(bed, chosen=chosen, entry=entry, skipped=skipped, quota_after=quota_after)
            offer = _offer(
                entry=entry,
                bed=bed,
                facility=self.facility,
                decision=decision,
                now=self.now,
                policy=self.policy,
                actor=self.actor,
                partner=place.application if place else None,
            )
            self.quota = quota_after
            self.taken.add(bed.pk)
            if place is not None:
                self._partner_offer(place, first=decision, first_offer=offer)
            self.nobody_for.clear()  # an offer changed the queue and perhaps the quota
            return decision

    def _vacant_beds(self) -> list[Bed]:
        """The home's vacant beds, read (and locked) once per run: while the run holds the facility's
        lock only its own offers change them, and those are kept in `taken`."""
        if self._vacant is None:
            self._vacant = list(Bed.objects.select_for_update().filter(facility=self.facility, status=BedStatus.VACANT))
        return self._vacant

    def _partner_place(
        self, bed: Bed, first: _Candidate, partner_id: int, *, quota: Quota, busy: set[int], queue: _Walk
    ) -> _PartnerPlace | None:
        """R-CPL-2: a second vacant bed at this home that suits the partner (their own care level,
        R-NQ-2, the partner eligible under R-ALLOC-1 but for rank, R-NQ-1 counting both offers).
        Cheapest question first: a full home has no second vacant bed, and most calls end there
        without reading the queue past the partner."""
        vacant = [b for b in self._vacant_beds() if b.pk != bed.pk and b.pk not in self.taken]
        if not vacant:
            return None
        ranked: list[_Candidate] = []  # the queue down to the partner
        for rank, step in enumerate(queue, start=1):
            ranked.append(_Candidate(step=step, rank=rank))
            if step.application_id == partner_id:
                break
        else:
            return None  # the partner does not wait here
        partner = ranked[-1]
        if _reason_before_bed_rules(partner, today=self.today, refused_here=set(), busy=busy):
            return None
        nursing = partner.step.care_level == CareLevel.NURSING
        if not nursing and quota.self_care_held >= quota.self_care_cap:
            return None  # R-NQ-1 counting both offers
        # Nursing: a nursing bed. Self-care: a general bed first; a nursing bed only under R-NQ-2 (below).
        ordered = sorted(
            (b for b in vacant if not nursing or b.bed_type == BedType.NURSING),
            key=lambda b: (b.bed_type == BedType.NURSING, b.pk),
        )
        for candidate_bed in ordered:
            refused = self.refused.get(candidate_bed.pk, set())
            if partner_id in refused:
                continue
            if not nursing and candidate_bed.bed_type == BedType.NURSING:
                # R-NQ-2: not while a nursing-level entry anywhere in the queue could be offered this bed now.
                others = (
                    _Candidate(step=step, rank=rank)
                    for rank, step in enumerate(queue, start=1)
                    if step.care_level == CareLevel.NURSING
                    and step.application_id not in (partner_id, first.step.application_id)
                )
                if any(
                    _reason_before_bed_rules(c, today=self.today, refused_here=refused, busy=busy) is None
                    for c in others
                ):
                    continue
            locked = _lock_waiting_application(partner_id)
            if locked is None:
                return None
            return _PartnerPlace(
                bed=candidate_bed,
                candidate=partner,
                application=locked,
                ranked_above=ranked[:-1],
            )
        return None

    def _partner_offer(self, place: _PartnerPlace, *, first: AllocationDecision, first_offer: Offer) -> None:
        """The second half of a joint offer, in the same transaction: its own decision, which
        records everyone ranked above the partner as `couple_partner` and references the first."""
        entry = QueueEntry.objects.get(pk=place.candidate.step.entry_id)
        entry.application = place.application
        quota_after = _quota_plus(self.quota, entry.care_level)
        decision = self._record(
            place.bed,
            chosen=place.candidate,
            entry=entry,
            skipped=[c.row(SkipReason.COUPLE_PARTNER) for c in place.ranked_above],
            quota_after=quota_after,
            partner_decision=first,
        )
        offer = _offer(
            entry=entry,
            bed=place.bed,
            facility=self.facility,
            decision=decision,
            now=self.now,
            policy=self.policy,
            actor=self.actor,
            partner=first_offer.application,
        )
        offer.partner_offer = first_offer
        offer.save(update_fields=["partner_offer"])
        first_offer.partner_offer = offer
        first_offer.save(update_fields=["partner_offer"])
        self.quota = quota_after
        self.taken.add(place.bed.pk)
        self.partner_decisions.append(decision)

    def _record(
        self, bed: Bed, *, chosen, skipped, quota_after, entry=None, partner_decision=None
    ) -> AllocationDecision:
        """Write the decision for `bed`, sealed (R-VER-1/2) against the chain's head this run keeps."""
        if chosen is None:
            # R-ALLOC-2 (amended): nobody again, for the same reasons under the same quota: the bed's
            # last decision stands, and the attempt is an unhashed confirmation of it.
            same = _same_empty_decision(
                self.last_of_bed.get(bed.pk), skipped=skipped, quota_before=self.quota, quota_after=quota_after
            )
            if same is not None:
                self.confirmations.append(
                    DecisionConfirmation(bed=bed, decision=same, at=self.now, trigger=self.trigger)
                )
                same.last_confirmed_at = self.now
                return same
        tip = self.tip
        decision = AllocationDecision(
            facility=self.facility,
            sequence=(tip.sequence + 1) if tip else 1,
            bed=bed,
            made_at=self.now,
            policy_version=self.policy.version,
            trigger=self.trigger,
            chosen_entry=entry,
            chosen=chosen.row() if chosen else None,
            skipped=skipped,
            quota_before=self.quota.figures(),
            quota_after=quota_after.figures(),
            previous_hash=tip.hash if tip else None,
            partner_decision=partner_decision,  # R-CPL-2
        )
        decision.hash = decision_hash(decision_payload(decision))
        seal(
            decision,
            previous=tip,
            facility_code=self.facility.code,
            bed_code=bed.code,
            subjects=self._subjects(decision_references(decision)),
        )
        decision.save()
        self.tip = self.last_of_bed[bed.pk] = decision
        return decision

    def finish(self) -> None:
        """Write what the run kept for the end (still inside its transaction)."""
        DecisionConfirmation.objects.bulk_create(self.confirmations, batch_size=500)
        self.confirmations = []

    def _subjects(self, references: list[str]) -> dict[str, tuple[str, str]]:
        """subjects_at, remembered for the run: an entry's channel and care level do not change
        while the facility is locked (the policy's rescore ran before the run began)."""
        missing = [reference for reference in references if reference not in self.subjects]
        if missing:
            self.subjects.update(subjects_at(QueueEntry, self.facility.pk, missing))
        return {reference: self.subjects[reference] for reference in references if reference in self.subjects}

    def allocate_all(self, bed: Bed) -> list[AllocationDecision]:
        """`allocate`, and the second decision of a joint offer it made, if any."""
        decision = self.allocate(bed)
        extra, self.partner_decisions = self.partner_decisions, []
        return [decision, *extra]


def _together_couple_waits(facility: Facility) -> bool:
    """R-CPL-2: a member of a live `together` couple waits in this home's queue."""
    return CoupleMember.objects.filter(
        live=True,
        couple__mode=CoupleMode.TOGETHER,
        application__state=S.WAITING,
        application__queue_entries__facility=facility,
        application__queue_entries__status="open",
    ).exists()


def allocation_run(
    *,
    facility: Facility,
    trigger: str,
    actor: Actor = SYSTEM,
    bed: Bed | None = None,
    beds: list[Bed] | None = None,
    until_nobody: bool = False,
) -> list[AllocationDecision]:
    """Allocate `bed` (or `beds`), or else every vacant in-service bed of the facility: one
    decision per bed. Runs in the caller's transaction if there is one (the facility lock is
    then shared with the caller)."""
    with transaction.atomic():
        facility = lock_facilities([facility.pk]).get(facility.pk)
        if facility is None:
            raise NotFound(_("No such facility."))
        now = timezone.now()
        policy = policy_in_force(timezone.localdate(now))
        entries_rescore_for_policy(entries=QueueEntry.objects.filter(facility=facility, status="open"), policy=policy)
        vacant = Bed.objects.select_for_update().filter(facility=facility, status=BedStatus.VACANT).order_by("id")
        if bed is not None:
            vacant = vacant.filter(pk=bed.pk)
            if not vacant.exists():
                status = Bed.objects.filter(pk=bed.pk).values_list("status", flat=True).first()
                raise Conflict(_("Bed %(bed)s is not vacant.") % {"bed": bed.code}, extra={"bed_status": status})
        elif beds is not None:
            vacant = vacant.filter(pk__in=[b.pk for b in beds])
        run = _Run(facility=facility, policy=policy, trigger=trigger, actor=actor, now=now)
        decisions = []
        vacant = list(vacant)
        asked = {b.pk for b in vacant}
        if (bed is not None or beds is not None) and _together_couple_waits(facility):
            # R-CPL-2: a together couple waits here: every vacant bed is walked again, nursing beds
            # first, so the outcome does not depend on which bed freed first.
            every = Bed.objects.select_for_update().filter(facility=facility, status=BedStatus.VACANT)
            vacant = sorted(every, key=lambda b: (b.bed_type != BedType.NURSING, b.pk))
        for vacant_bed in vacant:
            if vacant_bed.pk in run.taken:
                continue  # offered earlier in this run: the second bed of a joint offer (R-CPL-2)
            if (until_nobody or vacant_bed.pk not in asked) and vacant_bed.bed_type in run.nobody_for:
                # A bed of this type just found nobody; the next one would too (nothing has changed),
                # so it is left for the next allocation rather than recorded as another empty decision.
                continue
            decisions.extend(run.allocate_all(vacant_bed))
        if bed is not None or beds is not None:
            decisions += _blocked_beds_allocate(run, facility, done={b.pk for b in vacant} | run.taken)
        run.finish()
        return decisions


def _blocked_by_quota(last: AllocationDecision | None) -> bool:
    """The bed's last decision chose nobody because the self-care quota was full (R-NQ-1)."""
    return (
        last is not None
        and last.chosen is None
        and any(row.get("reason") == SkipReason.NURSING_QUOTA_FULL for row in last.skipped)
    )


def _blocked_beds_allocate(run: _Run, facility: Facility, *, done: set[int]) -> list[AllocationDecision]:
    """R-ALLOC-3 (amended): when the facility has self-care headroom under R-NQ-1 (a self-care holder
    left or their offer ended, beds returned to service), every vacant bed the quota had blocked is
    allocated again, in the same run (the one allocation service)."""
    decisions = []
    blocked = Bed.objects.select_for_update().filter(facility=facility, status=BedStatus.VACANT).exclude(pk__in=done)
    for blocked_bed in blocked.order_by("id"):
        if run.quota.self_care_held >= run.quota.self_care_cap:
            break
        if blocked_bed.bed_type in run.nobody_for or not _blocked_by_quota(run.last_of_bed.get(blocked_bed.pk)):
            continue
        decisions.extend(run.allocate_all(blocked_bed))
    return decisions


def allocation_run_for_application(*, application: Application, trigger: str, actor: Actor) -> None:
    """R-ALLOC-3: an application approved, resumed or reassessed → every chosen home with a
    vacant bed allocates. (The caller holds the facility locks, taken before the application's.)"""
    facility_ids = application.choices.values_list("facility_id", flat=True)
    with_vacancy = Facility.objects.filter(pk__in=facility_ids, beds__status=BedStatus.VACANT).distinct().order_by("pk")
    for facility in with_vacancy:
        # One application joined the queue: beds go to whoever ranks first, and once a bed type finds
        # nobody the rest of that type are not walked again (a home may have many empty beds).
        allocation_run(facility=facility, trigger=trigger, actor=actor, until_nobody=True)


def allocation_after_nursing_target_change(*, facility: Facility, before, after, **kwargs) -> None:
    """R-ALLOC-3: a home's own nursing target changed (in the caller's transaction). A lower target
    raises the self-care cap (R-NQ-1), so every vacant bed the quota had blocked is allocated again;
    with a higher one nobody new qualifies and nothing is walked."""
    policy_target = policy_in_force().parameters.nursing_target  # what None means: the policy's
    target_before = policy_target if before is None else Decimal(before)
    target_after = policy_target if after is None else Decimal(after)
    if target_after >= target_before:
        return
    if Bed.objects.filter(facility=facility, status=BedStatus.VACANT).exists():
        allocation_run(facility=facility, trigger="nursing_target_lowered")
