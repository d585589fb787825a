"""Django admin for districts, homes, beds and the audit trail.

Thin (STYLE.md). A bed's status belongs to the allocation (R-BED-1, R-FSM-1), so it is read-only
here; new beds are added through admissions.services.beds, which hands each one to the queue at once
(R-ALLOC-3), so the admin adds none. Every change to a home is written to the audit trail, the
nursing target (R-NQ-1) in an entry of its own.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from core.phones import PHONE_RULE, InvalidPhone, normalise_phone

from .models import AuditEntry, Bed, BedStatus, BedType, District, Facility, StaffProfile


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted here: records that only a service writes."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def audit_value(value):
    """A field value as JSON can hold it."""
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def phone_cleaned(value) -> str:
    """R-SEC-9: the same rule and normal form as applicants' phones (core/phones.py)."""
    try:
        return normalise_phone(value)
    except InvalidPhone:
        raise forms.ValidationError(PHONE_RULE, code="phone") from None


class DistrictAdminForm(forms.ModelForm):
    class Meta:
        model = District
        fields = "__all__"  # noqa: DJ007 - the admin's own field list decides what is shown

    def clean_office_phone(self):
        return phone_cleaned(self.cleaned_data.get("office_phone"))


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    """The districts and their intake offices, which the public start page lists (issue 15)."""

    form = DistrictAdminForm
    list_display = ("code", "name_zh", "name_en", "office_phone")
    search_fields = ("code", "name_zh", "name_en")


class FacilityAdminForm(forms.ModelForm):
    class Meta:
        model = Facility
        fields = "__all__"  # noqa: DJ007 - the admin's own field list decides what is shown

    def clean_phone(self):
        return phone_cleaned(self.cleaned_data.get("phone"))


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    form = FacilityAdminForm
    list_display = (
        "code",
        "name",
        "level",
        "district",
        "accepting_applications",
        "nursing_target",
        "bed_total",
        "nursing_share",
    )
    list_filter = ("level", "district", "accepting_applications")
    search_fields = ("code", "name", "address")
    list_select_related = ("district",)
    ordering = ("code",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                bed_count=Count("beds", distinct=True),
                nursing_bed_count=Count("beds", filter=Q(beds__bed_type=BedType.NURSING), distinct=True),
            )
        )

    @admin.display(description=_("beds"), ordering="bed_count")
    def bed_total(self, obj) -> int:
        return obj.bed_count

    @admin.display(description=_("nursing-type share"))
    def nursing_share(self, obj) -> str:
        return f"{obj.nursing_bed_count / obj.bed_count:.1%}" if obj.bed_count else "–"

    def has_delete_permission(self, request, obj=None) -> bool:
        # A home is retired by no longer accepting applications; its beds, queue and decisions stay.
        return False

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name in {f.name for f in Facility._meta.concrete_fields}]
        before = {}
        if change:
            old = Facility.objects.get(pk=obj.pk)
            before = {name: audit_value(Facility._meta.get_field(name).value_from_object(old)) for name in changed}
        super().save_model(request, obj, form, change)
        after = {name: audit_value(Facility._meta.get_field(name).value_from_object(obj)) for name in changed}
        actor = {"user": request.user, "actor_name": request.user.get_username()}
        if not change:
            every = [f.name for f in Facility._meta.concrete_fields if f.name != "id"]
            values = {name: audit_value(Facility._meta.get_field(name).value_from_object(obj)) for name in every}
            AuditEntry.objects.create(
                **actor,
                action="facility_create",
                object_type="Facility",
                object_key=obj.code,
                changes={"before": None, "after": values},
            )
            return
        if "nursing_target" in changed:
            # R-NQ-1 / §9: a facility's own target is an administrator's audited act.
            AuditEntry.objects.create(
                **actor,
                action="facility_nursing_target_set",
                object_type="Facility",
                object_key=obj.code,
                changes={
                    "before": {"nursing_target": before["nursing_target"]},
                    "after": {"nursing_target": after["nursing_target"]},
                },
            )
        others = [name for name in changed if name != "nursing_target"]
        if others:
            AuditEntry.objects.create(
                **actor,
                action="facility_change",
                object_type="Facility",
                object_key=obj.code,
                changes={"before": {n: before[n] for n in others}, "after": {n: after[n] for n in others}},
            )


@admin.register(Bed)
class BedAdmin(admin.ModelAdmin):
    list_display = ("__str__", "facility", "code", "bed_type", "status", "holder_care_level", "occupancy_round")
    list_filter = ("status", "bed_type", "holder_care_level", "facility__level", "facility")
    search_fields = ("code", "facility__code", "facility__name")
    list_select_related = ("facility",)
    raw_id_fields = ("facility",)
    # The status and who holds the bed change only through allocation, offers and discharges
    # (R-BED-1, R-BED-2); the bed type decides matching (R-NQ-2), so it is not changed here either.
    readonly_fields = ("facility", "bed_type", "status", "holder_care_level", "occupancy_round", "created_at")
    fields = (
        "facility",
        "code",
        "bed_type",
        "status",
        "holder_care_level",
        "out_of_service_reason",
        "occupancy_round",
        "created_at",
    )
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.status != BedStatus.OUT_OF_SERVICE:
            fields.append("out_of_service_reason")
        return fields


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_name", "action", "object_type", "object_key")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_key", "action")
    date_hierarchy = "at"
    raw_id_fields = ("user",)


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """Which home a facility officer works for (roles themselves are the groups of the same names)."""

    list_display = ("user", "facility")
    list_select_related = ("user", "facility")
    search_fields = ("user__username", "facility__code")
    raw_id_fields = ("user", "facility")
