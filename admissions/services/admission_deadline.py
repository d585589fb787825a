"""The admission deadline (R-OFF-7): the reminder one working day before `admit_by`, the one
extension a facility officer may grant, the overdue notice, and the system's `no_show` once the
(extended) deadline is `admission_grace_working_days` working days behind.

The overdue acts run in the same sweep as offer expiry (`offers_sweep`: `manage.py expire_offers`
and the schedule), each offer in its own transaction so one failure does not hold back the rest."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from admissions.models import Offer, OfferState
from admissions.selectors import policy_in_force
from admissions.workdays import deadline_after, end_of_working_day
from core.actor import SYSTEM, Actor
from core.dates import shown_datetime_later
from core.errors import InvalidInput, RuleViolation, WrongState

from .events import event_record
from .notifications import facility_officers_email, home_context, notify
from .offers import _lock_offer, offer_fail_check, offers_expire_due
from .reminders import working_day_before
from .transitions import reason_required
from .webhooks import offer_webhook_data, webhooks_enqueue

logger = logging.getLogger("admissions.offers")


def _local(moment: dt.datetime) -> str:
    return shown_datetime_later(moment)


def extension_limit(offer: Offer) -> dt.datetime:
    """The latest `admit_by` an extension may set: the end of the
    `admission_extension_working_days`-th working day after the current deadline (R-OFF-7)."""
    return deadline_after(offer.admit_by, policy_in_force().parameters.admission_extension_working_days)


def offer_extend_admission(*, offer: Offer | int, admit_by: dt.date, reason: str, actor: Actor) -> Offer:
    """R-OFF-7: a facility officer extends an accepted offer's admission deadline once, with a
    reason, to the end of `admit_by` (a day), at most admission_extension_working_days working days
    later. The caller checked that the officer works at this home."""
    reason = reason_required(reason)
    if not isinstance(admit_by, dt.date) or isinstance(admit_by, dt.datetime):
        raise InvalidInput(_("The new admission deadline is missing."), errors={"admit_by": [_("must be a date")]})
    with transaction.atomic():
        offer, application = _lock_offer(offer)
        if offer.state != OfferState.ACCEPTED:
            raise WrongState(
                _("Only an accepted offer's admission deadline can be extended; this offer is %(state)s.")
                % {"state": OfferState(offer.state).label},
                current_state=offer.state,
                available_transitions=[],
            )
        if offer.admit_by_extended_at is not None:
            raise RuleViolation(
                _("The admission deadline has already been extended once."),
                errors={"admit_by": [_("may be extended only once per offer")]},
                rule="R-OFF-7",
            )
        new_deadline = end_of_working_day(admit_by)
        limit = extension_limit(offer)
        if new_deadline <= offer.admit_by:
            raise RuleViolation(
                _("The new admission deadline is not later than the current one."),
                errors={"admit_by": [_("must be after %(current)s") % {"current": _local(offer.admit_by)}]},
                rule="R-OFF-7",
            )
        if new_deadline > limit:
            days = policy_in_force().parameters.admission_extension_working_days
            raise RuleViolation(
                _("The extension is too long."),
                errors={
                    "admit_by": [
                        _("must be at most %(days)s working days after the current deadline, by %(limit)s")
                        % {"days": days, "limit": _local(limit)}
                    ]
                },
                rule="R-OFF-7",
            )
        before = offer.admit_by
        offer.admit_by_before_extension = before
        offer.admit_by = new_deadline
        offer.admit_by_extended_at = timezone.now()
        offer.extension_reason = reason
        offer.overdue_notified_at = None  # a new deadline: told again if it passes too
        offer.admission_reminder_sent_at = None
        offer.save()
        event_record(
            application=application,
            transition="extend_admission",
            from_state=application.state,
            actor=actor,
            reason=reason,
            data={
                "offer": offer.pk,
                "old": {"admit_by": before.isoformat()},
                "new": {"admit_by": new_deadline.isoformat()},
            },
        )
        notify(
            application=application,
            kind="admission_extended",
            context={**home_context(offer.facility), "admit_by": _local(new_deadline)},
            dedupe_key=f"admission_extended:{offer.pk}",
        )
    return offer


def no_show_due(offer: Offer) -> dt.datetime:
    """When the system fails the admission check: the (extended) deadline passed by
    `admission_grace_working_days` working days (R-OFF-7)."""
    return deadline_after(offer.admit_by, policy_in_force().parameters.admission_grace_working_days)


def _overdue_notify(offer_id: int, now: dt.datetime) -> bool:
    """Once per deadline: the facility's officers by email, and webhook offer.overdue (R-OFF-7)."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",))
            .select_related("application", "facility", "bed")
            .filter(pk=offer_id, state=OfferState.ACCEPTED, overdue_notified_at__isnull=True, admit_by__lt=now)
            .first()
        )
        if offer is None:
            return False
        offer.overdue_notified_at = now
        offer.save(update_fields=["overdue_notified_at"])
        webhooks_enqueue(
            type="offer.overdue",
            data={**offer_webhook_data(offer), "admit_by": timezone.localtime(offer.admit_by).isoformat()},
        )
        subject = f"Overdue admission: {offer.application.reference} at {offer.facility.code}"
        body = (
            f"The admission of application {offer.application.reference} to bed {offer.bed.code} was due by "
            f"{_local(offer.admit_by)} and has not been recorded. Record the admission, extend the "
            f"deadline once with a reason, or the system records a no-show on {_local(no_show_due(offer))}.\n"
            f"逾期入住：申请 {offer.application.reference} 应于 {_local(offer.admit_by)} 前入住，尚未登记。"
        )
        facility_id = offer.facility_id

        def send() -> None:
            try:
                facility_officers_email(facility_id=facility_id, subject=subject, body=body)
            except Exception:  # the dashboards list it whatever the mail server does
                logger.exception("could not email the facility officers about overdue offer %s", offer_id)

        transaction.on_commit(send)
    return True


