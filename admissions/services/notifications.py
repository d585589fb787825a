"""R-OFF-6: messages to the family, in the applicant's language.

`notify` writes the message in the caller's transaction and hands it to a task after commit: if
the send fails or the broker is down, the row stays `pending` and is retried, never lost.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from admissions.models import Application, Notification


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
    )
    transaction.on_commit(lambda: _dispatch(notification.pk))


def _dispatch(notification_id: int) -> None:
    from admissions.tasks import send_notification

    send_notification.delay(notification_id)


def notification_send(notification_id: int) -> None:
    """Send one pending notification (the SMS gateway arrives with the background-work issue;
    until then the console backend logs it). Idempotent: a sent one is not sent again."""
    import logging

    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id, status="pending").first()
        if notification is None:
            return
        notification.attempts += 1
        # The recipient and body are personal data: the log names only the notification.
        logging.getLogger("admissions.notifications").info(
            "SMS notification %s (%s) sent", notification.pk, notification.kind
        )
        notification.status = "sent"
        notification.sent_at = timezone.now()
        notification.save(update_fields=["attempts", "status", "sent_at"])
