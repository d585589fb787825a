"""Staff pages: the applications list, intake with its receipt, one application's page with its
transitions, and evidence files (issue 4; SPEC §3, §5, §10; STORIES.md story 1).

The rules are the services'; these tests check that the pages reach them, show their refusals on
the right field in the page language, change nothing when refused, and act once per form token."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from admissions.models import Application, ApplicationEvent, CategoryClaim, DuplicateReview
from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from admissions.services.applications import lookup_code_matches
from facilities.models import Facility
from facilities.roles import roles_assign
from tests import spec
from tests.factories import (
    FacilityFactory,
    actor,
    add_beds,
    district,
    id_number,
    intake,
    items_with_total,
    queued_application,
    reviewed_application,
    submitted_application,
)

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BORN = dt.date(1941, 3, 2)


def client_as(*roles: str, facility: Facility | None = None) -> Client:
    user = User.objects.create_user(f"{'-'.join(roles) or 'none'}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def homes():
    """Two city-level homes and one district-level home in 越秀, all accepting applications."""
    return {
        "GZ01": FacilityFactory(code="GZ01", name="广州市老人院", level="city"),
        "GZ02": FacilityFactory(code="GZ02", name="City Home Two", level="city"),
        "YX01": FacilityFactory(code="YX01", name="越秀区福利院", level="district"),
    }


def token_of(response) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', response.content.decode())
    assert match, "the form carries a one-time token"
    return match.group(1)


def intake_post(token: str = "", **overrides) -> dict:
    """What the new-application form sends for Mrs Chen (story 1), submitted."""
    data = {
        "form_token": token,
        "name": "陈秀英",
        "id_number": id_number(BORN, sex="F"),
        "date_of_birth": BORN.isoformat(),
        "sex": "F",
        "phone": "13800000001",
        "hukou_district": "yuexiu",
        "residence_district": "yuexiu",
        "address": "越秀区 1 号",
        "language": "zh-hans",
        "lives_alone": "on",
        "contact_name": "女儿",
        "contact_relation": "daughter",
        "contact_phone": "13900000001",
        "no_infectious_disease": "on",
        "no_serious_mental_disorder": "on",
        "choice_1": "GZ01",
        "choice_2": "YX01",
        "action": "submit",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def wrong_check_character(number: str) -> str:
    last = number[-1]
    return number[:-1] + ("1" if last != "1" else "2")


# --- the list -----------------------------------------------------------------------------------------
def test_an_anonymous_visitor_is_sent_to_the_login_page():
    response = Client().get(reverse("staff:applications"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_user_without_a_staff_role_gets_403_on_every_application_page(homes):
    application = submitted_application(choices=["YX01"])
    client = client_as()
    assert client.get(reverse("staff:applications")).status_code == 403
    assert client.get(reverse("staff:application", args=[application.reference])).status_code == 403
    assert client.get(reverse("staff:application_new")).status_code == 403


def test_the_list_shows_applications_with_id_numbers_masked(homes):
    application = submitted_application(choices=["YX01"])
    response = client_as("reviewer").get(reverse("staff:applications"))
    assert response.status_code == 200
    page = response.content.decode()
    assert application.reference in page
    assert application.applicant.masked_id_number in page
    assert application.applicant.id_number not in page  # SPEC §10


def test_the_list_finds_part_of_a_name_or_the_whole_reference(homes):
    chen = submitted_application(choices=["YX01"])
    li = submitted_application(choices=["YX01"], name="李大明", date_of_birth=dt.date(1940, 5, 5))
    client = client_as("intake")
    by_name = client.get(reverse("staff:applications"), {"q": "大明"}).content.decode()
    assert li.reference in by_name and chen.reference not in by_name
    by_reference = client.get(reverse("staff:applications"), {"q": chen.reference}).content.decode()
    assert chen.reference in by_reference and li.reference not in by_reference


def test_the_list_filters_by_state_home_channel_and_district(homes):
    draft, _ = app_services.application_create(
        data=intake(choices=["GZ01"], name="王草稿", date_of_birth=dt.date(1942, 1, 1)), submit=False, actor=actor("i")
    )
    submitted = submitted_application(choices=["YX01"])
    client = client_as("intake")
    page = client.get(reverse("staff:applications"), {"state": "draft"}).content.decode()
    assert draft.reference in page and submitted.reference not in page
    page = client.get(reverse("staff:applications"), {"facility": "YX01"}).content.decode()
    assert submitted.reference in page and draft.reference not in page
    page = client.get(reverse("staff:applications"), {"district": "haizhu"}).content.decode()
    assert submitted.reference not in page and draft.reference not in page
    page = client.get(reverse("staff:applications"), {"channel": "special"}).content.decode()
    assert submitted.reference not in page


def test_a_filter_value_that_does_not_exist_is_ignored_not_an_error(homes):
    submitted_application(choices=["YX01"])
    response = client_as("intake").get(reverse("staff:applications"), {"state": "<script>", "page": "x"})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_the_list_is_paginated(homes, monkeypatch):
    from web.views import applications as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    references = [
        submitted_application(choices=["YX01"], name=f"张{i}明", date_of_birth=dt.date(1940, 1, 1 + i)).reference
        for i in range(3)
    ]
    client = client_as("intake")
    first = client.get(reverse("staff:applications")).content.decode()
    second = client.get(reverse("staff:applications"), {"page": 2}).content.decode()
    assert "page=2" in first
    assert sum(ref in first for ref in references) == 2
    assert sum(ref in second for ref in references) == 1


def test_a_facility_officer_sees_only_the_applications_that_chose_their_home(homes):
    mine = submitted_application(choices=["YX01"])
    other = submitted_application(choices=["GZ02"], name="李大明", date_of_birth=dt.date(1940, 5, 5))
    client = client_as("facility", facility=homes["YX01"])
    page = client.get(reverse("staff:applications")).content.decode()
    assert mine.reference in page and other.reference not in page
    assert client.get(reverse("staff:application", args=[other.reference])).status_code == 403
    assert client.get(reverse("staff:application", args=[mine.reference])).status_code == 200


def test_the_list_reads_in_chinese_without_a_language_prefix(homes):
    submitted_application(choices=["YX01"])
    with translation.override("zh-hans"):
        url = reverse("staff:applications")
    assert not url.startswith("/en/")
    page = client_as("intake").get(url).content.decode()
    assert 'lang="zh-hans"' in page
    assert "已提交" in page  # the state "submitted"


# --- intake -------------------------------------------------------------------------------------------
def test_the_new_application_form_shows_the_choice_rule_and_a_form_token(homes):
    response = client_as("intake").get(reverse("staff:application_new"))
    assert response.status_code == 200
    page = response.content.decode()
    assert token_of(response)
    assert "At most 1 of them may be city level" in page  # R-APP-7 beside the field, from the policy
    assert 'enctype="multipart/form-data"' in page
    assert page.count("<h1") == 1


def test_an_assessor_may_not_open_the_new_application_form(homes):
    assert client_as("assessor").get(reverse("staff:application_new")).status_code == 403
    assert client_as("assessor").post(reverse("staff:application_new"), intake_post()).status_code == 403


def assert_receipt(response):
    """The receipt, in the answer to the POST itself, never stored by any cache (R-PRIV-2)."""
    assert response.status_code == 200, response.status_code
    assert "staff/applications/receipt.html" in [t.name for t in response.templates]
    assert response["Cache-Control"].startswith("no-store")


def test_intake_submits_an_application_and_prints_the_receipt_with_the_code_once(homes):
    client = client_as("intake")
    token = token_of(client.get(reverse("staff:application_new")))
    response = client.post(reverse("staff:application_new"), intake_post(token))
    application = Application.objects.get()
    assert application.state == "submitted"
    assert list(application.events.values_list("transition", flat=True)) == ["create", "submit"]
    assert [c.facility.code for c in application.choices.order_by("rank")] == ["GZ01", "YX01"]

    # R-PRIV-2: the receipt with the code is the POST's own answer, never kept (no session copy).
    assert_receipt(response)
    page = response.content.decode()
    code = re.search(r'class="big mono lookup-code">([A-Z0-9]{6})<', page).group(1)
    assert lookup_code_matches(application, code)
    assert application.reference in page and "<svg" in page  # the QR code, drawn locally
    assert "?reference=" + application.reference in page
    assert code not in str(dict(client.session))
    again = client.get(reverse("staff:receipt", args=[application.reference])).content.decode()
    assert code not in again  # R-PUB-1: shown once, never stored
    assert "查询码仅在发放后显示一次" in again  # printed in the family's language (issue 15)


def test_intake_records_the_contact_email_and_the_family_hears_by_sms_and_by_email(homes):
    """R-OFF-6: every state change goes to the contact's phone by SMS and to the address by email."""
    client = client_as("intake")
    token = token_of(client.get(reverse("staff:application_new")))
    response = client.post(reverse("staff:application_new"), intake_post(token, contact_email="family@example.com"))
    assert_receipt(response)
    application = Application.objects.get()
    assert application.contact_email == "family@example.com"
    sent = sorted(application.notifications.values_list("channel", "recipient", "kind"))
    assert sent == [("email", "family@example.com", "state_changed"), ("sms", "13900000001", "state_changed")]


