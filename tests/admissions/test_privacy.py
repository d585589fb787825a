"""Personal data (SPEC §16): the access log of full ID numbers (R-PRIV-1), no personal data in URLs,
caches or error reports (R-PRIV-2), retention and anonymising (R-PRIV-3), one person's export
(R-PRIV-4) and who sees contact details (R-PRIV-5)."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from admissions.models import (
    AllocationDecision,
    Applicant,
    Application,
    ApplicationEvent,
    CategoryClaim,
    IdAccess,
    Notification,
    Offer,
    Policy,
)
from admissions.models.append_only import AppendOnlyError, append_only_tables
from admissions.policy import PolicyError, PolicyParameters
from admissions.services import applications as app_services
from admissions.services.offers import offer_accept, offer_admit, offer_decline
from admissions.services.privacy import id_access_record, id_number_hash, persons_anonymise
from core.errors import RuleViolation
from facilities.models import Facility
from facilities.roles import roles_assign
from tests import spec
from tests.factories import FacilityFactory, actor, add_beds, intake, queued_application, submitted_application

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def client_as(*roles: str, facility: Facility | None = None, staff: bool = False) -> tuple[Client, User]:
    """A logged-in staff user; with `staff`, one who may open the Django admin too (an administrator
    there is a superuser, whatever else it becomes)."""
    user = User.objects.create_user(
        f"{'-'.join(roles)}-{User.objects.count()}", is_staff=staff, is_superuser=staff and "admin" in roles
    )
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.fixture
def home():
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=4)
    return home


def _inline_script_or_style(html: str) -> list[str]:
    return re.findall(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style", html)


# --- R-PRIV-1: the access log ------------------------------------------------------------------------
def test_an_intake_officer_opening_an_application_is_recorded_in_the_access_log(home):
    """R-PRIV-1: who, when, which application, where."""
    application = submitted_application(choices=["YX01"])
    client, user = client_as("intake")
    response = client.get(reverse("staff:application", args=[application.reference]))
    assert application.applicant.id_number in response.content.decode()
    access = IdAccess.objects.get()
    assert (access.user, access.application, access.applicant, access.where) == (
        user,
        application,
        application.applicant,
        "staff:application",
    )
    assert access.at is not None and access.actor_name == user.username


def test_a_role_that_sees_the_number_masked_leaves_no_access_record(home):
    """R-PRIV-1 records displays of the full number only; an assessor sees it masked (SPEC §10)."""
    application = submitted_application(choices=["YX01"])
    client, _user = client_as("assessor")
    response = client.get(reverse("staff:application", args=[application.reference]))
    assert response.status_code == 200
    assert application.applicant.id_number not in response.content.decode()
    assert application.applicant.masked_id_number in response.content.decode()
    assert not IdAccess.objects.exists()


def test_the_api_records_each_full_display_and_not_the_masked_list(home):
    """R-PRIV-1 in the API: GET /applications/{reference}/ shows the full number, the list masks it."""
    application = submitted_application(choices=["YX01"])
    client, user = client_as("reviewer")
    listed = client.get("/api/v1/applications/")
    assert application.applicant.id_number not in listed.content.decode()
    assert not IdAccess.objects.exists()
    one = client.get(f"/api/v1/applications/{application.reference}/")
    assert one.json()["applicant"]["id_number"] == application.applicant.id_number
    access = IdAccess.objects.get()
    assert (access.user, access.application_id, access.where) == (user, application.pk, "api:application-detail")


def test_the_django_admin_applicant_page_records_the_display(home):
    """R-PRIV-1: the admin's applicant page shows the full number to an identity-checking role."""
    application = submitted_application(choices=["YX01"])
    client, user = client_as("admin", staff=True)
    response = client.get(reverse("admin:admissions_applicant_change", args=[application.applicant.pk]))
    assert application.applicant.id_number in response.content.decode()
    access = IdAccess.objects.get()
    assert (access.user, access.applicant_id, access.application, access.where) == (
        user,
        application.applicant.pk,
        None,
        "admin:applicant",
    )


