"""API views: couples (API.md, R-CPL-1). Thin: parse, call one service, render."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from admissions.services.couples import couple_link, couple_unlink
from core.actor import Actor
from facilities.models import Role

from .. import examples
from ..base import ApiView
from ..permissions import role_permission
from ..serializers.couples import CoupleCreateSerializer, CoupleSerializer, CoupleUnlinkSerializer

Intake = role_permission(Role.INTAKE)
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The couple's id.")


def _actor(request) -> Actor:
    return Actor.for_user(request.user, via_api=True)


class CoupleList(ApiView):
    """R-CPL-1: link two applications of spouses as a couple."""

    permission_classes = [Intake]

    @extend_schema(operation_id="couples_create", request=CoupleCreateSerializer, responses={201: CoupleSerializer})
    def post(self, request):
        body = CoupleCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        couple = couple_link(**body.validated_data, actor=_actor(request))
        return Response(CoupleSerializer(couple).data, status=status.HTTP_201_CREATED)


class CoupleDetail(ApiView):
    permission_classes = [Intake]
    delete_takes_body = True  # {reason} (API.md): in the OpenAPI document through api.schema.AutoSchema

    @extend_schema(
        operation_id="couples_unlink",
        parameters=[ID],
        request=CoupleUnlinkSerializer,
        examples=examples.COUPLE_UNLINK,
        responses={200: CoupleSerializer},
    )
    def delete(self, request, id: int):
        body = CoupleUnlinkSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        couple = couple_unlink(couple=id, reason=body.validated_data["reason"], actor=_actor(request))
        return Response(CoupleSerializer(couple).data)


urlpatterns = [
    path("couples/", CoupleList.as_view(), name="couples"),
    path("couples/<int:id>/", CoupleDetail.as_view(), name="couple"),
]