def test_a_malformed_contact_email_is_refused_on_its_field_naming_the_rule(homes):
    client = client_as("intake")
    token = token_of(client.get(reverse("staff:application_new")))
    response = client.post(reverse("staff:application_new"), intake_post(token, contact_email="family@@example"))
    assert response.status_code == 200
    assert response.context["form"].errors["contact_email"] == ["must be an email address such as name@example.com"]
    assert 'value="family@@example"' in response.content.decode()  # what was typed is kept
    assert not Application.objects.exists()


def test_saving_as_a_draft_keeps_it_a_draft_without_the_submission_checks(homes):
    client = client_as("intake")
    data = intake_post(
        token_of(client.get(reverse("staff:application_new"))), action="draft", no_infectious_disease=None
    )
    response = client.post(reverse("staff:application_new"), data)
    assert_receipt(response)
    application = Application.objects.get()
    assert application.state == "draft"


def test_a_wrong_check_character_is_refused_on_its_field_and_nothing_is_saved(homes):
    """Story 1: the officer typed a 7 for a 1."""
    client = client_as("intake")
    number = wrong_check_character(id_number(BORN, sex="F"))
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), id_number=number),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["id_number"] == ["the check character is wrong"]
    page = response.content.decode()
    assert 'value="陈秀英"' in page and f'value="{number}"' in page  # what was typed is kept
    assert 'aria-invalid="true"' in page and "id_id_number_error" in page
    assert not Application.objects.exists()


