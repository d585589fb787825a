"""The background side against a real Celery worker and a real Redis (issue 6, SPEC §10).

A worker process (tests/background/conftest.py) on the machine's Redis runs the tasks that this
process queues, against the same PostgreSQL test database: the offer expiry sweep, the SMS of an
allocation after a decline, a signed webhook, a webhook retried with backoff until delivered, the
email of an offer received by a local SMTP server. The outage test stops a redis-server of its own
in the middle, and the crash tests SIGKILL a worker in the middle of a send: nothing is lost, and
the receiver acts on everything once.
Every wait is bounded (conftest.wait_for), and every process started is ended in teardown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
import uuid
from collections import Counter

import pytest
import redis
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from admissions.models import Notification, Offer, WebhookDelivery
from admissions.services import applications as app_services
from admissions.services.beds import bed_create
from admissions.services.offers import offer_decline
from admissions.services.webhooks import webhook_subscribe, webhooks_enqueue
from admissions.tasks import expire_offers, redispatch_outbox, retry_due_webhooks
from config.celery import app
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from tests.receivers import HOLD, Receiver, SmsGateway, SmtpServer

from .conftest import Worker, celery_on, own_worker, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker sees committed rows only
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the worker is another process and must see committed data",
    ),
]
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture(autouse=True)
def _webhook_hosts(settings):
    """R-SEC-5: the local receivers are listed explicitly (the worker gets the same in its env)."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


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


# --- email, and workers killed mid-send ------------------------------------------------------------
def smtp_env(server: SmtpServer, **extra: str) -> dict[str, str]:
    """The worker sends email by SMTP to the test's server."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port),
        "DEFAULT_FROM_EMAIL": "waiting-list@example.org",
        **extra,
    }


def outbox_sweeper():
    """What beat does every minute (redispatch_outbox), done as soon as something is due, at most
    once a second: the sweep, not the broker, is what finds work a killed worker left behind."""
    last = [0.0]

    def sweep() -> None:
        now = timezone.now()
        due = Notification.objects.filter(status="pending", next_attempt_at__lte=now).exists()
        due = due or WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now).exists()
        if due and time.monotonic() - last[0] > 1:
            last[0] = time.monotonic()
            redispatch_outbox.delay()

    return sweep


def test_the_worker_emails_an_offer_to_a_local_smtp_server(tmp_path):
    """R-OFF-6: the offer, with its deadline and the home's address, reaches the contact's mailbox
    in the applicant's language, by the real worker through Django's SMTP backend."""
    home = FacilityFactory(code="YX01", name="Yuexiu Home", address="越秀区 9 号")
    application = queued_application(grade=3, choices=["YX01"], language="en", contact_email="family@example.com")
    last_before = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with SmtpServer() as server, own_worker(tmp_path, smtp_env(server)):
        bed_create(facility=home, code="N-1", bed_type="nursing")
        offer = Offer.objects.get(application=application, state="pending")
        (offer_email,) = Notification.objects.filter(application=application, channel="email", pk__gt=last_before)
        assert offer_email.kind == "offer_made"
        wait_for(lambda: status_of(Notification, offer_email.pk, "sent", "failed"), "the worker to send the email")
    (message,) = server.messages
    assert message["Message-ID"] == f"<notification-{offer_email.pk}@example.org>"
    assert (message["To"], message["From"], message["Subject"]) == (
        "family@example.com",
        "waiting-list@example.org",
        "Notification",
    )
    text = message.get_content()
    assert f"A bed is offered to application {application.reference} at Yuexiu Home (越秀区 9 号)" in text
    local = timezone.localtime(offer.respond_by)
    assert f"{local.day} {local:%B %Y, %H:%M}" in text  # the one English format (issue 15)
    offer_email.refresh_from_db()
    assert (offer_email.status, offer_email.attempts, offer_email.last_error) == ("sent", 1, "")


def receiver_for(channel: str):
    """The far end of a channel holding its first request, the worker's settings for it, and the
    contact details that make the offer's messages go by that channel only."""
    if channel == "email":
        server = SmtpServer([HOLD, "accept"])
        env = smtp_env(server, EMAIL_TIMEOUT="2")  # the lease is 12 × 2 s
        return server, env, {"phone": "", "contact_phone": "", "contact_email": "family@example.com"}
    gateway = SmsGateway([HOLD, 200])
    env = {"SMS_BACKEND": "http", "SMS_GATEWAY_URL": gateway.url, "SMS_GATEWAY_TIMEOUT": "2"}
    return gateway, env, {}


