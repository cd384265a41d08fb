"""Authentication, permissions, anonymous access and the OSS edition over HTTP."""

from __future__ import annotations

import pytest
import requests
from emulator_support import PRO_ONLY, REPO, errors_of

CHALLENGE = 'Basic realm="Artifactory Realm"'


def test_no_credentials_is_401_authentication_required(fake_artifactory):
    resp = requests.get(f"{fake_artifactory.url}/api/storage/{REPO}")
    assert errors_of(resp) == (401, "Authentication is required")
    assert resp.headers["WWW-Authenticate"] == CHALLENGE
    assert requests.put(f"{fake_artifactory.url}/{REPO}/x", data=b"1").status_code == 401


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": ("admin", "wrong")},
        {"auth": ("nobody", "password")},
        {"headers": {"Authorization": "Bearer wrong-token"}},
        {"headers": {"Authorization": "Basic !!notbase64"}},
        {"headers": {"Authorization": "Digest abc"}},
    ],
)
def test_bad_credentials_is_401(fake_artifactory, kwargs):
    resp = requests.get(f"{fake_artifactory.url}/api/storage/{REPO}", **kwargs)
    assert errors_of(resp) == (401, "Bad credentials")
    assert resp.headers["WWW-Authenticate"] == CHALLENGE
    assert "wrong" not in resp.text


def test_bad_api_key_header_is_403(fake_artifactory):
    resp = requests.get(
        f"{fake_artifactory.url}/api/storage/{REPO}", headers={"X-JFrog-Art-Api": "nope"}
    )
    assert errors_of(resp)[0] == 403


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth": ("admin", "password")},
        {"auth": ("admin", "fake-test-token")},
        {"auth": ("anyone", "fake-test-token")},
        {"auth": ("admin", "AKCp8fakeapikey")},
        {"headers": {"Authorization": "Bearer fake-test-token"}},
        {"headers": {"X-JFrog-Art-Api": "fake-test-token"}},
        {"headers": {"X-JFrog-Art-Api": "AKCp8fakeapikey"}},
    ],
)
def test_accepted_credentials(fake_artifactory, kwargs):
    resp = requests.put(f"{fake_artifactory.url}/{REPO}/who.txt", data=b"1", **kwargs)
    assert resp.status_code == 201
    assert resp.json()["createdBy"] == "admin"


def test_ping_needs_no_auth_even_with_bad_credentials(fake_artifactory):
    assert requests.get(f"{fake_artifactory.url}/api/system/ping").text == "OK"
    assert requests.get(f"{fake_artifactory.url}/api/system/ping", auth=("x", "y")).text == "OK"


def test_read_only_user(fake_artifactory):
    requests.put(f"{fake_artifactory.url}/{REPO}/r.txt", data=b"1", auth=fake_artifactory.auth)
    reader = ("reader", "readpw")
    assert requests.get(f"{fake_artifactory.url}/{REPO}/r.txt", auth=reader).content == b"1"
    resp = requests.put(f"{fake_artifactory.url}/{REPO}/w.txt", data=b"1", auth=reader)
    assert errors_of(resp) == (
        403,
        f"The user: 'reader' is not permitted to deploy 'w.txt' into '{REPO}:w.txt'.",
    )
    resp = requests.delete(f"{fake_artifactory.url}/{REPO}/r.txt", auth=reader)
    assert errors_of(resp)[0] == 403


def test_deploy_without_delete_cannot_overwrite(fake_artifactory):
    deployer = ("deployer", "deploypw")
    url = f"{fake_artifactory.url}/{REPO}/once.txt"
    assert requests.put(url, data=b"1", auth=deployer).status_code == 201
    resp = requests.put(url, data=b"2", auth=deployer)
    assert errors_of(resp) == (
        403,
        f"Not enough permissions to delete/overwrite artifact '{REPO}:once.txt' "
        "(user: 'deployer' needs DELETE permission).",
    )
    assert requests.get(url, auth=deployer).content == b"1"


def test_deploy_without_annotate_drops_properties(fake_artifactory):
    deployer = ("deployer", "deploypw")
    requests.put(f"{fake_artifactory.url}/{REPO}/p.txt;k=v", data=b"1", auth=deployer)
    assert "properties" not in fake_artifactory.state()["repos"][REPO]["items"]["p.txt"]


def test_repo_create_needs_admin(fake_artifactory):
    resp = requests.put(
        f"{fake_artifactory.url}/api/repositories/x-local",
        json={"rclass": "local"},
        auth=("deployer", "deploypw"),
    )
    assert resp.status_code == 403


def test_anonymous_read(make_server):
    server = make_server(anonymous="read")
    requests.put(f"{server.url}/{REPO}/pub.txt", data=b"1", auth=("admin", "password"))
    assert requests.get(f"{server.url}/{REPO}/pub.txt").content == b"1"
    assert requests.get(f"{server.url}/api/storage/{REPO}/pub.txt").status_code == 200
    resp = requests.put(f"{server.url}/{REPO}/x", data=b"1")
    assert errors_of(resp) == (401, "Unauthorized")
    assert resp.headers["WWW-Authenticate"] == CHALLENGE
    listing = requests.get(f"{server.url}/api/storage/{REPO}?list")
    assert listing.status_code == 401
    assert requests.get(f"{server.url}/api/storage/{REPO}?list", auth=("admin", "password")).ok


def test_anonymous_write(make_server):
    server = make_server(anonymous="write")
    resp = requests.put(f"{server.url}/{REPO}/anon.txt", data=b"1")
    assert resp.status_code == 201 and resp.json()["createdBy"] == "anonymous"
    assert requests.delete(f"{server.url}/{REPO}/anon.txt").status_code == 204


def test_oss_edition_refuses_pro_endpoints(make_server):
    server = make_server(edition="oss")
    auth = ("admin", "password")
    requests.put(f"{server.url}/{REPO}/f.txt", data=b"1", auth=auth)
    expected = (400, PRO_ONLY)
    assert errors_of(requests.get(f"{server.url}/api/storage/{REPO}?list", auth=auth)) == expected
    assert (
        errors_of(requests.put(f"{server.url}/api/storage/{REPO}/f.txt?properties=a=1", auth=auth))
        == expected
    )
    assert (
        errors_of(requests.put(f"{server.url}/api/repositories/new-local", json={}, auth=auth))
        == expected
    )
    assert (
        errors_of(requests.post(f"{server.url}/api/copy/{REPO}/f.txt?to=/{REPO}/g.txt", auth=auth))
        == expected
    )
    assert requests.get(f"{server.url}/api/storage/{REPO}/f.txt", auth=auth).status_code == 200
    assert "license" not in requests.get(f"{server.url}/api/system/version", auth=auth).json()


def test_secrets_never_in_repr():
    from fake_artifactory.config import EmulatorConfig, UserSpec

    cfg = EmulatorConfig(
        tokens=("s3cr3t-token",), api_keys=("s3cr3t-key",), users=(UserSpec("u", "s3cr3t-pw"),)
    )
    assert "s3cr3t" not in repr(cfg)