def test_a_second_city_level_home_is_refused_naming_the_rule(homes):
    """Story 1: ticking a second city-level home."""
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), choice_2="GZ02"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["choice_2"] == ["at most 1 city-level choice is allowed"]
    assert not Application.objects.exists()


def test_a_refusal_is_shown_in_chinese_on_the_chinese_page(homes):
    client = client_as("intake")
    with translation.override("zh-hans"):
        url = reverse("staff:application_new")
    response = client.post(url, intake_post(token_of(client.get(url)), choice_2="GZ02"))
    assert response.status_code == 200
    with translation.override("zh-hans"):
        expected = translation.ngettext(
            "at most %(max)s city-level choice is allowed",
            "at most %(max)s city-level choices are allowed",
            1,
        ) % {"max": 1}
    assert expected in response.content.decode()
    assert re.search("[\u4e00-\u9fff]", expected)


def test_a_double_post_with_the_same_form_token_creates_one_application(homes):
    client = client_as("intake")
    token = token_of(client.get(reverse("staff:application_new")))
    first = client.post(reverse("staff:application_new"), intake_post(token))
    second = client.post(reverse("staff:application_new"), intake_post(token))
    assert Application.objects.count() == 1
    assert_receipt(first)
    assert second.status_code == 302
    assert second["Location"] == reverse("staff:receipt", args=[Application.objects.get().reference])


def test_a_refused_form_can_be_corrected_and_sent_again_with_its_token(homes):
    client = client_as("intake")
    token = token_of(client.get(reverse("staff:application_new")))
    refused = client.post(reverse("staff:application_new"), intake_post(token, choice_2="GZ02"))
    assert token_of(refused) == token
    accepted = client.post(reverse("staff:application_new"), intake_post(token))
    assert_receipt(accepted)
    assert Application.objects.count() == 1


def test_an_outside_hukou_needs_the_contributor_exemption(homes):
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), hukou_district="other", choice_2=""),
    )
    assert "hukou_district" in response.context["form"].errors
    assert not Application.objects.exists()
    response = client.post(
        reverse("staff:application_new"),
        intake_post(
            token_of(client.get(reverse("staff:application_new"))),
            hukou_district="other",
            contributor_exemption_requested="on",
            choice_2="",
        ),
    )
    assert_receipt(response)
    assert Application.objects.get().contributor_exemption_requested


def test_evidence_is_stored_under_a_random_name_and_served_to_intake_and_reviewers_only(homes):
    client = client_as("intake")
    upload = SimpleUploadedFile("chen-dibao-certificate.png", PNG, content_type="image/png")
    response = client.post(
        reverse("staff:application_new"),
        {
            **intake_post(token_of(client.get(reverse("staff:application_new")))),
            "category_dibao": "on",
            "evidence_file_dibao": upload,
        },
    )
    assert_receipt(response)
    claim = CategoryClaim.objects.get()
    assert claim.code == "dibao" and claim.evidence_file.name.startswith("evidence/")
    assert "chen" not in claim.evidence_file.name

    url = reverse("staff:evidence", args=[claim.pk])
    served = client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG
    assert served["Cache-Control"].startswith("no-store")
    assert client_as("reviewer").get(url).status_code == 200
    assert client_as("assessor").get(url).status_code == 403
    assert client_as("facility", facility=homes["YX01"]).get(url).status_code == 403
    assert reverse("login") in Client().get(url)["Location"]
    detail = client.get(reverse("staff:application", args=[claim.application.reference])).content.decode()
    assert url in detail


def test_an_evidence_file_that_is_not_a_pdf_or_image_is_refused(homes):
    client = client_as("intake")
    upload = SimpleUploadedFile("certificate.pdf", b"MZ this is a program", content_type="application/pdf")
    response = client.post(
        reverse("staff:application_new"),
        {
            **intake_post(token_of(client.get(reverse("staff:application_new")))),
            "category_dibao": "on",
            "evidence_file_dibao": upload,
        },
    )
    assert response.status_code == 200
    assert "PDF, JPEG or PNG" in response.context["form"].errors["evidence_file_dibao"][0]
    assert "choose them again" in response.content.decode()
    assert not Application.objects.exists()


def test_an_evidence_file_over_the_size_limit_is_refused(homes, monkeypatch):
    from admissions import evidence

    monkeypatch.setattr(evidence, "EVIDENCE_MAX_BYTES", 16)
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        {
            **intake_post(token_of(client.get(reverse("staff:application_new")))),
            "category_dibao": "on",
            "evidence_file_dibao": SimpleUploadedFile("big.png", PNG, content_type="image/png"),
        },
    )
    assert response.status_code == 200
    assert "larger than" in response.context["form"].errors["evidence_file_dibao"][0]
    assert not Application.objects.exists()


