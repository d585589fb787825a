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
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions import notify_backends
from admissions.models import Application, ApplicationState, Notification
from admissions.models.notifications import NotificationChannel, NotificationStatus
from facilities.models import Role

from .outbox import outbox_dispatch
from .webhooks import backoff

logger = logging.getLogger("admissions.notifications")

MAX_ATTEMPTS = 10
# A send is a few blocking steps, each bounded by its timeout (EMAIL_TIMEOUT per SMTP command:
# connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, the message, QUIT; SMS_GATEWAY_TIMEOUT per
# HTTP step); the lease outlasts all of them with room to spare.
SEND_STEPS = 12
DUE_BATCH = 500

N = NotificationStatus
C = NotificationChannel


# R-CHG-2: what changed, in the family's words (the event names of services/changes.py).
CHANGE_LABELS = {
    "contact_changed": gettext_lazy("the contact details"),
    "personal_details_changed": gettext_lazy("the personal details"),
    "districts_changed": gettext_lazy("the districts"),
    "family_situation_changed": gettext_lazy("the family situation"),
    "categories_changed": gettext_lazy("the categories"),
    "choices_changed": gettext_lazy("the chosen homes"),
}


# Messages about a bed at a home, which end with the home's phone to answer or ask on (issue 15).
HOME_KINDS = ("offer_made", "joint_offer_made", "offer_reminder", "offer_accepted", "admission_reminder")


def home_context(facility) -> dict:
    """A home in a message's context: its name and address in the language the message is written in
    (the applicant's; issue 15: English names where given), and its phone."""
    return {
        "facility": lazy(lambda: facility.local_name, str)(),
        "address": lazy(lambda: facility.local_address, str)(),
        "phone": facility.phone,
    }


def _render(kind: str, context: dict) -> str:
    text = str(_message(kind, context))
    if kind in HOME_KINDS and context.get("phone"):
        text = f"{text} " + _("To answer or to ask about it, call %(facility)s on %(phone)s.") % context
    return text


