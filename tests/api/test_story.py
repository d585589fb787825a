"""The whole story through HTTP only (issue 3; STORIES 1–5): homes and beds → application →
assessment → approval → discharge → offer → accept → admit → events. Every step by the role that
does it, with tokens from `issue_token`, as another system would."""

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.factories import id_number, items_with_total

pytestmark = pytest.mark.django_db


def client_for(username: str, *roles: str, facility: str | None = None) -> APIClient:
    out = io.StringIO()
    args = [username, *[f"--role={role}" for role in roles]]
    if facility:
        args.append(f"--facility={facility}")
    call_command("issue_token", *args, stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content.decode()[:500])
    return response.json()


def test_mrs_chen_from_application_to_admission_through_the_api():
    admin = client_for("bureau", "admin")
    ok(
        admin.post(
            "/api/v1/facilities/",
            {
                "code": "GZC01",
                "name": "广州市老人院",
                "district": "baiyun",
                "level": "city",
                "address": "白云区同和街 83 号",
            },
            format="json",
        ),
        201,
    )
    ok(
        admin.post(
            "/api/v1/facilities/",
            {
                "code": "YX01",
                "name": "越秀区老人院",
                "district": "yuexiu",
                "level": "district",
                "address": "越秀区 1 号",
            },
            format="json",
        ),
        201,
    )
    home = client_for("yx-officer", "facility", facility="YX01")
    beds = ok(
        home.post(
            "/api/v1/facilities/YX01/beds/batch/", {"bed_type": "nursing", "count": 4, "prefix": "N"}, format="json"
        ),
        201,
    )
    assert len(beds) == 4  # vacant, allocated at once to an empty queue (R-ALLOC-3)

    intake = client_for("yx-intake", "intake")
    body = {
        "applicant": {
            "name": "陈秀英",
            "id_number": id_number(__import__("datetime").date(1941, 3, 2), sex="F"),
            "date_of_birth": "1941-03-02",
            "sex": "F",
            "phone": "13800000000",
            "hukou_district": "yuexiu",
            "residence_district": "yuexiu",
            "address": "越秀区某街 1 号",
            "lives_alone": True,
            "no_spouse_no_children": False,
            "language": "zh-hans",
        },
        "contact": {"name": "女儿", "relation": "daughter", "phone": "13900000000"},
        "declarations": {"no_infectious_disease": True, "no_serious_mental_disorder": True},
        "categories": [{"code": "dibao", "evidence": "低保证 穗越民低字 001 号"}],
        "choices": ["GZC01", "YX01"],
        "submit": True,
    }
    created = ok(intake.post("/api/v1/applications/", body, format="json", HTTP_IDEMPOTENCY_KEY="hosp-1"), 201)
    reference = created["reference"]
    assert created["state"] == "submitted" and len(created["lookup_code"]) == 6
    # The network drops the answer; the hospital retries with the same key (STORIES 8).
    again = ok(intake.post("/api/v1/applications/", body, format="json", HTTP_IDEMPOTENCY_KEY="hosp-1"), 201)
    assert again["reference"] == reference
    ok(intake.post(f"/api/v1/applications/{reference}/accept-for-assessment/", {}, format="json"))

    assessor = client_for("assessor-1", "assessor")
    assessment = ok(
        assessor.post(
            f"/api/v1/applications/{reference}/assessments/",
            {
                "assessed_on": __import__("django.utils.timezone", fromlist=["x"]).localdate().isoformat(),
                "items": items_with_total(58),
                "coma": False,
                "complete": True,
            },
            format="json",
        ),
        201,
    )
    assert (assessment["total"], assessment["grade"], assessment["state"]) == (58, 2, "completed")

    reviewer = client_for("reviewer-1", "reviewer")
    forbidden = reviewer.post(f"/api/v1/assessments/{assessment['id']}/approve/", {}, format="json")
    assert forbidden.status_code == 200  # the reviewer is not the assessor (four eyes)
    early = assessor.post(f"/api/v1/assessments/{assessment['id']}/approve/", {}, format="json")
    assert early.status_code == 403
    approved = ok(
        reviewer.post(
            f"/api/v1/applications/{reference}/approve/",
            {"categories": [{"code": "dibao", "verified": True}]},
            format="json",
        )
    )
    assert approved["channel"] == "special"
    # Four vacant nursing beds at YX01: the approval allocated one straight away.
    assert approved["state"] == "offered"

    positions = ok(reviewer.get(f"/api/v1/applications/{reference}/positions/"))["results"]
    assert {p["facility"] for p in positions} == {"GZC01", "YX01"}
    city = next(p for p in positions if p["facility"] == "GZC01")
    assert city["score_breakdown"] == {"care": 20, "age": 5, "family": 3, "waiting": 0}  # STORIES 2: 28

    offers = ok(home.get("/api/v1/offers/", {"application": reference}))["results"]
    (offer,) = offers
    assert offer["facility"] == "YX01" and offer["state"] == "pending" and offer["admit_by"] is None
    decisions = ok(home.get("/api/v1/facilities/YX01/decisions/"))["results"]
    (chosen,) = [d for d in decisions if d["chosen"]]  # the other vacant beds found nobody else waiting
    assert chosen["chosen"]["reference"] == reference and chosen["id"] == offer["decision"]

    ok(home.post(f"/api/v1/offers/{offer['id']}/accept/", {}, format="json"))
    admitted = ok(home.post(f"/api/v1/offers/{offer['id']}/admit/", {}, format="json"))
    assert admitted["state"] == "admitted"
    application = ok(intake.get(f"/api/v1/applications/{reference}/"))
    assert application["state"] == "admitted"

    events = ok(intake.get(f"/api/v1/applications/{reference}/events/"))["results"]
    assert [e["transition"] for e in events if e["from_state"] != e["to_state"]] == [
        "create",
        "submit",
        "accept_for_assessment",
        "complete_assessment",
        "approve",
        "make_offer",
        "accept_offer",
        "admit",
    ]
    assert events[0]["transition"] == "create"
    make_offer = next(e for e in events if e["transition"] == "make_offer")
    assert make_offer["actor"]["kind"] == "system"

    feed = ok(admin.get("/api/v1/events/"))["results"]
    assert {e["application"] for e in feed} == {reference}

    # The resident leaves; the bed is discharged and allocated again (nobody waits: it stays vacant).
    bed_id = offer["bed"]
    discharged = ok(home.post(f"/api/v1/beds/{bed_id}/discharge/", {"reason": "deceased"}, format="json"))
    assert discharged["bed"]["status"] == "vacant" and discharged["decision"]["chosen"] is None
