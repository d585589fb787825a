"""Background work in eager mode (no broker): each task does its work once when run twice;
notifications go out by SMS (console or an HTTP gateway) and email, and a failed send is kept and
retried with backoff (R-OFF-6, SPEC §10); the nightly chain check alerts the administrators
(R-ALLOC-2); the beat schedule names registered tasks. Real-worker and Redis faults: .ci/run."""

from __future__ import annotations

import datetime as dt
import logging
import socket
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

import api.tasks  # noqa: F401  (registers its tasks, as the worker's autodiscovery does)
from admissions.models import AllocationDecision, Notification, Offer
from admissions.services.beds import bed_create
from admissions.services.notifications import MAX_ATTEMPTS, _claim, notify, sending_lease
from admissions.tasks import (
    expire_offers,
    redispatch_outbox,
    send_notification,
    send_reminders,
    verify_decisions_nightly,
)
from config.celery import app
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, add_beds, queued_application, submitted_application
from tests.receivers import HANG, HOLD, SmsGateway, SmtpServer

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
GATEWAY_KEY = "gw-key-0123456789"


@pytest.fixture
def sms_gateway(settings):
    """Start a local gateway and point the http SMS backend at it: `with sms_gateway([500, 200]) as g`."""

    @contextmanager
    def start(statuses=(200,)):
        gateway = SmsGateway(statuses)
        settings.SMS_BACKEND = "http"
        settings.SMS_GATEWAY_URL = gateway.url
        settings.SMS_GATEWAY_KEY = GATEWAY_KEY
        settings.SMS_TEMPLATE = "waiting-list-v1"
        with gateway:
            yield gateway

    return start


@pytest.fixture
def application():
    """An application whose earlier messages (intake, state changes) have already gone out."""
    FacilityFactory(code="YX01")
    application = submitted_application(language="en", choices=["YX01"])
    Notification.objects.update(status="sent", next_attempt_at=None)
    return application


@pytest.fixture
def smtp_server(settings):
    """Start a local SMTP server and point Django's SMTP backend at it: `with smtp_server([...]) as s`."""

    @contextmanager
    def start(answers=("accept",)):
        server = SmtpServer(answers)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.DEFAULT_FROM_EMAIL = "waiting-list@example.org"
        with server:
            yield server

    return start


def notify_committed(capture, application, kind="state_changed", channel="sms") -> Notification:
    """notify() as a service calls it: in a transaction, the task queued on commit (eager here)."""
    with capture(execute=True):
        with transaction.atomic():
            notify(application=application, kind=kind)
    return Notification.objects.filter(application=application, kind=kind, channel=channel).latest("id")


def with_email(application, email="family@example.com"):
    application.contact_email = email
    application.save(update_fields=["contact_email"])
    return application


# --- each task does its work once when run twice ---------------------------------------------------
def test_expire_offers_expires_a_due_offer_once_when_run_twice():
    """R-OFF-4: the minute sweep; a second run finds nothing left to expire."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)):
        application = queued_application(grade=3, choices=["YX01"])
    offer = Offer.objects.get(application=application)
    with time_machine.travel(offer.respond_by + dt.timedelta(minutes=1)):
        assert expire_offers.delay().get() == 1
        assert expire_offers.delay().get() == 0
    offer.refresh_from_db()
    assert offer.state == "expired"


def test_send_reminders_reminds_once_when_run_twice():
    """R-OFF-6: the hourly sweep; the reminder is sent once however often it runs."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)):
        application = queued_application(grade=3, choices=["YX01"])
    with time_machine.travel(dt.datetime(2026, 11, 6, 8, tzinfo=SHANGHAI)):
        assert send_reminders.delay().get() == {"offers": 1, "admissions": 0, "assessments": 0}
        assert send_reminders.delay().get() == {"offers": 0, "admissions": 0, "assessments": 0}
    assert Notification.objects.filter(application=application, kind="offer_reminder").count() == 1


def test_a_notification_sent_twice_and_swept_again_reaches_the_gateway_once(
    sms_gateway, application, django_capture_on_commit_callbacks
):
    with sms_gateway() as gateway:
        notification = notify_committed(django_capture_on_commit_callbacks, application)
        send_notification.delay(notification.pk)
        assert redispatch_outbox.delay().get() == {"notifications": 0, "webhooks": 0}
    assert len(gateway.requests) == 1
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)


