"""Access tokens (``/access/api/v1/tokens``) and conditional GET, over real HTTP."""

from __future__ import annotations

import base64
import sqlite3
import time

import requests
from emulator_support import REPO, errors_of

from fake_artifactory.testing import start_process

ADMIN = ("admin", "password")


def _access(fake_artifactory) -> str:
    return f"{fake_artifactory.root_url}/access/api/v1/tokens"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_created_token_has_the_access_shape_and_works_everywhere(fake_artifactory, repo_url):
    resp = requests.post(
        _access(fake_artifactory),
        data={"username": "admin", "scope": "applied-permissions/admin", "expires_in": "0"},
        auth=fake_artifactory.auth,
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert set(body) == {"token_id", "access_token", "scope", "token_type"}  # 0 = never
    assert body["token_type"] == "Bearer" and body["scope"] == "applied-permissions/admin"
    token = body["access_token"]
    assert token.count(".") == 2 and token not in repr(fake_artifactory.state())
    assert (
        requests.put(f"{repo_url}/tok/a.txt", data=b"a", headers=_bearer(token)).status_code == 201
    )
    assert requests.get(f"{repo_url}/tok/a.txt", auth=("anyone", token)).content == b"a"
    assert (
        requests.get(f"{repo_url}/tok/a.txt", headers={"X-JFrog-Art-Api": token}).status_code == 200
    )


def test_json_body_expiry_and_user_scope(fake_artifactory, repo_url):
    resp = requests.post(
        _access(fake_artifactory),
        json={"username": "reader", "expires_in": 3600},
        auth=fake_artifactory.auth,
    )
    body = resp.json()
    assert body["expires_in"] == 3600 and body["scope"] == "applied-permissions/user"
    token = body["access_token"]
    # the token acts as "reader": may read, may not deploy
    assert requests.get(f"{repo_url}/", headers=_bearer(token)).status_code == 200
    resp = requests.put(f"{repo_url}/nope.txt", data=b"x", headers=_bearer(token))
    assert resp.status_code == 403


def test_json_request_without_a_body_gets_a_default_token_for_the_caller(
    fake_artifactory, repo_url
):
    # How JFrog's mlflow plugin's CI gets its token from a real Artifactory: Basic
    # admin:password, Content-Type JSON, no body; anything but 200 fails its setup.
    resp = requests.post(
        _access(fake_artifactory),
        headers={"Content-Type": "application/json"},
        auth=fake_artifactory.auth,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["scope"] == "applied-permissions/user" and body["expires_in"] == 31536000
    put = requests.put(f"{repo_url}/tok/d.txt", data=b"d", headers=_bearer(body["access_token"]))
    assert put.status_code == 201


def test_a_refresh_is_refused_as_not_implemented(fake_artifactory):
    # A new token in answer to a refresh would be a silent success; 501 says why.
    params = {"grant_type": "refresh_token", "refresh_token": "made-up"}
    resp = requests.post(_access(fake_artifactory), json=params, auth=fake_artifactory.auth)
    assert resp.status_code == 501
    (error,) = resp.json()["errors"]
    assert error["code"] == "NOT_IMPLEMENTED" and "refresh tokens" in error["message"]


def test_a_reference_token_stands_in_for_its_token_until_revoked(
    fake_artifactory, repo_url, tmp_path
):
    # jfrog-client-go's token tests, against a real server: a reference token comes back
    # when asked for, and only then.
    url = _access(fake_artifactory)
    plain = requests.post(url, json={"expires_in": 600}, auth=fake_artifactory.auth).json()
    assert "reference_token" not in plain
    body = requests.post(
        url, json={"include_reference_token": True}, auth=fake_artifactory.auth
    ).json()
    reference = body["reference_token"]
    assert reference and reference != body["access_token"] and "." not in reference
    assert reference not in repr(fake_artifactory.state())
    put = requests.put(f"{repo_url}/ref/r.txt", data=b"r", headers=_bearer(reference))
    assert put.status_code == 201
    assert requests.get(f"{repo_url}/ref/r.txt", auth=("anyone", reference)).content == b"r"
    form = requests.post(url, data={"include_reference_token": "true"}, auth=fake_artifactory.auth)
    assert form.json()["reference_token"]
    revoked = requests.delete(f"{url}/{body['token_id']}", auth=fake_artifactory.auth)
    assert revoked.status_code == 200
    after = requests.get(f"{repo_url}/ref/r.txt", headers=_bearer(reference))
    assert after.status_code == 401


def test_expired_token_is_bad_credentials(fake_artifactory, repo_url):
    body = requests.post(
        _access(fake_artifactory), data={"expires_in": "1"}, auth=fake_artifactory.auth
    ).json()
    token = body["access_token"]
    deadline = time.monotonic() + 30
    status = 200
    while time.monotonic() < deadline:
        status = requests.get(f"{repo_url}/", headers=_bearer(token)).status_code
        if status == 401:
            break
        time.sleep(0.25)
    resp = requests.get(f"{repo_url}/", headers=_bearer(token))
    assert errors_of(resp) == (401, "Bad credentials")
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'


def test_revocation_by_id_and_by_token(fake_artifactory, repo_url):
    url = _access(fake_artifactory)
    first = requests.post(url, data={"expires_in": "0"}, auth=fake_artifactory.auth).json()
    second = requests.post(url, data={"expires_in": "0"}, auth=fake_artifactory.auth).json()
    listed = requests.get(url, auth=fake_artifactory.auth).json()["tokens"]
    assert {first["token_id"], second["token_id"]} <= {t["token_id"] for t in listed}
    assert all("access_token" not in t for t in listed)
    resp = requests.delete(f"{url}/{first['token_id']}", auth=fake_artifactory.auth)
    assert resp.status_code == 200
    resp = requests.post(
        f"{url}/revoke", data={"token": second["access_token"]}, auth=fake_artifactory.auth
    )
    assert resp.status_code == 200
    for token in (first["access_token"], second["access_token"]):
        resp = requests.get(f"{repo_url}/", headers=_bearer(token))
        assert errors_of(resp) == (401, "Bad credentials")
        assert requests.get(f"{repo_url}/", auth=("admin", token)).status_code == 401
    assert (
        requests.delete(f"{url}/{first['token_id']}", auth=fake_artifactory.auth).status_code == 404
    )


def test_token_api_needs_credentials_and_admin_for_others(fake_artifactory):
    url = _access(fake_artifactory)
    assert requests.post(url, data={"username": "x"}).status_code == 401
    resp = requests.post(url, data={"username": "admin"}, auth=("reader", "readpw"))
    assert resp.status_code == 403 and resp.json()["errors"][0]["code"] == "FORBIDDEN"
    own = requests.post(url, data={}, auth=("reader", "readpw"))
    assert own.status_code == 200


def test_tokens_survive_a_restart_with_data_dir(tmp_path):
    data = tmp_path / "data"
    with start_process(data_dir=data) as proc:
        resp = requests.post(
            proc.root_url + "/access/api/v1/tokens",
            data={
                "expires_in": "0",
                "scope": "applied-permissions/admin",
                "include_reference_token": "true",
            },
            auth=("admin", "password"),
        )
        token, reference = resp.json()["access_token"], resp.json()["reference_token"]
        proc.stop()
    with start_process(data_dir=data) as proc:
        for secret in (token, reference):
            resp = requests.get(f"{proc.url}/api/repositories", headers=_bearer(secret))
            assert resp.status_code == 200
    stored = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file()).decode("latin-1")
    assert token not in stored and reference not in stored


def test_tokens_of_a_data_dir_from_before_reference_tokens_still_work(tmp_path):
    data = tmp_path / "data"
    with start_process(data_dir=data) as proc:
        resp = requests.post(
            proc.root_url + "/access/api/v1/tokens", data={"expires_in": "0"}, auth=ADMIN
        )
        token = resp.json()["access_token"]
        proc.stop()
    with sqlite3.connect(data / "meta.sqlite3") as db:  # as an older emulator left it
        db.execute("ALTER TABLE tokens DROP COLUMN reference_digest")
    with start_process(data_dir=data) as proc:
        resp = requests.get(f"{proc.url}/api/repositories", headers=_bearer(token))
        assert resp.status_code == 200


# -- conditional GET ---------------------------------------------------------------------


def test_if_none_match_and_if_modified_since_give_304(session, repo_url):
    put = session.put(f"{repo_url}/cond/x.bin", data=b"conditional")
    assert put.status_code == 201
    first = session.get(f"{repo_url}/cond/x.bin")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"{etag}"'},
        {"If-None-Match": f'"other", "{etag}"'},
        {"If-Modified-Since": modified},
        {"If-Modified-Since": "Fri, 31 Dec 2200 23:59:59 GMT"},
    ):
        resp = session.get(f"{repo_url}/cond/x.bin", headers=headers)
        assert resp.status_code == 304, headers
        assert resp.content == b"" and resp.headers["ETag"] == etag
        assert resp.headers["X-Checksum-Sha1"] == etag  # (werkzeug drops Last-Modified on 304)
    for headers in (
        {"If-None-Match": "0" * 40},
        {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
        # If-None-Match takes precedence over If-Modified-Since
        {"If-None-Match": "0" * 40, "If-Modified-Since": modified},
    ):
        resp = session.get(f"{repo_url}/cond/x.bin", headers=headers)
        assert resp.status_code == 200 and resp.content == b"conditional", headers


def test_basic_header_is_never_logged_in_token_errors(fake_artifactory):
    secret = base64.b64encode(b"admin:wrong-secret").decode()
    resp = requests.post(
        _access(fake_artifactory), headers={"Authorization": f"Basic {secret}"}, data={}
    )
    assert resp.status_code == 401 and "wrong-secret" not in resp.text
    assert REPO


def test_junk_token_requests_are_400(fake_artifactory):
    url = _access(fake_artifactory)
    for body in (b"[" * 5000 + b"]" * 5000, b"{", b"[]", b'{"username": 5}'):
        resp = requests.post(
            url, data=body, headers={"Content-Type": "application/json"}, auth=fake_artifactory.auth
        )
        assert resp.status_code == 400, body[:20]
    for expiry in ("-1", "soon", str(10**400)):
        resp = requests.post(url, data={"expires_in": expiry}, auth=fake_artifactory.auth)
        assert resp.status_code == 400, expiry