def test_a_category_without_evidence_is_refused_on_its_evidence_field(homes):
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        {**intake_post(token_of(client.get(reverse("staff:application_new")))), "category_youfu": "on"},
    )
    assert response.status_code == 200
    assert "evidence_youfu" in response.context["form"].errors
    assert not Application.objects.exists()


def test_the_id_check_names_the_failed_check_as_the_officer_types(homes):
    response = client_as("intake").post(
        reverse("staff:check_identity"),
        {"id_number": wrong_check_character(id_number(BORN, sex="F"))},
        headers={"HX-Request": "true", "HX-Trigger-Name": "id_number"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "the check character is wrong" in page
    assert "id_date_of_birth_wrap" not in page  # nothing is filled in from a wrong number


def test_the_id_check_fills_in_the_birth_date_and_sex(homes):
    response = client_as("intake").post(
        reverse("staff:check_identity"),
        {"id_number": id_number(BORN, sex="M")},
        headers={"HX-Request": "true", "HX-Trigger-Name": "id_number"},
    )
    page = response.content.decode()
    assert "passes every check" in page
    assert 'id="id_date_of_birth_wrap" hx-swap-oob="true"' in page
    assert 'value="1941-03-02"' in page
    assert re.search(r'<option value="M" selected>', page)


def test_the_id_check_says_at_once_what_submitting_would_refuse(homes):
    """Issue 15 with R-APP-2 and R-APP-5: under 60 on the application date, or a person with an open
    application, is said as the officer types the ID number, not only at submit."""
    young = (
        client_as("intake")
        .post(
            reverse("staff:check_identity"),
            {"id_number": id_number(timezone.localdate().replace(year=timezone.localdate().year - 59), sex="F")},
            headers={"HX-Request": "true", "HX-Trigger-Name": "id_number"},
        )
        .content.decode()
    )
    assert f"applicants must be at least {spec.MIN_AGE}" in young
    number = id_number(BORN, sex="F")
    first = submitted_application(id_number=number, date_of_birth=BORN, sex="F", choices=["YX01"])
    again = (
        client_as("intake")
        .post(
            reverse("staff:check_identity"),
            {"id_number": number},
            headers={"HX-Request": "true", "HX-Trigger-Name": "id_number"},
        )
        .content.decode()
    )
    assert f"already has an open application, {first.reference}" in again


def test_clearing_the_id_number_clears_the_birth_date_and_sex_it_filled_in(homes):
    page = (
        client_as("intake")
        .post(
            reverse("staff:check_identity"),
            {"id_number": "", "date_of_birth": "1941-03-02", "sex": "M"},
            headers={"HX-Request": "true", "HX-Trigger-Name": "id_number"},
        )
        .content.decode()
    )
    assert 'id="id_date_of_birth_wrap" hx-swap-oob="true"' in page
    assert 'value="1941-03-02"' not in page
    assert not re.search(r'<option value="M" selected>', page)


def test_the_id_check_is_for_intake_only_by_a_post_with_the_csrf_token(homes):
    """A POST keeps the ID number out of URLs and so out of access logs (SPEC §10)."""
    assert client_as("assessor").post(reverse("staff:check_identity"), {"id_number": "x"}).status_code == 403
    assert client_as("intake").get(reverse("staff:check_identity")).status_code == 405
    user = User.objects.create_user("intake-csrf")
    roles_assign(user=user, roles=["intake"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(reverse("staff:check_identity"), {"id_number": "x"}).status_code == 403


def test_a_possible_duplicate_is_shown_and_the_officers_decision_is_recorded(homes):
    """Story 1: "陈秀英, born 1941-03-02" already exists as a withdrawn application."""
    earlier = submitted_application(choices=["YX01"], phone="13700000000")
    app_services.application_withdraw(application=earlier, reason="moved in with her son", actor=actor("intake"))
    client = client_as("intake")
    check = client.post(
        reverse("staff:check_identity"), {"name": "陈秀英", "date_of_birth": "1941-03-02", "id_number": ""}
    ).content.decode()
    assert earlier.reference in check and "same name and birth date" in check

    data = intake_post(token_of(client.get(reverse("staff:application_new"))))
    data[f"duplicate_{earlier.pk}_decision"] = "confirmed"
    data[f"duplicate_{earlier.pk}_note"] = "same person, earlier application withdrawn"
    response = client.post(reverse("staff:application_new"), data)
    assert_receipt(response)
    review = DuplicateReview.objects.get()
    assert review.other_application == earlier and review.decision == "confirmed" and review.match == "name_dob"
    assert review.application.events.filter(transition="duplicate_reviewed").exists()


def test_a_duplicate_decision_without_a_note_is_refused_and_nothing_is_saved(homes, settings):
    earlier = submitted_application(choices=["YX01"])
    app_services.application_withdraw(application=earlier, reason="withdrawn", actor=actor("intake"))
    client = client_as("intake")
    data = intake_post(token_of(client.get(reverse("staff:application_new"))))
    data[f"duplicate_{earlier.pk}_decision"] = "dismissed"
    data["category_dibao"] = "on"
    data["evidence_file_dibao"] = SimpleUploadedFile("dibao.png", PNG, content_type="image/png")
    response = client.post(reverse("staff:application_new"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[f"duplicate_{earlier.pk}_note"] == ["a note is required"]
    assert Application.objects.count() == 1  # only the earlier one
    assert not DuplicateReview.objects.exists()
    evidence = settings.MEDIA_ROOT / "evidence"
    assert not evidence.exists() or not any(evidence.iterdir())  # no orphaned file either


def test_a_person_with_an_open_application_is_refused_naming_it(homes):
    open_one = submitted_application(choices=["YX01"])
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), id_number=open_one.applicant.id_number),
    )
    assert response.status_code == 200
    assert open_one.reference in " ".join(response.context["form"].errors["id_number"])
    assert Application.objects.count() == 1


def test_nonsense_input_never_gives_a_server_error(homes):
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        {"name": "x" * 500, "date_of_birth": "2026-02-30", "id_number": "<script>", "choice_1": "NOPE", "sex": "Q"},
    )
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
    assert not Application.objects.exists()


# --- one application ----------------------------------------------------------------------------------
def test_the_application_page_shows_the_full_id_number_and_the_timeline_to_intake(homes):
    application = submitted_application(choices=["YX01"])
    response = client_as("intake").get(reverse("staff:application", args=[application.reference]))
    assert response.status_code == 200
    page = response.content.decode()
    assert application.applicant.id_number in page
    assert "registered" in page and "submitted" in page
    assert "Accept for assessment" in page and "Reject" in page
    assert page.count("<h1") == 1


def test_the_application_page_shows_each_message_to_the_family_by_channel_with_its_status_and_attempts(homes):
    """R-OFF-6: staff see every notification: channel, recipient, status, attempts, the last error."""
    application = submitted_application(choices=["YX01"], language="en", contact_email="family@example.com")
    application.notifications.filter(channel="sms").update(status="sent", attempts=1, sent_at=timezone.now())
    application.notifications.filter(channel="email").update(
        attempts=3, last_error="SMTP 554 (SMTPDataError)", next_attempt_at=timezone.now()
    )
    page = client_as("intake").get(reverse("staff:application", args=[application.reference])).content.decode()
    section = page[page.index('id="notifications-heading"') :]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    sms = next(row for row in rows if "13900000000" in row)
    email = next(row for row in rows if "family@example.com" in row)
    assert "SMS" in sms and "sent" in sms and '<td class="num">1</td>' in sms
    assert "email" in email and "pending" in email and "next attempt" in email
    assert "SMTP 554 (SMTPDataError)" in email and '<td class="num">3</td>' in email
    assert f"Application {application.reference} is now" in email  # in the applicant's language


def test_an_assessor_sees_the_id_number_masked_and_no_intake_buttons(homes):
    application = submitted_application(choices=["YX01"])
    page = client_as("assessor").get(reverse("staff:application", args=[application.reference])).content.decode()
    assert application.applicant.masked_id_number in page
    assert application.applicant.id_number not in page
    assert "Accept for assessment" not in page


def test_an_unknown_reference_is_404(homes):
    assert client_as("intake").get(reverse("staff:application", args=["2026-999999"])).status_code == 404


def test_a_queued_application_shows_its_positions_with_the_score_breakdown(homes):
    application = queued_application(choices=["YX01"], lives_alone=True)
    page = client_as("reviewer").get(reverse("staff:application", args=[application.reference])).content.decode()
    # Story 2: 20 (care) + 5 (age 85) + 3 (lives alone) = 28.
    assert "care need 20 + age 5 + family 3 + waiting time 0" in page
    assert ">28<" in page
    assert "not enough history yet" in page


def test_intake_accepts_a_submitted_application_for_assessment(homes):
    application = submitted_application(choices=["YX01"])
    client = client_as("intake")
    url = reverse("staff:application_transition", args=[application.reference, "accept-for-assessment"])
    assert f'action="{url}"' in client.get(reverse("staff:application", args=[application.reference])).content.decode()
    response = client.post(url, {"form_token": "t-accept"})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "assessment_pending"
    event = application.events.last()
    assert event.transition == "accept_for_assessment" and event.actor_name.startswith("intake")


def test_rejecting_without_a_reason_is_refused_on_the_reason_field_and_changes_nothing(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "reject"])
    response = client_as("intake").post(url, {"form_token": "t-reject", "reason": "  "})
    assert response.status_code == 200
    assert "is required for this transition" in response.content.decode()
    assert "id_reject_reason_error" in response.content.decode()
    application.refresh_from_db()
    assert application.state == "submitted"
    assert not application.events.filter(transition="reject").exists()


def test_a_transition_keeps_the_typed_reason_when_refused(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "suspend"])
    response = client_as("intake").post(url, {"form_token": "t-suspend", "reason": "in hospital"})
    assert response.status_code == 200  # suspend is possible only while waiting
    page = response.content.decode()
    assert "not possible while the application is submitted" in page
    assert "in hospital" in page
    application.refresh_from_db()
    assert application.state == "submitted"


