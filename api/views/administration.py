"""API views: administration (API.md "Policy, calendar, events, webhooks"). Thin: parse, call one
service or selector, render.

Policy versions (SPEC §9) and the working-day calendar (R-OFF-2) are changed by their audited
services; the event feed is the append-only log (R-FSM-2) read oldest first; webhook deliveries
are the outbox of admissions/services/webhooks.py.
"""

from __future__ import annotations

import django_filters
from django.http import Http404
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response

from admissions.models import ApplicationEvent, CalendarDay, Policy, WebhookDelivery, WebhookSubscription
from admissions.policy import PolicyParameters
from admissions.selectors import policy_in_force
from admissions.services.calendar import calendar_day_set
from admissions.services.policy import policy_create
from admissions.services.webhooks import webhook_subscribe, webhook_unsubscribe
from admissions.workdays import calendar_warning, covered_years
from core.actor import Actor
from facilities.models import Role

from .. import examples
from ..base import ApiView
from ..filters import WholeNumberFilter, whole_number_parameter
from ..pagination import OldestFirstCursor, Pages
from ..permissions import AnyStaff, role_permission
from ..serializers.administration import (
    CalendarDaySerializer,
    PolicyCreateSerializer,
    PolicyOverviewSerializer,
    PolicyVersionSerializer,
    WebhookDeliverySerializer,
    WebhookSubscriptionSerializer,
)
from ..serializers.applications import ApplicationEventOutput

AdminOnly = role_permission(Role.ADMIN)
BIGINT_MAX = 2**63 - 1


