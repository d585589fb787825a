"""Celery tasks: thin wrappers that call one service each. Eager when no broker is configured.

Every task is idempotent (running it twice does the work once), so a task repeated after a worker
died, or queued both after commit and by the outbox sweep, does no harm. The schedule that runs
the periodic ones is in config/celery.py.
"""

import logging

from celery import shared_task

from admissions.chain import ChainBroken, checkpoint_write
from admissions.decisions import first_chain_break
from admissions.services.admission_deadline import admission_reminders_send, offers_sweep
from admissions.services.notifications import administrators_email, notification_send, notifications_due
from admissions.services.outbox import outbox_sender_register
from admissions.services.policy import policy_activate_due
from admissions.services.privacy import persons_anonymise
from admissions.services.queue_versions import queue_changes_fold
from admissions.services.reconfirmation import reconfirmation_ask_due
from admissions.services.reminders import assessment_reminders_send, offer_reminders_send
from admissions.services.watchdog import watchdog_monthly_send
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


def _queue_webhook(pk: int) -> None:
    """R-SEC-5: a delivery never runs inside a web request. Without a broker `.delay` would send it
    right here, inline, so nothing is sent now: the outbox process beside the server
    (`manage.py send_outbox`, started by `make run`) sends it with the sweep below."""
    if deliver_webhook.app.conf.task_always_eager:
        return
    deliver_webhook.delay(pk)


outbox_sender_register(
    "webhook", _queue_webhook, refused="Could not queue webhook delivery %s; the retry sweep will send it"
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
    """R-OFF-4, R-OFF-5: offers past their response deadline expire (each counts as a refusal); the
    same sweep acts on overdue admissions (R-OFF-7). Returns how many offers expired."""
    return offers_sweep()["expired"]


@shared_task
def send_reminders() -> dict[str, int]:
    """R-OFF-6 and R-ASM-5 reminders; each goes out once however often this runs."""
    return {
        "offers": offer_reminders_send(),
        "admissions": admission_reminders_send(),  # R-OFF-7
        "assessments": assessment_reminders_send(),
    }


@shared_task
def reconfirmations_sweep() -> dict[str, int]:
    """R-CHG-3: ask the families whose re-confirmation is due, remind, suspend `not_reconfirmed`."""
    return reconfirmation_ask_due()


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
def anonymise_persons() -> dict[str, int]:
    """R-PRIV-3: anonymise everyone whose applications have all been final for `retention_years`.
    Idempotent; returns the counts (persons, applications, evidence files, notifications)."""
    report = persons_anonymise()
    logger.info("anonymise_persons: %s", report.as_dict())
    for problem in report.errors:
        logger.warning("anonymise_persons: an evidence file could not be deleted: %s", problem)
    return report.as_dict()


def _alert_broken_chain(broken, *, what: str) -> None:
    """Log an ERROR naming the first bad decision or checkpoint and email the administrators."""
    problem = broken.describe()
    logger.error("%s: the allocation decision chain is BROKEN at %s", what, problem)
    if broken.decision is not None:
        subject = f"Allocation decision chain broken at decision {broken.decision.pk}"
    else:
        subject = f"Allocation decision log broken at checkpoint {broken.checkpoint.pk}"
    try:
        administrators_email(
            subject=subject,
            body=(
                "The check of the allocation decisions found the log broken at\n"
                f"{problem}\n\n"
                "A decision or a checkpoint was changed outside the application. Run `python manage.py "
                "verify_decisions` to confirm, and investigate before any more allocations are trusted."
            ),
        )
    except Exception:  # the ERROR above stands; the next run tries to tell them again
        logger.exception("%s: could not email the administrators", what)


@shared_task
def verify_decisions_nightly() -> bool:
    """R-ALLOC-2, R-VER-1…3: check the decision chains and the checkpoints; when anything is broken,
    log an ERROR and email the administrators the first bad decision or checkpoint. Returns whether
    everything holds."""
    broken = first_chain_break()
    if broken is None:
        logger.info("verify_decisions: every decision chain and checkpoint is intact")
        return True
    _alert_broken_chain(broken, what="verify_decisions")
    return False


@shared_task
def write_checkpoint_daily() -> int | None:
    """R-VER-3: verify the keyed chain, then sign and append the day's checkpoint. Returns its id,
    or None (after the same alert as the nightly check) when the chain does not verify."""
    try:
        checkpoint = checkpoint_write(made_by="system")
    except ChainBroken as error:
        _alert_broken_chain(error.broken, what="write_checkpoint")
        return None
    logger.info("write_checkpoint: checkpoint %s signed with key %s", checkpoint.pk, checkpoint.key_id)
    return checkpoint.pk


@shared_task
def watchdog_report_monthly() -> int:
    """R-WATCH-1: the last full month's watchdog report, emailed to the administrators once."""
    return watchdog_monthly_send()


@shared_task
def activate_policy() -> int | None:
    """R-POL-1: at 00:00 (Asia/Shanghai) of a version's effective_from, bring every open entry and
    application under it as one act (idempotent: the first read of the day may have done it
    already). Returns the version activated, or None."""
    activation = policy_activate_due()
    return activation.policy.version if activation is not None else None


@shared_task
def fold_queue_changes() -> dict[str, int]:
    """Issue 18: keep the queue versions' table a row or two per home (`queue_changes_fold`); the
    versions do not move. Idempotent."""
    return queue_changes_fold()