# --- who hears, and how --------------------------------------------------------------------------
def test_an_offer_is_told_to_the_family_by_sms_and_by_email_in_the_applicants_language():
    """R-OFF-6: one notification per channel, each its own row with its own status and attempts."""
    home = FacilityFactory(code="YX01", address="越秀区 9 号")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=3, choices=["YX01"], language="en", contact_email="family@example.com")
    made = Notification.objects.filter(application=application, kind="offer_made").order_by("channel")
    assert [(n.channel, n.recipient, n.language) for n in made] == [
        ("email", "family@example.com", "en"),
        ("sms", "13900000000", "en"),
    ]
    assert made[0].body == made[1].body and made[0].pk != made[1].pk
    assert made[0].body.startswith(f"A bed is offered to application {application.reference}")
    assert "越秀区 9 号" in made[0].body


def test_without_a_phone_the_family_hears_by_email_only_and_without_either_not_at_all():
    FacilityFactory(code="YX01")
    by_email = submitted_application(choices=["YX01"], phone="", contact_phone="", contact_email="f@example.com")
    assert set(by_email.notifications.values_list("channel", flat=True)) == {"email"}
    unreachable = submitted_application(
        choices=["YX01"], phone="", contact_phone="", name="李大明", date_of_birth=dt.date(1940, 5, 5)
    )
    assert not unreachable.notifications.exists()


