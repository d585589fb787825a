"""Double-submit protection (issue 4): the first submission of a form token wins."""

import pytest
from django.test import RequestFactory

from tests.factories import UserFactory
from web.formtokens import form_token_claim, form_token_done, form_token_issue, form_token_release

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def test_the_second_submission_of_a_token_is_sent_where_the_first_went():
    request = request_for(UserFactory())
    token = form_token_issue()
    assert form_token_claim(request, token) is None
    assert form_token_claim(request, token) == ""  # still being processed
    form_token_done(token, "/staff/applications/2026-000001/")
    assert form_token_claim(request, token) == "/staff/applications/2026-000001/"


def test_a_refused_submission_releases_its_token_for_the_corrected_form():
    request = request_for(UserFactory())
    token = form_token_issue()
    assert form_token_claim(request, token) is None
    form_token_release(token)
    assert form_token_claim(request, token) is None


def test_a_form_without_a_token_is_not_blocked():
    assert form_token_claim(request_for(UserFactory()), None) is None
