"""Allocation (SPEC §7): the one service that hands out beds.

Everything that can start an allocation (R-ALLOC-3) calls `allocation_run` or
`allocation_run_for_application`. Both lock the facility row first, so at one facility only one
allocation, discharge, acceptance or expiry runs at a time: the quota count read at the start is
still true when the offer is written (R-NQ-1, R-NQ-3).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import (
    AllocationDecision,
    Application,
    ApplicationState,
    DecisionConfirmation,
    Offer,
    OfferState,
    QueueEntry,
)
from admissions.policy import PolicyInForce
from admissions.selectors import QueueStep, facility_quota, policy_in_force, queue_walk
from admissions.workdays import deadline_after
from core.actor import SYSTEM, Actor
from core.errors import Conflict, NotFound
from facilities.models import Bed, BedStatus, BedType, CareLevel, Facility
from facilities.selectors import Quota

from .locks import lock_facilities
from .notifications import notify
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
    candidate: _Candidate, *, today: dt.date, refused_here: set[int], busy: set[int]
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
    return None


def _choose(bed: Bed, queue, *, quota: Quota, today: dt.date, refused_here: set[int], busy: set[int]):
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
        reason = _reason_before_bed_rules(candidate, today=today, refused_here=refused_here, busy=busy)
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


def decision_hash(payload: dict) -> str:
    """SHA-256 of the decision's content and the previous hash, in a canonical JSON form."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def decision_payload(decision: AllocationDecision) -> dict:
    """What the hash covers: everything the decision says (R-ALLOC-2). verify_decisions uses it too."""
    return {
        "facility": decision.facility_id,
        "sequence": decision.sequence,
        "bed": decision.bed_id,
        "made_at": decision.made_at.astimezone(dt.UTC).isoformat(),
        "policy_version": decision.policy_version,
        "trigger": decision.trigger,
        "chosen": decision.chosen,
        "skipped": decision.skipped,
        "quota_before": decision.quota_before,
        "quota_after": decision.quota_after,
        "previous_hash": decision.previous_hash,
    }


def _pairs(skipped: list[dict]) -> list[tuple[str, str]]:
    return sorted((str(row.get("reference")), str(row.get("reason"))) for row in skipped)


def _same_empty_decision(bed: Bed, *, skipped: list[dict], quota_before: Quota, quota_after: Quota):
    """The bed's last decision when it too chose nobody, with the same (reference, reason) pairs and
    the same quota figures (ranks and scores may differ: waiting points move them); else None."""
    last = AllocationDecision.objects.filter(bed=bed).order_by("-sequence").first()
    if (
        last is None
        or last.chosen is not None
        or last.quota_before != quota_before.figures()
        or last.quota_after != quota_after.figures()
        or _pairs(last.skipped) != _pairs(skipped)
    ):
        return None
    return last


def _record_decision(
    *,
    facility: Facility,
    bed: Bed,
    now,
    policy: PolicyInForce,
    trigger: str,
    chosen: _Candidate | None,
    chosen_entry: QueueEntry | None,
    skipped: list[dict],
    quota_before: Quota,
    quota_after: Quota,
) -> AllocationDecision:
    if chosen is None:
        # R-ALLOC-2 (amended): nobody again, for the same reasons under the same quota: the bed's
        # last decision stands, and the attempt is an unhashed confirmation of it.
        same = _same_empty_decision(bed, skipped=skipped, quota_before=quota_before, quota_after=quota_after)
        if same is not None:
            DecisionConfirmation.objects.create(bed=bed, decision=same, at=now, trigger=trigger)
            same.last_confirmed_at = now
            return same
    last = AllocationDecision.objects.filter(facility=facility).order_by("-sequence").first()
    decision = AllocationDecision(
        facility=facility,
        sequence=(last.sequence + 1) if last else 1,
        bed=bed,
        made_at=now,
        policy_version=policy.version,
        trigger=trigger,
        chosen_entry=chosen_entry,
        chosen=chosen.row() if chosen else None,
        skipped=skipped,
        quota_before=quota_before.figures(),
        quota_after=quota_after.figures(),
        previous_hash=last.hash if last else None,
    )
    decision.hash = decision_hash(decision_payload(decision))
    decision.save()
    return decision


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
    notify(
        application=application,
        kind="offer_made",
        context={
            "facility": facility.name,
            "address": facility.address,
            "respond_by": timezone.localtime(offer.respond_by).strftime("%Y-%m-%d %H:%M"),
            "admission_days": params.admission_working_days,
        },
    )
    webhooks_enqueue(type="offer.made", data=offer_webhook_data(offer))
    return offer


