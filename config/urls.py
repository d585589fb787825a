from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from facilities.models import Role
from facilities.roles import roles_of
from web.views import home


def administrators_only(request) -> bool:
    """The Django admin is for administrators only (R-SEC-6): other staff work in the staff pages,
    which keep each role to what its work needs (a facility officer listed every home's beds here)."""
    user = request.user
    return user.is_active and user.is_staff and Role.ADMIN in roles_of(user)


admin.site.has_permission = administrators_only


class FaviconRedirect(RedirectView):
    """Browsers and bookmarks ask for /favicon.ico whatever the pages link to. The static file's
    name is looked up per request: at import time the manifest of collected files may not exist
    yet (management commands import the URLs too)."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs):
        return static("img/favicon.ico")


urlpatterns = [
    path("favicon.ico", FaviconRedirect.as_view()),
    path("", include("api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
urlpatterns += i18n_patterns(
    path("", home.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("", include("web.urls")),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)

# API paths answer errors as problem+json, pages as HTML.
handler404 = "config.error_views.not_found"
handler500 = "config.error_views.server_error"
