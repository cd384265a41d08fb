"""Virtual repositories over HTTP: configuration, reads resolved through the members in
order, aggregated listings, deploys to the default deployment repository (or the real
405), deletes that find nothing, and permissions checked on the members."""

from __future__ import annotations

import io
import tarfile

import pytest
import requests
from emulator_support import errors_of

VIRTUAL_TYPE = (
    "application/vnd.org.jfrog.artifactory.repositories.VirtualRepositoryConfiguration+json"
)


@pytest.fixture
def virtual(session, base):
    """``v`` over ``a-local`` (default deployment) and ``b-local``, with content in both."""
    for key in ("a-local", "b-local"):
        assert session.put(f"{base}/api/repositories/{key}", json={}).status_code == 200
    body = {
        "rclass": "virtual",
        "packageType": "generic",
        "repositories": ["a-local", "b-local"],
        "defaultDeploymentRepo": "a-local",
    }
    assert session.put(f"{base}/api/repositories/v", json=body).status_code == 200
    session.put(f"{base}/a-local/both.txt", data=b"from a")
    session.put(f"{base}/b-local/both.txt", data=b"from b")
    session.put(f"{base}/a-local/dir/one.txt", data=b"1")
    session.put(f"{base}/b-local/dir/two.txt", data=b"2")
    session.put(f"{base}/b-local/only-b.txt", data=b"b only")
    return f"{base}/v"


def test_a_virtual_repository_answers_its_configuration(session, base, virtual):
    resp = session.get(f"{base}/api/repositories/v")
    assert resp.headers["Content-Type"] == VIRTUAL_TYPE
    body = resp.json()
    assert body["rclass"] == "virtual" and body["repositories"] == ["a-local", "b-local"]
    assert body["defaultDeploymentRepo"] == "a-local"
    assert body["virtualRetrievalCachePeriodSecs"] == 600
    assert body["pomRepositoryReferencesCleanupPolicy"] == "discard_active_reference"
    listed = {r["key"]: r for r in session.get(f"{base}/api/repositories").json()}
    assert listed["v"]["type"] == "VIRTUAL"
    assert [r["key"] for r in session.get(f"{base}/api/repositories?type=virtual").json()] == ["v"]


def test_reads_resolve_through_the_members_in_order(session, virtual):
    assert session.get(f"{virtual}/both.txt").content == b"from a"
    assert session.get(f"{virtual}/only-b.txt").content == b"b only"
    assert session.head(f"{virtual}/only-b.txt").headers["Content-Length"] == "6"
    assert errors_of(session.get(f"{virtual}/none.txt")) == (404, "File not found.")
    page = session.get(f"{virtual}/dir/").text
    assert "one.txt" in page and "two.txt" in page


def test_storage_info_and_listings_aggregate_the_members(session, base, virtual):
    info = session.get(f"{base}/api/storage/v/both.txt").json()
    assert info["repo"] == "v" and info["uri"] == f"{base}/api/storage/v/both.txt"
    assert info["downloadUri"] == f"{base}/v/both.txt" and info["size"] == "6"
    folder = session.get(f"{base}/api/storage/v/dir").json()
    assert [c["uri"] for c in folder["children"]] == ["/one.txt", "/two.txt"]
    root = session.get(f"{base}/api/storage/v").json()
    assert [c["uri"] for c in root["children"]] == ["/both.txt", "/dir", "/only-b.txt"]
    deep = session.get(f"{base}/api/storage/v?list&deep=1").json()
    assert [f["uri"] for f in deep["files"]] == [
        "/both.txt",
        "/dir/one.txt",
        "/dir/two.txt",
        "/only-b.txt",
    ]
    assert [f["size"] for f in deep["files"]][0] == 6


