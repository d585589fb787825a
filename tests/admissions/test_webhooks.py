"""Webhooks: an outbox written with the change, signed, retried with backoff (API.md, SPEC §10)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from admissions.models import Application, Offer, WebhookDelivery
from admissions.services import applications as app_services
from admissions.services.beds import bed_discharge
from admissions.services.offers import offer_accept, offer_admit, offers_expire_due
from admissions.services.webhooks import (
    SENDING_LEASE,
    _claim,
    backoff,
    webhook_deliver,
    webhook_deliveries_due,
    webhook_subscribe,
    webhook_unsubscribe,
    webhooks_enqueue,
)
from admissions.tasks import deliver_webhook, redispatch_outbox, retry_due_webhooks
from core.errors import InvalidInput, NotFound
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture(autouse=True)
def _webhook_hosts(settings):
    """R-SEC-5: webhooks go only to listed hosts; the local test receivers are listed explicitly."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "example.org"]


def subscribe(url: str, events=("offer.made",), secret: str = SECRET):
    return webhook_subscribe(url=url, events=list(events), secret=secret, actor=actor("admin"))


def enqueue_committed(capture, type="offer.made", data=None) -> list[WebhookDelivery]:
    with capture(execute=True):
        deliveries = webhooks_enqueue(type=type, data=data or {"id": 1})
    # R-SEC-5: without a broker nothing is sent on commit; the outbox process beside the server
    # (`send_outbox`, one sweep of redispatch_outbox) sends it.
    assert all(d.attempts == 0 for d in WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]))
    redispatch_outbox()
    return [WebhookDelivery.objects.get(pk=d.pk) for d in deliveries]