def test_an_offer_reminder_goes_once_on_each_channel_however_often_the_sweep_runs():
    """R-OFF-6: one working day before the response deadline, by SMS and by email, once each."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)):
        application = queued_application(grade=3, choices=["YX01"], contact_email="family@example.com")
    with time_machine.travel(dt.datetime(2026, 11, 6, 8, tzinfo=SHANGHAI)):
        send_reminders.delay()
        send_reminders.delay()
    reminders = Notification.objects.filter(application=application, kind="offer_reminder")
    assert sorted(reminders.values_list("channel", flat=True)) == ["email", "sms"]
    (key,) = set(reminders.values_list("dedupe_key", flat=True))
    with transaction.atomic():
        notify(
            application=application, kind="offer_reminder", context={"facility": "", "respond_by": ""}, dedupe_key=key
        )
    assert reminders.count() == 2  # the same key writes nothing more on either channel


# --- SMS ------------------------------------------------------------------------------------------
def test_an_sms_is_posted_to_the_http_gateway_as_json_with_the_bearer_key(
    sms_gateway, application, django_capture_on_commit_callbacks
):
    """R-OFF-6: {to, text, template} to SMS_GATEWAY_URL, authorised by SMS_GATEWAY_KEY."""
    with sms_gateway() as gateway:
        notification = notify_committed(django_capture_on_commit_callbacks, application)
    (request,) = gateway.requests
    assert request["path"] == "/sms"
    assert request["headers"]["Authorization"] == f"Bearer {GATEWAY_KEY}"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["Idempotency-Key"] == f"notification-{notification.pk}"
    assert request["json"] == {"to": "13900000000", "text": notification.body, "template": "waiting-list-v1"}
    assert f"Application {application.reference} is now" in notification.body
    assert notification.status == "sent" and notification.sent_at is not None
    assert notification.next_attempt_at is None and notification.last_error == ""


def test_a_gateway_answering_500_leaves_it_pending_and_the_sweep_sends_it_after_the_backoff(
    sms_gateway, application, django_capture_on_commit_callbacks
):
    """SPEC §10: a message that cannot be sent now is kept and retried, not lost."""
    start = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with sms_gateway([500, 200]) as gateway:
        with time_machine.travel(start, tick=False):
            notification = notify_committed(django_capture_on_commit_callbacks, application)
        assert notification.status == "pending" and notification.attempts == 1
        assert notification.next_attempt_at == start + dt.timedelta(seconds=30)
        assert notification.last_error == "SMS gateway answered HTTP 500"

        with time_machine.travel(start + dt.timedelta(seconds=20), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 0  # still backing off
        assert len(gateway.requests) == 1

        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 1
            assert redispatch_outbox.delay().get()["notifications"] == 0
    assert len(gateway.requests) == 2
    assert len(gateway.sent) == 1  # the 500 sent nothing; the retry sent it
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")


def test_a_gateway_that_times_out_after_sending_is_asked_again_with_the_same_key_and_sends_once(
    settings, sms_gateway, application, django_capture_on_commit_callbacks
):
    """SPEC §10: the gateway took the message but answered too late; the retry after the backoff
    carries the same Idempotency-Key, so the family gets one SMS."""
    settings.SMS_GATEWAY_TIMEOUT = 0.5
    start = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with sms_gateway([HOLD, 200]) as gateway:
        with time_machine.travel(start, tick=False):
            notification = notify_committed(django_capture_on_commit_callbacks, application)
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert notification.last_error.startswith("SMS gateway unreachable: TimeoutError")
        assert notification.next_attempt_at == start + dt.timedelta(seconds=30)
        gateway.release()
        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 1
    assert len(gateway.requests) == 2
    assert {r["headers"]["Idempotency-Key"] for r in gateway.requests} == {f"notification-{notification.pk}"}
    assert list(gateway.sent.values()) == [
        {"to": "13900000000", "text": notification.body, "template": "waiting-list-v1"}
    ]
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")


def test_a_notification_that_fails_every_attempt_is_marked_failed_after_the_limit(
    sms_gateway, application, django_capture_on_commit_callbacks
):
    when = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with sms_gateway([503]) as gateway:
        with time_machine.travel(when, tick=False):
            notification = notify_committed(django_capture_on_commit_callbacks, application)
        for _ in range(MAX_ATTEMPTS - 1):
            notification.refresh_from_db()
            when = notification.next_attempt_at
            with time_machine.travel(when, tick=False):
                redispatch_outbox.delay()
        with time_machine.travel(when + dt.timedelta(days=1), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 0
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", MAX_ATTEMPTS)
    assert notification.next_attempt_at is None
    assert len(gateway.requests) == MAX_ATTEMPTS


def test_a_gateway_that_cannot_be_reached_is_an_attempt_to_retry(
    settings, application, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = f"http://127.0.0.1:{closed_port()}/sms"
    notification = notify_committed(django_capture_on_commit_callbacks, application)
    assert notification.status == "pending" and notification.attempts == 1
    assert notification.last_error.startswith("SMS gateway unreachable")
    assert notification.next_attempt_at > timezone.now()


def test_the_console_backend_logs_the_notification_but_never_the_phone_or_the_text(
    settings, caplog, application, django_capture_on_commit_callbacks
):
    """SPEC §10: phone numbers and message texts are not logged."""
    settings.SMS_BACKEND = "console"
    with caplog.at_level(logging.DEBUG):
        notification = notify_committed(django_capture_on_commit_callbacks, application)
    assert notification.status == "sent"
    assert f"SMS notification {notification.pk} (state_changed)" in caplog.text
    assert notification.recipient not in caplog.text
    assert application.reference not in caplog.text  # the text names the application


# --- email ----------------------------------------------------------------------------------------
def email_notification(application, *, language="zh-hans") -> Notification:
    return Notification.objects.create(
        application=application,
        kind="state_changed",
        channel="email",
        language=language,
        recipient="family@example.com",
        body=f"Application {application.reference} is now: waiting.",
        next_attempt_at=timezone.now(),
    )


def test_an_email_notification_goes_out_through_djangos_email_backend_once(settings, application):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "waiting-list@example.org"
    notification = email_notification(application)
    send_notification.delay(notification.pk)
    send_notification.delay(notification.pk)
    (message,) = mail.outbox
    assert message.to == ["family@example.com"]
    assert message.from_email == "waiting-list@example.org"
    assert message.body == notification.body
    assert message.subject == "通知"  # in the applicant's language
    assert message.extra_headers["Message-ID"] == f"<notification-{notification.pk}@example.org>"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)


def test_an_smtp_server_that_cannot_be_reached_leaves_the_email_pending_without_the_address(settings, application):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    notification = email_notification(application)
    send_notification.delay(notification.pk)
    notification.refresh_from_db()
    assert notification.status == "pending" and notification.attempts == 1
    assert notification.next_attempt_at is not None
    assert notification.last_error.startswith("email not sent") and "family@example.com" not in notification.last_error


def test_an_smtp_server_answering_5xx_is_tried_again_after_the_backoff_and_accepts_the_email_once(
    smtp_server, application, django_capture_on_commit_callbacks
):
    """R-OFF-6, SPEC §10: a 554 is a failed attempt, kept and retried with backoff, never lost."""
    with_email(application)
    start = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with smtp_server(["reject", "accept"]) as server:
        with time_machine.travel(start, tick=False):
            notification = notify_committed(django_capture_on_commit_callbacks, application, channel="email")
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert notification.last_error == "SMTP 554 (SMTPDataError)"
        assert notification.next_attempt_at == start + dt.timedelta(seconds=30)
        assert server.messages == []

        with time_machine.travel(start + dt.timedelta(seconds=20), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 0  # still backing off
        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 1
            assert redispatch_outbox.delay().get()["notifications"] == 0
    assert server.attempts == 2
    (message,) = server.messages
    assert message["To"] == "family@example.com"
    assert message["Message-ID"] == f"<notification-{notification.pk}@example.org>"
    assert message.get_content().strip() == notification.body
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")


def test_an_smtp_server_that_hangs_past_the_timeout_is_tried_again_and_accepts_the_email_once(
    settings, smtp_server, application, django_capture_on_commit_callbacks
):
    """SPEC §10: a server that does not answer within EMAIL_TIMEOUT took nothing (it never said 250);
    the retry after the backoff delivers the one message."""
    settings.EMAIL_TIMEOUT = 0.5
    with_email(application)
    start = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with smtp_server([HANG, "accept"]) as server:
        with time_machine.travel(start, tick=False):
            notification = notify_committed(django_capture_on_commit_callbacks, application, channel="email")
        assert (notification.status, notification.attempts) == ("pending", 1)
        assert notification.last_error == (
            "email not sent: SMTP server disconnected (Connection unexpectedly closed: timed out)"
        )
        server.release()  # the hung session ends with a 451: nothing was taken
        with time_machine.travel(start + dt.timedelta(seconds=31), tick=False):
            assert redispatch_outbox.delay().get()["notifications"] == 1
    assert server.attempts == 2
    (message,) = server.messages
    assert message["Message-ID"] == f"<notification-{notification.pk}@example.org>"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")


def test_a_send_cut_short_counts_as_an_attempt_and_is_taken_again_only_after_the_lease(
    settings, application, django_capture_on_commit_callbacks
):
    """SPEC §10: a worker killed mid-send leaves the attempt counted and the lease taken; nobody
    sends it during the lease (the dead worker might still have been sending), the sweep does after."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with_email(application)
    start = dt.datetime(2026, 11, 2, 10, tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=False):
        with django_capture_on_commit_callbacks(execute=False):
            with transaction.atomic():
                notify(application=application, kind="state_changed")
        Notification.objects.filter(channel="sms").update(status="sent", next_attempt_at=None)  # not this test's
        notification = Notification.objects.get(application=application, kind="state_changed", channel="email")
        claimed = _claim(notification.pk, start)  # the worker took it, then died before sending
    assert claimed is not None
    notification.refresh_from_db()
    assert notification.attempts == 1 and notification.status == "pending"
    assert notification.last_error.startswith("attempt 1 started at 2026-11-02T10:00:00+08:00")
    assert notification.next_attempt_at == start + sending_lease("email")
    assert sending_lease("email") > dt.timedelta(seconds=settings.EMAIL_TIMEOUT * 10)  # outlasts a whole SMTP exchange

    with time_machine.travel(start + sending_lease("email") - dt.timedelta(seconds=1), tick=False):
        assert redispatch_outbox.delay().get()["notifications"] == 0
    with time_machine.travel(start + sending_lease("email"), tick=False):
        assert redispatch_outbox.delay().get()["notifications"] == 1
    (message,) = mail.outbox
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")


