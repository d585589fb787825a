"""Celery tasks: thin wrappers that call one service each. Eager when no broker is configured.

Every task is idempotent (running it twice does the work once), so a task repeated after a worker
died, or queued both after commit and by the outbox sweep, does no harm. The schedule that runs
the periodic ones is in config/celery.py.
"""

import logging

from celery import shared_task

from admissions.decisions import first_chain_break
from admissions.services.notifications import administrators_email, notification_send, notifications_due
from admissions.services.offers import offers_expire_due
from admissions.services.outbox import outbox_sender_register
from admissions.services.reminders import assessment_reminders_send, offer_reminders_send
from admissions.services.webhooks import webhook_deliver, webhook_deliveries_due

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def send_notification(notification_id: int) -> None:
    notification_send(notification_id)


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> None:
    webhook_deliver(delivery_id=delivery_id)


# The outbox hands its rows to these after commit (admissions/services/outbox.py). Through `.delay`
# looked up at each call, so a test that replaces it sees the replacement.
outbox_sender_register(
    "notification",
    lambda pk: send_notification.delay(pk),
    refused="Could not queue notification %s; the outbox sweep will send it",
)
outbox_sender_register(
    "webhook",
    lambda pk: deliver_webhook.delay(pk),
    refused="Could not queue webhook delivery %s; the retry sweep will send it",
)


@shared_task
def retry_due_webhooks() -> int:
    """Re-dispatch pending deliveries whose next attempt is due (run it on a schedule)."""
    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task
def expire_offers() -> int:
    """R-OFF-4, R-OFF-5: offers past their response deadline expire (each counts as a refusal)."""
    return offers_expire_due()


@shared_task
def send_reminders() -> dict[str, int]:
    """R-OFF-6 and R-ASM-5 reminders; each goes out once however often this runs."""
    return {"offers": offer_reminders_send(), "assessments": assessment_reminders_send()}


@shared_task
def redispatch_outbox() -> dict[str, int]:
    """Queue again every pending notification and webhook delivery whose time has come: those whose
    task was lost (broker down, worker killed) and those waiting out a backoff. This is what makes
    a broker outage delay the work but lose none of it (SPEC §10)."""
    notifications = notifications_due()
    for notification_id in notifications:
        send_notification.delay(notification_id)
    deliveries = webhook_deliveries_due()
    for delivery_id in deliveries:
        deliver_webhook.delay(delivery_id)
    return {"notifications": len(notifications), "webhooks": len(deliveries)}


@shared_task
def verify_decisions_nightly() -> bool:
    """R-ALLOC-2: check the decision chains; when one is broken, log an ERROR and email the
    administrators the first bad decision. Returns whether every chain is intact."""
    broken = first_chain_break()
    if broken is None:
        logger.info("verify_decisions: every decision chain is intact")
        return True
    decision = broken.decision
    problem = (
        f"decision id={decision.pk} facility={decision.facility.code} sequence={decision.sequence}: {broken.problem}"
    )
    logger.error("verify_decisions: the allocation decision chain is BROKEN at %s", problem)
    try:
        administrators_email(
            subject=f"Allocation decision chain broken at decision {decision.pk}",
            body=(
                "The nightly check of the allocation decisions (R-ALLOC-2) found the chain broken at\n"
                f"{problem}\n\n"
                "A decision was changed outside the application. Run `python manage.py verify_decisions` "
                "to confirm, and investigate before any more allocations are trusted."
            ),
        )
    except Exception:  # the ERROR above stands; tomorrow's run tries to tell them again
        logger.exception("verify_decisions: could not email the administrators")
    return False