def test_a_double_post_of_a_transition_acts_once(homes):
    application = queued_application(choices=["YX01"])
    client = client_as("reviewer")
    url = reverse("staff:application_transition", args=[application.reference, "suspend"])
    first = client.post(url, {"form_token": "same-token", "reason": "in hospital"})
    second = client.post(url, {"form_token": "same-token", "reason": "in hospital"})
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert ApplicationEvent.objects.filter(application=application, transition="suspend").count() == 1
    application.refresh_from_db()
    assert application.state == "suspended"


def test_a_role_that_may_not_take_a_transition_gets_403_and_nothing_changes(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "reject"])
    response = client_as("assessor").post(url, {"form_token": "t", "reason": "no"})
    assert response.status_code == 403
    application.refresh_from_db()
    assert application.state == "submitted"


def test_a_reviewer_removes_an_application_with_a_reason_code(homes):
    application = queued_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "remove"])
    refused = client_as("reviewer").post(url, {"form_token": "t-1", "reason": "bored"})
    assert refused.status_code == 200
    assert "id_remove_reason_error" in refused.content.decode()
    response = client_as("reviewer").post(
        url, {"form_token": "t-2", "reason": "deceased", "note": "hospital notice", "confirm": "yes"}
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "removed" and application.closing_reason == "deceased"


def test_a_refused_removal_keeps_the_typed_note(homes):
    application = queued_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "remove"])
    response = client_as("reviewer").post(url, {"form_token": "t-1", "reason": "", "note": "moved to Shenzhen"})
    assert response.status_code == 200
    assert "moved to Shenzhen</textarea>" in response.content.decode()
    application.refresh_from_db()
    assert application.state == "waiting"


