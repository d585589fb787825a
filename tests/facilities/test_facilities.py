"""Homes and their settings; beds and their constraints (R-BED-1, R-NQ-1 targets)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from admissions.models import Occupancy
from admissions.selectors import facility_quota
from admissions.services.beds import bed_discharge, bed_return_to_service, bed_take_out_of_service, beds_add_batch
from core.errors import Conflict, InvalidInput
from core.phones import PHONE_RULE
from facilities.models import AuditEntry, Bed, District, Facility
from facilities.selectors import intake_offices
from facilities.services import facility_create, facility_update
from tests import spec
from tests.factories import FacilityFactory, add_beds

pytestmark = pytest.mark.django_db


def test_a_facility_is_created_with_a_valid_code_and_the_act_is_audited():
    facility = facility_create(
        code="GZC09", values={"name": "广州市第九老人院", "district": "tianhe", "level": "city"}, actor_name="admin"
    )
    assert facility.accepting_applications and facility.nursing_target is None
    assert AuditEntry.objects.filter(action="facility_create", object_key="GZC09").exists()


@pytest.mark.parametrize("code", ["g", "gzc01", "GZC 01", "A" * 21, ""])
def test_a_bad_facility_code_is_refused(code):
    with pytest.raises(InvalidInput) as refused:
        facility_create(code=code, values={"name": "x", "district": "tianhe", "level": "city"}, actor_name="admin")
    assert "code" in refused.value.errors
    assert not Facility.objects.exists()


def test_a_duplicate_code_conflicts():
    FacilityFactory(code="YX01")
    with pytest.raises(Conflict):
        facility_create(code="YX01", values={"name": "x", "district": "tianhe", "level": "city"}, actor_name="admin")


def test_a_facility_target_overrides_the_policy_and_is_audited():
    """R-NQ-1: an administrator may set a facility's own target."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=4)
    assert facility_quota(home).self_care_cap == 0  # 4 × 0.22 → 0: "blocked by the quota"
    facility_update(facility=home, values={"nursing_target": "0.5"}, actor_name="admin")
    home.refresh_from_db()
    assert home.nursing_target == Decimal("0.500")
    assert facility_quota(home).self_care_cap == 2
    audit = AuditEntry.objects.get(action="facility_update")
    assert audit.changes == {"before": {"nursing_target": None}, "after": {"nursing_target": "0.500"}}


@pytest.mark.parametrize("value", [1.01, -0.1, "lots", True])
def test_a_bad_target_is_refused_and_nothing_changes(value):
    home = FacilityFactory(code="YX01")
    with pytest.raises(InvalidInput):
        facility_update(facility=home, values={"nursing_target": value}, actor_name="admin")
    home.refresh_from_db()
    assert home.nursing_target is None and not AuditEntry.objects.exists()


@pytest.mark.parametrize(("field", "limit"), [("name_en", 120), ("address", 255), ("address_en", 255)])
def test_an_optional_text_may_be_blank_and_at_most_its_columns_length(field, limit):
    """Issue 15: a home's English name and the addresses may be left blank (pages fall back to the
    Chinese); one character past the column's length is refused naming the field, and nothing changes."""
    home = FacilityFactory(code="YX01")
    facility_update(facility=home, values={field: "x" * limit}, actor_name="admin")
    facility_update(facility=home, values={field: ""}, actor_name="admin")
    with pytest.raises(InvalidInput) as refused:
        facility_update(facility=home, values={field: "x" * (limit + 1)}, actor_name="admin")
    assert field in refused.value.errors
    home.refresh_from_db()
    assert getattr(home, field) == ""


