"""STORIES 10 in a real browser (issue 13): a year and more of waiting. Mrs Li, 84, has waited
10 months at two homes; the intake officer corrects her phone number and records that she no
longer lives alone (R-CHG-2: both scores 3 lower, both positions moved, shown before saving); the
reviewer swaps her second home (R-CHG-2: the first keeps its place, the new one counts from today);
nobody answers the yearly re-confirmation, she is suspended `not_reconfirmed` and her son confirms
on the status page from his phone (R-CHG-3: waiting again with her original date); a bed is offered,
accepted, the admission deadline extended once with a reason and she is admitted three working days
later, past the grace after which the system would otherwise have recorded a no-show (R-OFF-7).

Each role in its own browser context, logged in through the login page; every new page checked by
axe like the other browser tests. The clock of the whole process (the live server included) is
moved through the story with time_machine; each phase logs in again, as people would on another
day. What the story does not cover (the intake, the assessments, the bed falling vacant) is made
with the services. The numbers are SPEC.md's (tests/spec.py), never read from the code under test.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import expect

from admissions.models import Application, Offer, Reconfirmation
from admissions.services.admission_deadline import offers_sweep
from admissions.services.beds import bed_discharge
from admissions.services.reconfirmation import reconfirmation_ask_due
from facilities.models import Bed
from tests import spec
from tests.e2e.conftest import check_page, status_on_a_phone, travel
from tests.e2e.test_staff_story import logged_in, staff_user, visit
from tests.factories import FacilityFactory, actor, add_beds, district, queued_application, reassessed

pytestmark = pytest.mark.django_db(transaction=True)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)

# The story's calendar, inside the working-day calendar the migrations seed (2026 and 2027), with no
# public holiday near the offer.
QUEUED = dt.datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)
TEN_MONTHS_LATER = dt.datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI)  # 304 days: 10 full periods of 30
REASSESSED = dt.datetime(2026, 12, 15, 10, 0, tzinfo=SHANGHAI)  # R-ASM-5: the yearly reassessment
ASKED = QUEUED + spec.RECONFIRM_INTERVAL_DAYS * DAY  # R-CHG-3: a year after queued_at
GRACE_ENDS = ASKED + spec.RECONFIRM_GRACE_DAYS * DAY
SON_CONFIRMS = dt.datetime(2027, 2, 22, 20, 0, tzinfo=SHANGHAI)
BED_FREED = dt.datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)  # a Monday
ACCEPTED = dt.datetime(2027, 3, 2, 10, 0, tzinfo=SHANGHAI)  # Tuesday
# R-OFF-1: admit by the end of the 5th working day after acceptance: 3, 4, 5, 8, 9 March.
ADMIT_BY = dt.datetime(2027, 3, 9, 23, 59, 59, tzinfo=SHANGHAI)
# R-OFF-7: without the extension, the no-show would be recorded after 2 working days of grace.
GRACE_WOULD_END = dt.datetime(2027, 3, 11, 23, 59, 59, tzinfo=SHANGHAI)
EXTENDED_TO = dt.date(2027, 3, 12)  # three working days after the deadline: 10, 11, 12 March
ADMITTED = dt.datetime(2027, 3, 12, 10, 0, tzinfo=SHANGHAI)

# R-Q-3 on 5 November 2026 (tests/spec.py): Mrs Li, grade 2, 84, living alone, 10 periods waited.
LI_BEFORE = spec.CARE_POINTS_BY_GRADE[2] + spec.AGE_POINTS[80] + spec.LIVES_ALONE_POINTS + 10  # 38
LI_AFTER = LI_BEFORE - spec.LIVES_ALONE_POINTS  # 35: she lives with her son now
# Mr Wang, between the two at both homes: grade 1, 90, 孤寡 and alone, queued an hour after her.
WANG = spec.CARE_POINTS_BY_GRADE[1] + spec.AGE_POINTS[90] + spec.LONELY_POINTS + spec.LIVES_ALONE_POINTS + 10  # 36
# Mrs Zhao at the new home: grade 2, 85, not alone, queued with Mrs Li.
ZHAO = spec.CARE_POINTS_BY_GRADE[2] + spec.AGE_POINTS[80] + 10  # 35
LI_NEW_HOME = LI_AFTER - 10  # the new home counts her waiting time from the change: 0 periods


def row_cells(page, table, home: str) -> list[str]:
    cells = page.locator(f"{table} tr", has_text=home).first.locator("td")
    return [t.strip() for t in cells.all_inner_texts()]


def positions_table(page, home: str) -> tuple[str, str]:
    """(position, score) in the application page's table of queue positions."""
    cells = row_cells(page, "#homes-heading ~ .table-wrap table", home)
    return cells[0], cells[3]


