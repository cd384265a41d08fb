"""Permission targets over HTTP (v1 and v2) and what they allow: one permission model for
API users, groups and ``--user`` users, scoped to repositories and paths."""

from __future__ import annotations

import json

import pytest
import requests
from emulator_support import REPO, errors_of

V1 = "/api/security/permissions"
V2 = "/api/v2/security/permissions"
READER = ("rita", "rita-Pa55")


@pytest.fixture
def rita(session, base):
    """An API user with no permission of its own, and a second local repository."""
    body = {"email": "rita@example.com", "password": READER[1]}
    assert session.put(f"{base}/api/security/users/rita", json=body).status_code == 201
    assert session.put(f"{base}/api/repositories/other-local", json={}).status_code == 200
    session.put(f"{base}/{REPO}/pub/a.txt", data=b"a")
    session.put(f"{base}/{REPO}/secret/b.txt", data=b"b")
    session.put(f"{base}/other-local/c.txt", data=b"c")
    return READER


def _target(session, base, name, body):
    resp = session.put(f"{base}{V1}/{name}", json={"name": name, **body})
    assert resp.status_code == 201, resp.text
    return resp


def test_a_user_with_read_only_access_gets_the_real_403s(session, base, rita):
    """Read through a v1 target: reading works, deploying, overwriting and deleting get
    the messages a real server sends, and other repositories stay closed."""
    _target(session, base, "ro", {"repositories": [REPO], "principals": {"users": {"rita": ["r"]}}})
    assert requests.get(f"{base}/{REPO}/pub/a.txt", auth=rita).content == b"a"
    assert requests.get(f"{base}/api/storage/{REPO}/pub/a.txt", auth=rita).status_code == 200
    resp = requests.put(f"{base}/{REPO}/pub/new.txt", data=b"n", auth=rita)
    assert errors_of(resp) == (
        403,
        f"The user: 'rita' is not permitted to deploy 'pub/new.txt' into '{REPO}:pub/new.txt'.",
    )
    resp = requests.delete(f"{base}/{REPO}/pub/a.txt", auth=rita)
    assert errors_of(resp) == (
        403,
        f"Not enough permissions to delete/overwrite artifact '{REPO}:pub/a.txt' "
        "(user: 'rita' needs DELETE permission).",
    )
    resp = requests.get(f"{base}/other-local/c.txt", auth=rita)
    assert errors_of(resp) == (
        403,
        "Request for 'other-local:c.txt' is forbidden for user: 'rita'.",
    )
    assert requests.get(f"{base}/{REPO}/pub/a.txt", auth=rita).status_code == 200


def test_patterns_scope_a_target_to_paths(session, base, rita):
    """Include/exclude patterns decide which paths a grant reaches; listings and searches
    hold only what the caller may read."""
    _target(
        session,
        base,
        "pub-only",
        {
            "includesPattern": "pub/**",
            "excludesPattern": "**/*.tmp",
            "repositories": [REPO],
            "principals": {"users": {"rita": ["r", "w"]}},
        },
    )
    assert requests.get(f"{base}/{REPO}/secret/b.txt", auth=rita).status_code == 403
    assert requests.put(f"{base}/{REPO}/pub/x.txt", data=b"x", auth=rita).status_code == 201
    assert requests.put(f"{base}/{REPO}/pub/x.tmp", data=b"x", auth=rita).status_code == 403
    assert requests.put(f"{base}/{REPO}/top.txt", data=b"x", auth=rita).status_code == 403
    root = requests.get(f"{base}/api/storage/{REPO}", auth=rita).json()
    assert [c["uri"] for c in root["children"]] == ["/pub"]
    listing = requests.get(f"{base}/api/storage/{REPO}?list&deep=1", auth=rita).json()
    assert sorted(f["uri"] for f in listing["files"]) == ["/pub/a.txt", "/pub/x.txt"]
    aql = f"items.find({json.dumps({'repo': REPO})})"
    found = requests.post(f"{base}/api/search/aql", data=aql, auth=rita).json()["results"]
    assert {r["path"] for r in found} == {"pub"}


