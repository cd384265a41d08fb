"""Repository configuration over HTTP: what was sent comes back over the per-type defaults
a real server adds; who sees how much; persistence (also of data dirs from before)."""

from __future__ import annotations

import sqlite3

import pytest
import requests
from emulator_support import REPO, errors_of

LOCAL_TYPE = "application/vnd.org.jfrog.artifactory.repositories.LocalRepositoryConfiguration+json"


def test_a_debian_repository_answers_the_fields_clients_assert_on(session, base):
    """dohq's create body comes back with what it sent and the Debian flags derived."""
    sent = {
        "rclass": "local",
        "key": "deb-local",
        "packageType": "debian",
        "repoLayoutRef": "maven-2-default",
        "dockerApiVersion": "V1",
        "archiveBrowsingEnabled": True,
        "notes": "n",
        "enableNpmSupport": True,
    }
    assert session.put(f"{base}/api/repositories/deb-local", json=sent).status_code == 200
    resp = session.get(f"{base}/api/repositories/deb-local")
    assert resp.headers["Content-Type"] == LOCAL_TYPE
    body = resp.json()
    assert body["enableDebianSupport"] is True and body["enableNpmSupport"] is False
    assert body["optionalIndexCompressionFormats"] == ["bz2"]
    assert body["repoLayoutRef"] == "maven-2-default" and body["dockerApiVersion"] == "V1"
    assert body["archiveBrowsingEnabled"] is True and body["notes"] == "n"
    assert body["key"] == "deb-local" and body["packageType"] == "debian"
    assert list(body)[-1] == "rclass" and body["rclass"] == "local"


@pytest.mark.parametrize(
    ("package_type", "expected"),
    [
        ("generic", {"repoLayoutRef": "simple-default", "enablePypiSupport": False}),
        ("npm", {"repoLayoutRef": "npm-default", "enableNpmSupport": True}),
        ("maven", {"repoLayoutRef": "maven-2-default", "suppressPomConsistencyChecks": False}),
        ("pypi", {"enablePypiSupport": True}),
        ("docker", {"enableDockerSupport": True, "dockerApiVersion": "V2"}),
        ("chef", {"enabledChefSupport": True}),
        ("rpm", {"calculateYumMetadata": True, "yumGroupFileNames": "groups.xml"}),
    ],
)
def test_defaults_depend_on_the_package_type(session, base, package_type, expected):
    key = f"{package_type}-local"
    body = {"rclass": "local", "packageType": package_type}
    assert session.put(f"{base}/api/repositories/{key}", json=body).status_code == 200
    got = session.get(f"{base}/api/repositories/{key}").json()
    assert {k: got[k] for k in expected} == expected
    assert got["checksumPolicyType"] == "client-checksums" and got["propertySets"] == []
    assert got["description"] == ""


def test_a_yum_repository_reads_back_as_rpm_and_download_redirect_stays_off(session, base):
    # What jfrog-client-go's repository tests read back from a real (not Enterprise
    # Plus) server: "yum" stored as "rpm"; downloadRedirect false whatever was sent.
    body = {"rclass": "local", "packageType": "yum", "downloadRedirect": True, "yumRootDepth": 6}
    assert session.put(f"{base}/api/repositories/yum-local", json=body).status_code == 200
    got = session.get(f"{base}/api/repositories/yum-local").json()
    assert got["packageType"] == "rpm" and got["yumRootDepth"] == 6
    assert got["downloadRedirect"] is False and got["calculateYumMetadata"] is True
    session.post(f"{base}/api/repositories/yum-local", json={"downloadRedirect": True})
    assert session.get(f"{base}/api/repositories/yum-local").json()["downloadRedirect"] is False


def test_an_update_merges_what_it_sends(session, base):
    session.put(f"{base}/api/repositories/m-local", json={"notes": "a", "description": "d"})
    resp = session.post(f"{base}/api/repositories/m-local", json={"xrayIndex": True})
    assert resp.text == "Repository m-local update successfully."
    got = session.get(f"{base}/api/repositories/m-local").json()
    assert got["xrayIndex"] is True and got["notes"] == "a" and got["description"] == "d"


def test_a_user_who_is_not_an_admin_sees_part_of_the_configuration(base, fake_artifactory):
    """Artifactory's public configuration for readers; nothing for those who may not read."""
    got = requests.get(f"{base}/api/repositories/{REPO}", auth=("reader", "readpw")).json()
    assert got == {"key": REPO, "rclass": "local", "packageType": "generic", "description": ""}
    requests.put(
        f"{base}/api/security/users/nobody",
        json={"email": "n@x.y", "password": "n0-Pa55"},
        auth=fake_artifactory.auth,
    )
    resp = requests.get(f"{base}/api/repositories/{REPO}", auth=("nobody", "n0-Pa55"))
    assert errors_of(resp) == (400, f"Repository {REPO} does not exist")
    assert requests.get(f"{base}/api/repositories", auth=("nobody", "n0-Pa55")).json() == []


def test_remote_repositories_are_not_emulated(session, base):
    resp = session.put(f"{base}/api/repositories/r-remote", json={"rclass": "remote"})
    assert errors_of(resp)[0] == 501


def test_the_configuration_persists_and_old_data_dirs_open(make_server, tmp_path):
    """A repository's configuration survives a restart; a data dir written before
    repositories kept one opens with the defaults."""
    data = tmp_path / "d"
    admin = ("admin", "password")
    first = make_server(data_dir=data)
    body = {"packageType": "debian", "notes": "kept"}
    requests.put(f"{first.url}/api/repositories/deb-local", json=body, auth=admin)
    first.stop()
    second = make_server(data_dir=data)
    got = requests.get(f"{second.url}/api/repositories/deb-local", auth=admin).json()
    assert got["notes"] == "kept" and got["enableDebianSupport"] is True
    second.stop()
    with sqlite3.connect(data / "meta.sqlite3") as db:  # as an older emulator left it
        db.execute("ALTER TABLE repos DROP COLUMN config")
        db.execute("DROP TABLE security")
    third = make_server(data_dir=data)
    got = requests.get(f"{third.url}/api/repositories/deb-local", auth=admin).json()
    assert got["notes"] == "" and got["enableDebianSupport"] is True
