"""``Accept`` negotiation of the storage API over real HTTP: a type the resource cannot
produce is 406 before anything else is looked at; a type it produces, but not for this
item, is 406 naming both."""

from __future__ import annotations

import pytest
import requests
from emulator_support import REPO, errors_of

FILE_INFO = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
FOLDER_INFO = "application/vnd.org.jfrog.artifactory.storage.FolderInfo+json"


def info(fake_artifactory, path: str, accept: str | None) -> requests.Response:
    headers = {"Accept": accept} if accept is not None else {}
    return requests.get(
        f"{fake_artifactory.url}/api/storage/{REPO}/{path}",
        headers=headers,
        auth=fake_artifactory.auth,
    )


@pytest.mark.parametrize("path", ["f.txt", "d", "missing.txt"])
@pytest.mark.parametrize("accept", ["text/html", "text/plain", "image/png, text/*"])
def test_an_accept_the_storage_api_cannot_produce_is_406(fake_artifactory, session, path, accept):
    session.put(f"{fake_artifactory.url}/{REPO}/f.txt", data=b"f")
    session.put(f"{fake_artifactory.url}/{REPO}/d/")
    assert errors_of(info(fake_artifactory, path, accept)) == (406, "Not Acceptable")


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/*",
        "application/json",
        FILE_INFO,
        "text/html, application/json;q=0.5",
    ],
)
def test_an_accept_matching_what_the_item_produces_is_served(fake_artifactory, session, accept):
    session.put(f"{fake_artifactory.url}/{REPO}/f.txt", data=b"f")
    resp = info(fake_artifactory, "f.txt", accept)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == FILE_INFO


def test_a_type_of_the_resource_but_not_of_the_item_is_406_naming_both(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/f.txt", data=b"f")
    session.put(f"{fake_artifactory.url}/{REPO}/d/")
    resp = info(fake_artifactory, "f.txt", "application/xml")
    assert errors_of(resp) == (
        406,
        f"Resource produces {FILE_INFO} but client only accepts [application/xml]",
    )
    resp = info(fake_artifactory, "d", FILE_INFO)
    assert errors_of(resp) == (
        406,
        f"Resource produces {FOLDER_INFO} but client only accepts [{FILE_INFO}]",
    )
    assert info(fake_artifactory, "missing.txt", "application/xml").status_code == 404