def test_the_access_log_is_append_only_in_python_and_in_the_database(home):
    """R-PRIV-1: append-only like events; the table is in the registry of append-only tables."""
    application = submitted_application(choices=["YX01"])
    access = id_access_record(
        user=actor("intake").user, applicant=application.applicant, application=application, where="test"
    )
    assert "admissions_idaccess" in append_only_tables()  # so the restricted role may only insert (R-VER-5)
    with pytest.raises(AppendOnlyError):
        access.save()
    with pytest.raises(AppendOnlyError):
        IdAccess.objects.filter(pk=access.pk).update(where="changed")
    with pytest.raises(AppendOnlyError):
        IdAccess.objects.filter(pk=access.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE admissions_idaccess SET actor_name = 'someone else' WHERE id = %s", [access.pk])
    assert IdAccess.objects.get(pk=access.pk).actor_name == "intake"


def test_an_administrator_reads_the_access_log_on_the_application_page_and_others_do_not(home):
    """R-PRIV-1: an administrator reads it per application."""
    application = submitted_application(choices=["YX01"])
    intake_client, _intake = client_as("intake")
    intake_client.get(reverse("staff:application", args=[application.reference]))
    intake_page = intake_client.get(reverse("staff:application", args=[application.reference])).content.decode()
    assert "Who has seen the full ID number" not in intake_page
    admin_client, _admin = client_as("admin")
    page = admin_client.get(reverse("staff:application", args=[application.reference])).content.decode()
    assert "Who has seen the full ID number" in page
    assert page.count("staff:application</td>") == 3  # the intake officer twice, then this view
    assert _intake.username in page


# --- R-PRIV-2: searching by ID number goes by POST ---------------------------------------------------
def test_an_intake_officer_finds_a_person_by_id_number_by_post_in_an_uncached_answer(home):
    """R-PRIV-2: the number is in the POST body, never the URL, and the answer is not stored."""
    application = submitted_application(choices=["YX01"])
    client, _user = client_as("intake")
    url = reverse("staff:applications_find_by_id")
    assert application.applicant.id_number not in url
    response = client.post(url, {"id_number": application.applicant.id_number.lower()})
    body = response.content.decode()
    assert response.status_code == 200
    assert application.reference in body
    assert application.applicant.id_number not in body  # not echoed back
    assert "no-store" in response["Cache-Control"]
    assert client.get(url).status_code == 405
    listing = client.get(reverse("staff:applications")).content.decode()
    assert 'method="post" action="' + url in listing


def test_a_bad_id_number_in_the_search_names_the_rule(home):
    client, _user = client_as("reviewer")
    response = client.post(reverse("staff:applications_find_by_id"), {"id_number": "44010419410302000"})
    assert response.status_code == 200
    assert "must be 18 characters, not 17" in response.content.decode()


@pytest.mark.parametrize("role", ["assessor", "facility"])
def test_roles_that_do_not_check_identity_may_not_search_by_id_number(home, role):
    """R-PRIV-2: an assessor may not confirm whose ID number it is."""
    application = submitted_application(choices=["YX01"])
    client, _user = client_as(role, facility=home if role == "facility" else None)
    response = client.post(reverse("staff:applications_find_by_id"), {"id_number": application.applicant.id_number})
    assert response.status_code == 403
    assert application.reference not in response.content.decode()
    assert 'name="id_number"' not in client.get(reverse("staff:applications")).content.decode()


def test_the_django_admin_searches_applicants_by_id_number_by_post_only(home):
    """R-PRIV-2: the admin's GET search (?q=) no longer matches ID numbers or phones; its POST form does."""
    application = submitted_application(choices=["YX01"], name="王小明")
    submitted_application(choices=["YX01"], name="李四", date_of_birth=dt.date(1943, 5, 6), phone="13812345678")
    client, _user = client_as("admin", staff=True)
    changelist = reverse("admin:admissions_applicant_changelist")
    by_get = client.get(changelist, {"q": application.applicant.id_number}).content.decode()
    assert "王*明" not in by_get
    response = client.post(changelist, {"id_number_search": application.applicant.id_number})
    body = response.content.decode()
    assert response.status_code == 200
    assert "王*明" in body and "李*" not in body
    assert application.applicant.id_number not in body
    assert "no-store" in response["Cache-Control"]
    by_phone = client.post(changelist, {"phone_search": "13812345678"}).content.decode()
    assert "李*" in by_phone and "王*明" not in by_phone
    applications = reverse("admin:admissions_application_changelist")
    assert (
        application.reference not in client.get(applications, {"q": application.applicant.id_number}).content.decode()
    )


def test_an_assessor_in_the_django_admin_may_not_confirm_whose_id_number_it_is(home):
    """R-PRIV-2 (issue 16): an assessor could confirm a person by searching the admin by ID number."""
    application = submitted_application(choices=["YX01"], name="王小明")
    client, user = client_as("assessor", staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="admissions"))
    changelist = reverse("admin:admissions_applicant_changelist")
    assert "王*明" not in client.get(changelist, {"q": application.applicant.id_number}).content.decode()
    refused = client.post(changelist, {"id_number_search": application.applicant.id_number})
    assert refused.status_code in (302, 403) and "王*明" not in refused.content.decode()


