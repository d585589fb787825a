"""The administration pages (issue 4): policy versions, nursing targets, the working-day calendar,
users and roles, and the audit trail. Administrators only; every change is recorded with who and when."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from admissions.models import CalendarDay, CalendarYear, Policy
from facilities.models import AuditEntry, Facility
from facilities.roles import facility_of, roles_assign, roles_of
from tests.factories import FacilityFactory, UserFactory
from web.formtokens import form_token_issue

pytestmark = pytest.mark.django_db

PAGES = [
    "administration",
    "admin_policies",
    "admin_targets",
    "admin_calendar",
    "admin_users",
    "admin_user_new",
    "admin_audit",
]


def url(name: str) -> str:
    """Reversed inside each test, in its language (English unless the test chooses)."""
    return reverse(f"staff:{name}")


def staff(username: str, *roles: str, facility: Facility | None = None) -> User:
    user = UserFactory(username=username)
    roles_assign(user=user, roles=list(roles), facility=facility)
    return user


@pytest.fixture
def administrator() -> User:
    return staff("admin-1", "admin")


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


def new_policies():
    """Versions made on the page (the migration ships version 1, the defaults of SPEC §9)."""
    return Policy.objects.filter(created_by__isnull=False)


def policy_form(**overrides) -> dict:
    """Every field of the new-version form, as the page fills it from the defaults (SPEC §9)."""
    data = {
        "form_token": form_token_issue(),
        "effective_from": (timezone.localdate() + dt.timedelta(days=10)).isoformat(),
        "note": "waiting time counts double",
        "min_age": "60",
        "max_choices": "2",
        "max_city_level_choices": "1",
        "nursing_target": "0.78",
        "nursing_min_grade": "2",
        "centenarian_age": "100",
        "assessment_valid_days": "365",
        "reassessment_reminder_days": "30",
        "offer_response_working_days": "5",
        "admission_working_days": "5",
        "refusal_limit": "3",
        "refusal_window_days": "365",
        "bar_days": "365",
        "retention_years": "5",
        "vacancy_alert_days": "14",
        "out_of_service_alert_days": "30",
        "admission_extension_working_days": "5",
        "admission_grace_working_days": "2",
        "review_request_days": "30",
        "review_decision_working_days": "20",
        "reconfirm_interval_days": "365",
        "reconfirm_grace_days": "30",
        "couples_together": "on",
        **{f"care_{g}": str(p) for g, p in enumerate([0, 10, 20, 30, 40])},
        "age_0_from": "100",
        "age_0_points": "10",
        "age_1_from": "90",
        "age_1_points": "8",
        "age_2_from": "80",
        "age_2_points": "5",
        "age_3_from": "70",
        "age_3_points": "2",
        "family_no_spouse_no_children": "5",
        "family_lives_alone": "3",
        "family_spouse_resident": "5",
        "waiting_points": "2",
        "waiting_period_days": "30",
    }
    data.update(overrides)
    return data


# --- who may open them ------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_an_administrator_opens_every_administration_page(admin_client, page):
    response = admin_client.get(url(page))
    assert response.status_code == 200
    assert response.content.count(b"<h1") == 1


@pytest.mark.parametrize("role", ["intake", "assessor", "reviewer", "facility"])
@pytest.mark.parametrize("page", PAGES)
def test_every_other_role_is_refused(client, role, page):
    home = FacilityFactory(code="YX01")
    client.force_login(staff(f"{role}-1", role, facility=home if role == "facility" else None))
    assert client.get(url(page)).status_code == 403
    assert client.post(url(page), {}).status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_an_anonymous_visitor_is_sent_to_log_in(client, page):
    response = client.get(url(page))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_superuser_is_an_administrator_here(client):
    client.force_login(User.objects.create_superuser("root", password="x-long-password-1"))
    assert client.get(url("administration")).status_code == 200


def test_the_overview_is_in_chinese_by_default(admin_client):
    response = admin_client.get("/staff/administration/")
    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "<h1>管理后台</h1>" in page


# --- policy versions (SPEC §9) -----------------------------------------------------------------------------
def test_creating_a_policy_version_saves_it_with_its_date_and_records_who_did_it(admin_client, administrator):
    response = admin_client.post(url("admin_policies"), policy_form())
    policy = new_policies().get()
    assert response.status_code == 302
    assert response["Location"] == f"{url('admin_policies')}#version-{policy.version}"
    assert policy.effective_from == timezone.localdate() + dt.timedelta(days=10)
    assert policy.parameters["score_weights"]["waiting"] == {"points": 2, "period_days": 30}
    assert policy.created_by == administrator
    entry = AuditEntry.objects.get(action="policy_create")
    assert entry.user == administrator and entry.actor_name == "admin-1"
    assert entry.changes["changed"] == {"score_weights": policy.parameters["score_weights"]}
    page = admin_client.get(url("admin_policies")).content.decode()
    assert f'id="version-{policy.version}"' in page and "upcoming" in page


def test_age_bands_may_be_typed_in_any_order_and_an_empty_band_is_dropped(admin_client):
    form = policy_form(age_0_from="70", age_0_points="2", age_3_from="", age_3_points="", age_4_from="95")
    form["age_4_points"] = "9"
    admin_client.post(url("admin_policies"), form)
    assert new_policies().get().parameters["score_weights"]["age"] == [[95, 9], [90, 8], [80, 5], [70, 2]]


def test_a_policy_dated_in_the_past_is_refused_on_its_field_keeping_what_was_typed(admin_client):
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = admin_client.post(url("admin_policies"), policy_form(effective_from=yesterday, min_age="65"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "must be today or later" in page
    assert f'value="{yesterday}"' in page and 'value="65"' in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="id_effective_from_help id_effective_from_error"' in page
    assert not new_policies().exists() and not AuditEntry.objects.exists()


def test_a_past_date_and_a_bad_parameter_are_shown_together(admin_client):
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    page = admin_client.post(
        url("admin_policies"), policy_form(effective_from=yesterday, min_age="-3")
    ).content.decode()
    assert "must be today or later" in page
    assert 'id="id_min_age_error"' in page and "must be a whole number from 0 to 100000" in page
    assert not new_policies().exists()


def test_out_of_range_parameters_are_refused_on_their_own_fields(admin_client):
    response = admin_client.post(url("admin_policies"), policy_form(max_choices="0", nursing_target="1.5"))
    page = response.content.decode()
    assert "must be at least 1" in page  # max_choices, by the service
    assert "must be a number from 0 to 1" in page  # nursing_target, by the service
    assert 'id="id_max_choices_error"' in page and 'id="id_nursing_target_error"' in page
    response = admin_client.post(url("admin_policies"), policy_form(refusal_limit="many"))
    assert "Enter a whole number." in response.content.decode()  # as parsed, before the service
    assert not new_policies().exists()


def test_bad_score_weights_are_shown_on_the_score_weights_and_change_nothing(admin_client):
    response = admin_client.post(url("admin_policies"), policy_form(waiting_period_days="0"))
    page = response.content.decode()
    assert 'id="score-weights-error"' in page and "waiting must give whole points" in page
    response = admin_client.post(url("admin_policies"), policy_form(age_1_points=""))
    assert "Fill in both the age and the points, or neither." in response.content.decode()
    assert not new_policies().exists()


def test_a_double_submitted_policy_form_creates_one_version(admin_client):
    form = policy_form()
    first = admin_client.post(url("admin_policies"), form)
    second = admin_client.post(url("admin_policies"), form)
    assert new_policies().count() == 1
    assert second.status_code == 302 and second["Location"] == first["Location"]


# --- nursing targets (R-NQ-1) ----------------------------------------------------------------------------
def test_setting_a_homes_own_nursing_target_saves_it_and_records_it(admin_client, administrator):
    home = FacilityFactory(code="YX01")
    response = admin_client.post(
        url("admin_targets"), {"form_token": form_token_issue(), "facility": "YX01", "nursing_target": "0.9"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#target-YX01")
    home.refresh_from_db()
    assert str(home.nursing_target) == "0.900"
    entry = AuditEntry.objects.get(object_type="Facility", object_key="YX01")
    assert entry.user == administrator
    assert entry.changes == {"before": {"nursing_target": None}, "after": {"nursing_target": "0.900"}}
    page = admin_client.get(url("admin_targets")).content.decode()
    assert "the home&#x27;s own" in page or "the home's own" in page


def test_an_empty_target_returns_the_home_to_the_policys_value(admin_client):
    home = FacilityFactory(code="YX01", nursing_target="0.900")
    admin_client.post(
        url("admin_targets"), {"form_token": form_token_issue(), "facility": "YX01", "nursing_target": ""}
    )
    home.refresh_from_db()
    assert home.nursing_target is None


def test_a_target_outside_zero_to_one_is_refused_on_its_row_and_changes_nothing(admin_client):
    home = FacilityFactory(code="YX01", nursing_target="0.800")
    response = admin_client.post(
        url("admin_targets"), {"form_token": form_token_issue(), "facility": "YX01", "nursing_target": "1.5"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "must be a number from 0 to 1" in page and 'value="1.5"' in page
    assert 'id="target-' in page and 'aria-invalid="true"' in page
    home.refresh_from_db()
    assert str(home.nursing_target) == "0.800"
    assert not AuditEntry.objects.exists()


def test_a_target_for_an_unknown_home_is_not_found(admin_client):
    assert admin_client.post(url("admin_targets"), {"facility": "NOPE", "nursing_target": "0.5"}).status_code == 404


def test_a_double_submitted_target_acts_once(admin_client):
    FacilityFactory(code="YX01")
    form = {"form_token": form_token_issue(), "facility": "YX01", "nursing_target": "0.85"}
    admin_client.post(url("admin_targets"), form)
    admin_client.post(url("admin_targets"), form)
    assert AuditEntry.objects.filter(object_key="YX01").count() == 1


# --- the working-day calendar (R-OFF-2) ------------------------------------------------------------------
def test_entering_a_holiday_saves_it_and_records_who_did_it(admin_client, administrator):
    response = admin_client.post(
        url("admin_calendar"),
        {
            "action": "day_set",
            "form_token": form_token_issue(),
            "date": "2031-10-01",
            "kind": "holiday",
            "name": "国庆节",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"{url('admin_calendar')}?year=2031"
    day = CalendarDay.objects.get(date=dt.date(2031, 10, 1))
    assert day.kind == "holiday" and day.name == "国庆节"
    assert AuditEntry.objects.get(action="calendar_day_set").user == administrator
    assert "国庆节" in admin_client.get(url("admin_calendar"), {"year": 2031}).content.decode()


def test_a_bad_calendar_day_is_refused_on_its_fields_and_changes_nothing(admin_client):
    response = admin_client.post(
        url("admin_calendar"),
        {"action": "day_set", "form_token": form_token_issue(), "date": "2031-02-30", "kind": "festival", "name": "x"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter a valid date." in page and "Select a valid choice." in page
    assert 'value="x"' in page
    assert not CalendarDay.objects.filter(date__year=2031).exists()


def test_removing_a_calendar_day_deletes_it_and_records_it(admin_client):
    CalendarDay.objects.create(date=dt.date(2031, 5, 1), kind="holiday", name="劳动节")
    response = admin_client.post(
        url("admin_calendar"), {"action": "day_delete", "form_token": form_token_issue(), "date": "2031-05-01"}
    )
    assert response.status_code == 302
    assert not CalendarDay.objects.filter(date=dt.date(2031, 5, 1)).exists()
    assert AuditEntry.objects.get(action="calendar_day_delete").changes["before"] == {
        "kind": "holiday",
        "name": "劳动节",
    }


def test_removing_a_day_that_is_not_in_the_calendar_says_so(admin_client):
    response = admin_client.post(
        url("admin_calendar"), {"action": "day_delete", "form_token": form_token_issue(), "date": "2031-05-02"}
    )
    assert response.status_code == 200
    assert "2031-05-02 is not in the calendar." in response.content.decode()


def test_marking_a_year_as_covered_lists_it_and_an_uncovered_year_is_warned_about(admin_client):
    CalendarYear.objects.all().delete()
    page = admin_client.get(url("admin_calendar")).content.decode()
    assert "covers no year yet" in page  # admissions.workdays.calendar_warning
    year = timezone.localdate().year
    response = admin_client.post(
        url("admin_calendar"),
        {"action": "year_covered", "form_token": form_token_issue(), "year": str(year), "source": "国务院办公厅通知"},
    )
    assert response.status_code == 302
    assert CalendarYear.objects.get(year=year).source == "国务院办公厅通知"
    assert AuditEntry.objects.get(action="calendar_year_mark_covered").object_key == str(year)
    assert "国务院办公厅通知" in admin_client.get(url("admin_calendar")).content.decode()


def test_a_year_out_of_range_or_without_a_source_is_refused(admin_client):
    response = admin_client.post(
        url("admin_calendar"),
        {"action": "year_covered", "form_token": form_token_issue(), "year": "20267", "source": " "},
    )
    page = response.content.decode()
    assert "Enter a year from 2000 to 2100." in page or "This field is required." in page
    assert not CalendarYear.objects.filter(year=20267).exists()


def test_a_double_submitted_calendar_day_is_recorded_once(admin_client):
    form = {"action": "day_set", "form_token": form_token_issue(), "date": "2031-01-01", "kind": "holiday"}
    admin_client.post(url("admin_calendar"), form)
    admin_client.post(url("admin_calendar"), form)
    assert AuditEntry.objects.filter(action="calendar_day_set").count() == 1


# --- users and roles ----------------------------------------------------------------------------------------
def new_user_form(**overrides) -> dict:
    return {
        "form_token": form_token_issue(),
        "username": "chen.officer",
        "first_name": "Xiaoming",
        "last_name": "Chen",
        "email": "chen@example.org",
        "password1": "a-Long-pass-phrase-42",
        "password2": "a-Long-pass-phrase-42",
        "roles": ["facility"],
        "facility": str(FacilityFactory(code="YX01").pk),
        **overrides,
    }


def test_creating_a_user_gives_the_roles_and_home_and_records_it(admin_client, administrator):
    response = admin_client.post(url("admin_user_new"), new_user_form())
    user = User.objects.get(username="chen.officer")
    assert response.status_code == 302 and response["Location"] == reverse("staff:admin_user", args=[user.pk])
    assert roles_of(user) == {"facility"} and facility_of(user).code == "YX01"
    assert user.check_password("a-Long-pass-phrase-42")
    entry = AuditEntry.objects.get(action="user_create")
    assert entry.user == administrator and entry.object_key == "chen.officer"
    assert entry.changes["after"]["roles"] == ["facility"] and entry.changes["after"]["facility"] == "YX01"
    assert "password" not in str(entry.changes)
    listing = admin_client.get(url("admin_users"), {"q": "chen"}).content.decode()
    assert "chen.officer" in listing and "facility officer" in listing and "YX01" in listing


def test_a_facility_officer_without_a_home_is_refused_and_no_user_is_created(admin_client):
    response = admin_client.post(url("admin_user_new"), new_user_form(facility=""))
    assert response.status_code == 200
    page = response.content.decode()
    assert "A facility officer must be bound to a home" in page
    assert 'value="chen.officer"' in page
    assert not User.objects.filter(username="chen.officer").exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password2": "something-else-42"}, "The two passwords differ."),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"username": "admin-1"}, "This username is taken."),
        ({"username": "bad name!"}, "Enter a valid username."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_a_bad_new_user_is_refused_with_the_reason_on_its_field(admin_client, overrides, message):
    before = User.objects.count()
    response = admin_client.post(url("admin_user_new"), new_user_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_a_double_submitted_new_user_form_creates_one_user(admin_client):
    form = new_user_form()
    admin_client.post(url("admin_user_new"), form)
    second = admin_client.post(url("admin_user_new"), form)
    assert second.status_code == 302
    assert User.objects.filter(username="chen.officer").count() == 1
    assert AuditEntry.objects.filter(action="user_create").count() == 1


def test_changing_roles_records_before_and_after(admin_client, administrator):
    subject = staff("li", "intake")
    user_url = reverse("staff:admin_user", args=[subject.pk])
    response = admin_client.post(
        user_url, {"action": "roles", "form_token": form_token_issue(), "roles": ["intake", "reviewer"], "facility": ""}
    )
    assert response.status_code == 302
    assert roles_of(User.objects.get(pk=subject.pk)) == {"intake", "reviewer"}
    entry = AuditEntry.objects.get(action="user_roles_set")
    assert entry.user == administrator
    assert entry.changes["before"]["roles"] == ["intake"]
    assert entry.changes["after"]["roles"] == ["intake", "reviewer"]


def test_an_administrator_cannot_remove_their_own_administrator_role(admin_client, administrator):
    user_url = reverse("staff:admin_user", args=[administrator.pk])
    response = admin_client.post(user_url, {"action": "roles", "form_token": form_token_issue(), "roles": ["intake"]})
    assert response.status_code == 200
    assert "You cannot remove your own administrator role." in response.content.decode()
    assert roles_of(User.objects.get(pk=administrator.pk)) == {"admin"}


def test_deactivating_a_user_stops_their_login_and_is_recorded(admin_client, client):
    subject = staff("wang", "reviewer")
    user_url = reverse("staff:admin_user", args=[subject.pk])
    response = admin_client.post(user_url, {"action": "active", "form_token": form_token_issue(), "active": "False"})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert not subject.is_active
    assert AuditEntry.objects.get(action="user_deactivate").object_key == "wang"
    assert "deactivated" in admin_client.get(url("admin_users")).content.decode()
    admin_client.post(user_url, {"action": "active", "form_token": form_token_issue(), "active": "True"})
    subject.refresh_from_db()
    assert subject.is_active and AuditEntry.objects.filter(action="user_activate").count() == 1


def test_an_administrator_cannot_deactivate_themself(admin_client, administrator):
    user_url = reverse("staff:admin_user", args=[administrator.pk])
    response = admin_client.post(user_url, {"action": "active", "form_token": form_token_issue(), "active": "False"})
    assert "You cannot deactivate yourself." in response.content.decode()
    administrator.refresh_from_db()
    assert administrator.is_active


def test_an_unknown_user_is_not_found(admin_client):
    assert admin_client.get(reverse("staff:admin_user", args=[999999])).status_code == 404
    assert admin_client.get(reverse("staff:admin_user", args=[10**30])).status_code == 404


def test_the_user_list_filters_by_role(admin_client):
    staff("zhao", "assessor")
    staff("qian", "intake")
    page = admin_client.get(url("admin_users"), {"role": "assessor"}).content.decode()
    assert "zhao" in page and "qian" not in page


# --- the audit trail ----------------------------------------------------------------------------------------
def test_the_audit_trail_lists_changes_newest_first_by_page(admin_client):
    for n in range(55):
        AuditEntry.objects.create(
            actor_name="admin-1",
            action="calendar_day_set",
            object_type="CalendarDay",
            object_key=f"2031-01-{n % 28 + 1:02d}",
            changes={"before": None, "after": {"n": n}},
        )
    first = admin_client.get(url("admin_audit")).content.decode()
    assert '"n": 54' not in first  # JSON is shown as short lines, not raw
    assert "n: 54<" in first and "n: 4<" not in first
    assert first.index("n: 54") < first.index("n: 53")
    second = admin_client.get(url("admin_audit"), {"page": 2}).content.decode()
    assert "n: 4<" in second and "n: 54" not in second
    assert admin_client.get(url("admin_audit"), {"page": "x"}).status_code == 200


def test_the_audit_trail_filters_by_what_changed(admin_client):
    AuditEntry.objects.create(actor_name="a", action="policy_create", object_type="Policy", object_key="v9")
    AuditEntry.objects.create(actor_name="a", action="user_create", object_type="User", object_key="zhou")
    page = admin_client.get(url("admin_audit"), {"object_type": "Policy"}).content.decode()
    assert "v9" in page and "zhou" not in page
    assert admin_client.get(url("admin_audit"), {"object_type": "<b>"}).status_code == 200


def test_a_retention_not_longer_than_the_refusal_window_and_the_bar_is_refused_on_its_field(admin_client):
    """R-PRIV-3: retention_years × 365 must exceed refusal_window_days and bar_days."""
    response = admin_client.post(url("admin_policies"), policy_form(retention_years="1"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "must be more than refusal_window_days" in page and 'id="id_retention_years_error"' in page
    assert not new_policies().exists()
