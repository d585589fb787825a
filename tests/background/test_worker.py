"""The background side against a real Celery worker and a real Redis (issue 6, SPEC §10).

A worker process (tests/background/conftest.py) on the machine's Redis runs the tasks that this
process queues, against the same PostgreSQL test database: the offer expiry sweep, the SMS of an
allocation after a decline, a signed webhook, a webhook retried with backoff until delivered. The
outage test stops a redis-server of its own in the middle and sees nothing lost and nothing doubled.
Every wait is bounded (conftest.wait_for), and every process started is ended in teardown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid

import pytest
import redis
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from admissions.models import Notification, Offer, WebhookDelivery
from admissions.services import applications as app_services
from admissions.services.offers import offer_decline
from admissions.services.webhooks import webhook_subscribe, webhooks_enqueue
from admissions.tasks import expire_offers, redispatch_outbox, retry_due_webhooks
from config.celery import app
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from tests.receivers import Receiver

from .conftest import Worker, celery_on, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker sees committed rows only
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the worker is another process and must see committed data",
    ),
]
SECRET = "s3cret-s3cret-s3cret"


def status_of(model, pk: int, *wanted: str) -> bool:
    return model.objects.filter(pk=pk, status__in=wanted).exists()


def enqueue_webhook(url: str) -> WebhookDelivery:
    """A subscription and one offer.made delivery, committed; the task is queued on commit."""
    webhook_subscribe(url=url, events=["offer.made"], secret=SECRET, actor=actor("admin"))
    with transaction.atomic():
        (delivery,) = webhooks_enqueue(type="offer.made", data={"id": 7, "facility": "YX01"})
    return delivery


def test_the_expiry_sweep_run_by_the_worker_expires_a_due_offer(worker):
    """R-OFF-4: an offer made a week ago is past its deadline; the minute sweep expires it."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(timezone.now() - dt.timedelta(days=14)):
        application = queued_application(grade=3, choices=["YX01"])
    offer = Offer.objects.get(application=application, state="pending")
    assert offer.respond_by < timezone.now()

    expire_offers.delay()
    wait_for(lambda: Offer.objects.filter(pk=offer.pk, state="expired").exists(), "the offer to expire")
    offer.refresh_from_db()
    assert offer.is_refusal


def test_allocation_after_a_decline_reaches_the_next_applicant_and_the_worker_sends_their_sms(worker):
    """R-OFF-4, R-OFF-6: the bed goes to the next candidate, whose offer SMS the worker sends once."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    first = queued_application(grade=4, choices=["YX01"])
    second = queued_application(grade=2, choices=["YX01"])
    offer = Offer.objects.get(application=first, state="pending")

    offer_decline(offer=offer, reason="too far", actor=actor("facility"))

    assert Offer.objects.filter(application=second, state="pending").exists()
    notification = Notification.objects.get(application=second, kind="offer_made")
    assert notification.channel == "sms"
    wait_for(lambda: status_of(Notification, notification.pk, "sent", "failed"), "the offer SMS to be sent")
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")


def test_a_webhook_is_delivered_by_the_worker_with_a_valid_signature(worker):
    """API.md: X-Signature is sha256=<HMAC-SHA256 of the exact body with the secret>."""
    with Receiver() as receiver:
        delivery = enqueue_webhook(receiver.url)
        wait_for(lambda: status_of(WebhookDelivery, delivery.pk, "delivered", "failed"), "the webhook delivery")
    (request,) = receiver.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Signature"] == expected
    body = json.loads(request["body"])
    assert body["id"] == str(delivery.event_id) == request["headers"]["X-Webhook-Id"]
    assert body["type"] == "offer.made" and body["data"] == {"id": 7, "facility": "YX01"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_a_receiver_failing_twice_then_succeeding_is_delivered_by_the_retry_task(worker):
    """Backoff (WEBHOOK_BACKOFF_SECONDS=1 for the worker: 1 s, then 2 s) and retry_due_webhooks."""
    with Receiver(statuses=(500, 503, 204)) as receiver:
        delivery = enqueue_webhook(receiver.url)

        def delivered():
            if status_of(WebhookDelivery, delivery.pk, "delivered", "failed"):
                return True
            if WebhookDelivery.objects.filter(pk=delivery.pk, next_attempt_at__lte=timezone.now()).exists():
                retry_due_webhooks.delay()  # the beat schedule's sweep, run by the worker
            return False

        wait_for(delivered, "the webhook to be delivered on the third attempt")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
    assert delivery.next_attempt_at is None and delivery.last_error == ""
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same id and body every time


def test_a_broker_outage_delays_a_notification_and_it_is_sent_once_after_the_restart(
    throwaway_redis, settings, tmp_path
):
    """SPEC §10: Redis stopped, a change made (its SMS stays pending in the outbox), Redis started,
    the outbox sweep run by the worker: the SMS is sent, exactly once. The shared Redis is untouched."""
    queue = f"bgtest-outage-{uuid.uuid4().hex[:12]}"
    settings.CELERY_BROKER_URL = throwaway_redis.url
    worker = Worker(broker_url=throwaway_redis.url, queue=queue, log_path=tmp_path / "worker.log")
    with celery_on(throwaway_redis.url, queue):
        try:
            worker.start()
            worker.wait_ready()
            FacilityFactory(code="YX01")
            application = queued_application(grade=2, choices=["YX01"])
            wait_for(
                lambda: not Notification.objects.filter(application=application, status="pending").exists(),
                "the intake messages to go out before the outage",
            )

            throwaway_redis.stop()
            app_services.application_suspend(application=application, reason="in hospital", actor=actor("intake"))
            notification = Notification.objects.filter(application=application, kind="state_changed").latest("id")
            assert (notification.status, notification.attempts) == ("pending", 0)  # kept in the outbox

            throwaway_redis.start()
            redispatch_outbox.delay()
            wait_for(lambda: status_of(Notification, notification.pk, "sent", "failed"), "the SMS after the restart")
            redispatch_outbox.delay()  # a second sweep finds nothing to send
            wait_for(lambda: worker_answers(worker), "the worker to finish the second sweep")
        finally:
            worker.stop()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")
    sends = re.findall(rf"SMS notification {notification.pk} \(", worker.log_path.read_text(errors="replace"))
    assert len(sends) == 1, worker.log()


def worker_answers(worker: Worker) -> bool:
    """Whether the worker has taken every queued task and finished it: the queue is empty, and the
    solo pool answers a ping only between tasks."""
    with redis.Redis.from_url(worker.broker_url, socket_timeout=2) as client:
        if client.llen(worker.queue):
            return False
    return bool(app.control.ping(destination=[worker.name], timeout=0.5))