@pytest.mark.parametrize("phone", ["=1+1", "<script>x</script>", "12345", "020-1234567890123"])
def test_a_home_phone_that_is_not_a_phone_number_is_refused_by_the_applicants_rule(phone):
    """R-SEC-9: a home's phone follows the rule and normal form of applicants' phones (core/phones.py)."""
    home = FacilityFactory(phone="02012345678")
    with pytest.raises(InvalidInput) as refused:
        facility_update(facility=home, values={"phone": phone}, actor_name="admin")
    assert refused.value.errors["phone"] == [str(PHONE_RULE)]
    home.refresh_from_db()
    assert home.phone == "02012345678"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("020-8888 1234", "02088881234"),
        ("+86 137 0000 0000", "13700000000"),
        ("+852 9123 4567", "+85291234567"),
        ("", ""),
    ],
)
def test_a_home_phone_is_stored_in_the_normal_form_of_applicants_phones(typed, stored):
    """R-SEC-9."""
    home = facility_create(
        code="GZC08",
        values={"name": "广州市第八老人院", "district": "tianhe", "level": "city", "phone": typed},
        actor_name="a",
    )
    assert home.phone == stored


def test_the_admin_refuses_a_home_phone_that_is_not_a_phone_number(admin_client):
    """R-SEC-9: the Django admin's edit of a home follows the same rule."""
    home = FacilityFactory(code="YX01", phone="02012345678")
    path = reverse("admin:facilities_facility_change", args=[home.pk])
    form = {
        "code": "YX01",
        "name": home.name,
        "district": home.district_id,
        "level": home.level,
        "address": "越秀区 1 号",
        "accepting_applications": "on",
        "_save": "Save",
    }
    refused = admin_client.post(path, {**form, "phone": "=1+1"})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["phone"] == [str(PHONE_RULE)]
    accepted = admin_client.post(path, {**form, "phone": "020 8888 1234"})
    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    home.refresh_from_db()
    assert home.phone == "02088881234"


def test_a_bed_holds_at_most_one_occupant_by_database_constraint():
    """R-BED-1."""
    home = FacilityFactory(code="YX01")
    (bed,) = add_beds(home, nursing=1)
    Occupancy.objects.create(bed=bed, facility=home, care_level="nursing", admitted_on="2026-01-01")
    with pytest.raises(IntegrityError), transaction.atomic():
        Occupancy.objects.create(bed=bed, facility=home, care_level="nursing", admitted_on="2026-02-01")


def test_a_bed_status_and_its_holder_care_level_agree_by_database_constraint():
    """R-BED-1 / R-NQ-1: a held bed records its holder's care level; a free one records none."""
    home = FacilityFactory(code="YX01")
    with pytest.raises(IntegrityError), transaction.atomic():
        Bed.objects.create(facility=home, code="X", bed_type="nursing", status="occupied", holder_care_level=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Bed.objects.create(facility=home, code="Y", bed_type="nursing", status="vacant", holder_care_level="nursing")


def test_a_batch_of_beds_is_coded_from_the_prefix():
    home = FacilityFactory(code="YX01")
    beds, decisions = beds_add_batch(facility=home, bed_type="nursing", count=3, prefix="N")
    assert [b.code for b in beds] == ["N-001", "N-002", "N-003"]
    assert len(decisions) == 3  # each new bed went to the (empty) queue: R-ALLOC-3
    with pytest.raises(Conflict):
        beds_add_batch(facility=home, bed_type="nursing", count=1, prefix="N")
    with pytest.raises(InvalidInput):
        beds_add_batch(facility=home, bed_type="luxury", count=1, prefix="L")
    with pytest.raises(InvalidInput):
        beds_add_batch(facility=home, bed_type="general", count=0, prefix="L")


def test_discharge_needs_an_occupied_bed_and_a_known_reason():
    """R-BED-2."""
    home = FacilityFactory(code="YX01")
    (occupied,) = add_beds(home, nursing=1)
    (vacant,) = add_beds(home, nursing=1, status="vacant")
    with pytest.raises(InvalidInput):
        bed_discharge(bed=occupied, reason="bored")
    with pytest.raises(Conflict):
        bed_discharge(bed=vacant, reason="discharged")
    bed, decision = bed_discharge(bed=occupied, reason="transferred")
    assert bed.status == "vacant" and decision.trigger == "discharge:transferred"


def test_out_of_service_and_back():
    home = FacilityFactory(code="YX01")
    (bed,) = add_beds(home, general=1, status="vacant")
    bed = bed_take_out_of_service(bed=bed, reason="repairs")
    assert bed.status == "out_of_service"
    with pytest.raises(Conflict):
        bed_take_out_of_service(bed=bed)
    bed, decision = bed_return_to_service(bed=bed)
    assert bed.status == "vacant" and decision.trigger == "bed_returned_to_service"


def test_bed_counts_count_each_bed_once_in_each_of_its_columns():
    """The bed board's figures (R-BED-1 states, R-NQ-1 holders): 12 beds — 4 nursing occupied by
    nursing-level residents, 2 general occupied by self-care ones, 1 general reserved for a self-care
    applicant, 1 nursing reserved for a nursing-level one, 1 general held by a nursing-level resident,
    2 vacant (1 nursing, 1 general) and 1 general out of service. Counted for many homes at once, the
    same figures; a home without beds is left out."""
    from facilities.selectors import BedCounts, bed_counts, bed_counts_by_facility

    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=4, holder="nursing")
    add_beds(home, general=2, holder="self_care")
    add_beds(home, general=1, status="reserved", holder="self_care")
    add_beds(home, nursing=1, status="reserved", holder="nursing")
    add_beds(home, general=1, holder="nursing")
    add_beds(home, nursing=1, general=1, status="vacant")
    add_beds(home, general=1, status="out_of_service")
    assert bed_counts(home) == BedCounts(
        total=12,
        in_service=11,
        nursing=6,
        general=6,
        vacant=2,
        reserved=2,
        occupied=7,
        out_of_service=1,
        held_by_self_care=3,
        held_by_nursing=6,
        vacant_nursing=1,
        vacant_general=1,
    )
    assert bed_counts_by_facility([home, FacilityFactory(code="YX02")]) == {home.pk: bed_counts(home)}


