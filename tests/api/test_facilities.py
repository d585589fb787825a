"""REST API: facilities and beds (API.md), their queue and allocation decisions (SPEC §6, §7)."""

import datetime as dt
import json
import threading

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection, connections
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from admissions.models import AllocationDecision, Offer
from admissions.selectors import facility_quota
from admissions.services.offers import offer_accept, offer_admit
from facilities.models import AuditEntry, Bed, Facility
from facilities.roles import roles_assign
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, actor, add_beds, district, queued_application

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


# --- helpers ----------------------------------------------------------------------------------------
@pytest.fixture
def home():
    return FacilityFactory(code="YX01", name="越秀区老人院")


@pytest.fixture
def admin():
    return client_as("admin")


@pytest.fixture
def officer(home):
    return client_as("facility", facility=home)


@pytest.fixture
def other_officer():
    return client_as("facility", facility=FacilityFactory(code="HZ01", district=district("haizhu")))


def admitted(home, *, grade=3, **kwargs):
    """An application that moved into a bed at `home` through the real offer flow; returns (application, bed)."""
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(grade=grade, choices=[home.code], **kwargs)
    offer = Offer.objects.get(application=application, state="pending")
    offer = offer_accept(offer=offer, actor=actor("officer"))
    offer_admit(offer=offer, actor=actor("officer"))
    return application, Bed.objects.get(pk=offer.bed_id)


# --- facilities -------------------------------------------------------------------------------------
def test_any_staff_lists_facilities_with_bed_counts_and_the_quota_in_force(home):
    """API.md Facility; R-NQ-1: 100 beds at 0.78 → 22 self-care places."""
    add_beds(home, nursing=78, holder="nursing")
    add_beds(home, general=20, holder="self_care")
    add_beds(home, general=2, status="vacant")
    FacilityFactory(code="GZC01", level="city")

    for role in ("intake", "assessor", "reviewer", "admin"):
        response = client_as(role).get(url("facilities/"))
        assert response.status_code == 200
        body = response.json()
        assert {"next", "previous", "results"} <= set(body)
        assert [row["code"] for row in body["results"]] == ["GZC01", "YX01"]
    row = body["results"][1]
    assert row == {
        "code": "YX01",
        "name": "越秀区老人院",
        "name_en": "",
        "district": "yuexiu",
        "level": "district",
        "address": "1 Example Road",
        "address_en": "",
        "phone": "",
        "accepting_applications": True,
        "nursing_target": 0.78,
        "own_nursing_target": None,
        "beds": {
            "total": 100,
            "in_service": 100,
            "nursing": 78,
            "general": 22,
            "vacant": 2,
            "reserved": 0,
            "occupied": 98,
            "out_of_service": 0,
        },
        "quota": {"self_care_cap": 22, "self_care_held": 20, "headroom": 2, "nursing_share": round(78 / 98, 4)},
    }


def test_a_facility_officer_lists_every_home_as_api_md_gives_the_list_to_any_staff(officer, other_officer):
    response = officer.get(url("facilities/"))
    assert response.status_code == 200
    assert {row["code"] for row in response.json()["results"]} == {"YX01", "HZ01"}


def test_the_facility_list_filters_by_district_and_level(admin, home):
    FacilityFactory(code="GZC01", level="city", district=district("tianhe"))
    assert [r["code"] for r in admin.get(url("facilities/?district=tianhe")).json()["results"]] == ["GZC01"]
    assert [r["code"] for r in admin.get(url("facilities/?level=district")).json()["results"]] == ["YX01"]
    assert_problem(admin.get(url("facilities/?level=county")), 400, "level")


def test_listing_facilities_needs_credentials():
    assert_problem(APIClient().get(url("facilities/")), 401)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    assert_problem(bad.get(url("facilities/")), 401)


