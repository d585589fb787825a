"""What every page needs to draw its menu: the user's roles, and the menu entries they may open."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from admissions.services.transitions import roles_for_transition
from facilities.roles import roles_of

# Who answers offers and admits: the roles of those transitions (services/transitions.py), so the menu
# and the offer pages' decorators never disagree.
OFFER_ROLES = set(roles_for_transition("accept-offer") | roles_for_transition("admit"))

# (URL name, label, roles that see it; admin sees everything). Pages check roles again themselves.
MENU = [
    ("staff:dashboard", _("Dashboard"), {"intake", "assessor", "reviewer", "facility"}),
    ("staff:applications", _("Applications"), {"intake", "assessor", "reviewer", "facility"}),
    ("staff:application_new", _("New application"), {"intake"}),
    ("staff:facilities", _("Homes and beds"), {"reviewer", "facility"}),
    ("staff:offers", _("Offers"), OFFER_ROLES),
    ("staff:reports", _("Reports"), {"reviewer"}),
    ("staff:watchdog", _("Watchdog report"), {"reviewer"}),
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


def neutral_path(request):
    """The page's path without its language prefix (/en/staff/ → /staff/), for the language switch:
    set_language then sends the visitor to the same page in the chosen language."""
    from django.conf import settings
    from django.utils.translation import get_language_from_path

    path = request.get_full_path()
    language = get_language_from_path(request.path_info)
    if language and language != settings.LANGUAGE_CODE and path.startswith(f"/{language}/"):
        path = path[len(language) + 1 :]
    return {"neutral_path": path}
