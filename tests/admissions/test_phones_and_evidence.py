"""R-SEC-9: phone numbers validated and stored normalised (phonenumbers), refused with a field error
in both languages in the forms and the API; R-SEC-7: evidence files stored under a random name with
the extension of the type sniffed from their content, served only to staff with nosniff. And the
data migration that brings what was stored before up to both rules."""

from __future__ import annotations

import re
from importlib import import_module

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from admissions.models import Applicant, Application, CategoryClaim
from admissions.services import applications as app_services
from core.errors import InvalidInput
from tests.admissions.test_views_applications import client_as, intake_post, token_of
from tests.api.helpers import assert_problem, url
from tests.api.helpers import client_as as api_client_as
from tests.api.test_applications import new_body
from tests.factories import FacilityFactory, actor, intake

pytestmark = pytest.mark.django_db
MIGRATION = import_module("admissions.migrations.0015_normalise_phones_and_evidence_names")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
RANDOM_NAME = r"evidence/[0-9a-f]{32}"


@pytest.fixture
def homes():
    return {
        "GZ01": FacilityFactory(code="GZ01", level="city"),
        "YX01": FacilityFactory(code="YX01", level="district"),
    }


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


# --- R-SEC-9 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13812345678", "13812345678"),  # mainland mobile
        ("138 1234 5678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("020-12345678", "02012345678"),  # landline with its area code
        ("(020) 8888 6666", "02088886666"),
        ("0755-12345678", "075512345678"),
        ("+852 9123 4567", "+85291234567"),  # international
        ("00852 9123 4567", "+85291234567"),
        ("+1 650 253 0000", "+16502530000"),
        ("", ""),
    ],
)
def test_phones_are_stored_in_one_normal_form(homes, typed, stored):
    application, _ = app_services.application_create(
        data=intake(choices=["YX01"], phone=typed, contact_phone=typed), submit=True, actor=actor("intake")
    )
    application.refresh_from_db()
    assert application.applicant.phone == stored
    assert application.contact_phone == stored


@pytest.mark.parametrize("bad", ["=1+1", "<script>alert(1)</script>", "12345678", "1234", "+86 123", "13812345678 x9"])
def test_what_is_not_a_phone_number_is_refused_on_its_field_and_nothing_is_stored(homes, bad):
    with pytest.raises(InvalidInput) as caught:
        app_services.application_create(
            data=intake(choices=["YX01"], phone=bad, contact_phone=bad), submit=True, actor=actor("intake")
        )
    errors = caught.value.errors
    assert "phone number" in errors["applicant.phone"][0] and "phone number" in errors["contact.phone"][0]
    assert not Application.objects.exists() and not Applicant.objects.exists()


