"""The changes after approval through the API (API.md "Life while waiting", R-CHG-2)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from admissions.models import Application, ApplicationEvent, QueueEntry
from tests import spec
from tests.api.helpers import assert_problem, client_as, url
from tests.factories import FacilityFactory, add_beds, district, queued_application, submitted_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def homes():
    homes = {
        "YX01": FacilityFactory(code="YX01"),
        "YX02": FacilityFactory(code="YX02"),
        "CITY1": FacilityFactory(code="CITY1", level="city"),
        "CITY2": FacilityFactory(code="CITY2", level="city"),
        "TH01": FacilityFactory(code="TH01", district=district("tianhe")),
    }
    for home in homes.values():
        add_beds(home, nursing=2, general=2)
    return homes


@pytest.fixture
def intake():
    return client_as("intake")


@pytest.fixture
def reviewer():
    return client_as("reviewer")


def unchanged(application, version):
    application.refresh_from_db()
    return application.version == version


def post(client, application, tail, body, **headers):
    return client.post(url(f"applications/{application.reference}/{tail}"), body, format="json", **headers)


def test_intake_changes_the_contact_details_and_the_answer_is_the_application(homes, intake):
    """R-CHG-2: POST …/contact/ by intake."""
    application = queued_application(choices=["YX01"])
    response = post(
        intake,
        application,
        "contact/",
        {"applicant": {"phone": "13811112222", "email": "li@example.org"}, "contact": {"name": "儿子"}},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applicant"]["phone"] == "13811112222"
    assert body["applicant"]["email"] == "li@example.org"
    assert body["contact"]["name"] == "儿子"
    assert ApplicationEvent.objects.filter(application=application, transition="contact_changed").exists()


def test_a_facility_officer_may_not_change_contact_details(homes):
    """R-CHG-2: intake's act (API.md role column)."""
    application = queued_application(choices=["YX01"])
    response = post(client_as("facility", facility=homes["YX01"]), application, "contact/", {"contact": {"name": "x"}})
    assert response.status_code == 403


def test_a_family_situation_change_moves_positions_at_every_chosen_home(homes, intake):
    """R-CHG-2: rescored at once at every open entry; the answer carries the new positions."""
    with time_machine.travel(T0, tick=False):
        for _ in range(2):
            queued_application(grade=2, choices=["YX01", "CITY1"], lives_alone=True)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        mrs_li = queued_application(grade=2, choices=["YX01", "CITY1"])
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        before = intake.get(url(f"applications/{mrs_li.reference}/positions/")).json()["results"]
        response = post(
            intake,
            mrs_li,
            "family-situation/",
            {
                "lives_alone": True,
                "no_spouse_no_children": True,
                "spouse_resident_in": [],
                "reason": "her husband died",
            },
        )
        after = intake.get(url(f"applications/{mrs_li.reference}/positions/")).json()["results"]
    assert response.status_code == 200, response.content
    assert [p["position"] for p in before] == [3, 3]
    assert [p["position"] for p in after] == [1, 1]
    assert [p["position"] for p in response.json()["positions"]] == [1, 1]
    assert [p["score"] - q["score"] for p, q in zip(after, before, strict=True)] == [
        spec.LONELY_POINTS + spec.LIVES_ALONE_POINTS
    ] * 2
    assert [p["queued_at"] for p in after] == [p["queued_at"] for p in before]


def test_a_family_situation_without_a_reason_is_refused_naming_the_reason(homes, intake):
    """R-CHG-2: a 400 naming `reason`; nothing changes."""
    application = queued_application(choices=["YX01"])
    response = post(
        intake,
        application,
        "family-situation/",
        {"lives_alone": True, "no_spouse_no_children": False, "spouse_resident_in": []},
    )
    assert_problem(response, 400, "reason")
    assert unchanged(application, application.version)


def test_a_new_choice_counts_its_waiting_time_from_the_change(homes, reviewer):
    """R-CHG-2: kept entries keep queued_at; a new one is queued from the change."""
    with time_machine.travel(T0, tick=False):
        application = queued_application(choices=["YX01"])
    changed_at = T0 + dt.timedelta(days=90)
    with time_machine.travel(changed_at, tick=False):
        response = post(reviewer, application, "choices/", {"choices": ["YX01", "YX02"], "reason": "her son moved"})
    assert response.status_code == 200, response.content
    with time_machine.travel(changed_at + dt.timedelta(days=31), tick=False):
        positions = {
            p["facility"]: p
            for p in reviewer.get(url(f"applications/{application.reference}/positions/")).json()["results"]
        }
    assert positions["YX02"]["score_breakdown"]["waiting"] == 1
    assert positions["YX01"]["score_breakdown"]["waiting"] == (90 + 31) // spec.WAITING_PERIOD_DAYS
    assert dt.datetime.fromisoformat(positions["YX02"]["queued_at"]) == changed_at
    assert dt.datetime.fromisoformat(positions["YX01"]["queued_at"]) == T0


