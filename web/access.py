"""Who may open a staff page: the roles come from facilities.roles; turning them into a login
redirect or a 403 is the web's job, so the decorator lives here."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import resolve, reverse

from facilities.models import Role
from facilities.roles import roles_of


def staff_page(*roles: str):
    """A staff page for these roles (an admin always): anonymous users go to the login page; a
    logged-in user without the role gets 403. Checked on the server, whatever the menu shows."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not roles_of(request.user) & allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorator


def allowed_url(user, name: str, *args) -> str | None:
    """The URL of staff page `name` if `user` may open it, else None: a page shows a link only to
    those who may follow it (no 403 from a link shown). Reads the roles `staff_page` put on the view,
    so the link and the page can never disagree about who may open it."""
    url = reverse(name, args=args)
    allowed = getattr(resolve(url).func, "allowed_roles", None)
    if allowed is None or roles_of(user) & allowed:
        return url
    return None
