"""URLs of the REST API (API.md): /api/v1/…, the OpenAPI document and docs, health checks."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .views import (
    administration,
    applications,
    assessments,
    changes,
    couples,
    facilities,
    offers,
    privacy,
    public,
    review_requests,
    service,
    watchdog,
)


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """The docs page with its script at ?script= instead of inline, so the Content-Security-Policy
    needs no inline script (R-SEC-6); GET only: OPTIONS looked for a template and answered 500
    (R-SEC-1)."""

    http_method_names = ["get", "head"]
    template_name = "api/swagger_ui.html"


v1 = [
    *facilities.urlpatterns,
    *applications.urlpatterns,
    *changes.urlpatterns,
    *assessments.urlpatterns,
    *review_requests.urlpatterns,
    *offers.urlpatterns,
    *couples.urlpatterns,
    *administration.urlpatterns,
    *privacy.urlpatterns,
    *public.urlpatterns,
    *watchdog.urlpatterns,
]

urlpatterns = [
    path("healthz", service.healthz, name="healthz"),
    path("readyz", service.readyz, name="readyz"),
    path("api/v1/", include((v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="schema"), name="api-docs"),
]