@pytest.mark.parametrize(
    ("choices", "field"),
    [
        (["YX01", "YX02", "CITY1"], "choices"),  # over max_choices
        (["CITY1", "CITY2"], "choices.1"),  # two city-level homes
        (["CITY1", "CITY1"], "choices.1"),  # one city-level home twice
    ],
)
def test_a_choice_list_over_the_limits_is_refused_with_422_naming_the_field(homes, reviewer, choices, field):
    """R-CHG-2 with R-APP-7: changes nothing."""
    application = queued_application(choices=["YX01"])
    response = post(reviewer, application, "choices/", {"choices": choices, "reason": "x"})
    assert_problem(response, 422, field)
    assert unchanged(application, application.version)
    assert list(application.choices.values_list("facility__code", flat=True)) == ["YX01"]


def test_an_id_number_of_someone_with_an_open_application_is_refused_with_409(homes, reviewer):
    """R-CHG-2 with R-APP-5: the field and the open application named; nothing changes."""
    application = queued_application(choices=["YX01"])
    other = submitted_application(choices=["YX01"])
    response = post(
        reviewer,
        application,
        "personal-details/",
        {
            "applicant": {
                "id_number": other.applicant.id_number,
                "date_of_birth": other.applicant.date_of_birth.isoformat(),
            },
            "reason": "copied wrongly",
        },
    )
    body = assert_problem(response, 409, "applicant.id_number")
    assert body["open_application"] == other.reference
    assert unchanged(application, application.version)


def test_intake_may_not_change_personal_details(homes, intake):
    """R-CHG-2: a reviewer's act."""
    application = queued_application(choices=["YX01"])
    response = post(intake, application, "personal-details/", {"applicant": {"name": "王"}, "reason": "x"})
    assert response.status_code == 403


def test_a_district_change_lists_the_dropped_choices_then_drops_them_on_confirming(homes, intake):
    """R-CHG-2: 422 listing the choices, then confirm_dropped_choices."""
    application = queued_application(choices=["YX01", "CITY1"])
    body = {"hukou_district": "tianhe", "residence_district": "tianhe", "reason": "moved"}
    refused = assert_problem(post(intake, application, "districts/", body), 422, "choices.0")
    assert refused["dropped_choices"] == ["YX01"]
    assert unchanged(application, application.version)
    response = post(intake, application, "districts/", {**body, "confirm_dropped_choices": True})
    assert response.status_code == 200, response.content
    assert response.json()["choices"] == ["CITY1"]
    assert QueueEntry.objects.get(application=application, facility__code="YX01").outcome == "choice_dropped"


def test_a_category_claimed_verified_and_ended_moves_the_channel(homes, intake, reviewer):
    """R-CHG-2: claim by intake, verify and end by a reviewer; the channel recomputed each time."""
    application = queued_application(choices=["YX01"])
    claimed = post(intake, application, "categories/", {"code": "dibao", "evidence": "低保证 7"})
    assert claimed.status_code == 200, claimed.content
    assert {"code": "dibao", "status": "claimed"}.items() <= claimed.json()["categories"][0].items()
    verified = post(reviewer, application, "categories/dibao/verify/", {"verified": True})
    assert verified.status_code == 200, verified.content
    assert verified.json()["channel"] == "special"
    ended = post(reviewer, application, "categories/dibao/end/", {"reason": "低保 lifted"})
    assert ended.status_code == 200, ended.content
    assert ended.json()["channel"] == "ordinary"
    assert ended.json()["categories"][0]["status"] == "ended"


def test_two_changes_from_one_version_one_wins_and_the_other_gets_409(homes, intake):
    """R-CHG-2 with R-FSM-4: the version read, sent as If-Match."""
    application = queued_application(choices=["YX01"])
    version = application.version
    first = post(intake, application, "contact/", {"contact": {"name": "A"}}, HTTP_IF_MATCH=f'"{version}"')
    assert first.status_code == 200
    second = post(intake, application, "contact/", {"contact": {"name": "B"}}, HTTP_IF_MATCH=f'"{version}"')
    assert_problem(second, 409)
    assert Application.objects.get(pk=application.pk).contact_name == "A"


def test_changes_while_queued_are_refused_before_approval(homes, intake):
    """R-CHG-2: only while queued; before approval, intake corrections apply."""
    application = submitted_application(choices=["YX01"])
    response = post(
        intake,
        application,
        "family-situation/",
        {"lives_alone": True, "no_spouse_no_children": False, "spouse_resident_in": [], "reason": "x"},
    )
    body = assert_problem(response, 409)
    assert body["current_state"] == "submitted"