def _no_show(offer_id: int, now: dt.datetime) -> bool:
    """Under the offer's locks, re-read: admitted or extended meanwhile → nothing happens."""
    with transaction.atomic():
        offer, _application = _lock_offer(offer_id)
        if offer.state != OfferState.ACCEPTED or now <= no_show_due(offer):
            return False
        offer_fail_check(
            offer=offer,
            reason="no_show",
            note=_("The admission deadline passed by the grace period without an admission."),
            actor=SYSTEM,
        )
    return True


def admissions_overdue_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """R-OFF-7: tell of each newly overdue admission; fail the check with `no_show` once the grace
    has passed (a refusal, R-OFF-4: the bed goes to the next candidate)."""
    now = now or timezone.now()
    overdue = list(
        Offer.objects.filter(state=OfferState.ACCEPTED, admit_by__lt=now)
        .order_by("admit_by")
        .values_list("pk", flat=True)
    )
    told = no_shows = 0
    for pk in overdue:
        told += _overdue_notify(pk, now)
        no_shows += _no_show(pk, now)
    return {"overdue_told": told, "no_shows": no_shows}


def offers_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The one sweep of API.md: expiry of unanswered offers (R-OFF-4) and the overdue admissions
    (R-OFF-7)."""
    now = now or timezone.now()
    expired = offers_expire_due(now=now)
    return {"expired": expired, **admissions_overdue_sweep(now=now)}


def admission_reminders_send(*, now: dt.datetime | None = None) -> int:
    """R-OFF-7: one working day before `admit_by`, the family and the facility are reminded, once."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    horizon = now + dt.timedelta(days=15)
    due = Offer.objects.filter(
        state=OfferState.ACCEPTED, admission_reminder_sent_at__isnull=True, admit_by__lte=horizon, admit_by__gte=now
    )
    for offer in due:
        if today < working_day_before(timezone.localdate(offer.admit_by)):
            continue
        with transaction.atomic():
            locked = (
                Offer.objects.select_for_update(of=("self",))
                .select_related("application", "facility", "bed")
                .filter(pk=offer.pk, admission_reminder_sent_at__isnull=True)
                .first()
            )
            if locked is None:
                continue
            # The key, and the officers' email in both languages at once, take the deadline in one
            # neutral form; the family's message in their language's (issue 15).
            admit_by = f"{timezone.localtime(locked.admit_by):%Y-%m-%d %H:%M}"
            notify(
                application=locked.application,
                kind="admission_reminder",
                context={**home_context(locked.facility), "admit_by": _local(locked.admit_by)},
                dedupe_key=f"admission_reminder:{locked.pk}:{admit_by}",
            )
            locked.admission_reminder_sent_at = now
            locked.save(update_fields=["admission_reminder_sent_at"])
            subject = f"Admission due: {locked.application.reference} by {admit_by}"
            body = (
                f"Application {locked.application.reference} is due to be admitted to bed {locked.bed.code} by "
                f"{admit_by}.\n"
                f"申请 {locked.application.reference} 应于 {admit_by} 前入住 {locked.bed.code} 床位。"
            )
            facility_id = locked.facility_id

            def send(facility_id=facility_id, subject=subject, body=body) -> None:
                try:
                    facility_officers_email(facility_id=facility_id, subject=subject, body=body)
                except Exception:
                    logger.exception("could not email the facility officers an admission reminder")

            transaction.on_commit(send)
            sent += 1
    return sent
