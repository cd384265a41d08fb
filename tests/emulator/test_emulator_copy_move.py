"""Copy and move (reference section 7) over real HTTP."""

from __future__ import annotations

import requests
from emulator_support import PRO_ONLY, REPO, errors_of, raw_request

RESULT_TYPE = "application/vnd.org.jfrog.artifactory.storage.CopyOrMoveResult+json"
OTHER = "Other-Repo"


def _messages(resp: requests.Response) -> list[dict[str, str]]:
    assert resp.headers["Content-Type"] == RESULT_TYPE
    body = resp.json()
    assert list(body) == ["messages"]
    return body["messages"]


def test_copy_file_renames_and_keeps_source(session, base, repo_url):
    session.put(f"{repo_url}/cm/a.txt;team=ml", data=b"alpha")
    resp = session.post(f"{base}/api/copy/{REPO}/cm/a.txt", params={"to": f"/{OTHER}/x/b.txt"})
    assert resp.status_code == 200
    [msg] = _messages(resp)
    assert msg["level"] == "INFO"
    assert msg["message"] == (
        f"copying {REPO}:cm/a.txt to {OTHER}:x/b.txt completed successfully, "
        "1 artifacts and 0 folders were copied"
    )
    assert session.get(f"{base}/{OTHER}/x/b.txt").content == b"alpha"
    assert session.get(f"{repo_url}/cm/a.txt").content == b"alpha"
    props = session.get(f"{base}/api/storage/{OTHER}/x/b.txt?properties").json()
    assert props["properties"] == {"team": ["ml"]}


def test_move_folder_into_existing_folder(session, base, repo_url):
    session.put(f"{repo_url}/src/one.txt", data=b"1")
    session.put(f"{repo_url}/src/sub/two.txt", data=b"2")
    session.put(f"{repo_url}/dest/")
    resp = session.post(f"{base}/api/move/{REPO}/src?to=/{REPO}/dest")
    assert resp.status_code == 200
    assert "2 artifacts and 2 folders were moved" in _messages(resp)[0]["message"]
    assert session.get(f"{repo_url}/dest/src/sub/two.txt").content == b"2"
    assert session.get(f"{repo_url}/src/one.txt").status_code == 404
    assert session.get(f"{base}/api/storage/{REPO}/src").status_code == 404


def test_trailing_slash_target_means_into_folder(session, base, repo_url):
    session.put(f"{repo_url}/f.bin", data=b"f")
    resp = session.post(f"{base}/api/copy/{REPO}/f.bin?to=/{REPO}/newdir/")
    assert resp.status_code == 200
    assert session.get(f"{repo_url}/newdir/f.bin").content == b"f"


def test_dry_run_changes_nothing(session, base, repo_url):
    session.put(f"{repo_url}/d.txt", data=b"d")
    resp = session.post(f"{base}/api/move/{REPO}/d.txt?to=/{REPO}/e.txt&dry=1")
    assert resp.status_code == 200
    assert _messages(resp)[0]["message"].startswith("Dry run for moving")
    assert session.get(f"{repo_url}/d.txt").status_code == 200
    assert session.get(f"{repo_url}/e.txt").status_code == 404


def test_errors_are_error_messages_with_4xx(session, base, repo_url):
    session.put(f"{repo_url}/dir/x.txt", data=b"x")
    cases = [
        (f"/api/copy/{REPO}/missing?to=/{REPO}/y", 404),
        (f"/api/copy/{REPO}/dir/x.txt?to=/no-such-repo/y", 404),
        (f"/api/copy/{REPO}/dir?to=/{REPO}/dir/inner", 400),
        (f"/api/move/{REPO}/dir/x.txt?to=/{REPO}/dir/x.txt/deeper", 400),
        (f"/api/copy/{REPO}/dir/x.txt", 400),
    ]
    for target, status in cases:
        resp = session.post(base + target)
        assert resp.status_code == status, target
        [msg] = _messages(resp)
        assert msg["level"] == "ERROR" and msg["message"]


def test_traversal_in_to_is_refused(fake_artifactory, session, repo_url):
    session.put(f"{repo_url}/t.txt", data=b"t")
    for to in (f"/{REPO}/../../escape", f"/{REPO}/%2e%2e/x", "/../etc/passwd"):
        resp = raw_request(
            fake_artifactory.root_url, "POST", f"/artifactory/api/copy/{REPO}/t.txt?to={to}"
        )
        assert resp.status_code == 400, to
        assert resp.json()["messages"][0]["level"] == "ERROR"
    assert set(fake_artifactory.state()["repos"][REPO]["items"]) == {"t.txt"}


def test_permissions(fake_artifactory, base, repo_url, session):
    session.put(f"{repo_url}/p.txt", data=b"p")
    reader = ("reader", "readpw")
    resp = requests.post(f"{base}/api/copy/{REPO}/p.txt?to=/{REPO}/q.txt", auth=reader)
    assert resp.status_code == 403 and _messages(resp)[0]["level"] == "ERROR"
    deployer = ("deployer", "deploypw")
    resp = requests.post(f"{base}/api/copy/{REPO}/p.txt?to=/{REPO}/q.txt", auth=deployer)
    assert resp.status_code == 200
    # overwriting needs delete, and so does moving
    resp = requests.post(f"{base}/api/copy/{REPO}/p.txt?to=/{REPO}/q.txt", auth=deployer)
    assert resp.status_code == 403
    resp = requests.post(f"{base}/api/move/{REPO}/p.txt?to=/{REPO}/r.txt", auth=deployer)
    assert resp.status_code == 403
    assert requests.post(f"{base}/api/copy/{REPO}/p.txt?to=/{REPO}/s.txt").status_code == 401


def test_oss_edition_answers_pro_only(make_server):
    server = make_server(edition="oss")
    resp = requests.post(f"{server.url}/api/move/{REPO}/a?to=/{REPO}/b", auth=("admin", "password"))
    assert errors_of(resp) == (400, PRO_ONLY)
