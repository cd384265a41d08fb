"""Storage API, file list, properties, system and repository endpoints over HTTP."""

from __future__ import annotations

import requests
from emulator_support import REPO, errors_of


def test_file_info(session, repo_url, base):
    session.put(f"{repo_url}/d/f.txt", data=b"hello")
    resp = session.get(f"{base}/api/storage/{REPO}/d/f.txt")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == (
        "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
    )
    info = resp.json()
    assert info["path"] == "/d/f.txt" and info["size"] == "5"
    assert info["uri"] == f"{base}/api/storage/{REPO}/d/f.txt"
    assert info["downloadUri"] == f"{repo_url}/d/f.txt"
    assert info["mimeType"] == "text/plain"
    for key in ("created", "lastModified", "lastUpdated"):
        assert info[key].endswith("Z")
    assert info["createdBy"] == info["modifiedBy"] == "admin"
    assert set(info["checksums"]) == {"sha1", "md5", "sha256"}
    assert info["originalChecksums"] == {"sha256": info["checksums"]["sha256"]}


def test_folder_info_and_root(session, repo_url, base):
    session.put(f"{repo_url}/top/a.in", data=b"1")
    session.put(f"{repo_url}/top/sub/", data=b"")
    folder = session.get(f"{base}/api/storage/{REPO}/top/").json()
    assert folder["path"] == "/top"
    assert folder["uri"] == f"{base}/api/storage/{REPO}/top"
    assert folder["children"] == [
        {"uri": "/a.in", "folder": False},
        {"uri": "/sub", "folder": True},
    ]
    resp = session.get(f"{base}/api/storage/{REPO}")
    assert resp.headers["Content-Type"] == (
        "application/vnd.org.jfrog.artifactory.storage.FolderInfo+json"
    )
    assert resp.headers["Cache-Control"] == "no-store"
    root = resp.json()
    assert root["path"] == "/" and root["uri"] == f"{base}/api/storage/{REPO}"
    assert root["children"] == [{"uri": "/top", "folder": True}]


def test_storage_info_missing_is_404(session, base):
    assert errors_of(session.get(f"{base}/api/storage/{REPO}/nope")) == (404, "Unable to find item")
    assert errors_of(session.get(f"{base}/api/storage/no-repo/x")) == (404, "Unable to find item")


def test_repo_named_api_is_reachable_through_storage(session, base):
    assert session.put(f"{base}/api/storage/api/x?properties=a=1").status_code == 404
    info = session.get(f"{base}/api/storage/api").json()
    assert info["repo"] == "api" and info["path"] == "/"
    ping = session.get(f"{base}/api/system/ping")
    assert ping.text == "OK"


def _tree(session, repo_url):
    for path in ["test/a.in", "b.in", "c.tar.gz", "test/deep/x/y.bin"]:
        session.put(f"{repo_url}/{path}", data=path.encode())


def test_file_list_defaults_are_shallow_files_only(session, repo_url, base):
    _tree(session, repo_url)
    resp = session.get(f"{base}/api/storage/{REPO}/?list")
    assert resp.headers["Content-Type"] == (
        "application/vnd.org.jfrog.artifactory.storage.FileList+json"
    )
    body = resp.json()
    assert body["uri"] == f"{base}/api/storage/{REPO}"
    assert body["created"].endswith("Z")
    assert [f["uri"] for f in body["files"]] == ["/b.in", "/c.tar.gz"]
    entry = body["files"][0]
    assert entry["size"] == 4 and entry["folder"] is False
    assert len(entry["sha1"]) == 40 and len(entry["sha2"]) == 64 and "sha256" not in entry


def test_file_list_deep_with_folders_and_root(session, repo_url, base):
    _tree(session, repo_url)
    body = session.get(
        f"{base}/api/storage/{REPO}?list&deep=1&listFolders=1&includeRootPath=1"
    ).json()
    uris = [f["uri"] for f in body["files"]]
    assert uris == [
        "/",
        "/b.in",
        "/c.tar.gz",
        "/test",
        "/test/a.in",
        "/test/deep",
        "/test/deep/x",
        "/test/deep/x/y.bin",
    ]
    folders = {f["uri"]: f for f in body["files"] if f["folder"]}
    assert all(f["size"] == -1 and "sha1" not in f for f in folders.values())
    depth2 = session.get(f"{base}/api/storage/{REPO}/test?list&deep=1&depth=2&listFolders=1").json()
    assert [f["uri"] for f in depth2["files"]] == ["/a.in", "/deep", "/deep/x"]
    mlflow_style = session.get(
        f"{base}/api/storage/{REPO}/test?list&deep=0&depth=1&listFolders=1"
    ).json()
    assert [f["uri"] for f in mlflow_style["files"]] == ["/a.in", "/deep"]
    assert mlflow_style["uri"] == f"{base}/api/storage/{REPO}/test"


def test_file_list_md_timestamps(session, repo_url, base):
    session.put(f"{repo_url}/p.txt;k=v", data=b"1")
    session.put(f"{repo_url}/q.txt", data=b"1")
    files = session.get(f"{base}/api/storage/{REPO}?list&mdTimestamps=1").json()["files"]
    by_uri = {f["uri"]: f for f in files}
    assert "properties" in by_uri["/p.txt"]["mdTimestamps"]
    assert "mdTimestamps" not in by_uri["/q.txt"]


