"""API views: public (API.md "Public"), no credentials. Thin: parse, call one service or selector,
render.

The lookup's rate limits (R-PUB-2) key on the client address (R-SEC-4, config/proxies.py):
REMOTE_ADDR, unless the request comes from one of TRUSTED_PROXIES, then the nearest untrusted
address in X-Forwarded-For (any client can send that header, so it is read only from a proxy).
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from admissions.chain import public_keys
from admissions.models import AllocationDecision, Checkpoint
from admissions.public import public_board, public_facilities
from admissions.services.lookup import LookupLocked, lookup_result, public_lookup, public_reconfirm
from api.filters import WholeNumberFilter, whole_number_parameter
from api.pagination import NewestFirstCursor, OldestFirstCursor
from api.serializers.public import (
    PublicBoardSerializer,
    PublicCheckpointSerializer,
    PublicFacilitySerializer,
    PublicLogDecisionSerializer,
    PublicLookupRequestSerializer,
    PublicLookupResultSerializer,
    lookup_data,
)
from config.proxies import client_address
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
                client_address=client_address(request),
                shape=lookup_data,
            )
        except LookupLocked as locked:
            raise Throttled(wait=locked.retry_after, detail=locked.message) from locked
        return Response(result)


class ReconfirmView(PublicView):
    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_reconfirm",
        tags=["public"],
        summary="The family confirms they still want to wait (R-CHG-3)",
        description=(
            "With the reference and lookup code, under the same rate limits as the lookup: any mismatch gives "
            "the same 404 and counts as a failed lookup; a locked address or reference gets 429 with "
            "Retry-After. An application suspended for want of a confirmation resumes if its assessment is "
            "still valid. Answers the lookup's result."
        ),
        request=PublicLookupRequestSerializer,
        responses={200: PublicLookupResultSerializer},
        examples=[
            OpenApiExample("reconfirm", value={"reference": "2026-000023", "code": "K7M3QZ"}, request_only=True),
        ],
    )
    def post(self, request):
        body = PublicLookupRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            application = public_reconfirm(
                reference=body.validated_data["reference"],
                code=body.validated_data["code"],
                client_address=client_address(request),
            )
        except LookupLocked as locked:
            raise Throttled(wait=locked.retry_after, detail=locked.message) from locked
        return Response(lookup_result(application, shape=lookup_data))


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


# --- the verifiable log (SPEC §15) --------------------------------------------------------------------
class PublicListView(generics.ListAPIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class LogCursor(OldestFirstCursor):
    """A home's public log in chain order (R-VER-2): oldest first, stable while decisions are appended."""

    ordering = "sequence"


class CheckpointCursor(NewestFirstCursor):
    page_size = 100
    max_page_size = 1000


class LogFilter(django_filters.FilterSet):
    after_seq = WholeNumberFilter(field_name="sequence", lookup_expr="gt", min_value=0, max_value=2**31 - 1)

    class Meta:
        model = AllocationDecision
        fields = ["after_seq"]


class PublicLogView(PublicListView):
    serializer_class = PublicLogDecisionSerializer
    pagination_class = LogCursor
    filterset_class = LogFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AllocationDecision.objects.none()
        facility = get_object_or_404(Facility, code=self.kwargs["code"])
        return AllocationDecision.objects.filter(facility=facility).only(
            "id", "sequence", "public", "public_hash", "prev_public_hash"
        )

    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_facility_decisions",
        tags=["public"],
        summary="A home's public decision log, oldest first (R-VER-2)",
        description=(
            "Each decision's public form (masked references with rank, channel, care level, score and reason; "
            "bed code, time, policy version, quota figures) with `public_hash` = SHA-256 of the RFC 8785 "
            "canonical JSON of {prev_public_hash, public, seq} and the previous decision's hash. "
            "`tools/verify_log.py` recomputes the chain and checks it against the signed checkpoints."
        ),
        parameters=[whole_number_parameter(LogFilter, "after_seq", "Only decisions after this seq.")],
    )
    def get(self, request, code: str):
        return self.list(request)


class CheckpointsView(PublicListView):
    serializer_class = PublicCheckpointSerializer
    pagination_class = CheckpointCursor
    filter_backends: list = []
    queryset = Checkpoint.objects.all()

    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_checkpoints",
        tags=["public"],
        summary="The signed checkpoints, newest first (R-VER-3)",
        description=(
            "For each home, the seq and public_hash of its newest decision at the time, signed (Ed25519, "
            "base64) over the RFC 8785 canonical JSON of {id, made_at, heads} with the key `key_id` "
            "(public keys at /public/checkpoints/keys/). Append-only."
        ),
    )
    def get(self, request):
        return self.list(request)


class CheckpointKeysView(PublicView):
    @extend_schema(
        auth=ANONYMOUS,
        operation_id="public_checkpoint_keys",
        tags=["public"],
        summary="The checkpoints' public keys: {key_id: base64 raw Ed25519 public key} (R-VER-3)",
        responses={200: {"type": "object", "additionalProperties": {"type": "string"}}},
    )
    def get(self, request):
        return Response(public_keys())


urlpatterns = [
    path("public/lookup/", LookupView.as_view(), name="public-lookup"),
    path("public/reconfirm/", ReconfirmView.as_view(), name="public-reconfirm"),
    path("public/facilities/", FacilitiesView.as_view(), name="public-facilities"),
    path("public/facilities/<str:code>/board/", BoardView.as_view(), name="public-facility-board"),
    path("public/facilities/<str:code>/decisions/", PublicLogView.as_view(), name="public-facility-decisions"),
    path("public/checkpoints/", CheckpointsView.as_view(), name="public-checkpoints"),
    path("public/checkpoints/keys/", CheckpointKeysView.as_view(), name="public-checkpoint-keys"),
]