def test_a_token_of_a_staff_user_is_accepted(home):
    user = User.objects.create_user("sys-reviewer")
    roles_assign(user=user, roles=["reviewer"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get(url("facilities/YX01/")).json()["code"] == "YX01"


def test_an_admin_creates_a_facility_and_the_act_is_audited_under_their_name(admin):
    response = admin.post(
        url("facilities/"),
        {"code": "GZC09", "name": "广州市第九老人院", "district": "tianhe", "level": "city", "address": "天河路 1 号"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "GZC09" and body["accepting_applications"] is True
    assert body["nursing_target"] == 0.78 and body["own_nursing_target"] is None
    assert body["quota"] == {"self_care_cap": 0, "self_care_held": 0, "headroom": 0, "nursing_share": None}
    assert body["beds"]["total"] == 0
    audit = AuditEntry.objects.get(action="facility_create", object_key="GZC09")
    assert audit.user == admin.user and audit.actor_name == admin.user.username


def test_a_facility_s_english_name_and_address_are_set_changed_and_read(admin):
    """Issue 15: what English pages show (Facility.name_en, address_en), through the API as well:
    written on create and PATCH, read back, blank allowed, too long refused naming the field."""
    body = {
        "code": "GZC09",
        "name": "广州市第九老人院",
        "district": "tianhe",
        "level": "city",
        "address": "天河路 1 号",
    }
    body.update(name_en="Guangzhou No. 9 Home for the Aged", address_en="1 Tianhe Road")
    response = admin.post(url("facilities/"), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["name_en"] == "Guangzhou No. 9 Home for the Aged"
    assert response.json()["address_en"] == "1 Tianhe Road"
    response = admin.patch(url("facilities/GZC09/"), {"address_en": "9 Tianhe Road"}, format="json")
    assert response.status_code == 200 and response.json()["address_en"] == "9 Tianhe Road"
    facility = Facility.objects.get(code="GZC09")
    assert (facility.name_en, facility.address_en) == ("Guangzhou No. 9 Home for the Aged", "9 Tianhe Road")
    assert admin.get(url("facilities/GZC09/")).json()["name_en"] == "Guangzhou No. 9 Home for the Aged"
    assert admin.patch(url("facilities/GZC09/"), {"name_en": ""}, format="json").json()["name_en"] == ""
    assert_problem(admin.patch(url("facilities/GZC09/"), {"name_en": "x" * 121}, format="json"), 400, "name_en")
    audit = AuditEntry.objects.filter(action="facility_update", object_key="GZC09").order_by("id").first()
    assert audit.changes["after"] == {"address_en": "9 Tianhe Road"}


def test_a_facility_created_with_its_own_target_shows_it_in_force(admin):
    """R-NQ-1: a facility may carry its own target, set by an administrator."""
    response = admin.post(
        url("facilities/"),
        {"code": "SMALL-1", "name": "Small", "district": "yuexiu", "level": "district", "nursing_target": 0.5},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["nursing_target"] == 0.5 and response.json()["own_nursing_target"] == 0.5


@pytest.mark.parametrize("role", ["intake", "assessor", "reviewer"])
def test_creating_a_facility_is_for_administrators_only(role):
    body = {"code": "GZC09", "name": "x", "district": "tianhe", "level": "city"}
    assert_problem(client_as(role).post(url("facilities/"), body, format="json"), 403)
    assert not Facility.objects.filter(code="GZC09").exists()


def test_a_facility_officer_cannot_create_a_facility(officer):
    body = {"code": "GZC09", "name": "x", "district": "tianhe", "level": "city"}
    assert_problem(officer.post(url("facilities/"), body, format="json"), 403)


NEW_HOME = {"code": "GZC09", "name": "x", "district": "tianhe", "level": "city"}
LEFT_OUT = object()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "gzc09"}, "code"),
        ({"code": "G"}, "code"),
        ({"name": LEFT_OUT}, "name"),
        ({"name": "x" * 10_000}, "name"),
        ({"district": "atlantis"}, "district"),
        ({"level": "county"}, "level"),
        ({"nursing_target": 1.5}, "nursing_target"),
        ({"nursing_target": 1e308}, "nursing_target"),
        ({"nursing_target": "lots"}, "nursing_target"),
        ({"accepting_applications": "maybe"}, "accepting_applications"),
        ({"code": 12, "name": ["x"], "district": {}, "level": None}, "name"),
        ({"name": 12}, "name"),
        ({"nursing_target": "0.5"}, "nursing_target"),
        ({"accepting_applications": 1}, "accepting_applications"),
    ],
)
def test_a_bad_facility_body_is_refused_naming_the_field_and_nothing_is_created(admin, change, field):
    body = {key: value for key, value in {**NEW_HOME, **change}.items() if value is not LEFT_OUT}
    assert_problem(admin.post(url("facilities/"), body, format="json"), 400, field)
    assert not Facility.objects.exists()


@pytest.mark.parametrize("body", [[], None, "x", 12, [{"code": "GZC09"}]])
def test_a_body_that_is_not_an_object_is_a_400_not_a_500(admin, home, body):
    raw = json.dumps(body)
    assert_problem(admin.post(url("facilities/"), raw, content_type="application/json"), 400)
    assert_problem(admin.patch(url("facilities/YX01/"), raw, content_type="application/json"), 400)
    assert_problem(admin.post(url("facilities/YX01/beds/batch/"), raw, content_type="application/json"), 400)


def test_a_body_that_is_not_json_is_a_400_and_a_form_is_a_415(admin):
    """API.md: JSON in and out."""
    assert_problem(admin.post(url("facilities/"), "{not json", content_type="application/json"), 400)
    form = "code=GZC09&name=x&district=tianhe&level=city"
    assert_problem(admin.post(url("facilities/"), form, content_type="application/x-www-form-urlencoded"), 415)
    assert not Facility.objects.exists()


def test_a_duplicate_facility_code_conflicts(admin, home):
    body = {"code": "YX01", "name": "x", "district": "yuexiu", "level": "district"}
    assert_problem(admin.post(url("facilities/"), body, format="json"), 409)


def test_one_facility_is_read_by_its_code_and_an_unknown_code_is_404(home):
    reviewer = client_as("reviewer")
    assert reviewer.get(url("facilities/YX01/")).json()["name"] == "越秀区老人院"
    assert_problem(reviewer.get(url("facilities/NOPE/")), 404)


def test_an_administrator_sets_a_facility_target_and_the_quota_follows(admin, home):
    """R-NQ-1: 4 beds at 0.78 give no self-care place ("blocked by the quota"); an own target of 0.5 gives 2;
    null returns to the policy's value."""
    add_beds(home, nursing=4)
    assert admin.get(url("facilities/YX01/")).json()["quota"]["self_care_cap"] == 0

    response = admin.patch(url("facilities/YX01/"), {"nursing_target": 0.5}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["nursing_target"] == 0.5 and response.json()["quota"]["self_care_cap"] == 2
    assert AuditEntry.objects.filter(action="facility_update", object_key="YX01", user=admin.user).exists()

    response = admin.patch(url("facilities/YX01/"), {"nursing_target": None}, format="json")
    assert response.json()["nursing_target"] == 0.78 and response.json()["own_nursing_target"] is None
    assert response.json()["quota"]["self_care_cap"] == 0


def test_a_patch_changes_only_the_fields_it_names(admin, home):
    response = admin.patch(url("facilities/YX01/"), {"accepting_applications": False}, format="json")
    assert response.json()["accepting_applications"] is False and response.json()["name"] == "越秀区老人院"


def test_a_bad_patch_is_refused_and_changes_nothing(admin, home):
    assert_problem(admin.patch(url("facilities/YX01/"), {"nursing_target": -0.1}, format="json"), 400, "nursing_target")
    assert_problem(admin.patch(url("facilities/YX01/"), {"district": "atlantis"}, format="json"), 400, "district")
    assert_problem(admin.patch(url("facilities/NOPE/"), {"name": "x"}, format="json"), 404)
    home.refresh_from_db()
    assert home.nursing_target is None and home.district.code == "yuexiu"


def test_only_an_administrator_patches_a_facility(officer, home):
    assert_problem(officer.patch(url("facilities/YX01/"), {"nursing_target": 0.5}, format="json"), 403)
    assert_problem(client_as("reviewer").patch(url("facilities/YX01/"), {"name": "x"}, format="json"), 403)
    home.refresh_from_db()
    assert home.nursing_target is None


def test_methods_the_api_does_not_offer_are_405(admin, home):
    assert_problem(admin.delete(url("facilities/YX01/")), 405)
    assert_problem(admin.put(url("facilities/YX01/"), {}, format="json"), 405)
    assert_problem(admin.get(url("facilities/YX01/allocate/")), 405)
    assert_problem(admin.delete(url("facilities/YX01/queue/")), 405)


# --- beds -------------------------------------------------------------------------------------------
def test_a_facility_officer_lists_their_beds_with_the_occupying_application(officer, home):
    application, bed = admitted(home)
    add_beds(home, general=1, status="vacant")
    response = officer.get(url("facilities/YX01/beds/"))
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["results"]}
    assert rows[bed.code] == {
        "id": bed.pk,
        "facility": "YX01",
        "code": bed.code,
        "bed_type": "nursing",
        "status": "occupied",
        "occupant": application.reference,
    }
    assert rows["B0002"]["status"] == "vacant" and rows["B0002"]["occupant"] is None


def test_a_reserved_bed_and_an_occupant_recorded_before_the_system_have_no_occupant_reference(officer, home):
    add_beds(home, nursing=1, status="occupied")  # a resident with no application
    add_beds(home, nursing=1, status="vacant")
    queued_application(grade=3, choices=["YX01"])  # offered the vacant bed at once
    rows = officer.get(url("facilities/YX01/beds/")).json()["results"]
    assert [(row["status"], row["occupant"]) for row in rows] == [("occupied", None), ("reserved", None)]


def test_beds_filter_by_status_and_type(officer, home):
    add_beds(home, nursing=2, general=1, status="vacant")
    rows = officer.get(url("facilities/YX01/beds/?bed_type=nursing&status=vacant")).json()["results"]
    assert len(rows) == 2 and {row["bed_type"] for row in rows} == {"nursing"}


def test_beds_are_for_that_facility_s_officers_and_administrators(home, other_officer, admin):
    """API.md: staff of that facility, admin; SPEC §10: a facility officer sees their own home only."""
    add_beds(home, nursing=1)
    assert admin.get(url("facilities/YX01/beds/")).status_code == 200
    assert_problem(other_officer.get(url("facilities/YX01/beds/")), 403)
    assert_problem(client_as("reviewer").get(url("facilities/YX01/beds/")), 403)
    assert_problem(APIClient().get(url("facilities/YX01/beds/")), 401)
    assert_problem(admin.get(url("facilities/NOPE/beds/")), 404)


def test_a_facility_officer_with_no_home_is_refused():
    user = User.objects.create_user("loose")
    roles_assign(user=user, roles=["facility"], facility=FacilityFactory(code="YX01"))
    user.staff_profile.facility = None
    user.staff_profile.save()
    client = APIClient()
    client.force_authenticate(user)
    assert_problem(client.get(url("facilities/YX01/beds/")), 403)


def test_a_new_bed_is_vacant_and_goes_to_the_queue_at_once(officer, home):
    """R-ALLOC-3: a new bed starts an allocation."""
    application = queued_application(grade=3, choices=["YX01"])
    response = officer.post(url("facilities/YX01/beds/"), {"code": "N-1", "bed_type": "nursing"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "N-1" and body["facility"] == "YX01" and body["status"] == "reserved"
    assert body["occupant"] is None
    assert Offer.objects.get(application=application).bed_id == body["id"]


def test_a_new_bed_with_no_candidate_stays_vacant(admin, home):
    response = admin.post(url("facilities/YX01/beds/"), {"code": "G-1", "bed_type": "general"}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "vacant"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "N-1", "bed_type": "luxury"}, "bed_type"),
        ({"bed_type": "nursing"}, "code"),
        ({"code": "   ", "bed_type": "nursing"}, "code"),
        ({"code": "x" * 10_000, "bed_type": "nursing"}, "code"),
        ({"code": None, "bed_type": None}, "bed_type"),
        ({"code": 7, "bed_type": "nursing"}, "code"),
    ],
)
def test_a_bad_bed_is_refused_naming_the_field(officer, home, body, field):
    assert_problem(officer.post(url("facilities/YX01/beds/"), body, format="json"), 400, field)
    assert not Bed.objects.exists()


def test_a_bed_code_used_twice_in_one_home_conflicts(officer, home):
    officer.post(url("facilities/YX01/beds/"), {"code": "N-1", "bed_type": "nursing"}, format="json")
    assert_problem(
        officer.post(url("facilities/YX01/beds/"), {"code": "N-1", "bed_type": "general"}, format="json"), 409
    )
    assert Bed.objects.count() == 1


def test_a_facility_officer_adds_beds_only_to_their_own_home(other_officer, home):
    response = other_officer.post(url("facilities/YX01/beds/"), {"code": "N-1", "bed_type": "nursing"}, format="json")
    assert_problem(response, 403)
    assert_problem(client_as("reviewer").post(url("facilities/YX01/beds/"), {}, format="json"), 403)
    assert not Bed.objects.exists()


def test_beds_are_added_in_a_batch_coded_from_the_prefix(officer, home):
    response = officer.post(
        url("facilities/YX01/beds/batch/"), {"bed_type": "general", "count": 3, "prefix": "G"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert [(row["code"], row["bed_type"], row["status"]) for row in response.json()] == [
        ("G-001", "general", "vacant"),
        ("G-002", "general", "vacant"),
        ("G-003", "general", "vacant"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bed_type": "general", "count": 0, "prefix": "G"}, "count"),
        ({"bed_type": "general", "count": 10**20, "prefix": "G"}, "count"),
        ({"bed_type": "general", "count": "many", "prefix": "G"}, "count"),
        ({"bed_type": "general", "count": "2", "prefix": "G"}, "count"),
        ({"bed_type": "general", "count": 2.5, "prefix": "G"}, "count"),
        ({"bed_type": "general", "count": 2, "prefix": "G" * 31}, "prefix"),
        ({"bed_type": "general", "count": 2}, "prefix"),
        ({"bed_type": "tent", "count": 2, "prefix": "G"}, "bed_type"),
    ],
)
def test_a_bad_batch_is_refused_and_adds_nothing(officer, home, body, field):
    assert_problem(officer.post(url("facilities/YX01/beds/batch/"), body, format="json"), 400, field)
    assert not Bed.objects.exists()


def test_a_batch_that_reuses_a_code_adds_nothing(officer, home):
    officer.post(url("facilities/YX01/beds/"), {"code": "G-002", "bed_type": "general"}, format="json")
    body = {"bed_type": "general", "count": 3, "prefix": "G"}
    assert_problem(officer.post(url("facilities/YX01/beds/batch/"), body, format="json"), 409)
    assert Bed.objects.count() == 1


def test_a_batch_is_for_that_home_s_officers(other_officer, home):
    body = {"bed_type": "general", "count": 3, "prefix": "G"}
    assert_problem(other_officer.post(url("facilities/YX01/beds/batch/"), body, format="json"), 403)


def test_a_discharge_frees_the_bed_and_answers_with_the_allocation_it_started(officer, home):
    """R-BED-2, STORIES 4: a resident dies; the nursing bed goes to the first nursing-level applicant and
    the self-care one above is skipped (reserved_for_nursing)."""
    resident, bed = admitted(home)
    self_care = queued_application(
        grade=1, choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "cert"}]
    )
    nursing = queued_application(grade=2, choices=["YX01"])

    response = officer.post(url(f"beds/{bed.pk}/discharge/"), {"reason": "deceased"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["bed"] == {
        "id": bed.pk,
        "facility": "YX01",
        "code": bed.code,
        "bed_type": "nursing",
        "status": "reserved",
        "occupant": None,
    }
    decision = body["decision"]
    assert decision["bed"] == bed.pk and decision["bed_code"] == bed.code and decision["facility"] == "YX01"
    assert decision["chosen"]["reference"] == nursing.reference
    assert [(row["reference"], row["rank"], row["reason"]) for row in decision["skipped"]] == [
        (self_care.reference, 1, "reserved_for_nursing")
    ]
    assert decision["quota_before"] == decision["quota_after"]  # the bed went to nursing care
    assert resident.occupancy.discharge_reason == "deceased"


def test_a_discharge_takes_a_date_that_is_neither_in_the_future_nor_malformed(officer, home):
    _resident, bed = admitted(home)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    for date in (tomorrow, "2026-02-30", "yesterday", 20260101):
        response = officer.post(url(f"beds/{bed.pk}/discharge/"), {"reason": "discharged", "date": date}, format="json")
        assert_problem(response, 400, "date")
    assert Bed.objects.get(pk=bed.pk).status == "occupied"


def test_a_discharge_needs_a_known_reason(officer, home):
    _resident, bed = admitted(home)
    assert_problem(officer.post(url(f"beds/{bed.pk}/discharge/"), {"reason": "bored"}, format="json"), 400, "reason")
    assert_problem(officer.post(url(f"beds/{bed.pk}/discharge/"), {}, format="json"), 400, "reason")


def test_only_an_occupied_bed_is_discharged(officer, home):
    (bed,) = add_beds(home, general=1, status="vacant")
    body = assert_problem(officer.post(url(f"beds/{bed.pk}/discharge/"), {"reason": "discharged"}, format="json"), 409)
    assert body["bed_status"] == "vacant"
    assert_problem(officer.post(url("beds/999999/discharge/"), {"reason": "discharged"}, format="json"), 404)


def test_a_discharge_at_another_home_is_refused(other_officer, home):
    (bed,) = add_beds(home, nursing=1)
    assert_problem(other_officer.post(url(f"beds/{bed.pk}/discharge/"), {"reason": "deceased"}, format="json"), 403)
    assert_problem(
        client_as("intake").post(url(f"beds/{bed.pk}/discharge/"), {"reason": "deceased"}, format="json"), 403
    )
    assert Bed.objects.get(pk=bed.pk).status == "occupied"


def test_a_vacant_bed_goes_out_of_service_and_comes_back_to_the_queue(officer, home):
    """R-NQ-1: out of service lowers the cap; R-ALLOC-3: a return to service allocates."""
    add_beds(home, nursing=9)
    (bed,) = add_beds(home, nursing=1, status="vacant")
    response = officer.post(url(f"beds/{bed.pk}/out-of-service/"), {"reason": "repairs"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "out_of_service"
    assert Bed.objects.get(pk=bed.pk).out_of_service_reason == "repairs"
    assert officer.get(url("facilities/YX01/")).json()["beds"]["in_service"] == 9

    assert_problem(officer.post(url(f"beds/{bed.pk}/out-of-service/"), {}, format="json"), 409)

    application = queued_application(grade=3, choices=["YX01"])
    response = officer.post(url(f"beds/{bed.pk}/return-to-service/"), {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "reserved"
    assert Offer.objects.get(application=application).bed_id == bed.pk
    assert_problem(officer.post(url(f"beds/{bed.pk}/return-to-service/"), {}, format="json"), 409)


def test_an_occupied_bed_cannot_go_out_of_service(officer, home):
    (bed,) = add_beds(home, nursing=1)
    body = assert_problem(officer.post(url(f"beds/{bed.pk}/out-of-service/"), {}, format="json"), 409)
    assert body["bed_status"] == "occupied"


def test_bed_service_changes_are_for_that_home_s_officers(other_officer, home):
    (bed,) = add_beds(home, nursing=1, status="vacant")
    assert_problem(other_officer.post(url(f"beds/{bed.pk}/out-of-service/"), {}, format="json"), 403)
    assert_problem(client_as("reviewer").post(url(f"beds/{bed.pk}/return-to-service/"), {}, format="json"), 403)
    assert_problem(
        other_officer.post(url(f"beds/{bed.pk}/out-of-service/"), {"reason": "x" * 10_000}, format="json"), 403
    )
    admin = client_as("admin")
    assert_problem(
        admin.post(url(f"beds/{bed.pk}/out-of-service/"), {"reason": "x" * 10_000}, format="json"), 400, "reason"
    )
    assert Bed.objects.get(pk=bed.pk).status == "vacant"


def test_an_idempotency_key_replays_the_first_answer_and_adds_no_second_bed(officer, home):
    """API.md: the same key with the same body replays the first response."""
    body = {"code": "N-1", "bed_type": "nursing"}
    first = officer.post(url("facilities/YX01/beds/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = officer.post(url("facilities/YX01/beds/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Bed.objects.count() == 1
    other = {"code": "N-2", "bed_type": "nursing"}
    assert_problem(officer.post(url("facilities/YX01/beds/"), other, format="json", HTTP_IDEMPOTENCY_KEY="k1"), 422)


# --- allocation and decisions ---------------------------------------------------------------------
def test_a_staff_request_allocates_every_vacant_bed_and_answers_with_the_decisions(officer, home):
    """R-ALLOC-3 (a staff member's request), R-ALLOC-2 (one decision per bed)."""
    add_beds(home, nursing=2, status="vacant")
    response = officer.post(url("facilities/YX01/allocate/"), format="json")
    assert response.status_code == 200
    decisions = response.json()["decisions"]
    assert len(decisions) == 2 and all(d["chosen"] is None and d["skipped"] == [] for d in decisions)
    assert decisions[0]["previous_hash"] is None and decisions[1]["previous_hash"] == decisions[0]["hash"]
    assert decisions[0]["policy_version"] == AllocationDecision.objects.get(pk=decisions[0]["id"]).policy_version
    assert officer.post(url("facilities/YX01/allocate/"), {"ignored": True}, format="json").status_code == 200


def test_allocating_is_for_that_home_s_officers_and_administrators(other_officer, home):
    add_beds(home, nursing=1, status="vacant")
    assert_problem(other_officer.post(url("facilities/YX01/allocate/")), 403)
    assert_problem(client_as("reviewer").post(url("facilities/YX01/allocate/")), 403)
    assert_problem(client_as("admin").post(url("facilities/NOPE/allocate/")), 404)
    assert not AllocationDecision.objects.exists()
    assert client_as("admin").post(url("facilities/YX01/allocate/")).status_code == 200


def test_decisions_are_listed_newest_first_in_cursor_pages(officer, home):
    """R-ALLOC-2; API.md: cursor pagination for decisions."""
    add_beds(home, nursing=5, status="vacant")
    officer.post(url("facilities/YX01/allocate/"))
    ids = list(AllocationDecision.objects.filter(facility=home).order_by("-id").values_list("id", flat=True))
    seen, link = [], url("facilities/YX01/decisions/?page_size=2")
    while link:
        page = officer.get(link).json()
        seen += [row["id"] for row in page["results"]]
        link = page["next"]
    assert seen == ids
    row = officer.get(url("facilities/YX01/decisions/")).json()["results"][-1]
    assert set(row) >= {
        "id", "facility", "bed", "bed_code", "made_at", "policy_version", "chosen", "skipped",
        "quota_before", "quota_after", "hash", "previous_hash",
    }  # fmt: skip
    assert row["previous_hash"] is None and row["made_at"].endswith("+08:00")


def test_decisions_are_for_the_home_s_officers_reviewers_and_administrators(other_officer, home):
    assert client_as("reviewer").get(url("facilities/YX01/decisions/")).status_code == 200
    assert_problem(other_officer.get(url("facilities/YX01/decisions/")), 403)
    assert_problem(client_as("intake").get(url("facilities/YX01/decisions/")), 403)
    assert_problem(client_as("admin").get(url("facilities/NOPE/decisions/")), 404)


# --- the queue --------------------------------------------------------------------------------------
@pytest.fixture
def queue(home):
    """Five applicants at a full home: special nursing, then ordinary ones by score (R-Q-2)."""
    add_beds(home, nursing=1)
    with time_machine.travel(timezone.now() - dt.timedelta(days=65)):
        special = queued_application(
            grade=2, choices=["YX01"], verify=("dibao",), categories=[{"code": "dibao", "evidence": "cert"}]
        )
        high = queued_application(grade=4, choices=["YX01"])
    self_care = queued_application(grade=1, choices=["YX01"])
    middle = queued_application(grade=3, choices=["YX01"])
    low = queued_application(grade=0, choices=["YX01"])
    return [special, high, middle, self_care, low]


def test_the_queue_lists_open_entries_in_order_with_positions_and_scores(officer, queue):
    """R-Q-2 order, R-Q-3 score with its breakdown (waiting points included), R-Q-4 position."""
    response = officer.get(url("facilities/YX01/queue/"))
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    rows = body["results"]
    assert [row["reference"] for row in rows] == [a.reference for a in queue]
    assert [row["position"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["channel"] for row in rows] == ["special"] + ["ordinary"] * 4
    assert [row["care_level"] for row in rows] == ["nursing", "nursing", "nursing", "self_care", "self_care"]
    for row in rows:
        assert sum(row["score_breakdown"].values()) == row["score"]
        assert set(row) == {"position", "reference", "channel", "care_level", "score", "score_breakdown", "queued_at"}
    assert rows[1]["score_breakdown"] == {"care": 40, "age": 5, "family": 0, "waiting": 2}
    assert rows[1]["queued_at"].endswith("+08:00")


def test_queue_pages_follow_each_other_and_their_positions_run_on(officer, queue):
    """API.md: cursor pagination for queues; each page's positions are places in the whole queue."""
    seen, link = [], url("facilities/YX01/queue/?page_size=2")
    while link:
        page = officer.get(link).json()
        seen += [(row["position"], row["reference"]) for row in page["results"]]
        last, link = page, page["next"]
    assert seen == [(i, a.reference) for i, a in enumerate(queue, start=1)]
    back = officer.get(last["previous"]).json()
    assert [row["position"] for row in back["results"]] == [3, 4]
    assert officer.get(back["previous"]).json()["previous"] is None


def test_a_walk_through_the_pages_ranks_the_queue_as_it_stood_at_the_first_page(officer, queue):
    """R-Q-3 scores rise with waiting time; a cursor keeps the moment of its first page, so a later page
    neither repeats nor misses an entry whose score ticked in between."""
    first = officer.get(url("facilities/YX01/queue/?page_size=3")).json()
    with time_machine.travel(timezone.now() + dt.timedelta(days=40)):
        second = officer.get(first["next"]).json()
        fresh = officer.get(url("facilities/YX01/queue/")).json()
    assert [row["score_breakdown"]["waiting"] for row in second["results"]] == [0, 0]
    assert [row["score_breakdown"]["waiting"] for row in fresh["results"][3:]] == [1, 1]
    assert [row["position"] for row in second["results"]] == [4, 5]


def test_a_queue_filtered_by_care_level_keeps_each_entry_s_place_in_the_whole_queue(officer, queue):
    """R-Q-4: position counts every open entry ahead, whatever its care level."""
    rows = officer.get(url("facilities/YX01/queue/?care_level=self_care")).json()["results"]
    assert [(row["position"], row["reference"]) for row in rows] == [(4, queue[3].reference), (5, queue[4].reference)]
    first = officer.get(url("facilities/YX01/queue/?care_level=nursing&page_size=2")).json()
    second = officer.get(first["next"]).json()
    assert [row["position"] for row in first["results"] + second["results"]] == [1, 2, 3]
    assert second["next"] is None


def test_a_queue_page_is_counted_in_the_database_not_sorted_in_python(officer, queue, django_assert_max_num_queries):
    """R-Q-4: one COUNT for the page's first position, whatever the page size."""
    with django_assert_max_num_queries(12):
        assert len(officer.get(url("facilities/YX01/queue/?page_size=500")).json()["results"]) == 5


def test_a_bad_queue_query_is_refused_naming_the_parameter(officer, queue):
    assert_problem(officer.get(url("facilities/YX01/queue/?care_level=luxury")), 400, "care_level")
    assert_problem(officer.get(url("facilities/YX01/queue/?page_size=0")), 400, "page_size")
    assert_problem(officer.get(url("facilities/YX01/queue/?care_level=")), 400, "care_level")
    assert_problem(officer.get(url("facilities/YX01/queue/?page_size=99999999999999999999")), 400, "page_size")
    assert_problem(officer.get(url("facilities/YX01/queue/?cursor=made-up")), 404, "cursor")
    assert_problem(officer.get(url("facilities/YX01/queue/?cursor=")), 404, "cursor")
    assert_problem(officer.get(url("facilities/YX01/queue/?cursor=%00")), 400, "cursor")  # a NUL: R-SEC-1
    link = officer.get(url("facilities/YX01/queue/?page_size=2")).json()["next"]
    assert_problem(officer.get(link.replace("cursor=", "cursor=x")), 404, "cursor")  # a tampered cursor


def test_the_queue_is_for_reviewers_the_home_s_officers_and_administrators(officer, other_officer, queue):
    """API.md; SPEC §10: a facility officer sees their own home's queue only."""
    assert client_as("reviewer").get(url("facilities/YX01/queue/")).status_code == 200
    assert client_as("admin").get(url("facilities/YX01/queue/")).status_code == 200
    assert_problem(other_officer.get(url("facilities/YX01/queue/")), 403)
    assert_problem(client_as("intake").get(url("facilities/YX01/queue/")), 403)
    assert_problem(client_as("assessor").get(url("facilities/YX01/queue/")), 403)
    assert_problem(APIClient().get(url("facilities/YX01/queue/")), 401)
    assert_problem(officer.get(url("facilities/NOPE/queue/")), 404)


def test_an_empty_queue_is_an_empty_page(officer, home):
    assert officer.get(url("facilities/YX01/queue/")).json() == {"next": None, "previous": None, "results": []}


# --- STORIES 7 through HTTP -----------------------------------------------------------------------
def quota_home_with_two_vacant_general_beds():
    """STORIES 7: a 100-bed home, 22 self-care places, 21 taken; two general beds fall vacant while two
    self-care applicants wait (beds written straight into the table, so nobody has allocated yet)."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=77, holder="nursing")
    add_beds(home, general=21, holder="self_care")
    applicants = [queued_application(grade=0, choices=["YX01"], name=f"自理{i}") for i in range(2)]
    add_beds(home, general=2, status="vacant")
    assert facility_quota(home).headroom == 1
    return home, applicants


def assert_the_quota_held(home, applicants, first_client):
    """One general bed went to a self-care applicant; the other stays vacant with nursing_quota_full."""
    facility = first_client.get(url("facilities/YX01/")).json()
    assert facility["quota"] == {"self_care_cap": 22, "self_care_held": 22, "headroom": 0, "nursing_share": 0.7778}
    assert facility["beds"]["vacant"] == 1 and facility["beds"]["reserved"] == 1
    offers = Offer.objects.filter(facility=home)
    assert offers.count() == 1 and offers.get().application_id in {a.pk for a in applicants}
    vacant = Bed.objects.get(facility=home, status="vacant")
    decisions = first_client.get(url("facilities/YX01/decisions/")).json()["results"]
    latest_for_vacant = next(d for d in decisions if d["bed"] == vacant.pk)
    offered, waiting = sorted(applicants, key=lambda a: a.pk != offers.get().application_id)
    assert latest_for_vacant["chosen"] is None
    assert {row["reference"]: row["reason"] for row in latest_for_vacant["skipped"]} == {
        offered.reference: "offer_pending",  # R-OFF-3: it holds the other bed's offer
        waiting.reference: "nursing_quota_full",
    }
    assert latest_for_vacant["quota_before"] == {"self_care_cap": 22, "self_care_held": 22}
    assert all(d["quota_after"]["self_care_held"] <= 22 for d in decisions)


def test_story_7_two_officers_allocating_never_pass_the_self_care_cap():
    """STORIES 7, R-NQ-1: both officers press "allocate vacant beds now"; one bed goes to a self-care
    applicant, the other stays vacant and its decision records nursing_quota_full."""
    home, applicants = quota_home_with_two_vacant_general_beds()
    first = client_as("facility", facility=home, username="officer-a")
    second = client_as("facility", facility=home, username="officer-b")

    answers = [first.post(url("facilities/YX01/allocate/")), second.post(url("facilities/YX01/allocate/"))]

    assert [a.status_code for a in answers] == [200, 200]
    assert len(answers[0].json()["decisions"]) == 2  # both vacant beds, in one run under the home's lock
    (second_decision,) = answers[1].json()["decisions"]
    assert second_decision["chosen"] is None
    assert_the_quota_held(home, applicants, first)
    retry = first.post(url("facilities/YX01/allocate/"))  # a refresh or a retry changes nothing
    assert retry.json()["decisions"][0]["chosen"] is None
    assert facility_quota(home).self_care_held == 22


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serialises all writers")
def test_story_7_two_officers_allocating_in_the_same_instant_never_pass_the_self_care_cap():
    """STORIES 7, R-NQ-3: the two requests race; exactly one self-care offer is made."""
    home, applicants = quota_home_with_two_vacant_general_beds()
    clients = [client_as("facility", facility=home, username=f"officer-{i}") for i in range(2)]
    barrier, answers = threading.Barrier(2), [None, None]

    def press(i):
        try:
            barrier.wait()
            answers[i] = clients[i].post(url("facilities/YX01/allocate/"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [a.status_code for a in answers] == [200, 200]
    assert_the_quota_held(home, applicants, clients[0])


def test_a_decision_says_when_an_empty_attempt_last_confirmed_it_r_alloc_2(officer, home):
    """API.md: a Decision gains last_confirmed_at (R-ALLOC-2 amended): null until a later attempt
    finds nobody for the same reasons, then the time of the latest such attempt; no new decision."""
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        first = officer.post(url("facilities/YX01/allocate/")).json()["decisions"]
    assert [d["last_confirmed_at"] for d in first] == [None]
    with time_machine.travel(dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        again = officer.post(url("facilities/YX01/allocate/")).json()["decisions"]
    assert [d["id"] for d in again] == [d["id"] for d in first]
    assert again[0]["last_confirmed_at"] == "2026-11-03T17:00:00+08:00"
    (listed,) = officer.get(url("facilities/YX01/decisions/")).json()["results"]
    assert listed["last_confirmed_at"] == "2026-11-03T17:00:00+08:00"


def test_a_home_holds_at_most_five_thousand_beds(officer, home):
    """A batch sent twice or a zero too many is refused, in words naming the count, and adds nothing;
    up to the bound it is added (5,000 beds: three times the largest home the city runs)."""
    Bed.objects.bulk_create(
        Bed(facility=home, code=f"X-{i}", bed_type="nursing", status="out_of_service") for i in range(4998)
    )
    body = {"bed_type": "general", "count": 3, "prefix": "G"}
    response = officer.post(url("facilities/YX01/beds/batch/"), body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert_problem(response, 422, "count")
    assert response.json()["errors"]["count"] == ["at most 2 more beds can be added here"]
    one = officer.post(url("facilities/YX01/beds/"), {"code": "Y-1", "bed_type": "general"}, format="json")
    assert one.status_code == 201
    assert Bed.objects.filter(facility=home).count() == 4999
    body["count"] = 1
    assert officer.post(url("facilities/YX01/beds/batch/"), body, format="json").status_code == 201
    refused = officer.post(url("facilities/YX01/beds/"), {"code": "Y-2", "bed_type": "general"}, format="json")
    assert_problem(refused, 422, "code")
    assert Bed.objects.filter(facility=home).count() == 5000
