"""Staff pages: administration. Thin: parse, call one service or selector, render.

Administrators only. Policy versions (SPEC §9, admissions.services.policy), each home's own nursing
target (R-NQ-1, facilities.services.facility_update), the working-day calendar (R-OFF-2,
admissions.services.calendar), staff users and their roles (web.forms.administration), and the audit
trail those acts write (facilities.models.AuditEntry: who, what and when).

Every form that changes something carries a one-time token (web.formtokens): a double click
acts once. A refused form comes back with what was typed and the service's messages on its fields.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from admissions.models import CalendarDay, CalendarYear, Channel, Policy
from admissions.policy import PolicyError, PolicyParameters
from admissions.selectors import nursing_target_in_force, policy_in_force
from admissions.services.calendar import calendar_day_delete, calendar_day_set, calendar_year_mark_covered
from admissions.services.policy import policy_create
from admissions.workdays import calendar_warning
from core.actor import Actor
from core.errors import DomainError, InvalidInput
from facilities.models import AuditEntry, Facility, Role
from facilities.services import facility_update
from facilities.users import staff_roles, staff_user_active_set, staff_user_create, staff_user_roles_set
from web.access import staff_page
from web.forms.administration import (
    FAMILY_WEIGHTS,
    POLICY_SCALARS,
    AdminForm,
    AuditFilterForm,
    CalendarDayDeleteForm,
    CalendarDayForm,
    CalendarYearChoice,
    CalendarYearForm,
    NursingTargetForm,
    PolicyForm,
    UserActiveForm,
    UserCreateForm,
    UserRolesForm,
    UserSearchForm,
)
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

PAGE_SIZE = 50
BIGINT_MAX = 2**63 - 1
admin_page = staff_page()  # nobody but an administrator

# What each audited act is called on the audit page; unknown actions show their code.
ACTION_LABELS = {
    "policy_create": gettext_lazy("new policy version"),
    "facility_create": gettext_lazy("home created"),
    "facility_update": gettext_lazy("home changed"),
    "facility_change": gettext_lazy("home changed"),
    "facility_nursing_target_set": gettext_lazy("nursing target set"),
    "calendar_day_set": gettext_lazy("calendar day set"),
    "calendar_day_delete": gettext_lazy("calendar day removed"),
    "calendar_year_mark_covered": gettext_lazy("calendar year marked as covered"),
    "user_create": gettext_lazy("user created"),
    "user_roles_set": gettext_lazy("roles changed"),
    "user_activate": gettext_lazy("user reactivated"),
    "user_deactivate": gettext_lazy("user deactivated"),
    "applicant_change": gettext_lazy("applicant changed"),
    "webhook_subscribe": gettext_lazy("webhook subscribed"),
    "webhook_unsubscribe": gettext_lazy("webhook removed"),
}


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _token() -> dict:
    return {"form_token": form_token_issue()}


def _submit(request, form: AdminForm, act: Callable[[], str], message: str) -> HttpResponse | None:
    """The double-submit protocol around one act. `act` calls the service and returns the URL of
    its result. A redirect when it succeeded (or the token was used before); None when the form
    was refused, with the errors on it, so the page shows it again as typed."""
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        return redirect(earlier or request.get_full_path())
    if not form.is_valid():
        form_token_release(token)
        return None
    try:
        url = act()
    except DomainError as error:
        form_token_release(token)
        form.add_service_error(error)
        return None
    form_token_done(token, url)
    messages.success(request, message)
    return redirect(url)


def _page(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- the index ---------------------------------------------------------------------------------------
@admin_page
def administration(request):
    in_force = policy_in_force()
    return render(
        request,
        "staff/administration/index.html",
        {
            "policy": in_force,
            "upcoming": Policy.objects.filter(effective_from__gt=timezone.localdate()).count(),
            "covered_years": list(CalendarYear.objects.order_by("year").values_list("year", flat=True)),
            "calendar_warning": calendar_warning(),
            "recent": [_entry_row(e) for e in AuditEntry.objects.select_related("user")[:5]],
        },
    )


# --- policy versions (SPEC §9) -----------------------------------------------------------------------
def _policy_rows(in_force_version: int) -> list[dict]:
    today = timezone.localdate()
    rows = []
    for policy in Policy.objects.select_related("created_by").order_by("-effective_from", "-version"):
        try:
            parameters = PolicyParameters.from_json(policy.parameters)
        except PolicyError:
            parameters = None
        if policy.version == in_force_version:
            status = _("in force")
        elif policy.effective_from > today:
            status = _("upcoming")
        else:
            status = _("superseded")
        rows.append({"policy": policy, "status": status, "parameters": _parameter_list(parameters)})
    return rows


def _parameter_list(parameters: PolicyParameters | None) -> list[tuple[str, str]]:
    """(label, value) pairs of every parameter, in words an administrator reads."""
    if parameters is None:
        return [(_("Parameters"), _("not readable"))]
    out = [(str(label), str(getattr(parameters, name))) for name, (label, _unit) in POLICY_SCALARS.items()]
    weights = parameters.score_weights
    out.append((_("Care points by grade"), ", ".join(f"{g}: {p}" for g, p in sorted(weights["care"].items()))))
    out.append(
        (_("Age points"), ", ".join(_("%(age)s+: %(points)s") % {"age": a, "points": p} for a, p in weights["age"]))
    )
    out.append(
        (
            _("Family points"),
            ", ".join(f"{FAMILY_WEIGHTS[name]}: {points}" for name, points in weights["family"].items()),
        )
    )
    out.append(
        (
            _("Waiting points"),
            _("%(points)s every %(days)s days")
            % {"points": weights["waiting"]["points"], "days": weights["waiting"]["period_days"]},
        )
    )
    out.append(
        (
            _("Channel of each category"),
            ", ".join(
                f"{category}: {Channel(channel).label}" for category, channel in parameters.channel_mapping.items()
            ),
        )
    )
    return out


@admin_page
def policies(request):
    latest = policy_in_force(dt.date.max)  # the version a new one most likely builds on
    in_force = policy_in_force()
    if request.method == "POST":
        form = PolicyForm(request.POST, parameters=latest.parameters)

        def act() -> str:
            try:
                policy = policy_create(
                    effective_from=form.cleaned_data["effective_from"],
                    parameters=form.parameters(),
                    actor=_actor(request),
                    note=form.cleaned_data["note"],
                )
            except InvalidInput as error:
                if set(error.errors) == {"effective_from"}:  # refused before the parameters were judged
                    error.errors.update(form.parameter_errors())
                raise
            return reverse("staff:admin_policies") + f"#version-{policy.version}"

        response = _submit(request, form, act, _("The new policy version is saved."))
        if response is not None:
            return response
    else:
        today = timezone.localdate()
        first_of_next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        initial = {**_token(), "effective_from": first_of_next_month}
        form = PolicyForm(initial=initial, parameters=latest.parameters)
    return render(
        request,
        "staff/administration/policies.html",
        {"form": form, "rows": _policy_rows(in_force.version), "in_force": in_force},
    )


# --- nursing targets (R-NQ-1) --------------------------------------------------------------------------
def _target_form(facility: Facility, data=None) -> NursingTargetForm:
    initial = None
    if data is None:
        own = "" if facility.nursing_target is None else str(facility.nursing_target)
        initial = {**_token(), "facility": facility.code, "nursing_target": own}
    return NursingTargetForm(data, initial=initial, auto_id=f"target-{facility.pk}-%s")


@admin_page
def targets(request):
    policy = policy_in_force()
    bound = None
    if request.method == "POST":
        facility = get_object_or_404(Facility, code=str(request.POST.get("facility", ""))[:20])
        bound = _target_form(facility, request.POST)

        def act() -> str:
            facility_update(
                facility=facility,
                values={"nursing_target": bound.target()},
                user=request.user,
                actor_name=request.user.get_username(),
            )
            query = f"?{request.GET.urlencode()}" if request.GET else ""
            return f"{reverse('staff:admin_targets')}{query}#target-{facility.code}"

        message = _("The nursing target of %(home)s is saved.") % {"home": facility.local_name}
        response = _submit(request, bound, act, message)
        if response is not None:
            return response
    page = _page(request, Facility.objects.select_related("district").order_by("code"))
    rows = []
    for facility in page:
        form = bound if bound is not None and bound.data.get("facility") == facility.code else _target_form(facility)
        rows.append(
            {
                "facility": facility,
                "target": nursing_target_in_force(facility, policy),
                "own": facility.nursing_target is not None,
                "form": form,
            }
        )
    return render(
        request,
        "staff/administration/targets.html",
        {
            "rows": rows,
            "page": page,
            "query": _query_without_page(request),
            "policy_target": policy.parameters.nursing_target,
            "refused": bound.data.get("facility") if bound is not None else None,
        },
    )


# --- the working-day calendar (R-OFF-2) ------------------------------------------------------------------
@admin_page
def calendar(request):
    choice = CalendarYearChoice(request.GET)
    year = (choice.cleaned_data.get("year") if choice.is_valid() else None) or timezone.localdate().year
    day_form = CalendarDayForm(initial=_token(), auto_id="day-%s")
    year_form = CalendarYearForm(initial={**_token(), "year": year}, auto_id="year-%s")
    delete_error = None
    if request.method == "POST":
        actor = _actor(request)
        action = request.POST.get("action")
        here = reverse("staff:admin_calendar")
        if action == "day_set":
            day_form = CalendarDayForm(request.POST, auto_id="day-%s")

            def act() -> str:
                day = calendar_day_set(
                    date=day_form.cleaned_data["date"],
                    kind=day_form.cleaned_data["kind"],
                    name=day_form.cleaned_data["name"],
                    actor_user=actor.user,
                    actor_name=actor.name,
                )
                return f"{here}?year={day.date.year}"

            response = _submit(request, day_form, act, _("The calendar day is saved."))
        elif action == "day_delete":
            delete_form = CalendarDayDeleteForm(request.POST)

            def act() -> str:
                date = delete_form.cleaned_data["date"]
                calendar_day_delete(date=date, actor_user=actor.user, actor_name=actor.name)
                return f"{here}?year={date.year}"

            response = _submit(request, delete_form, act, _("The calendar day is removed."))
            if response is None:
                delete_error = " ".join(str(e) for errors in delete_form.errors.values() for e in errors)
        elif action == "year_covered":
            year_form = CalendarYearForm(request.POST, auto_id="year-%s")

            def act() -> str:
                covered = calendar_year_mark_covered(
                    year=year_form.cleaned_data["year"],
                    source=year_form.cleaned_data["source"],
                    actor_user=actor.user,
                    actor_name=actor.name,
                )
                return f"{here}?year={covered.year}"

            response = _submit(request, year_form, act, _("The year is marked as covered."))
        else:
            response = redirect(here)
        if response is not None:
            return response
    days = CalendarDay.objects.filter(date__year=year).order_by("date")
    return render(
        request,
        "staff/administration/calendar.html",
        {
            "year": year,
            "years": sorted(
                {year, timezone.localdate().year, timezone.localdate().year + 1}
                | set(CalendarYear.objects.values_list("year", flat=True))
                | {d.year for d in CalendarDay.objects.dates("date", "year")}
            ),
            "covered": CalendarYear.objects.order_by("year"),
            "warning": calendar_warning(),
            "days": [
                {
                    "day": d,
                    "form": CalendarDayDeleteForm(initial={**_token(), "date": d.date}, auto_id=f"day-{d.pk}-%s"),
                }
                for d in days
            ],
            "day_form": day_form,
            "year_form": year_form,
            "delete_error": delete_error,
        },
    )


# --- users and roles ------------------------------------------------------------------------------------
def _staff_users():
    """Users with a staff role, a home binding, or the superuser flag (an administrator)."""
    return (
        get_user_model()
        .objects.filter(Q(groups__name__in=Role.values) | Q(is_superuser=True) | Q(staff_profile__isnull=False))
        .select_related("staff_profile__facility")
        .distinct()
        .order_by("username")
    )


def _facility_of(user) -> Facility | None:
    profile = getattr(user, "staff_profile", None)
    return profile.facility if profile is not None else None


@admin_page
def users(request):
    search = UserSearchForm(request.GET)
    queryset = _staff_users()
    if search.is_valid():
        if text := search.cleaned_data["q"].strip():
            queryset = queryset.filter(
                Q(username__icontains=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
            )
        if role := search.cleaned_data["role"]:
            has_role = Q(groups__name=role) | (Q(is_superuser=True) if role == Role.ADMIN else Q(pk__in=[]))
            queryset = queryset.filter(has_role)
    page = _page(request, queryset)
    rows = [{"user": user, "roles": staff_roles(user), "facility": _facility_of(user)} for user in page]
    return render(
        request,
        "staff/administration/users.html",
        {"search": search, "rows": rows, "page": page, "query": _query_without_page(request)},
    )


@admin_page
def user_new(request):
    if request.method == "POST":
        form = UserCreateForm(request.POST)

        def act() -> str:
            data = form.cleaned_data
            user = staff_user_create(
                username=data["username"],
                password=data["password1"],
                roles=data["roles"],
                facility=data["facility"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                by=_actor(request),
            )
            return reverse("staff:admin_user", args=[user.pk])

        response = _submit(request, form, act, _("The user is created."))
        if response is not None:
            return response
    else:
        form = UserCreateForm(initial=_token())
    return render(request, "staff/administration/user_new.html", {"form": form})


@admin_page
def user_detail(request, pk: int):
    if pk > BIGINT_MAX:  # no such row, and too large for the database to be asked
        raise Http404("No such user.")
    user = get_object_or_404(get_user_model().objects.select_related("staff_profile__facility"), pk=pk)
    here = reverse("staff:admin_user", args=[user.pk])
    groups = sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    roles_initial = {**_token(), "roles": groups, "facility": _facility_of(user)}
    roles_form = UserRolesForm(initial=roles_initial, auto_id="roles-%s")
    active_form = UserActiveForm(initial={**_token(), "active": not user.is_active}, auto_id="active-%s")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "roles":
            roles_form = UserRolesForm(request.POST, auto_id="roles-%s")

            def act() -> str:
                staff_user_roles_set(
                    user=user,
                    roles=roles_form.cleaned_data["roles"],
                    facility=roles_form.cleaned_data["facility"],
                    by=_actor(request),
                )
                return here

            response = _submit(request, roles_form, act, _("The roles are saved."))
        elif action == "active":
            active_form = UserActiveForm(request.POST, auto_id="active-%s")

            def act() -> str:
                active = active_form.cleaned_data["active"]
                staff_user_active_set(user=user, active=active, by=_actor(request))
                return here

            wanted = forms.BooleanField(required=False).clean(request.POST.get("active"))
            message = (
                _("The user is reactivated.") if wanted else _("The user is deactivated: they can no longer log in.")
            )
            response = _submit(request, active_form, act, message)
        else:
            response = redirect(here)
        if response is not None:
            return response
    entries = AuditEntry.objects.filter(object_type="User", object_key=user.get_username())[:20]
    return render(
        request,
        "staff/administration/user_detail.html",
        {
            "subject": user,
            "roles": staff_roles(user),
            "facility": _facility_of(user),
            "roles_form": roles_form,
            "active_form": active_form,
            "entries": [_entry_row(e) for e in entries],
        },
    )


# --- the audit trail ---------------------------------------------------------------------------------------
def _change_lines(changes) -> list[str]:
    """The entry's changes as short lines: "name: before → after" where the entry has both."""
    if not isinstance(changes, dict):
        return [json.dumps(changes, ensure_ascii=False, default=str)]
    before, after = changes.get("before"), changes.get("after")
    if isinstance(after, dict) and (before is None or isinstance(before, dict)):
        before = before or {}
        lines = []
        for key in sorted(set(before) | set(after)):
            old, new = before.get(key), after.get(key)
            old_text = json.dumps(old, ensure_ascii=False, default=str)
            new_text = json.dumps(new, ensure_ascii=False, default=str)
            lines.append(f"{key}: {new_text}" if key not in before else f"{key}: {old_text} → {new_text}")
        return lines
    if after is None and isinstance(before, dict):
        return [f"{key}: {json.dumps(value, ensure_ascii=False, default=str)} → —" for key, value in before.items()]
    return [f"{key}: {json.dumps(value, ensure_ascii=False, default=str)}" for key, value in changes.items()]