def test_a_notification_whose_every_attempt_was_cut_short_fails_at_the_limit(settings, application):
    """A message that kills its worker every time is not tried for ever."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notification = email_notification(application)
    Notification.objects.filter(pk=notification.pk).update(attempts=MAX_ATTEMPTS)
    send_notification.delay(notification.pk)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert mail.outbox == []


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the nightly chain check ---------------------------------------------------------------------
def administrators() -> list[str]:
    """Two administrators who must hear, and three users who must not."""
    User.objects.create_user("root", email="root@example.org", is_superuser=True)
    roles_assign(user=User.objects.create_user("chief", email="chief@example.org"), roles=["admin"])
    User.objects.create_user("retired", email="retired@example.org", is_superuser=True, is_active=False)
    roles_assign(user=User.objects.create_user("clerk", email="clerk@example.org"), roles=["intake"])
    User.objects.create_user("nomail", is_superuser=True)
    return ["chief@example.org", "root@example.org"]


def test_an_intact_decision_chain_alerts_nobody(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    administrators()
    home = FacilityFactory(code="YX01")
    bed_create(facility=home, code="N-1", bed_type="nursing")
    assert verify_decisions_nightly.delay().get() is True
    assert mail.outbox == []


def test_a_broken_decision_chain_sends_the_administrators_an_email_naming_the_decision(settings, caplog):
    """R-ALLOC-2: the nightly check logs an ERROR and emails every active administrator."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    expected = administrators()
    home = FacilityFactory(code="YX01")
    for i in range(3):
        bed_create(facility=home, code=f"N-{i}", bed_type="nursing")
    forged = AllocationDecision.objects.filter(facility=home).order_by("sequence")[1]
    table = AllocationDecision._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Someone with DDL rights removes the append-only guard and edits a decision.
            cursor.execute(
                f"DROP TRIGGER {table}_append_only" + (f" ON {table}" if connection.vendor == "postgresql" else "")
            )
            cursor.execute(f"UPDATE {table} SET trigger = 'forged' WHERE id = %s", [forged.pk])
        with caplog.at_level(logging.ERROR):
            assert verify_decisions_nightly.delay().get() is False
        transaction.set_rollback(True)
    assert sorted(address for message in mail.outbox for address in message.to) == expected
    assert all(len(message.to) == 1 for message in mail.outbox)
    message = mail.outbox[0]
    assert f"decision {forged.pk}" in message.subject
    assert f"id={forged.pk} facility=YX01 sequence=2" in message.body
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and f"id={forged.pk}" in errors[0].getMessage()


