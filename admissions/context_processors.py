"""What every page needs to draw its menu: the user's roles, and the menu entries they may open."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from facilities.roles import roles_of

# (URL name, label, roles that see it; admin sees everything). Pages check roles again themselves.
MENU = [
    ("staff:dashboard", _("Dashboard"), {"intake", "assessor", "reviewer", "facility"}),
    ("staff:applications", _("Applications"), {"intake", "assessor", "reviewer", "facility"}),
    ("staff:application_new", _("New application"), {"intake"}),
    ("staff:facilities", _("Homes and beds"), {"reviewer", "facility"}),
    ("staff:offers", _("Offers"), {"intake", "facility"}),
    ("staff:reports", _("Reports"), {"reviewer"}),
    ("staff:administration", _("Administration"), set()),
]


def staff_menu(request):
    user = getattr(request, "user", None)
    roles = roles_of(user) if user is not None else frozenset()
    if not roles:
        return {"staff_roles": roles, "staff_menu": []}
    items = []
    for name, label, who in MENU:
        if "admin" in roles or roles & who:
            try:
                items.append({"url": reverse(name), "label": label, "name": name})
            except NoReverseMatch:  # a page not built yet is simply not in the menu
                continue
    return {"staff_roles": roles, "staff_menu": items}
