"""Issue 15: a confirmation page before an irreversible act (check your answers, GOV.UK). The first
POST renders `staff/confirm.html` from a `Confirmation` and writes nothing; the page's own POST carries
`confirm=yes`, the fields as typed and the same form token, and only then does the view call the
service. The words of each act's consequences are built by its view; the refusal lines (R-OFF-4,
R-OFF-5) are here because more than one act counts a refusal."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.shortcuts import render
from django.utils.translation import gettext as _

from admissions.selectors import policy_in_force, refusals_of_person

CONFIRMED = "yes"


@dataclass
class Line:
    text: str
    strong: bool = False


@dataclass
class Confirmation:
    title: str
    back: str
    back_label: str
    no_label: str
    url: str
    token: str
    submit: str
    facts: list[tuple[str, object]] = field(default_factory=list)
    consequences: list[Line] = field(default_factory=list)
    hidden: list[tuple[str, object]] = field(default_factory=list)


def is_confirmed(request) -> bool:
    return request.POST.get("confirm") == CONFIRMED


def confirmation_page(request, confirmation: Confirmation):
    return render(request, "staff/confirm.html", {"confirm": confirmation})


def refusal_lines(application, *, counted_as: str) -> list[Line]:
    """What one more refusal of this person does (R-OFF-4: it counts; R-OFF-5: at the limit the
    application is removed and the person barred), from the selector that counts refusals."""
    params = policy_in_force().parameters
    before = refusals_of_person(application, params=params)
    lines = [
        Line(
            _(
                "%(what)s counts as a refusal. It will be refusal %(after)s of %(limit)s allowed in "
                "%(days)s days (now %(before)s)."
            )
            % {
                "what": counted_as,
                "after": before + 1,
                "limit": params.refusal_limit,
                "days": params.refusal_window_days,
                "before": before,
            }
        )
    ]
    if params.refusal_limit_reached(before + 1):
        lines.append(
            Line(
                _(
                    "This reaches the limit: the application will be removed from every queue and the "
                    "person cannot apply again for %(days)s days."
                )
                % {"days": params.bar_days},
                strong=True,
            )
        )
    return lines
