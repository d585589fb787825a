"""Celery tasks of the API layer; the schedule that runs them is in config/celery.py."""

from celery import shared_task
from django.utils import timezone

from .base import KEEP
from .models import IdempotencyRecord


def idempotency_records_purge(*, now=None) -> int:
    """R-SEC-3: Idempotency-Key records are deleted once 24 hours old. Returns how many."""
    cutoff = (now or timezone.now()) - KEEP
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(acks_late=True)
def purge_idempotency_records() -> int:
    return idempotency_records_purge()