def test_a_group_grants_its_members(session, base, rita):
    session.put(f"{base}/api/security/groups/writers", json={})
    _target(
        session,
        base,
        "w",
        {"repositories": ["ANY"], "principals": {"groups": {"writers": ["r", "w"]}}},
    )
    assert requests.put(f"{base}/other-local/g.txt", data=b"g", auth=rita).status_code == 403
    session.post(f"{base}/api/security/groups/writers", json={"userNames": ["rita"]})
    assert requests.put(f"{base}/other-local/g.txt", data=b"g", auth=rita).status_code == 201


def test_a_command_line_user_gains_what_a_target_grants(session, base):
    """``--user reader:readpw:read`` is in the same model: a target adds to its flag's
    permissions."""
    resp = requests.put(f"{base}/{REPO}/r.txt", data=b"r", auth=("reader", "readpw"))
    assert resp.status_code == 403
    _target(
        session,
        base,
        "reader-deploys",
        {"repositories": [REPO], "principals": {"users": {"reader": ["w"]}}},
    )
    resp = requests.put(f"{base}/{REPO}/r.txt", data=b"r", auth=("reader", "readpw"))
    assert resp.status_code == 201


def test_a_users_access_token_carries_its_permissions(session, base, rita):
    _target(session, base, "ro", {"repositories": [REPO], "principals": {"users": {"rita": ["r"]}}})
    token = session.post(
        f"{base.rsplit('/artifactory', 1)[0]}/access/api/v1/tokens", data={"username": "rita"}
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base}/{REPO}/pub/a.txt", headers=bearer).status_code == 200
    assert requests.put(f"{base}/{REPO}/pub/t.txt", data=b"t", headers=bearer).status_code == 403


def test_v1_answers_letters_in_the_order_given(session, base, rita):
    body = {
        "repositories": [REPO],
        "principals": {"users": {"rita": ["w", "n", "r"]}, "groups": {}},
    }
    _target(session, base, "letters", body)
    got = session.get(f"{base}{V1}/letters")
    assert got.headers["Content-Type"].endswith("security.PermissionTarget+json")
    assert got.json() == {
        "name": "letters",
        "includesPattern": "**",
        "excludesPattern": "",
        "repositories": [REPO],
        "principals": {"users": {"rita": ["w", "n", "r"]}, "groups": {}},
    }
    assert {"name": "letters", "uri": f"{base}{V1}/letters"} in session.get(f"{base}{V1}").json()


def test_v2_reads_back_as_jfrog_client_go_expects_of_a_real_server(session, base):
    # jfrog-client-go's permission target test, run against a real Artifactory, compares
    # the GET with what it sent plus defaults: patterns in the build section too, and
    # no empty ``users``/``groups`` map (Go would read ``{}`` as a non-nil map).
    sent = {
        "name": "gotarget",
        "repo": {
            "repositories": ["ANY"],
            "exclude-patterns": ["dir/*"],
            "actions": {"users": {"anonymous": ["read"]}},
        },
        "build": {
            "repositories": ["artifactory-build-info"],
            "actions": {"users": {"anonymous": ["annotate"]}},
        },
    }
    assert session.post(f"{base}{V2}/gotarget", json=sent).status_code in (200, 201)
    got = session.get(f"{base}{V2}/gotarget").json()
    assert got == {
        "name": "gotarget",
        "repo": {
            "include-patterns": ["**"],
            "exclude-patterns": ["dir/*"],
            "repositories": ["ANY"],
            "actions": {"users": {"anonymous": ["read"]}},
        },
        "build": {
            "include-patterns": ["**"],
            "exclude-patterns": [],
            "repositories": ["artifactory-build-info"],
            "actions": {"users": {"anonymous": ["annotate"]}},
        },
    }
    sent["repo"] = {**sent["repo"], "repositories": ["ANY REMOTE"], "actions": {}}
    assert session.put(f"{base}{V2}/gotarget", json=sent).status_code == 200
    repo = session.get(f"{base}{V2}/gotarget").json()["repo"]
    assert repo["actions"] == {} and repo["repositories"] == ["ANY REMOTE"]
    assert session.delete(f"{base}{V2}/gotarget").status_code == 200


