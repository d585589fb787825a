"""Staff pages: homes and beds (issue 4). Thin: parse, call one service or selector, render.

One home's page shows the bed board, the nursing quota as a gauge (R-NQ-1), the ranked queue
(R-Q-2, R-Q-4) and the allocation decisions with their skip reasons (R-ALLOC-1/2), and takes the
acts on its beds (R-BED-2) and "allocate vacant beds now" (R-ALLOC-3). The acts belong to the
admission engine (admissions.services owns the allocation and the facility lock), so these views
call it, and the pages live here in admissions rather than in facilities, which must not import the
engine. A facility officer who is nothing else sees and acts on their own home only, by the API's
rule (facilities.roles.check_facility_scope).

Each act is a form POST. Without JavaScript the browser is sent back to the page; with htmx the
same page is rendered in answer and its live part swapped in place (templates/staff/facilities/).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from admissions.dashboard import bed_board, bed_board_counts, facility_figures
from admissions.models import (
    LIVE_OFFER_STATES,
    AllocationDecision,
    Application,
    CoupleMode,
    Offer,
    QueueEntry,
    QueueEntryStatus,
)
from admissions.models.offers import DischargeReason
from admissions.selectors import policy_in_force, position_for_entry, queue_for_facility, score_breakdown
from admissions.services.allocation import SkipReason, allocation_run
from admissions.services.beds import bed_discharge, bed_return_to_service, bed_take_out_of_service
from admissions.services.couples import couples_for
from admissions.services.reconfirmation import unconfirmed_applications
from core.actor import Actor
from core.dates import shown_date
from core.errors import DomainError, NotPermitted
from core.typing import as_typed
from facilities.models import Bed, BedStatus, BedType, Facility, Role
from facilities.roles import check_facility_scope, facility_of, roles_of
from web.access import allowed_url, staff_page
from web.confirmation import Confirmation, Line, confirmation_page
from web.forms.facilities import BedSearchForm, DischargeForm, OutOfServiceForm, QueueFindForm, ReturnToServiceForm
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

LIST_PAGE_SIZE = 50
QUEUE_PAGE_SIZE = 50  # as the queue API's pages
DECISIONS_PAGE_SIZE = 10
BED_PAGE_SIZE = 50

# R-ALLOC-1's skip reasons and R-ALLOC-3's triggers, in plain words.
SKIP_REASON_WORDS = {
    SkipReason.BED_TYPE_MISMATCH: gettext_lazy("needs nursing care, and this is a general bed"),
    SkipReason.RESERVED_FOR_NURSING: gettext_lazy(
        "self-care: this nursing bed is kept for a nursing-care applicant further down the queue"
    ),
    SkipReason.NURSING_QUOTA_FULL: gettext_lazy("self-care: every place for self-care is taken (the nursing quota)"),
    SkipReason.ASSESSMENT_EXPIRED: gettext_lazy("the care assessment has expired"),
    SkipReason.OFFER_PENDING: gettext_lazy("already holds an offer, here or at another home"),
    SkipReason.SUSPENDED: gettext_lazy("the application is suspended"),
    SkipReason.REFUSED_THIS_BED: gettext_lazy("refused this same bed before"),
    SkipReason.PARTNER_BED_UNAVAILABLE: gettext_lazy(
        "placed together with a spouse, and no second bed here suited the spouse"
    ),
    SkipReason.COUPLE_PARTNER: gettext_lazy("passed over for a couple's joint offer: this bed went to the spouse"),
}
TRIGGER_WORDS = {
    "bed_added": gettext_lazy("a new bed"),
    "bed_returned_to_service": gettext_lazy("a bed back in service"),
    "offer_refused": gettext_lazy("an offer declined, expired or not taken up"),
    "admission_check_failed": gettext_lazy("a failed admission check"),
    "offer_withdrawn": gettext_lazy("an offer withdrawn"),
    "application_approved": gettext_lazy("an application approved into the queue"),
    "application_resumed": gettext_lazy("an application resumed"),
    "application_reassessed": gettext_lazy("an application reassessed"),
    "staff_request": gettext_lazy("a staff member's request"),
}

# What can be done to a bed in each status, and the words of its button.
BED_ACTION_OF_STATUS = {
    BedStatus.OCCUPIED: "discharge",
    BedStatus.VACANT: "out-of-service",
    BedStatus.OUT_OF_SERVICE: "return-to-service",
}
BED_FORMS = {"discharge": DischargeForm, "out-of-service": OutOfServiceForm, "return-to-service": ReturnToServiceForm}
BED_ACTION_WORDS = {
    "discharge": (gettext_lazy("Record a discharge"), gettext_lazy("Record the discharge")),
    "out-of-service": (gettext_lazy("Take out of service"), gettext_lazy("Take out of service")),
    "return-to-service": (gettext_lazy("Return to service"), gettext_lazy("Return to service")),
}


# --- who sees which home ----------------------------------------------------------------------------
def scoped_home(user) -> Facility | None:
    """The one home a facility officer who is nothing else is confined to (SPEC §10, as the API's
    check_facility_scope); None for everyone else. 403 for such an officer bound to no home."""
    if roles_of(user) != {Role.FACILITY}:
        return None
    own = facility_of(user)
    if own is None:
        raise PermissionDenied
    return own


def facility_for(request, code: str) -> Facility:
    """The home named by its code (404), checked against a facility officer's own home (403)."""
    facility = Facility.objects.select_related("district").filter(code=code).first()
    if facility is None:
        raise Http404
    try:
        check_facility_scope(request.user, facility)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    return facility