NUMBER, PHONE, CODE = "440104194103020021", "13800000000", "ABCD2345"


def _request_with_personal_data():
    return RequestFactory().post(
        "/staff/applications/new/", {"id_number": NUMBER, "phone": PHONE, "lookup_code": CODE, "choices": "YX01"}
    )


def test_error_reports_mask_personal_data_in_the_post_body():
    """R-PRIV-2: the technical 500 page and the administrators' email show no ID number, phone or code."""
    from django.views.debug import ExceptionReporter

    request = _request_with_personal_data()
    try:
        raise ValueError("boom")
    except ValueError as exc:
        html = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_html()
    assert NUMBER not in html
    assert PHONE not in html
    assert CODE not in html
    assert "YX01" in html  # what is not personal is still shown


def test_intake_and_a_lookup_log_no_id_number_phone_or_code(home, caplog):
    """R-PRIV-2: no log line carries the ID number, the phone or the lookup code."""
    caplog.set_level("DEBUG")
    data = intake(choices=["YX01"], phone="13812345678")
    application, code = app_services.application_create(data=data, submit=True, actor=actor("intake"))
    Client().post("/api/v1/public/lookup/", {"reference": application.reference, "code": code}, "application/json")
    Client().post(
        "/api/v1/public/lookup/", {"reference": application.reference, "code": "WRONG234"}, "application/json"
    )
    text = caplog.text
    assert application.applicant.id_number not in text
    assert "13812345678" not in text and "13900000000" not in text
    assert code not in text


# --- R-PRIV-3: retention ----------------------------------------------------------------------------
def test_retention_years_defaults_to_five_and_must_outlast_the_refusal_window_and_the_bar():
    """R-PRIV-3 and SPEC §9: retention_years 5; × 365 not above refusal_window_days and bar_days is refused."""
    assert PolicyParameters().retention_years == spec.RETENTION_YEARS
    assert PolicyParameters().to_json()["retention_years"] == spec.RETENTION_YEARS
    with pytest.raises(PolicyError) as refused:
        PolicyParameters.from_json({"retention_years": 1})  # 365 days, not above 365
    assert set(refused.value.errors) == {"retention_years"}
    assert "must be more than refusal_window_days" in refused.value.errors["retention_years"]
    with pytest.raises(PolicyError) as refused:
        PolicyParameters.from_json({"retention_years": 2, "bar_days": 730})
    assert set(refused.value.errors) == {"retention_years"}
    with pytest.raises(PolicyError):
        PolicyParameters.from_json({"retention_years": 0})
    assert PolicyParameters.from_json({"retention_years": 1, "refusal_window_days": 364, "bar_days": 364})
    assert PolicyParameters.from_json({"retention_years": 2, "bar_days": 729}).retention_years == 2


