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
