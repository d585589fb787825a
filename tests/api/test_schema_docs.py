"""The API's documentation page lists every operation by a summary in plain words and opens with
how to get a token, use an Idempotency-Key and read errors (issue 15)."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        answer = Client().get("/api/schema/")
    assert answer.status_code == 200
    return yaml.safe_load(answer.content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary_in_plain_words(schema):
    summaries = {name: operation.get("summary", "") for name, operation in operations(schema)}
    assert len(summaries) >= 60
    assert [name for name, summary in summaries.items() if not summary.strip()] == []
    # Rule codes stay in the problem `type`; the line a person reads has none.
    assert {name: s for name, s in summaries.items() if re.search(r"R-[A-Z]+-\d|SPEC §", s)} == {}
    # No operation is described by a base class's docstring that says nothing about it.
    assert [name for name, s in summaries.items() if s.startswith(("JSON in and out", "Tells a caller"))] == []


def test_the_introduction_says_how_to_get_a_token_and_use_idempotency_keys(schema):
    introduction = schema["info"]["description"]
    assert "manage.py issue_token" in introduction
    assert "Authorization: Token" in introduction
    assert "Idempotency-Key" in introduction
    assert "application/problem+json" in introduction
