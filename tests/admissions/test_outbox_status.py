"""`manage.py outbox_status`: the outbox backlog alert of docs/operations.md (SPEC §10: work waits
in the database until a worker sends it; rows due for long mean the workers or beat are not running)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from admissions.models import Notification, WebhookDelivery, WebhookSubscription
from tests.factories import FacilityFactory, submitted_application

pytestmark = pytest.mark.django_db


@pytest.fixture
def application():
    FacilityFactory(code="YX01")
    application = submitted_application(language="en", choices=["YX01"])
    Notification.objects.update(status="sent", next_attempt_at=None)
    return application


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("outbox_status", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def pending_notification(application, *, due_minutes_ago: int) -> Notification:
    return Notification.objects.create(
        application=application,
        kind="state_changed",
        channel="sms",
        language="en",
        recipient="13800138000",
        body="…",
        next_attempt_at=timezone.now() - dt.timedelta(minutes=due_minutes_ago),
    )


def test_an_outbox_with_nothing_late_is_ok(application):
    pending_notification(application, due_minutes_ago=3)
    code, out, err = run()
    assert code == 0
    assert "notifications: 1 pending, 1 due, the oldest due for 3 min, 0 due for more than 10 min" in out
    assert "OK: nothing in the outbox is late" in out and err == ""


def test_a_notification_due_for_longer_than_the_limit_fails_naming_what_to_check(application):
    pending_notification(application, due_minutes_ago=11)
    code, out, err = run()
    assert code == 1
    assert "notifications: 1 pending, 1 due, the oldest due for 11 min, 1 due for more than 10 min" in out
    assert "LATE: 1 row(s) due for more than 10 min" in err and "beat" in err
    assert run("--max-late-minutes", "12")[0] == 0


def test_a_late_webhook_delivery_fails_too_and_sent_or_failed_rows_do_not(application):
    subscription = WebhookSubscription.objects.create(
        url="https://hooks.example.org/x", events=["offer.made"], secret="s" * 20
    )
    late = timezone.now() - dt.timedelta(minutes=30)
    WebhookDelivery.objects.create(subscription=subscription, type="offer.made", status="failed", next_attempt_at=late)
    assert run()[0] == 0
    WebhookDelivery.objects.create(subscription=subscription, type="offer.made", next_attempt_at=late)
    code, out, _ = run()
    assert code == 1
    assert "webhook deliveries: 1 pending, 1 due, the oldest due for 30 min, 1 due for more than 10 min, " in out
    assert "1 failed in the last day" in out


def test_a_limit_below_one_minute_is_refused():
    with pytest.raises(CommandError, match="--max-late-minutes must be 1 or more"):
        call_command("outbox_status", "--max-late-minutes", "0")
