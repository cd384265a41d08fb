"""The control token guards every ``/_fake/`` endpoint but the health check.

Two emulators over real HTTP on 127.0.0.1, seeded alike: one guarded by a control token,
one open (the loopback default). Without the token (or admin credentials) the guarded
one answers 401 and its whole observable state (items, tokens, fault rules, journal,
settings) is unchanged; with them it answers what the open one answers.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from emulator_support import REPO

from fake_artifactory.config import EmulatorConfig, UserSpec
from fake_artifactory.core.auth import CONTROL_DENIED
from fake_artifactory.server import ThreadedServer
from fake_artifactory.testing import FakeArtifactoryHandle

CONTROL = "control-secret-for-tests"
ADMIN_TOKEN = "admin-configured-token"
API_KEY = "AKCpadminapikey"
READER = ("reader", "readpw")
ADMIN = ("admin", "password")
GUARD = {"Authorization": f"Bearer {CONTROL}"}
TIMEOUT = 30


def _config(**overrides: Any) -> EmulatorConfig:
    return EmulatorConfig(
        port=0,
        tokens=(ADMIN_TOKEN,),
        api_keys=(API_KEY,),
        users=(UserSpec(*ADMIN), UserSpec(*READER, frozenset({"read"}))),
        **overrides,
    )


@pytest.fixture(scope="module")
def guarded() -> Iterator[ThreadedServer]:
    with ThreadedServer(_config(control_token=CONTROL)) as server:
        yield server


@pytest.fixture(scope="module")
def open_server() -> Iterator[ThreadedServer]:
    with ThreadedServer(_config()) as server:
        yield server


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def _mint(server: ThreadedServer, auth: tuple[str, str], **fields: str) -> str:
    resp = requests.post(
        f"{server.root_url}/access/api/v1/tokens", data=fields, auth=auth, timeout=TIMEOUT
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def _seed(server: ThreadedServer, headers: dict[str, str]) -> dict[str, Any]:
    """Reset, then one file, one fault rule that never fires, changed settings, a
    journal entry and minted tokens; returns what the attempts need."""
    root = server.root_url
    assert requests.post(root + "/_fake/reset", headers=headers, timeout=TIMEOUT).ok
    put = requests.put(f"{server.url}/{REPO}/keep/a.txt", data=b"alpha", auth=ADMIN, timeout=30)
    assert put.status_code == 201
    rule = {"path": "never/*", "status": 500}
    ids = requests.post(root + "/_fake/faults", json=rule, headers=headers, timeout=30).json()
    settings = {"enabled": True, "max_files": 3}
    assert requests.put(
        root + "/_fake/settings/folder-download", json=settings, headers=headers, timeout=30
    ).ok
    snapshot = requests.get(root + "/_fake/snapshot", headers=headers, timeout=TIMEOUT).content
    return {
        "rule_id": ids["ids"][0],
        "snapshot": snapshot,
        "reader_token": _mint(server, READER),
        "admin_token": _mint(server, ADMIN, scope="applied-permissions/admin"),
    }


def _manifest(archive: bytes) -> Any:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile("snapshot.json")
        assert member is not None
        return json.loads(member.read())


def observe(server: ThreadedServer) -> dict[str, Any]:
    """Everything the control plane and the store hold (read with the control token, or
    openly; control-plane reads are never journaled, so observing changes nothing)."""
    headers = GUARD if server.config.control_token else {}

    def get(path: str) -> requests.Response:
        resp = requests.get(server.root_url + path, headers=headers, timeout=TIMEOUT)
        assert resp.status_code == 200, (path, resp.status_code)
        return resp

    journal = get("/_fake/requests").json()["requests"]
    return {
        "snapshot": _manifest(get("/_fake/snapshot").content),
        "state": get("/_fake/state").json(),
        "faults": get("/_fake/faults").json(),
        "settings": get("/_fake/settings/folder-download").json(),
        "journal": [(e["seq"], e["method"], e["uri"], e["status"]) for e in journal],
    }


#: Every control-plane operation but the health check: (method, path, body kind).
OPERATIONS = [
    ("GET", "/_fake/state", None),
    ("POST", "/_fake/reset", None),
    ("POST", f"/_fake/reset?repo={REPO}", None),
    ("GET", "/_fake/snapshot", None),
    ("POST", "/_fake/snapshot", "snapshot"),
    ("GET", "/_fake/settings/folder-download", None),
    ("PUT", "/_fake/settings/folder-download", {"max_files": 7}),
    ("PATCH", "/_fake/settings/folder-download", {"enabled": False}),
    ("DELETE", "/_fake/settings/folder-download", None),
    ("GET", "/_fake/faults", None),
    ("POST", "/_fake/faults", {"operation": "deploy", "status": 503}),
    ("DELETE", "/_fake/faults", None),
    ("DELETE", "/_fake/faults/{rule_id}", None),
    ("GET", "/_fake/requests", None),
    ("DELETE", "/_fake/requests", None),
]


def _send(
    server: ThreadedServer,
    seeded: dict[str, Any],
    op: tuple[str, str, Any],
    headers: dict[str, str],
) -> requests.Response:
    method, path, body = op
    kwargs: dict[str, Any] = {"headers": headers, "timeout": TIMEOUT}
    if body == "snapshot":
        kwargs["data"] = seeded["snapshot"]
    elif body is not None:
        kwargs["json"] = body
    url = server.root_url + path.format(rule_id=seeded["rule_id"])
    return requests.request(method, url, **kwargs)


def _refused_credentials(seeded: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        "none": {},
        "wrong control token": {"Authorization": f"Bearer {CONTROL}x"},
        "control token as Basic": _basic("admin", CONTROL),
        "reader password": _basic(*READER),
        "reader's token": {"Authorization": f"Bearer {seeded['reader_token']}"},
        "wrong admin password": _basic("admin", "wrong"),
        "unknown API key": {"X-JFrog-Art-Api": "AKCpnope"},
    }


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_without_the_control_token_every_operation_is_401_and_changes_nothing(
    guarded: ThreadedServer, op: tuple[str, str, Any]
) -> None:
    """Each refused caller gets 401 with the JSON error and the challenge, and no part of
    the state differs afterwards."""
    seeded = _seed(guarded, GUARD)
    before = observe(guarded)
    for who, headers in _refused_credentials(seeded).items():
        resp = _send(guarded, seeded, op, headers)
        assert resp.status_code == 401, who
        assert resp.json() == {"errors": [{"status": 401, "message": CONTROL_DENIED}]}, who
        assert resp.headers["WWW-Authenticate"].startswith("Bearer "), who
        assert observe(guarded) == before, f"{who} changed the state"


@pytest.mark.parametrize("op", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_with_the_control_token_every_operation_behaves_as_on_an_open_emulator(
    guarded: ThreadedServer, open_server: ThreadedServer, op: tuple[str, str, Any]
) -> None:
    """Same status and the same change of state as the open emulator given the request
    without any credentials."""
    results = []
    for server, headers in ((open_server, {}), (guarded, GUARD)):
        seeded = _seed(server, headers)
        before = observe(server)
        resp = _send(server, seeded, op, headers)
        after = observe(server)
        changed = sorted(key for key in before if before[key] != after[key])
        results.append((resp.status_code, changed))
    assert results[0] == results[1]
    assert results[1][0] < 300


@pytest.mark.parametrize(
    "who",
    ["admin password", "configured token", "API key", "minted admin token", "token as Basic"],
)
def test_admin_credentials_open_the_control_plane(guarded: ThreadedServer, who: str) -> None:
    """Any way an admin authenticates to the Artifactory API works on the control plane."""
    seeded = _seed(guarded, GUARD)
    headers = {
        "admin password": _basic(*ADMIN),
        "configured token": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "API key": {"X-JFrog-Art-Api": API_KEY},
        "minted admin token": {"Authorization": f"Bearer {seeded['admin_token']}"},
        "token as Basic": _basic("anyone", ADMIN_TOKEN),
    }[who]
    rule = {"path": "other/*", "status": 500}
    added = requests.post(guarded.root_url + "/_fake/faults", json=rule, headers=headers)
    assert added.status_code == 201
    assert len(observe(guarded)["faults"]["faults"]) == 2
    state = requests.get(guarded.root_url + "/_fake/state", headers=headers, timeout=TIMEOUT)
    assert state.status_code == 200 and "keep/a.txt" in state.json()["repos"][REPO]["items"]


def test_health_stays_open_and_unknown_control_paths_reveal_nothing(
    guarded: ThreadedServer,
) -> None:
    """Liveness probes need no secret: GET and HEAD of /_fake/health answer 200, telling
    a caller without the token nothing but that (the token holder also gets the version,
    edition and repository keys). What is not a control-plane operation is the plain 404
    any unknown path gets."""
    root = guarded.root_url
    assert requests.get(root + "/_fake/health", timeout=TIMEOUT).json() == {"status": "ok"}
    facts = requests.get(root + "/_fake/health", headers=GUARD, timeout=TIMEOUT).json()
    assert facts["status"] == "ok" and REPO in facts["repos"]
    assert requests.head(root + "/_fake/health", timeout=TIMEOUT).status_code == 200
    for method, path in [("POST", "/_fake/health"), ("PUT", "/_fake/state"), ("GET", "/_fake/")]:
        resp = requests.request(method, root + path, timeout=TIMEOUT)
        assert resp.status_code == 404 and resp.json()["errors"][0]["message"] == "Not Found"


def test_the_control_token_is_not_an_artifactory_credential(guarded: ThreadedServer) -> None:
    """It opens /_fake/ only: the REST API refuses it like any unknown secret."""
    url = f"{guarded.url}/{REPO}/keep/a.txt"
    assert requests.get(url, headers=GUARD, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, auth=("admin", CONTROL), timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers={"X-JFrog-Art-Api": CONTROL}).status_code == 403


def test_journal_and_state_never_show_a_credential(guarded: ThreadedServer) -> None:
    """Whatever secret a request carries (the control token included), neither the
    journal, nor /_fake/state, nor a snapshot shows it."""
    seeded = _seed(guarded, GUARD)
    secrets = [CONTROL, ADMIN[1], READER[1], ADMIN_TOKEN, API_KEY, seeded["admin_token"]]
    url = f"{guarded.url}/{REPO}/keep/a.txt"
    requests.get(url, headers=GUARD, timeout=TIMEOUT)
    requests.get(url, auth=("admin", CONTROL), timeout=TIMEOUT)
    requests.get(url, headers={"X-JFrog-Art-Api": CONTROL}, timeout=TIMEOUT)
    requests.get(url, params={"token": CONTROL, "api_key": API_KEY}, timeout=TIMEOUT)
    requests.get(url, headers={"Authorization": f"Bearer {seeded['admin_token']}"})
    requests.get(url, headers={"X-JFrog-Art-Api": API_KEY}, timeout=TIMEOUT)
    requests.get(url, auth=READER, timeout=TIMEOUT)
    requests.put(f"{url}.copy", data=b"x", auth=ADMIN, timeout=TIMEOUT)
    for path in ("/_fake/state", "/_fake/faults", "/_fake/settings/folder-download"):
        requests.get(guarded.root_url + path, headers=GUARD, timeout=TIMEOUT)
    journal = requests.get(guarded.root_url + "/_fake/requests", headers=GUARD, timeout=30)
    assert len(journal.json()["requests"]) >= 8
    assert all("/_fake/" not in e["uri"] for e in journal.json()["requests"])
    shown = {
        "journal": journal.text,
        "state": requests.get(guarded.root_url + "/_fake/state", headers=GUARD).text,
        "snapshot": json.dumps(_manifest(seeded["snapshot"])),
    }
    for name, text in shown.items():
        for secret in secrets:
            assert secret not in text, f"{name} shows a secret"
    assert "Bearer ***" in shown["journal"] and "Basic ***" in shown["journal"]


def test_handle_sends_the_control_token(guarded: ThreadedServer) -> None:
    """A handle that knows the control token drives a guarded emulator as an open one."""
    handle = FakeArtifactoryHandle(
        url=guarded.url, root_url=guarded.root_url, control_token=CONTROL
    )
    handle.reset()
    requests.put(f"{guarded.url}/{REPO}/h.txt", data=b"h", auth=ADMIN, timeout=TIMEOUT)
    assert "h.txt" in handle.state()["repos"][REPO]["items"]
    with handle.faults({"path": "never/*", "status": 500}) as ids:
        assert len(ids) == 1
    with handle.folder_download(max_files=2) as settings:
        assert settings["enabled"] is True
    assert [e["method"] for e in handle.requests()] == ["PUT"]
    handle.clear_requests()
    assert handle.requests() == []
    without = FakeArtifactoryHandle(url=guarded.url, root_url=guarded.root_url)
    with pytest.raises(RuntimeError, match="401"):
        without.state()
    assert without.health()["status"] == "ok"
