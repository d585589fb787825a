"""API views: public (API.md "Public"), no credentials. Thin: parse, call one service or selector,
render.

The lookup's rate limits (R-PUB-2) key on the client address, taken from REMOTE_ADDR. Behind a
reverse proxy, the proxy must set REMOTE_ADDR to the real client's address (e.g. gunicorn's
`--forwarded-allow-ips` with the proxy's address, or the proxy speaking the PROXY protocol);
X-Forwarded-For is not read here, because any client can send it and so escape the limits.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from admissions.public import public_board, public_facilities
from admissions.services.lookup import LookupLocked, public_lookup
from api.serializers.public import (
    PublicBoardSerializer,
    PublicFacilitySerializer,
    PublicLookupRequestSerializer,
    PublicLookupResultSerializer,
)
from facilities.models import Facility

# "No credentials needed" in OpenAPI terms: one empty security requirement. (`auth=[]` would drop
# the `security` key altogether, and api/schema.py recognises anonymous operations by `[{}]`.)
ANONYMOUS: list[dict] = [{}]


class PublicView(APIView):
    """Anonymous: no authentication is attempted, so a stale token never turns a lookup into a 401."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    pagination_class = None


class LookupView(PublicView):
    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_lookup",
        tags=["public"],
        summary="Look up one application with its reference and lookup code (R-PUB-1…3)",
        description=(
            "Any mismatch (an unknown reference, a wrong or malformed code) gives the same 404 and counts "
            "as a failed lookup. 10 failed lookups an hour from one address, or 5 for one reference, lock "
            "that address or reference for an hour: every lookup for it then gets 429 with Retry-After, "
            "even with the right code."
        ),
        request=PublicLookupRequestSerializer,
        responses={200: PublicLookupResultSerializer},
        examples=[
            OpenApiExample("lookup", value={"reference": "2026-000023", "code": "K7M3QZ"}, request_only=True),
        ],
    )
    def post(self, request):
        body = PublicLookupRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            result = public_lookup(
                reference=body.validated_data["reference"],
                code=body.validated_data["code"],
                client_address=request.META.get("REMOTE_ADDR", ""),
            )
        except LookupLocked as locked:
            raise Throttled(wait=locked.retry_after, detail=locked.message) from locked
        return Response(PublicLookupResultSerializer(result).data)


class FacilitiesView(PublicView):
    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_facilities",
        tags=["public"],
        summary="The city's homes with their public figures",
        responses={200: PublicFacilitySerializer(many=True)},
    )
    def get(self, request):
        return Response(PublicFacilitySerializer(public_facilities(language=get_language() or ""), many=True).data)


class BoardView(PublicView):
    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_facility_board",
        tags=["public"],
        summary="A home's queue board and recent allocation decisions, references masked (R-PUB-4)",
        responses={200: PublicBoardSerializer},
    )
    def get(self, request, code: str):
        facility = get_object_or_404(Facility, code=code)
        return Response(PublicBoardSerializer(public_board(facility)).data)


urlpatterns = [
    path("public/lookup/", LookupView.as_view(), name="public-lookup"),
    path("public/facilities/", FacilitiesView.as_view(), name="public-facilities"),
    path("public/facilities/<str:code>/board/", BoardView.as_view(), name="public-facility-board"),
]
