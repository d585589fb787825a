"""Django admin for the admission engine: mostly to look at.

Thin (STYLE.md): the admin changes nothing that a rule depends on. States are read-only everywhere
(R-FSM-1); events and allocation decisions are append-only history (R-FSM-2, R-ALLOC-2); applications,
applicants, offers, queue entries, occupancies and assessments are never deleted. Records that only a
service creates (an application at intake, an offer by the allocation, …) are not added here either.
What an administrator does keep here goes through the same audited services as anywhere else: the
working-day calendar (R-OFF-2) and new policy versions (§9).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from admissions.models import (
    AllocationDecision,
    Applicant,
    Application,
    ApplicationEvent,
    CalendarDay,
    CalendarYear,
    CategoryClaim,
    Couple,
    CoupleMember,
    DecisionConfirmation,
    DuplicateReview,
    FacilityChoice,
    FormSubmission,
    IdAccess,
    Notification,
    Occupancy,
    Offer,
    Policy,
    PolicyActivation,
    QueueChange,
    QueueEntry,
    Reconfirmation,
    ReferenceCounter,
    ReviewRequest,
    WebhookDelivery,
    WebhookSubscription,
)
from admissions.policy import PolicyError, PolicyParameters
from admissions.selectors import policy_in_force
from admissions.services.applications import application_contact_update
from admissions.services.calendar import calendar_day_delete, calendar_day_set, calendar_year_mark_covered
from admissions.services.privacy import applicant_for_id_number, id_access_record
from admissions.workdays import calendar_warning, covered_years
from core.actor import Actor
from core.errors import DomainError
from core.phones import PHONE_RULE, InvalidPhone, normalise_phone
from facilities.admin import ReadOnlyAdmin
from facilities.models import AuditEntry

# Roles that check identity and so see a full ID number on one person's own page (SPEC §10).
ID_NUMBER_ROLES = {"intake", "reviewer", "admin"}


def may_see_full_id_number(user) -> bool:
    return user.is_superuser or user.groups.filter(name__in=ID_NUMBER_ROLES).exists()


# --- people and applications -------------------------------------------------------------------
@admin.register(Applicant)
class ApplicantAdmin(admin.ModelAdmin):
    list_display = ("masked_name", "masked_id_number", "date_of_birth", "sex", "language", "barred_until")
    list_filter = ("sex", "language", "barred_until")
    # Not the ID number or phone: a GET search puts them in the URL and so in access logs (R-PRIV-2).
    # Those are looked up by the POST form of change_list.html (changelist_view below).
    search_fields = ("name", "applications__reference")
    fields = ("name", "id_number", "date_of_birth", "sex", "phone", "language", "barred_until")
    # Identity (R-APP-1) is checked at intake and corrected there; the bar (R-APP-6) is the system's.
    readonly_fields = ("name", "id_number", "masked_id_number", "date_of_birth", "sex", "barred_until")
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        """The full ID number only for the roles that check identity (SPEC §10); masked otherwise."""
        shown = "id_number" if may_see_full_id_number(request.user) else "masked_id_number"
        return [shown if name == "id_number" else name for name in super().get_fields(request, obj)]

    def has_add_permission(self, request) -> bool:
        return False  # applicants are registered at intake (R-APP-1…10)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        found = getattr(request, "_applicant_found_by_post", None)
        return queryset if found is None else queryset.filter(pk__in=found)

    def changelist_view(self, request, extra_context=None):
        """R-PRIV-2: a search by ID number or phone is a POST, answered in its own response and never
        cached, and only for the roles that check identity (an assessor may not confirm whose number
        it is). The number is not echoed back."""
        extra_context = {**(extra_context or {}), "id_search": may_see_full_id_number(request.user)}
        searched = request.method == "POST" and ("id_number_search" in request.POST or "phone_search" in request.POST)
        if searched:
            if not may_see_full_id_number(request.user):
                raise PermissionDenied
            request._applicant_found_by_post = self._found_by_post(request.POST)
            extra_context["id_search_done"] = True
        response = super().changelist_view(request, extra_context)
        if searched:
            add_never_cache_headers(response)
        return response

    @staticmethod
    def _found_by_post(data) -> list[int]:
        number = "".join(str(data.get("id_number_search", "")).split()).replace("\x00", "")[:40]
        phone = "".join(str(data.get("phone_search", "")).split()).replace("\x00", "")[:30]
        found: list[int] = []
        if number:
            applicant = applicant_for_id_number(number)
            found += [applicant.pk] if applicant else []
        if phone:
            found += list(Applicant.objects.filter(phone=phone).values_list("pk", flat=True))
        return found

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # R-PRIV-1: the page, once shown, holds the full ID number for the roles that check identity.
        if response.status_code == 200 and may_see_full_id_number(request.user):
            applicant = Applicant.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
            if applicant is not None and applicant.id_number:
                id_access_record(user=request.user, applicant=applicant, application=None, where="admin:applicant")
        return response

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.changed_data:
            # The names of what changed, not the values: phone numbers are personal data.
            AuditEntry.objects.create(
                user=request.user,
                actor_name=request.user.get_username(),
                action="applicant_change",
                object_type="Applicant",
                object_key=str(obj.pk),
                changes={"fields": sorted(form.changed_data)},
            )


APPLICATION_EDITABLE = ("contact_name", "contact_relation", "contact_phone", "contact_email")


class ApplicationAdminForm(forms.ModelForm):
    def clean_contact_phone(self):
        """R-SEC-9: the same rule and normal form as intake."""
        try:
            return normalise_phone(self.cleaned_data.get("contact_phone"))
        except InvalidPhone:
            raise forms.ValidationError(PHONE_RULE, code="phone") from None


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationAdminForm
    list_display = (
        "reference",
        "applicant_name",
        "applicant_id_number",
        "state",
        "channel_code",
        "hukou_district",
        "created_via",
        "created_at",
        "queued_at",
    )
    list_filter = ("state", "channel_code", "hukou_district", "created_via", "lives_alone", "no_spouse_no_children")
    search_fields = ("reference", "applicant__name")  # no ID number in a URL (R-PRIV-2)
    list_select_related = ("applicant", "hukou_district")
    raw_id_fields = ("applicant", "current_assessment", "hukou_district", "residence_district")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("reference", "applicant", "applicant_id_number", "state", "version", "created_via")}),
        (
            _("Intake"),
            {
                "fields": (
                    "hukou_district",
                    "residence_district",
                    "address",
                    "contributor_exemption_requested",
                    "contributor_exemption_granted",
                    "contributor_exemption_note",
                    "lives_alone",
                    "no_spouse_no_children",
                    "declares_no_infectious_disease",
                    "declares_no_serious_mental_disorder",
                    "choices_summary",
                    "claims_summary",
                )
            },
        ),
        (_("Contact"), {"fields": APPLICATION_EDITABLE}),
        (
            _("Queue"),
            {"fields": ("channel_code", "channel_reason", "current_assessment", "queued_at", "closing_reason")},
        ),
        (
            _("Times"),
            {"fields": ("created_at", "updated_at", "submitted_at", "closed_at", "lookup_code_issued_at")},
        ),
    )
    # R-FSM-1: the state changes only through the services' transitions. Everything a rule reads
    # (R-APP-1…8, the channel, the queue) is read-only too; intake corrections go through
    # application_update, which re-checks them. Only the contact person can be corrected here.
    readonly_fields = (
        "reference",
        "applicant",
        "applicant_id_number",
        "state",
        "version",
        "created_via",
        "hukou_district",
        "residence_district",
        "address",
        "contributor_exemption_requested",
        "contributor_exemption_granted",
        "contributor_exemption_note",
        "lives_alone",
        "no_spouse_no_children",
        "declares_no_infectious_disease",
        "declares_no_serious_mental_disorder",
        "choices_summary",
        "claims_summary",
        "channel_code",
        "channel_reason",
        "current_assessment",
        "queued_at",
        "closing_reason",
        "created_at",
        "updated_at",
        "submitted_at",
        "closed_at",
        "lookup_code_issued_at",
    )

    @admin.display(description=_("applicant"), ordering="applicant__name")
    def applicant_name(self, obj) -> str:
        return obj.applicant.masked_name

    @admin.display(description=_("resident ID number"))
    def applicant_id_number(self, obj) -> str:
        return obj.applicant.masked_id_number  # lists and this page: masked (SPEC §10)

    @admin.display(description=_("choices"))
    def choices_summary(self, obj) -> str:
        choices = obj.choices.select_related("facility").order_by("rank")
        return "; ".join(
            f"{c.rank}. {c.facility}" + (" (" + gettext("spouse resident here") + ")" if c.spouse_resident else "")
            for c in choices
        )

    @admin.display(description=_("categories"))
    def claims_summary(self, obj) -> str:
        return "; ".join(f"{c.get_code_display()}: {c.get_status_display()}" for c in obj.category_claims.all())

    def has_add_permission(self, request) -> bool:
        return False  # registered at intake (application_create), which checks R-APP-1…10

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # history is kept; an application ends by a transition (withdraw, remove, …)

    def save_model(self, request, obj, form, change):
        """Only the contact person changes here, through its service (lock, version, event: R-FSM-2)."""
        changed = [name for name in form.changed_data if name in APPLICATION_EDITABLE]
        if not changed:
            return
        application = application_contact_update(
            application=obj,
            changes={name: form.cleaned_data[name] for name in changed},
            actor=Actor.for_user(request.user),
            via="admin",
        )
        obj.version = application.version


@admin.register(CategoryClaim)
class CategoryClaimAdmin(ReadOnlyAdmin):
    """Verified or refused by the reviewer at approval (R-APP-8), through application_approve."""

    list_display = ("application", "code", "status", "evidence", "verified_by", "verified_at")
    list_filter = ("code", "status")
    search_fields = ("application__reference",)
    list_select_related = ("application", "verified_by")
    raw_id_fields = ("application", "verified_by")
    readonly_fields = ("status",)


@admin.register(FacilityChoice)
class FacilityChoiceAdmin(ReadOnlyAdmin):
    list_display = ("application", "rank", "facility", "spouse_resident")
    list_filter = ("facility", "spouse_resident")
    search_fields = ("application__reference", "facility__code")
    list_select_related = ("application", "facility")
    raw_id_fields = ("application", "facility")
    show_full_result_count = False


@admin.register(DuplicateReview)
class DuplicateReviewAdmin(ReadOnlyAdmin):
    list_display = ("application", "other_application", "match", "decision", "decided_by", "decided_at")
    list_filter = ("match", "decision")
    search_fields = ("application__reference", "other_application__reference")
    list_select_related = ("application", "other_application", "decided_by")
    raw_id_fields = ("application", "other_application", "decided_by")


@admin.register(ReviewRequest)
class ReviewRequestAdmin(ReadOnlyAdmin):
    """Re-reviews (R-ASM-6): asked for, assigned and decided through the services only."""

    list_display = ("application", "assessment", "state", "assessor", "outcome", "due_by", "decided_at")
    list_filter = ("state", "outcome")
    search_fields = ("application__reference",)
    list_select_related = ("application", "assessor")
    raw_id_fields = ("application", "assessment", "new_assessment", "assessor", "requested_by")
    raw_id_fields += ("assigned_by", "decided_by")


@admin.register(ReferenceCounter)
class ReferenceCounterAdmin(ReadOnlyAdmin):
    list_display = ("year", "last")


# --- history: append-only, never touched here (R-FSM-2, R-ALLOC-2) --------------------------------
@admin.register(ApplicationEvent)
class ApplicationEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "application", "transition", "from_state", "to_state", "actor_kind", "actor_name")
    list_filter = ("transition", "to_state", "actor_kind")
    search_fields = ("application__reference", "actor_name")
    list_select_related = ("application",)
    raw_id_fields = ("application", "actor_user")
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(AllocationDecision)
class AllocationDecisionAdmin(ReadOnlyAdmin):
    list_display = (
        "facility",
        "sequence",
        "bed",
        "made_at",
        "trigger",
        "chosen_reference",
        "skipped_count",
        "policy_version",
    )
    list_filter = ("facility", "policy_version")
    search_fields = ("facility__code", "bed__code", "hash")
    list_select_related = ("facility", "bed", "bed__facility")
    raw_id_fields = ("facility", "bed", "chosen_entry")
    date_hierarchy = "made_at"
    show_full_result_count = False

    @admin.display(description=_("chosen"))
    def chosen_reference(self, obj) -> str:
        return obj.chosen["reference"] if obj.chosen else "–"

    @admin.display(description=_("skipped"))
    def skipped_count(self, obj) -> int:
        return len(obj.skipped or [])


# --- the queue, offers and residents (written by the allocation and offer services) ---------------
@admin.register(QueueEntry)
class QueueEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "facility",
        "application",
        "status",
        "outcome",
        "channel_rank",
        "care_level",
        "base_score",
        "queued_at",
    )
    list_filter = ("status", "care_level", "channel_rank", "outcome", "facility")
    search_fields = ("application__reference", "facility__code")
    list_select_related = ("facility", "application")
    raw_id_fields = ("application", "facility")
    readonly_fields = ("status",)  # R-Q-1: opened and closed by the services only
    show_full_result_count = False


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "application",
        "facility",
        "bed",
        "state",
        "care_level",
        "made_at",
        "respond_by",
        "admit_by",
        "is_refusal",
    )
    list_filter = ("state", "care_level", "is_refusal", "facility")
    search_fields = ("application__reference", "bed__code", "facility__code")
    list_select_related = ("application", "facility", "bed", "bed__facility")
    raw_id_fields = ("application", "queue_entry", "facility", "bed", "decision")
    readonly_fields = ("state",)  # accept, decline, admit … through the offer services (R-OFF-1…5)
    date_hierarchy = "made_at"
    show_full_result_count = False


@admin.register(Occupancy)
class OccupancyAdmin(ReadOnlyAdmin):
    """Residents: admitted through offer_admit, discharged through bed_discharge (R-BED-2)."""

    list_display = ("bed", "facility", "application", "care_level", "admitted_on", "discharged_on", "discharge_reason")
    list_filter = ("facility", "care_level", "discharge_reason", ("discharged_on", admin.EmptyFieldListFilter))
    search_fields = ("bed__code", "facility__code", "application__reference")
    list_select_related = ("bed", "bed__facility", "facility", "application")
    raw_id_fields = ("bed", "facility", "application", "offer")
    date_hierarchy = "admitted_on"
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "application", "kind", "channel", "language", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "channel", "language")
    search_fields = ("application__reference",)
    list_select_related = ("application",)
    raw_id_fields = ("application",)
    date_hierarchy = "created_at"
    show_full_result_count = False


# --- policy (§9): new versions only, audited ------------------------------------------------------
class PolicyForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = ("version", "effective_from", "parameters", "note")

    def clean_version(self):
        version = self.cleaned_data["version"]
        last = Policy.objects.aggregate(last=Max("version"))["last"] or 0
        if version <= last:
            raise forms.ValidationError(gettext("A new version must be numbered above %(last)s.") % {"last": last})
        return version

    def clean_effective_from(self):
        effective_from = self.cleaned_data["effective_from"]
        if effective_from < timezone.localdate():
            # Decisions already made keep the version they used (§9): a new one starts today or later.
            raise forms.ValidationError(gettext("A new policy version takes effect today or later."))
        return effective_from

    def clean_parameters(self):
        parameters = self.cleaned_data["parameters"]
        try:
            PolicyParameters.from_json(parameters)
        except PolicyError as exc:
            raise forms.ValidationError([f"{name}: {message}" for name, message in exc.errors.items()]) from exc
        return parameters


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """A version is never edited after creation: a change is a new version (§9)."""

    form = PolicyForm
    list_display = ("version", "effective_from", "note", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")

    def get_changeform_initial_data(self, request):
        last = Policy.objects.aggregate(last=Max("version"))["last"] or 0
        return {
            "version": last + 1,
            "effective_from": timezone.localdate() + dt.timedelta(days=1),
            "parameters": policy_in_force().parameters.to_json(),
        }

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)
        AuditEntry.objects.create(
            user=request.user,
            actor_name=request.user.get_username(),
            action="policy_create",
            object_type="Policy",
            object_key=f"v{obj.version}",
            changes={
                "before": None,
                "after": {
                    "effective_from": obj.effective_from.isoformat(),
                    "parameters": obj.parameters,
                    "note": obj.note,
                },
            },
        )


# --- the working-day calendar (R-OFF-2): through the audited services ------------------------------
class CalendarCoverageMixin:
    """Says on the list pages which years the calendar covers, and warns when it runs out (R-OFF-2)."""

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            years = covered_years()
            text = ", ".join(str(y) for y in years) if years else gettext("none")
            self.message_user(
                request, gettext("Years covered by the working-day calendar: %(years)s.") % {"years": text}
            )
            warning = calendar_warning()
            if warning:
                self.message_user(request, warning, level=messages.WARNING)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, *args, **kwargs):
        # save_model calls the calendar's services: a rule they refuse is a message on the form's
        # page, not a 500 (R-SEC-1). The admin's own transaction has rolled back by then.
        try:
            return super().changeform_view(request, *args, **kwargs)
        except DomainError as error:
            self.message_user(request, error.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _actor_fields(request) -> dict:
    return {"actor_user": request.user, "actor_name": request.user.get_username()}


def _saved_as(obj, saved) -> None:
    """The admin goes on with `obj` (log entry, redirect): make it the row the service wrote."""
    obj.pk = saved.pk
    obj._state.adding = False


@admin.register(CalendarDay)
class CalendarDayAdmin(CalendarCoverageMixin, admin.ModelAdmin):
    list_display = ("date", "weekday", "kind", "name")
    list_filter = ("kind",)
    search_fields = ("name",)
    date_hierarchy = "date"

    @admin.display(description=_("weekday"))
    def weekday(self, obj) -> str:
        return obj.date.strftime("%a")

    def get_readonly_fields(self, request, obj=None):
        return ("date",) if obj is not None else ()  # another date is another row: delete and add

    def save_model(self, request, obj, form, change):
        _saved_as(obj, calendar_day_set(date=obj.date, kind=obj.kind, name=obj.name, **_actor_fields(request)))

    def delete_model(self, request, obj):
        calendar_day_delete(date=obj.date, **_actor_fields(request))

    def delete_queryset(self, request, queryset):
        for day in queryset:
            calendar_day_delete(date=day.date, **_actor_fields(request))


@admin.register(CalendarYear)
class CalendarYearAdmin(CalendarCoverageMixin, admin.ModelAdmin):
    list_display = ("year", "source")

    def get_readonly_fields(self, request, obj=None):
        return ("year",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a covered year stays covered; correct its days instead

    def save_model(self, request, obj, form, change):
        _saved_as(obj, calendar_year_mark_covered(year=obj.year, source=obj.source, **_actor_fields(request)))


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    """Subscriptions are made and ended through the API (audited there); the secret is never shown."""

    list_display = ("id", "url", "active", "created_at")
    list_filter = ("active",)
    exclude = ("secret",)
    readonly_fields = ("url", "events", "active", "created_by", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "subscription", "status", "attempts", "last_status_code", "next_attempt_at")
    list_filter = ("status", "type")
    raw_id_fields = ("subscription",)


@admin.register(FormSubmission)
class FormSubmissionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "result_url")


from admissions import admin_checkpoints  # noqa: E402, F401  (R-VER-3: the checkpoints' page and its button)


@admin.register(IdAccess)
class IdAccessAdmin(ReadOnlyAdmin):
    """R-PRIV-1: who has seen a full ID number, read by administrators only; append-only."""

    list_display = ("at", "actor_name", "where", "application", "applicant")
    list_filter = ("where",)
    search_fields = ("application__reference", "actor_name")
    list_select_related = ("application", "applicant")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and (
            request.user.is_superuser or request.user.groups.filter(name="admin").exists()
        )

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)


@admin.register(DecisionConfirmation)
class DecisionConfirmationAdmin(ReadOnlyAdmin):
    """R-ALLOC-2 (amended): an empty attempt that repeated the bed's last decision; append-only."""

    list_display = ("at", "bed", "decision", "trigger")
    list_filter = ("trigger",)
    search_fields = ("bed__code", "decision__facility__code")
    list_select_related = ("bed", "bed__facility", "decision", "decision__facility")
    raw_id_fields = ("bed", "decision")
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(PolicyActivation)
class PolicyActivationAdmin(ReadOnlyAdmin):
    """R-POL-1: when each policy version came into force, with what changed per facility."""

    list_display = ("policy", "activated_at")
    list_select_related = ("policy",)
    raw_id_fields = ("policy",)
    show_full_result_count = False


