"""API views: facilities and beds (API.md). Thin: parse, call one service or selector, render.

Roles as API.md's table says. Listing and reading homes is open to any staff, facility officers
included (a home's name, bed counts and quota are no one's personal data); a home's beds, queue and
decisions, and every act on them, are for its own facility officers (`check_facility_scope`),
reviewers where the table says so, and administrators.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator

import django_filters
from django.core import signing
from django.db.models import OuterRef, Q, Subquery
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from admissions.dashboard import beds_with_occupants, facility_figures
from admissions.models import AllocationDecision, DecisionConfirmation, QueueEntry
from admissions.policy import PolicyInForce
from admissions.selectors import QUEUE_ORDER, policy_in_force, position_for_entry, queue_for_facility, score_breakdown
from admissions.services.allocation import allocation_run
from admissions.services.beds import (
    bed_create,
    bed_discharge_all,
    bed_return_to_service,
    bed_take_out_of_service,
    beds_add_batch,
)
from core.actor import Actor
from core.errors import NotFound
from facilities.models import Bed, Facility, Role
from facilities.services import facility_create, facility_update

from .. import examples
from ..base import ApiView
from ..pagination import NewestFirstCursor
from ..permissions import AnyStaff, check_facility_scope, role_permission
from ..serializers.facilities import (
    AllocateResultSerializer,
    BedBatchSerializer,
    BedCreateSerializer,
    BedReasonSerializer,
    BedSerializer,
    DecisionSerializer,
    DischargeResultSerializer,
    DischargeSerializer,
    FacilityCreateSerializer,
    FacilitySerializer,
    FacilityUpdateSerializer,
    QueuePageSerializer,
    QueueQuerySerializer,
    QueueRowSerializer,
)

AdminOnly = role_permission()
FacilityStaff = role_permission(Role.FACILITY)
QueueReaders = role_permission(Role.REVIEWER, Role.FACILITY)


def _facility(code: str, user=None) -> Facility:
    """The facility named by its code (404), checked against a facility officer's home (403)."""
    facility = Facility.objects.select_related("district").filter(code=code).first()
    if facility is None:
        raise NotFound(_("No facility has the code %(code)s.") % {"code": code})
    if user is not None:
        check_facility_scope(user, facility)
    return facility


def _bed(bed_id: int, user) -> Bed:
    bed = Bed.objects.select_related("facility").filter(pk=bed_id).first()
    if bed is None:
        raise NotFound(_("No bed has the id %(id)s.") % {"id": bed_id})
    check_facility_scope(user, bed.facility)
    return bed