def _entry_row(entry: AuditEntry) -> dict:
    return {
        "entry": entry,
        "action": ACTION_LABELS.get(entry.action, entry.action),
        "changes": _change_lines(entry.changes),
    }


@admin_page
def audit(request):
    object_types = sorted(AuditEntry.objects.order_by().values_list("object_type", flat=True).distinct())
    filter_form = AuditFilterForm(request.GET, object_types=object_types)
    entries = AuditEntry.objects.select_related("user")
    if filter_form.is_valid() and filter_form.cleaned_data["object_type"]:
        entries = entries.filter(object_type=filter_form.cleaned_data["object_type"])
    page = _page(request, entries.order_by("-at", "-id"))
    return render(
        request,
        "staff/administration/audit.html",
        {
            "filter": filter_form,
            "rows": [_entry_row(e) for e in page],
            "page": page,
            "query": _query_without_page(request),
        },
    )


urlpatterns = [
    path("administration/", administration, name="administration"),
    path("administration/policy/", policies, name="admin_policies"),
    path("administration/targets/", targets, name="admin_targets"),
    path("administration/calendar/", calendar, name="admin_calendar"),
    path("administration/users/", users, name="admin_users"),
    path("administration/users/new/", user_new, name="admin_user_new"),
    path("administration/users/<int:pk>/", user_detail, name="admin_user"),
    path("administration/audit/", audit, name="admin_audit"),
]
