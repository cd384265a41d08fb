"""The pluggable pieces: handle helpers, journal/faults/AQL wiring, the app factory."""

from __future__ import annotations

import base64
import subprocess
import sys

import requests
from emulator_support import REPO, errors_of

from fake_artifactory import create_app
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.control.app import get_emulator


def test_handle_attributes(fake_artifactory):
    assert fake_artifactory.repo == REPO
    assert fake_artifactory.auth == ("admin", "password")
    assert fake_artifactory.token == "fake-test-token"
    assert fake_artifactory.url == fake_artifactory.root_url + "/artifactory"
    assert "password" not in repr(fake_artifactory) and "fake-test-token" not in repr(
        fake_artifactory
    )


def test_handle_requests_journal(fake_artifactory):
    fake_artifactory.clear_requests()
    requests.put(f"{fake_artifactory.url}/{REPO}/j.txt", data=b"1", auth=fake_artifactory.auth)
    entries = fake_artifactory.requests()
    puts = [e for e in entries if e["method"] == "PUT"]
    assert len(puts) == 1 and f"/{REPO}/j.txt" in puts[0]["uri"]
    fake_artifactory.clear_requests()
    assert fake_artifactory.requests() == []


def test_handle_faults(fake_artifactory):
    url = f"{fake_artifactory.url}/{REPO}/f.txt"
    with fake_artifactory.faults({"method": "PUT", "status": 503, "times": 1}) as ids:
        assert len(ids) == 1
        assert requests.put(url, data=b"1", auth=fake_artifactory.auth).status_code == 503
        assert requests.put(url, data=b"1", auth=fake_artifactory.auth).status_code == 201
    with fake_artifactory.faults({"method": "GET", "status": 500}):
        assert requests.get(url, auth=fake_artifactory.auth).status_code == 500
    assert requests.get(url, auth=fake_artifactory.auth).status_code == 200


def test_aql(fake_artifactory):
    auth = fake_artifactory.auth
    requests.put(f"{fake_artifactory.url}/{REPO}/q/a.bin", data=b"12", auth=auth)
    requests.put(f"{fake_artifactory.url}/{REPO}/top.bin", data=b"1", auth=auth)
    query = f'items.find({{"repo":"{REPO}"}}).include("repo","path","name","size","sha256")'
    resp = requests.post(f"{fake_artifactory.url}/api/search/aql", data=query, auth=auth)
    assert resp.status_code == 200
    rows = {(r["path"], r["name"]): r for r in resp.json()["results"]}
    assert rows[("q", "a.bin")]["size"] == 2
    assert (".", "top.bin") in rows
    bad = requests.post(f"{fake_artifactory.url}/api/search/aql", data="items.find(", auth=auth)
    assert bad.status_code == 400 and bad.text.startswith("Failed to parse query: items.find(,")


def test_aql_refuses_anonymous(make_server):
    server = make_server(anonymous="read")
    resp = requests.post(f"{server.url}/api/search/aql", data="items.find()")
    assert errors_of(resp)[0] == 401


def test_app_factory_with_werkzeug_test_client(tmp_path):
    app = create_app(EmulatorConfig(data_dir=tmp_path / "d"))
    client = app.test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"admin:password").decode()}
    resp = client.put(f"/artifactory/{REPO}/x%3By;k=v", data=b"1", headers=auth)
    assert resp.status_code == 201 and resp.get_json()["path"] == "/x;y"
    assert get_emulator(app).store.get_item(REPO, "x;y").properties == {"k": ["v"]}
    assert client.get("/_fake/health").get_json()["status"] == "ok"
    get_emulator(app).close()


def test_apps_share_no_state(tmp_path):
    a = create_app(EmulatorConfig(data_dir=tmp_path / "a"))
    b = create_app(EmulatorConfig(data_dir=tmp_path / "b", repos=("only-b",)))
    assert get_emulator(a).store is not get_emulator(b).store
    assert get_emulator(a).store.has_repo(REPO) and not get_emulator(b).store.has_repo(REPO)
    get_emulator(a).close()
    get_emulator(b).close()


#: A pytest run with the emulator's server stack unimportable (see the test below).
_PLUGIN_RUN = """
import sys

BLOCKED = ("flask", "werkzeug", "gevent")


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is unimportable in this test")
        return None


sys.meta_path.insert(0, Blocker())
import pytest

code = pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]])
loaded = "fake_artifactory.testing.pytest_plugin" in sys.modules
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in BLOCKED or m in ("sqlite3", "fake_artifactory.store")
)
print("RESULT", int(code), loaded, heavy)
"""


def test_the_pytest_plugin_loads_and_runs_without_the_server_stack(tmp_path):
    """With flask, werkzeug and gevent unimportable, pytest still loads the plugin (its
    entry point) and a test using its config fixture passes; nothing heavy is imported."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_trivial.py").write_text(
        "def test_config_fixture(fake_artifactory_config):\n"
        "    assert fake_artifactory_config.port == 0\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", _PLUGIN_RUN, str(tmp_path / "test_trivial.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert result == ["RESULT 0 True []"], out.stdout + out.stderr


def test_tls_with_given_certificate(tmp_path):
    import trustme

    from fake_artifactory.server import ThreadedServer

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    config = EmulatorConfig(port=0, tls_cert=cert_file, tls_key=key_file)
    with ThreadedServer(config) as server:
        assert server.url.startswith("https://127.0.0.1:")
        resp = requests.get(server.url + "/api/system/ping", verify=str(ca_file), timeout=10)
        assert resp.text == "OK"
