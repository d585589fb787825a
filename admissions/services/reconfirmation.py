"""Re-confirmation (R-CHG-3): every `reconfirm_interval_days` (365) after `queued_at` and after each
confirmation, the family is asked (SMS and email, in their language) whether they still want to wait.

- The sweep `reconfirmation_ask_due` (the beat schedule, hourly; each application in its own
  transaction) asks the waiting applications that are due, reminds 7 days before the grace
  (`reconfirm_grace_days`, 30) runs out, and suspends with reason `not_reconfirmed` (through
  `transition_apply`, actor `system`) those that did not confirm in time.
- Suspended applications are not asked; an open ask of an application suspended for another reason
  (or closed) is cancelled. A live offer counts as a confirmation: an offer made since the ask
  (not left to expire) confirms it, and an application holding an offer when its ask falls due is
  recorded as confirmed by it instead of being asked.
- The first ask is due at the later of `queued_at` + the interval and 30 days after the rule took
  effect (settings.RECONFIRMATION_IN_FORCE_FROM), spread over the following 30 days by reference.
- `reconfirm` records a confirmation by staff (API, application page) or by the family
  (`public_reconfirm` in services/lookup.py: the status page and `POST /public/reconfirm/`, under
  the lookup's rate limits). An application suspended `not_reconfirmed` resumes (`queued_at` kept)
  when its assessment is still valid; otherwise the confirmation is recorded, it stays suspended and
  the intake officers are told. Staff resuming it with the ordinary Resume do so on the family's
  word: `application_resume` records that as a confirmation (`reconfirmation_record_on_resume`).

"Unconfirmed" (boards, dashboard, watchdog): asked and not yet confirmed, plus suspended
`not_reconfirmed` (`unconfirmed_applications`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from admissions.models import (
    Application,
    ApplicationState,
    Offer,
    OfferState,
    Reconfirmation,
    ReconfirmedVia,
)
from admissions.models.reconfirmation import unconfirmed_applications, unconfirmed_listing
from admissions.policy import PolicyParameters
from admissions.selectors import policy_in_force
from core.actor import SYSTEM, Actor
from core.dates import shown_date_later
from core.errors import WrongState
from facilities.models import Role

from .allocation import allocation_run_for_application
from .events import event_record
from .locks import lock_application, lock_application_with_facilities
from .notifications import notify
from .transitions import transition_apply
from .webhooks import webhooks_enqueue

logger = logging.getLogger("admissions.reconfirmation")

S = ApplicationState
NOT_RECONFIRMED = "not_reconfirmed"  # the suspension's reason (SPEC §5, R-CHG-3)
REMINDER_DAYS_BEFORE = 7  # R-CHG-3: the reminder goes 7 days before the grace runs out
FIRST_ASK_DELAY_DAYS = 30  # R-CHG-3: no first ask sooner than 30 days after the rule takes effect
SPREAD_DAYS = 30  # R-CHG-3: … spread over the following 30 days by reference
# States in which a confirmation may be recorded: queued (R-Q-1).
CONFIRMABLE_STATES = (S.WAITING, S.SUSPENDED, S.OFFERED, S.ADMISSION_CHECK)
OFFER_HELD_STATES = (S.OFFERED, S.ADMISSION_CHECK)
FAMILY = Actor(kind="family", name="family")


# --- when -------------------------------------------------------------------------------------------
def in_force_from() -> dt.date:
    """The day R-CHG-3 took effect (settings.RECONFIRMATION_IN_FORCE_FROM, an ISO date)."""
    value = settings.RECONFIRMATION_IN_FORCE_FROM
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def spread_days(reference: str) -> int:
    """0…SPREAD_DAYS-1, fixed by the reference: where in the 30 days its first ask falls."""
    return int.from_bytes(hashlib.sha256(reference.encode()).digest()[:8], "big") % SPREAD_DAYS


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def first_ask_due(application: Application, params: PolicyParameters) -> dt.datetime:
    """The later of `queued_at` + the interval and the application's day in the spread after the
    rule took effect."""
    spread_start = in_force_from() + dt.timedelta(days=FIRST_ASK_DELAY_DAYS + spread_days(application.reference))
    return max(application.queued_at + dt.timedelta(days=params.reconfirm_interval_days), _start_of(spread_start))


def _last_settled(application: Application) -> dt.datetime | None:
    """The latest confirmation (or cancelled ask): the next ask counts from it."""
    if hasattr(application, "reconfirm_last_settled"):  # annotated by `with_reconfirmation`
        return application.reconfirm_last_settled
    return application.reconfirmations.aggregate(last=Max(Coalesce("confirmed_at", "cancelled_at")))["last"]


def next_ask_due(application: Application, params: PolicyParameters | None = None) -> dt.datetime | None:
    """When the next ask falls due; None when the application is not queued."""
    if application.queued_at is None or application.state not in CONFIRMABLE_STATES:
        return None
    params = params or policy_in_force().parameters
    last = _last_settled(application)
    if last is not None:
        return last + dt.timedelta(days=params.reconfirm_interval_days)
    return first_ask_due(application, params)


def open_reconfirmation(application: Application) -> Reconfirmation | None:
    return application.reconfirmations.filter(confirmed_at__isnull=True, cancelled_at__isnull=True).first()


def reconfirm_due(application: Application, params: PolicyParameters | None = None) -> dt.date | None:
    """API.md `reconfirm_due`: the day by which the family must confirm while an ask is open (past
    once suspended `not_reconfirmed`); otherwise, for a waiting application, the day of the next ask;
    else None. Reads the annotations of `with_reconfirmation` when present (a list page)."""
    if hasattr(application, "reconfirm_open"):
        is_open, respond_by = application.reconfirm_open, application.reconfirm_open_respond_by
    else:
        ask = open_reconfirmation(application)
        is_open, respond_by = ask is not None, ask.respond_by if ask is not None else None
    if is_open:
        return timezone.localdate(respond_by) if respond_by is not None else None
    if application.state != S.WAITING:
        return None
    due = next_ask_due(application, params)
    return timezone.localdate(due) if due else None


def awaiting_confirmation(application: Application) -> Reconfirmation | None:
    """The ask the family may answer now: open and either waiting or suspended for want of it."""
    ask = open_reconfirmation(application)
    if ask is None or ask.asked_at is None:
        return None
    if application.state == S.WAITING or (application.state == S.SUSPENDED and ask.lapsed_at is not None):
        return ask
    return None


def _respond_by_text(ask: Reconfirmation) -> str:
    return shown_date_later(ask.respond_by)


def _webhook_data(application: Application, ask: Reconfirmation) -> dict:
    return {
        "reference": application.reference,
        "state": application.state,
        "asked_at": ask.asked_at.isoformat() if ask.asked_at else None,
        "respond_by": ask.respond_by.isoformat() if ask.respond_by else None,
    }


# --- the sweep --------------------------------------------------------------------------------------
def _offer_since(application: Application, since: dt.datetime) -> Offer | None:
    """An offer made since `since` that was live (answered or still open, not left to expire)."""
    return (
        Offer.objects.filter(application=application, made_at__gte=since)
        .exclude(state=OfferState.EXPIRED)
        .order_by("made_at")
        .first()
    )


def _confirm_row(ask: Reconfirmation, *, now: dt.datetime, via: str, actor: Actor) -> None:
    ask.confirmed_at = now
    ask.confirmed_via = via
    ask.confirmed_by = actor.user
    ask.save(update_fields=["confirmed_at", "confirmed_via", "confirmed_by"])


def _record_confirmed_event(application: Application, ask: Reconfirmation, *, actor: Actor, via: str, **data) -> None:
    event_record(
        application=application,
        transition="reconfirmed",
        from_state=application.state,
        actor=actor,
        data={
            "via": via,
            "asked_at": ask.asked_at.isoformat() if ask.asked_at else None,
            "lapsed": ask.lapsed_at is not None,
            **data,
        },
    )


def _settle_open(pk: int, now: dt.datetime) -> str | None:
    """An open ask whose application is no longer simply waiting: confirmed by a live offer,
    cancelled when it was suspended for another reason or closed. Returns what was done."""
    with transaction.atomic():
        ask = Reconfirmation.objects.filter(pk=pk).first()
        if ask is None:
            return None
        application = lock_application(ask.application_id)
        ask = Reconfirmation.objects.select_for_update().get(pk=pk)
        if not ask.is_open:
            return None
        if application.state in OFFER_HELD_STATES or (
            application.state == S.WAITING and ask.asked_at and _offer_since(application, ask.asked_at)
        ):
            _confirm_row(ask, now=now, via=ReconfirmedVia.OFFER, actor=SYSTEM)
            _record_confirmed_event(application, ask, actor=SYSTEM, via=ReconfirmedVia.OFFER)
            return "confirmed_by_offer"
        if application.state == S.WAITING and ask.lapsed_at is None:
            return None  # the ordinary case: still open
        if application.state == S.SUSPENDED and ask.lapsed_at is not None:
            return None  # suspended `not_reconfirmed`: waits for a confirmation
        # Suspended for another reason (not asked while suspended), resumed without a confirmation,
        # or closed: nothing is asked any more.
        ask.cancelled_at = now
        ask.save(update_fields=["cancelled_at"])
        return "cancelled"


def _lapse(pk: int, now: dt.datetime) -> bool:
    """The grace ran out without a confirmation: suspended `not_reconfirmed` (by the system)."""
    with transaction.atomic():
        ask = Reconfirmation.objects.filter(pk=pk).first()
        if ask is None:
            return False
        application = lock_application(ask.application_id)
        ask = Reconfirmation.objects.select_for_update().get(pk=pk)
        if not ask.is_open or ask.lapsed_at is not None or ask.respond_by > now or application.state != S.WAITING:
            return False
        transition_apply(
            application,
            "suspend",
            actor=SYSTEM,
            reason=NOT_RECONFIRMED,
            data={"reason_code": NOT_RECONFIRMED, "asked_at": ask.asked_at.isoformat()},
            notify_family=False,
        )
        ask.lapsed_at = now
        ask.save(update_fields=["lapsed_at"])
        notify(application=application, kind="reconfirm_lapsed", dedupe_key=f"reconfirm_lapsed:{ask.pk}")
        webhooks_enqueue(type="reconfirmation.lapsed", data=_webhook_data(application, ask))
    return True


def _remind(pk: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        ask = Reconfirmation.objects.select_for_update().filter(pk=pk).select_related("application__applicant").first()
        if ask is None or not ask.is_open or ask.reminded_at is not None or ask.lapsed_at is not None:
            return False
        if ask.application.state != S.WAITING or now >= ask.respond_by:
            return False
        notify(
            application=ask.application,
            kind="reconfirm_reminder",
            context={"respond_by": _respond_by_text(ask)},
            dedupe_key=f"reconfirm_reminder:{ask.pk}",
        )
        ask.reminded_at = now
        ask.save(update_fields=["reminded_at"])
    return True


def _ask(application_id: int, now: dt.datetime, params: PolicyParameters) -> str | None:
    """Under the lock, re-read: due, and no ask open → ask (waiting) or record the live offer's
    confirmation (holding an offer)."""
    with transaction.atomic():
        application = lock_application(application_id)
        if application.state not in (S.WAITING, *OFFER_HELD_STATES) or open_reconfirmation(application) is not None:
            return None
        due = next_ask_due(application, params)
        if due is None or due > now:
            return None
        if application.state in OFFER_HELD_STATES:
            ask = Reconfirmation.objects.create(
                application=application, due_at=due, confirmed_at=now, confirmed_via=ReconfirmedVia.OFFER
            )
            _record_confirmed_event(application, ask, actor=SYSTEM, via=ReconfirmedVia.OFFER)
            return "confirmed_by_offer"
        ask = Reconfirmation.objects.create(
            application=application,
            due_at=due,
            asked_at=now,
            respond_by=now + dt.timedelta(days=params.reconfirm_grace_days),
        )
        event_record(
            application=application,
            transition="reconfirmation_requested",
            from_state=application.state,
            actor=SYSTEM,
            data={"due_at": due.isoformat(), "respond_by": ask.respond_by.isoformat()},
        )
        notify(
            application=application,
            kind="reconfirm_request",
            context={"respond_by": _respond_by_text(ask)},
            dedupe_key=f"reconfirm_request:{ask.pk}",
        )
        webhooks_enqueue(type="reconfirmation.requested", data=_webhook_data(application, ask))
        return "asked"


def _due_candidates(now: dt.datetime, params: PolicyParameters) -> list[int]:
    """Waiting applications, and those holding an offer, with no ask open whose next ask may be due
    (the spread by reference is checked per application, under its lock)."""
    interval = dt.timedelta(days=params.reconfirm_interval_days)
    open_ask = Reconfirmation.objects.filter(
        application=OuterRef("pk"), confirmed_at__isnull=True, cancelled_at__isnull=True
    )
    last = (
        Reconfirmation.objects.filter(application=OuterRef("pk"))
        .values("application")
        .annotate(last=Max(Coalesce("confirmed_at", "cancelled_at")))
        .values("last")
    )
    never_before = Q(last_settled__isnull=True, queued_at__lte=now - interval)
    if now < _start_of(in_force_from() + dt.timedelta(days=FIRST_ASK_DELAY_DAYS)):
        never_before = Q(pk__in=[])  # no first ask before the rule's 30 days have passed
    return list(
        Application.objects.filter(state__in=[S.WAITING, *OFFER_HELD_STATES], queued_at__isnull=False)
        .annotate(last_settled=Subquery(last[:1]))
        .exclude(Exists(open_ask))
        .filter(Q(last_settled__lte=now - interval) | never_before)
        .order_by("queued_at", "pk")
        .values_list("pk", flat=True)
    )


def _moot_asks(open_asks: QuerySet[Reconfirmation]) -> QuerySet[Reconfirmation]:
    """The open asks `_settle_open` may act on, found in SQL: all but those of a waiting application
    still counting its grace without an offer, and those of an application suspended for want of a
    confirmation (the common cases, which an hourly sweep must not lock one by one)."""
    offer_since = Offer.objects.filter(
        application=OuterRef("application_id"), made_at__gte=OuterRef("asked_at")
    ).exclude(state=OfferState.EXPIRED)
    return (
        open_asks.annotate(offered=Exists(offer_since))
        .exclude(application__state=S.WAITING, lapsed_at__isnull=True, offered=False)
        .exclude(application__state=S.SUSPENDED, lapsed_at__isnull=False)
    )


def reconfirmation_ask_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """R-CHG-3, the one sweep: settle open asks the state made moot, suspend the lapsed, remind,
    ask. Each application in its own transaction, so one failure holds back none of the others."""
    now = now or timezone.now()
    params = policy_in_force(timezone.localdate(now)).parameters
    counts = {"asked": 0, "reminded": 0, "suspended": 0, "confirmed_by_offer": 0, "cancelled": 0}
    open_asks = Reconfirmation.objects.filter(confirmed_at__isnull=True, cancelled_at__isnull=True)
    for pk in _moot_asks(open_asks).order_by("pk").values_list("pk", flat=True):
        done = _settle_open(pk, now)
        if done:
            counts[done] += 1
    for pk in open_asks.filter(lapsed_at__isnull=True, respond_by__lte=now).values_list("pk", flat=True):
        counts["suspended"] += _lapse(pk, now)
    reminder_from = now + dt.timedelta(days=REMINDER_DAYS_BEFORE)
    for pk in open_asks.filter(
        lapsed_at__isnull=True, reminded_at__isnull=True, respond_by__gt=now, respond_by__lte=reminder_from
    ).values_list("pk", flat=True):
        counts["reminded"] += _remind(pk, now)
    for application_id in _due_candidates(now, params):
        done = _ask(application_id, now, params)
        if done:
            counts[done] += 1
    if any(counts.values()):
        logger.info("re-confirmation sweep: %s", counts)
    return counts


# --- confirming -------------------------------------------------------------------------------------
def _intake_officers_email(*, subject: str, body: str) -> int:
    """Staff told (R-CHG-3): every active intake officer with an address."""
    User = get_user_model()
    addresses = sorted(
        set(
            User.objects.filter(is_active=True, groups__name=Role.INTAKE)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    messages = [
        EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address])
        for address in addresses
    ]
    if not messages:
        return 0
    return get_connection(fail_silently=False).send_messages(messages) or 0


def _tell_staff_assessment_expired(application: Application) -> None:
    reference = application.reference
    subject = f"Re-confirmed but the assessment has expired: {reference}"
    body = (
        f"The family of application {reference} confirmed they still want to wait, but its assessment has "
        f"expired, so it stays suspended. Arrange a new assessment; once it is approved, resume it.\n"
        f"申请 {reference} 的家属已确认继续轮候，但评估已过期，申请仍暂停。请安排重新评估，批准后恢复轮候。"
    )

    def send() -> None:
        try:
            _intake_officers_email(subject=subject, body=body)
        except Exception:  # the application page and the dashboard show it whatever the mail server does
            logger.exception("could not email the intake officers about %s", reference)

    transaction.on_commit(send)


def reconfirm(*, application: Application | int, actor: Actor, via: str = ReconfirmedVia.STAFF) -> Application:
    """R-CHG-3: the family (via the status page) or staff (on the family's word) confirm they still
    want to wait. Records the confirmation and, when the application was suspended
    `not_reconfirmed`, resumes it if its assessment is valid (`queued_at` kept; allocation runs where
    beds are vacant); otherwise it stays suspended and the intake officers are told."""
    now = timezone.now()
    with transaction.atomic():
        application = lock_application_with_facilities(application)
        if application.state not in CONFIRMABLE_STATES:
            raise WrongState(
                gettext("Only an application in the queue can be confirmed; this application is %(state)s.")
                % {"state": ApplicationState(application.state).label},
                current_state=application.state,
                available_transitions=[],
            )
        ask = open_reconfirmation(application)
        if ask is None:
            ask = Reconfirmation.objects.create(application=application, due_at=now, confirmed_at=now)
        lapsed = ask.lapsed_at is not None
        _confirm_row(ask, now=now, via=via, actor=actor)
        if not (lapsed and application.state == S.SUSPENDED):
            _record_confirmed_event(application, ask, actor=actor, via=via)
            return application
        assessment = application.current_assessment
        valid = assessment is not None and assessment.valid_until is not None
        valid = valid and assessment.valid_until >= timezone.localdate(now)
        _record_confirmed_event(application, ask, actor=actor, via=via, assessment_expired=not valid)
        if not valid:
            _tell_staff_assessment_expired(application)
            return application
        transition_apply(application, "resume", actor=actor, reason=gettext("Confirmed they still want to wait."))
        allocation_run_for_application(application=application, trigger="application_resumed", actor=actor)
    return application


def reconfirmation_record_on_resume(application: Application, *, actor: Actor) -> bool:
    """R-CHG-3: staff resume an application suspended `not_reconfirmed` only on the family's word
    that they still want to wait, so the ordinary Resume is recorded as a staff confirmation (the
    next ask counts from it; it is no longer "unconfirmed"). The caller holds the application's
    lock and takes the resume edge itself. Returns whether a confirmation was recorded."""
    ask = open_reconfirmation(application)
    if ask is None or ask.lapsed_at is None or application.state != S.SUSPENDED:
        return False
    _confirm_row(ask, now=timezone.now(), via=ReconfirmedVia.STAFF, actor=actor)
    _record_confirmed_event(application, ask, actor=actor, via=ReconfirmedVia.STAFF, by_resume=True)
    return True


__all__ = [
    "NOT_RECONFIRMED",
    "awaiting_confirmation",
    "first_ask_due",
    "next_ask_due",
    "reconfirm",
    "reconfirm_due",
    "reconfirmation_record_on_resume",
    "reconfirmation_ask_due",
    "spread_days",
    "unconfirmed_applications",
    "unconfirmed_listing",
]
