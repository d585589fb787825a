"""R-OFF-6: messages to the family, in the applicant's language.

`notify` writes the message in the caller's transaction and hands it to a task after commit: if
the send fails or the broker is down, the row stays `pending` and is retried, never lost (SPEC §10).
`notification_send` sends one through admissions/notify_backends.py: a failure is recorded and
tried again with backoff (the outbox sweep, `redispatch_outbox`, picks it up when it is due) until
MAX_ATTEMPTS, then the notification is `failed`.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from admissions import notify_backends
from admissions.models import Application, Notification
from admissions.models.notifications import NotificationStatus
from facilities.models import Role

from .webhooks import backoff

logger = logging.getLogger("admissions.notifications")

MAX_ATTEMPTS = 10
# While one worker sends, the sweep leaves the notification alone this long; a worker that died
# mid-send is thus retried after the lease (longer than the SMS and SMTP timeouts).
SENDING_LEASE = dt.timedelta(seconds=60)
DUE_BATCH = 500

N = NotificationStatus


def _render(kind: str, context: dict) -> str:
    if kind == "offer_made":
        return (
            _(
                "A bed is offered to application %(reference)s at %(facility)s (%(address)s). "
                "Please answer by %(respond_by)s. If you accept, admission must be completed by the admission "
                "deadline, which is %(admission_days)s working days after acceptance."
            )
            % context
        )
    if kind == "offer_reminder":
        return (
            _(
                "Reminder: the bed offered to application %(reference)s at %(facility)s must be answered "
                "by %(respond_by)s."
            )
            % context
        )
    if kind == "offer_accepted":
        return (
            _(
                "Application %(reference)s: the offer at %(facility)s is accepted. Please come for the admission check "
                "by %(admit_by)s, bringing the ID card and the health certificates."
            )
            % context
        )
    if kind == "assessment_reminder":
        return (
            _(
                "Application %(reference)s: the care-need assessment expires on %(valid_until)s. Please arrange a new "
                "assessment so that bed offers are not paused."
            )
            % context
        )
    return _("Application %(reference)s is now: %(state)s.") % context


def notify(*, application: Application, kind: str, context: dict | None = None, dedupe_key: str | None = None) -> None:
    applicant = application.applicant
    recipient = application.contact_phone or applicant.phone
    if not recipient:
        return
    with translation.override(applicant.language):
        from admissions.models import ApplicationState

        base = {"reference": application.reference, "state": ApplicationState(application.state).label}
        body = _render(kind, {**base, **(context or {})})
    if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
        return
    notification = Notification.objects.create(
        application=application,
        kind=kind,
        channel="sms",
        language=applicant.language,
        recipient=recipient,
        body=str(body),
        dedupe_key=dedupe_key,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: _dispatch(notification.pk))


def _dispatch(notification_id: int) -> None:
    from admissions.tasks import send_notification

    try:
        send_notification.delay(notification_id)
    except Exception:  # the broker is down: the row stays pending and the outbox sweep sends it
        logger.exception("Could not queue notification %s; the outbox sweep will send it", notification_id)


def _claim(notification_id: int, now: dt.datetime) -> Notification | None:
    """Lock the row and take a short lease, so two workers never send it at once; None when it is
    sent, failed, or not yet due. The send itself happens outside any transaction."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status != N.PENDING:
            return None
        if notification.next_attempt_at is not None and notification.next_attempt_at > now:
            return None
        notification.next_attempt_at = now + SENDING_LEASE
        notification.save(update_fields=["next_attempt_at"])
    return notification


def notification_send(notification_id: int) -> str | None:
    """Send one pending, due notification and record the outcome; returns the new status, or None
    when there was nothing to send. Idempotent: a sent one is never sent again."""
    notification = _claim(notification_id, timezone.now())
    if notification is None:
        return None
    error, permanent = "", False
    try:
        notify_backends.deliver(notification)
    except notify_backends.SendFailed as exc:
        error, permanent = str(exc), exc.permanent
    finished = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.status != N.PENDING:
            return notification.status
        notification.attempts += 1
        if not error:
            notification.status = N.SENT
            notification.sent_at = finished
            notification.last_error = ""
            notification.next_attempt_at = None
        else:
            notification.last_error = error
            if permanent or notification.attempts >= MAX_ATTEMPTS:
                notification.status = N.FAILED
                notification.next_attempt_at = None
            else:
                notification.next_attempt_at = finished + backoff(notification.attempts)
        notification.save(update_fields=["attempts", "status", "sent_at", "last_error", "next_attempt_at"])
    if error:
        # The error text holds no phone number or address (notify_backends makes sure of it).
        logger.warning(
            "Notification %s (%s, %s) attempt %s failed: %s",
            notification.pk,
            notification.kind,
            notification.channel,
            notification.attempts,
            error,
        )
    return notification.status


def notifications_due(*, now: dt.datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Pending notifications whose next attempt is due, oldest first (for the outbox sweep)."""
    now = now or timezone.now()
    return list(
        Notification.objects.filter(status=N.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def administrators_email(*, subject: str, body: str) -> int:
    """An email to every active administrator (a superuser or a user with the admin role) who has
    an address; returns how many were sent. For alerts to staff, not to families."""
    User = get_user_model()
    addresses = sorted(
        set(
            User.objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN))
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
