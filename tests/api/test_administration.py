"""REST API: policy, calendar, the event feed and webhooks (API.md; SPEC §9, R-OFF-2, R-FSM-2)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from admissions.models import ApplicationEvent, CalendarDay, Policy, WebhookDelivery, WebhookSubscription
from facilities.models import AuditEntry
from tests.api.helpers import client_as
from tests.factories import FacilityFactory, add_beds, queued_application, submitted_application

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
SECRET = "0123456789abcdef-secret"


@pytest.fixture(autouse=True)
def _webhook_hosts(settings):
    """R-SEC-5: webhooks go only to listed hosts."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["example.org", "x.org", "127.0.0.1"]


NON_OBJECTS = [[], None, "x", 12, [{"url": "https://example.org"}]]


def assert_problem(response, status: int, *fields: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and "detail" in body
    for field in fields:  # the field itself, or an error inside it
        assert any(key == field or key.startswith(field + ".") for key in body.get("errors", {})), body
    return body


def post_json(client: APIClient, path: str, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def admin() -> APIClient:
    return client_as("admin")


def in_days(n: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


# --- policy (SPEC §9) --------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["intake", "assessor", "reviewer", "admin"])
def test_any_staff_sees_the_policy_in_force_with_every_parameter(role):
    response = client_as(role).get("/api/v1/policy/")
    assert response.status_code == 200
    active = response.json()["active"]
    assert active["version"] == 1 and active["effective_from"] == "2014-01-01"
    parameters = active["parameters"]
    assert parameters["min_age"] == 60 and parameters["nursing_target"] == 0.78
    assert parameters["channel_mapping"]["dibao"] == "special"
    assert parameters["score_weights"]["care"]["4"] == 40
    assert response.json()["upcoming"] == []


def test_a_facility_officer_sees_the_policy_too():
    client = client_as("facility", facility=FacilityFactory(code="YX01"))
    assert client.get("/api/v1/policy/").status_code == 200


def test_an_administrator_creates_a_version_that_changes_some_parameters_and_carries_the_rest(admin):
    """SPEC §9: versions are new, never edited; the rest carry over; an audited act."""
    body = {"effective_from": in_days(10), "refusal_limit": 4, "nursing_target": "0.8", "note": "council 2026/7"}
    response = post_json(admin, "/api/v1/policy/", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["version"] == 2 and created["effective_from"] == in_days(10)
    assert created["parameters"]["refusal_limit"] == 4 and created["parameters"]["nursing_target"] == 0.8
    assert created["parameters"]["bar_days"] == 365 and created["note"] == "council 2026/7"
    assert created["created_by"].startswith("admin")
    assert AuditEntry.objects.filter(action="policy_create", object_key="v2").exists()

    overview = client_as("reviewer").get("/api/v1/policy/").json()
    assert overview["active"]["version"] == 1
    assert [v["version"] for v in overview["upcoming"]] == [2]


def test_a_version_with_new_score_weights_and_channel_mapping(admin):
    weights = {
        "care": {"0": 0, "1": 12, "2": 24, "3": 36, "4": 48},
        "age": [[100, 10], [90, 8], [80, 5]],
        "family": {"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 5},
        "waiting": {"points": 2, "period_days": 30},
    }
    mapping = {
        "tekun": "special",
        "dibao": "special",
        "low_income": "priority",
        "youfu": "priority",
        "family_planning_special": "priority",
        "model_worker": "ordinary",
        "heroic_deed": "priority",
    }
    body = {"effective_from": in_days(1), "score_weights": weights, "channel_mapping": mapping}
    created = post_json(admin, "/api/v1/policy/", body).json()
    assert created["parameters"]["score_weights"] == weights
    assert created["parameters"]["channel_mapping"] == mapping


@pytest.mark.parametrize("role", ["intake", "reviewer"])
def test_only_an_administrator_creates_a_policy_version(role):
    assert_problem(post_json(client_as(role), "/api/v1/policy/", {"effective_from": in_days(1)}), 403)
    assert Policy.objects.count() == 1


def test_the_policy_needs_credentials():
    assert_problem(APIClient().get("/api/v1/policy/"), 401)
    assert_problem(post_json(APIClient(), "/api/v1/policy/", {"effective_from": in_days(1)}), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "effective_from"),
        ({"effective_from": "2026-02-30"}, "effective_from"),
        ({"effective_from": "2000-01-01"}, "effective_from"),  # SPEC §9: never in the past
        ({"effective_from": "tomorrow"}, "effective_from"),
        ({"effective_from": "+1", "refusal_limit": 4}, "effective_from"),
        ({"refusal_limt": 4}, "refusal_limt"),  # not a parameter: said, not ignored
        ({"nursing_target": 1.5}, "nursing_target"),
        ({"nursing_target": "abc"}, "nursing_target"),
        ({"refusal_limit": "three"}, "refusal_limit"),
        ({"refusal_limit": 10**30}, "refusal_limit"),
        ({"refusal_limit": 0}, "refusal_limit"),
        ({"nursing_min_grade": 7}, "nursing_min_grade"),
        ({"channel_mapping": {"dibao": "vip"}}, "channel_mapping.dibao"),
        ({"channel_mapping": "special"}, "channel_mapping"),
        ({"score_weights": {"care": {}}}, "score_weights.care.0"),
        ({"note": "x" * 10_000}, "note"),
    ],
)
def test_a_bad_policy_version_is_a_400_naming_the_field_and_creates_nothing(admin, body, field):
    body = {"effective_from": in_days(1), **body} if "effective_from" not in body and body else body
    assert_problem(post_json(admin, "/api/v1/policy/", body), 400, field)
    assert Policy.objects.count() == 1


def test_score_weights_the_service_refuses_name_the_field(admin):
    weights = {
        "care": {"0": 0, "1": 10, "2": 20, "3": 30, "4": 40},
        "age": [[70, 2], [100, 10]],  # not highest age first
        "family": {"no_spouse_no_children": 5, "lives_alone": 3, "spouse_resident": 5},
        "waiting": {"points": 1, "period_days": 30},
    }
    body = {"effective_from": in_days(1), "score_weights": weights}
    assert_problem(post_json(admin, "/api/v1/policy/", body), 400, "score_weights")


@pytest.mark.parametrize("body", NON_OBJECTS)
def test_a_policy_body_that_is_not_an_object_is_a_400(admin, body):
    assert_problem(post_json(admin, "/api/v1/policy/", body), 400)


def test_the_openapi_document_says_a_new_policy_version_names_only_parameters(admin):
    """SPEC §9 with issue 16: a body naming something that is not a policy parameter is refused (400),
    and the document says so (schemathesis sent an unknown name the document allowed, and was refused)."""
    document = admin.get("/api/schema/?format=json").json()
    body = document["paths"]["/api/v1/policy/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False and "effective_from" in schema["properties"]
    effective_from = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    assert_problem(post_json(admin, "/api/v1/policy/", {"effective_from": effective_from, "x": []}), 400, "x")
    assert not Policy.objects.filter(effective_from=effective_from).exists()


def test_the_policy_has_no_put_or_delete(admin):
    assert_problem(admin.put("/api/v1/policy/", {}, format="json"), 405)
    assert_problem(admin.delete("/api/v1/policy/"), 405)


# --- calendar (R-OFF-2) -----------------------------------------------------------------------------
def test_the_calendar_lists_the_days_of_a_year_and_says_which_years_are_covered(admin):
    """R-OFF-2: shipped filled for 2026; administrators are told which years are covered."""
    response = admin.get("/api/v1/calendar/", {"year": 2026})
    assert response.status_code == 200
    body = response.json()
    assert 2026 in body["covered_years"] and "warning" in body
    days = body["results"]
    assert days and all(day["date"].startswith("2026-") for day in days)
    assert {
        "date": "2026-10-01",
        "kind": "holiday",
        "name": days[[d["date"] for d in days].index("2026-10-01")]["name"],
    } in days
    assert {day["kind"] for day in days} == {"holiday", "workday"}


def test_an_administrator_sets_a_holiday_and_changes_it_to_a_working_day(admin):
    """R-OFF-2: an audited act."""
    response = post_json(admin, "/api/v1/calendar/", {"date": "2031-05-06", "kind": "holiday", "name": "补假"})
    assert response.status_code == 201, response.content
    assert response.json() == {"date": "2031-05-06", "kind": "holiday", "name": "补假"}
    post_json(admin, "/api/v1/calendar/", {"date": "2031-05-06", "kind": "workday", "name": ""})
    assert CalendarDay.objects.get(date="2031-05-06").kind == "workday"
    assert AuditEntry.objects.filter(action="calendar_day_set", object_key="2031-05-06").count() == 2
    assert admin.get("/api/v1/calendar/", {"year": 2031}).json()["results"] == [
        {"date": "2031-05-06", "kind": "workday", "name": ""}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "holiday"}, "date"),
        ({"date": "2031-02-30", "kind": "holiday"}, "date"),
        ({"date": "2031-05-06"}, "kind"),
        ({"date": "2031-05-06", "kind": "weekend"}, "kind"),
        ({"date": "2031-05-06", "kind": "holiday", "name": "x" * 121}, "name"),
        ({"date": "2031-05-06", "kind": ["holiday"]}, "kind"),
    ],
)
def test_a_bad_calendar_day_is_a_400_naming_the_field(admin, body, field):
    assert_problem(post_json(admin, "/api/v1/calendar/", body), 400, field)
    assert not CalendarDay.objects.filter(date="2031-05-06").exists()


def calendar_date_schema(admin) -> dict:
    document = admin.get("/api/schema/?format=json").json()
    body = document["paths"]["/api/v1/calendar/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]["date"]


def test_the_openapi_document_says_which_years_the_calendar_keeps(admin):
    """R-OFF-2 with issue 16: the API keeps the years 2000 to 2100 only, and its document says so (a
    pattern: OpenAPI 3.0 has no minimum for a date), so a client is not refused a date it was told is fine."""
    date = calendar_date_schema(admin)
    assert date["format"] == "date" and "2000 to 2100" in date["description"]
    kept = [year for year in range(1, 10000) if re.search(date["pattern"], f"{year:04d}-06-15")]
    assert kept == list(range(2000, 2101))
    # Every day of a year, and no other month or day.
    days = [dt.date(2028, 1, 1) + dt.timedelta(days=n) for n in range(366)]
    assert all(re.search(date["pattern"], day.isoformat()) for day in days)
    assert not any(re.search(date["pattern"], text) for text in ["2031-13-01", "2031-00-10", "2031-01-32", "2031-1-1"])


@pytest.mark.parametrize("day", ["1999-12-31", "2000-01-01", "2100-12-31", "2101-01-01", "0618-03-17", "9999-12-31"])
def test_a_calendar_day_is_refused_exactly_when_the_document_says_its_year_is_not_kept(admin, day):
    """R-OFF-2 with issue 16: the document and the API agree on each side of both ends of the years."""
    response = post_json(admin, "/api/v1/calendar/", {"date": day, "kind": "holiday", "name": ""})
    if re.search(calendar_date_schema(admin)["pattern"], day):
        assert response.status_code == 201, response.content
    else:
        assert_problem(response, 400, "date")
        assert not CalendarDay.objects.filter(date=day).exists()


@pytest.mark.parametrize("year", ["abc", "2026.5", str(10**30), "-1"])
def test_a_bad_year_filter_is_a_400(admin, year):
    assert_problem(admin.get("/api/v1/calendar/", {"year": year}), 400, "year")


@pytest.mark.parametrize("body", NON_OBJECTS)
def test_a_calendar_body_that_is_not_an_object_is_a_400(admin, body):
    assert_problem(post_json(admin, "/api/v1/calendar/", body), 400)


@pytest.mark.parametrize("role", ["intake", "reviewer", "assessor"])
def test_only_an_administrator_keeps_the_calendar(role):
    client = client_as(role)
    assert_problem(client.get("/api/v1/calendar/"), 403)
    assert_problem(post_json(client, "/api/v1/calendar/", {"date": "2031-05-06", "kind": "holiday"}), 403)
    assert_problem(APIClient().get("/api/v1/calendar/"), 401)


# --- the event feed (R-FSM-2) --------------------------------------------------------------------------
def test_the_feed_lists_every_applications_events_oldest_first_with_the_event_shape(admin):
    home = FacilityFactory(code="YX01")
    first = submitted_application(choices=[home.code])
    second = submitted_application(choices=[home.code])
    body = admin.get("/api/v1/events/").json()
    events = body["results"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert {e["application"] for e in events} == {first.reference, second.reference}
    create = events[0]
    assert create["transition"] == "create" and create["actor"]["kind"] in ("user", "client", "system")
    assert set(create) >= {"id", "application", "transition", "from_state", "to_state", "actor", "at", "reason", "data"}


def test_the_feed_continues_after_a_given_event_and_pages_by_cursor(admin):
    home = FacilityFactory(code="YX01")
    submitted_application(choices=[home.code])
    submitted_application(choices=[home.code])
    ids = list(ApplicationEvent.objects.order_by("id").values_list("id", flat=True))
    after = admin.get("/api/v1/events/", {"after": ids[1]}).json()["results"]
    assert [e["id"] for e in after] == ids[2:]

    page = admin.get("/api/v1/events/", {"page_size": 1}).json()
    seen = [e["id"] for e in page["results"]]
    while page["next"]:
        page = admin.get(page["next"]).json()
        seen += [e["id"] for e in page["results"]]
    assert seen == ids


@pytest.mark.parametrize("after", ["abc", "1.5", str(10**30), "-1"])
def test_a_bad_after_filter_is_a_400(admin, after):
    assert_problem(admin.get("/api/v1/events/", {"after": after}), 400, "after")


def test_a_garbled_cursor_is_not_a_server_error(admin):
    assert admin.get("/api/v1/events/", {"cursor": "!!not-a-cursor!!"}).status_code == 404


@pytest.mark.parametrize("role", ["intake", "reviewer", "assessor"])
def test_only_administrators_read_the_feed(role):
    assert_problem(client_as(role).get("/api/v1/events/"), 403)
    assert_problem(APIClient().get("/api/v1/events/"), 401)


def test_the_feed_is_read_only(admin):
    assert_problem(post_json(admin, "/api/v1/events/", {}), 405)


# --- webhooks ---------------------------------------------------------------------------------------
def subscribe(client: APIClient, **overrides):
    body = {"url": "https://example.org/hook", "events": ["offer.made", "bed.vacated"], "secret": SECRET, **overrides}
    return post_json(client, "/api/v1/webhooks/", body)


def test_an_administrator_subscribes_and_the_secret_is_never_shown(admin):
    response = subscribe(admin)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["url"] == "https://example.org/hook" and created["events"] == ["offer.made", "bed.vacated"]
    assert created["active"] is True and "secret" not in created
    assert WebhookSubscription.objects.get(pk=created["id"]).secret == SECRET
    listed = admin.get("/api/v1/webhooks/").json()["results"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in admin.get(f"/api/v1/webhooks/{created['id']}/").json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "ftp://example.org/hook"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://example.org/" + "a" * 500}, "url"),
        ({"url": None}, "url"),
        ({"events": []}, "events"),
        ({"events": ["offer.eaten"]}, "events.0"),
        ({"events": "offer.made"}, "events"),
        ({"secret": "short"}, "secret"),
        ({"secret": "x" * 201}, "secret"),
        ({"secret": 1234567890123456789}, "secret"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_the_field(admin, overrides, field):
    assert_problem(subscribe(admin, **overrides), 400, field)
    assert not WebhookSubscription.objects.exists()


@pytest.mark.parametrize("body", NON_OBJECTS)
def test_a_webhook_body_that_is_not_an_object_is_a_400(admin, body):
    assert_problem(post_json(admin, "/api/v1/webhooks/", body), 400)


def test_deliveries_show_attempts_status_codes_and_the_next_retry(admin):
    hook = subscribe(admin, url="http://127.0.0.1:9/hook").json()
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])  # the offer is made in the test's transaction
    (delivery,) = admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()["results"]
    assert delivery["type"] == "offer.made" and delivery["status"] == "pending"
    assert delivery["data"]["application"] == application.reference
    assert delivery["attempts"] == 0 and delivery["last_status_code"] is None
    assert delivery["event_id"] == str(WebhookDelivery.objects.get().event_id)
    assert set(delivery) >= {"next_attempt_at", "delivered_at", "last_error", "created_at"}


def test_deleting_a_webhook_stops_it_and_it_is_gone(admin):
    hook = subscribe(admin).json()
    response = admin.delete(f"/api/v1/webhooks/{hook['id']}/")
    assert response.status_code == 204
    assert admin.get("/api/v1/webhooks/").json()["results"] == []
    assert_problem(admin.delete(f"/api/v1/webhooks/{hook['id']}/"), 404)
    assert_problem(admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries/"), 404)
    assert AuditEntry.objects.filter(action="webhook_unsubscribe", object_key=str(hook["id"])).exists()


@pytest.mark.parametrize("pk", [999_999, 10**30])
def test_an_unknown_webhook_is_a_404(admin, pk):
    assert_problem(admin.get(f"/api/v1/webhooks/{pk}/"), 404)
    assert_problem(admin.delete(f"/api/v1/webhooks/{pk}/"), 404)
    assert_problem(admin.get(f"/api/v1/webhooks/{pk}/deliveries/"), 404)


@pytest.mark.parametrize("role", ["intake", "reviewer", "assessor"])
def test_only_administrators_manage_webhooks(admin, role):
    hook = subscribe(admin).json()
    client = client_as(role)
    assert_problem(subscribe(client), 403)
    assert_problem(client.get("/api/v1/webhooks/"), 403)
    assert_problem(client.delete(f"/api/v1/webhooks/{hook['id']}/"), 403)
    assert_problem(client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/"), 403)
    assert WebhookSubscription.objects.get(pk=hook["id"]).active


def test_webhooks_need_credentials(admin):
    hook = subscribe(admin).json()
    anonymous = APIClient()
    assert_problem(subscribe(anonymous), 401)
    assert_problem(anonymous.get("/api/v1/webhooks/"), 401)
    assert_problem(anonymous.delete(f"/api/v1/webhooks/{hook['id']}/"), 401)
    assert_problem(anonymous.get(f"/api/v1/webhooks/{hook['id']}/deliveries/"), 401)


def test_methods_the_contract_does_not_list_are_405_for_webhooks(admin):
    hook = subscribe(admin).json()
    assert_problem(admin.delete("/api/v1/webhooks/"), 405)
    assert_problem(admin.put(f"/api/v1/webhooks/{hook['id']}/", {}, format="json"), 405)
    assert_problem(post_json(admin, f"/api/v1/webhooks/{hook['id']}/deliveries/", {}), 405)


def test_a_replayed_subscription_with_the_same_key_creates_one_webhook(admin):
    body = {"url": "https://example.org/hook", "events": ["offer.made"], "secret": SECRET}
    first = admin.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="sub-1")
    again = admin.post("/api/v1/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="sub-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert WebhookSubscription.objects.count() == 1
    changed = admin.post(
        "/api/v1/webhooks/", {**body, "url": "https://x.org/"}, format="json", HTTP_IDEMPOTENCY_KEY="sub-1"
    )
    assert_problem(changed, 422)


def test_a_form_body_is_refused_as_unsupported_since_bodies_are_json(admin):
    assert_problem(admin.post("/api/v1/policy/", {"effective_from": in_days(1)}), 415)
    assert_problem(admin.post("/api/v1/calendar/", {"date": "2031-05-06", "kind": "holiday"}), 415)
    assert_problem(admin.post("/api/v1/webhooks/", {"url": "https://example.org/", "secret": SECRET}), 415)
    assert Policy.objects.count() == 1
