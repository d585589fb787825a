"""Staff pages for offers (issue 4; SPEC R-OFF-1…5): the list with both deadlines and the home's
phone, one offer's page, and accept / decline / admit / fail-check. The rules are the services';
these tests check who may see and act, that each act calls its service once and records its event,
and that a refusal changes nothing and shows the field's error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from admissions.models import Occupancy, Offer, OfferState
from admissions.services.offers import offer_accept
from facilities.models import BedStatus, Facility
from facilities.roles import roles_assign
from tests import spec
from tests.factories import FacilityFactory, actor, add_beds, queued_application
from web import confirmation

pytestmark = pytest.mark.django_db


def login(*roles: str, facility: Facility | None = None) -> tuple[Client, User]:
    user = User.objects.create_user(f"{'-'.join(roles) or 'none'}-{User.objects.count()}")
    roles_assign(user=user, roles=list(roles), facility=facility)
    client = Client()
    client.force_login(user)
    return client, user


def client_as(*roles: str, facility: Facility | None = None) -> Client:
    return login(*roles, facility=facility)[0]


def offered(code: str = "YX01", **application) -> Offer:
    """An application offered the one vacant nursing bed of home `code`."""
    home = FacilityFactory(code=code, phone="020-8888-0000")
    add_beds(home, nursing=1, status="vacant")
    return Offer.objects.get(application=queued_application(choices=[code], **application), state="pending")


def accepted(code: str = "YX01") -> Offer:
    return offer_accept(offer=offered(code), actor=actor("intake"))


def act_url(offer: Offer, action: str) -> str:
    return reverse(f"staff:offer_{action.replace('-', '_')}", args=[offer.pk])


def act(client: Client, offer: Offer, action: str, token: str = "tok-1", confirm: str = "yes", **fields):
    """The act's POST; `confirm` is the confirmation page's hidden field (issue 15: a decline is
    recorded only by the confirming POST)."""
    data = {f"{action}-{name}": value for name, value in fields.items()}
    return client.post(act_url(offer, action), {**data, "form_token": token, "confirm": confirm})


# --- the list --------------------------------------------------------------------------------------
def test_intake_sees_pending_and_accepted_offers_with_both_deadlines_and_the_homes_phone():
    pending = offered("YX01")
    answered = accepted("GZ02")
    response = client_as("intake").get(reverse("staff:offers"))
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<h1") == 1
    assert pending.application.reference in page and answered.application.reference in page
    assert "020-8888-0000" in page
    with translation.override("en"):
        from django.template.defaultfilters import date as date_filter

        for deadline in (pending.respond_by, answered.respond_by, answered.admit_by):
            assert date_filter(timezone.localtime(deadline), "DATETIME_FORMAT") in page
    assert reverse("staff:offer", args=[pending.pk]) in page


def test_closed_offers_are_not_in_the_list():
    offer = offered()
    act(client_as("intake"), offer, "decline", reason="too far")
    assert offer.application.reference not in client_as("intake").get(reverse("staff:offers")).content.decode()


def test_the_list_is_filtered_by_state_home_and_reference():
    pending = offered("YX01")
    answered = accepted("GZ02")
    client = client_as("intake")
    only_accepted = client.get(reverse("staff:offers"), {"state": "accepted"}).content.decode()
    assert answered.application.reference in only_accepted and pending.application.reference not in only_accepted
    at_home = client.get(reverse("staff:offers"), {"facility": "YX01"}).content.decode()
    assert pending.application.reference in at_home and answered.application.reference not in at_home
    by_reference = client.get(reverse("staff:offers"), {"reference": answered.application.reference}).content.decode()
    assert answered.application.reference in by_reference and pending.application.reference not in by_reference


def test_a_bad_filter_is_marked_on_its_field_rather_than_failing():
    offered()
    response = client_as("intake").get(reverse("staff:offers"), {"state": "eaten", "facility": "<b>x</b>"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_state_error"' in page and 'id="id_facility_error"' in page
    assert "<b>x</b>" not in page


def test_a_facility_officer_sees_only_their_own_homes_offers():
    """SPEC §10."""
    own = offered("YX01")
    elsewhere = offered("GZ02")
    officer = client_as("facility", facility=own.facility)
    page = officer.get(reverse("staff:offers")).content.decode()
    assert own.application.reference in page and elsewhere.application.reference not in page
    assert officer.get(reverse("staff:offer", args=[own.pk])).status_code == 200
    assert officer.get(reverse("staff:offer", args=[elsewhere.pk])).status_code == 403
    assert act(officer, elsewhere, "accept").status_code == 403
    elsewhere.refresh_from_db()
    assert elsewhere.state == OfferState.PENDING


def test_offers_are_not_for_an_assessor_and_ask_a_stranger_to_log_in():
    offer = offered()
    assessor = client_as("assessor")
    assert assessor.get(reverse("staff:offers")).status_code == 403
    assert assessor.get(reverse("staff:offer", args=[offer.pk])).status_code == 403
    assert act(assessor, offer, "accept").status_code == 403
    for url in (reverse("staff:offers"), reverse("staff:offer", args=[offer.pk]), act_url(offer, "accept")):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    offer.refresh_from_db()
    assert offer.state == OfferState.PENDING


def test_an_unknown_offer_is_a_404():
    assert client_as("intake").get(reverse("staff:offer", args=[999999])).status_code == 404


# --- one offer and its acts ----------------------------------------------------------------------------
def test_intake_records_the_familys_acceptance_and_the_event_names_them():
    """R-OFF-1: accepting sets the admission deadline; the application goes to the admission check."""
    offer = offered()
    client, user = login("intake")
    page = client.get(reverse("staff:offer", args=[offer.pk])).content.decode()
    assert "Record the acceptance" in page and "Record the decline" in page
    assert "Record the admission" not in page  # the home's officers admit
    response = act(client, offer, "accept")
    assert response.status_code == 302 and response["Location"] == reverse("staff:offer", args=[offer.pk])
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED and offer.admit_by is not None
    event = offer.application.events.get(transition="accept_offer")
    assert event.actor_user == user and event.from_state == "offered" and event.to_state == "admission_check"
    followed = client.get(response["Location"]).content.decode()
    assert "The acceptance is recorded. Admission by" in followed


def test_a_decline_with_the_familys_words_is_a_refusal_and_the_bed_goes_on():
    """R-OFF-4."""
    offer = offered()
    next_in_line = queued_application(choices=["YX01"])
    response = act(client_as("facility", facility=offer.facility), offer, "decline", reason="too far from my son")
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.state == OfferState.DECLINED and offer.is_refusal
    assert offer.application.events.get(transition="decline_offer").reason == "too far from my son"
    assert Offer.objects.get(application=next_in_line).bed == offer.bed


def test_the_home_admits_on_a_day_and_the_bed_is_occupied():
    offer = accepted()
    client, user = login("facility", facility=offer.facility)
    today = timezone.localdate().isoformat()
    response = act(client, offer, "admit", admitted_on=today)
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.state == OfferState.ADMITTED
    assert Occupancy.objects.get(offer=offer).admitted_on == timezone.localdate()
    assert offer.bed.status == BedStatus.OCCUPIED
    assert offer.application.events.get(transition="admit").actor_user == user


def test_an_intake_officer_may_not_admit():
    offer = accepted()
    assert act(client_as("intake"), offer, "admit").status_code == 403
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED


def test_an_admission_dated_tomorrow_is_refused_on_its_field_keeping_what_was_typed():
    offer = accepted()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = act(client_as("facility", facility=offer.facility), offer, "admit", admitted_on=tomorrow)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_admit-admitted_on_error"' in page and "must not be in the future" in page
    assert f'value="{tomorrow}"' in page
    assert 'aria-describedby="id_admit-admitted_on_helptext id_admit-admitted_on_error"' in page
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED and not Occupancy.objects.exists()


def test_a_failed_check_needs_a_known_reason_and_a_no_show_is_recorded_as_a_refusal():
    offer = accepted()
    client = client_as("facility", facility=offer.facility)
    refused = act(client, offer, "fail-check", token="f-1", reason="bored", note="kept note")
    assert refused.status_code == 200
    page = refused.content.decode()
    assert 'id="id_fail-check-reason_error"' in page and "kept note" in page
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED
    response = act(client, offer, "fail-check", token="f-1", reason="no_show", note="did not come")
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.state == OfferState.FAILED_CHECK and offer.is_refusal and offer.reason == "no_show"
    assert offer.application.events.get(transition="fail_admission_check").reason == "did not come"
    assert "did not come (a no-show)" in client.get(response["Location"]).content.decode()


def test_the_same_acceptance_sent_twice_is_done_once():
    offer = offered()
    client = client_as("intake")
    first = act(client, offer, "accept", token="twice")
    second = act(client, offer, "accept", token="twice")
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert offer.application.events.filter(transition="accept_offer").count() == 1
    assert "This was sent twice; it was done once." in client.get(second["Location"]).content.decode()


def test_an_act_the_state_no_longer_allows_changes_nothing_and_says_why():
    offer = accepted()
    client = client_as("intake")
    response = act(client, offer, "decline", token="late", reason="changed our mind")
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED
    page = client.get(response["Location"]).content.decode()
    assert "is not possible while the offer is accepted" in page
    assert "Record the decline" not in page


def test_the_offer_page_is_in_chinese_by_default():
    offer = offered()
    with translation.override("zh-hans"):
        url = reverse("staff:offer", args=[offer.pk])
    assert not url.startswith("/en/")
    page = client_as("intake").get(url).content.decode()
    assert '<html lang="zh-hans">' in page and "待处理" in page


# --- confirmation before a decline (issue 15; R-OFF-4, R-OFF-5) -------------------------------------
def test_the_first_decline_post_changes_nothing_and_says_it_counts_as_a_refusal_r_off_4():
    offer = offered()
    client = client_as("intake")
    with translation.override("en"):
        response = act(client, offer, "decline", token="first", confirm="", reason="too far")
    assert response.status_code == 200
    page = response.content.decode()
    offer.refresh_from_db()
    assert offer.state == OfferState.PENDING
    assert not offer.application.events.filter(transition="decline_offer").exists()
    assert f"It will be refusal 1 of {spec.REFUSAL_LIMIT} allowed in {spec.REFUSAL_WINDOW_DAYS} days (now 0)" in page
    assert "The bed goes to the next person in the queue." in page
    assert "cannot apply again" not in page
    assert 'name="confirm" value="yes"' in page and 'value="first"' in page and "too far" in page
    assert "R-OFF" not in page


def test_the_decline_that_reaches_the_limit_says_the_application_is_removed_and_the_bar_r_off_5(monkeypatch):
    """The person already has limit - 1 refusals in the window (the selector's count, set here)."""
    offer = offered()
    monkeypatch.setattr(confirmation, "refusals_of_person", lambda application, **kwargs: spec.REFUSAL_LIMIT - 1)
    with translation.override("en"):
        page = act(client_as("intake"), offer, "decline", confirm="").content.decode()
    assert f"refusal {spec.REFUSAL_LIMIT} of {spec.REFUSAL_LIMIT} allowed" in page
    assert f"cannot apply again for {spec.BAR_DAYS} days" in page
    offer.refresh_from_db()
    assert offer.state == OfferState.PENDING


def test_the_confirming_post_records_the_decline_once_and_redirects_r_off_4():
    offer = offered()
    client = client_as("intake")
    first = act(client, offer, "decline", token="one", confirm="", reason="too far")
    assert first.status_code == 200
    response = act(client, offer, "decline", token="one", reason="too far")
    assert response.status_code == 302 and response["Location"] == reverse("staff:offer", args=[offer.pk])
    offer.refresh_from_db()
    assert offer.state == OfferState.DECLINED and offer.is_refusal
    assert offer.application.events.filter(transition="decline_offer").count() == 1


def test_a_first_decline_post_on_an_accepted_offer_changes_nothing_and_names_the_state_by_its_label():
    offer = accepted()
    client = client_as("intake")
    with translation.override("en"):
        response = act(client, offer, "decline", confirm="")
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED
    assert f"the offer is {OfferState.ACCEPTED.label}" in page


def test_a_decline_without_words_shows_a_plain_reason_not_the_raw_value():
    offer = offered()
    client = client_as("intake")
    act(client, offer, "decline")
    with translation.override("en"):
        page = client.get(reverse("staff:offer", args=[offer.pk])).content.decode()
    assert "the family declined" in page
    assert "<dd>declined</dd>" not in page


def test_the_decline_confirmation_page_is_in_chinese_with_the_count_r_off_5():
    offer = offered()
    with translation.override("zh-hans"):
        page = act(client_as("intake"), offer, "decline", confirm="").content.decode()
    assert "登记拒绝前请核对" in page
    assert f"{spec.REFUSAL_WINDOW_DAYS}天内允许的{spec.REFUSAL_LIMIT}次中的第1次" in page


# --- confirmation before a failed admission check (issue 15; R-OFF-4, R-OFF-5) -------------------------
def first_fail_check_post(offer: Offer, reason: str, language: str) -> str:
    """The page the first POST of a failed check answers with, by the home's officer."""
    with translation.override(language):
        return act(
            client_as("facility", facility=offer.facility), offer, "fail-check", confirm="", reason=reason
        ).content.decode()


def test_the_first_no_show_post_changes_nothing_and_says_it_counts_as_a_refusal_r_off_4():
    offer = accepted()
    client = client_as("facility", facility=offer.facility)
    with translation.override("en"):
        response = act(client, offer, "fail-check", token="nf", confirm="", reason="no_show", note="never came")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Check before recording the failed admission check" in page
    assert f"It will be refusal 1 of {spec.REFUSAL_LIMIT} allowed in {spec.REFUSAL_WINDOW_DAYS} days (now 0)" in page
    assert "The bed goes to the next person in the queue." in page and "cannot apply again" not in page
    assert 'name="fail-check-reason" value="no_show"' in page and "never came" in page and 'value="nf"' in page
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED
    done = act(client, offer, "fail-check", token="nf", reason="no_show", note="never came")
    assert done.status_code == 302
    offer.refresh_from_db()
    assert offer.state == OfferState.FAILED_CHECK and offer.is_refusal


def test_a_no_show_at_the_limit_says_the_application_is_removed_and_the_bar_r_off_5(monkeypatch):
    from web import confirmation

    offer = accepted()
    monkeypatch.setattr(confirmation, "refusals_of_person", lambda application, **kwargs: spec.REFUSAL_LIMIT - 1)
    page = first_fail_check_post(offer, "no_show", "en")
    assert f"refusal {spec.REFUSAL_LIMIT} of {spec.REFUSAL_LIMIT} allowed" in page
    assert f"cannot apply again for {spec.BAR_DAYS} days" in page


def test_a_changed_care_need_says_a_new_assessment_is_needed_and_is_not_a_refusal():
    offer = accepted()
    page = first_fail_check_post(offer, "care_need_changed", "en")
    assert "goes back for a new assessment" in page and "counts as a refusal" not in page
    offer.refresh_from_db()
    assert offer.state == OfferState.ACCEPTED


def test_the_failed_check_confirmation_is_in_chinese():
    page = first_fail_check_post(accepted(), "other", "zh-hans")
    assert "登记入住核验未通过前请核对" in page
