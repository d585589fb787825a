"""The intake form's homes and evidence (issue 15): the lists offer only the homes the applicant may
choose (R-APP-7, read with R-APP-3's exemption), updated by htmx when the district changes; a home
outside R-APP-7 posted by hand is still refused by the service on its field; a draft is saved
without the eligibility checks (R-CHG-1); each category's evidence appears once its box is ticked.

The browser side (the swap, the reveal) is in tests/e2e/test_intake_form.py."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from admissions.models import Application
from tests.admissions.test_views_applications import BORN, client_as, intake_post, token_of
from tests.factories import FacilityFactory, district, id_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def homes():
    """A city-level home, a district home in 越秀 and one in 海珠, one 越秀 home not accepting."""
    return {
        "GZ01": FacilityFactory(code="GZ01", name="广州市老人院", level="city", district=district("yuexiu")),
        "YX01": FacilityFactory(code="YX01", name="越秀区福利院", level="district", district=district("yuexiu")),
        "HZ01": FacilityFactory(code="HZ01", name="海珠区福利院", level="district", district=district("haizhu")),
        "YX09": FacilityFactory(
            code="YX09", name="越秀区旧院", level="district", district=district("yuexiu"), accepting_applications=False
        ),
    }


def offered(page: str, field: str = "choice_1") -> set[str]:
    """The home codes a choice's list offers on a rendered page."""
    select = re.search(rf'<select name="{field}".*?</select>', page, re.S)
    assert select, f"the page has the list {field}"
    return set(re.findall(r'<option value="([^"]+)"', select.group(0)))


def homes_part(client, **query) -> str:
    response = client.get(reverse("staff:intake_homes"), query, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_before_a_district_is_chosen_only_city_level_homes_are_offered(homes):
    page = client_as("intake").get(reverse("staff:application_new")).content.decode()
    assert offered(page, "choice_1") == offered(page, "choice_2") == {"GZ01"}
    assert f'hx-get="{reverse("staff:intake_homes")}"' in page, re.findall(r"hx-get=\S+", page)
    assert 'id="homes-chosen"' in page


def test_the_homes_of_the_hukou_district_are_offered_and_no_other_district_s(homes):
    """R-APP-7: a district-level choice must be in the applicant's hukou district; homes not
    accepting applications are not offered."""
    client = client_as("intake")
    assert offered(homes_part(client, hukou_district="yuexiu")) == {"GZ01", "YX01"}
    assert offered(homes_part(client, hukou_district="haizhu")) == {"GZ01", "HZ01"}


def test_under_the_exemption_the_residence_district_s_homes_are_offered(homes):
    """R-APP-3: with a hukou outside the city, the residence district stands in for R-APP-7."""
    part = homes_part(client_as("intake"), hukou_district="other", residence_district="haizhu")
    assert offered(part) == {"GZ01", "HZ01"}
    # With a hukou in the city the residence district does not widen the choice.
    part = homes_part(client_as("intake"), hukou_district="yuexiu", residence_district="haizhu")
    assert offered(part) == {"GZ01", "YX01"}


def test_a_chosen_home_the_new_district_does_not_allow_is_taken_off_and_named(homes):
    part = homes_part(
        client_as("intake"), hukou_district="haizhu", choice_1="GZ01", choice_2="YX01", spouse_resident_2="on"
    )
    assert "Not open to an applicant of this district, so taken off the choices:" in part
    assert "<li>越秀区福利院</li>" in part
    assert re.search(r'<option value="GZ01" selected>', part)  # the city-level choice stays
    assert (
        "YX01" not in offered(part, "choice_2")
        and 'name="spouse_resident_2" id="id_spouse_resident_2" checked' not in part
    )


def test_the_homes_part_is_for_staff_who_fill_the_intake_form_only(homes):
    assert client_as("facility", facility=homes["GZ01"]).get(reverse("staff:intake_homes")).status_code == 403
    assert client_as("intake").post(reverse("staff:intake_homes")).status_code == 405


def test_a_home_of_another_district_posted_by_hand_is_refused_on_its_field(homes):
    """R-APP-7 stays the service's: the list's filter is no check, a hand-made POST names the field."""
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), choice_2="HZ01"),
    )
    assert response.status_code == 200
    assert response.context["form"].errors["choice_2"] == [
        "a district-level home must be in the applicant's own district"
    ]
    assert not Application.objects.exists()


def test_a_home_not_accepting_applications_posted_by_hand_is_refused_in_words(homes):
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), choice_2="YX09"),
    )
    assert response.context["form"].errors["choice_2"] == ["this home is not accepting applications"]
    assert not Application.objects.exists()


def test_a_draft_is_saved_without_the_eligibility_checks_and_keeps_its_home(homes):
    """R-CHG-1: under age, no declarations, a home outside R-APP-7: saved as a draft all the same;
    finishing it lists the stored home (not silently dropped), and submitting names each rule."""
    client = client_as("intake")
    young = BORN.replace(year=2000)
    data = intake_post(
        token_of(client.get(reverse("staff:application_new"))),
        action="draft",
        id_number=id_number(young, sex="F"),
        date_of_birth=young.isoformat(),
        no_infectious_disease=None,
        no_serious_mental_disorder=None,
        choice_2="HZ01",
    )
    assert client.post(reverse("staff:application_new"), data).status_code == 200
    application = Application.objects.get()
    assert application.state == "draft"
    page = client.get(reverse("staff:application_correct", args=[application.reference])).content.decode()
    assert "HZ01" in offered(page, "choice_2") and re.search(r'<option value="HZ01" selected>', page)
    assert "HZ01" not in offered(page, "choice_1")  # offered only where it was chosen
    finish = {
        **data,
        "form_token": token_of(client.get(reverse("staff:application_correct", args=[application.reference]))),
        "version": application.version,
        "action": "submit",
    }
    response = client.post(reverse("staff:application_correct", args=[application.reference]), finish)
    errors = response.context["form"].errors
    assert errors["choice_2"] == ["a district-level home must be in the applicant's own district"]
    assert errors["date_of_birth"] == ["the applicant must be at least 60 on the application date"]
    assert "no_infectious_disease" in errors
    application.refresh_from_db()
    assert application.state == "draft"


def test_each_category_s_evidence_is_tied_to_its_box(homes):
    """The evidence block of a category is revealed by ticking its box (CSS :has, no script):
    the box controls the block, and a block with an error is rendered open."""
    page = client_as("intake").get(reverse("staff:application_new")).content.decode()
    for code in ("tekun", "dibao", "low_income", "youfu", "family_planning_special", "model_worker", "heroic_deed"):
        assert f'aria-controls="evidence-{code}"' in page
        assert f'<div class="row evidence" id="evidence-{code}">' in page
    client = client_as("intake")
    response = client.post(
        reverse("staff:application_new"),
        intake_post(token_of(client.get(reverse("staff:application_new"))), category_dibao="on"),
    )
    assert '<div class="category has-error">' in response.content.decode()


def test_garbage_in_the_homes_part_s_query_is_no_error(homes):
    """R-SEC-1: unknown and overlong codes give the city-level homes; a NUL byte is a 400, never a 500."""
    part = homes_part(client_as("intake"), hukou_district="nowhere", residence_district="x" * 500, choice_1="?" * 99)
    assert offered(part) == {"GZ01"}
    response = client_as("intake").get(reverse("staff:intake_homes"), {"hukou_district": "yue\x00xiu"})
    assert response.status_code == 400