def received_once_each(channel: str, receiver) -> Counter:
    """How many times each notification reached the person: messages an SMTP server accepted (by
    Message-ID), or messages a gateway sent to a phone (by Idempotency-Key)."""
    if channel == "email":
        return Counter(re.fullmatch(r"<notification-(\d+)@.*>", m["Message-ID"]).group(1) for m in receiver.messages)
    return Counter(key.removeprefix("notification-") for key in receiver.sent)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_worker_killed_while_the_receiver_holds_a_message_is_replaced_and_each_message_arrives_once(
    channel, tmp_path
):
    """SPEC §10: the worker is SIGKILLed while the SMTP server (or SMS gateway) holds its request.
    Its Celery message stays unacknowledged (Redis would hand it out again only after the
    visibility timeout, an hour); the outbox sweep finds the notification once its lease has run
    out, and a new worker sends it. Each message reaches the family once: an email the SMTP server
    never accepted is sent once afterwards, and an SMS the gateway took is asked for again with the
    same Idempotency-Key, which the gateway answers without sending twice."""
    home = FacilityFactory(code="YX01")
    receiver, env, contact = receiver_for(channel)
    application = queued_application(grade=3, choices=["YX01"], **contact)
    last_before = Notification.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with receiver, own_worker(tmp_path, env) as first:
        bed_create(facility=home, code="N-1", bed_type="nursing")  # the offer, told on this channel only
        messages = list(Notification.objects.filter(application=application, pk__gt=last_before))
        assert [(n.kind, n.channel) for n in messages] == [("offer_made", channel)]
        receiver.wait_until_holding()
        held = Notification.objects.get(pk__in=[n.pk for n in messages], attempts=1, status="pending")
        first.kill()
        receiver.release()
        held.refresh_from_db()
        assert (held.status, held.attempts) == ("pending", 1)  # the cut-short attempt is on record
        assert held.last_error.startswith("attempt 1 started at") and held.next_attempt_at > timezone.now()

        second = first.successor()
        try:
            second.start()
            second.wait_ready()
            sweep = outbox_sweeper()

            def all_sent():
                sweep()
                return not Notification.objects.filter(pk__in=[n.pk for n in messages], status="pending").exists()

            wait_for(all_sent, "a new worker to send what the killed one left", timeout=60)
        finally:
            second.stop()
    assert received_once_each(channel, receiver) == {str(n.pk): 1 for n in messages}
    held.refresh_from_db()
    assert (held.status, held.attempts, held.last_error) == ("sent", 2, "")


def test_a_worker_killed_while_the_webhook_receiver_holds_the_request_is_replaced_and_the_event_is_acted_on_once(
    tmp_path,
):
    """API.md, SPEC §10: the receiver has the body when the worker dies, so the new worker's
    delivery (after the lease) is a repeat with the same `id`, which the receiver dedupes."""
    with Receiver(statuses=(HOLD, 200)) as receiver, own_worker(tmp_path) as first:
        delivery = enqueue_webhook(receiver.url)
        receiver.wait_until_holding()
        first.kill()
        receiver.release()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        second = first.successor()
        try:
            second.start()
            second.wait_ready()
            sweep = outbox_sweeper()

            def delivered():
                sweep()
                return status_of(WebhookDelivery, delivery.pk, "delivered", "failed")

            wait_for(delivered, "a new worker to deliver what the killed one left", timeout=60)
        finally:
            second.stop()
    assert len(receiver.requests) == 2
    assert len({r["body"] for r in receiver.requests}) == 1  # the same body, signature and id
    assert list(receiver.events) == [str(delivery.event_id)]  # acted on once
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
