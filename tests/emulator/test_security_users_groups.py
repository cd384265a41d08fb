"""Users and groups of the security API over HTTP: shapes, passwords, membership, who may
call them, persistence and snapshots."""

from __future__ import annotations

import sqlite3

import pytest
import requests
from emulator_support import REPO, errors_of

from fake_artifactory.config import UserSpec

USERS = "/api/security/users"
GROUPS = "/api/security/groups"


def _user(session, base, name, **fields):
    body = {"email": f"{name}@example.com", "password": f"{name}-Pa55", **fields}
    return session.put(f"{base}{USERS}/{name}", json=body)


def test_a_created_user_reads_back_without_its_password(session, base):
    """PUT creates (201, no body); GET answers the model's fields, never a password or
    its hash, and no ``groups`` key for a user in none."""
    resp = _user(session, base, "alice", profileUpdatable=False)
    assert resp.status_code == 201 and resp.content == b""
    got = session.get(f"{base}{USERS}/alice")
    assert got.headers["Content-Type"] == "application/vnd.org.jfrog.artifactory.security.User+json"
    body = got.json()
    assert body["name"] == "alice" and body["email"] == "alice@example.com"
    assert body["admin"] is False and body["profileUpdatable"] is False
    assert body["realm"] == "internal" and "groups" not in body
    # jfrog-client-go compares the whole user read back from a real server, this included.
    assert body["shouldInvite"] is False
    listing = session.get(f"{base}{USERS}")
    assert {"name": "alice", "uri": f"{base}{USERS}/alice", "realm": "internal"} in listing.json()
    for text in (got.text, listing.text):
        assert "alice-Pa55" not in text and "password" not in text and "scrypt" not in text


def test_the_configured_users_are_listed(session, base):
    """``--user`` users are users like any other: listed, with their admin flag."""
    names = {u["name"] for u in session.get(f"{base}{USERS}").json()}
    assert {"admin", "reader", "deployer"} <= names
    assert session.get(f"{base}{USERS}/admin").json()["admin"] is True
    assert session.get(f"{base}{USERS}/reader").json()["admin"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"password": "x"}, "Email is required"),
        ({"email": "a@b.c"}, "Password is required"),
        ({"email": "a@b.c", "password": "x", "admin": "yes"}, "'admin' must be true or false"),
        ({"email": "a@b.c", "password": "x", "groups": ["nope"]}, "Group 'nope' does not exist"),
        ([], "The request body must be a JSON object"),
    ],
)
def test_a_user_that_cannot_be_created_is_refused(session, base, body, message):
    resp = session.put(f"{base}{USERS}/bob", json=body)
    assert errors_of(resp) == (400, message)
    assert session.get(f"{base}{USERS}/bob").status_code == 404


def test_an_api_user_authenticates_with_its_password_until_it_changes(session, base):
    """A user created through the API logs in; after a password change only the new
    password (or the new encrypted password) works."""
    _user(session, base, "carol", password="old-Pa55")
    me = f"{base}/api/security/encryptedPassword"
    old = requests.get(me, auth=("carol", "old-Pa55"))
    assert old.status_code == 200 and old.headers["Content-Type"].startswith("text/plain")
    assert requests.get(me, auth=("carol", old.text)).status_code == 200
    assert session.post(f"{base}{USERS}/carol", json={"password": "new-Pa55"}).status_code == 200
    assert errors_of(requests.get(me, auth=("carol", "old-Pa55"))) == (401, "Bad credentials")
    assert requests.get(me, auth=("carol", old.text)).status_code == 401
    new = requests.get(me, auth=("carol", "new-Pa55"))
    assert new.status_code == 200 and new.text != old.text
    # An update leaves what it does not send alone.
    assert session.get(f"{base}{USERS}/carol").json()["email"] == "carol@example.com"