@admin.register(Reconfirmation)
class ReconfirmationAdmin(ReadOnlyAdmin):
    """R-CHG-3: each yearly ask whether the family still wants to wait, and how it ended."""

    list_display = ("application", "due_at", "asked_at", "respond_by", "confirmed_at", "confirmed_via", "lapsed_at")
    list_filter = ("confirmed_via",)
    search_fields = ("application__reference",)
    list_select_related = ("application",)
    raw_id_fields = ("application", "confirmed_by")
    date_hierarchy = "due_at"
    show_full_result_count = False


class CoupleMemberInline(admin.TabularInline):
    model = CoupleMember
    fields = ("application", "live")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Couple)
class CoupleAdmin(ReadOnlyAdmin):
    """R-CPL-1: couples linked by intake officers; linking and unlinking are services (staff pages)."""

    list_display = ("pk", "mode", "linked_at", "linked_by", "unlinked_at")
    list_filter = ("mode",)
    search_fields = ("members__application__reference",)
    inlines = [CoupleMemberInline]
    show_full_result_count = False


@admin.register(CoupleMember)
class CoupleMemberAdmin(ReadOnlyAdmin):
    list_display = ("couple", "application", "live")
    list_filter = ("live",)
    search_fields = ("application__reference",)
    list_select_related = ("couple", "application")
    raw_id_fields = ("couple", "application")


@admin.register(QueueChange)
class QueueChangeAdmin(ReadOnlyAdmin):
    """Issue 18: one row per transaction that changed a home's queue; a home's queue version (what
    the public lookup's cache is keyed on) is the count of its rows. Read-only: a row added or
    removed by hand would serve a stale or needlessly rebuilt answer."""

    list_display = ("id", "facility")
    list_filter = ("facility",)
    list_select_related = ("facility",)
    show_full_result_count = False