def test_the_quota_counts_in_service_beds_and_who_holds_them():
    """R-NQ-1: 100 beds, 1 of them out of service → ⌊99 × 0.22⌋ = 21; held by self-care: the
    reserved and occupied beds whose holder was self-care when offered (here 20), not vacant ones."""
    home = FacilityFactory(code="YX01")
    add_beds(home, nursing=70, holder="nursing")
    add_beds(home, general=15, holder="self_care")
    add_beds(home, general=5, status="reserved", holder="self_care")
    add_beds(home, nursing=8, general=1, status="vacant")
    add_beds(home, general=1, status="out_of_service")
    quota = facility_quota(home)
    assert quota.nursing_target == spec.NURSING_TARGET
    assert (quota.self_care_cap, quota.self_care_held, quota.nursing_held) == (21, 20, 70)
    assert (quota.headroom, quota.nursing_share) == (1, round(70 / 90, 4))
    assert quota.figures() == {"self_care_cap": 21, "self_care_held": 20}


def test_the_intake_offices_listed_are_the_districts_with_an_address_or_a_phone_in_code_order():
    """The public start page and the receipt list the intake offices administrators have filled in
    (issue 15): a district with an address, a phone or both, never one with neither."""
    District.objects.update(office_address="", office_phone="")
    codes = list(District.objects.order_by("code").values_list("code", flat=True)[:4])
    District.objects.filter(code=codes[3]).update(office_address="越秀区 1 号")
    District.objects.filter(code=codes[1]).update(office_phone="020-12345678")
    District.objects.filter(code=codes[0]).update(office_address="海珠区 2 号", office_phone="020-87654321")
    assert [district.code for district in intake_offices()] == [codes[0], codes[1], codes[3]]


# --- a home's fields, as the service checks them (survivors of make mutate MODULE=homes) ------------
HOME = {"name": "广州市第九老人院", "district": "tianhe", "level": "city"}


