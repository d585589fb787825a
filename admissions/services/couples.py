"""Couples (SPEC §13): linking two applications of spouses, unlinking them, and what a couple
changes elsewhere (R-CPL-1; the joint offer of R-CPL-2 is in allocation.py and offers.py).

Linking and unlinking lock the facilities of both applications, then both applications (the one
order of services/locks.py), check, write, and append one event to each application.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from admissions.models import FINAL_STATES, QUEUED_STATES, Application, Couple, CoupleMember, CoupleMode, FacilityChoice
from admissions.models.offers import LIVE_OFFER_STATES
from admissions.policy import PolicyInForce
from admissions.selectors import policy_in_force
from core.actor import Actor
from core.errors import Conflict, InvalidInput, NotFound, RuleViolation
from facilities.models import Facility

from .events import event_record
from .locks import facility_ids_for, lock_application, lock_facilities
from .notifications import home_context, notify
from .queue import entries_open_or_refresh
from .webhooks import webhooks_enqueue


@dataclass(frozen=True)
class CoupleView:
    """A live couple as seen from one of its applications."""

    couple: Couple
    partner: Application

    @property
    def mode(self) -> str:
        return self.couple.mode

    @property
    def together(self) -> bool:
        return self.couple.mode == CoupleMode.TOGETHER


def couple_of(application: Application | int) -> CoupleView | None:
    """The live couple of an application and its partner, or None (R-CPL-1)."""
    pk = application if isinstance(application, int) else application.pk
    if pk is None:  # not saved: in no couple
        return None
    member = CoupleMember.objects.filter(application_id=pk, live=True).select_related("couple").first()
    if member is None:
        return None
    other = (
        CoupleMember.objects.filter(couple=member.couple)
        .exclude(application_id=pk)
        .select_related("application__applicant")
        .first()
    )
    return CoupleView(couple=member.couple, partner=other.application) if other else None


def couples_for(application_ids) -> dict[int, dict]:
    """application id → {id, partner, mode} of its live couple, for a page of applications in two
    queries (R-CPL-3: the couple shown with each application)."""
    mine = dict(
        CoupleMember.objects.filter(live=True, application_id__in=list(application_ids)).values_list(
            "application_id", "couple_id"
        )
    )
    if not mine:
        return {}
    rows = CoupleMember.objects.filter(couple_id__in=set(mine.values())).values_list(
        "couple_id", "application_id", "application__reference", "couple__mode"
    )
    by_couple: dict[int, list[tuple[int, str, str]]] = {}
    for couple_id, application_id, reference, mode in rows:
        by_couple.setdefault(couple_id, []).append((application_id, reference, mode))
    out = {}
    for application_id, couple_id in mine.items():
        for other_id, reference, mode in by_couple.get(couple_id, []):
            if other_id != application_id:
                out[application_id] = {"id": couple_id, "partner": reference, "mode": mode}
    return out


def together_partner_ids(application_ids=None) -> dict[int, int]:
    """application id → partner's application id, for the live `together` couples among them (None:
    every live `together` couple)."""
    members = CoupleMember.objects.filter(live=True, couple__mode=CoupleMode.TOGETHER)
    among = members if application_ids is None else members.filter(application_id__in=list(application_ids))
    mine = dict(among.values_list("application_id", "couple_id"))
    if not mine:
        return {}
    by_couple: dict[int, list[int]] = {}
    for couple_id, application_id in members.filter(couple_id__in=set(mine.values())).values_list(
        "couple_id", "application_id"
    ):
        by_couple.setdefault(couple_id, []).append(application_id)
    partners = {}
    for application_id, couple_id in mine.items():
        others = [a for a in by_couple.get(couple_id, []) if a != application_id]
        if others:
            partners[application_id] = others[0]
    return partners


def _couple_data(couple: Couple, applications: list[Application]) -> dict:
    return {
        "id": couple.pk,
        "applications": [a.reference for a in applications],
        "mode": couple.mode,
        "at": timezone.now().isoformat(),
    }


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(gettext("A reason is required."), errors={"reason": [gettext("is required")]})
    if len(reason) > 2000:
        raise InvalidInput(
            gettext("The reason is too long."),
            errors={"reason": [gettext("must be at most %(max)s characters") % {"max": 2000}]},
        )
    return reason


def _mode(mode: str | None, policy: PolicyInForce) -> str:
    if mode not in CoupleMode.values:
        raise InvalidInput(
            gettext("Unknown couple mode."),
            errors={"mode": [gettext("must be together or either_first")]},
        )
    if mode == CoupleMode.TOGETHER and not policy.parameters.couples_together:
        # R-CPL-1: with couples_together off, new links may only be either_first.
        raise RuleViolation(
            gettext("The policy in force does not allow couples to be placed together."),
            errors={"mode": [gettext("only either_first is allowed by the policy in force")]},
        )
    return mode


def _references(references) -> list[str]:
    if not isinstance(references, (list, tuple)) or len(references) != 2:
        raise InvalidInput(
            gettext("Name the two applications of the couple."),
            errors={"applications": [gettext("must name exactly two applications")]},
        )
    refs = [str(r or "").strip() for r in references]
    for i, ref in enumerate(refs):
        if not ref:
            raise InvalidInput(
                gettext("Name the two applications of the couple."),
                errors={f"applications.{i}": [gettext("is required")]},
            )
    if refs[0] == refs[1]:
        raise InvalidInput(
            gettext("An application cannot be linked to itself."),
            errors={"applications.1": [gettext("must be another application than the first")]},
        )
    return refs


def _link_errors(applications: list[Application]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for i, application in enumerate(applications):
        field = f"applications.{i}"
        if application.state in FINAL_STATES:
            errors.setdefault(field, []).append(
                gettext("is closed (%(state)s), so it cannot be linked") % {"state": application.get_state_display()}
            )
        elif application.offers.filter(state__in=LIVE_OFFER_STATES).exists():
            errors.setdefault(field, []).append(gettext("holds a bed offer, so it cannot be linked until it ends"))
        if CoupleMember.objects.filter(application=application, live=True).exists():
            errors.setdefault(field, []).append(gettext("is already linked as a couple; unlink it first"))
    if errors:
        return errors
    homes = [set(a.choices.values_list("facility_id", flat=True)) for a in applications]
    if not homes[0] & homes[1]:
        errors["applications"] = [gettext("have no chosen home in common, so they cannot be placed together")]
    return errors


def _lock_both(ids: list[int]) -> dict[int, Application]:
    unlocked = list(Application.objects.filter(pk__in=ids))
    lock_facilities(sorted({f for a in unlocked for f in facility_ids_for(a)}))
    return {pk: lock_application(pk) for pk in sorted(ids)}


def couple_link(*, applications, mode: str, reason: str, actor: Actor) -> Couple:
    """R-CPL-1: link two applications as a couple (intake)."""
    refs = _references(applications)
    reason = _reason(reason)
    policy = policy_in_force()
    mode = _mode(mode, policy)
    found = {a.reference: a for a in Application.objects.filter(reference__in=refs)}
    for i, ref in enumerate(refs):
        if ref not in found:
            raise NotFound(
                gettext("No application with reference %(reference)s.") % {"reference": ref[:40]},
                errors={f"applications.{i}": [gettext("no such application")]},
            )
    with transaction.atomic():
        locked = _lock_both([found[r].pk for r in refs])
        pair = [locked[found[r].pk] for r in refs]
        errors = _link_errors(pair)
        if errors:
            raise RuleViolation(gettext("These applications cannot be linked as a couple."), errors=errors)
        now = timezone.now()
        couple = Couple.objects.create(mode=mode, reason=reason, linked_at=now, linked_by=actor.name)
        try:
            with transaction.atomic():
                CoupleMember.objects.bulk_create([CoupleMember(couple=couple, application=a) for a in pair])
        except IntegrityError as exc:  # a concurrent link of the same application
            raise Conflict(gettext("One of the applications was linked meanwhile; reload and try again.")) from exc
        for application, partner in ((pair[0], pair[1]), (pair[1], pair[0])):
            event_record(
                application=application,
                transition="couple_link",
                from_state=application.state,
                actor=actor,
                reason=reason,
                data={"couple": couple.pk, "partner": partner.reference, "mode": mode},
            )
            notify(
                application=application,
                kind="couple_linked",
                context={"partner": partner.reference, "mode": CoupleMode(mode).label},
            )
        webhooks_enqueue(type="couple.linked", data=_couple_data(couple, pair))
    return couple


def _unlink_apply(couple: Couple, members: list[Application], *, reason: str, actor: Actor) -> None:
    """For callers that hold the locks of both applications."""
    couple.unlinked_at = timezone.now()
    couple.unlinked_by = actor.name
    couple.unlink_reason = reason
    couple.save(update_fields=["unlinked_at", "unlinked_by", "unlink_reason"])
    CoupleMember.objects.filter(couple=couple).update(live=False)
    for application in members:
        partner = next(a for a in members if a.pk != application.pk)
        event_record(
            application=application,
            transition="couple_unlink",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={"couple": couple.pk, "partner": partner.reference},
        )
        if application.state not in FINAL_STATES:
            notify(application=application, kind="couple_unlinked", context={"partner": partner.reference})
    webhooks_enqueue(type="couple.unlinked", data={**_couple_data(couple, members), "reason": reason})


def couple_unlink(*, couple: Couple | int, reason: str, actor: Actor) -> Couple:
    """R-CPL-1: end a couple's link (intake); an event on both applications."""
    reason = _reason(reason)
    pk = couple.pk if isinstance(couple, Couple) else couple
    if not Couple.objects.filter(pk=pk).exists():
        raise NotFound(gettext("No such couple."))
    with transaction.atomic():
        ids = list(CoupleMember.objects.filter(couple_id=pk).values_list("application_id", flat=True))
        locked = _lock_both(ids)
        couple = Couple.objects.select_for_update().get(pk=pk)
        if not couple.is_live:
            raise Conflict(gettext("This couple is already unlinked."))
        _unlink_apply(couple, [locked[i] for i in ids], reason=reason, actor=actor)
    return couple


