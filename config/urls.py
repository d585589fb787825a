from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from admissions import views as admissions_views

urlpatterns = [
    path("", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
urlpatterns += i18n_patterns(
    path("", admissions_views.home, name="home"),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)

# API paths answer errors as problem+json, pages as HTML.
handler404 = "config.error_views.not_found"
handler500 = "config.error_views.server_error"