def test_a_new_home_keeps_its_fields_and_the_audit_says_what_was_created():
    """Issue 4's administration: every act on a home is audited, naming the home as a Facility, with
    nothing before a creation and the fields written after it."""
    facility = facility_create(code="GZC09", values={**HOME, "name": "  广州市第九老人院 "}, actor_name="admin")
    facility.refresh_from_db()
    assert (facility.name, facility.district.code, facility.level) == ("广州市第九老人院", "tianhe", "city")
    audit = AuditEntry.objects.get(action="facility_create")
    assert (audit.object_type, audit.object_key, audit.actor_name) == ("Facility", "GZC09", "admin")
    assert audit.changes == {"before": {}, "after": {"name": "广州市第九老人院", "district": "tianhe", "level": "city"}}
    facility_update(facility=facility, values={"name": "广州市第十老人院"}, actor_name="admin")
    assert AuditEntry.objects.get(action="facility_update").object_type == "Facility"


@pytest.mark.parametrize("left_out", ["name", "district", "level"])
def test_a_new_home_needs_a_name_a_district_and_a_level(left_out):
    values = {name: value for name, value in HOME.items() if name != left_out}
    with pytest.raises(InvalidInput) as refused:
        facility_create(code="GZC09", values=values, actor_name="admin")
    assert refused.value.errors == {left_out: ["is required"]}
    assert not Facility.objects.exists()


def test_a_taken_code_is_refused_naming_the_code():
    FacilityFactory(code="YX01")
    with pytest.raises(Conflict) as refused:
        facility_create(code="YX01", values=HOME, actor_name="admin")
    assert "code" in refused.value.errors


@pytest.mark.parametrize(
    ("name", "accepted"), [("x" * 120, True), ("x" * 121, False), ("", False), ("   ", False), (None, False)]
)
def test_a_homes_name_is_1_to_120_characters_once_trimmed(name, accepted):
    """The name column's 120 characters; a blank or missing name is refused naming the field."""
    home = FacilityFactory(code="YX01")
    before = home.name
    if accepted:
        facility_update(facility=home, values={"name": name}, actor_name="admin")
        home.refresh_from_db()
        assert home.name == name
        return
    with pytest.raises(InvalidInput) as refused:
        facility_update(facility=home, values={"name": name}, actor_name="admin")
    assert set(refused.value.errors) == {"name"}
    home.refresh_from_db()
    assert home.name == before


def test_clearing_the_target_still_checks_the_other_fields():
    """R-NQ-1: null gives the home the policy's target back; a bad field given with it is still refused."""
    home = FacilityFactory(code="YX01")
    with pytest.raises(InvalidInput) as refused:
        facility_update(facility=home, values={"nursing_target": None, "name": ""}, actor_name="admin")
    assert set(refused.value.errors) == {"name"}


@pytest.mark.parametrize("target", ["0", "1", "0.000", "1.000"])
def test_a_homes_own_target_may_be_0_or_1_the_ends_of_the_range(target):
    """R-NQ-1: a home's own nursing target is a share of its beds, from 0 to 1 inclusive."""
    home = FacilityFactory(code="YX01")
    facility_update(facility=home, values={"nursing_target": target}, actor_name="admin")
    home.refresh_from_db()
    assert home.nursing_target == Decimal(target)


def test_the_target_change_tells_admissions_the_home_and_both_targets():
    """R-ALLOC-3: admissions hears of a change of a home's own target with the home and the targets
    before and after (None: the policy's), and of no other change."""
    from facilities.signals import nursing_target_changed

    heard = []

    def receiver(sender, facility, before, after, **kwargs):
        heard.append((sender, facility.code, before, after))

    nursing_target_changed.connect(receiver)
    try:
        home = FacilityFactory(code="YX01")
        facility_update(facility=home, values={"nursing_target": "0.9"}, actor_name="admin")
        facility_update(facility=home, values={"name": "改名", "nursing_target": "0.900"}, actor_name="admin")
        facility_update(facility=home, values={"name": "再改名"}, actor_name="admin")
        facility_update(facility=home, values={"nursing_target": None}, actor_name="admin")
    finally:
        nursing_target_changed.disconnect(receiver)
    assert heard == [(Facility, "YX01", None, "0.900"), (Facility, "YX01", "0.900", None)]
