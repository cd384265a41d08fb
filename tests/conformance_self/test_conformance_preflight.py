"""Preflight, workspace and janitor never list the repository root (request journal).

On a shared production repository with millions of items, the folder info of the root
(``GET /api/storage/<repo>``) or a file list of it is slow or times out: the harness may only
list its own scratch parent (``--conformance-prefix``) and the run folders below it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests

from conformance.config import Credentials, TargetConfig
from conformance.errors import TargetUnavailable
from conformance.targets import (
    Workspace,
    janitor,
    make_run_id,
    preflight,
    probe,
    start_target,
)
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

TOKEN = "preflight-self-test-token-0123456789"
REPO = "example-repo-local"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,))) as srv:
        yield srv


def journal(srv: ThreadedServer) -> list[dict[str, Any]]:
    resp = requests.get(f"{srv.root_url}/_fake/requests", timeout=30)
    resp.raise_for_status()
    entries: list[dict[str, Any]] = resp.json()["requests"]
    return entries


def clear_journal(srv: ThreadedServer) -> None:
    requests.delete(f"{srv.root_url}/_fake/requests", timeout=30).raise_for_status()


def lists_the_repository_root(entry: dict[str, Any]) -> bool:
    """Folder info, file list or HTML index of the repository root (any query)."""
    path = unquote(urlsplit(str(entry["uri"])).path).rstrip("/")
    return entry["method"] in ("GET", "HEAD") and path in (
        f"/artifactory/api/storage/{REPO}",
        f"/artifactory/{REPO}",
    )


def config(srv: ThreadedServer, prefix: str, repo: str = REPO) -> TargetConfig:
    return TargetConfig(url=srv.url, repo=repo, credentials=Credentials(token=TOKEN), prefix=prefix)


def test_preflight_workspace_probe_and_janitor_list_only_the_scratch_parent(
    server: ThreadedServer,
) -> None:
    prefix = "pf-" + make_run_id().split("-", 1)[1]
    target = start_target(config(server, prefix))
    client = target.client
    # Items at the root that a root listing would walk; and a stale run to janitor.
    assert client.mkdir("someone-elses-folder").status_code == 201
    stale = make_run_id(datetime.now(timezone.utc) - timedelta(days=2))
    clear_journal(server)

    preflight(target)  # the scratch parent does not exist yet
    assert client.mkdir(f"{prefix}/{stale}").status_code == 201
    preflight(target)  # now it does
    assert janitor(client, prefix) == [stale]
    workspace = Workspace(client, prefix, make_run_id())
    workspace.create_root()
    probe(client, workspace.root)
    assert workspace.cleanup()[1] == []

    entries = journal(server)
    assert entries, "the journal recorded nothing"
    offending = [f"{e['method']} {e['uri']}" for e in entries if lists_the_repository_root(e)]
    assert offending == [], offending
    storage = [
        unquote(urlsplit(str(e["uri"])).path)
        for e in entries
        if "/api/storage/" in str(e["uri"]) and e["method"] == "GET"
    ]
    assert storage and all(
        p.startswith(f"/artifactory/api/storage/{REPO}/{prefix}") for p in storage
    ), storage
    assert client.delete(prefix).status_code == 204


def test_preflight_still_names_a_missing_repository_and_bad_credentials(
    server: ThreadedServer,
) -> None:
    target = start_target(config(server, "conformance", repo="no-such-repo"))
    with pytest.raises(TargetUnavailable, match=r"repository 'no-such-repo' not found"):
        preflight(target)
    bad = TargetConfig(url=server.url, repo=REPO, credentials=Credentials(token="wrong-" + TOKEN))
    with pytest.raises(TargetUnavailable, match=r"credentials \(token\) rejected"):
        preflight(start_target(bad))
    assert not any(lists_the_repository_root(e) for e in journal(server))


def test_the_janitor_refuses_to_list_the_repository_root(server: ThreadedServer) -> None:
    target = start_target(config(server, "conformance"))
    clear_journal(server)
    with pytest.raises(ValueError, match="repository root"):
        janitor(target.client, "")
    assert journal(server) == []


def test_a_whole_session_with_the_janitor_never_lists_the_repository_root(
    server: ThreadedServer,
) -> None:
    assert server.url  # started
    requests.put(
        f"{server.url}/{REPO}/top-level-item.txt",
        data=b"x",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    ).raise_for_status()
    clear_journal(server)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "1",
            "-k",
            "version_reports or deleting_a_missing_path",
            "--janitor",
            "--artifactory-url",
            server.url,
            "--artifactory-token",
            TOKEN,
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    entries = journal(server)
    assert any("/api/system/version" in str(e["uri"]) for e in entries)
    offending = [f"{e['method']} {e['uri']}" for e in entries if lists_the_repository_root(e)]
    assert offending == [], offending