class _Run:
    """What one allocation run knows while it holds the facility's lock: nobody else can change
    this facility's beds meanwhile, so the quota is read once and kept up to date here, and a bed
    type that found nobody finds nobody again until an offer changes something."""

    def __init__(self, *, facility: Facility, policy: PolicyInForce, trigger: str, actor: Actor, now):
        self.facility, self.policy, self.trigger, self.actor, self.now = facility, policy, trigger, actor, now
        self.today = timezone.localdate(now)
        self.quota = facility_quota(facility, policy)
        self.nobody_for: dict[str, list[dict]] = {}  # bed type → the skipped rows of a walk that chose nobody

    def allocate(self, bed: Bed) -> AllocationDecision:
        # R-ALLOC-1 refused_this_bed: refused this bed since its last occupant moved in. A failed
        # admission check for another reason is treated alike: the bed is not offered straight back.
        refused_here = set(
            Offer.objects.filter(bed=bed, bed_round=bed.occupancy_round)
            .filter(Q(is_refusal=True) | Q(state=OfferState.FAILED_CHECK))
            .values_list("application_id", flat=True)
        )
        if not refused_here and bed.bed_type in self.nobody_for:
            return self._record(bed, chosen=None, skipped=self.nobody_for[bed.bed_type], quota_after=self.quota)
        busy: set[int] = set()
        while True:
            queue = queue_walk(self.facility, now=self.now, policy=self.policy)
            chosen, skipped = _choose(
                bed, queue, quota=self.quota, today=self.today, refused_here=refused_here, busy=busy
            )
            if chosen is None:
                if not refused_here and not busy:
                    self.nobody_for[bed.bed_type] = skipped
                return self._record(bed, chosen=None, skipped=skipped, quota_after=self.quota)
            locked = _lock_waiting_application(chosen.step.application_id)
            if locked is None:
                # Changed under us (an offer elsewhere, a withdrawal): walk again with fresh data.
                busy.add(chosen.step.application_id)
                continue
            entry = QueueEntry.objects.get(pk=chosen.step.entry_id)
            entry.application = locked
            self_care = entry.care_level == CareLevel.SELF_CARE
            quota_after = Quota(
                nursing_target=self.quota.nursing_target,
                self_care_cap=self.quota.self_care_cap,
                self_care_held=self.quota.self_care_held + (1 if self_care else 0),
                nursing_held=self.quota.nursing_held + (0 if self_care else 1),
            )
            decision = self._record(bed, chosen=chosen, entry=entry, skipped=skipped, quota_after=quota_after)
            _offer(
                entry=entry,
                bed=bed,
                facility=self.facility,
                decision=decision,
                now=self.now,
                policy=self.policy,
                actor=self.actor,
            )
            self.quota = quota_after
            self.nobody_for.clear()  # an offer changed the queue and perhaps the quota
            return decision

    def _record(self, bed: Bed, *, chosen, skipped, quota_after, entry=None) -> AllocationDecision:
        return _record_decision(
            facility=self.facility,
            bed=bed,
            now=self.now,
            policy=self.policy,
            trigger=self.trigger,
            chosen=chosen,
            chosen_entry=entry,
            skipped=skipped,
            quota_before=self.quota,
            quota_after=quota_after,
        )


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
        for vacant_bed in vacant:
            if until_nobody and vacant_bed.bed_type in run.nobody_for:
                # A bed of this type just found nobody; the next one would too (nothing has changed),
                # so it is left for the next allocation rather than recorded as another empty decision.
                continue
            decisions.append(run.allocate(vacant_bed))
        if bed is not None or beds is not None:
            decisions += _blocked_beds_allocate(run, facility, done={b.pk for b in vacant})
        return decisions


def _blocked_by_quota(bed: Bed) -> bool:
    """The bed's last decision chose nobody because the self-care quota was full (R-NQ-1)."""
    last = AllocationDecision.objects.filter(bed=bed).order_by("-sequence").only("chosen", "skipped").first()
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
        if blocked_bed.bed_type in run.nobody_for or not _blocked_by_quota(blocked_bed):
            continue
        decisions.append(run.allocate(blocked_bed))
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
