"""The URLs `bench` serves while it measures: the product's own, plus a view answering constant
JSON — the floor every figure is compared with (issue 7). Used only by bench (override_settings);
the product's URLconf never includes it."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as product_urlpatterns


class ConstantView(APIView):
    """The least a request through the same stack as the public lookup can cost (every middleware,
    DRF's parsing, negotiation and rendering, no authentication): no database, no template."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/constant/", ConstantView.as_view()), *product_urlpatterns]