def couple_end_for(application: Application, *, reason: str, actor: Actor) -> None:
    """R-CPL-2: a member leaves (withdrawn, removed, died): the link ends. Caller holds the
    application's lock; the partner is locked here (after it, in the one order of the caller)."""
    view = couple_of(application)
    if view is None:
        return
    partner = lock_application(view.partner.pk)
    _unlink_apply(view.couple, [application, partner], reason=reason, actor=actor)


def couple_spouse_admitted(*, application: Application, facility_id: int, actor: Actor) -> None:
    """R-CPL-1 either_first: one member was admitted; the partner's entry at that home scores
    "spouse resident" at once (R-Q-3) and the family is told. Caller holds the locks."""
    view = couple_of(application)
    if view is None or view.together:
        return
    partner = lock_application(view.partner.pk)
    changed = FacilityChoice.objects.filter(application=partner, facility_id=facility_id, spouse_resident=False).update(
        spouse_resident=True
    )
    if not changed:
        return
    if partner.current_assessment_id and partner.queued_at and partner.state in QUEUED_STATES:
        entries_open_or_refresh(application=partner, policy=policy_in_force())
    facility = Facility.objects.get(pk=facility_id)
    event_record(
        application=partner,
        transition="spouse_resident",
        from_state=partner.state,
        actor=actor,
        data={"facility": facility.code, "partner": application.reference, "couple": view.couple.pk},
    )
    notify(
        application=partner,
        kind="spouse_admitted",
        context={"partner": application.reference, **home_context(facility)},
    )