def test_aql_on_a_virtual_repository_searches_its_members_and_names_it(session, base, virtual):
    """As JFrog's AQL documentation describes virtual repositories: the query runs on
    the members, each item keeps its own ``repo``, and ``virtual_repos`` comes unasked
    when the query targets a virtual repository."""
    query = 'items.find({"repo":"v","name":{"$match":"*.txt"}}).include("repo","path","name")'
    resp = session.post(
        f"{base}/api/search/aql", data=query, headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200, resp.text
    rows = [(r["repo"], r["path"], r["name"], r["virtual_repos"]) for r in resp.json()["results"]]
    assert rows == [
        ("a-local", ".", "both.txt", ["v"]),
        ("a-local", "dir", "one.txt", ["v"]),
        ("b-local", ".", "both.txt", ["v"]),
        ("b-local", ".", "only-b.txt", ["v"]),
        ("b-local", "dir", "two.txt", ["v"]),
    ]
    # A query on a member does not add the field; asking for it does.
    local = 'items.find({"repo":"a-local","name":"both.txt"})'
    (row,) = session.post(f"{base}/api/search/aql", data=local).json()["results"]
    assert "virtual_repos" not in row
    asked = local + '.include("name","virtual_repos").transitive()'
    assert session.post(f"{base}/api/search/aql", data=asked).json()["results"] == [
        {"name": "both.txt", "virtual_repos": ["v"]}
    ]


def test_a_missing_item_through_a_virtual_repository_is_a_404_without_a_body(
    session, base, virtual
):
    resp = session.get(f"{base}/api/storage/v/none.txt")
    assert resp.status_code == 404 and resp.content == b""


def test_deploys_go_to_the_default_deployment_repository(session, base, virtual):
    resp = session.put(f"{virtual}/new/file.txt", data=b"new")
    assert resp.status_code == 201 and resp.json()["repo"] == "a-local"
    assert session.get(f"{base}/a-local/new/file.txt").content == b"new"
    assert session.put(f"{virtual}/new/folder/").status_code == 201
    assert session.get(f"{base}/api/storage/a-local/new/folder").status_code == 200
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("x/in.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"in"))
    exploded = session.put(
        f"{virtual}/arch/a.tar", data=archive.getvalue(), headers={"X-Explode-Archive": "true"}
    )
    assert exploded.status_code == 200
    assert session.get(f"{base}/a-local/arch/x/in.txt").content == b"in"


def test_without_a_default_deployment_repository_deploys_get_the_real_405(session, base, virtual):
    body = {"rclass": "virtual", "repositories": ["a-local"]}
    assert session.put(f"{base}/api/repositories/ro", json=body).status_code == 200
    assert "defaultDeploymentRepo" not in session.get(f"{base}/api/repositories/ro").json()
    resp = session.put(f"{base}/ro/x.txt", data=b"x")
    assert errors_of(resp) == (
        405,
        "No local repository was configured as local deployment repository for the (ro) "
        "virtual repository.",
    )
    assert resp.headers["Allow"] == "GET"


def test_a_delete_through_a_virtual_repository_finds_nothing(session, virtual):
    """A virtual repository stores nothing of its own; Artifactory deletes only in the
    repository named."""
    resp = session.delete(f"{virtual}/both.txt")
    assert errors_of(resp) == (404, "Could not locate artifact 'v:both.txt' (Nothing to delete).")
    assert session.get(f"{virtual}/both.txt").content == b"from a"


def test_other_writes_through_a_virtual_repository_find_nothing(session, base, virtual):
    props = session.put(f"{base}/api/storage/v/both.txt?properties=k=v")
    assert errors_of(props) == (404, "Unable to find item")
    copy = session.post(f"{base}/api/copy/a-local/both.txt?to=/v/copy.txt")
    assert copy.status_code == 400
    assert copy.json()["messages"][0]["message"] == "Target repository v is not a local repository"


def test_nested_virtual_repositories_resolve_depth_first(session, base, virtual):
    session.put(f"{base}/api/repositories/c-local", json={})
    session.put(f"{base}/c-local/only-c.txt", data=b"c")
    session.put(f"{base}/c-local/both.txt", data=b"from c")
    body = {"rclass": "virtual", "repositories": ["v", "c-local"]}
    assert session.put(f"{base}/api/repositories/outer", json=body).status_code == 200
    assert session.get(f"{base}/outer/both.txt").content == b"from c"  # locals come first
    assert session.get(f"{base}/outer/only-b.txt").content == b"b only"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"repositories": ["nope"]}, "Repository nope does not exist"),
        ({"repositories": ["bad"]}, "Virtual repository bad cannot include itself"),
        ({"repositories": "a-local"}, "'repositories' must be a list of keys"),
        (
            {"repositories": ["b-local"], "defaultDeploymentRepo": "a-local"},
            "Default deployment repository a-local is not a local repository of virtual "
            "repository bad",
        ),
    ],
)
def test_an_inconsistent_virtual_repository_is_refused(session, base, virtual, body, message):
    resp = session.put(f"{base}/api/repositories/bad", json={"rclass": "virtual", **body})
    assert resp.status_code == 400 and message in resp.text
    assert session.get(f"{base}/api/repositories/bad").status_code == 400


def test_a_virtual_repository_cannot_include_itself_through_another(session, base, virtual):
    body = {"rclass": "virtual", "repositories": ["v"]}
    assert session.put(f"{base}/api/repositories/w", json=body).status_code == 200
    resp = session.post(f"{base}/api/repositories/v", json={"repositories": ["a-local", "w"]})
    assert resp.status_code == 400 and "includes itself" in resp.text


def test_deleting_a_member_updates_the_virtual_repository(session, base, virtual):
    assert session.delete(f"{base}/api/repositories/a-local").status_code == 200
    body = session.get(f"{base}/api/repositories/v").json()
    assert body["repositories"] == ["b-local"] and "defaultDeploymentRepo" not in body
    assert session.get(f"{virtual}/both.txt").content == b"from b"


def test_reads_skip_members_the_caller_may_not_read(session, base, virtual):
    """Permissions are checked on the members (targets cannot name a virtual repository)."""
    session.put(f"{base}/api/security/users/vic", json={"email": "v@x.y", "password": "vic-Pa55"})
    target = {"repositories": ["b-local"], "principals": {"users": {"vic": ["r"]}}}
    assert session.put(f"{base}/api/security/permissions/b", json=target).status_code == 201
    vic = ("vic", "vic-Pa55")
    assert requests.get(f"{virtual}/both.txt", auth=vic).content == b"from b"
    children = requests.get(f"{base}/api/storage/v/dir", auth=vic).json()["children"]
    assert [c["uri"] for c in children] == ["/two.txt"]
    partial = requests.get(f"{base}/api/repositories/v", auth=vic).json()
    assert partial == {
        "key": "v",
        "rclass": "virtual",
        "packageType": "generic",
        "description": "",
        "repositories": ["a-local", "b-local"],
    }
    resp = requests.put(f"{virtual}/x.txt", data=b"x", auth=vic)
    assert errors_of(resp)[0] == 403


def test_a_folder_archive_through_a_virtual_repository_merges_the_members(
    fake_artifactory, session, base, virtual
):
    fake_artifactory.set_folder_download(enabled=True)
    resp = session.get(f"{base}/api/archive/download/v/dir?archiveType=tar")
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        assert sorted(tar.getnames()) == ["one.txt", "two.txt"]


def test_virtual_repositories_travel_in_snapshots(fake_artifactory, virtual, make_server):
    snapshot = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    other = make_server()
    assert requests.post(f"{other.root_url}/_fake/snapshot", data=snapshot).status_code == 200
    got = requests.get(f"{other.url}/v/only-b.txt", auth=("admin", "password"))
    assert got.content == b"b only"