def link_maker(name: str):
    """A function of the URL's arguments giving the URL of page `name`, or None while no such page
    exists (pages other helpers build may not be there yet)."""
    try:
        reverse(name, args=["0"])
    except NoReverseMatch:
        return lambda *args: None
    return lambda *args: reverse(name, args=args)


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _percent(value) -> float | None:
    return None if value is None else round(float(value) * 100, 1)


def trigger_words(trigger: str) -> str:
    if trigger.startswith("discharge:"):
        reason = trigger.split(":", 1)[1]
        label = DischargeReason(reason).label if reason in DischargeReason.values else reason
        return _("a discharge (%(reason)s)") % {"reason": label}
    return str(TRIGGER_WORDS.get(trigger, trigger))


# --- the list of homes --------------------------------------------------------------------------------
@staff_page(Role.REVIEWER, Role.FACILITY)
def facility_list(request):
    """Every home with its beds, vacancies, queue length and quota headroom; a facility officer
    goes straight to their own home."""
    own = scoped_home(request.user)
    if own is not None:
        return redirect("staff:facility", code=own.code)
    policy = policy_in_force()
    homes = (
        Facility.objects.select_related("district")
        .annotate(queue_length=Count("queue_entries", filter=Q(queue_entries__status=QueueEntryStatus.OPEN)))
        .order_by("code")
    )
    page = Paginator(homes, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    language = translation.get_language() or "zh-hans"
    rows = []
    for figures in facility_figures(page, policy=policy):
        facility, quota = figures.facility, figures.quota
        rows.append(
            {
                "facility": facility,
                "district": facility.district.name(language),
                "beds": figures.beds,
                "quota": quota,
                "nursing_share": _percent(quota.nursing_share),
                "nursing_target": _percent(quota.nursing_target),
            }
        )
    return render(request, "staff/facilities/list.html", {"page": page, "rows": rows})


# --- one home -----------------------------------------------------------------------------------------
@staff_page(Role.REVIEWER, Role.FACILITY)
def facility_detail(request, code: str):
    return _render_facility(request, facility_for(request, code))


@staff_page(Role.REVIEWER, Role.FACILITY)
def facility_queue(request, code: str):
    """One page of the queue, for htmx; a browser asking for it is sent to the whole page."""
    facility = facility_for(request, code)
    page = request.GET.get("page", "")
    if not is_htmx(request):
        query = urlencode({"queue_page": page[:20]})
        response = redirect(f"{reverse('staff:facility', args=[facility.code])}?{query}#queue")
    else:
        now = timezone.now()
        policy = policy_in_force(timezone.localdate(now))
        context = {"facility": facility, **_queue_context(facility, page, now=now, policy=policy)}
        response = render(request, "staff/facilities/_queue.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_page(Role.REVIEWER, Role.FACILITY)
def facility_decisions(request, code: str):
    """One page of the allocation decisions, for htmx; a browser is sent to the whole page."""
    facility = facility_for(request, code)
    page = request.GET.get("page", "")
    if not is_htmx(request):
        query = urlencode({"decisions_page": page[:20]})
        response = redirect(f"{reverse('staff:facility', args=[facility.code])}?{query}#decisions")
    else:
        response = render(
            request, "staff/facilities/_decisions.html", {"facility": facility, **_decisions_context(facility, page)}
        )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _render_facility(request, facility: Facility, *, bound=None, status_message: str = "", failed: bool = False):
    """The whole page. `bound`: (bed id, action, form) of a refused bed act, shown with its errors."""
    now = timezone.now()
    policy = policy_in_force(timezone.localdate(now))
    [figures] = facility_figures([facility], policy=policy)
    quota = figures.quota
    can_act = bool(roles_of(request.user) & bed_action.allowed_roles)
    search = BedSearchForm(request.GET)
    wanted = search.cleaned_data if search.is_valid() else {}
    filters = {"search": wanted.get("q", ""), "status": wanted.get("status", "")}
    filters["bed_type"] = wanted.get("bed_type", "")
    filtering = any(filters.values())
    beds = bed_board(facility, **filters, grouped=not filtering)
    if bound is not None and not filtering:  # a refused act: its bed alone, with the form's errors
        beds, filtering = bed_board(facility).filter(pk=bound[0]), True
    # Issue 15: the board pages as the table of beds found does, so a 1,500-bed home shows one page
    # of cards; an act on a bed comes back to the same page (its form's URL keeps the query).
    bed_page = Paginator(beds, BED_PAGE_SIZE).get_page(request.GET.get("bed_page"))
    board = dict(
        user=request.user,
        blocked=quota.headroom == 0,
        can_act=can_act,
        bound=bound,
        query=_query_without(request.GET, "form_token"),
    )
    counts = bed_board_counts(facility)
    groups = [] if filtering else _bed_board(facility, bed_page, counts=counts, **board)
    context = {
        "facility": facility,
        "district": facility.district.name(translation.get_language() or "zh-hans"),
        "counts": figures.beds,
        "quota": quota,
        "own_target": facility.nursing_target is not None,
        "nursing_share": _percent(quota.nursing_share),
        "nursing_target": _percent(quota.nursing_target),
        "general_blocked": quota.headroom == 0,
        "can_act": can_act,
        "bed_groups": groups,
        "bed_summary": [
            {"label": label, "counts": [counts.get((bed_type, s), 0) for s in BedStatus.values]}
            for bed_type, label in BedType.choices
        ],
        "search_form": search,
        "filtering": filtering,
        "bed_page": bed_page,
        "bed_rows": _bed_items(facility, bed_page, **board) if filtering else [],
        "bed_board_paged": not filtering and bed_page.has_other_pages(),
        "bed_page_query": _query_without(request.GET, "bed_page"),
        "queue_open": figures_queue_length(facility),
        "status_labels": BedStatus.labels,
        "allocate_token": form_token_issue(),
        "status_message": status_message,
        "failed": failed,
        "show_list_link": scoped_home(request.user) is None,
        **_queue_context(
            facility, request.GET.get("queue_page"), now=now, policy=policy, find=QueueFindForm(request.GET)
        ),
        **_decisions_context(facility, request.GET.get("decisions_page")),
    }
    return render(request, "staff/facilities/detail.html", context)


def _query_without(query, name: str) -> str:
    """The page's query string without `name` (the pager adds its own), for links that keep a
    search and its filters."""
    kept = query.copy()
    kept.pop(name, None)
    return kept.urlencode()


def figures_queue_length(facility: Facility) -> int:
    return QueueEntry.objects.filter(facility=facility, status=QueueEntryStatus.OPEN).count()


def _bed_items(facility: Facility, beds, *, user, blocked: bool, can_act: bool, bound, query: str = "") -> list[dict]:
    """Each bed with its occupant or the application it is offered to, "blocked by the quota" for a
    vacant general bed while the self-care headroom is 0 (R-NQ-1), and the form of the act its status
    allows."""
    live_offer = Offer.objects.filter(bed=OuterRef("pk"), state__in=LIVE_OFFER_STATES)
    if not isinstance(beds, QuerySet):  # a page of beds
        beds = bed_board(facility).filter(pk__in=[bed.pk for bed in beds])
    beds = beds.annotate(
        offer_id=Subquery(live_offer.values("pk")[:1]),
        offered_to=Subquery(live_offer.values("application__reference")[:1]),
        offered_with=Subquery(live_offer.values("partner_offer__application__reference")[:1]),  # R-CPL-3
    )
    application_url = link_maker("staff:application")
    items = []
    for bed in beds:
        item = {
            "bed": bed,
            "occupant_url": application_url(bed.occupant) if bed.occupant else None,
            "offered_to_url": application_url(bed.offered_to) if bed.offered_to else None,
            "offered_with_url": application_url(bed.offered_with) if bed.offered_with else None,
            "offer_url": allowed_url(user, "staff:offer", bed.offer_id) if bed.offer_id else None,
            "blocked": blocked and bed.bed_type == BedType.GENERAL and bed.status == BedStatus.VACANT,
        }
        action = BED_ACTION_OF_STATUS.get(bed.status)
        if can_act and action:
            prefix = f"bed{bed.pk}"
            if bound is not None and bound[0] == bed.pk and bound[1] == action:
                form, is_open = bound[2], True
            else:
                initial = {"date": timezone.localdate()} if action == "discharge" else None
                form, is_open = BED_FORMS[action](prefix=prefix, initial=initial), False
            summary, submit = BED_ACTION_WORDS[action]
            item.update(
                action=action,
                action_url=reverse("staff:bed_action", args=[facility.code, bed.pk, action])
                + (f"?{query}" if query else ""),
                form=form,
                open=is_open,
                token=form_token_issue(),
                summary=summary,
                submit=submit,
            )
        items.append(item)
    return items


def _bed_board(facility: Facility, beds, *, counts: dict, **board) -> list[dict]:
    """One page of beds grouped by type, then status (the board of cards, shown when nothing is
    searched); each group names how many beds of its kind the whole home has (`counts`)."""
    grouped: dict[tuple[str, str], list[dict]] = {(t, s): [] for t in BedType.values for s in BedStatus.values}
    for item in _bed_items(facility, beds, **board):
        grouped[(item["bed"].bed_type, item["bed"].status)].append(item)

    def group(bed_type: str, status: str, label) -> dict:
        return {
            "status": status,
            "label": label,
            "beds": grouped[(bed_type, status)],
            "total": counts.get((bed_type, status), 0),
        }

    return [
        {
            "type": bed_type,
            "label": type_label,
            "all_statuses": [group(bed_type, s, label) for s, label in BedStatus.choices],
            "statuses": [group(bed_type, s, label) for s, label in BedStatus.choices if grouped[(bed_type, s)]],
        }
        for bed_type, type_label in BedType.choices
    ]


def _couple_words(couple: dict | None) -> dict | None:
    if couple is None:
        return None
    return {**couple, "mode_label": CoupleMode(couple["mode"]).label}


def _queue_context(facility: Facility, page_number, *, now, policy, find: QueueFindForm | None = None) -> dict:
    """The open entries in queue order (R-Q-2); a row's position is its place in the whole queue
    (R-Q-4), and its score is broken down as the allocation counts it (R-Q-3). With a reference
    asked for (`find`), the page that holds it, its row marked."""
    find = find if find is not None else QueueFindForm()
    found = ""
    if find.is_bound and find.is_valid() and find.cleaned_data["queue_ref"]:
        found, page_number = _queue_page_of(facility, find, now=now, policy=policy, page_number=page_number)
    queue = queue_for_facility(facility, now=now, policy=policy)
    page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(page_number)
    application_url = link_maker("staff:application")
    # R-CHG-3: how many of the home's open entries are unconfirmed, and which on this page.
    open_entries = QueueEntry.objects.filter(facility=facility, status=QueueEntryStatus.OPEN)
    unconfirmed = unconfirmed_applications(Application.objects.filter(pk__in=open_entries.values("application_id")))
    on_page = set(
        unconfirmed_applications(Application.objects.filter(pk__in=[e.application_id for e in page])).values_list(
            "pk", flat=True
        )
    )
    couples = couples_for([entry.application_id for entry in page])  # R-CPL-3: the couple shown together
    rows = [
        {
            "position": page.start_index() + i,
            "unconfirmed": entry.application_id in on_page,
            "entry": entry,
            "breakdown": score_breakdown(entry, now=now, params=policy.parameters),
            "url": application_url(entry.application.reference),
            "couple": _couple_words(couples.get(entry.application_id)),
            "found": entry.application.reference == found,
        }
        for i, entry in enumerate(page)
    ]
    return {
        "queue_find": find,
        "queue_page": page,
        "queue_rows": rows,
        "queue_waiting_days": policy.parameters.waiting_period_days,
        "queue_unconfirmed": unconfirmed.count(),
    }


def _queue_page_of(facility: Facility, find: QueueFindForm, *, now, policy, page_number) -> tuple[str, object]:
    """The reference asked for and the number of the page holding it (its R-Q-4 position counted in
    the database); an error on the form, and the page asked for, when it has no open entry here."""
    reference = as_typed(find.cleaned_data["queue_ref"]).upper()
    entry = (
        QueueEntry.objects.filter(facility=facility, status=QueueEntryStatus.OPEN, application__reference=reference)
        .select_related("application")
        .first()
    )
    if entry is None:
        find.add_error(
            "queue_ref",
            _("No application with the reference %(reference)s is in this home's queue.") % {"reference": reference},
        )
        return "", page_number
    position = position_for_entry(entry, now=now, policy=policy).position
    return reference, (position - 1) // QUEUE_PAGE_SIZE + 1


def _decisions_context(facility: Facility, page_number) -> dict:
    """R-ALLOC-2 decisions, newest first, each skip reason in plain words."""
    decisions = AllocationDecision.objects.filter(facility=facility).select_related("bed").order_by("-made_at", "-id")
    page = Paginator(decisions, DECISIONS_PAGE_SIZE).get_page(page_number)
    application_url = link_maker("staff:application")
    rows = []
    for decision in page:
        chosen = dict(decision.chosen or {})
        if chosen:
            chosen["url"] = application_url(chosen.get("reference", ""))
        skipped = [
            {
                **row,
                "url": application_url(row.get("reference", "")),
                "words": SKIP_REASON_WORDS.get(row.get("reason"), row.get("reason")),
            }
            for row in decision.skipped
        ]
        rows.append(
            {"decision": decision, "trigger": trigger_words(decision.trigger), "chosen": chosen, "skipped": skipped}
        )
    return {"decisions_page": page, "decision_rows": rows}


# --- acts ---------------------------------------------------------------------------------------------
def _allocation_words(decision: AllocationDecision) -> str:
    if decision.chosen:
        return _("It was offered to %(reference)s.") % {"reference": decision.chosen.get("reference", "")}
    return _("Nobody in the queue could be offered it now; it stays vacant.")


def _bed_act(action: str, bed: Bed, data: dict, actor: Actor) -> str:
    """Call the service of `action`; the words saying what happened."""
    if action == "discharge":
        bed, decision = bed_discharge(bed=bed, reason=data["reason"], on=data.get("date"), actor=actor)
        return _("Bed %(bed)s: the discharge is recorded. %(next)s") % {
            "bed": bed.code,
            "next": _allocation_words(decision),
        }
    if action == "out-of-service":
        bed = bed_take_out_of_service(bed=bed, reason=data.get("reason", ""), actor=actor)
        return _("Bed %(bed)s is out of service.") % {"bed": bed.code}
    bed, decision = bed_return_to_service(bed=bed, actor=actor)
    return _("Bed %(bed)s is back in service. %(next)s") % {"bed": bed.code, "next": _allocation_words(decision)}


def _answer(request, facility: Facility, url: str, message: str):
    """After an act: with htmx the page itself (its live part is swapped in), else back to it."""
    if is_htmx(request):
        return _render_facility(request, facility, status_message=message)
    messages.success(request, message)
    return redirect(url)


def _confirm_discharge(request, facility: Facility, bed: Bed, form, *, token, back: str):
    """Issue 15: what a discharge will do (R-BED-2: the stay ends, the bed is allocated at once);
    only the page's own POST acts."""
    prefix = f"bed{bed.pk}"
    occupant = bed_board(facility).filter(pk=bed.pk).first()
    resident = " · ".join(part for part in (occupant.occupant_name, occupant.occupant) if part) if occupant else ""
    reason, date = form.cleaned_data["reason"], form.cleaned_data.get("date")
    return confirmation_page(
        request,
        Confirmation(
            title=_("Check before recording the discharge"),
            back=back,
            back_label=_("Back to the home"),
            no_label=_("No, go back to the home"),
            url=request.get_full_path(),
            token=token or form_token_issue(),
            submit=_("Yes, record the discharge"),
            facts=[
                (_("Home"), facility.local_name),
                (_("Bed"), bed.code),
                (_("Resident"), resident),
                (_("Reason for leaving"), dict(form.fields["reason"].choices).get(reason, "")),
                (_("Date of leaving"), shown_date(date) if date else _("Today")),
            ],
            consequences=[
                Line(_("The resident's stay in this bed ends.")),
                Line(_("The bed becomes vacant and is offered at once to the next person in the queue.")),
            ],
            hidden=[(f"{prefix}-reason", reason), (f"{prefix}-date", date.isoformat() if date else "")],
        ),
    )


@staff_page(Role.FACILITY)
@require_POST
def bed_action(request, code: str, bed_id: int, action: str):
    """R-BED-2 discharge, out of service, back in service (admissions/services/beds.py)."""
    if action not in BED_FORMS:
        raise Http404
    facility = facility_for(request, code)
    bed = Bed.objects.filter(pk=bed_id, facility=facility).first()
    if bed is None:
        raise Http404
    kept = _query_without(request.GET, "form_token")  # the board's page, search and filters
    back = f"{reverse('staff:facility', args=[facility.code])}{'?' + kept if kept else ''}#bed-{bed.pk}"
    token = request.POST.get("form_token")
    form = BED_FORMS[action](request.POST, prefix=f"bed{bed.pk}")
    if action == "discharge" and request.POST.get("confirm") != "yes" and bed.status == BedStatus.OCCUPIED:
        # Issue 15: the first POST shows what the discharge will do; only the confirming POST
        # (with `confirm`) calls the service. Nothing is written here; the token passes on unclaimed.
        if form.is_valid():
            return _confirm_discharge(request, facility, bed, form, token=token, back=back)
        token = None  # the form's errors are shown below; the token was not claimed
    earlier = form_token_claim(request, token)
    if earlier is not None:
        return _answer(request, facility, earlier or back, _("This was sent twice; it was done once."))
    if form.is_valid():
        try:
            message = _bed_act(action, bed, form.cleaned_data, Actor.for_user(request.user))
        except DomainError as error:
            form.add_service_error(error)
        else:
            form_token_done(token, back)
            return _answer(request, facility, back, message)
    form_token_release(token)
    problem = " ".join(form.non_field_errors()) or _("Check the marked fields.")
    return _render_facility(
        request,
        facility,
        bound=(bed.pk, action, form),
        status_message=_("Bed %(bed)s: nothing was changed. %(problem)s") % {"bed": bed.code, "problem": problem},
        failed=True,
    )


@staff_page(Role.FACILITY)
@require_POST
def facility_allocate(request, code: str):
    """R-ALLOC-3, a staff member's request: every vacant in-service bed, one decision each."""
    facility = facility_for(request, code)
    back = f"{reverse('staff:facility', args=[facility.code])}#decisions"
    token = request.POST.get("form_token")
    earlier = form_token_claim(request, token)
    if earlier is not None:
        return _answer(request, facility, earlier or back, _("This was sent twice; it was done once."))
    try:
        decisions = allocation_run(facility=facility, trigger="staff_request", actor=Actor.for_user(request.user))
    except DomainError as error:
        form_token_release(token)
        return _render_facility(
            request,
            facility,
            status_message=_("Nothing was changed: %(problem)s") % {"problem": error.message},
            failed=True,
        )
    form_token_done(token, back)
    if not decisions:
        message = _("There is no vacant bed to allocate.")
    else:
        offers = sum(1 for d in decisions if d.chosen)
        message = _("Vacant beds allocated: %(beds)s. Offers made: %(offers)s. Still vacant: %(vacant)s.") % {
            "beds": len(decisions),
            "offers": offers,
            "vacant": len(decisions) - offers,
        }
    return _answer(request, facility, back, message)


urlpatterns = [
    path("facilities/", facility_list, name="facilities"),
    path("facilities/<str:code>/", facility_detail, name="facility"),
    path("facilities/<str:code>/queue/", facility_queue, name="facility_queue"),
    path("facilities/<str:code>/decisions/", facility_decisions, name="facility_decisions"),
    path("facilities/<str:code>/allocate/", facility_allocate, name="facility_allocate"),
    path("facilities/<str:code>/beds/<int:bed_id>/<str:action>/", bed_action, name="bed_action"),
]