def continue_then_confirm(page, name: str) -> None:
    page.click("main form.form button.primary")  # Continue: check your answers
    expect(page.locator("main h2").first).to_be_visible()
    check_page(page, name)
    page.click("main form.form button.primary")  # Confirm the change


@pytest.fixture
def waiting(settings):
    """Mrs Li queued at 广州市老人院 (city) and 越秀区老人院 (district) since 5 January 2026, Mr Wang
    queued at both an hour later, Mrs Zhao at 越秀区东山老人院; every home full."""
    settings.RECONFIRMATION_IN_FORCE_FROM = "2025-06-01"  # R-CHG-3 in force long before the story
    cache.clear()
    with time_machine.travel(QUEUED, tick=False):
        city = FacilityFactory(code="GZC01", name="广州市老人院", level="city", district=district("tianhe"))
        home = FacilityFactory(code="YX01", name="越秀区老人院", district=district("yuexiu"))
        near_son = FacilityFactory(code="YX02", name="越秀区东山老人院", district=district("yuexiu"))
        add_beds(city, nursing=3, general=1)
        add_beds(home, nursing=3, general=1)
        add_beds(near_son, nursing=3, general=1)
        li = queued_application(
            name="李桂兰",
            date_of_birth=dt.date(1942, 3, 1),
            phone="13800000007",  # typed wrong at intake: 13800000001 was meant
            lives_alone=True,
            choices=["GZC01", "YX01"],
            contact_name="李强",
            contact_relation="儿子",
            contact_phone="13900000002",
        )
        queued_application(name="赵玉珍", date_of_birth=dt.date(1941, 6, 1), phone="13800000003", choices=["YX02"])
    with time_machine.travel(QUEUED + dt.timedelta(hours=1), tick=False):
        queued_application(
            grade=1,
            name="王大明",
            sex="M",
            date_of_birth=dt.date(1935, 5, 1),
            phone="13800000004",
            lives_alone=True,
            no_spouse_no_children=True,
            choices=["GZC01", "YX01"],
        )
    assert li.queued_at == QUEUED
    staff_user("e2e-intake", ["intake"])
    staff_user("e2e-reviewer", ["reviewer"])
    staff_user("e2e-facility", ["facility"], facility=city)
    return li


@pytest.fixture(autouse=True)
def _chinese_urls():
    with translation.override("zh-hans"):
        yield


