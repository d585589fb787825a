"""A lock wait that ran out (SQLite's busy timeout, PostgreSQL's lock_timeout, a deadlock victim) is
answered 503 with Retry-After, in plain words, and nothing is kept: not a 500 (issue 16: no request
gets a 500; the fuzzer met SQLite's "database is locked" while a long allocation held the lock)."""

from __future__ import annotations

import psycopg.errors
import pytest
from django.db import OperationalError
from django.urls import reverse
from django.utils import translation

from admissions.models import AllocationDecision, FormSubmission
from core.errors import database_busy
from tests.api.helpers import client_as as api_client_as
from tests.facilities.test_views import client_as
from tests.factories import FacilityFactory, add_beds, queued_application

pytestmark = pytest.mark.django_db

RETRY_AFTER = "5"  # seconds, core.errors.RETRY_AFTER_SECONDS as the README states it


def _wrapped(cause: Exception) -> OperationalError:
    """What Django raises: its OperationalError with the driver's error as the cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("database is locked"),  # SQLite
        _wrapped(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")),  # 55P03
        _wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),  # 40P01
    ],
)
def test_a_lock_wait_that_ran_out_is_busy(error):
    assert database_busy(error)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("no such table: admissions_offer"),
        _wrapped(psycopg.errors.UndefinedTable("relation does not exist")),
        ValueError("database is locked"),  # not a database error at all
    ],
)
def test_any_other_error_is_not_busy(error):
    assert not database_busy(error)


def _allocation_meets_a_lock(monkeypatch, module):
    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(module, "allocation_run", locked)


def test_the_api_answers_503_with_retry_after_and_the_key_can_be_used_again(monkeypatch):
    from api.views import facilities as api_views

    home = FacilityFactory(code="YX01")
    queued_application(grade=3, choices=["YX01"])
    add_beds(home, nursing=1, status="vacant")  # straight into the table: nobody allocated it yet
    admin = api_client_as("admin")
    _allocation_meets_a_lock(monkeypatch, api_views)
    response = admin.post("/api/v1/facilities/YX01/allocate/", HTTP_IDEMPOTENCY_KEY="busy-1", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 503 and "try again" in body["detail"]
    assert "locked" not in response.content.decode()  # the database's words stay in the log
    monkeypatch.undo()
    again = admin.post("/api/v1/facilities/YX01/allocate/", HTTP_IDEMPOTENCY_KEY="busy-1")
    assert again.status_code == 200  # the claim was given back: the retry does the work
    assert [d["chosen"] is not None for d in again.json()["decisions"]] == [True]


def test_a_page_answers_503_and_the_same_form_can_be_sent_again(monkeypatch):
    from web.views import facility_pages

    home = FacilityFactory(code="YX01")
    queued_application(grade=3, choices=["YX01"])
    add_beds(home, nursing=1, status="vacant")
    officer = client_as("facility", facility=home)
    url = reverse("staff:facility_allocate", args=["YX01"])
    _allocation_meets_a_lock(monkeypatch, facility_pages)
    response = officer.post(url, {"form_token": "busy-form"})
    assert response.status_code == 503
    assert response["Retry-After"] == RETRY_AFTER
    page = response.content.decode()
    assert "Nothing has been saved" in page and "locked" not in page
    assert not FormSubmission.objects.filter(token="busy-form").exists()
    monkeypatch.undo()
    officer.post(url, {"form_token": "busy-form"})
    assert AllocationDecision.objects.filter(facility=home, chosen__isnull=False).count() == 1


def test_the_busy_page_is_in_chinese_too(monkeypatch):
    from web.views import facility_pages

    home = FacilityFactory(code="YX01")
    officer = client_as("facility", facility=home)
    _allocation_meets_a_lock(monkeypatch, facility_pages)
    with translation.override("zh-hans"):
        url = reverse("staff:facility_allocate", args=["YX01"])
    response = officer.post(url)
    assert response.status_code == 503
    assert "未保存任何内容" in response.content.decode()
