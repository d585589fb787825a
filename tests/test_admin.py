"""The Django admin: every model viewable; states never editable (R-FSM-1); history read-only
(R-FSM-2, R-ALLOC-2); nothing of an application's history deleted; audited administrative acts."""

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from admissions.chain import checkpoint_write
from admissions.models import (
    AllocationDecision,
    Application,
    ApplicationEvent,
    CalendarDay,
    FormSubmission,
    Occupancy,
    Offer,
    Policy,
    Reconfirmation,
)
from admissions.services import applications as app_services
from admissions.services import offers as offer_services
from admissions.services.allocation import allocation_run
from admissions.services.calendar import calendar_day_set
from admissions.services.couples import couple_link
from admissions.services.privacy import id_access_record
from admissions.services.review_requests import review_request_create
from admissions.services.webhooks import webhook_subscribe
from admissions.workdays import covered_years
from facilities.models import AuditEntry
from facilities.roles import roles_assign
from tests.factories import FacilityFactory, actor, add_beds, queued_application, submitted_application

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webhook_hosts(settings):
    """R-SEC-5: webhooks go only to listed hosts; the local test receivers are listed explicitly."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


APPS = ("facilities", "assessments", "admissions")
MODELS = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry if model._meta.app_label in APPS
)


@pytest.fixture
def world():
    """At least one row of every model of the three apps, made by the real services."""
    webhook_subscribe(
        url="http://127.0.0.1:9/hook", events=["application.state_changed"], secret="s" * 16, actor=actor("admin")
    )  # every state change below records a delivery (not sent: on_commit does not run in a test transaction)
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=8)
    add_beds(home, nursing=2, status="vacant")
    offered = queued_application(
        choices=["YX01"], categories=[{"code": "dibao", "evidence": "低保证 穗民低字第1号"}], verify=("dibao",)
    )
    second = queued_application(choices=["YX01"], phone="13800000001")
    offer = Offer.objects.get(application=second)
    offer_services.offer_accept(offer=offer, actor=actor("facility"))
    offer_services.offer_admit(offer=offer, actor=actor("facility"))
    other = submitted_application(choices=["YX01"], name="陈秀英", phone="13911112222")
    app_services.duplicate_review_record(
        application=other,
        other_reference=offered.reference,
        match="name_dob",
        decision="dismissed",
        note="不同的人",
        actor=actor("intake"),
    )
    calendar_day_set(date=dt.date(2030, 1, 1), kind="holiday", name="元旦", actor_name="test")
    roles_assign(user=actor("facility").user, roles=["facility"], facility=home)
    FormSubmission.objects.create(token="form-token", result_url="/staff/")
    checkpoint_write(made_by="test")  # R-VER-3
    id_access_record(user=actor("intake").user, applicant=offered.applicant, application=offered, where="test")
    # R-ALLOC-2: a bed nobody can take, tried twice: one decision and a confirmation row.
    add_beds(home, general=1, status="vacant")
    allocation_run(facility=home, trigger="staff_request")
    allocation_run(facility=home, trigger="staff_request")
    # R-CHG-3: an ask (the sweep makes these a year after queued_at; the row is what the admin shows).
    now = timezone.now()
    Reconfirmation.objects.create(application=offered, due_at=now, asked_at=now, respond_by=now + dt.timedelta(days=30))
    review_request_create(application=offered, reason="The family disagrees", actor=actor("intake"))  # R-ASM-6
    # R-CPL-1: two waiting spouses linked (the offered one holds a live offer, so two others).
    wife = queued_application(choices=["YX01"], name="张秀兰", phone="13800000003")
    husband = queued_application(choices=["YX01"], name="王建国", sex="M", phone="13800000004")
    couple_link(
        applications=[wife.reference, husband.reference], mode="either_first", reason="spouses", actor=actor("intake")
    )
    return {"home": home, "application": Application.objects.get(pk=offered.pk)}


def test_every_model_of_the_three_apps_has_an_admin():
    """Issue 2: Django admin for every model — a new model without one fails here."""
    from django.apps import apps

    expected = {
        (model._meta.app_label, model._meta.model_name)
        for label in APPS
        for model in apps.get_app_config(label).get_models()
    }
    assert set(MODELS) == expected


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_the_changelist_and_a_change_page_of_every_model_open(admin_client, world, app_label, model_name):
    model = next(m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == (app_label, model_name))

    response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert response.status_code == 200

    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the test world has no {model_name}"
    response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_the_application_state_is_read_only_on_its_change_form(admin_client, world):
    application = world["application"]
    url = reverse("admin:admissions_application_change", args=[application.pk])

    page = admin_client.get(url).content.decode()
    assert 'name="state"' not in page  # shown, not editable (R-FSM-1)
    assert 'name="_save"' in page  # the contact person can be corrected

    response = admin_client.post(
        url,
        {
            "state": "admitted",
            "contact_name": "李小红",
            "contact_relation": "女儿",
            "contact_phone": "13700000000",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == "offered"
    assert application.contact_name == "李小红"
    event = application.events.order_by("-id").first()
    assert event.transition == "update"
    assert event.data == {"fields": ["contact_name", "contact_relation", "contact_phone"], "via": "admin"}


@pytest.mark.parametrize("model", [ApplicationEvent, AllocationDecision, AuditEntry])
def test_history_pages_have_no_save_button_and_refuse_a_post(admin_client, world, model):
    obj = model.objects.order_by("pk").first()
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()

    assert admin_client.post(url, {"_save": "Save"}).status_code == 403
    add_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
    assert admin_client.get(add_url).status_code == 403
    delete_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model", [Application, Offer, Occupancy])
def test_an_application_and_its_history_cannot_be_deleted(admin_client, world, model):
    obj = model.objects.order_by("pk").first()
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[obj.pk])

    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


def test_the_bulk_delete_action_is_not_offered_for_applications(admin_client, world):
    application = world["application"]
    response = admin_client.post(
        reverse("admin:admissions_application_changelist"),
        {"action": "delete_selected", "_selected_action": [application.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert Application.objects.filter(pk=application.pk).exists()


def test_lists_show_id_numbers_masked(admin_client, world):
    applicant = world["application"].applicant

    for name in ("applicant", "application"):
        page = admin_client.get(reverse(f"admin:admissions_{name}_changelist")).content.decode()
        assert applicant.masked_id_number in page
        assert applicant.id_number not in page


def test_changing_a_facility_nursing_target_is_audited(admin_client, world):
    home = world["home"]
    url = reverse("admin:facilities_facility_change", args=[home.pk])

    response = admin_client.post(
        url,
        {
            "code": home.code,
            "name": home.name,
            "district": home.district_id,
            "level": home.level,
            "address": home.address,
            "phone": home.phone,
            "accepting_applications": "on",
            "nursing_target": "0.800",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    home.refresh_from_db()
    assert str(home.nursing_target) == "0.800"
    entry = AuditEntry.objects.get(action="facility_nursing_target_set", object_key=home.code)
    assert entry.changes == {"before": {"nursing_target": None}, "after": {"nursing_target": "0.800"}}
    assert entry.actor_name == "admin"


def test_calendar_days_added_changed_and_deleted_in_the_admin_are_audited(admin_client, world):
    add = admin_client.post(
        reverse("admin:admissions_calendarday_add"),
        {"date": "2031-10-01", "kind": "holiday", "name": "国庆节", "_save": "Save"},
    )
    assert add.status_code == 302
    day = CalendarDay.objects.get(date=dt.date(2031, 10, 1))

    change = admin_client.post(
        reverse("admin:admissions_calendarday_change", args=[day.pk]),
        {"kind": "workday", "name": "国庆调休", "_save": "Save"},
    )
    assert change.status_code == 302
    day.refresh_from_db()
    assert day.kind == "workday"

    delete = admin_client.post(reverse("admin:admissions_calendarday_delete", args=[day.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not CalendarDay.objects.filter(date=dt.date(2031, 10, 1)).exists()

    actions = list(AuditEntry.objects.filter(object_key="2031-10-01").order_by("id").values_list("action", flat=True))
    assert actions == ["calendar_day_set", "calendar_day_set", "calendar_day_delete"]
    assert AuditEntry.objects.filter(object_key="2031-10-01", actor_name="admin").count() == 3


def test_the_calendar_list_says_which_years_are_covered(admin_client, world):
    years = covered_years()
    assert years  # shipped filled (R-OFF-2)

    response = admin_client.get(reverse("admin:admissions_calendarday_changelist"))

    shown = [str(message) for message in response.context["messages"]]
    assert any(", ".join(str(year) for year in years) in message for message in shown), shown


def test_a_policy_version_is_added_audited_and_never_edited(admin_client, world):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = admin_client.post(
        reverse("admin:admissions_policy_add"),
        {
            "version": "2",
            "effective_from": tomorrow.isoformat(),
            "parameters": '{"refusal_limit": 4}',
            "note": "test",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    policy = Policy.objects.get(version=2)
    assert policy.created_by.username == "admin"
    assert AuditEntry.objects.filter(action="policy_create", object_key="v2").exists()

    url = reverse("admin:admissions_policy_change", args=[policy.pk])
    assert 'name="_save"' not in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"note": "edited", "_save": "Save"}).status_code == 403
    policy.refresh_from_db()
    assert policy.note == "test"


def test_a_policy_version_with_bad_parameters_is_refused(admin_client, world):
    response = admin_client.post(
        reverse("admin:admissions_policy_add"),
        {
            "version": "2",
            "effective_from": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
            "parameters": '{"refusal_limit": -1, "nonsense": 1}',
            "note": "",
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert not Policy.objects.filter(version=2).exists()
    assert "nonsense" in response.content.decode()