def _actor(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


def _parsed(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _beds_out(beds) -> list[dict]:
    """Beds as API.md shows them, re-read with their occupants."""
    rows = beds_with_occupants(Bed.objects.filter(pk__in=[b.pk for b in beds])).order_by("code")
    return BedSerializer(rows, many=True).data


def _facility_out(facility: Facility) -> dict:
    return FacilitySerializer(facility_figures([facility], policy=policy_in_force())[0]).data


# --- facilities -----------------------------------------------------------------------------------
class FacilityFilter(django_filters.FilterSet):
    district = django_filters.CharFilter(field_name="district__code", help_text="A district code.")

    class Meta:
        model = Facility
        fields = ["district", "level", "accepting_applications"]


class FacilityListView(ApiView, generics.ListAPIView):
    serializer_class = FacilitySerializer
    filterset_class = FacilityFilter
    queryset = Facility.objects.select_related("district").order_by("code")

    def get_permissions(self):
        return [AdminOnly()] if self.request.method == "POST" else [AnyStaff()]

    @extend_schema(operation_id="facilities_list", responses=FacilitySerializer(many=True))
    def get(self, request):
        policy = policy_in_force()
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(FacilitySerializer(facility_figures(page, policy=policy), many=True).data)

    @extend_schema(
        operation_id="facilities_create",
        request=FacilityCreateSerializer,
        examples=examples.FACILITY,
        responses={201: FacilitySerializer},
    )
    def post(self, request):
        values = _parsed(FacilityCreateSerializer, request)
        facility = facility_create(
            code=values.pop("code"), values=values, user=request.user, actor_name=request.user.get_username()
        )
        return Response(_facility_out(facility), status=status.HTTP_201_CREATED)


class FacilityDetailView(ApiView):
    def get_permissions(self):
        return [AdminOnly()] if self.request.method == "PATCH" else [AnyStaff()]

    @extend_schema(operation_id="facilities_retrieve", responses=FacilitySerializer)
    def get(self, request, code: str):
        return Response(_facility_out(_facility(code)))

    @extend_schema(
        operation_id="facilities_update",
        request=FacilityUpdateSerializer(partial=True),
        examples=examples.FACILITY_UPDATE,
        responses=FacilitySerializer,
        description="Any of the writable fields; an own `nursing_target` (R-NQ-1) is audited, null returns "
        "to the policy's value. A lower cap blocks new offers only: nobody holding a bed is displaced.",
    )
    def patch(self, request, code: str):
        facility = _facility(code)
        values = _parsed(FacilityUpdateSerializer, request, partial=True)
        facility = facility_update(
            facility=facility, values=values, user=request.user, actor_name=request.user.get_username()
        )
        return Response(_facility_out(facility))


# --- beds -----------------------------------------------------------------------------------------
class BedFilter(django_filters.FilterSet):
    class Meta:
        model = Bed
        fields = ["status", "bed_type"]


class FacilityBedsView(ApiView, generics.ListAPIView):
    permission_classes = [FacilityStaff]
    serializer_class = BedSerializer
    filterset_class = BedFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no facility
            return Bed.objects.none()
        facility = _facility(self.kwargs["code"], self.request.user)
        return beds_with_occupants(Bed.objects.filter(facility=facility)).order_by("code")

    @extend_schema(operation_id="facilities_beds_list")
    def get(self, request, code: str):
        return self.list(request)

    @extend_schema(
        operation_id="facilities_beds_create",
        request=BedCreateSerializer,
        responses={201: BedSerializer},
        description="A new bed is vacant and goes to the queue at once (R-ALLOC-3).",
    )
    def post(self, request, code: str):
        facility = _facility(code, request.user)
        values = _parsed(BedCreateSerializer, request)
        bed, _decisions = bed_create(facility=facility, actor=_actor(request), **values)
        return Response(_beds_out([bed])[0], status=status.HTTP_201_CREATED)


class FacilityBedsBatchView(ApiView):
    permission_classes = [FacilityStaff]

    @extend_schema(
        operation_id="facilities_beds_batch",
        request=BedBatchSerializer,
        responses={201: BedSerializer(many=True)},
        description="`count` beds coded prefix-001, prefix-002, …; each goes to the queue at once (R-ALLOC-3).",
    )
    def post(self, request, code: str):
        facility = _facility(code, request.user)
        values = _parsed(BedBatchSerializer, request)
        beds, _decisions = beds_add_batch(facility=facility, actor=_actor(request), **values)
        return Response(_beds_out(beds), status=status.HTTP_201_CREATED)


class BedDischargeView(ApiView):
    permission_classes = [FacilityStaff]

    @extend_schema(
        operation_id="beds_discharge",
        request=DischargeSerializer,
        responses=DischargeResultSerializer,
        description="R-BED-2: the occupant leaves; the bed is allocated at once and the decision returned.",
    )
    def post(self, request, id: int):
        bed = _bed(id, request.user)
        values = _parsed(DischargeSerializer, request)
        bed, decisions = bed_discharge_all(
            bed=bed, reason=values["reason"], on=values.get("date"), actor=_actor(request)
        )
        decision = next((d for d in decisions if d.bed_id == bed.pk), decisions[0])
        return Response(
            {
                "bed": _beds_out([bed])[0],
                "decision": DecisionSerializer(decision).data,
                "decisions": DecisionSerializer(decisions, many=True).data,
            }
        )


class BedOutOfServiceView(ApiView):
    permission_classes = [FacilityStaff]

    @extend_schema(
        operation_id="beds_out_of_service",
        request=BedReasonSerializer,
        examples=examples.BED_OUT_OF_SERVICE,
        responses=BedSerializer,
        description="Only a vacant bed; the self-care cap may fall, nobody is displaced (R-NQ-1).",
    )
    def post(self, request, id: int):
        bed = _bed(id, request.user)
        values = _parsed(BedReasonSerializer, request)
        bed = bed_take_out_of_service(bed=bed, reason=values.get("reason", ""), actor=_actor(request))
        return Response(_beds_out([bed])[0])


class BedReturnToServiceView(ApiView):
    permission_classes = [FacilityStaff]

    @extend_schema(
        operation_id="beds_return_to_service",
        request=BedReasonSerializer,
        examples=examples.BED_RETURN,
        responses=BedSerializer,
        description="Back in service, vacant, and allocated at once (R-ALLOC-3).",
    )
    def post(self, request, id: int):
        bed = _bed(id, request.user)
        values = _parsed(BedReasonSerializer, request)
        bed, _decision = bed_return_to_service(bed=bed, reason=values.get("reason", ""), actor=_actor(request))
        return Response(_beds_out([bed])[0])


# --- allocation -----------------------------------------------------------------------------------
class FacilityAllocateView(ApiView):
    permission_classes = [FacilityStaff]

    @extend_schema(
        operation_id="facilities_allocate",
        request=None,
        responses=AllocateResultSerializer,
        description="Allocate every vacant in-service bed now (R-ALLOC-3, a staff member's request): one "
        "decision per bed, under the nursing quota (R-NQ-1).",
    )
    def post(self, request, code: str):
        facility = _facility(code, request.user)
        decisions = allocation_run(facility=facility, trigger="staff_request", actor=_actor(request))
        return Response({"decisions": DecisionSerializer(decisions, many=True).data})


class FacilityDecisionsView(ApiView, generics.ListAPIView):
    permission_classes = [QueueReaders]
    serializer_class = DecisionSerializer
    pagination_class = NewestFirstCursor
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AllocationDecision.objects.none()
        facility = _facility(self.kwargs["code"], self.request.user)
        latest = DecisionConfirmation.objects.filter(decision=OuterRef("pk")).order_by("-at").values("at")[:1]
        return (
            AllocationDecision.objects.filter(facility=facility)
            .select_related("facility", "bed")
            .annotate(confirmed_at_latest=Subquery(latest))  # R-ALLOC-2: last_confirmed_at
        )

    @extend_schema(operation_id="facilities_decisions_list", description="Allocation decisions, newest first.")
    def get(self, request, code: str):
        return self.list(request)


# --- the queue ------------------------------------------------------------------------------------
QUEUE_CURSOR_SALT = "api.facilities.queue-cursor"


def _sort_key(entry: QueueEntry) -> list:
    """The entry's values of QUEUE_ORDER (R-Q-2), as JSON can carry them."""
    key = []
    for term in QUEUE_ORDER:
        value = functools.reduce(getattr, term.lstrip("-").split("__"), entry)
        key.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    return key


def _beyond(key: list, *, forward: bool) -> Q:
    """The entries after `key` in QUEUE_ORDER (before it when not `forward`): the keyset condition,
    built from the order itself so that it cannot drift from R-Q-2."""
    branches, equal = [], Q()
    for term, value in zip(QUEUE_ORDER, key, strict=True):
        name = term.lstrip("-")
        greater = forward != term.startswith("-")  # after an ascending term, or before a descending one
        branches.append(equal & Q(**{f"{name}__{'gt' if greater else 'lt'}": value}))
        equal &= Q(**{name: value})
    return functools.reduce(operator.or_, branches)


class QueueView(ApiView):
    """Keyset (cursor) pages over one facility's queue, in order (R-Q-2). The database sorts and
    scores; nothing sorts the queue in Python. A cursor is signed, and carries the moment the first
    page was read: every page of one walk ranks the queue as it stood then (scores rise with waiting
    time, R-Q-3), so no entry is seen twice or missed because of a score's tick."""

    permission_classes = [QueueReaders]
    page_size = 50

    @extend_schema(
        operation_id="facilities_queue_list",
        parameters=[
            QueueQuerySerializer,
            OpenApiParameter("cursor", str, description="From `next` or `previous`; an unknown one is a 404."),
        ],
        responses=QueuePageSerializer,
        description="Open entries in queue order (R-Q-2). `position` is always the place in the whole queue "
        "(R-Q-4), also when filtered by `care_level`. Follow `next` and `previous` for the other pages.",
    )
    def get(self, request, code: str):
        facility = _facility(code, request.user)
        # A plain dict, so that an empty `?care_level=` is refused rather than taken as left out.
        query = QueueQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        query = query.validated_data
        at, key, forward = self._cursor(request.query_params.get("cursor"))
        policy = policy_in_force(timezone.localdate(at))
        size = query.get("page_size", self.page_size)
        care_level = query.get("care_level")

        queue = queue_for_facility(facility, now=at, policy=policy)
        if care_level:
            queue = queue.filter(care_level=care_level)
        if key is not None:
            queue = queue.filter(_beyond(key, forward=forward))
        if not forward:
            queue = queue.reverse()
        rows = list(queue[: size + 1])
        more = len(rows) > size
        rows = rows[:size] if forward else rows[:size][::-1]

        url = remove_query_param(request.build_absolute_uri(), "cursor")
        has_next = more if forward else bool(rows)
        has_previous = (key is not None and bool(rows)) if forward else more
        return Response(
            {
                "next": self._link(url, at, rows[-1], forward=True) if has_next else None,
                "previous": self._link(url, at, rows[0], forward=False) if has_previous else None,
                "results": self._rows(rows, at=at, policy=policy, whole_queue=care_level is None),
            }
        )

    @staticmethod
    def _cursor(token: str | None) -> tuple[dt.datetime, list | None, bool]:
        if token is None:
            return timezone.now(), None, True
        try:
            data = signing.loads(token, salt=QUEUE_CURSOR_SALT)
            return dt.datetime.fromisoformat(data["at"]), data["key"], data["forward"]
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            # 404, as DRF's cursor pages (decisions, events) answer an unknown cursor.
            raise NotFound(_("Invalid cursor."), errors={"cursor": [_("is not a cursor this API gave")]}) from exc

    @staticmethod
    def _link(url: str, at: dt.datetime, entry: QueueEntry, *, forward: bool) -> str:
        token = signing.dumps(
            {"at": at.isoformat(), "key": _sort_key(entry), "forward": forward}, salt=QUEUE_CURSOR_SALT
        )
        return replace_query_param(url, "cursor", token)

    @staticmethod
    def _rows(rows: list[QueueEntry], *, at: dt.datetime, policy: PolicyInForce, whole_queue: bool) -> list[dict]:
        """R-Q-4 positions by counting in the database: the page's first position, then one more
        per row; a page filtered by care level leaves gaps, so each of its rows is counted."""
        if not rows:
            return []
        if whole_queue:
            first = position_for_entry(rows[0], now=at, policy=policy).position
            positions = range(first, first + len(rows))
        else:
            positions = [position_for_entry(entry, now=at, policy=policy).position for entry in rows]
        return QueueRowSerializer(
            [
                {
                    "position": position,
                    "reference": entry.application.reference,
                    "channel": entry.application.channel_code,
                    "care_level": entry.care_level,
                    "score": entry.score,
                    "score_breakdown": score_breakdown(entry, now=at, params=policy.parameters),
                    "queued_at": entry.queued_at,
                }
                for position, entry in zip(positions, rows, strict=True)
            ],
            many=True,
        ).data


urlpatterns = [
    path("facilities/", FacilityListView.as_view(), name="facility-list"),
    path("facilities/<str:code>/", FacilityDetailView.as_view(), name="facility-detail"),
    path("facilities/<str:code>/beds/", FacilityBedsView.as_view(), name="facility-beds"),
    path("facilities/<str:code>/beds/batch/", FacilityBedsBatchView.as_view(), name="facility-beds-batch"),
    path("facilities/<str:code>/allocate/", FacilityAllocateView.as_view(), name="facility-allocate"),
    path("facilities/<str:code>/queue/", QueueView.as_view(), name="facility-queue"),
    path("facilities/<str:code>/decisions/", FacilityDecisionsView.as_view(), name="facility-decisions"),
    path("beds/<int:id>/discharge/", BedDischargeView.as_view(), name="bed-discharge"),
    path("beds/<int:id>/out-of-service/", BedOutOfServiceView.as_view(), name="bed-out-of-service"),
    path("beds/<int:id>/return-to-service/", BedReturnToServiceView.as_view(), name="bed-return-to-service"),
]