def test_v1_and_v2_address_the_same_target(session, base, rita):
    _target(
        session,
        base,
        "both",
        {"repositories": [REPO], "principals": {"users": {"rita": ["r", "m"]}}},
    )
    v2 = session.get(f"{base}{V2}/both").json()
    assert v2 == {
        "name": "both",
        "repo": {
            "include-patterns": ["**"],
            "exclude-patterns": [],
            "repositories": [REPO],
            "actions": {"users": {"rita": ["read", "manage"]}},
        },
    }
    v2["repo"]["actions"]["users"]["rita"] = ["read", "write"]
    assert session.put(f"{base}{V2}/both", json=v2).status_code == 200
    assert session.get(f"{base}{V1}/both").json()["principals"]["users"]["rita"] == ["r", "w"]
    assert session.head(f"{base}{V2}/both").status_code == 200
    assert session.head(f"{base}{V2}/nothing").status_code == 404


def test_v2_creates_with_post_and_refuses_what_a_real_server_refuses(session, base, rita):
    good = {
        "name": "t2",
        "repo": {"repositories": [REPO], "actions": {"users": {"rita": ["read"]}}},
    }
    assert session.post(f"{base}{V2}/t2", json=good).status_code == 201
    assert errors_of(session.post(f"{base}{V2}/t2", json=good)) == (
        409,
        "Can't create permission target 't2' for type repo. It already exists.",
    )
    cases = [
        ({**good, "name": "other"}, 409, "does not match the permission name"),
        ({"name": "t3"}, 400, "Must have at least one."),
        ({"name": "t3", "repo": {"actions": {}}}, 400, "missing repositories."),
        (
            {"name": "t3", "repo": {"repositories": ["nope"]}},
            400,
            "non-existing repository 'nope'.",
        ),
        (
            {"name": "t3", "repo": {"repositories": [], "actions": {"users": {"zed": ["read"]}}}},
            400,
            "non-existing user 'zed'.",
        ),
        (
            {"name": "t3", "repo": {"repositories": [], "actions": {"groups": {"gg": ["read"]}}}},
            400,
            "non-existing group 'gg'.",
        ),
        (
            {"name": "t3", "repo": {"repositories": [], "actions": {"users": {"admin": ["read"]}}}},
            400,
            "The user: 'admin' has admin privileges, and cannot be added to a Permission Target.",
        ),
        (
            {"name": "t3", "repo": {"repositories": [], "actions": {"users": {"rita": ["fly"]}}}},
            400,
            "Unknown permission 'fly'",
        ),
    ]
    for body, status, message in cases:
        resp = session.post(f"{base}{V2}/t3", json=body)
        got_status, got_message = errors_of(resp)
        assert got_status == status and message in got_message, (body, resp.text)
    assert errors_of(session.delete(f"{base}{V2}/t3")) == (404, "No such permission target 't3'")
    assert session.delete(f"{base}{V2}/t2").status_code == 200


def test_deleting_a_repository_or_user_leaves_the_targets_that_named_them(session, base, rita):
    _target(
        session,
        base,
        "both",
        {"repositories": [REPO, "other-local"], "principals": {"users": {"rita": ["r"]}}},
    )
    assert session.delete(f"{base}/api/repositories/other-local").status_code == 200
    assert session.get(f"{base}{V1}/both").json()["repositories"] == [REPO]
    assert session.delete(f"{base}/api/security/users/rita").status_code == 200
    assert session.get(f"{base}{V1}/both").json()["principals"]["users"] == {}


def test_a_user_with_manage_may_read_the_target(session, base, rita):
    _target(
        session, base, "mine", {"repositories": [REPO], "principals": {"users": {"rita": ["m"]}}}
    )
    assert requests.get(f"{base}{V2}/mine", auth=rita).status_code == 200
    assert requests.get(f"{base}{V1}/mine", auth=rita).status_code == 200
    assert requests.get(f"{base}{V1}/mine", auth=("reader", "readpw")).status_code == 403
    assert requests.put(f"{base}{V1}/mine", json={"repositories": []}, auth=rita).status_code == 403


def test_targets_persist_in_snapshots(fake_artifactory, session, base, rita, make_server):
    _target(session, base, "ro", {"repositories": [REPO], "principals": {"users": {"rita": ["r"]}}})
    snapshot = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    other = make_server()
    assert requests.post(f"{other.root_url}/_fake/snapshot", data=snapshot).status_code == 200
    assert requests.get(f"{other.url}/{REPO}/pub/a.txt", auth=rita).content == b"a"
    assert requests.put(f"{other.url}/{REPO}/pub/n", data=b"", auth=rita).status_code == 403