def _message(kind: str, context: dict) -> str:
    if kind == "application_changed":
        what = CHANGE_LABELS.get(context.get("change"), gettext_lazy("the details"))
        return _(
            "Application %(reference)s: %(what)s changed. You can see the new position on the status page. "
            "If this is not right, please contact the office."
        ) % {**context, "what": what}
    if kind == "offer_made":
        return (
            _(
                "A bed is offered to application %(reference)s at %(facility)s (%(address)s). "
                "Please answer by %(respond_by)s. If you accept, admission must be completed by the admission "
                "deadline, which is %(admission_days)s working days after acceptance."
            )
            % context
        )
    if kind == "joint_offer_made":
        return (
            _(
                "Beds are offered together to application %(reference)s and to %(partner)s at %(facility)s "
                "(%(address)s). Please answer by %(respond_by)s; the answer is for both. If you accept, admission "
                "must be completed by the admission deadline, which is %(admission_days)s working days after "
                "acceptance."
            )
            % context
        )
    if kind == "couple_linked":
        return _("Application %(reference)s is now linked with %(partner)s as a couple: %(mode)s.") % context
    if kind == "couple_unlinked":
        return _("Application %(reference)s is no longer linked with %(partner)s as a couple.") % context
    if kind == "spouse_admitted":
        return (
            _(
                "Application %(reference)s: %(partner)s has been admitted to %(facility)s. Your place in its queue "
                "now counts the spouse living there."
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
    if kind == "admission_reminder":
        return (
            _(
                "Reminder: application %(reference)s must be admitted at %(facility)s by %(admit_by)s. "
                "Please bring the ID card and the health certificates."
            )
            % context
        )
    if kind == "admission_extended":
        return _("Application %(reference)s: the admission deadline at %(facility)s is now %(admit_by)s.") % context
    if kind == "assessment_reminder":
        return (
            _(
                "Application %(reference)s: the care-need assessment expires on %(valid_until)s. Please arrange a new "
                "assessment so that bed offers are not paused."
            )
            % context
        )
    if kind == "reconfirm_request":
        return (
            _(
                "Application %(reference)s: do you still want to wait for a place in a care home? Please confirm by "
                "%(respond_by)s on the application status page (with the reference and lookup code) or by calling "
                "the intake office. Without a confirmation the application is paused."
            )
            % context
        )
    if kind == "reconfirm_reminder":
        return (
            _(
                "Reminder: application %(reference)s is paused unless you confirm by %(respond_by)s that you still "
                "want to wait. Confirm on the application status page or call the intake office."
            )
            % context
        )
    if kind == "reconfirm_lapsed":
        return (
            _(
                "Application %(reference)s is paused because nobody confirmed that you still want to wait. It keeps "
                "its place: confirm on the application status page or call the intake office to continue."
            )
            % context
        )
    if kind == "review_requested":
        return (
            _(
                "Application %(reference)s: your request for a re-review of the care-need assessment is received. "
                "The decision is due by %(due_by)s."
            )
            % context
        )
    if kind == "review_decided":
        return (
            _(
                "Application %(reference)s: the re-review of the care-need assessment is decided: %(outcome)s "
                "(grade %(grade)s). The status page shows the details."
            )
            % context
        )
    return _("Application %(reference)s is now: %(state)s.") % context


def recipients_of(application: Application) -> dict[str, str]:
    """Where the family hears from us (R-OFF-6): by SMS at the contact's phone (or else the
    applicant's), and by email at the contact's address when intake recorded one."""
    recipients = {}
    phone = application.contact_phone or application.applicant.phone
    if phone:
        recipients[C.SMS] = phone
    if application.contact_email:
        recipients[C.EMAIL] = application.contact_email
    return recipients


def notify(*, application: Application, kind: str, context: dict | None = None, dedupe_key: str | None = None) -> None:
    """One notification per channel the family can be reached on, each its own row with its own
    status and attempts, written in the caller's transaction and sent after it commits."""
    recipients = recipients_of(application)
    if not recipients:
        return
    applicant = application.applicant
    with translation.override(applicant.language):
        base = {"reference": application.reference, "state": ApplicationState(application.state).label}
        body = str(_render(kind, {**base, **(context or {})}))
    now = timezone.now()
    for channel, recipient in recipients.items():
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key, channel=channel).exists():
            continue
        notification = Notification.objects.create(
            application=application,
            kind=kind,
            channel=channel,
            language=applicant.language,
            recipient=recipient,
            body=body,
            dedupe_key=dedupe_key,
            next_attempt_at=now,
        )
        transaction.on_commit(lambda pk=notification.pk: outbox_dispatch("notification", [pk]))


def sending_lease(channel: str) -> dt.timedelta:
    """How long a worker that took a notification has it to itself: longer than the slowest send
    the channel's timeout allows, so a live sender always finishes (and records the outcome) before
    anyone else may try; a worker that died mid-send is replaced once it has passed."""
    step = settings.EMAIL_TIMEOUT if channel == C.EMAIL else settings.SMS_GATEWAY_TIMEOUT
    return dt.timedelta(seconds=float(step or 0) * SEND_STEPS)


def _claim(notification_id: int, now: dt.datetime) -> Notification | None:
    """Lock the row, count the attempt and take the lease, then commit; None when it is sent,
    failed, or not yet due (backing off, or leased to a worker sending it now).

    Counting the attempt before the send means an attempt cut short (a worker killed, a machine
    lost) is still an attempt: staff see it, and a message that kills its worker every time
    reaches MAX_ATTEMPTS instead of being tried for ever."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status != N.PENDING:
            return None
        if notification.next_attempt_at is not None and notification.next_attempt_at > now:
            return None
        if notification.attempts >= MAX_ATTEMPTS:  # the last ones never finished
            notification.status = N.FAILED
            notification.next_attempt_at = None
            notification.save(update_fields=["status", "next_attempt_at"])
            return None
        notification.attempts += 1
        notification.next_attempt_at = now + sending_lease(notification.channel)
        # Replaced by the outcome; it stays only if this attempt never finishes.
        started = timezone.localtime(now).isoformat(timespec="seconds")
        notification.last_error = f"attempt {notification.attempts} started at {started} and has recorded no outcome"
        notification.save(update_fields=["attempts", "next_attempt_at", "last_error"])
    return notification


def notification_send(notification_id: int) -> str | None:
    """Send one pending, due notification and record the outcome; returns the new status, or None
    when there was nothing to send. A sent one is never sent again.

    What "once" means here. Two live workers never send the same notification together: the one
    that claims it holds the lease, and the lease outlasts its send (`sending_lease`; this assumes
    the workers' clocks agree to within a few seconds). A worker killed before its send reached
    the receiver left nothing behind there, and the one that takes the notification after the
    lease sends it once. The one gap no bookkeeping can close is a worker killed after the
    receiver took the message but before "sent" was committed here (the few milliseconds between
    the SMTP server's 250 answer, or the gateway's 2xx, and that commit): the message is sent
    again, and carries the same identity every time so that the receiver can tell it is a repeat
    - SMS the Idempotency-Key `notification-<id>`, email the Message-ID `<notification-<id>@…>`.
    So delivery is at-least-once with a repeat possible only in that window, like every SMTP
    client's (RFC 5321 §6.1, RFC 1047)."""
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
        notification.save(update_fields=["status", "sent_at", "last_error", "next_attempt_at"])
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


def facility_officers_email(*, facility_id: int, subject: str, body: str) -> int:
    """An email to every active facility officer of this home who has an address (R-OFF-7);
    returns how many were sent."""
    User = get_user_model()
    addresses = sorted(
        set(
            User.objects.filter(is_active=True, groups__name=Role.FACILITY, staff_profile__facility_id=facility_id)
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