def test_the_phone_error_is_in_chinese_too(homes):
    with translation.override("zh-hans"), pytest.raises(InvalidInput) as caught:
        app_services.application_create(data=intake(choices=["YX01"], phone="=1+1"), submit=True, actor=actor("intake"))
    assert has_chinese(caught.value.errors["applicant.phone"][0])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_intake_form_refuses_a_formula_or_a_script_on_the_phone_fields(homes, language):
    client = client_as("intake")
    with translation.override(language):
        page = reverse("staff:application_new")
    token = token_of(client.get(page))
    response = client.post(page, intake_post(token, phone="=1+1", contact_phone="<script>x</script>"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"phone", "contact_phone"}
    assert "13812345678" in errors["phone"][0] and (has_chinese(errors["phone"][0]) == (language == "zh-hans"))
    assert not Application.objects.exists()


def test_the_api_names_contact_phone_and_applicant_phone():
    FacilityFactory(code="YX01", level="district")
    FacilityFactory(code="GZC01", level="city")
    intake_officer = api_client_as("intake")
    body = new_body()
    body["contact"]["phone"] = "=1+1"
    body["applicant"]["phone"] = "<script>"
    problem = assert_problem(
        intake_officer.post(url("applications/"), body, format="json"), 400, "contact.phone", "applicant.phone"
    )
    assert "13812345678" in problem["errors"]["contact.phone"][0]
    zh = intake_officer.post(url("applications/"), body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert has_chinese(assert_problem(zh, 400, "contact.phone")["errors"]["contact.phone"][0])
    assert not Application.objects.exists()


def test_the_migration_normalises_stored_phones_where_it_can(homes):
    application, _ = app_services.application_create(data=intake(choices=["YX01"]), submit=True, actor=actor("intake"))
    Applicant.objects.filter(pk=application.applicant_id).update(phone="+86 138 0000 0009")
    Application.objects.filter(pk=application.pk).update(contact_phone="=1+1")
    MIGRATION.normalise_phones(apps, None)
    application.refresh_from_db()
    assert application.applicant.phone == "13800000009"
    assert application.contact_phone == "=1+1"  # not a phone number: left for intake to correct


# --- R-SEC-7 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "extension"),
    [("certificate.html", PNG, ".png"), ("scan.svg", PDF, ".pdf"), ("photo.PNG", JPEG, ".jpg"), ("x", PDF, ".pdf")],
)
def test_evidence_is_stored_under_a_random_name_with_the_sniffed_extension(homes, name, content, extension):
    upload = SimpleUploadedFile(name, content, content_type="text/html")
    application, _ = app_services.application_create(
        data=intake(choices=["YX01"], categories=[{"code": "dibao", "evidence_file": upload}]),
        submit=True,
        actor=actor("intake"),
    )
    stored = application.category_claims.get().evidence_file.name
    assert re.fullmatch(RANDOM_NAME + re.escape(extension), stored), stored


def test_evidence_is_served_only_to_staff_with_its_sniffed_type_and_nosniff(homes):
    upload = SimpleUploadedFile("page.html", PNG, content_type="text/html")
    application, _ = app_services.application_create(
        data=intake(choices=["YX01"], categories=[{"code": "dibao", "evidence_file": upload}]),
        submit=True,
        actor=actor("intake"),
    )
    path = reverse("staff:evidence", args=[application.category_claims.get().pk])
    response = client_as("intake").get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline") and ".png" in response["Content-Disposition"]
    assert client_as("facility", facility=homes["YX01"]).get(path).status_code == 403
    assert client_as("assessor").get(path).status_code == 403
    anonymous = Client().get(path)
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]


def test_a_stored_file_whose_content_is_none_of_the_types_is_only_an_attachment(homes):
    application, _ = app_services.application_create(
        data=intake(choices=["YX01"], categories=[{"code": "dibao", "evidence": "证明 1"}]),
        submit=True,
        actor=actor("intake"),
    )
    claim = application.category_claims.get()
    claim.evidence_file.save("legacy.html", ContentFile(b"<script>alert(1)</script>"))
    response = client_as("reviewer").get(reverse("staff:evidence", args=[claim.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_migration_moves_old_files_to_random_names_with_the_sniffed_extension(homes, settings):
    from django.core.files.storage import default_storage

    application, _ = app_services.application_create(
        data=intake(choices=["YX01"], categories=[{"code": "dibao", "evidence": "证明 1"}]),
        submit=True,
        actor=actor("intake"),
    )
    claim = application.category_claims.get()
    old = default_storage.save("evidence/chen-dibao.html", ContentFile(PNG))
    CategoryClaim.objects.filter(pk=claim.pk).update(evidence_file=old)
    MIGRATION.rename_evidence_files(apps, None)
    claim.refresh_from_db()
    assert re.fullmatch(RANDOM_NAME + r"\.png", claim.evidence_file.name)
    assert not default_storage.exists(old)
    with claim.evidence_file.open("rb") as handle:
        assert handle.read() == PNG
    before = claim.evidence_file.name
    MIGRATION.rename_evidence_files(apps, None)  # idempotent: a good name stays
    claim.refresh_from_db()
    assert claim.evidence_file.name == before


def test_the_admin_contact_edit_refuses_a_formula_and_stores_a_phone_normalised(homes, admin_client):
    """R-SEC-9: the Django admin's one edit of an application follows the same rule."""
    application, _ = app_services.application_create(data=intake(choices=["YX01"]), submit=True, actor=actor("intake"))
    path = reverse("admin:admissions_application_change", args=[application.pk])
    form = {"contact_name": "李小红", "contact_relation": "女儿", "_save": "Save"}
    refused = admin_client.post(path, {**form, "contact_phone": "=1+1"})
    assert refused.status_code == 200
    assert "phone number" in str(refused.context["adminform"].form.errors["contact_phone"])
    application.refresh_from_db()
    assert application.contact_name != "李小红"
    accepted = admin_client.post(path, {**form, "contact_phone": "+86 137 0000 0000"})
    assert accepted.status_code == 302
    application.refresh_from_db()
    assert application.contact_phone == "13700000000"
