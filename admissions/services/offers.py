"""Offers after they are made (R-OFF-1…5): accept, decline, expire, admit, fail the check.

Every function locks the offer's facility first, then the application (services/locks.py), and
re-reads the offer under those locks, so accept-versus-expire races end with exactly one winner.
A refused or freed bed goes straight to the next candidate (R-OFF-4), in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from admissions.models import AllocationDecision, Application, Occupancy, Offer, OfferState
from admissions.models.queue import QueueEntryOutcome
from admissions.selectors import policy_in_force, refusals_of_person
from admissions.workdays import deadline_after
from core.actor import SYSTEM, Actor
from core.dates import shown_datetime_later
from core.errors import InvalidInput, NotFound, WrongState
from facilities.models import BedStatus

from .allocation import allocation_run
from .closing import application_remove_for_refusals, bed_free
from .couples import couple_spouse_admitted
from .locks import lock_application, lock_facilities
from .notifications import home_context, notify
from .queue import entries_close
from .review_requests import review_pending_apply
from .transitions import transition_apply
from .webhooks import offer_webhook_data, webhooks_enqueue

OFFER_ACTIONS = {"accept": "accept", "decline": "decline", "admit": "admit", "fail_check": "fail-check"}


def _available(offer: Offer) -> list[str]:
    return [OFFER_ACTIONS[t.name] for t in offer.get_available_state_transitions() if t.name in OFFER_ACTIONS]


def _lock_offer(offer: Offer | int) -> tuple[Offer, Application]:
    pk = offer.pk if isinstance(offer, Offer) else offer
    unlocked = Offer.objects.filter(pk=pk).first()
    if unlocked is None:
        raise NotFound(_("No such offer."))
    lock_facilities([unlocked.facility_id])
    locked = Offer.objects.select_for_update(of=("self",)).select_related("bed", "facility").get(pk=pk)
    application = lock_application(locked.application_id)
    return locked, application


def _lock_partner(offer: Offer) -> tuple[Offer, Application] | None:
    """R-CPL-2: the other half of a joint offer, locked after the first (same facility, whose lock
    the caller holds), or None for a single offer."""
    if offer.partner_offer_id is None:
        return None
    partner = (
        Offer.objects.select_for_update(of=("self",)).select_related("bed", "facility").get(pk=offer.partner_offer_id)
    )
    return partner, lock_application(partner.application_id)


def _both(offer: Offer, application: Application, method: str) -> list[tuple[Offer, Application]]:
    """The offer, and its partner offer if it is joint and can take the same step (R-CPL-2: a joint
    offer is accepted, declined, expired, admitted or failed for both at once)."""
    pairs = [(offer, application)]
    partner = _lock_partner(offer)
    if partner is not None and can_proceed(getattr(partner[0], method)):
        pairs.append(partner)
    return pairs


def _guard(offer: Offer, method: str) -> None:
    if not can_proceed(getattr(offer, method)):
        raise WrongState(
            _("'%(action)s' is not possible while the offer is %(state)s.")
            % {"action": OFFER_ACTIONS.get(method, method), "state": OfferState(offer.state).label},
            current_state=offer.state,
            available_transitions=_available(offer),
        )


def refusals_in_window(application: Application) -> int:
    """R-OFF-4/5: the person's declines, expiries and no-shows within the policy's window, across
    all of their applications."""
    return refusals_of_person(application, params=policy_in_force().parameters)


def _after_refusal(offer: Offer, application: Application) -> list[AllocationDecision]:
    """R-OFF-5 (removal at the limit), then R-OFF-4 (the bed to the next candidate)."""
    return _after_refusals([(offer, application)])


def _after_refusals(pairs: list[tuple[Offer, Application]], trigger: str = "offer_refused") -> list[AllocationDecision]:
    """`_after_refusal` for one offer or both halves of a joint offer (R-CPL-2), whose beds are
    then allocated in one run."""
    params = policy_in_force().parameters
    for _offer, application in pairs:
        if params.refusal_limit_reached(refusals_in_window(application)):
            application_remove_for_refusals(application=application)
    if len(pairs) == 1:
        return allocation_run(facility=pairs[0][0].facility, bed=pairs[0][0].bed, trigger=trigger)
    return allocation_run(facility=pairs[0][0].facility, beds=[o.bed for o, _a in pairs], trigger=trigger)


def offer_accept(*, offer: Offer, actor: Actor) -> Offer:
    """pending → accepted; the application goes to admission_check with an admission deadline (R-OFF-1)."""
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        _guard(offer, "accept")
        now = timezone.now()
        if now > offer.respond_by:
            raise WrongState(
                _("The response deadline has passed; the offer is expiring."),
                current_state=offer.state,
                available_transitions=[],
            )
        admit_by = deadline_after(now, policy_in_force().parameters.admission_working_days)
        for one, one_application in _both(offer, application, "accept"):
            one.accept()
            one.accepted_at = now
            one.admit_by = admit_by
            one.save()
            transition_apply(
                one_application,
                "accept_offer",
                actor=actor,
                data={"offer": one.pk, "admit_by": one.admit_by.isoformat(), **_joint(one)},
            )
            notify(
                application=one_application,
                kind="offer_accepted",
                context={
                    **home_context(one.facility),
                    "admit_by": shown_datetime_later(one.admit_by),
                },
            )
    return offer


def _joint(offer: Offer) -> dict:
    return {"partner_offer": offer.partner_offer_id} if offer.partner_offer_id else {}


def offer_decline(*, offer: Offer, reason: str = "", actor: Actor) -> tuple[Offer, list[AllocationDecision]]:
    """pending → declined: a refusal (R-OFF-4)."""
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        _guard(offer, "decline")
        pairs = _both(offer, application, "decline")
        for one, one_application in pairs:  # R-CPL-2: one decline is one refusal for each
            one.decline()
            _close_as_refusal(one, reason=(reason or "").strip()[:40] or "declined", note=reason or "")
            transition_apply(
                one_application,
                "decline_offer",
                actor=actor,
                reason=reason or "",
                data={"offer": one.pk, **_joint(one)},
            )
            review_pending_apply(application=one_application)  # R-ASM-6: a changed re-review waited for the offer
        decisions = _after_refusals(pairs)
    return offer, decisions


def _close_as_refusal(offer: Offer, *, reason: str, note: str = "") -> None:
    offer.is_refusal = True
    offer.reason = reason
    offer.note = note
    offer.closed_at = timezone.now()
    offer.save()
    bed_free(offer.bed)


def offer_expire(*, offer: Offer, now: dt.datetime | None = None) -> bool:
    """pending → expired when its response deadline has passed: a refusal (R-OFF-4). Returns
    False, changing nothing, when the offer was answered meanwhile or is not yet due."""
    now = now or timezone.now()
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        if offer.state != OfferState.PENDING or offer.respond_by >= now:
            return False
        pairs = _both(offer, application, "expire")
        for one, one_application in pairs:  # R-CPL-2: a joint offer expires for both
            one.expire()
            _close_as_refusal(one, reason="expired")
            transition_apply(one_application, "expire_offer", actor=SYSTEM, data={"offer": one.pk, **_joint(one)})
            review_pending_apply(application=one_application)  # R-ASM-6
            webhooks_enqueue(type="offer.expired", data=offer_webhook_data(one))
        _after_refusals(pairs)
    return True


def offers_expire_due(*, now: dt.datetime | None = None) -> int:
    """The sweep (`manage.py expire_offers`, and the schedule): each due offer in its own
    transaction, so one failure does not hold back the rest."""
    now = now or timezone.now()
    due = (
        Offer.objects.filter(state=OfferState.PENDING, respond_by__lt=now)
        .order_by("respond_by")
        .values_list("pk", flat=True)
    )
    return sum(1 for pk in list(due) if offer_expire(offer=pk, now=now))


def offer_admit(*, offer: Offer, admitted_on: dt.date | None = None, actor: Actor) -> Offer:
    """accepted → admitted: the bed becomes occupied, every other queue entry closes (SPEC §5)."""
    admitted_on = admitted_on or timezone.localdate()
    if admitted_on > timezone.localdate():
        raise InvalidInput(
            _("The admission date is in the future."), errors={"admitted_on": [_("must not be in the future")]}
        )
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        _guard(offer, "admit")
        if offer.accepted_at and admitted_on < timezone.localdate(offer.accepted_at):
            raise InvalidInput(
                _("The admission date is before the offer was accepted."),
                errors={"admitted_on": [_("must not be before the acceptance date")]},
            )
        for one, one_application in _both(offer, application, "admit"):  # R-CPL-2: admitted together
            _admit_one(one, one_application, admitted_on=admitted_on, actor=actor)
        # R-CPL-1 either_first: the spouse's entry here scores "spouse resident" at once (R-Q-3).
        couple_spouse_admitted(application=application, facility_id=offer.facility_id, actor=actor)
    return offer


def _admit_one(offer: Offer, application: Application, *, admitted_on: dt.date, actor: Actor) -> None:
    offer.admit()
    offer.closed_at = timezone.now()
    offer.save()
    bed = offer.bed
    Occupancy.objects.create(
        bed=bed,
        facility=offer.facility,
        application=application,
        offer=offer,
        care_level=offer.care_level,
        admitted_on=admitted_on,
    )
    bed.status = BedStatus.OCCUPIED
    bed.occupancy_round += 1  # someone has occupied it: earlier refusals of this bed lapse
    bed.save(update_fields=["status", "occupancy_round"])
    application.closing_reason = "admitted"
    transition_apply(
        application,
        "admit",
        actor=actor,
        data={
            "offer": offer.pk,
            "facility": offer.facility.code,
            "bed": bed.code,
            "admitted_on": admitted_on.isoformat(),
            **_joint(offer),
        },
    )
    entries_close(
        application=application,
        outcome_here=QueueEntryOutcome.ADMITTED,
        facility_id=offer.facility_id,
        outcome_elsewhere=QueueEntryOutcome.ADMITTED_ELSEWHERE,
    )


FAIL_CHECK_REASONS = ("no_show", "care_need_changed", "other")


def offer_fail_check(*, offer: Offer, reason: str, note: str = "", actor: Actor):
    """accepted → failed_check. `no_show` is a refusal (R-OFF-4); `care_need_changed` sends the
    application back for a new assessment; either way the bed goes to the next candidate."""
    if reason not in FAIL_CHECK_REASONS:
        raise InvalidInput(
            _("Unknown reason."),
            errors={"reason": [_("must be one of %(values)s") % {"values": ", ".join(FAIL_CHECK_REASONS)}]},
        )
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        _guard(offer, "fail_check")
        pairs = _both(offer, application, "fail_check")
        for one, one_application in pairs:  # R-CPL-2: both offers fail with the same reason
            _fail_one(one, one_application, reason=reason, note=note, actor=actor)
        if reason == "no_show":
            decisions = _after_refusals(pairs)
        elif len(pairs) == 1:
            decisions = allocation_run(facility=offer.facility, bed=offer.bed, trigger="admission_check_failed")
        else:
            decisions = allocation_run(
                facility=offer.facility, beds=[o.bed for o, _a in pairs], trigger="admission_check_failed"
            )
    return offer, decisions


def _fail_one(offer: Offer, application: Application, *, reason: str, note: str, actor: Actor) -> None:
    offer.fail_check()
    offer.is_refusal = reason == "no_show"
    offer.reason = reason
    offer.note = note or ""
    offer.closed_at = timezone.now()
    offer.save()
    bed_free(offer.bed)
    data = {"offer": offer.pk, "reason": reason, **_joint(offer)}
    if reason == "care_need_changed":
        transition_apply(application, "fail_admission_check_care_need_changed", actor=actor, reason=note, data=data)
        entries_close(application=application, outcome_here=QueueEntryOutcome.REASSESSMENT)
    else:
        transition_apply(application, "fail_admission_check", actor=actor, reason=note or reason, data=data)
    review_pending_apply(application=application)  # R-ASM-6: a changed re-review waited for the offer
