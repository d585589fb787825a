"""Celery tasks: thin wrappers that call one service each. Eager when no broker is configured."""

from celery import shared_task

from admissions.services.notifications import notification_send
from admissions.services.webhooks import webhook_deliver, webhook_deliveries_due


@shared_task(acks_late=True)
def send_notification(notification_id: int) -> None:
    notification_send(notification_id)


@shared_task(acks_late=True)
def deliver_webhook(delivery_id: int) -> None:
    webhook_deliver(delivery_id=delivery_id)


@shared_task
def retry_due_webhooks() -> int:
    """Re-dispatch pending deliveries whose next attempt is due (run it on a schedule)."""
    due = webhook_deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)