def test_a_configured_user_keeps_its_command_line_password_and_admin_flag(session, base):
    resp = session.post(f"{base}{USERS}/reader", json={"password": "other"})
    assert errors_of(resp) == (
        400,
        "The password of user 'reader' is set on the emulator's command line (--user)",
    )
    resp = session.post(f"{base}{USERS}/reader", json={"admin": True})
    assert errors_of(resp)[0] == 400
    assert session.post(f"{base}{USERS}/reader", json={"email": "r@x.y"}).status_code == 200
    assert session.get(f"{base}{USERS}/reader").json()["email"] == "r@x.y"
    resp = session.delete(f"{base}{USERS}/reader")
    assert errors_of(resp) == (
        400,
        "User 'reader' is configured on the emulator's command line (--user)",
    )


def test_deleting_a_user(session, base):
    _user(session, base, "dave")
    resp = session.delete(f"{base}{USERS}/dave")
    assert resp.status_code == 200 and resp.text == "User 'dave' has been removed successfully."
    assert errors_of(session.get(f"{base}{USERS}/dave")) == (404, "User 'dave' does not exist")
    assert session.delete(f"{base}{USERS}/dave").status_code == 404
    assert session.post(f"{base}{USERS}/dave", json={"email": "x@y.z"}).status_code == 404


def test_only_an_admin_uses_the_security_api(fake_artifactory, base):
    assert errors_of(requests.get(f"{base}{USERS}", auth=("reader", "readpw"))) == (
        403,
        "Forbidden",
    )
    assert requests.put(f"{base}{GROUPS}/g", json={}, auth=("reader", "readpw")).status_code == 403
    assert requests.get(f"{base}{USERS}").status_code == 401


def test_the_oss_edition_has_no_security_api(make_server):
    server = make_server(edition="oss")
    resp = requests.get(f"{server.url}{USERS}", auth=("admin", "password"))
    assert errors_of(resp)[0] == 400 and "Artifactory Pro" in errors_of(resp)[1]


def test_a_group_lists_its_members_only_when_asked(session, base):
    """``userNames`` is applied on update (POST), ignored on create (PUT), and answered
    only with ``?includeUsers=true``; a member's ``groups`` names the group."""
    _user(session, base, "erin")
    resp = session.put(f"{base}{GROUPS}/team", json={"description": "d", "userNames": ["erin"]})
    assert resp.status_code == 201
    plain = session.get(f"{base}{GROUPS}/team").json()
    assert plain["name"] == "team" and plain["description"] == "d" and "userNames" not in plain
    assert plain["autoJoin"] is False and plain["adminPrivileges"] is False
    assert session.get(f"{base}{GROUPS}/team?includeUsers=true").json()["userNames"] == []
    resp = session.post(f"{base}{GROUPS}/team", json={"userNames": ["erin", "admin"]})
    assert resp.status_code == 200
    members = session.get(f"{base}{GROUPS}/team?includeUsers=true").json()["userNames"]
    assert members == ["admin", "erin"]
    assert session.get(f"{base}{USERS}/erin").json()["groups"] == ["team"]
    assert {"name": "team", "uri": f"{base}{GROUPS}/team"} in session.get(f"{base}{GROUPS}").json()
    resp = session.delete(f"{base}{GROUPS}/team")
    assert resp.text == "Group 'team' has been removed successfully."
    assert "groups" not in session.get(f"{base}{USERS}/erin").json()
    assert session.get(f"{base}{GROUPS}/team").status_code == 404


def test_a_group_with_admin_privileges_makes_its_members_admins(session, base):
    _user(session, base, "frank")
    session.put(f"{base}{GROUPS}/admins", json={"adminPrivileges": True})
    assert requests.get(f"{base}{USERS}", auth=("frank", "frank-Pa55")).status_code == 403
    session.post(f"{base}{GROUPS}/admins", json={"userNames": ["frank"]})
    assert requests.get(f"{base}{USERS}", auth=("frank", "frank-Pa55")).status_code == 200


