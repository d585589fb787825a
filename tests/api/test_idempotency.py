"""R-SEC-3: Idempotency-Key is atomic (the work at most once; concurrent repeats get the first
answer or 409), stored answers hold no personal data or secrets (a lookup code is replayed as
"shown only once"), and records are deleted after 24 hours."""

import datetime as dt
import json
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import Application
from api.models import IdempotencyRecord
from api.tasks import idempotency_records_purge, purge_idempotency_records
from tests.api.helpers import assert_problem, client_as, url
from tests.api.test_applications import new_body
from tests.factories import FacilityFactory, district, submitted_application

HOURS_KEPT = 24  # R-SEC-3


@pytest.fixture
def homes():
    FacilityFactory(code="YX01", level="district", district=district("yuexiu"))
    FacilityFactory(code="GZC01", level="city", district=district("tianhe"))


def stored_text() -> str:
    return json.dumps(list(IdempotencyRecord.objects.values()), default=str, ensure_ascii=False)


@pytest.mark.django_db
def test_a_replayed_creation_holds_no_personal_data_and_no_lookup_code(homes):
    """R-SEC-3, R-PRIV-2: the record keeps neither the ID number, the phone, the name, the address
    nor the lookup code; the replay says the code is shown only once and reads the application now."""
    client = client_as("intake")
    body = new_body()
    first = client.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == 201
    created = first.json()
    code = created["lookup_code"]
    text = stored_text()
    for secret in (code, body["applicant"]["id_number"], body["applicant"]["phone"], body["contact"]["phone"]):
        assert secret not in text
    assert body["applicant"]["name"] not in text and body["applicant"]["address"] not in text

    again = client.post(
        url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="create-1", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    replay = again.json()
    assert "lookup_code" not in replay and code not in again.content.decode()
    assert replay["lookup_code_shown"] is False
    assert "shown only once" in replay["lookup_code_detail"]
    assert replay["reference"] == created["reference"] and replay["state"] == created["state"]
    assert Application.objects.count() == 1


@pytest.mark.django_db
def test_a_replayed_new_lookup_code_is_not_shown_again(homes):
    application = submitted_application(choices=["YX01"])
    client = client_as("intake")
    path = url(f"applications/{application.reference}/lookup-code/")
    first = client.post(path, format="json", HTTP_IDEMPOTENCY_KEY="code-1")
    code = first.json()["lookup_code"]
    assert code not in stored_text()
    again = client.post(path, format="json", HTTP_IDEMPOTENCY_KEY="code-1")
    assert again.status_code == 200 and code not in again.content.decode()
    assert again.json()["lookup_code_shown"] is False and "lookup_code" not in again.json()
    assert again.json()["reference"] == application.reference and again.json()["lookup_code_detail"]
    assert application.events.filter(transition="lookup_code_issued").count() == 1


@pytest.mark.django_db
def test_a_replay_reads_the_application_as_it_is_now(homes):
    """API.md: the first status, with the resource as it reads now."""
    application = submitted_application(choices=["YX01"])
    client = client_as("intake")
    path = url(f"applications/{application.reference}/accept-for-assessment/")
    assert client.post(path, format="json", HTTP_IDEMPOTENCY_KEY="acc-1").json()["state"] == "assessment_pending"
    withdrawn = client_as("intake").post(
        url(f"applications/{application.reference}/withdraw/"), {"reason": "moved"}, format="json"
    )
    assert withdrawn.status_code == 200, withdrawn.content
    again = client.post(path, format="json", HTTP_IDEMPOTENCY_KEY="acc-1")
    assert again.status_code == 200 and again.json()["state"] == "withdrawn"


@pytest.mark.django_db
def test_a_repeat_while_the_first_is_running_gets_409_with_retry_after(homes):
    """R-SEC-3: the key is claimed before the work; a repeat meanwhile does no work."""
    client = client_as("intake")
    body = new_body()
    probe = client.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    record = IdempotencyRecord.objects.get(key="probe")
    # The state a record has while its first request is still running.
    IdempotencyRecord.objects.filter(pk=record.pk).update(status=0, response_body=None)
    assert probe.status_code == 201
    running = client.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    assert_problem(running, 409)
    assert running["Retry-After"] == "1"
    assert Application.objects.count() == 1
    # Another body under the running key is still a 422, not a 409.
    other = new_body(choices=["YX01"])
    assert_problem(client.post(url("applications/"), other, format="json", HTTP_IDEMPOTENCY_KEY="probe"), 422)


@pytest.mark.django_db
def test_a_failed_request_gives_its_key_back(homes, monkeypatch):
    """A 5xx is not an answer to keep: the same key may be retried and then does the work."""
    from admissions.services import applications as services

    client = APIClient(raise_request_exception=False)
    client.force_authenticate(client_as("intake").user)
    real = services.application_create

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "application_create", broken)
    assert client.post(url("applications/"), new_body(), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 500
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.setattr(services, "application_create", real)
    assert client.post(url("applications/"), new_body(), format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201


@pytest.mark.django_db
def test_records_are_deleted_after_24_hours(homes):
    """R-SEC-3: the periodic task deletes records older than 24 hours and keeps younger ones."""
    client = client_as("intake")
    client.post(url("applications/"), new_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    client.post(url("applications/"), {}, format="json", HTTP_IDEMPOTENCY_KEY="young")  # a 400, kept too
    now = timezone.now()
    IdempotencyRecord.objects.filter(key="old").update(created_at=now - dt.timedelta(hours=HOURS_KEPT, seconds=1))
    IdempotencyRecord.objects.filter(key="young").update(
        created_at=now - dt.timedelta(hours=HOURS_KEPT) + dt.timedelta(minutes=1)
    )
    assert idempotency_records_purge(now=now) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]
    IdempotencyRecord.objects.update(created_at=now - dt.timedelta(hours=HOURS_KEPT + 1))
    purge_idempotency_records.delay()  # eager without a broker, as the beat would run it
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_the_upgrade_scrubs_records_stored_before_it(homes):
    """R-SEC-3: answers stored before the upgrade (with ID number, phone and lookup code) lose them."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("api.migrations.0002_scrub_idempotency_records")
    IdempotencyRecord.objects.create(
        caller="user:1",
        key="before",
        method="POST",
        path="/api/v1/applications/",
        request_hash="x" * 64,
        status=201,
        response_body={"reference": "2026-000001", "lookup_code": "K7M3QZ", "applicant": {"id_number": "4401"}},
    )
    IdempotencyRecord.objects.create(
        caller="user:1",
        key="code",
        method="POST",
        path="/api/v1/applications/2026-000001/lookup-code/",
        request_hash="x" * 64,
        status=200,
        response_body={"lookup_code": "ABCDEF"},
    )
    migration.scrub(apps, None)
    bodies = dict(IdempotencyRecord.objects.values_list("key", "response_body"))
    assert bodies == {
        "before": {"reference": "2026-000001", "lookup_code_shown": True},
        "code": {"reference": "2026-000001", "lookup_code_shown": True},
    }


# --- under real concurrency ------------------------------------------------------------------------
RACERS = 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_twenty_concurrent_posts_with_one_key_do_the_work_once(homes, monkeypatch):
    """R-SEC-3: 20 simultaneous POST /applications/ with one key: the service runs once (not merely
    one application: one open application per person would refuse the others anyway); every
    answer is the first one's (201) or 409."""
    from admissions.services import applications as services

    calls = []
    real = services.application_create

    def counted(**kwargs):
        calls.append(1)
        return real(**kwargs)

    monkeypatch.setattr(services, "application_create", counted)
    user = client_as("intake").user
    body = new_body()
    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def post():
        client = APIClient()
        client.force_authenticate(user)
        try:
            barrier.wait()
            response = client.post(url("applications/"), body, format="json", HTTP_IDEMPOTENCY_KEY="race-1")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == RACERS
    assert len(calls) == 1
    assert Application.objects.count() == 1
    assert set(statuses) <= {201, 409}, statuses
    assert IdempotencyRecord.objects.count() == 1
    assert body["applicant"]["id_number"] not in stored_text()
