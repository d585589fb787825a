"""Factories (factory_boy) and flows that drive the real services, for tests."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from stdnum.cn import ric

from admissions.services import applications as app_services
from admissions.services import assessments as asm_services
from admissions.services.applications import IntakeData
from core.actor import Actor
from facilities.models import Bed, BedStatus, District, Facility

_serial = itertools.count(1)


def id_number(born: dt.date, *, sex: str = "F", place: str = "440104") -> str:
    """A valid resident ID number (R-APP-1) for the birth date and sex."""
    seq = next(_serial) % 500
    digit17 = (2 * (seq % 5) + (1 if sex == "M" else 0)) % 10
    body = f"{place}{born:%Y%m%d}{seq // 5 % 100:02d}{digit17}"
    return body + ric.calc_check_digit(body + "0")  # it expects the check position present


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


def actor(username: str) -> Actor:
    """A person for a service call in a test of the rules, who may take any step: an administrator
    (ROLES_BY_TRANSITION lets an admin take any transition). Tests of who may do what build users
    with `roles_assign` and go through the API or the pages."""
    return Actor.for_user(UserFactory(username=username, is_superuser=True))


def staff_actor(username: str, *roles: str) -> Actor:
    """An actor whose user holds these roles (for the services that check the role table, R-CHG-1)."""
    from facilities.roles import roles_assign

    user = UserFactory(username=username)
    roles_assign(user=user, roles=list(roles))
    return Actor.for_user(user)


def district(code: str = "yuexiu") -> District:
    return District.objects.get(code=code)


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"F{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Home {o.code}")
    district = factory.LazyFunction(lambda: District.objects.get(code="yuexiu"))
    level = "district"
    address = "1 Example Road"


def add_beds(
    facility: Facility,
    *,
    nursing: int = 0,
    general: int = 0,
    status: str = BedStatus.OCCUPIED,
    holder: str | None = None,
) -> list[Bed]:
    """Beds straight into the table (no allocation): for setting up a home's starting state."""
    start = Bed.objects.filter(facility=facility).count()
    beds = []
    for i, bed_type in enumerate(["nursing"] * nursing + ["general"] * general, start=start + 1):
        held = status in (BedStatus.RESERVED, BedStatus.OCCUPIED)
        beds.append(
            Bed(
                facility=facility,
                code=f"B{i:04d}",
                bed_type=bed_type,
                status=status,
                holder_care_level=(holder or ("nursing" if bed_type == "nursing" else "self_care")) if held else None,
            )
        )
    return Bed.objects.bulk_create(beds)


# Item scores for each grade (R-ASM-1 totals shown).
ITEMS_GRADE_0 = {  # total 90
    **{f"B1.{i}": 4 for i in range(1, 9)},
    "B2.1": 4,
    "B2.2": 4,
    "B2.3": 4,
    "B2.4": 3,
    **{f"B3.{i}": 4 for i in range(1, 7)},
    "B3.7": 1,
    "B3.8": 1,
    "B3.9": 2,
    "B4.1": 2,
    "B4.2": 2,
    "B4.3": 4,
    "B4.4": 3,
    "B4.5": 4,
}


def items_with_total(total: int) -> dict[str, int]:
    """Take points away from the top-scored items until the total is reached."""
    items = dict(ITEMS_GRADE_0)
    excess = 90 - total
    for code in [c for c in items if c.startswith(("B1", "B2", "B4", "B3.1", "B3.2", "B3.3", "B3.4", "B3.5", "B3.6"))]:
        take = min(items[code], excess)
        items[code] -= take
        excess -= take
        if excess == 0:
            break
    assert excess == 0
    return items


GRADE_TOTALS = {0: 90, 1: 75, 2: 58, 3: 40, 4: 20}


def intake(**overrides) -> IntakeData:
    born = overrides.pop("date_of_birth", dt.date(1941, 3, 2))
    sex = overrides.pop("sex", "F")
    data = dict(
        name="陈秀英",
        id_number=id_number(born, sex=sex),
        date_of_birth=born,
        sex=sex,
        phone="13800000000",
        hukou_district="yuexiu",
        residence_district="yuexiu",
        address="越秀区 1 号",
        lives_alone=False,
        no_spouse_no_children=False,
        contact_name="女儿",
        contact_relation="daughter",
        contact_phone="13900000000",
        no_infectious_disease=True,
        no_serious_mental_disorder=True,
        categories=[],
        choices=[],
    )
    data.update(overrides)
    return IntakeData(**data)


def submitted_application(**overrides):
    application, code = app_services.application_create(data=intake(**overrides), submit=True, actor=actor("intake"))
    return application


def reviewed_application(*, grade: int = 2, assessed_on: dt.date | None = None, coma: bool = False, **overrides):
    """Submitted, accepted, assessed (completed and approved): in review, ready for approval."""
    application = submitted_application(**overrides)
    application = app_services.application_accept_for_assessment(application=application, actor=actor("intake"))
    assessment = asm_services.assessment_create(
        application=application,
        assessed_on=assessed_on or timezone.localdate(),
        items=items_with_total(GRADE_TOTALS[grade]),
        coma=coma,
        complete=True,
        actor=actor("assessor"),
    )
    asm_services.assessment_approve(assessment=assessment, actor=actor("reviewer"))
    application.refresh_from_db()
    return application


def queued_application(*, grade: int = 2, verify: tuple[str, ...] = (), **overrides):
    """Through the whole intake flow into the queue (waiting), by the real services."""
    application = reviewed_application(grade=grade, **overrides)
    return app_services.application_approve(
        application=application,
        categories=[{"code": c, "verified": True} for c in verify],
        exemption=None,
        actor=actor("reviewer"),
    )


def reassessed(application, on: dt.datetime, *, grade: int = 2) -> None:
    """A new assessment completed and approved at `on` (the `reassess` transition of a queued
    application), valid for a year from then (R-ASM-5)."""
    with time_machine.travel(on, tick=False):
        assessment = asm_services.assessment_create(
            application=application,
            assessed_on=on.date(),
            items=items_with_total(GRADE_TOTALS[grade]),
            complete=True,
            actor=actor("assessor"),
        )
        asm_services.assessment_approve(assessment=assessment, actor=actor("reviewer"))
