"""Projects of the Access API over HTTP (outside the context path, Bearer or Basic)."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def projects(fake_artifactory) -> str:
    return f"{fake_artifactory.root_url}/access/api/v1/projects"


@pytest.fixture
def bearer(fake_artifactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake_artifactory.token}"}


def _errors(resp: requests.Response) -> tuple[int, str, str]:
    (error,) = resp.json()["errors"]
    return resp.status_code, error["code"], error["message"]


def test_a_project_is_created_read_updated_and_deleted(projects, bearer):
    body = {
        "project_key": "t1k1",
        "display_name": "Team one",
        "admin_privileges": {"manage_members": True},
        "storage_quota_bytes": -1,
    }
    created = requests.post(projects, json=body, headers=bearer)
    assert created.status_code == 201
    assert created.json() == {
        "description": "",
        "storage_quota_bytes": -1,
        "soft_limit": False,
        "storage_quota_email_notification": True,
        "project_key": "t1k1",
        "display_name": "Team one",
        "admin_privileges": {
            "manage_members": True,
            "manage_resources": False,
            "manage_security_assets": False,
            "index_resources": False,
            "allow_ignore_rules": False,
        },
    }
    assert requests.get(f"{projects}/t1k1", headers=bearer).json() == created.json()
    assert [p["project_key"] for p in requests.get(projects, headers=bearer).json()] == ["t1k1"]
    updated = requests.put(f"{projects}/t1k1", json={"description": "d"}, headers=bearer)
    assert updated.status_code == 200 and updated.json()["description"] == "d"
    assert updated.json()["display_name"] == "Team one"
    assert requests.delete(f"{projects}/t1k1", headers=bearer).status_code == 204
    assert _errors(requests.get(f"{projects}/t1k1", headers=bearer)) == (
        404,
        "NOT_FOUND",
        "Project 't1k1' not found",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"display_name": "x"}, "project_key is required"),
        ({"project_key": "1abc", "display_name": "x"}, "project_key must be 2 to 32"),
        ({"project_key": "abc"}, "display_name is required"),
        ({"project_key": "abc", "display_name": "x", "soft_limit": "no"}, "soft_limit"),
        ({"project_key": "abc", "display_name": "x", "admin_privileges": {"fly": True}}, "fly"),
    ],
)
def test_an_invalid_project_is_refused(projects, bearer, body, message):
    status, code, text = _errors(requests.post(projects, json=body, headers=bearer))
    assert (status, code) == (400, "BAD_REQUEST") and message in text


def test_a_taken_key_a_missing_project_and_who_may_ask(projects, bearer):
    body = {"project_key": "abc", "display_name": "x"}
    assert requests.post(projects, json=body, headers=bearer).status_code == 201
    assert _errors(requests.post(projects, json=body, headers=bearer))[:2] == (409, "CONFLICT")
    assert requests.put(f"{projects}/zzz", json=body, headers=bearer).status_code == 404
    assert requests.delete(f"{projects}/zzz", headers=bearer).status_code == 404
    assert _errors(requests.get(projects, auth=("reader", "readpw")))[:2] == (403, "FORBIDDEN")
    assert requests.get(projects).status_code == 401
    assert requests.get(projects, auth=("admin", "password")).status_code == 200


def test_projects_travel_in_snapshots(fake_artifactory, projects, bearer, make_server):
    requests.post(projects, json={"project_key": "snap", "display_name": "S"}, headers=bearer)
    snapshot = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    other = make_server()
    assert requests.post(f"{other.root_url}/_fake/snapshot", data=snapshot).status_code == 200
    got = requests.get(f"{other.root_url}/access/api/v1/projects/snap", auth=("admin", "password"))
    assert got.json()["display_name"] == "S"


def test_project_members_groups_and_roles_answer_501_not_404(projects, bearer):
    """Not emulated, and said so: jfrog-client-go reads a 404 on a project's groups as
    "no groups", which would hide the missing feature."""
    body = {"project_key": "t3k3", "display_name": "Three"}
    assert requests.post(projects, json=body, headers=bearer).status_code == 201
    for method, path in [
        ("GET", "/t3k3/groups"),
        ("PUT", "/t3k3/groups/devs"),
        ("GET", "/t3k3/users/alice"),
        ("GET", "/t3k3/roles"),
    ]:
        resp = requests.request(method, projects + path, json={"roles": []}, headers=bearer)
        status, code, message = _errors(resp)
        assert (status, code) == (501, "NOT_IMPLEMENTED"), (method, path)
        assert (
            message == f"fake_artifactory does not implement {method} /access/api/v1/projects{path}"
        )