def test_a_delivery_arrives_signed_with_hmac_sha256_of_the_exact_body(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        subscribe(receiver.url)
        (delivery,) = enqueue_committed(django_capture_on_commit_callbacks, data={"id": 7, "facility": "YX01"})
    (request,) = receiver.requests
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Signature"] == expected
    body = json.loads(request["body"])
    assert body["id"] == str(delivery.event_id)
    assert body["type"] == "offer.made"
    assert body["data"] == {"id": 7, "facility": "YX01"}
    assert dt.datetime.fromisoformat(body["created_at"]).utcoffset() == dt.timedelta(hours=8)
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.last_status_code == 200


def test_a_receiver_failing_twice_then_succeeding_is_delivered_on_the_third_attempt_with_backoff(
    django_capture_on_commit_callbacks,
):
    start = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    with Receiver(statuses=(500, 503, 204)) as receiver:
        subscribe(receiver.url)
        with time_machine.travel(start, tick=False):
            (delivery,) = enqueue_committed(django_capture_on_commit_callbacks)
            assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
            assert delivery.next_attempt_at == start + dt.timedelta(seconds=30)
            assert retry_due_webhooks() == 0  # not yet due: nothing is sent early
        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            assert retry_due_webhooks() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
        assert delivery.next_attempt_at == start + dt.timedelta(seconds=31 + 60)
        with time_machine.travel(start + dt.timedelta(seconds=92), tick=False):
            assert retry_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
    assert delivery.next_attempt_at is None and delivery.last_error == ""
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same id and body every time: receivers dedupe


def test_a_delivered_delivery_is_never_sent_again(django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        subscribe(receiver.url)
        (delivery,) = enqueue_committed(django_capture_on_commit_callbacks)
        assert webhook_deliver(delivery_id=delivery.pk) is None
        assert retry_due_webhooks() == 0
    assert len(receiver.requests) == 1


def test_backoff_doubles_from_thirty_seconds_and_is_capped_at_an_hour():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(20) == dt.timedelta(hours=1)


def test_a_delivery_that_keeps_failing_is_given_up_after_a_day(django_capture_on_commit_callbacks):
    start = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    with Receiver(statuses=(500,)) as receiver:
        subscribe(receiver.url)
        with time_machine.travel(start, tick=False):
            (delivery,) = enqueue_committed(django_capture_on_commit_callbacks)
        with time_machine.travel(start + dt.timedelta(hours=23, minutes=59, seconds=50), tick=False):
            assert webhook_deliver(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and delivery.next_attempt_at is None


def test_a_delivery_cut_short_counts_as_an_attempt_and_one_whose_worker_always_dies_is_given_up_after_a_day():
    """SPEC §10: the attempt is recorded when a worker takes the delivery, under a lease; if the
    worker dies, the sweep finds it after the lease, until the day is over."""
    subscribe("http://127.0.0.1:9/hook")
    start = dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        (delivery,) = webhooks_enqueue(type="offer.made", data={})
        assert _claim(delivery.pk, start) is not None  # the worker took it, then died
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("attempt 1 started at 2026-11-02T10:00:00+08:00")
    assert webhook_deliveries_due(now=start + SENDING_LEASE - dt.timedelta(seconds=1)) == []
    assert webhook_deliveries_due(now=start + SENDING_LEASE) == [delivery.pk]
    assert _claim(delivery.pk, start + dt.timedelta(days=1, seconds=1)) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)


def test_an_unreachable_receiver_leaves_the_delivery_pending_with_the_error(django_capture_on_commit_callbacks):
    receiver = Receiver()  # bound but never serving, then closed: the port refuses connections
    receiver.server.server_close()
    subscribe(receiver.url)
    (delivery,) = enqueue_committed(django_capture_on_commit_callbacks)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code is None and delivery.last_error


def test_a_redirect_is_not_followed_and_counts_as_a_failed_attempt(django_capture_on_commit_callbacks):
    with Receiver(statuses=(302,), redirect_to="http://127.0.0.1:9/elsewhere") as receiver:
        subscribe(receiver.url)
        (delivery,) = enqueue_committed(django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)


def test_deliveries_are_written_in_the_callers_transaction_and_vanish_with_its_rollback():
    """SPEC §10: the outbox row exists exactly when the change it reports was committed."""
    subscribe("http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks_enqueue(type="offer.made", data={})
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the change failed")
    assert WebhookDelivery.objects.count() == 0


def test_only_active_subscriptions_to_that_type_get_a_delivery_and_they_share_the_event_id():
    first = subscribe("http://127.0.0.1:9/a", events=["offer.made", "bed.vacated"])
    second = subscribe("http://127.0.0.1:9/b", events=["offer.made"])
    subscribe("http://127.0.0.1:9/c", events=["offer.expired"])
    gone = subscribe("http://127.0.0.1:9/d", events=["offer.made"])
    webhook_unsubscribe(subscription_id=gone.pk, actor=actor("admin"))
    deliveries = webhooks_enqueue(type="offer.made", data={})
    assert {d.subscription_id for d in deliveries} == {first.pk, second.pk}
    assert len({d.event_id for d in deliveries}) == 1


def test_a_broker_that_is_down_loses_nothing_the_delivery_waits_for_the_sweep(django_capture_on_commit_callbacks):
    conf = deliver_webhook.app.conf
    eager = conf.task_always_eager
    conf.update(task_always_eager=False)  # a broker is configured, and it is down
    try:
        subscribe("http://127.0.0.1:9/hook")
        with mock.patch("admissions.tasks.deliver_webhook.delay", side_effect=ConnectionError("broker down")) as delay:
            with django_capture_on_commit_callbacks(execute=True):
                (delivery,) = webhooks_enqueue(type="offer.made", data={"id": 1})
    finally:
        conf.update(task_always_eager=eager)
    assert delay.call_count == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 0


def test_a_pending_delivery_of_a_deleted_subscription_is_not_sent_and_is_marked_failed():
    subscription = subscribe("http://127.0.0.1:9/hook")
    (delivery,) = webhooks_enqueue(type="offer.made", data={})
    webhook_unsubscribe(subscription_id=subscription.pk, actor=actor("admin"))
    assert webhook_deliver(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 0


def test_deleting_a_subscription_twice_is_not_found():
    subscription = subscribe("http://127.0.0.1:9/hook")
    webhook_unsubscribe(subscription_id=subscription.pk, actor=actor("admin"))
    with pytest.raises(NotFound):
        webhook_unsubscribe(subscription_id=subscription.pk, actor=actor("admin"))


@pytest.mark.parametrize(
    ("url", "events", "secret", "field"),
    [
        ("ftp://example.org/hook", ["offer.made"], SECRET, "url"),
        ("http://" + "a" * 500 + ".org/", ["offer.made"], SECRET, "url"),
        ("https://example.org/hook", [], SECRET, "events"),
        ("https://example.org/hook", ["offer.eaten"], SECRET, "events"),
        ("https://example.org/hook", ["offer.made"], "short", "secret"),
        ("https://example.org/hook", ["offer.made"], "x" * 201, "secret"),
    ],
)
def test_a_subscription_needs_an_http_url_known_events_and_a_secret_of_16_to_200_characters(url, events, secret, field):
    with pytest.raises(InvalidInput) as refused:
        webhook_subscribe(url=url, events=events, secret=secret, actor=actor("admin"))
    assert field in refused.value.errors


# --- what is reported, from the real services ------------------------------------------------------
def _types() -> list[str]:
    return list(WebhookDelivery.objects.order_by("id").values_list("type", flat=True))


def test_an_offer_made_by_allocation_is_reported_with_the_offer_and_the_state_change():
    subscribe("http://127.0.0.1:9/hook", events=["offer.made", "application.state_changed"])
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    offer = Offer.objects.get(application=application)
    made = WebhookDelivery.objects.get(type="offer.made")
    assert made.payload["id"] == offer.pk
    assert made.payload["application"] == application.reference
    assert made.payload["facility"] == "YX01" and made.payload["bed_code"] == offer.bed.code
    changes = [
        (d.payload["from_state"], d.payload["to_state"], d.payload["transition"])
        for d in WebhookDelivery.objects.filter(type="application.state_changed").order_by("id")
    ]
    assert ("waiting", "offered", "make_offer") in changes
    assert all(from_state != to_state for from_state, to_state, _ in changes)


def test_events_that_do_not_change_the_state_are_not_reported_as_state_changes():
    subscribe("http://127.0.0.1:9/hook", events=["application.state_changed"])
    application = queued_application(choices=[FacilityFactory(code="YX01").code])
    before = WebhookDelivery.objects.count()
    app_services.lookup_code_issue(application=application, actor=actor("intake"))
    last = Application.objects.get(pk=application.pk).events.last()
    assert (last.transition, last.from_state, last.to_state) == ("lookup_code_issued", "waiting", "waiting")
    assert WebhookDelivery.objects.count() == before


def test_an_expired_offer_is_reported():
    subscribe("http://127.0.0.1:9/hook", events=["offer.expired"])
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)):
        home = FacilityFactory(code="YX01")
        add_beds(home, nursing=1, status="vacant")
        application = queued_application(choices=["YX01"])
    offers_expire_due(now=dt.datetime(2026, 11, 20, 0, 0, tzinfo=SHANGHAI))
    (expired,) = WebhookDelivery.objects.filter(type="offer.expired")
    assert expired.payload["application"] == application.reference and expired.payload["state"] == "expired"


def test_a_discharge_reports_the_bed_vacated():
    """R-BED-2."""
    subscribe("http://127.0.0.1:9/hook", events=["bed.vacated"])
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    offer = Offer.objects.get(application=queued_application(choices=["YX01"]))
    offer_accept(offer=offer, actor=actor("facility"))
    offer_admit(offer=offer, actor=actor("facility"))
    assert _types() == []
    bed_discharge(bed=offer.bed, reason="deceased", actor=actor("facility"))
    (vacated,) = WebhookDelivery.objects.filter(type="bed.vacated")
    assert vacated.payload["bed"] == offer.bed_id and vacated.payload["facility"] == "YX01"
    assert vacated.payload["reason"] == "deceased"
