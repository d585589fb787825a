"""STORIES 1, 2, 4 and 5 in a real browser: one application from the intake form to admission, each
step by the role that does it, each user in their own browser context, logged in through the login
page. Every page visited is screenshotted and checked by axe (issue 4: no serious or critical
WCAG 2.1 AA violation). Pages are in Chinese, the default language; the selectors name fields, ids
and form actions rather than translated words.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from admissions.models import Application, Offer
from assessments.models import Assessment
from facilities.models import Bed
from facilities.roles import roles_assign
from tests.e2e.conftest import check_page
from tests.factories import FacilityFactory, UserFactory, add_beds, district, id_number, items_with_total
from web.forms.assessments import item_field_name

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def _chinese_urls():
    """The staff pages in their default language: reverse() without the /en/ prefix (the tests'
    conftest makes English the language of the test thread)."""
    with translation.override("zh-hans"):
        yield


def staff_user(username: str, roles: list[str], facility=None):
    user = UserFactory(username=username)
    user.set_password(PASSWORD)
    user.save()
    roles_assign(user=user, roles=roles, facility=facility)
    return user


def logged_in(page_factory, live_server, username: str):
    """A new browser context for this user, logged in through the login page."""
    page = page_factory()
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(reverse("staff:dashboard")) + "$"))
    return page


def visit(page, live_server, path: str, name: str):
    page.goto(live_server.url + path)
    expect(page.locator("main h1").first).to_be_visible()
    check_page(page, name)


def eighty_five_today() -> dt.date:
    """A birth date that makes the applicant 85 today (STORIES 1: Mrs Chen, 85)."""
    today = timezone.localdate()
    return dt.date(today.year - 85, 1, 1)


def test_one_application_from_the_intake_form_to_admission(live_server, page_factory):
    # --- the homes and the staff ----------------------------------------------------------------
    city_home = FacilityFactory(
        code="GZC01", name="广州市老人院", level="city", district=district("tianhe"), address="天河区 1 号"
    )
    district_home = FacilityFactory(
        code="YX01", name="越秀区老人院", level="district", district=district("yuexiu"), address="越秀区 2 号"
    )
    add_beds(city_home, nursing=2)  # full: approval offers nothing there
    add_beds(district_home, nursing=8, general=1)  # full until a resident leaves
    staff_user("e2e-intake", ["intake"])
    staff_user("e2e-assessor", ["assessor"])
    staff_user("e2e-reviewer", ["reviewer"])
    staff_user("e2e-facility", ["facility"], facility=district_home)
    admin = staff_user("e2e-admin", ["admin"])

    # --- STORIES 1: the intake officer registers Mrs Chen -------------------------------------------
    intake = logged_in(page_factory, live_server, "e2e-intake")
    check_page(intake, "intake-dashboard")
    visit(intake, live_server, reverse("staff:application_new"), "intake-form")

    born = eighty_five_today()
    valid = id_number(born, sex="F")
    mistyped = valid[:-1] + ("7" if valid[-1] != "7" else "1")  # the check character typed wrong
    intake.fill("#id_name", "陈秀英")
    intake.fill("#id_id_number", mistyped)
    expect(intake.locator("#id-check .id-bad")).to_be_visible()
    intake.fill("#id_id_number", valid)
    expect(intake.locator("#id-check .id-ok")).to_be_visible()
    expect(intake.locator("#id_date_of_birth")).to_have_value(born.isoformat())
    expect(intake.locator("#id_sex")).to_have_value("F")
    check_page(intake, "intake-form-id-checked")

    intake.fill("#id_phone", "13800000000")
    intake.select_option("#id_hukou_district", "yuexiu")
    intake.select_option("#id_residence_district", "yuexiu")
    intake.fill("#id_address", "越秀区 1 号")
    intake.check("#id_lives_alone")
    intake.fill("#id_contact_name", "陈女士")
    intake.fill("#id_contact_relation", "女儿")
    intake.fill("#id_contact_phone", "13900000000")
    intake.check("#id_no_infectious_disease")
    intake.check("#id_no_serious_mental_disorder")
    intake.check("#id_category_dibao")
    intake.fill("#id_evidence_dibao", "低保证 2024-001")
    intake.select_option("#id_choice_1", "GZC01")
    intake.select_option("#id_choice_2", "YX01")
    intake.click("button[name=action][value=submit]")

    # R-PRIV-2: the receipt with the code is the POST's own answer (nothing keeps the code).
    expect(intake.locator("article.receipt")).to_be_visible()
    application = Application.objects.get()
    assert application.state == "submitted"
    assert application.applicant.id_number == valid
    assert [c.facility.code for c in application.choices.order_by("rank")] == ["GZC01", "YX01"]
    expect(intake.locator(".receipt")).to_contain_text(application.reference)
    expect(intake.locator(".lookup-code")).to_have_text(re.compile(r"^\s*\S{6}\s*$"))
    expect(intake.locator(".receipt figure.qr svg")).to_be_visible()
    check_page(intake, "receipt")

    application_path = reverse("staff:application", args=[application.reference])
    visit(intake, live_server, application_path, "application-submitted")
    intake.click("form[action$='/accept-for-assessment/'] button[type=submit]")
    expect(intake.locator("h1 .state-assessment_pending")).to_be_visible()
    check_page(intake, "application-accepted")
    visit(intake, live_server, reverse("staff:applications"), "applications-list-intake")
    expect(intake.locator("main")).to_contain_text(application.reference)

    # --- STORIES 2: the assessor scores the 26 items: 58 → grade 2 → nursing ---------------------------
    assessor = logged_in(page_factory, live_server, "e2e-assessor")
    check_page(assessor, "assessor-dashboard")
    visit(assessor, live_server, reverse("staff:assessment_new", args=[application.reference]), "assessment-form")
    items = items_with_total(58)
    assert len(items) == 26
    for code, points in items.items():
        assessor.check(f"input[name='{item_field_name(code)}'][value='{points}']")
    expect(assessor.locator("#assessment-totals .total-points")).to_have_text("58")
    expect(assessor.locator("#assessment-totals .grade-result strong").first).to_have_text("2")
    check_page(assessor, "assessment-form-filled")
    assessor.click("button[name=action][value=complete]")
    expect(assessor).to_have_url(re.compile(r"/staff/assessments/\d+/$"))
    assessment = Assessment.objects.get(application=application)
    assert (assessment.state, assessment.total, assessment.grade) == ("completed", 58, 2)
    check_page(assessor, "assessment-completed")

    # --- the reviewer, a different person: approve the assessment, verify 低保, approve ---------------
    reviewer = logged_in(page_factory, live_server, "e2e-reviewer")
    check_page(reviewer, "reviewer-dashboard")
    visit(reviewer, live_server, reverse("staff:review", args=[application.reference]), "review")
    reviewer.click("form:has(input[name=action][value=approve_assessment]) button[type=submit]")
    expect(reviewer.locator("#approve-heading")).to_be_visible()
    check_page(reviewer, "review-assessment-approved")
    reviewer.check("input[name$='_decision'][value=verified]")
    reviewer.click("form:has(input[name=action][value=approve_application]) button[type=submit]")
    expect(reviewer.locator("#queue-heading")).to_be_visible()
    application.refresh_from_db()
    assert (application.state, application.channel_code) == ("waiting", "special")
    # STORIES 2: at the district home, 20 (care) + 5 (age 85) + 3 (lives alone) = 28.
    expect(reviewer.locator("tr", has_text="越秀区老人院")).to_contain_text("28")
    check_page(reviewer, "review-queued")
    visit(reviewer, live_server, reverse("staff:facilities"), "homes-list-reviewer")

    # --- STORIES 4: a resident of the district home dies; the nursing bed goes to Mrs Chen -------------
    officer = logged_in(page_factory, live_server, "e2e-facility")
    check_page(officer, "facility-dashboard")
    visit(officer, live_server, reverse("staff:facility", args=["YX01"]), "facility")
    bed = Bed.objects.filter(facility=district_home, bed_type="nursing", status="occupied").order_by("code").first()
    officer.click(f"#bed-{bed.pk} summary")
    officer.select_option(f"#id_bed{bed.pk}-reason", "deceased")
    officer.click(f"#bed-{bed.pk} form button[type=submit]")
    officer.click("form button.danger")  # the confirmation page (issue 15) says what will happen
    expect(officer.locator("body")).to_contain_text(application.reference)
    offer = Offer.objects.get(application=application)
    assert (offer.state, offer.facility_id, offer.bed_id) == ("pending", district_home.pk, bed.pk)
    check_page(officer, "facility-after-discharge")

    # --- STORIES 5: the family accepts by phone; Mrs Chen moves in -------------------------------------
    visit(officer, live_server, reverse("staff:offers"), "offers")
    officer.click(f"table.offers a:has-text('{application.reference}')")
    expect(officer).to_have_url(re.compile(re.escape(reverse("staff:offer", args=[offer.pk])) + "$"))
    check_page(officer, "offer-pending")
    officer.click("form[action$='/accept/'] button[type=submit]")
    expect(officer.locator("form[action$='/admit/']")).to_be_visible()
    offer.refresh_from_db()
    assert offer.state == "accepted" and offer.admit_by is not None
    check_page(officer, "offer-accepted")
    officer.click("form[action$='/admit/'] button[type=submit]")
    expect(officer.locator("form[action$='/admit/']")).to_have_count(0)
    check_page(officer, "offer-admitted")

    application.refresh_from_db()
    assert application.state == "admitted"
    assert Offer.objects.get(pk=offer.pk).state == "admitted"
    outcomes = {e.facility.code: (e.status, e.outcome) for e in application.queue_entries.select_related("facility")}
    assert outcomes == {"YX01": ("closed", "admitted"), "GZC01": ("closed", "admitted_elsewhere")}
    visit(officer, live_server, application_path, "application-admitted")
    expect(officer.locator("h1 .state-admitted")).to_be_visible()
    timeline = officer.locator("ol.timeline")
    expect(timeline.locator("li")).to_have_count(application.events.count())
    visit(officer, live_server, reverse("staff:applications"), "applications-list-facility")
    expect(officer.locator("main")).to_contain_text(application.reference)
    visit(officer, live_server, reverse("staff:dashboard"), "facility-dashboard-after")

    # --- the administrator opens every other page of the menu once -----------------------------------
    admin_page = logged_in(page_factory, live_server, "e2e-admin")
    check_page(admin_page, "admin-dashboard")
    menu = admin_page.locator("nav.staff-nav a")
    hrefs = [menu.nth(i).get_attribute("href") for i in range(menu.count())]
    for name in ("staff:applications", "staff:facilities", "staff:offers", "staff:reports", "staff:administration"):
        assert reverse(name) in hrefs, name
    pages = {href: "admin-" + href.strip("/").replace("/", "-") for href in hrefs}
    pages.update(
        {
            reverse("staff:admin_policies"): "admin-administration-policies",
            reverse("staff:admin_targets"): "admin-administration-targets",
            reverse("staff:admin_calendar"): "admin-administration-calendar",
            reverse("staff:admin_users"): "admin-administration-users",
            reverse("staff:admin_user_new"): "admin-administration-user-new",
            reverse("staff:admin_user", args=[admin.pk]): "admin-administration-user",
            reverse("staff:admin_audit"): "admin-administration-audit",
            reverse("staff:facility", args=["GZC01"]): "admin-facility-city-home",
            reverse("password_change"): "admin-password-change",
        }
    )
    for path, name in pages.items():
        visit(admin_page, live_server, path, name)
