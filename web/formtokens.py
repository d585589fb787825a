"""Double-submit protection for staff forms (issue 4: a double click never creates two records).

A form carries a random one-time token. The first POST with it claims it by inserting a row with a
unique token; a second POST with the same token (the double click, a browser retry) fails that
insert and is sent where the first one went instead of doing the work again. The database's
unique constraint decides, so two requests arriving together cannot both win.

    token = form_token_issue()                            # when rendering the form
    earlier = form_token_claim(request, token)            # on POST, before calling the service
    if earlier is not None: return redirect(earlier or request.path)
    ... call the service; on a refusal: form_token_release(token) and show the errors ...
    form_token_done(token, url_of_the_result)             # after it succeeded
"""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from admissions.models import FormSubmission


def form_token_issue() -> str:
    return secrets.token_urlsafe(16)


def form_token_claim(request, token: str | None) -> str | None:
    """None: go ahead (claimed now). A string: this token was used — the URL of what the first
    submission produced ("" while it is still being processed)."""
    if not token or len(token) > 64:
        return None  # an old page without a token: the service's own checks still apply
    try:
        with transaction.atomic():
            FormSubmission.objects.create(token=token, user=request.user if request.user.is_authenticated else None)
    except IntegrityError:
        earlier = FormSubmission.objects.filter(token=token).values_list("result_url", flat=True).first()
        return earlier or ""
    return None


def form_token_done(token: str | None, result_url: str) -> None:
    if token:
        FormSubmission.objects.filter(token=token).update(result_url=result_url)


def form_token_release(token: str | None) -> None:
    """The submission was refused (a form error): the corrected form may use the token again."""
    if token:
        FormSubmission.objects.filter(token=token, result_url="").delete()