def test_a_transition_is_post_only(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "reject"])
    assert client_as("intake").get(url).status_code == 405


def test_a_new_lookup_code_ends_the_old_one_and_is_shown_on_the_receipt(homes):
    application, old_code = app_services.application_create(
        data=intake(choices=["YX01"]), submit=True, actor=actor("intake")
    )
    client = client_as("intake")
    response = client.post(reverse("staff:lookup_code", args=[application.reference]), {"form_token": "t-code"})
    assert_receipt(response)
    page = response.content.decode()
    new_code = re.search(r'class="big mono lookup-code">([A-Z0-9]{6})<', page).group(1)
    application.refresh_from_db()
    assert lookup_code_matches(application, new_code)
    assert not lookup_code_matches(application, old_code)
    assert application.events.filter(transition="lookup_code_issued").count() == 1
    again = client.post(reverse("staff:lookup_code", args=[application.reference]), {"form_token": "t-code"})
    assert again["Location"] == reverse("staff:receipt", args=[application.reference])
    assert new_code not in client.get(again["Location"]).content.decode()
    assert application.events.filter(transition="lookup_code_issued").count() == 1
    assert client_as("reviewer").post(reverse("staff:lookup_code", args=[application.reference])).status_code == 403


def test_a_possible_duplicate_found_later_is_reviewed_on_the_application_page(homes):
    earlier = submitted_application(choices=["YX01"], phone="13711112222")
    app_services.application_withdraw(application=earlier, reason="withdrawn", actor=actor("intake"))
    later = submitted_application(choices=["YX01"], name="陈秀", date_of_birth=dt.date(1942, 2, 2), phone="13711112222")
    client = client_as("intake")
    page = client.get(reverse("staff:application", args=[later.reference])).content.decode()
    assert earlier.reference in page and "same phone" in page
    url = reverse("staff:duplicate_review", args=[later.reference])
    base = {"other_reference": earlier.reference, "match": "phone", "decision": "dismissed"}
    refused = client.post(url, {**base, "form_token": "d-1", "note": ""})
    assert refused.status_code == 200 and "a note is required" in refused.content.decode()
    assert not DuplicateReview.objects.exists()
    done = client.post(url, {**base, "form_token": "d-2", "note": "her sister, shares the phone"})
    assert done.status_code == 302
    assert DuplicateReview.objects.get().decision == "dismissed"


def test_the_page_links_a_reviewer_to_the_review_page_when_it_exists(homes):
    application = submitted_application(choices=["YX01"])
    app_services.application_accept_for_assessment(application=application, actor=actor("intake"))
    asm_services.assessment_create(
        application=application,
        assessed_on=timezone.localdate(),
        items=items_with_total(58),
        coma=False,
        complete=True,
        actor=actor("assessor"),
    )
    page = client_as("reviewer").get(reverse("staff:application", args=[application.reference])).content.decode()
    assert "Return for assessment" in page
    try:
        review = reverse("staff:review", args=[application.reference])
    except NoReverseMatch:  # the review page is another page's; without it there is simply no link
        review = None
    if review:
        assert review in page