def test_a_policy_version_with_too_short_a_retention_is_refused_by_the_api_with_a_field_error():
    """R-PRIV-3: POST /policy/ names the field."""
    client, _user = client_as("admin")
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    response = client.post(
        "/api/v1/policy/", {"effective_from": tomorrow, "retention_years": 1}, content_type="application/json"
    )
    assert response.status_code in (400, 422)
    assert "retention_years" in response.json()["errors"]
    assert not Policy.objects.filter(parameters__retention_years=1).exists()


def _closed_person(home_code="YX01", *, name="陈秀英", born=dt.date(1941, 3, 2), with_file=True):
    """A person admitted to a home, discharged, and so final; with an evidence file and notifications."""
    categories = [{"code": "dibao", "evidence": "穗民低字第1号"}]
    if with_file:
        categories = [{"code": "dibao", "evidence_file": ContentFile(b"%PDF-1.4 evidence", name="d.pdf")}]
    application = submitted_application(
        choices=[home_code], name=name, date_of_birth=born, categories=categories, contact_email="d@example.com"
    )
    app_services.application_withdraw(application=application, reason="moved away", actor=actor("intake"))
    return Application.objects.get(pk=application.pk)


def test_a_person_final_for_five_years_is_anonymised_keeping_references_events_and_decisions(
    home, django_capture_on_commit_callbacks
):
    """R-PRIV-3: name masked, ID number to a keyed hash with its key id; phone, address, email,
    contacts, evidence files, notification recipients and bodies removed; the rest kept."""
    with time_machine.travel(dt.datetime(2020, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = _closed_person()
    number = application.applicant.id_number
    claim = CategoryClaim.objects.get(application=application)
    stored = claim.evidence_file.name
    assert claim.evidence_file.storage.exists(stored)
    assert Notification.objects.filter(application=application).exists()
    notifications = Notification.objects.filter(application=application).count()
    events_before = list(ApplicationEvent.objects.filter(application=application).values_list("pk", "transition"))

    with time_machine.travel(dt.datetime(2025, 3, 1, 12, 0, tzinfo=SHANGHAI)):  # one day short of 5 years
        assert persons_anonymise().persons == 0
    with (
        time_machine.travel(dt.datetime(2025, 3, 3, 4, 0, tzinfo=SHANGHAI)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = persons_anonymise()
    assert report.as_dict() == {"persons": 1, "applications": 1, "evidence_files": 1, "notifications": notifications}

    person = Applicant.objects.get(pk=application.applicant_id)
    assert person.name == "陈*英" and person.id_number is None and person.phone == ""
    assert (person.id_number_key_id, person.id_number_hash) == id_number_hash(number)
    assert person.date_of_birth == dt.date(1941, 3, 2) and person.anonymised_at is not None
    kept = Application.objects.get(pk=application.pk)
    assert kept.reference == application.reference and kept.state == "withdrawn"
    assert (kept.address, kept.contact_name, kept.contact_phone, kept.contact_email) == ("", "", "", "")
    claim.refresh_from_db()
    assert not claim.evidence_file and not claim.evidence_file.storage.exists(stored)
    assert not Notification.objects.filter(application=application).exclude(recipient="", body="").exists()
    assert list(ApplicationEvent.objects.filter(application=application).values_list("pk", "transition")) == (
        events_before
    )
    assert number not in json.dumps(list(ApplicationEvent.objects.values("data", "reason")), ensure_ascii=False)

    with time_machine.travel(dt.datetime(2025, 3, 4, 4, 0, tzinfo=SHANGHAI)):
        assert persons_anonymise().as_dict() == {
            "persons": 0,
            "applications": 0,
            "evidence_files": 0,
            "notifications": 0,
        }


def test_open_applications_and_current_residents_are_not_anonymised(home):
    """R-PRIV-3: only once every application of the person has been final for 5 years; a resident's
    application is final (admitted) but the home still needs their data."""
    add_beds(home, nursing=1, status="vacant")
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        resident = queued_application(choices=["YX01"], name="住院人")
        offer = Offer.objects.get(application=resident)
        offer_accept(offer=offer, actor=actor("facility"))
        offer_admit(offer=offer, actor=actor("facility"))
        old = _closed_person(name="老申请", born=dt.date(1940, 1, 1), with_file=False)
    with time_machine.travel(dt.datetime(2031, 6, 1, 10, 0, tzinfo=SHANGHAI)):
        again = submitted_application(
            choices=["YX01"], name="老申请", id_number=old.applicant.id_number, date_of_birth=dt.date(1940, 1, 1)
        )
    assert again.applicant_id == old.applicant_id
    with time_machine.travel(dt.datetime(2032, 6, 1, 10, 0, tzinfo=SHANGHAI)):
        assert persons_anonymise().persons == 0
    assert Applicant.objects.filter(anonymised_at__isnull=False).count() == 0


def test_an_anonymised_person_applying_again_is_found_by_the_keyed_hash_and_still_barred(home):
    """R-PRIV-3 with R-APP-6: the bar still holds after anonymising (a long bar, allowed by a long retention)."""
    with time_machine.travel(dt.datetime(2020, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        Policy.objects.create(
            version=2, effective_from=dt.date(2020, 3, 1), parameters={"bar_days": 3000, "retention_years": 9}
        )
        application = _closed_person(with_file=False)
        # As a removal for refusals under this policy's 3000-day bar would leave it.
        Applicant.objects.filter(pk=application.applicant_id).update(barred_until=dt.date(2030, 1, 1))
    number = application.applicant.id_number
    with time_machine.travel(dt.datetime(2029, 3, 3, 4, 0, tzinfo=SHANGHAI)):
        assert persons_anonymise().persons == 1
        assert not Applicant.objects.filter(id_number=number).exists()
        with pytest.raises(RuleViolation) as refused:
            app_services.application_create(
                data=intake(choices=["YX01"], id_number=number), submit=True, actor=actor("intake")
            )
        assert refused.value.extra["barred_until"] == "2030-01-01"
        assert Applicant.objects.count() == 1


def test_an_anonymised_person_applying_again_gets_their_row_back_under_a_rotated_key(home, settings):
    """R-PRIV-3: the hash's key id lets keys rotate; the same person row is reused, so R-OFF-5 counts
    across their old and new applications, and the number they gave again is put back."""
    settings.ID_NUMBER_HASH_KEYS = [("k1", "first key")]
    with time_machine.travel(dt.datetime(2020, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = _closed_person(with_file=False)
    number = application.applicant.id_number
    with time_machine.travel(dt.datetime(2025, 3, 3, 4, 0, tzinfo=SHANGHAI)):
        persons_anonymise()
    assert Applicant.objects.get().id_number_key_id == "k1"
    settings.ID_NUMBER_HASH_KEYS = [("k2", "second key"), ("k1", "first key")]
    with time_machine.travel(dt.datetime(2025, 4, 1, 10, 0, tzinfo=SHANGHAI)):
        again, _code = app_services.application_create(
            data=intake(choices=["YX01"], id_number=number), submit=True, actor=actor("intake")
        )
    person = Applicant.objects.get()
    assert again.applicant_id == application.applicant_id == person.pk
    assert person.id_number == number and person.id_number_hash == "" and person.anonymised_at is None
    assert person.name == "陈秀英"


def test_refusals_are_counted_per_person_across_applications(home):
    """R-OFF-5: withdrawing and applying again does not reset the count (counted on the person row,
    which anonymising keeps)."""
    from admissions.services.beds import bed_return_to_service

    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(start):
        add_beds(home, nursing=1, status="vacant")
        first = queued_application(grade=3, choices=["YX01"], name="李明")
        offer_decline(offer=Offer.objects.get(application=first, state="pending"), actor=actor("facility"))
        bed_return_to_service(bed=add_beds(home, nursing=1, status="out_of_service")[0])
        offer_decline(offer=Offer.objects.get(application=first, state="pending"), actor=actor("facility"))
        first = app_services.application_withdraw(application=first, reason="family", actor=actor("intake"))
        assert first.state == "withdrawn"
    with time_machine.travel(start + dt.timedelta(days=30)):
        second = submitted_application(choices=["YX01"], name="李明", id_number=first.applicant.id_number)
        assert second.applicant_id == first.applicant_id
        # The assessment of the first application is still valid: straight to review, then approved.
        second = app_services.application_accept_for_assessment(application=second, actor=actor("intake"))
        second = app_services.application_approve(
            application=second, categories=[], exemption=None, actor=actor("reviewer")
        )
        offer_decline(offer=Offer.objects.get(application=second, state="pending"), actor=actor("facility"))
        second.refresh_from_db()
        assert second.state == "removed" and second.closing_reason == "refusal_limit"
        assert second.applicant.barred_until == (start + dt.timedelta(days=30)).date() + dt.timedelta(days=365)


def test_the_nightly_schedule_and_the_command_run_the_anonymising(home):
    """R-PRIV-3: a beat schedule entry, and a command that reports counts."""
    from io import StringIO

    from config.celery import app

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "admissions.tasks.anonymise_persons")
    assert entry["schedule"].hour == {3}
    with time_machine.travel(dt.datetime(2020, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        notifications = Notification.objects.filter(application=_closed_person()).count()
    out = StringIO()
    with time_machine.travel(dt.datetime(2025, 3, 3, 4, 0, tzinfo=SHANGHAI)):
        call_command("anonymise_persons", stdout=out)
        from admissions.tasks import anonymise_persons

        assert anonymise_persons() == {"persons": 0, "applications": 0, "evidence_files": 0, "notifications": 0}
    assert (
        f"anonymised: 1 person(s), 1 application(s), 1 evidence file(s), {notifications} notification(s)"
        in out.getvalue()
    )


# --- R-PRIV-4: one person's data ----------------------------------------------------------------------
def test_an_intake_officer_exports_one_persons_data_as_a_printable_page_and_as_json(home):
    """R-PRIV-4 (PIPL art. 45): applications, events, assessments, offers, notifications, access log."""
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"], name="陈秀英")
    client, user = client_as("intake")
    detail = client.get(reverse("staff:application", args=[application.reference])).content.decode()
    page_url = reverse("staff:applicant_export", args=[application.reference])
    json_url = reverse("staff:applicant_export_json", args=[application.reference])
    assert page_url in detail and json_url in detail

    page = client.get(page_url)
    html = page.content.decode()
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert application.applicant.id_number in html and application.reference in html
    assert "Timeline" in html and "Offers" in html and "Assessments" in html
    assert _inline_script_or_style(html) == []

    download = client.get(json_url)
    assert download["Content-Disposition"].startswith("attachment;")
    assert "no-store" in download["Cache-Control"]
    data = json.loads(download.content)
    assert data["applicant"]["id_number"] == application.applicant.id_number
    assert data["applicant"]["phone"] == "13800000000"
    (record,) = data["applications"]
    assert record["reference"] == application.reference and record["address"] == "越秀区 1 号"
    assert [e["transition"] for e in record["events"]][:2] == ["create", "submit"]
    assert record["assessments"][0]["grade"] == 2
    assert record["offers"][0]["state"] == "pending"
    assert record["notifications"] and record["notifications"][0]["recipient"]
    assert "lookup_code_hash" not in record
    where = [a["where"] for a in data["id_number_accesses"]]
    assert where == ["staff:application", "staff:applicant_export", "staff:applicant_export_json"]
    assert IdAccess.objects.filter(user=user).count() == 3


def test_the_export_page_is_in_chinese_too(home):
    application = submitted_application(choices=["YX01"])
    client, _user = client_as("intake")
    with translation.override("zh-hans"):
        url = reverse("staff:applicant_export", args=[application.reference])  # no /en/ prefix
    html = client.get(url).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "关于此人所持有的个人数据" in html


@pytest.mark.parametrize("role", ["assessor", "reviewer", "facility"])
def test_other_roles_may_not_export(home, role):
    application = submitted_application(choices=["YX01"])
    client, _user = client_as(role, facility=home if role == "facility" else None)
    assert client.get(reverse("staff:applicant_export", args=[application.reference])).status_code == 403
    assert client.get(reverse("staff:applicant_export_json", args=[application.reference])).status_code == 403
    assert not IdAccess.objects.filter(where__startswith="staff:applicant_export").exists()


# --- R-PRIV-5: contact details for facility officers -------------------------------------------------
def _contact_shown(client, application) -> tuple[bool, dict]:
    page = client.get(reverse("staff:application", args=[application.reference])).content.decode()
    api = client.get(f"/api/v1/applications/{application.reference}/").json()
    return "13900000000" in page or "越秀区 1 号" in page, api


def test_a_facility_officer_does_not_see_contact_details_of_an_application_that_merely_chose_the_home(home):
    """R-PRIV-5 (issue 16): a submitted application that chose the home showed its phone and address."""
    application = submitted_application(choices=["YX01"])
    client, _user = client_as("facility", facility=home)
    shown, api = _contact_shown(client, application)
    assert not shown
    assert api["applicant"]["phone"] is None and api["applicant"]["address"] is None
    assert api["contact"] == {"name": None, "relation": None, "phone": None, "email": None}


def test_a_facility_officer_sees_contact_details_while_the_application_waits_at_the_home(home):
    """R-PRIV-5: an open entry at their own home."""
    application = queued_application(choices=["YX01"])
    client, _user = client_as("facility", facility=home)
    shown, api = _contact_shown(client, application)
    assert shown
    assert api["applicant"]["phone"] == "13800000000" and api["contact"]["phone"] == "13900000000"


def test_a_facility_officer_sees_contact_details_of_a_resident_but_not_of_one_admitted_elsewhere(home):
    """R-PRIV-5: its current residents; an application admitted at another home that also chose this
    one has no open entry here any more."""
    other = FacilityFactory(code="GZC01", level="city")
    add_beds(other, nursing=1, status="vacant")
    elsewhere = queued_application(choices=["GZC01", "YX01"], name="别处人")
    offer = Offer.objects.get(application=elsewhere)
    offer_accept(offer=offer, actor=actor("facility"))
    offer_admit(offer=offer, actor=actor("facility"))
    add_beds(home, nursing=1, status="vacant")
    resident = queued_application(choices=["YX01"], name="住院人", date_of_birth=dt.date(1942, 1, 1))
    offer = Offer.objects.get(application=resident)
    offer_accept(offer=offer, actor=actor("facility"))
    offer_admit(offer=offer, actor=actor("facility"))
    client, _user = client_as("facility", facility=home)
    assert _contact_shown(client, resident)[0]
    shown, api = _contact_shown(client, elsewhere)
    assert not shown and api["applicant"]["phone"] is None


def test_a_facility_officer_sees_no_contact_details_on_a_declined_offer(home):
    """R-PRIV-5: a live offer, not a past one."""
    add_beds(home, nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    offer = Offer.objects.get(application=application)
    client, _user = client_as("facility", facility=home)
    assert "13900000000" in client.get(reverse("staff:offer", args=[offer.pk])).content.decode()
    offer_decline(offer=offer, actor=actor("facility"))
    app_services.application_withdraw(application=application, reason="family", actor=actor("intake"))
    assert "13900000000" not in client.get(reverse("staff:offer", args=[offer.pk])).content.decode()


def test_an_anonymised_application_still_shows_its_decisions_and_masks_everything(home):
    """R-PRIV-3 keeps decisions; the pages cope with a person without an ID number."""
    with time_machine.travel(dt.datetime(2020, 3, 2, 10, 0, tzinfo=SHANGHAI)):
        application = _closed_person(with_file=False)
    decisions = AllocationDecision.objects.count()
    with time_machine.travel(dt.datetime(2025, 3, 3, 4, 0, tzinfo=SHANGHAI)):
        persons_anonymise()
    client, _user = client_as("reviewer")
    page = client.get(reverse("staff:application", args=[application.reference]))
    assert page.status_code == 200 and "*" * 18 in page.content.decode()
    assert AllocationDecision.objects.count() == decisions
    assert not IdAccess.objects.exists()
