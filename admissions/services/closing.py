"""An application ends while it may hold an offer: its removal (the reviewer's, or the refusal limit's,
R-OFF-5) and the live offer it gives back, whose bed goes to the next candidate (R-ALLOC-3).

Offers call the removal for refusals, and a removal withdraws a live offer: both live here, below
offers.py and applications.py, so neither imports the other."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from admissions.models import Application, Offer, OfferState
from admissions.models.offers import LIVE_OFFER_STATES
from admissions.models.queue import QueueEntryOutcome
from admissions.selectors import policy_in_force, refusals_of_person
from core.actor import SYSTEM, Actor
from facilities.models import Bed, BedStatus

from .allocation import allocation_run
from .couples import couple_end_for
from .locks import lock_application
from .queue import entries_close
from .transitions import transition_apply, transition_guard


def bed_free(bed: Bed) -> None:
    """The bed is vacant again and holds no care level (R-NQ-1 counts it no more)."""
    bed.status = BedStatus.VACANT
    bed.holder_care_level = None
    bed.save(update_fields=["status", "holder_care_level"])


def offer_withdraw_for_closing(*, offer: Offer, actor: Actor, as_refusal: bool = False) -> None:
    """The application ended (withdrawn, removed) while holding this offer: the offer ends and the
    bed is offered again (R-ALLOC-3). Caller holds the locks. `as_refusal` (a family's withdrawal,
    R-OFF-5): a pending offer counts as declined, an accepted one as a no-show (R-OFF-4)."""
    offer = Offer.objects.select_for_update(of=("self",)).select_related("bed", "facility").get(pk=offer.pk)
    if as_refusal and offer.state == OfferState.PENDING:
        offer.decline()
        offer.is_refusal, offer.reason = True, "application_withdrawn"
    elif as_refusal:
        offer.fail_check()
        offer.is_refusal, offer.reason = True, "no_show"
    else:
        offer.withdraw()
        offer.reason = "application_closed"
    offer.closed_at = timezone.now()
    offer.save()
    bed_free(offer.bed)
    partner_bed = _partner_offer_withdraw(offer, actor=actor)
    if partner_bed is None:
        allocation_run(facility=offer.facility, bed=offer.bed, trigger="offer_withdrawn", actor=actor)
    else:
        allocation_run(facility=offer.facility, beds=[offer.bed, partner_bed], trigger="offer_withdrawn", actor=actor)


def _partner_offer_withdraw(offer: Offer, *, actor: Actor) -> Bed | None:
    """R-CPL-2: a member of a couple left while their joint offer was live: the partner's offer is
    withdrawn without a refusal and the partner waits again, keeping their place. Returns the
    partner's bed, freed (the link itself ends in the caller's closing)."""
    if offer.partner_offer_id is None:
        return None
    partner = Offer.objects.select_for_update(of=("self",)).select_related("bed").get(pk=offer.partner_offer_id)
    if partner.state not in LIVE_OFFER_STATES:
        return None
    application = lock_application(partner.application_id)
    method = "decline_offer" if partner.state == OfferState.PENDING else "fail_admission_check"
    partner.withdraw()
    partner.is_refusal, partner.reason = False, "partner_left"
    partner.closed_at = timezone.now()
    partner.save()
    bed_free(partner.bed)
    transition_apply(
        application,
        method,
        actor=SYSTEM,
        reason="partner_left",
        data={"offer": partner.pk, "partner_offer": offer.pk, "counted_as": "not_a_refusal"},
    )
    return partner.bed


def live_offer(application: Application) -> Offer | None:
    return application.offers.filter(state__in=LIVE_OFFER_STATES).first()


def live_offer_end(application: Application, *, actor: Actor, as_refusal: bool = False) -> None:
    """An application that ends while holding an offer gives the bed back, which goes to the
    next candidate (R-ALLOC-3: an offer withdrawn)."""
    offer = live_offer(application)
    if offer is not None:
        offer_withdraw_for_closing(offer=offer, actor=actor, as_refusal=as_refusal)


def application_removal_apply(
    application: Application, *, reason: str, note: str, actor: Actor, offer_as_refusal: bool = False
) -> None:
    """The removal itself, for callers that already hold the locks (the reviewer's removal, the
    refusal limit)."""
    transition_guard(application, "remove")
    data = {}
    if reason == "refusal_limit":
        params = policy_in_force().parameters
        barred_until = timezone.localdate() + dt.timedelta(days=params.bar_days)
        applicant = application.applicant
        applicant.barred_until = max(barred_until, applicant.barred_until or barred_until)
        applicant.save(update_fields=["barred_until"])
        data["barred_until"] = applicant.barred_until.isoformat()
    application.closing_reason = reason
    transition_apply(application, "remove", actor=actor, reason=note or reason, data={"reason": reason, **data})
    entries_close(application=application, outcome_here=QueueEntryOutcome.REMOVED)
    # R-CPL-2: the link ends first, so the partner is offered beds again on their own.
    couple_end_for(application, reason=f"application_removed:{reason}", actor=actor)
    live_offer_end(application, actor=actor, as_refusal=offer_as_refusal)


def application_remove_for_refusals(*, application: Application) -> None:
    """R-OFF-5, called by the offer services inside their transaction (locks already held)."""
    application_removal_apply(application, reason="refusal_limit", note="", actor=SYSTEM)


def application_withdraw_apply(application: Application, *, reason: str, actor: Actor) -> None:
    """A withdrawal, for callers that hold the locks. R-OFF-5: withdrawing with a pending offer
    counts as declining it, after accepting one as a no-show; if that refusal reaches the person's
    limit, the application is removed with `refusal_limit` and the bar set instead."""
    transition_guard(application, "withdraw")
    offer = live_offer(application)
    if offer is not None:
        params = policy_in_force().parameters
        if params.refusal_limit_reached(refusals_of_person(application, params=params) + 1):
            application_removal_apply(
                application, reason="refusal_limit", note=reason, actor=SYSTEM, offer_as_refusal=True
            )
            return
    application.closing_reason = "withdrawn"
    data = None
    if offer is not None:
        data = {"offer": offer.pk, "counted_as": "declined" if offer.state == OfferState.PENDING else "no_show"}
    transition_apply(application, "withdraw", actor=actor, reason=reason, data=data)
    entries_close(application=application, outcome_here=QueueEntryOutcome.WITHDRAWN)
    couple_end_for(application, reason="application_withdrawn", actor=actor)  # R-CPL-2, as above
    live_offer_end(application, actor=actor, as_refusal=True)