def _actor(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


# --- policy (SPEC §9) -----------------------------------------------------------------------------
def _version(policy: Policy) -> dict:
    return {
        "version": policy.version,
        "effective_from": policy.effective_from,
        "parameters": PolicyParameters.from_json(policy.parameters),
        "note": policy.note,
        "created_by": policy.created_by.get_username() if policy.created_by else None,
        "created_at": policy.created_at,
    }


class PolicyView(ApiView):
    def get_permissions(self):
        return [AdminOnly()] if self.request.method == "POST" else [AnyStaff()]

    @extend_schema(operation_id="policy_retrieve", responses={200: PolicyOverviewSerializer})
    def get(self, request):
        today = timezone.localdate()
        in_force = policy_in_force(today)
        row = Policy.objects.select_related("created_by").filter(version=in_force.version).first()
        active = (
            _version(row)
            if row is not None
            else {
                "version": in_force.version,
                "effective_from": in_force.effective_from,
                "parameters": in_force.parameters,
                "note": "",
                "created_by": None,
                "created_at": None,
            }
        )
        upcoming = Policy.objects.select_related("created_by").filter(effective_from__gt=today)
        overview = {"active": active, "upcoming": [_version(p) for p in upcoming.order_by("effective_from", "version")]}
        return Response(PolicyOverviewSerializer(overview).data)

    @extend_schema(
        operation_id="policy_create",
        request=PolicyCreateSerializer,
        examples=examples.POLICY,
        responses={201: PolicyVersionSerializer},
    )
    def post(self, request):
        body = PolicyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        parameters = dict(body.validated_data)
        effective_from, note = parameters.pop("effective_from"), parameters.pop("note")
        policy = policy_create(effective_from=effective_from, parameters=parameters, actor=_actor(request), note=note)
        return Response(PolicyVersionSerializer(_version(policy)).data, status=status.HTTP_201_CREATED)


# --- calendar (R-OFF-2) -----------------------------------------------------------------------------
class CalendarPages(Pages):
    """The days, and which years are entered in full (R-OFF-2: say which years are covered)."""

    page_size = 400

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["covered_years"] = covered_years()
        response.data["warning"] = calendar_warning()
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["covered_years"] = {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Years whose holidays and adjusted working days are entered in full.",
        }
        schema["properties"]["warning"] = {
            "type": "string",
            "nullable": True,
            "description": "Set when deadlines computed now could fall past the covered years.",
        }
        schema["required"] = [*schema.get("required", []), "covered_years", "warning"]
        return schema


class CalendarFilter(django_filters.FilterSet):
    year = WholeNumberFilter(field_name="date", lookup_expr="year", min_value=1, max_value=9999)

    class Meta:
        model = CalendarDay
        fields = ["year"]


@extend_schema_view(
    get=extend_schema(
        operation_id="calendar_list",
        parameters=[whole_number_parameter(CalendarFilter, "year", "Only the days of this year.")],
        responses={200: CalendarDaySerializer(many=True)},
    ),
    post=extend_schema(
        operation_id="calendar_set",
        request=CalendarDaySerializer,
        responses={201: CalendarDaySerializer},
        description="Make a date a public holiday or an adjusted working day (creating or changing its row).",
    ),
)
class CalendarView(ApiView, generics.ListAPIView):
    permission_classes = [AdminOnly]
    serializer_class = CalendarDaySerializer
    filterset_class = CalendarFilter
    pagination_class = CalendarPages
    queryset = CalendarDay.objects.order_by("date")

    def post(self, request):
        body = CalendarDaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = _actor(request)
        day = calendar_day_set(**body.validated_data, actor_user=actor.user, actor_name=actor.name)
        return Response(CalendarDaySerializer(day).data, status=status.HTTP_201_CREATED)


# --- the event feed (R-FSM-2) -------------------------------------------------------------------------
class EventFilter(django_filters.FilterSet):
    after = WholeNumberFilter(field_name="id", lookup_expr="gt", min_value=0, max_value=BIGINT_MAX)

    class Meta:
        model = ApplicationEvent
        fields = ["after"]


@extend_schema_view(
    get=extend_schema(
        operation_id="events_list",
        parameters=[whole_number_parameter(EventFilter, "after", "Only events with a greater id than this one.")],
        responses={200: ApplicationEventOutput(many=True)},
    )
)
class EventFeed(ApiView, generics.ListAPIView):
    """Every application event, oldest first."""

    permission_classes = [AdminOnly]
    serializer_class = ApplicationEventOutput
    filterset_class = EventFilter
    pagination_class = OldestFirstCursor
    queryset = ApplicationEvent.objects.select_related("application")


# --- webhooks -----------------------------------------------------------------------------------
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The webhook subscription's id.")


def _subscription(subscription_id: int) -> WebhookSubscription:
    subscription = (
        WebhookSubscription.objects.select_related("created_by").filter(pk=subscription_id, active=True).first()
    )
    if subscription is None:
        raise Http404("No such webhook.")
    return subscription


@extend_schema_view(
    get=extend_schema(operation_id="webhooks_list", responses={200: WebhookSubscriptionSerializer(many=True)}),
    post=extend_schema(
        operation_id="webhooks_create",
        request=WebhookSubscriptionSerializer,
        responses={201: WebhookSubscriptionSerializer},
    ),
)
class WebhookList(ApiView, generics.ListAPIView):
    permission_classes = [AdminOnly]
    serializer_class = WebhookSubscriptionSerializer
    queryset = WebhookSubscription.objects.filter(active=True).select_related("created_by").order_by("id")

    def post(self, request):
        body = WebhookSubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        subscription = webhook_subscribe(**body.validated_data, actor=_actor(request))
        return Response(WebhookSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookDetail(ApiView):
    permission_classes = [AdminOnly]

    @extend_schema(operation_id="webhooks_retrieve", parameters=[ID], responses={200: WebhookSubscriptionSerializer})
    def get(self, request, id: int):
        return Response(WebhookSubscriptionSerializer(_subscription(id)).data)

    @extend_schema(
        operation_id="webhooks_delete",
        parameters=[ID],
        responses={204: OpenApiResponse(description="Deleted: nothing more is sent to it.")},
    )
    def delete(self, request, id: int):
        webhook_unsubscribe(subscription_id=id, actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    get=extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=[ID],
        responses={200: WebhookDeliverySerializer(many=True)},
    )
)
class WebhookDeliveries(ApiView, generics.ListAPIView):
    """Attempts, status codes and the next retry of each delivery, newest first."""

    permission_classes = [AdminOnly]
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return WebhookDelivery.objects.none()
        return WebhookDelivery.objects.filter(subscription=_subscription(self.kwargs["id"])).order_by("-id")


urlpatterns = [
    path("policy/", PolicyView.as_view(), name="policy"),
    path("calendar/", CalendarView.as_view(), name="calendar"),
    path("events/", EventFeed.as_view(), name="events"),
    path("webhooks/", WebhookList.as_view(), name="webhooks"),
    path("webhooks/<int:id>/", WebhookDetail.as_view(), name="webhook"),
    path("webhooks/<int:id>/deliveries/", WebhookDeliveries.as_view(), name="webhook-deliveries"),
]