def test_users_groups_and_hashes_persist_in_the_data_dir(make_server, tmp_path):
    """A user created through the API survives a restart and still logs in; the data dir
    holds a salted hash, never the password."""
    data = tmp_path / "data"
    first = make_server(data_dir=data)
    admin = ("admin", "password")
    body = {"email": "g@x.y", "password": "pers1st-Pa55", "groups": []}
    requests.put(f"{first.url}{GROUPS}/keep", json={}, auth=admin)
    assert requests.put(f"{first.url}{USERS}/gina", json=body, auth=admin).status_code == 201
    requests.post(f"{first.url}{GROUPS}/keep", json={"userNames": ["gina"]}, auth=admin)
    first.stop()
    raw = (data / "meta.sqlite3").read_bytes() + b"".join(
        p.read_bytes() for p in data.glob("meta.sqlite3*") if p.is_file()
    )
    assert b"pers1st-Pa55" not in raw
    with sqlite3.connect(data / "meta.sqlite3") as db:
        (doc,) = db.execute("SELECT doc FROM security WHERE name = 'gina'").fetchone()
    assert '"salted_hash": "scrypt$' in doc
    second = make_server(data_dir=data)
    me = requests.get(f"{second.url}/api/security/encryptedPassword", auth=("gina", "pers1st-Pa55"))
    assert me.status_code == 200
    assert requests.get(f"{second.url}{USERS}/gina", auth=admin).json()["groups"] == ["keep"]


def test_users_travel_in_snapshots_as_hashes(fake_artifactory, session, base, make_server):
    """A snapshot holds users with salted hashes; imported elsewhere, they log in."""
    _user(session, base, "hank", password="snap-Pa55")
    session.put(f"{base}/{REPO}/f.txt", data=b"x")
    snapshot = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    assert b"snap-Pa55" not in snapshot
    other = make_server()
    root = other.root_url
    assert requests.post(f"{root}/_fake/snapshot", data=snapshot).status_code == 200
    me = requests.get(f"{other.url}/api/security/encryptedPassword", auth=("hank", "snap-Pa55"))
    assert me.status_code == 200
    assert requests.get(f"{other.url}/{REPO}/f.txt", auth=("admin", "password")).content == b"x"


def test_a_reset_forgets_api_users_and_keeps_configured_ones(fake_artifactory, session, base):
    _user(session, base, "ivan")
    fake_artifactory.reset()
    names = {u["name"] for u in session.get(f"{base}{USERS}").json()}
    assert "ivan" not in names and "admin" in names


def test_user_names_in_urls_are_decoded_with_plus_as_space(session, base):
    assert _user(session, base, "j%20doe").status_code == 201
    assert session.get(f"{base}{USERS}/j+doe").json()["name"] == "j doe"


def test_a_password_never_reaches_the_journal_or_the_state(fake_artifactory, session, base):
    _user(session, base, "kim", password="j0urnal-Pa55")
    requests.get(f"{base}/api/security/encryptedPassword", auth=("kim", "j0urnal-Pa55"))
    root = fake_artifactory.root_url
    for path in ("/_fake/requests", "/_fake/state", "/_fake/health"):
        assert "j0urnal-Pa55" not in requests.get(f"{root}{path}").text


def test_an_imported_snapshot_never_makes_an_admin(fake_artifactory, session, base, make_server):
    """Users and groups that come in with a snapshot keep their passwords and memberships,
    but no user is an admin and no group has admin privileges; the configured users stay
    as the command line says, and another emulator's ones are left out."""
    _user(session, base, "eve", password="ev3-Pa55", admin=True)
    session.put(f"{base}{GROUPS}/root", json={"adminPrivileges": True})
    session.post(f"{base}{GROUPS}/root", json={"userNames": ["eve"]})
    snapshot = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    other = make_server(users=(UserSpec("admin", "other-pw"),))
    assert requests.post(f"{other.root_url}/_fake/snapshot", data=snapshot).status_code == 200
    admin = ("admin", "other-pw")
    eve = requests.get(f"{other.url}{USERS}/eve", auth=admin).json()
    assert eve["admin"] is False and eve["groups"] == ["root"]
    assert requests.get(f"{other.url}{GROUPS}/root", auth=admin).json()["adminPrivileges"] is False
    assert requests.get(f"{other.url}{USERS}", auth=("eve", "ev3-Pa55")).status_code == 403
    names = {u["name"] for u in requests.get(f"{other.url}{USERS}", auth=admin).json()}
    assert names == {"admin", "eve"}  # the exporter's reader and deployer are not ours
    assert requests.get(f"{other.url}{USERS}/admin", auth=admin).json()["admin"] is True
