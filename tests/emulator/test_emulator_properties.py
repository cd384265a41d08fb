"""Properties (reference section 8): set/get/delete, PATCH metadata, property search."""

from __future__ import annotations

import requests
from emulator_support import REPO, errors_of

SEARCH_TYPE = "application/vnd.org.jfrog.artifactory.search.MetadataSearchResult+json"


def _props(session, base, path):
    return session.get(f"{base}/api/storage/{REPO}/{path}?properties")


def test_set_with_escapes_and_pipe_separator(session, base, repo_url):
    session.put(f"{repo_url}/p/a.txt", data=b"a")
    raw = r"k1=a\,b,c;k2=x\|y%7Ck3=p\=q".replace("\\", "%5C")
    resp = session.put(f"{base}/api/storage/{REPO}/p/a.txt?properties={raw}")
    assert resp.status_code == 204
    body = _props(session, base, "p/a.txt").json()
    assert body["properties"] == {"k1": ["a,b", "c"], "k2": ["x|y"], "k3": ["p=q"]}
    assert body["uri"].endswith(f"/api/storage/{REPO}/p/a.txt")
    only = session.get(f"{base}/api/storage/{REPO}/p/a.txt?properties=k2").json()
    assert only["properties"] == {"k2": ["x|y"]}


def test_recursive_default_and_opt_out(session, base, repo_url):
    session.put(f"{repo_url}/r/sub/f.txt", data=b"f")
    assert session.put(f"{base}/api/storage/{REPO}/r?properties=a=1").status_code == 204
    assert _props(session, base, "r/sub/f.txt").json()["properties"] == {"a": ["1"]}
    session.put(f"{base}/api/storage/{REPO}/r?properties=b=2&recursive=0")
    assert "b" not in _props(session, base, "r/sub/f.txt").json()["properties"]
    resp = session.delete(f"{base}/api/storage/{REPO}/r?properties=a,missing&recursive=1")
    assert resp.status_code == 204
    assert errors_of(_props(session, base, "r/sub/f.txt")) == (404, "No properties could be found.")


def test_patch_metadata_multi_values_and_removal(session, base, repo_url):
    session.put(f"{repo_url}/m.txt;old=1;keep=k", data=b"m")
    resp = session.patch(
        f"{base}/api/metadata/{REPO}/m.txt",
        json={"props": {"old": None, "multi": ["a", "b"], "one": "x"}},
    )
    assert resp.status_code == 204
    assert _props(session, base, "m.txt").json()["properties"] == {
        "keep": ["k"],
        "multi": ["a", "b"],
        "one": ["x"],
    }
    bad = session.patch(f"{base}/api/metadata/{REPO}/m.txt", json={"nothing": 1})
    assert bad.status_code == 400 and bad.text == "props or stats fields required"


def test_property_search(session, base, repo_url):
    session.put(f"{repo_url}/s/one.bin;stage=prod;team=ml", data=b"1")
    session.put(f"{repo_url}/s/two.bin;stage=dev;team=ml", data=b"2")
    session.put(f"{base}/Other-Repo/three.bin;stage=production", data=b"3")
    resp = session.get(f"{base}/api/search/prop?stage=prod")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == SEARCH_TYPE
    assert [r["uri"] for r in resp.json()["results"]] == [f"{base}/api/storage/{REPO}/s/one.bin"]
    uris = {
        r["uri"].rsplit("/", 1)[1]
        for r in session.get(f"{base}/api/search/prop?stage=prod*").json()["results"]
    }
    assert uris == {"one.bin", "three.bin"}
    uris = {
        r["uri"].rsplit("/", 1)[1]
        for r in session.get(f"{base}/api/search/prop?stage=prod*&repos={REPO}").json()["results"]
    }
    assert uris == {"one.bin"}
    # repeated key = OR, different keys = AND
    resp = session.get(f"{base}/api/search/prop?stage=prod&stage=dev&team=ml")
    assert len(resp.json()["results"]) == 2
    assert session.get(f"{base}/api/search/prop?stage=dev&team=other").json() == {"results": []}


def test_property_search_details_and_errors(session, base, repo_url):
    session.put(f"{repo_url}/d/x.bin;color=blue", data=b"x")
    resp = session.get(
        f"{base}/api/search/prop?color=bl?e", headers={"X-Result-Detail": "info, properties"}
    )
    [entry] = resp.json()["results"]
    assert entry["size"] == "1" and entry["path"] == "/d/x.bin" and "downloadUri" in entry
    assert entry["properties"] == {"color": ["blue"]}
    assert errors_of(session.get(f"{base}/api/search/prop?color=*")) == (
        400,
        "Search term containing only wildcards is not permitted",
    )
    assert session.get(f"{base}/api/search/prop").status_code == 404
    assert session.get(f"{base}/api/search/prop?repos={REPO}").status_code == 404
    assert requests.get(f"{base}/api/search/prop?color=blue").status_code == 401
