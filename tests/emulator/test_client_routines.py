"""Calls JFrog's own clients make routinely, over real HTTP: the usage report JFrog CLI,
build-info and the Terraform providers send (``POST /api/system/usage``)."""

from __future__ import annotations

import requests

#: The shape JFrog's Go client sends (its own test fixture's fields).
USAGE = {
    "productId": "jfrog-cli-go/2.52.0",
    "features": [
        {"featureId": "rt_upload", "attributes": {"buildName": "b"}, "uniqueClientId": "c1"}
    ],
}


def test_a_usage_report_is_accepted_with_202_and_journaled(fake_artifactory, base):
    fake_artifactory.clear_requests()
    resp = requests.post(f"{base}/api/system/usage", json=USAGE, auth=fake_artifactory.auth)
    assert resp.status_code == 202
    assert resp.content == b""
    posted = [e for e in fake_artifactory.requests() if e["uri"].endswith("/api/system/usage")]
    assert [e["method"] for e in posted] == ["POST"]


def test_a_usage_report_needs_credentials_like_any_rest_call(base):
    resp = requests.post(f"{base}/api/system/usage", json=USAGE)
    assert resp.status_code == 401