# --- the schedule -----------------------------------------------------------------------------------
def test_the_beat_schedule_names_every_periodic_task_and_each_is_registered():
    schedule = app.conf.beat_schedule
    tasks = {entry["task"]: entry["schedule"] for entry in schedule.values()}
    assert set(tasks) == {
        "admissions.tasks.expire_offers",
        "admissions.tasks.redispatch_outbox",
        "admissions.tasks.send_reminders",
        "admissions.tasks.verify_decisions_nightly",
        "admissions.tasks.write_checkpoint_daily",  # R-VER-3
        "admissions.tasks.anonymise_persons",  # R-PRIV-3
        "admissions.tasks.watchdog_report_monthly",
        "admissions.tasks.reconfirmations_sweep",  # R-CHG-3
        "api.tasks.purge_idempotency_records",
        "admissions.tasks.activate_policy",  # R-POL-1
        "admissions.tasks.fold_queue_changes",  # issue 18: the lookup's queue versions kept small
    }
    registered = set(app.tasks)
    assert set(tasks) <= registered
    assert {"admissions.tasks.send_notification", "admissions.tasks.deliver_webhook"} <= registered
    assert tasks["admissions.tasks.expire_offers"] == 60.0
    assert tasks["admissions.tasks.redispatch_outbox"] == 60.0
    assert tasks["admissions.tasks.send_reminders"] == crontab(minute=5)
    assert tasks["admissions.tasks.verify_decisions_nightly"] == crontab(hour=2, minute=30)
    assert tasks["admissions.tasks.write_checkpoint_daily"] == crontab(hour=3, minute=0)
    # R-WATCH-1: monthly, on the 1st.
    assert tasks["admissions.tasks.watchdog_report_monthly"] == crontab(day_of_month=1, hour=7, minute=0)
    # R-CHG-3: asks, reminders and suspensions, hourly.
    assert tasks["admissions.tasks.reconfirmations_sweep"] == crontab(minute=35)
    # R-SEC-3: records are deleted after 24 hours; hourly, so none outlives 25.
    assert tasks["api.tasks.purge_idempotency_records"] == crontab(minute=20)
    # R-POL-1: at 00:00 of a version's date (and each hour after, should a run be missed).
    assert tasks["admissions.tasks.activate_policy"] == crontab(minute=0)
    assert str(app.timezone) == "Asia/Shanghai"  # so 02:30 is Shanghai time


def test_the_reconfirmations_task_runs_the_sweep(settings):
    """R-CHG-3: the beat task is the re-confirmation sweep (nothing due: all counts 0)."""
    from admissions.tasks import reconfirmations_sweep

    assert reconfirmations_sweep() == {
        "asked": 0,
        "reminded": 0,
        "suspended": 0,
        "confirmed_by_offer": 0,
        "cancelled": 0,
    }
