"""API views: offers (API.md). Thin: parse, call one service or selector, render.

A facility officer sees and acts on their own home's offers only (SPEC §10); each transition is
its own POST calling its service in admissions/services/offers.py.
"""

from __future__ import annotations

import django_filters
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.response import Response

from admissions.models import Offer, OfferState
from admissions.services.admission_deadline import offer_extend_admission
from admissions.services.offers import offer_accept, offer_admit, offer_decline, offer_fail_check
from core.actor import Actor
from facilities.models import Role
from facilities.roles import facility_of, roles_of

from ..base import ApiView
from ..permissions import AnyStaff, check_facility_scope, transition_permission
from ..serializers.offers import (
    OfferAdmitSerializer,
    OfferDeclineSerializer,
    OfferExtendAdmissionSerializer,
    OfferFailCheckSerializer,
    OfferSerializer,
)

OFFERS = Offer.objects.select_related("application", "facility", "bed")


def _visible_offers(user):
    """Every offer, or only the own home's for a facility officer who is nothing else."""
    if roles_of(user) == {Role.FACILITY}:
        own = facility_of(user)
        return OFFERS.filter(facility=own) if own is not None else OFFERS.none()
    return OFFERS


def _offer_for(request, offer_id: int) -> Offer:
    offer = OFFERS.filter(pk=offer_id).first()
    if offer is None:
        raise Http404("No such offer.")
    check_facility_scope(request.user, offer.facility)
    return offer


def _actor(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


class OfferFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=OfferState.choices)
    facility = django_filters.CharFilter(field_name="facility__code", max_length=20, help_text="A facility code.")
    application = django_filters.CharFilter(
        field_name="application__reference", max_length=40, help_text="An application reference."
    )

    class Meta:
        model = Offer
        fields = ["state", "facility", "application"]


@extend_schema_view(get=extend_schema(operation_id="offers_list", responses={200: OfferSerializer(many=True)}))
class OfferList(ApiView, generics.ListAPIView):
    permission_classes = [AnyStaff]
    serializer_class = OfferSerializer
    filterset_class = OfferFilter

    def get_queryset(self):
        return _visible_offers(self.request.user).order_by("-made_at", "-id")


ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The offer's id.")


class OfferDetail(ApiView):
    permission_classes = [AnyStaff]

    @extend_schema(operation_id="offers_retrieve", parameters=[ID], responses={200: OfferSerializer})
    def get(self, request, id: int):
        return Response(OfferSerializer(_offer_for(request, id)).data)


class OfferAccept(ApiView):
    """pending → accepted; the application goes to the admission check (R-OFF-1)."""

    permission_classes = [transition_permission("accept-offer")]

    @extend_schema(operation_id="offers_accept", parameters=[ID], request=None, responses={200: OfferSerializer})
    def post(self, request, id: int):
        offer = offer_accept(offer=_offer_for(request, id), actor=_actor(request))
        return Response(OfferSerializer(offer).data)


class OfferDecline(ApiView):
    """pending → declined: a refusal, and the bed goes to the next candidate (R-OFF-4)."""

    permission_classes = [transition_permission("decline-offer")]

    @extend_schema(
        operation_id="offers_decline",
        parameters=[ID],
        request=OfferDeclineSerializer,
        responses={200: OfferSerializer},
    )
    def post(self, request, id: int):
        body = OfferDeclineSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer, _decisions = offer_decline(
            offer=_offer_for(request, id), reason=body.validated_data["reason"], actor=_actor(request)
        )
        return Response(OfferSerializer(offer).data)


class OfferAdmit(ApiView):
    """accepted → admitted: the bed becomes occupied (SPEC §5)."""

    permission_classes = [transition_permission("admit")]

    @extend_schema(
        operation_id="offers_admit",
        parameters=[ID],
        request=OfferAdmitSerializer,
        responses={200: OfferSerializer},
    )
    def post(self, request, id: int):
        body = OfferAdmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer = offer_admit(
            offer=_offer_for(request, id), admitted_on=body.validated_data["admitted_on"], actor=_actor(request)
        )
        return Response(OfferSerializer(offer).data)


class OfferFailCheck(ApiView):
    """accepted → failed_check; a no-show is a refusal (R-OFF-4)."""

    permission_classes = [transition_permission("fail-check")]

    @extend_schema(
        operation_id="offers_fail_check",
        parameters=[ID],
        request=OfferFailCheckSerializer,
        responses={200: OfferSerializer},
    )
    def post(self, request, id: int):
        body = OfferFailCheckSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer, _decisions = offer_fail_check(
            offer=_offer_for(request, id),
            reason=body.validated_data["reason"],
            note=body.validated_data["note"],
            actor=_actor(request),
        )
        return Response(OfferSerializer(offer).data)


class OfferExtendAdmission(ApiView):
    """R-OFF-7: a facility officer of the home extends the admission deadline once, with a reason."""

    permission_classes = [transition_permission("extend-admission")]

    @extend_schema(
        operation_id="offers_extend_admission",
        parameters=[ID],
        request=OfferExtendAdmissionSerializer,
        responses={200: OfferSerializer},
    )
    def post(self, request, id: int):
        body = OfferExtendAdmissionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        offer = offer_extend_admission(
            offer=_offer_for(request, id),
            admit_by=body.validated_data["admit_by"],
            reason=body.validated_data["reason"],
            actor=_actor(request),
        )
        return Response(OfferSerializer(offer).data)


urlpatterns = [
    path("offers/", OfferList.as_view(), name="offers"),
    path("offers/<int:id>/", OfferDetail.as_view(), name="offer"),
    path("offers/<int:id>/accept/", OfferAccept.as_view(), name="offer-accept"),
    path("offers/<int:id>/decline/", OfferDecline.as_view(), name="offer-decline"),
    path("offers/<int:id>/admit/", OfferAdmit.as_view(), name="offer-admit"),
    path("offers/<int:id>/fail-check/", OfferFailCheck.as_view(), name="offer-fail-check"),
    path("offers/<int:id>/extend-admission/", OfferExtendAdmission.as_view(), name="offer-extend-admission"),
]
