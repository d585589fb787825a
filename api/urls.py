"""URLs of the REST API (API.md): /api/v1/…, the OpenAPI document and docs, health checks."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .views import administration, applications, assessments, facilities, offers, privacy, public, service, watchdog

v1 = [
    *facilities.urlpatterns,
    *applications.urlpatterns,
    *assessments.urlpatterns,
    *offers.urlpatterns,
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
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
