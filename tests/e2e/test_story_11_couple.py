"""STORIES 11 in a real browser (issue 14): husband and wife placed together. The intake officer
links Mr and Mrs Zhou's applications from his application page, finding her by name (R-CPL-1). When
Mr Zhou reaches the top of their home's queue with one nursing bed vacant and no general bed, he is
skipped with partner_bed_unavailable, keeps his place, the bed goes to the next person, and their
status page says why (R-CPL-2, R-CPL-3). Weeks later a general and a nursing bed fall vacant the
same day: both are offered at once with one deadline, accepted together and both admitted the same
day; her bed's decision records couple_partner for everyone it passed over.

Each role in its own browser context, every new page checked by axe; the family's page in both
languages. The applications, the assessments and the beds falling vacant the second time (not what
the story is about) are made with the services; the process's clock is moved through the story's
weeks with time_machine so the deadlines fall on known working days.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import formats, timezone, translation
from playwright.sync_api import expect

from admissions.models import AllocationDecision, Application, Offer
from admissions.services.beds import bed_discharge
from facilities.models import Bed
from tests import spec
from tests.e2e.conftest import check_page, status_on_a_phone, travel
from tests.e2e.test_staff_story import logged_in, staff_user, visit
from tests.factories import FacilityFactory, actor, add_beds, district, queued_application

pytestmark = pytest.mark.django_db(transaction=True)

SHANGHAI = ZoneInfo("Asia/Shanghai")
APPLIED = dt.datetime(2026, 4, 13, 10, 0, tzinfo=SHANGHAI)  # a Monday, no holiday near any step
LINKED = dt.datetime(2026, 4, 14, 10, 0, tzinfo=SHANGHAI)
FIRST_BED = dt.datetime(2026, 5, 11, 10, 0, tzinfo=SHANGHAI)
FAMILY_LOOKS = dt.datetime(2026, 5, 11, 20, 0, tzinfo=SHANGHAI)
TWO_BEDS = dt.datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
ANSWERED = dt.datetime(2026, 6, 2, 10, 0, tzinfo=SHANGHAI)
MOVE_IN = dt.datetime(2026, 6, 4, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _chinese_urls():
    with translation.override("zh-hans"):
        yield


def test_husband_and_wife_placed_together(live_server, page_factory):
    cache.clear()
    with time_machine.travel(APPLIED, tick=False):
        home = FacilityFactory(
            code="YX01", name="越秀区老人院", district=district("yuexiu"), address="越秀区 2 号", phone="020-8000 0000"
        )
        add_beds(home, nursing=8)
        add_beds(home, general=2, holder="nursing")  # no self-care resident yet: the quota has room
        people = {"choices": ["YX01"], "lives_alone": False}
        husband = queued_application(
            grade=3, name="周建国", sex="M", date_of_birth=dt.date(1937, 6, 1), phone="13800000011", **people
        )
        wife = queued_application(
            grade=1, name="周淑英", date_of_birth=dt.date(1940, 9, 1), phone="13800000014", **people
        )
        wu = queued_application(
            grade=2, name="吴德明", sex="M", date_of_birth=dt.date(1940, 2, 1), phone="13800000012", **people
        )
        sun = queued_application(
            grade=2, name="孙丽华", date_of_birth=dt.date(1944, 8, 1), phone="13800000013", **people
        )
    staff_user("e2e-intake", ["intake"])
    staff_user("e2e-facility", ["facility"], facility=home)
    husband_path = reverse("staff:application", args=[husband.reference])

    # --- the intake officer links them, finding her by name from his application page --------------
    with travel(LINKED):
        intake = logged_in(page_factory, live_server, "e2e-intake")
        visit(intake, live_server, husband_path, "story11-husband-unlinked")
        intake.click(f"a[href='{reverse('staff:couple_link', args=[husband.reference])}']")
        check_page(intake, "story11-link-search")
        intake.fill("#q", "周淑英")
        intake.click("main form.form button[type=submit]")
        found = intake.locator("main table tbody tr")
        expect(found).to_have_count(1)
        expect(found).to_contain_text(wife.reference)
        check_page(intake, "story11-link-found")
        found.locator("a").click()
        expect(intake.locator("#id_partner")).to_have_value(wife.reference)
        expect(intake.locator("input[name=mode][value=together]")).to_be_checked()
        intake.fill("#id_reason", "夫妻，已核对结婚证")
        check_page(intake, "story11-link-form")
        intake.click("main form.form button.primary")
        answers = intake.locator("main dl.facts")
        expect(answers).to_contain_text("周建国")
        expect(answers).to_contain_text("周淑英")
        check_page(intake, "story11-link-check")
        intake.click("main form.form button.primary")
        expect(intake).to_have_url(re.compile(re.escape(husband_path) + "$"))
        couple = intake.locator("section.couple")
        expect(couple).to_contain_text("周淑英")
        expect(couple).to_contain_text(wife.reference)
        expect(intake.locator("ol.timeline")).to_contain_text("夫妻，已核对结婚证")
        check_page(intake, "story11-husband-linked")
        visit(intake, live_server, reverse("staff:application", args=[wife.reference]), "story11-wife-linked")
        expect(intake.locator("section.couple")).to_contain_text("周建国")
        expect(intake.locator("ol.timeline")).to_contain_text("夫妻，已核对结婚证")

    # --- he reaches the top with one nursing bed and no general bed: skipped, the bed goes on -------
    first = Bed.objects.filter(facility=home, bed_type="nursing").order_by("code").first()
    with travel(FIRST_BED):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        facility_path = reverse("staff:facility", args=["YX01"])
        visit(officer, live_server, facility_path, "story11-facility-before")
        queue = officer.locator("main table", has_text=husband.reference).first
        top = queue.locator("tbody tr").first  # he is first, named with his wife and their mode
        expect(top.locator("th")).to_contain_text(husband.reference)
        expect(top.locator("th")).to_contain_text(wife.reference)
        officer.click(f"#bed-{first.pk} summary")
        officer.select_option(f"#id_bed{first.pk}-reason", "deceased")
        officer.click(f"#bed-{first.pk} form button[type=submit]")
        officer.click("form button.danger")  # the confirmation page says what will happen
        expect(officer.locator("#decisions article.decision").first).to_contain_text(wu.reference)
        skipped = officer.locator("#decisions article.decision").first.locator("table.skipped tbody tr")
        expect(skipped).to_have_count(1)
        expect(skipped).to_contain_text(husband.reference)
        expect(skipped).to_contain_text("与配偶一同安置，而本院没有第二张适合配偶的床位")  # partner_bed_unavailable
        # R-Q-3: grade 3 and 88, four weeks waited (no full period yet).
        expect(skipped.locator("td").nth(1)).to_have_text(str(spec.CARE_POINTS_BY_GRADE[3] + spec.AGE_POINTS[80]))
        check_page(officer, "story11-facility-after-skip")
    assert Offer.objects.get(bed=first, state="pending").application_id == wu.pk
    husband.refresh_from_db()
    assert husband.state == "waiting"
    assert husband.queue_entries.get().status == "open"  # he keeps his place

    # --- their status page says why (the family, on a phone, in both languages) ---------------------
    with travel(FAMILY_LOOKS):
        family, _code = status_on_a_phone(page_factory, live_server, husband)
        steps = family.locator("section.next")
        expect(steps).to_contain_text("越秀区老人院")
        expect(steps).to_contain_text("2026年5月11日")  # the one Chinese format (issue 15)
        expect(family.locator("article.home .position")).to_have_text("排在第 1 位")  # his place is kept
        check_page(family, "story11-status-zh")
        family.select_option("#language-select", "en")
        family.click("form.language button[type=submit]")
        expect(family.locator("html")).to_have_attribute("lang", "en")
        expect(family.locator("section.next")).to_contain_text("no second bed there suited the spouse")
        expect(family.locator("section.next")).to_contain_text("waits together with the spouse's application")
        check_page(family, "story11-status-en")

    # --- weeks later a general and a nursing bed fall vacant the same day ---------------------------
    general = Bed.objects.filter(facility=home, bed_type="general").order_by("code").first()
    nursing = Bed.objects.filter(facility=home, bed_type="nursing", status="occupied").order_by("code").first()
    with time_machine.travel(TWO_BEDS, tick=False):
        bed_discharge(bed=general, reason="transferred", actor=actor("facility"))
        bed_discharge(bed=nursing, reason="deceased", actor=actor("facility"))
    his = Offer.objects.get(application=husband, state="pending")
    hers = Offer.objects.get(application=wife, state="pending")
    assert (his.bed_id, hers.bed_id) == (nursing.pk, general.pk)
    assert his.respond_by == hers.respond_by  # one deadline
    her_decision = AllocationDecision.objects.get(bed=general, chosen__reference=wife.reference)
    assert {row["reference"] for row in her_decision.skipped} == {husband.reference, wu.reference, sun.reference}
    assert {row["reason"] for row in her_decision.skipped} == {"couple_partner"}

    with travel(ANSWERED):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        visit(officer, live_server, reverse("staff:offers"), "story11-offers-joint")
        expect(officer.locator("table.offers tr", has_text=husband.reference)).to_contain_text("周淑英")
        visit(officer, live_server, reverse("staff:facility", args=["YX01"]), "story11-facility-joint")
        expect(officer.locator(f"#bed-{nursing.pk}")).to_contain_text(wife.reference)
        her_article = officer.locator("#decisions article.decision", has_text=f"{general.code}").first
        expect(her_article.locator("table.skipped tbody tr")).to_have_count(3)
        for row in her_article.locator("table.skipped tbody tr").all():
            expect(row).to_contain_text("因夫妻共同分配而跳过：这张床位分配给了配偶")  # couple_partner
        offer_path = reverse("staff:offer", args=[his.pk])
        visit(officer, live_server, offer_path, "story11-offer-joint")
        expect(officer.locator("main")).to_contain_text("周淑英")
        expect(officer.locator("main")).to_contain_text(general.code)
        # The family answers by phone: one acceptance for both.
        officer.click("form[action$='/accept/'] button[type=submit]")
        expect(officer.locator("form[action$='/admit/']")).to_be_visible()
        check_page(officer, "story11-offer-accepted")
    his.refresh_from_db()
    hers.refresh_from_db()
    assert (his.state, hers.state) == ("accepted", "accepted")
    assert his.admit_by == hers.admit_by

    # The family sees the accepted offer, with the one admission deadline.
    with travel(ANSWERED + dt.timedelta(hours=8)):
        family, _code = status_on_a_phone(page_factory, live_server, wife)
        card = family.locator("section.offer")
        expect(card).to_contain_text("越秀区老人院")
        with translation.override("zh-hans"):
            admit_by = formats.date_format(timezone.localtime(his.admit_by), "DATETIME_FORMAT")
        expect(card.locator("dd").nth(1)).to_have_text(admit_by)
        check_page(family, "story11-status-accepted")

    with travel(MOVE_IN):
        officer = logged_in(page_factory, live_server, "e2e-facility")
        visit(officer, live_server, reverse("staff:offer", args=[hers.pk]), "story11-offer-move-in")
        officer.click("form[action$='/admit/'] button[type=submit]")
        expect(officer.locator("form[action$='/admit/']")).to_have_count(0)
        check_page(officer, "story11-offer-admitted")
    for application in (husband, wife):
        application.refresh_from_db()
        assert application.state == "admitted"
        entry = application.queue_entries.get()
        assert (entry.status, entry.outcome) == ("closed", "admitted")
    assert Offer.objects.get(pk=his.pk).state == Offer.objects.get(pk=hers.pk).state == "admitted"
    assert Application.objects.get(pk=wu.pk).state == "offered"