def test_file_list_errors(session, repo_url, base):
    session.put(f"{repo_url}/f.txt", data=b"1")
    assert errors_of(session.get(f"{base}/api/storage/{REPO}/f.txt?list"))[0] == 400
    assert errors_of(session.get(f"{base}/api/storage/{REPO}/missing?list"))[0] == 404
    assert errors_of(session.get(f"{base}/api/storage/{REPO}?list&deep=1&depth=x"))[0] == 400


def test_properties_get_set_delete(session, repo_url, base):
    session.put(f"{repo_url}/pd/f.bin", data=b"1")
    url = f"{base}/api/storage/{REPO}/pd"
    assert errors_of(session.get(url + "?properties")) == (404, "No properties could be found.")
    resp = session.put(url + "?properties=a=1,2;b=x%5C,y&recursive=1")
    assert resp.status_code == 204
    got = session.get(f"{base}/api/storage/{REPO}/pd/f.bin?properties")
    assert got.headers["Content-Type"] == (
        "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json"
    )
    assert got.json() == {
        "properties": {"a": ["1", "2"], "b": ["x,y"]},
        "uri": f"{base}/api/storage/{REPO}/pd/f.bin",
    }
    only_a = session.get(f"{base}/api/storage/{REPO}/pd/f.bin?properties=a").json()
    assert only_a["properties"] == {"a": ["1", "2"]}
    assert session.delete(url + "?properties=a,zzz").status_code == 204
    assert session.get(f"{base}/api/storage/{REPO}/pd/f.bin?properties").json()["properties"] == {
        "b": ["x,y"]
    }
    assert errors_of(session.put(url + "?properties=1bad=v"))[0] == 400
    assert errors_of(session.put(f"{base}/api/storage/{REPO}/missing?properties=a=1"))[0] == 404


def test_system_endpoints(session, base):
    ping = requests.get(f"{base}/api/system/ping")  # no auth
    assert ping.status_code == 200 and ping.text == "OK"
    assert ping.headers["Content-Type"].startswith("text/plain")
    version = session.get(f"{base}/api/system/version")
    assert version.json()["version"] == "7.90.10"
    assert "revision" in version.json() and "license" in version.json()
    uploads = session.get(f"{base}/api/v1/uploads/config")
    assert uploads.status_code == 200 and uploads.json() == {"supported": False}


def test_repositories(session, base):
    repos = session.get(f"{base}/api/repositories")
    assert repos.headers["Cache-Control"] == "no-store"
    keys = {r["key"]: r for r in repos.json()}
    assert keys[REPO] == {
        "key": REPO,
        "type": "LOCAL",
        "url": f"{base}/{REPO}",
        "packageType": "Generic",
        "description": "",
    }
    assert session.get(f"{base}/api/repositories?type=remote").json() == []
    assert len(session.get(f"{base}/api/repositories?type=local").json()) == len(keys)
    config = session.get(f"{base}/api/repositories/{REPO}").json()
    assert config["rclass"] == "local" and config["packageType"] == "generic"
    assert session.get(f"{base}/api/repositories/nope").status_code == 400


def test_create_repository(session, base):
    body = {"rclass": "local", "packageType": "generic", "repoLayoutRef": "simple-default"}
    resp = session.put(f"{base}/api/repositories/mlflow-local", json=body)
    assert resp.status_code == 200
    assert resp.text == "Successfully created repository 'mlflow-local'"
    assert session.put(f"{base}/api/repositories/mlflow-local", json=body).status_code == 400
    assert session.put(f"{base}/mlflow-local/x", data=b"1").status_code == 201
    assert "mlflow-local" in {r["key"] for r in session.get(f"{base}/api/repositories").json()}


def test_reset_drops_api_created_repos(session, base, fake_artifactory):
    session.put(f"{base}/api/repositories/tmp-local", json={"rclass": "local"})
    fake_artifactory.reset()
    assert session.get(f"{base}/api/repositories/tmp-local").status_code == 400


def test_control_plane(fake_artifactory, session, repo_url):
    health = requests.get(f"{fake_artifactory.root_url}/_fake/health").json()
    assert health["status"] == "ok" and REPO in health["repos"]
    session.put(f"{repo_url}/s/t.bin;k=v", data=b"data")
    state = fake_artifactory.state()
    items = state["repos"][REPO]["items"]
    assert items["s"]["type"] == "folder"
    assert items["s/t.bin"]["size"] == 4 and items["s/t.bin"]["properties"] == {"k": ["v"]}
    session.put(f"{fake_artifactory.url}/Other-Repo/keep", data=b"1")
    fake_artifactory.reset(REPO)
    state = fake_artifactory.state()
    assert state["repos"][REPO]["items"] == {}
    assert "keep" in state["repos"]["Other-Repo"]["items"]
    assert requests.post(f"{fake_artifactory.root_url}/_fake/reset?repo=nope").status_code == 404


def test_update_and_delete_repository(session, base):
    session.put(f"{base}/api/repositories/gone-local", json={"rclass": "local"})
    session.put(f"{base}/gone-local/f.txt", data=b"1")
    resp = session.post(f"{base}/api/repositories/gone-local", json={"description": "d"})
    assert resp.status_code == 200
    assert session.get(f"{base}/api/repositories/gone-local").json()["description"] == "d"
    assert session.post(f"{base}/api/repositories/gone-local", data=b"[]").status_code == 400
    resp = session.delete(f"{base}/api/repositories/gone-local")
    assert resp.status_code == 200 and "removed successfully" in resp.text
    assert session.get(f"{base}/api/repositories/gone-local").status_code == 400
    assert session.delete(f"{base}/api/repositories/gone-local").status_code == 400
