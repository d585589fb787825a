"""Celery tasks: thin wrappers that call one service each. Eager when no broker is configured."""

from celery import shared_task

from admissions.services.notifications import notification_send


@shared_task(acks_late=True)
def send_notification(notification_id: int) -> None:
    notification_send(notification_id)
