"""Reminders to families: one working day before an offer's response deadline (R-OFF-6), and
`reassessment_reminder_days` before an assessment expires (R-ASM-5). Each is sent once: the
notification's dedupe key makes a second run of the sweep a no-op."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from admissions.models import Application, ApplicationState, Offer, OfferState
from admissions.selectors import policy_in_force
from admissions.workdays import is_working_day
from core.dates import shown_datetime_later

from .notifications import home_context, notify


def working_day_before(day: dt.date) -> dt.date:
    previous = day - dt.timedelta(days=1)
    while not is_working_day(previous):
        previous -= dt.timedelta(days=1)
    return previous


def offer_reminders_send(*, now: dt.datetime | None = None) -> int:
    """R-OFF-6: pending offers whose deadline is the next working day get one reminder."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    sent = 0
    horizon = now + dt.timedelta(days=15)  # a deadline is at most a fortnight of holidays away
    for offer in Offer.objects.filter(state=OfferState.PENDING, reminder_sent_at__isnull=True, respond_by__lte=horizon):
        deadline_day = timezone.localdate(offer.respond_by)
        if today < working_day_before(deadline_day) or now > offer.respond_by:
            continue
        with transaction.atomic():
            locked = Offer.objects.select_for_update().filter(pk=offer.pk, reminder_sent_at__isnull=True).first()
            if locked is None:
                continue
            notify(
                application=locked.application,
                kind="offer_reminder",
                context={
                    **home_context(locked.facility),
                    "respond_by": shown_datetime_later(locked.respond_by),
                },
                dedupe_key=f"offer_reminder:{locked.pk}",
            )
            locked.reminder_sent_at = now
            locked.save(update_fields=["reminder_sent_at"])
            sent += 1
    return sent


def assessment_reminders_send(*, today: dt.date | None = None) -> int:
    """R-ASM-5: queued applications whose assessment expires within the reminder period."""
    today = today or timezone.localdate()
    params = policy_in_force(today).parameters
    until = today + dt.timedelta(days=params.reassessment_reminder_days)
    sent = 0
    due = Application.objects.filter(
        state__in=[ApplicationState.WAITING, ApplicationState.SUSPENDED],
        current_assessment__valid_until__gte=today,
        current_assessment__valid_until__lte=until,
    ).select_related("applicant", "current_assessment")
    for application in due:
        assessment = application.current_assessment
        with transaction.atomic():
            notify(
                application=application,
                kind="assessment_reminder",
                context={"valid_until": assessment.valid_until.isoformat()},
                dedupe_key=f"assessment_reminder:{assessment.pk}",
            )
        sent += 1
    return sent
