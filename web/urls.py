"""Staff pages (namespace `staff`) and the family portal (namespace `portal`)."""

from django.urls import include, path

from .views import (
    administration,
    admission_deadline,
    applications,
    assessments,
    changes,
    couples,
    dashboard,
    facility_pages,
    offers,
    portal,
    privacy,
    reports,
    review_requests,
    watchdog,
)

staff = [
    *dashboard.urlpatterns,
    *privacy.urlpatterns,  # before applications/<reference>/
    *changes.urlpatterns,  # R-CHG-2
    *review_requests.urlpatterns,  # R-ASM-6
    *couples.urlpatterns,  # R-CPL-1
    *applications.urlpatterns,
    *assessments.urlpatterns,
    *offers.urlpatterns,
    *watchdog.urlpatterns,
    *admission_deadline.urlpatterns,  # R-OFF-7
    *reports.urlpatterns,
    *administration.urlpatterns,
    *facility_pages.urlpatterns,
]

urlpatterns = [
    path("staff/", include((staff, "staff"), namespace="staff")),
    path("", include((portal.urlpatterns, "portal"), namespace="portal")),
]