def test_the_offer_is_linked_from_an_offered_application(homes):
    add_beds(homes["YX01"], nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    application.refresh_from_db()
    assert application.state == "offered"
    page = (
        client_as("facility", facility=homes["YX01"])
        .get(reverse("staff:application", args=[application.reference]))
        .content.decode()
    )
    assert "Open the offer at" in page
    assert application.notifications.exists()
    assert "Messages sent to the family" in page


def test_the_receipt_is_for_intake_only(homes):
    application = submitted_application(choices=["YX01"])
    assert client_as("reviewer").get(reverse("staff:receipt", args=[application.reference])).status_code == 403
    response = client_as("intake").get(reverse("staff:receipt", args=[application.reference]))
    assert response.status_code == 200
    assert "查询码仅在发放后显示一次" in response.content.decode()  # the family's language (issue 15)


def test_the_districts_are_data_named_in_the_page_language(homes):
    page = client_as("intake").get(reverse("staff:application_new")).content.decode()
    assert district("yuexiu").name_en in page


def confirm_twice_acts_once(client, url, data, application, transition):
    """The confirmation page's POST, sent twice (a double click): the act is done once."""
    for _ in range(2):
        assert client.post(url, {**data, "confirm": "yes"}).status_code == 302
    application.refresh_from_db()
    assert application.state == {"withdraw": "withdrawn", "reject": "rejected"}[transition]
    assert application.events.filter(transition=transition).count() == 1


# --- confirmation before a withdrawal (issue 15; R-OFF-5) --------------------------------------------
def test_the_first_withdraw_post_changes_nothing_and_says_the_application_leaves_every_queue(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "withdraw"])
    client = client_as("intake")
    with translation.override("en"):
        response = client.post(url, {"form_token": "t-withdraw", "reason": "moved away"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "The application closes and leaves every queue it is in" in page
    assert "This is not a refusal and sets no bar" in page
    assert "counts as declining" not in page
    assert 'name="confirm" value="yes"' in page and "moved away" in page
    application.refresh_from_db()
    assert application.state == "submitted"
    confirm_twice_acts_once(client, url, {"form_token": "t-withdraw", "reason": "moved away"}, application, "withdraw")


def test_withdrawing_with_a_pending_offer_says_it_counts_as_a_decline_with_the_count_r_off_5(homes):
    add_beds(Facility.objects.get(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    assert application.offers.filter(state="pending").exists()
    url = reverse("staff:application_transition", args=[application.reference, "withdraw"])
    with translation.override("en"):
        page = client_as("intake").post(url, {"form_token": "t-w2", "reason": "moved away"}).content.decode()
    assert "withdrawing counts as declining it" in page
    assert f"refusal 1 of {spec.REFUSAL_LIMIT} allowed in {spec.REFUSAL_WINDOW_DAYS} days (now 0)" in page
    assert "The bed goes to the next person in the queue." in page
    application.refresh_from_db()
    assert application.offers.filter(state="pending").exists()


def test_withdrawing_after_accepting_says_it_counts_as_not_coming_and_at_the_limit_the_bar_r_off_5(homes, monkeypatch):
    """R-OFF-5: a withdrawal after accepting counts as a no-show; the person already has limit - 1
    refusals in the window (the selector's count, set here), so this one removes and bars."""
    from admissions.services.offers import offer_accept
    from web import confirmation

    add_beds(Facility.objects.get(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    offer = offer_accept(offer=application.offers.get(state="pending"), actor=actor("intake"))
    monkeypatch.setattr(confirmation, "refusals_of_person", lambda application, **kwargs: spec.REFUSAL_LIMIT - 1)
    url = reverse("staff:application_transition", args=[application.reference, "withdraw"])
    with translation.override("en"):
        page = client_as("intake").post(url, {"form_token": "t-w3", "reason": "moved away"}).content.decode()
    assert f"It has accepted the offer of bed {offer.bed.code}" in page and "counts as not coming" in page
    assert f"refusal {spec.REFUSAL_LIMIT} of {spec.REFUSAL_LIMIT} allowed" in page
    assert f"cannot apply again for {spec.BAR_DAYS} days" in page
    assert "The bed goes to the next person in the queue." in page
    assert "This is not a refusal" not in page
    offer.refresh_from_db()
    assert offer.state == "accepted"


# --- confirmation before a rejection or a removal (issue 15; SPEC §5, R-CPL-2) -------------------------
def test_the_first_reject_post_changes_nothing_and_says_it_closes_the_application_without_a_bar(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "reject"])
    client = client_as("intake")
    with translation.override("en"):
        response = client.post(url, {"form_token": "t-reject", "reason": "not resident"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Check before rejecting the application" in page
    assert "The application is rejected and closes." in page and "sets no bar" in page
    assert 'name="confirm" value="yes"' in page and 'value="t-reject"' in page and "not resident" in page
    application.refresh_from_db()
    assert application.state == "submitted" and not application.events.filter(transition="reject").exists()
    confirm_twice_acts_once(client, url, {"form_token": "t-reject", "reason": "not resident"}, application, "reject")


def test_the_first_removal_post_says_the_live_offer_goes_to_the_next_person_and_changes_nothing(homes):
    add_beds(Facility.objects.get(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    offer = application.offers.get(state="pending")
    url = reverse("staff:application_transition", args=[application.reference, "remove"])
    with translation.override("en"):
        response = client_as("reviewer").post(url, {"form_token": "t-rm", "reason": "ineligible", "note": "moved"})
    page = response.content.decode()
    assert "Check before removing the application" in page
    assert "leaves every queue it is in" in page
    assert f"Its live offer of bed {offer.bed.code}" in page and "without counting as a refusal" in page
    assert "No bar is set" in page
    assert 'name="reason" value="ineligible"' in page and 'name="note" value="moved"' in page
    application.refresh_from_db()
    offer.refresh_from_db()
    assert application.state == "offered" and offer.state == "pending"


def test_removing_a_deceased_applicant_names_no_bar_and_a_couple_is_told_the_link_ends_r_cpl_2(homes):
    from admissions.services.couples import couple_link

    wife = queued_application(choices=["YX01"], name="张秀兰", sex="F")
    husband = queued_application(choices=["YX01"], name="王建国", sex="M")
    couple_link(
        applications=[wife.reference, husband.reference], mode="either_first", reason="x", actor=actor("intake")
    )
    url = reverse("staff:application_transition", args=[wife.reference, "remove"])
    with translation.override("en"):
        page = html.unescape(
            client_as("reviewer").post(url, {"form_token": "t", "reason": "deceased"}).content.decode()
        )
    assert f"The link with the spouse's application {husband.reference} ends" in page
    assert "No bar is set" not in page and "live offer" not in page


def test_an_incomplete_removal_skips_the_confirmation_and_names_the_field(homes):
    application = queued_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "remove"])
    page = client_as("reviewer").post(url, {"form_token": "t", "reason": ""}).content.decode()
    assert 'name="confirm" value="yes"' not in page and "id_remove_reason_error" in page


def test_the_removal_confirmation_is_in_chinese(homes):
    application = queued_application(choices=["YX01"])
    with translation.override("zh-hans"):
        url = reverse("staff:application_transition", args=[application.reference, "remove"])
        page = client_as("reviewer").post(url, {"form_token": "t", "reason": "other"}).content.decode()
    assert "移出轮候前请核对" in page and "不设禁止申请期" in page


# --- one primary action per state (issue 15) ------------------------------------------------------------
PRIMARY = re.compile(r'<(?:a|button)[^>]*class="(?:button )?primary"[^>]*>([^<]*)<')


def actions_panel(client: Client, application) -> str:
    page = client.get(reverse("staff:application", args=[application.reference])).content.decode()
    return html.unescape(page.split('id="actions-heading"')[1].split("</section>")[0])


def closing_group(panel: str) -> str:
    return panel.split('<details class="closing"')[1].split("</details>")[0]


def test_a_reviewer_in_review_has_the_approval_as_the_one_primary_action_and_the_closing_acts_apart(homes):
    application = reviewed_application(choices=["YX01"])
    with translation.override("en"):
        panel = actions_panel(client_as("reviewer"), application)
    assert PRIMARY.findall(panel) == ["Review the assessment and approve into the queue"]
    closing = closing_group(panel)
    for label in ("Reject", "Withdraw", "Remove from the waiting list"):
        assert f">{label}</button>" in closing
    assert "Return for assessment</button>" in panel and "Return for assessment</button>" not in closing
    assert panel.index("approve into the queue") < panel.index('<details class="closing"')


def test_intake_on_a_submitted_application_has_accept_for_assessment_as_the_one_primary_action(homes):
    application = submitted_application(choices=["YX01"])
    with translation.override("en"):
        panel = actions_panel(client_as("intake"), application)
    assert PRIMARY.findall(panel) == ["Accept for assessment"]
    assert ">Reject</button>" in closing_group(panel) and ">Withdraw</button>" in closing_group(panel)
    assert '<details class="closing" open' not in panel


def test_a_suspended_application_has_resume_as_the_one_primary_action(homes):
    application = app_services.application_suspend(
        application=queued_application(choices=["YX01"]), reason="in hospital", actor=actor("reviewer")
    )
    with translation.override("en"):
        panel = actions_panel(client_as("reviewer"), application)
    assert PRIMARY.findall(panel) == ["Resume"]


def test_an_offered_application_has_the_offer_as_the_one_primary_action(homes):
    add_beds(Facility.objects.get(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01"])
    with translation.override("en"):
        panel = actions_panel(client_as("intake"), application)
    assert PRIMARY.findall(panel) == [f"Open the offer at {homes['YX01'].name}"]


def test_a_refused_closing_act_shows_its_group_open_with_the_error(homes):
    application = submitted_application(choices=["YX01"])
    url = reverse("staff:application_transition", args=[application.reference, "reject"])
    page = client_as("intake").post(url, {"form_token": "t", "reason": " "}).content.decode()
    assert '<details class="closing" open>' in page and "id_reject_reason_error" in closing_group(page)


def test_a_facility_officer_of_another_home_is_not_shown_the_link_to_the_offer(homes):
    """Issue 15: no link a role may not open (the offer page refuses another home's officer)."""
    add_beds(Facility.objects.get(code="YX01"), nursing=1, status="vacant")
    application = queued_application(choices=["YX01", "GZ01"])
    offer = application.offers.get(state="pending")
    page = client_as("facility", facility=homes["GZ01"]).get(reverse("staff:application", args=[application.reference]))
    assert page.status_code == 200
    assert reverse("staff:offer", args=[offer.pk]) not in page.content.decode()
    own = client_as("facility", facility=homes["YX01"]).get(reverse("staff:application", args=[application.reference]))
    assert reverse("staff:offer", args=[offer.pk]) in own.content.decode()
