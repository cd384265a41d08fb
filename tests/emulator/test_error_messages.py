"""Error answers worded as the real server words them, over real HTTP: parents that are
files, Pro-only endpoints on the OSS edition, anonymous callers refused by a REST
resource, and properties of a missing item."""

from __future__ import annotations

import pytest
import requests
from emulator_support import EXPLODE, PRO_ONLY, REPO, errors_of, make_tar

#: What the deploy servlet answers to an explode request on OSS.
PRO_ONLY_SHORT = "This REST API is available only in Artifactory Pro."
ADMIN = ("admin", "password")
CHALLENGE = 'Basic realm="Artifactory Realm"'


@pytest.mark.parametrize(
    ("target", "parent"),
    [("a.txt/b.txt", "a.txt"), ("a.txt/sub/c.txt", "a.txt/sub"), ("a.txt/x/", "a.txt")],
)
def test_parent_must_be_a_folder_names_the_parent_without_the_repository(
    session, repo_url, target, parent
):
    session.put(f"{repo_url}/a.txt", data=b"file")
    resp = session.put(f"{repo_url}/{target}", data=b"child")
    assert errors_of(resp) == (400, f"Parent {parent} must be a folder")


def test_pro_only_rest_resources_on_oss_answer_the_long_message(make_server):
    server = make_server(edition="oss", folder_download=True)
    url = server.url
    requests.put(f"{url}/{REPO}/f.txt", data=b"1", auth=ADMIN)
    answers = [
        requests.get(f"{url}/api/storage/{REPO}?list", auth=ADMIN),
        requests.put(f"{url}/api/storage/{REPO}/f.txt?properties=a=1", auth=ADMIN),
        requests.delete(f"{url}/api/storage/{REPO}/f.txt?properties=a", auth=ADMIN),
        requests.post(f"{url}/api/copy/{REPO}/f.txt?to=/{REPO}/g.txt", auth=ADMIN),
        requests.put(f"{url}/api/repositories/new-local", json={}, auth=ADMIN),
        requests.get(f"{url}/api/archive/download/{REPO}/?archiveType=tar", auth=ADMIN),
    ]
    for resp in answers:
        assert errors_of(resp) == (400, PRO_ONLY), resp.url
        assert resp.content.endswith(b'license key.\\n"\n  } ]\n}')


def test_explode_on_oss_is_refused_and_stores_nothing(make_server):
    server = make_server(edition="oss")
    body = make_tar({"a.txt": b"1"})
    resp = requests.put(f"{server.url}/{REPO}/p.tar", data=body, headers=EXPLODE, auth=ADMIN)
    assert errors_of(resp) == (400, PRO_ONLY_SHORT)
    assert requests.get(f"{server.url}/{REPO}/p.tar", auth=ADMIN).status_code == 404
    assert requests.get(f"{server.url}/{REPO}/a.txt", auth=ADMIN).status_code == 404


def test_the_oss_explode_message_is_a_setting(make_server):
    """The short message comes from the 6.x deploy servlet; 7.x may use the REST one."""
    server = make_server(edition="oss", oss_explode_message="long")
    body = make_tar({"a.txt": b"1"})
    resp = requests.put(f"{server.url}/{REPO}/p.tar", data=body, headers=EXPLODE, auth=ADMIN)
    assert errors_of(resp) == (400, PRO_ONLY)


def test_an_anonymous_caller_refused_by_a_rest_resource_gets_401_unauthorized(make_server):
    """With anonymous access on, a REST resource's refusal of an anonymous caller is the
    standard 401 ``Unauthorized`` with the Basic challenge, whatever the resource's own
    message would be."""
    server = make_server(anonymous="read")
    url = server.url
    requests.put(f"{url}/{REPO}/f.txt", data=b"1", auth=ADMIN)
    answers = [
        requests.get(f"{url}/api/storage/{REPO}?list"),
        requests.put(f"{url}/api/storage/{REPO}/f.txt?properties=a=1"),
        requests.post(f"{url}/api/copy/{REPO}/f.txt?to=/{REPO}/g.txt"),
        requests.put(f"{url}/api/repositories/new-local", json={}),
    ]
    for resp in answers:
        assert errors_of(resp) == (401, "Unauthorized"), resp.url
        assert resp.headers["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize("path", ["missing.txt", "no/such/folder"])
def test_properties_of_a_missing_item_are_not_found_like_absent_properties(session, base, path):
    resp = session.get(f"{base}/api/storage/{REPO}/{path}?properties")
    assert errors_of(resp) == (404, "No properties could be found.")


def test_properties_in_a_missing_repository_are_not_found_too(session, base):
    resp = session.get(f"{base}/api/storage/no-such-repo/x.txt?properties")
    assert errors_of(resp) == (404, "No properties could be found.")


def test_properties_without_read_permission_are_not_found_too(make_server):
    from fake_artifactory.config import UserSpec

    server = make_server(
        users=(UserSpec("admin", "password"), UserSpec("blind", "pw", frozenset({"deploy"})))
    )
    requests.put(f"{server.url}/{REPO}/p.txt;k=v", data=b"1", auth=ADMIN)
    resp = requests.get(f"{server.url}/api/storage/{REPO}/p.txt?properties", auth=("blind", "pw"))
    assert errors_of(resp) == (404, "No properties could be found.")
    found = requests.get(f"{server.url}/api/storage/{REPO}/p.txt?properties", auth=ADMIN)
    assert found.json()["properties"] == {"k": ["v"]}
