"""``POST /api/search/aql`` as a protocol over real HTTP: what the resource consumes, how
long a query may be, and the wording of a parse error."""

from __future__ import annotations

import pytest
import requests
from emulator_support import REPO, errors_of

QUERY = f'items.find({{"repo":"{REPO}"}})'


def aql(base: str, data: str, headers: dict[str, str] | None = None, **kw) -> requests.Response:
    return requests.post(f"{base}/api/search/aql", data=data.encode(), headers=headers or {}, **kw)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/x-www-form-urlencoded", "text/html", "application/xml"],
)
def test_a_content_type_other_than_text_plain_is_415(fake_artifactory, base, content_type):
    resp = aql(base, QUERY, {"Content-Type": content_type}, auth=fake_artifactory.auth)
    assert errors_of(resp) == (415, "Unsupported Media Type")
    assert resp.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain; charset=utf-8"])
def test_text_plain_or_no_content_type_is_accepted(fake_artifactory, base, content_type):
    """JFrog's Go client sends AQL without a Content-Type; the plugin sends text/plain."""
    headers = {"Content-Type": content_type} if content_type else {}
    resp = aql(base, QUERY, headers, auth=fake_artifactory.auth)
    assert resp.status_code == 200, resp.text


def test_a_query_longer_than_6000_characters_is_400(fake_artifactory, base):
    padding = " " * (6000 - len(QUERY))
    assert aql(base, QUERY + padding, auth=fake_artifactory.auth).status_code == 200
    too_long = aql(base, QUERY + padding + " ", auth=fake_artifactory.auth)
    assert too_long.status_code == 400


def test_the_query_length_limit_is_a_setting(make_server):
    server = make_server(aql_max_query_chars=0)
    resp = aql(server.url, QUERY + " " * 7000, auth=("admin", "password"))
    assert resp.status_code == 200


def test_a_parse_error_names_the_query_and_the_rest_from_the_error(fake_artifactory, base):
    bad = f'items.find({{"repo":"{REPO}"}}).include("name").bogus()'
    resp = aql(base, bad, {"Content-Type": "text/plain"}, auth=fake_artifactory.auth)
    assert resp.status_code == 400
    assert resp.text == (
        f"Failed to parse query: {bad}, it looks like there is syntax error near the "
        "following sub-query: bogus()"
    )


def test_a_parse_error_asked_as_text_comes_in_the_error_envelope(fake_artifactory, base):
    bad = 'items.find({"no_such_field":1})'
    headers = {"Content-Type": "text/plain", "Accept": "text/plain"}
    resp = aql(base, bad, headers, auth=fake_artifactory.auth)
    status, message = errors_of(resp)
    assert status == 400
    assert message.startswith(f"Failed to parse query: {bad}, it looks like there is syntax")