def test_a_year_and_more_of_waiting(live_server, page_factory, waiting):
    li = waiting
    application_path = reverse("staff:application", args=[li.reference])

    def change_path(slug):
        return reverse("staff:application_change", args=[li.reference, slug])

    # --- 10 months on: the intake officer corrects the phone number, then the family situation ------
    with travel(TEN_MONTHS_LATER):
        intake = logged_in(page_factory, live_server, "e2e-intake")
        visit(intake, live_server, application_path, "story10-application-waiting")
        assert positions_table(intake, "广州市老人院") == ("1", str(LI_BEFORE))
        assert positions_table(intake, "越秀区老人院") == ("1", str(LI_BEFORE))
        expect(intake.locator(f"#changes-heading ~ ul a[href='{change_path('contact')}']")).to_be_visible()

        intake.click(f"a[href='{change_path('contact')}']")
        expect(intake.locator("#id_applicant_phone")).to_have_value("13800000007")
        check_page(intake, "story10-contact-form")
        intake.fill("#id_applicant_phone", "13800000001")
        intake.fill("#id_reason", "受理时电话号码录错一位")
        intake.click("main form.form button.primary")
        # Check your answers: the old and the new number; the queue does not move.
        answers = intake.locator("main table").first
        expect(answers).to_contain_text("13800000007")
        expect(answers).to_contain_text("13800000001")
        check_page(intake, "story10-contact-check")
        intake.click("main form.form button.primary")
        expect(intake).to_have_url(re.compile(re.escape(application_path) + "$"))
        expect(intake.locator("main dl.details")).to_contain_text("13800000001")
        li.refresh_from_db()
        assert li.applicant.phone == "13800000001"

        # She moves in with her son: no longer alone. The check page shows both homes before/after.
        intake.click(f"a[href='{change_path('family-situation')}']")
        expect(intake.locator("#id_lives_alone")).to_be_checked()
        check_page(intake, "story10-family-form")
        intake.uncheck("#id_lives_alone")
        intake.click("main form.form button.primary")
        # A family situation without a reason is refused, naming the field (R-CHG-2).
        expect(intake.locator("#id_reason_error")).to_be_visible()
        check_page(intake, "story10-family-form-no-reason")
        intake.uncheck("#id_lives_alone")
        intake.fill("#id_reason", "今年夏天搬去与儿子同住")
        intake.click("main form.form button.primary")
        preview = "main table:has(caption)"
        for home in ("广州市老人院", "越秀区老人院"):
            # score now, score after, position now, position after: Mr Wang (36) passes her.
            assert row_cells(intake, preview, home) == [str(LI_BEFORE), str(LI_AFTER), "1", "2"], home
        check_page(intake, "story10-family-check")
        intake.click("main form.form button.primary")
        expect(intake).to_have_url(re.compile(re.escape(application_path) + "$"))
        assert positions_table(intake, "广州市老人院") == ("2", str(LI_AFTER))
        assert positions_table(intake, "越秀区老人院") == ("2", str(LI_AFTER))
        # The timeline says what changed (masked phones, SPEC §12), who did it and why.
        contact = intake.locator("ol.timeline li", has_text="联系方式已变更")
        expect(contact).to_contain_text("e2e-intake")
        expect(contact.locator("ul.changes li")).to_have_text(re.compile(r"^联系电话：138\*+07 → 138\*+01$"))
        expect(intake.locator("ol.timeline")).not_to_contain_text("13800000007")
        family = intake.locator("ol.timeline li", has_text="家庭情况已变更")
        expect(family).to_contain_text("今年夏天搬去与儿子同住")
        expect(family.locator("ul.changes li")).to_have_text("独居：是 → 否")
        check_page(intake, "story10-application-after-family")

        # --- the reviewer swaps her second home for one near her son --------------------------------
        reviewer = logged_in(page_factory, live_server, "e2e-reviewer")
        visit(reviewer, live_server, change_path("choices"), "story10-choices-form")
        expect(reviewer.locator("#id_choice_0")).to_have_value("GZC01")
        expect(reviewer.locator("#id_choice_1")).to_have_value("YX01")
        reviewer.select_option("#id_choice_1", "YX02")
        reviewer.fill("#id_reason", "搬到儿子家附近，改选东山的区属养老院")
        reviewer.click("main form.form button.primary")
        assert row_cells(reviewer, preview, "广州市老人院") == [str(LI_AFTER), str(LI_AFTER), "2", "2"]
        new_home = row_cells(reviewer, preview, "越秀区东山老人院")
        assert new_home[0] == "—" and new_home[1] == str(LI_NEW_HOME) and new_home[3] == "2", new_home
        dropped = row_cells(reviewer, preview, "越秀区老人院")
        assert dropped[0] == str(LI_AFTER) and dropped[2] == "2", dropped
        check_page(reviewer, "story10-choices-check")
        reviewer.click("main form.form button.primary")
        expect(reviewer).to_have_url(re.compile(re.escape(application_path) + "$"))
        assert positions_table(reviewer, "广州市老人院") == ("2", str(LI_AFTER))
        assert positions_table(reviewer, "越秀区东山老人院") == ("2", str(LI_NEW_HOME))
        expect(reviewer.locator("#homes-heading ~ .table-wrap")).not_to_contain_text("越秀区老人院")
        choices = reviewer.locator("ol.timeline li", has_text="搬到儿子家附近")
        expect(choices.locator("ul.changes li")).to_have_text("志愿机构：GZC01, YX01 → GZC01, YX02")
        check_page(reviewer, "story10-application-after-choices")
    entries = {e.facility.code: e for e in li.queue_entries.select_related("facility")}
    assert entries["GZC01"].queued_at == QUEUED and entries["GZC01"].status == "open"
    assert (entries["YX01"].status, entries["YX01"].outcome) == ("closed", "choice_dropped")
    assert entries["YX02"].status == "open" and entries["YX02"].queued_at.date() == TEN_MONTHS_LATER.date()

    # --- the yearly reassessment (not in the story: by the services) --------------------------------
    reassessed(li, REASSESSED)

    # --- the re-confirmation: asked a year after queued_at, nobody answers within 30 days -----------
    with time_machine.travel(ASKED + dt.timedelta(minutes=1), tick=False):
        reconfirmation_ask_due()
    assert Reconfirmation.objects.filter(application=li).count() == 1
    with time_machine.travel(GRACE_ENDS + dt.timedelta(hours=1), tick=False):
        reconfirmation_ask_due()
    li.refresh_from_db()
    assert (li.state, li.queued_at) == ("suspended", QUEUED)
    assert li.events.filter(transition="suspend").latest("at").reason == "not_reconfirmed"

    # --- her son confirms on the status page, from his phone ----------------------------------------
    with travel(SON_CONFIRMS):
        son, code = status_on_a_phone(page_factory, live_server, li)
        card = son.locator("section.reconfirm")
        expect(card).to_be_visible()
        expect(son.locator("#state-heading")).to_contain_text("暂停")  # suspended, in plain words
        check_page(son, "story10-status-paused")
        son.fill("#id_reconfirm_code", code)
        son.click("form.reconfirm-form button[type=submit]")
        expect(son.locator("section.reconfirm")).to_have_count(0)
        expect(son.locator("ul.messages")).to_contain_text("您将继续轮候，位置保留")
        homes = son.locator("article.home")
        expect(homes).to_have_count(2)
        first = homes.filter(has_text="广州市老人院")
        # Waiting again with her original date: 5 January 2026 at the first home.
        expect(first).to_contain_text("2026年1月5日")
        # R-Q-3 on 22 February 2027: 13 full periods since 5 January 2026, alone no more; Mr Wang
        # (36 + 3 periods) still ahead of her.
        expect(first.locator(".position")).to_have_text("排在第 2 位")
        expect(first.locator("dd strong").first).to_have_text(str(LI_AFTER + 3))
        check_page(son, "story10-status-confirmed")
        son.select_option("#language-select", "en")
        son.click("form.language button[type=submit]")
        expect(son.locator("html")).to_have_attribute("lang", "en")
        expect(son.locator("article.home").filter(has_text="广州市老人院")).to_contain_text(
            "5 January 2026"
        )  # the one English format (issue 15)
        check_page(son, "story10-status-confirmed-en")
    li.refresh_from_db()
    assert (li.state, li.queued_at) == ("waiting", QUEUED)

    # --- a bed at the first home falls vacant and is offered to her (not in the story's detail) ------
    with time_machine.travel(BED_FREED, tick=False):
        bed = Bed.objects.filter(facility__code="GZC01", bed_type="nursing").order_by("code").first()
        bed_discharge(bed=bed, reason="deceased", actor=actor("facility"))
    offer = Offer.objects.get(application=li, state="pending")
    assert offer.bed_id == bed.pk

    # --- her son accepts by phone; she is kept in hospital; the home extends once and admits her ----
    offer_path = reverse("staff:offer", args=[offer.pk])
    with travel(ACCEPTED):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        visit(officer, live_server, offer_path, "story10-offer-pending")
        officer.click("form[action$='/accept/'] button[type=submit]")
        expect(officer.locator("form[action$='/admit/']")).to_be_visible()
        check_page(officer, "story10-offer-accepted")
    offer.refresh_from_db()
    assert offer.admit_by == ADMIT_BY

    with travel(ADMIT_BY - dt.timedelta(hours=8)):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        visit(officer, live_server, offer_path, "story10-offer-due-today")
        officer.click(f"a[href='{reverse('staff:offer_extend_admission', args=[offer.pk])}']")
        check_page(officer, "story10-extend-form")
        officer.fill("#id_admit_by", EXTENDED_TO.isoformat())
        officer.fill("#id_reason", "仍在住院，医生建议三个工作日后出院")
        officer.click("main form.form button.primary")
        expect(officer.locator("main dl.facts")).to_contain_text("仍在住院")
        check_page(officer, "story10-extend-check")
        officer.click("main form.form button.primary")
        expect(officer).to_have_url(re.compile(re.escape(offer_path) + "$"))
        expect(officer.locator("main")).to_contain_text("仍在住院，医生建议三个工作日后出院")
        check_page(officer, "story10-offer-extended")
    offer.refresh_from_db()
    assert offer.admit_by == dt.datetime(2027, 3, 12, 23, 59, 59, tzinfo=SHANGHAI)
    # Had the home not acted, the sweep would have recorded a no-show once the grace had run out;
    # with the extension it does nothing then (R-OFF-7).
    assert offers_sweep(now=GRACE_WOULD_END + dt.timedelta(seconds=2))["no_shows"] == 0
    offer.refresh_from_db()
    assert offer.state == "accepted"

    with travel(ADMITTED):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        visit(officer, live_server, offer_path, "story10-offer-admission-day")
        officer.click("form[action$='/admit/'] button[type=submit]")
        expect(officer.locator("form[action$='/admit/']")).to_have_count(0)
        check_page(officer, "story10-offer-admitted")
        visit(officer, live_server, application_path, "story10-application-admitted")
        expect(officer.locator("h1 .state-admitted")).to_be_visible()
        timeline = officer.locator("ol.timeline")
        expect(timeline.locator(":scope > li")).to_have_count(Application.objects.get(pk=li.pk).events.count())
        expect(timeline).to_contain_text("仍在住院，医生建议三个工作日后出院")
        expect(timeline).to_contain_text("搬到儿子家附近，改选东山的区属养老院")
    li.refresh_from_db()
    assert li.state == "admitted"
