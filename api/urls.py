"""The REST API v1 (API.md). This module grows with the API issue; for now the service endpoints."""

from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]
